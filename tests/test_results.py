"""results.json: schema validation, protocol fingerprint, atomic write, loading by file/run dir/parent."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.results import (FINGERPRINT_FIELDS, SCHEMA_VERSION, collect_results, find_results_files,
                                fingerprint_fields, load_results, protocol_fingerprint, validate_results,
                                write_results)


def make_results(run_id="run-a", generator="imaginator", variant=None, dataset="synthetic", seed=0,
                 metrics=None, extractor="synthetic-probe"):
    """A schema-1 results dict as `vbench run` writes it, fingerprint computed by the code under test."""
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
    res["protocol"]["fingerprint"] = protocol_fingerprint(fingerprint_fields(res))
    return res


def test_fingerprint_is_short_sha256_of_canonical_json():
    res = make_results()
    fields = fingerprint_fields(res)
    # Independent computation: sorted-key compact JSON of exactly the documented fields.
    picked = {k: fields[k] for k in FINGERPRINT_FIELDS}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(text.encode()).hexdigest()[:12]
    assert protocol_fingerprint(fields) == expected
    assert len(expected) == 12 and int(expected, 16) >= 0


@pytest.mark.parametrize("field,new", [
    ("dataset", "mug"), ("split", "train"), ("frames", 16), ("size", 128), ("frame_step", 2),
    ("conditioning_per_video", 5), ("max_videos", 3), ("seed", 1), ("extractor", "resnext101"),
    ("extractor_weights_sha256", "ef" * 32), ("dataset_options", {"smiles": "all"})])
def test_fingerprint_changes_with_every_listed_field(field, new):
    fields = fingerprint_fields(make_results())
    assert protocol_fingerprint({**fields, field: new}) != protocol_fingerprint(fields)


def test_fingerprint_ignores_what_is_compared_or_merely_recorded():
    a = make_results(run_id="a", generator="imaginator")
    b = make_results(run_id="b", generator="vgan", variant="no-noise",
                     metrics={"psnr": (20.0, 19.0, 21.0)})
    b["provenance"]["device"] = "cuda:0"
    assert a["protocol"]["fingerprint"] == b["protocol"]["fingerprint"]
    fields = fingerprint_fields(a)
    assert protocol_fingerprint({**fields, "size": 64.0}) == protocol_fingerprint(fields)


def test_fingerprint_missing_field_is_named():
    fields = fingerprint_fields(make_results())
    del fields["seed"]
    with pytest.raises(InputError, match="seed"):
        protocol_fingerprint(fields)


def test_validate_accepts_schema_and_names_file_and_field_when_wrong():
    good = make_results()
    assert validate_results(good) is good
    assert SCHEMA_VERSION == 1
    bad = copy.deepcopy(good)
    del bad["dataset"]["clip_count"]
    with pytest.raises(InputError, match=r"runs/x/results\.json: missing field dataset\.clip_count"):
        validate_results(bad, source="runs/x/results.json")
    bad = copy.deepcopy(good)
    bad["schema_version"] = 2
    with pytest.raises(InputError, match="schema_version 2 is not supported"):
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


def test_validate_rejects_fingerprint_that_does_not_match_protocol():
    res = make_results()
    res["protocol"]["seed"] = 7  # edited after the fingerprint was computed
    with pytest.raises(InputError, match="does not match"):
        validate_results(res)


def test_write_then_load_round_trip_by_dir_and_file(tmp_path):
    res = make_results()
    run_dir = tmp_path / "runs" / "run-a"
    run_dir.mkdir(parents=True)
    file = write_results(run_dir, res)
    assert file == run_dir / "results.json"
    assert load_results(run_dir) == res
    assert load_results(file) == res
    assert [p.name for p in run_dir.iterdir()] == ["results.json"]  # no temp file left behind


def test_write_invalid_leaves_existing_file_untouched(tmp_path):
    file = write_results(tmp_path / "results.json", make_results())
    before = file.read_bytes()
    bad = make_results()
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
        write_results(tmp_path / "runs" / name, make_results(run_id=name))
    files = find_results_files([tmp_path / "runs", tmp_path / "runs" / "a"])
    assert [f.parent.name for f in files] == ["a", "b"]
    assert [r["run_id"] for _, r in collect_results([tmp_path / "runs"])] == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no results.json"):
        find_results_files([tmp_path / "empty"])
