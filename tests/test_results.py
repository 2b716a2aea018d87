"""results.json: the two identities (clips fingerprint, per-metric measurement id), schema 2 and
the migration of schema-1 files, validation, atomic write, loading by file/run dir/parent."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.results import (SCHEMA_VERSION, collect_results, find_results_files, fingerprint_fields,
                                load_results, measurement_id, migrate_results, protocol_fingerprint,
                                validate_results, write_results)

V1_FILE = Path(__file__).parent / "data" / "results-v1-imaginator-synthetic.json"  # as `vbench run` wrote it
ROOT = Path(__file__).resolve().parents[1]

# The published field lists (README "Protocol fingerprint" and "Measurement id"), written out here
# so that the tests do not read them from the code under test.
CLIP_FIELDS = ("dataset", "split", "dataset_options", "dataset_fingerprint", "frames", "size", "frame_step",
               "conditioning_per_video", "max_videos", "seed")
V1_EXTRA_FIELDS = ("extractor", "extractor_weights_sha256", "extractors", "paired_frames")
MEASUREMENT_KEYS = ("extractor", "contract", "weights_sha256", "extra_weights_sha256", "precision",
                    "paired_frames", "bootstrap", "settings")


def _sha12(picked: dict) -> str:
    return hashlib.sha256(json.dumps(picked, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def _integral(v):
    """Integral floats written as integers, at any depth (JSON may give 1.0 or 1)."""
    if isinstance(v, dict):
        return {a: _integral(b) for a, b in v.items()}
    if isinstance(v, list):
        return [_integral(b) for b in v]
    return int(v) if isinstance(v, float) and v == int(v) else v


def _measurement(prov: dict) -> str:
    """Independent measurement id: sha256 of the sorted compact JSON of the documented keys, a
    missing or empty entry as null, a contract without its prose note, integral numbers as integers."""
    picked = {}
    for k in MEASUREMENT_KEYS:
        v = prov.get(k)
        if k == "contract" and isinstance(v, dict):
            v = {a: b for a, b in v.items() if a != "note"}
        picked[k] = _integral(v) if v not in (None, "", {}, []) else None
    return _sha12(picked)


def make_results(run_id="run-a", generator="imaginator", variant=None, dataset="synthetic", seed=0,
                 metrics=None, extractor="synthetic-probe"):
    """A schema-1 results dict as `vbench run` wrote it before schema 2, fingerprint computed as
    schema 1 did (networks and paired frames included)."""
    metrics = metrics or {"ssim": (0.8, 0.78, 0.82), "fid": (40.0, 35.0, 46.0)}
    res = {
        "schema_version": 1, "run_id": run_id,
        "generator": {"name": generator, "config": {"width": 0.25}, "checkpoint": "ckpt.safetensors",
                      "checkpoint_sha256": "ab" * 32, "variant": variant},
        "dataset": {"name": dataset, "split": "test", "clip_count": 20, "video_count": 2},
        "protocol": {"frames": 32, "size": 64, "frame_step": 1, "conditioning_per_video": 10,
                     "max_videos": None, "seed": seed, "extractor": extractor,
                     "extractor_weights_sha256": "cd" * 32, "dataset_options": {}, "fingerprint": None,
                     "extractors": {extractor: {"weights_sha256": "cd" * 32}}, "dataset_fingerprint": "ef" * 32,
                     "paired_frames": "predicted"},
        "metrics": {name: {"value": v, "ci95": [lo, hi], "n": 20,
                           "extractor": extractor if name in ("fid", "kid") else None,
                           "weights_sha256": "cd" * 32 if name in ("fid", "kid") else None}
                    for name, (v, lo, hi) in metrics.items()},
        "provenance": {"package_version": "0.1.0", "torch_version": "2.x", "device": "cpu",
                       "wall_time_s": 1.5, "created": "2026-01-01T00:00:00"},
    }
    flat = fingerprint_fields(res)
    res["protocol"]["fingerprint"] = _sha12({k: flat[k] for k in CLIP_FIELDS + V1_EXTRA_FIELDS})
    return res


SET_METRICS = ("fid", "kid", "fvd")


def make_results_v2(run_id="run-a", generator="imaginator", variant=None, dataset="synthetic", seed=0,
                    metrics=None, extractor="synthetic-probe", weights="cd" * 32, paired_frames="predicted"):
    """A schema-2 results dict as `vbench run` writes it; fingerprint and measurement ids computed
    here from the documented fields (not by the code under test)."""
    metrics = metrics or {"ssim": (0.8, 0.78, 0.82), "fid": (40.0, 35.0, 46.0)}
    res = {
        "schema_version": 2, "run_id": run_id,
        "generator": {"name": generator, "config": {"width": 0.25}, "checkpoint": "ckpt.safetensors",
                      "checkpoint_sha256": "ab" * 32, "variant": variant},
        "dataset": {"name": dataset, "split": "test", "clip_count": 20, "video_count": 2},
        "protocol": {"frames": 32, "size": 64, "frame_step": 1, "conditioning_per_video": 10,
                     "max_videos": None, "seed": seed, "dataset_options": {}, "dataset_fingerprint": "ef" * 32},
        "metrics": {},
        "provenance": {"package_version": "0.1.0", "torch_version": "2.x", "device": "cpu",
                       "wall_time_s": 1.5, "created": "2026-01-01T00:00:00"},
    }
    for name, (v, lo, hi) in metrics.items():
        net = name in SET_METRICS
        prov = {"extractor": extractor if net else None, "weights_sha256": weights if net else None,
                "contract": {"frames": 16, "size": [64, 64]} if net else None, "precision": "fp32" if net else None,
                "paired_frames": None if net else paired_frames,
                "bootstrap": {"per_video_reps": 1000, "set_level_reps": 100}, "conversions": [], "warnings": []}
        res["metrics"][name] = {"value": v, "ci95": [lo, hi], "n": 20, "measurement": _measurement(prov),
                                "provenance": prov}
    flat = fingerprint_fields(res)
    res["protocol"]["fingerprint"] = _sha12({k: flat[k] for k in CLIP_FIELDS})
    return res


def set_provenance(res: dict, metric: str, **changes) -> dict:
    """Change a v2 metric's provenance and give it the matching measurement id (a test helper)."""
    m = res["metrics"][metric]
    m["provenance"].update(changes)
    m["measurement"] = _measurement(m["provenance"])
    return res


def test_fingerprint_is_short_sha256_of_the_clip_fields():
    res = make_results_v2()
    fields = fingerprint_fields(res)
    assert protocol_fingerprint(fields) == _sha12({k: fields[k] for k in CLIP_FIELDS})
    assert res["protocol"]["fingerprint"] == protocol_fingerprint(fields)
    assert validate_results(res) is res


@pytest.mark.parametrize("field,new", [
    ("dataset", "mug"), ("split", "train"), ("frames", 16), ("size", 128), ("frame_step", 2),
    ("conditioning_per_video", 5), ("max_videos", 3), ("seed", 1), ("dataset_options", {"smiles": "all"}),
    ("dataset_fingerprint", "00" * 32)])
def test_fingerprint_changes_with_every_clip_field(field, new):
    fields = fingerprint_fields(make_results_v2())
    assert protocol_fingerprint({**fields, field: new}) != protocol_fingerprint(fields)


def test_fingerprint_ignores_metrics_networks_and_what_is_compared():
    a = make_results_v2(run_id="a", generator="imaginator")
    b = make_results_v2(run_id="b", generator="vgan", variant="no-noise", metrics={"psnr": (20.0, 19.0, 21.0)},
                        extractor="resnext101-kinetics", weights="ee" * 32, paired_frames="all")
    b["provenance"]["device"] = "cuda:0"
    assert a["protocol"]["fingerprint"] == b["protocol"]["fingerprint"]
    fields = fingerprint_fields(a)
    assert protocol_fingerprint({**fields, "size": 64.0}) == protocol_fingerprint(fields)
    for key, value in (("extractor", "x"), ("extractors", {"x": {}}), ("paired_frames", "all")):
        assert protocol_fingerprint({**fields, key: value}) == protocol_fingerprint(fields)


def test_fingerprint_missing_field_is_named():
    fields = fingerprint_fields(make_results_v2())
    del fields["seed"]
    with pytest.raises(InputError, match="seed"):
        protocol_fingerprint(fields)


# ----------------------------------------------------------------------------- measurement id

PROV = {"extractor": "synthetic-probe", "weights_sha256": "cd" * 32,
        "contract": {"frames": 16, "size": [64, 64], "value_range": [-1.0, 1.0], "note": "prose"},
        "extra_weights_sha256": {"det": "aa" * 32}, "precision": "fp32", "paired_frames": None,
        "bootstrap": {"per_video_reps": 1000, "set_level_reps": 100}, "settings": {"subsets": 100},
        "conversions": ["real: resized 128x128 -> 64x64"], "warnings": ["few videos"]}


def test_measurement_id_is_sha256_of_the_documented_provenance_fields():
    metric = {"value": 1.0, "ci95": None, "n": 3, "provenance": copy.deepcopy(PROV)}
    assert measurement_id(metric) == _measurement(PROV)
    # an integral float is the integer (JSON may give either), the contract's prose is not a number
    same = copy.deepcopy(metric)
    same["provenance"]["contract"].update(value_range=[-1, 1], note="other words")
    assert measurement_id(same) == measurement_id(metric)
    # what is recorded beside the settings, and the value itself, do not enter it
    same["provenance"].update(conversions=[], warnings=None)
    same.update(value=2.0, n=4)
    assert measurement_id(same) == measurement_id(metric)
    # absent, null and empty are one thing
    bare = {"provenance": {"extractor": None, "settings": {}, "paired_frames": "predicted"}}
    assert measurement_id(bare) == measurement_id({"provenance": {"paired_frames": "predicted"}})


@pytest.mark.parametrize("key,new", [
    ("extractor", "probe:eb2441c6d12d"), ("weights_sha256", "ef" * 32), ("contract", {"frames": 32, "size": [64, 64]}),
    ("extra_weights_sha256", {"det": "bb" * 32}), ("precision", "bf16"), ("paired_frames", "all"),
    ("bootstrap", {"per_video_reps": 200, "set_level_reps": 100}), ("settings", {"subsets": 10})])
def test_measurement_id_changes_with_every_setting(key, new):
    metric = {"provenance": copy.deepcopy(PROV)}
    other = {"provenance": {**copy.deepcopy(PROV), key: new}}
    assert measurement_id(other) != measurement_id(metric)


# ----------------------------------------------------------------------------- validation

def test_validate_accepts_schema_and_names_file_and_field_when_wrong():
    good = make_results_v2()
    assert validate_results(good) is good
    assert SCHEMA_VERSION == 2
    bad = copy.deepcopy(good)
    del bad["dataset"]["clip_count"]
    with pytest.raises(InputError, match=r"runs/x/results\.json: missing field dataset\.clip_count"):
        validate_results(bad, source="runs/x/results.json")
    bad = copy.deepcopy(good)
    bad["schema_version"] = 3
    with pytest.raises(InputError, match="schema_version 3 is not supported"):
        validate_results(bad, source="f.json")
    bad = copy.deepcopy(good)
    del bad["metrics"]["fid"]["ci95"]
    with pytest.raises(InputError, match=r"metrics\.fid\.ci95"):
        validate_results(bad)
    bad = copy.deepcopy(good)
    bad["metrics"]["ssim"]["value"] = float("nan")
    with pytest.raises(InputError, match="finite"):
        validate_results(bad)
    bad = copy.deepcopy(good)
    bad["metrics"]["ssim"]["ci95"] = [0.9, 0.7]
    with pytest.raises(InputError, match="low > high"):
        validate_results(bad)
    bad = copy.deepcopy(good)
    bad["generator"]["name"] = None
    with pytest.raises(InputError, match=r"generator\.name must not be null"):
        validate_results(bad)
    for key in ("measurement", "provenance"):
        bad = copy.deepcopy(good)
        del bad["metrics"]["fid"][key]
        with pytest.raises(InputError, match=rf"missing field metrics\.fid\.{key}"):
            validate_results(bad)
    bad = copy.deepcopy(good)
    bad["metrics"]["fid"]["provenance"]["conversions"] = "resized"
    with pytest.raises(InputError, match=r"metrics\.fid\.provenance\.conversions must be a list"):
        validate_results(bad)
    bad = copy.deepcopy(good)  # a v1 protocol field under version 2 is not read: a v1 file must say so
    bad["schema_version"] = 1
    with pytest.raises(InputError, match=r"missing field protocol\.extractor"):
        validate_results(bad)


def test_validate_rejects_a_measurement_that_does_not_match_its_provenance():
    res = make_results_v2()
    res["metrics"]["fid"]["provenance"]["weights_sha256"] = "ee" * 32  # edited after the id was computed
    with pytest.raises(InputError, match=r"metrics\.fid\.measurement .* does not match its provenance"):
        validate_results(res, "f.json")
    set_provenance(res, "fid", weights_sha256="ee" * 32)
    assert validate_results(res) is res


def test_validate_rejects_fingerprint_that_does_not_match_protocol():
    for res in (make_results_v2(), make_results()):
        res["protocol"]["seed"] = 7  # edited after the fingerprint was computed
        with pytest.raises(InputError, match="does not match"):
            validate_results(res)


def test_write_then_load_round_trip_by_dir_and_file(tmp_path):
    res = make_results_v2()
    run_dir = tmp_path / "runs" / "run-a"
    run_dir.mkdir(parents=True)
    file = write_results(run_dir, res)
    assert file == run_dir / "results.json"
    assert load_results(run_dir) == res
    assert load_results(file) == res
    assert [p.name for p in run_dir.iterdir()] == ["results.json"]  # no temp file left behind


def test_only_the_current_version_is_written(tmp_path):
    with pytest.raises(InputError, match="written in schema version 2 only"):
        write_results(tmp_path / "results.json", make_results())
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- version 1 -> 2

def test_a_real_v1_file_is_read_and_migrated():
    raw = json.loads(V1_FILE.read_text())
    assert raw["schema_version"] == 1
    validate_results(raw, V1_FILE)  # the file as `vbench run` wrote it: valid under schema 1 ...
    res = load_results(V1_FILE)  # ... and read as schema 2
    assert res["schema_version"] == 2 and res["run_id"] == raw["run_id"]
    assert res["generator"] == raw["generator"] and res["dataset"] == raw["dataset"]
    # the clips' fields stay, the networks leave the protocol, the fingerprint is the clips' one
    p1, p2 = raw["protocol"], res["protocol"]
    assert set(p2) == {"frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed",
                       "dataset_options", "dataset_fingerprint", "fingerprint"}
    assert all(p2[k] == p1[k] for k in p2 if k != "fingerprint")
    flat = {**p1, "dataset": raw["dataset"]["name"], "split": raw["dataset"]["split"]}
    assert p2["fingerprint"] == _sha12({k: flat[k] for k in CLIP_FIELDS}) != p1["fingerprint"]
    assert res["provenance"]["migrated_from"] == {"schema_version": 1, "fingerprint": p1["fingerprint"]}
    # every number as it was, every extra field kept; the network moved into the provenance
    assert set(res["metrics"]) == set(raw["metrics"])
    for name, old in raw["metrics"].items():
        new = res["metrics"][name]
        assert (new["value"], new["ci95"], new["n"]) == (old["value"], old["ci95"], old["n"])
        assert {k: v for k, v in new.items() if k not in ("measurement", "provenance")} == \
            {k: v for k, v in old.items() if k not in ("extractor", "weights_sha256")}
        prov = new["provenance"]
        assert (prov["extractor"], prov["weights_sha256"]) == (old["extractor"], old["weights_sha256"])
        assert prov["conversions"] is None and prov["warnings"] is None  # not recorded by schema 1
        assert new["measurement"] == _measurement(prov)
    fid, kid, ssim, acd = (res["metrics"][m]["provenance"] for m in ("fid", "kid", "ssim", "acd-c"))
    contract = {k: v for k, v in p1["extractors"]["synthetic-probe"]["contract"].items() if k != "note"}
    assert fid["contract"] == contract and fid["precision"] == "fp32" and fid["paired_frames"] is None
    assert acd["contract"] is None  # a per-video model's contract (per frame) was not recorded by schema 1
    assert ssim["extractor"] is None and ssim["paired_frames"] == "predicted" and ssim["precision"] is None
    assert ssim["bootstrap"] == {"per_video_reps": 1000, "set_level_reps": 100,
                                 "method": "percentile, videos resampled with replacement"}
    # KID's value depends on its subsets and seed: as every schema-1 `vbench run` set them
    assert kid["settings"] == {"seed": 0, "kid_subsets": 100, "kid_subset_size": 1000} and fid["settings"] is None
    ids = {m: v["measurement"] for m, v in res["metrics"].items()}
    assert ids["ssim"] == ids["psnr"] and ids["acd-c"] == ids["acd-i"] == ids["label-acc"]
    assert len({ids["fid"], ids["kid"], ids["ssim"], ids["acd-c"]}) == 4
    assert migrate_results(res) is res  # version 2 comes back as it is


def test_committed_results_files_are_the_migration_of_their_v1_files():
    """The migrated file committed for this run is exactly migrate_results of the file the run wrote."""
    committed = ROOT / "leaderboards" / "synthetic" / "runs" / "imaginator_synthetic_4ee9a74d_50421cc5_s0_1cdc0f"
    if not committed.is_dir():
        pytest.skip("published synthetic runs not in this checkout")
    on_disk = json.loads((committed / "results.json").read_text())
    assert on_disk["schema_version"] == 2
    assert on_disk == migrate_results(json.loads(V1_FILE.read_text()))


def test_a_v1_file_with_a_tampered_protocol_is_refused(tmp_path):
    raw = json.loads(V1_FILE.read_text())
    raw["protocol"]["extractors"]["synthetic-probe"]["weights_sha256"] = "00" * 32  # part of the v1 fingerprint
    f = tmp_path / "results.json"
    f.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="protocol.fingerprint .* does not match"):
        load_results(f)


def test_write_invalid_leaves_existing_file_untouched(tmp_path):
    file = write_results(tmp_path / "results.json", make_results_v2())
    before = file.read_bytes()
    bad = make_results_v2()
    del bad["provenance"]
    with pytest.raises(InputError, match="provenance"):
        write_results(file, bad)
    assert file.read_bytes() == before


def test_load_errors_are_one_clear_line(tmp_path):
    with pytest.raises(InputError, match="no such results file"):
        load_results(tmp_path / "nope")
    broken = tmp_path / "results.json"
    broken.write_text('{"schema_version": 1,')
    with pytest.raises(InputError, match=r"results\.json: not valid JSON .*line 1"):
        load_results(broken)


def test_find_results_in_parent_folder_sorted_and_deduplicated(tmp_path):
    for name in ("b", "a"):
        write_results(tmp_path / "runs" / name, make_results_v2(run_id=name))
    files = find_results_files([tmp_path / "runs", tmp_path / "runs" / "a"])
    assert [f.parent.name for f in files] == ["a", "b"]
    assert [r["run_id"] for _, r in collect_results([tmp_path / "runs"])] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no results.json"):
        find_results_files([tmp_path / "empty"])


def test_a_rater_study_reads_a_v1_run_with_the_clips_fingerprint(tmp_path):
    """`vbench study export` compares runs by protocol fingerprint: a schema-1 run and a schema-2 run
    of the same clips share the clips' fingerprint."""
    from vbench_i2v.study.export import load_run

    run = tmp_path / "old-run"
    (run / "fake").mkdir(parents=True)
    (run / "clips.csv").write_text("clip,label\nc000,0\n")
    (run / "results.json").write_text(V1_FILE.read_text())
    assert load_run(run).fingerprint == load_results(V1_FILE)["protocol"]["fingerprint"]


# ----------------------------------------------------------------------------- field by field
# Written to kill mutants that survived mutation testing (docs/mutation-testing.md): the
# fingerprint's canonical JSON and every validation rule, one field at a time.

def _results() -> dict:
    """A schema-1 results dict (read and migrated since schema 2; its fingerprint hashes the v1 fields)."""
    from vbench_i2v.results import FINGERPRINT_FIELDS_V1, fingerprint_fields, protocol_fingerprint

    r = {"schema_version": 1, "run_id": "r1",
         "generator": {"name": "g", "config": {}, "checkpoint": None, "checkpoint_sha256": None, "variant": None},
         "dataset": {"name": "synthetic", "split": "test", "clip_count": 6, "video_count": 6},
         "protocol": {"frames": 32, "size": 64, "frame_step": 1, "conditioning_per_video": 10, "max_videos": None,
                      "seed": 0, "extractor": None, "extractor_weights_sha256": None, "dataset_options": {},
                      "extractors": {}, "dataset_fingerprint": "abc", "paired_frames": "predicted"},
         "metrics": {"ssim": {"value": 0.5, "ci95": [0.4, 0.6], "n": 6, "extractor": None}},
         "provenance": {"package_version": "0.1", "torch_version": "2", "device": "cpu", "wall_time_s": 0,
                        "created": "now"}}
    r["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(r), FINGERPRINT_FIELDS_V1)
    return r


def test_fingerprint_is_sha256_of_the_canonical_json():
    from vbench_i2v.results import FINGERPRINT_FIELDS, fingerprint_fields, protocol_fingerprint

    r = _results()
    flat = fingerprint_fields(r)
    picked = {f: (int(flat[f]) if isinstance(flat[f], float) and flat[f].is_integer() else flat[f])
              for f in FINGERPRINT_FIELDS}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert protocol_fingerprint(flat) == hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
    assert protocol_fingerprint({**flat, "size": 64.0}) == protocol_fingerprint(flat)
    assert protocol_fingerprint({**flat, "size": 64.5}) != protocol_fingerprint(flat)
    assert protocol_fingerprint({**flat, "unrelated": 1}) == protocol_fingerprint(flat)
    with pytest.raises(InputError, match="seed"):
        protocol_fingerprint({k: v for k, v in flat.items() if k != "seed"})


def _set(r, path, value):
    r = copy.deepcopy(r)
    d = r
    for k in path[:-1]:
        d = d[k]
    if value is KeyError:
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return r


@pytest.mark.parametrize("path,value,ok", [
    (("metrics", "ssim", "value"), None, True), (("metrics", "ssim", "ci95"), None, True),
    (("metrics", "ssim", "ci95"), [0.6, 0.6], True), (("metrics", "ssim", "ci95"), [0.61, 0.6], False),
    (("metrics", "ssim", "ci95"), [0.4], False), (("metrics", "ssim", "ci95"), [0.4, float("inf")], False),
    (("metrics", "ssim", "ci95"), (0.4, 0.6), True), (("metrics", "ssim", "ci95"), [0.4, True], False),
    (("metrics", "ssim", "ci95"), [0.4, "0.6"], False), (("metrics", "ssim", "value"), float("nan"), False),
    (("metrics", "ssim", "value"), True, False), (("metrics", "ssim", "value"), 1, True),
    (("metrics", "ssim", "n"), 0, True), (("metrics", "ssim", "n"), -1, False), (("metrics", "ssim", "n"), 6.0, False),
    (("metrics", "ssim", "n"), True, False), (("metrics", "ssim", "n"), KeyError, False),
    (("metrics", "ssim", "extractor"), 3, False), (("metrics", "ssim", "extractor"), "x", True),
    (("metrics", "ssim", "weights_sha256"), ["x"], False), (("metrics", "ssim"), 0.5, False),
    (("metrics",), [], False), (("run_id",), "", False), (("run_id",), KeyError, False),
    (("schema_version",), True, False), (("schema_version",), 2, False), (("schema_version",), KeyError, False),
    (("generator", "checkpoint"), "", False), (("generator", "variant"), "v", True),
    (("dataset", "clip_count"), 0, True), (("dataset", "clip_count"), -1, False), (("dataset", "clip_count"), 6.0, True),
    (("dataset", "clip_count"), 6.5, False), (("dataset", "video_count"), False, False),
    (("protocol", "frames"), 0, False), (("protocol", "frames"), 1, True), (("protocol", "max_videos"), 0, False),
    (("protocol", "max_videos"), 1, True), (("protocol", "seed"), 0, True), (("protocol", "seed"), -1, False),
    (("protocol", "size"), float("inf"), False), (("provenance", "wall_time_s"), -0.1, False),
    (("provenance", "wall_time_s"), 0.0, True), (("provenance", "wall_time_s"), float("inf"), False),
    (("provenance", "wall_time_s"), "1", False), (("provenance", "device"), " ", False),
    (("dataset", "name"), None, False), (("protocol", "dataset_options"), [], False),
    (("generator", "config"), "x", False), (("provenance",), KeyError, False), (("provenance", "created"), KeyError, False),
])
def test_validate_results_field_by_field(path, value, ok):
    from vbench_i2v.results import FINGERPRINT_FIELDS_V1, fingerprint_fields, protocol_fingerprint, validate_results

    r = _set(_results(), path, value)
    if ok and path[0] in ("dataset", "protocol"):
        r["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(r), FINGERPRINT_FIELDS_V1)
    if ok:
        assert validate_results(r, "f.json") is r
    else:
        with pytest.raises(InputError, match="f.json"):
            validate_results(r, "f.json")


def test_validate_results_checks_the_fingerprint_and_the_type():
    from vbench_i2v.results import validate_results

    r = _results()
    with pytest.raises(InputError, match="fingerprint"):
        validate_results(_set(r, ("protocol", "seed"), 1), "f")
    with pytest.raises(InputError, match="JSON object"):
        validate_results([r], "f")
