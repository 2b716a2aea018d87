"""`vbench run` end to end on a tiny synthetic protocol with a tiny trained checkpoint."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v.cli import main
from vbench_i2v.datasets import get_dataset
from vbench_i2v.files import sha256_file
from vbench_i2v.results import fingerprint_fields, load_results, protocol_fingerprint
from vbench_i2v.video_io import read_video

pytestmark = pytest.mark.slow

METRICS = "ssim,psnr,fid,kid,acd-c,acd-i"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from vbench_i2v.generators import training
    from vbench_i2v.generators.registry import get_generator

    out = tmp_path_factory.mktemp("ckpt") / "imaginator-tiny"
    ds = get_dataset("synthetic", seed=0)
    cls = get_generator("imaginator")
    torch.manual_seed(0)
    model = cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name)
    training.train(model, ds, out, steps=2, seed=0, progress_bar=False, sample_every=1000)
    return out


def _run(out, ckpt, *extra):
    args = ["run", "--generator", "imaginator", "--dataset", "synthetic", "--checkpoint", str(ckpt),
            "--max-videos", "6", "--metrics", METRICS, "--extractor", "synthetic-probe", "--seed", "3",
            "--batch-size", "4", "--out", str(out), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _numbers(res):
    return {k: (v["value"], v["ci95"], v["n"]) for k, v in res["metrics"].items()}


def test_run_writes_complete_results_and_is_reproducible(tmp_path, tiny_checkpoint):
    r = _run(tmp_path / "a", tiny_checkpoint)
    assert r.exit_code == 0, r.output
    run_dir = next(p for p in (tmp_path / "a").iterdir() if not p.name.startswith("_"))
    res = load_results(run_dir)  # validates the schema and the fingerprint
    assert res["schema_version"] == 2 and res["run_id"] == run_dir.name
    g = res["generator"]
    assert g["name"] == "imaginator" and g["config"]["width"] == pytest.approx(1 / 16)
    assert g["checkpoint_sha256"] == sha256_file(tiny_checkpoint / "model.safetensors")
    d, p = res["dataset"], res["protocol"]
    assert d == {"name": "synthetic", "split": "test", "clip_count": 6, "video_count": 6}
    assert (p["frames"], p["size"], p["frame_step"], p["conditioning_per_video"], p["max_videos"], p["seed"]) == \
        (32, 64, 1, 10, 6, 3)
    assert "extractor" not in p and "extractors" not in p  # the protocol is the clips; networks are per metric
    assert p["fingerprint"] == protocol_fingerprint(fingerprint_fields(res))
    assert set(res["metrics"]) == set(METRICS.split(","))
    for name, m in res["metrics"].items():
        assert m["n"] == 6 and m["ci95"][0] <= m["value"] <= m["ci95"][1], name
    fid = res["metrics"]["fid"]["provenance"]
    assert fid["extractor"] == "synthetic-probe" and len(fid["weights_sha256"]) == 64
    acd, ssim = res["metrics"]["acd-c"]["provenance"], res["metrics"]["ssim"]["provenance"]
    assert acd["weights_sha256"] and ssim["weights_sha256"] is None and ssim["paired_frames"] == "predicted"
    prov = res["provenance"]
    assert prov["package_version"] and prov["torch_version"] == torch.__version__ and prov["device"] == "cpu"
    assert prov["wall_time_s"] > 0
    # the files beside it: the clips the numbers came from, and the reference statistics
    names = sorted(x.stem for x in (run_dir / "fake").glob("*.npz"))
    assert len(names) == 6 and names == sorted(x.stem for x in (run_dir / "real").glob("*.npz"))
    ds = get_dataset("synthetic", seed=3)
    ref = {c.clip_id: c for c in ds.clips("test", seed=3, limit=6)}
    assert set(ref) == set(names)
    np.testing.assert_array_equal(read_video(run_dir / "real" / f"{names[0]}.npz"), ds.load_clip(ref[names[0]]))
    fake = read_video(run_dir / "fake" / f"{names[0]}.npz")
    assert fake.shape == (32, 64, 64, 3)
    # the feature store beside the runs: the probe's features of the 6 real and 6 fake clips
    assert len(list((tmp_path / "a" / "_features").rglob("*.npz"))) == 12
    assert "imaginator" in r.output.splitlines()[-3] or "imaginator" in r.output

    # same seed, another folder: identical numbers
    r2 = _run(tmp_path / "b", tiny_checkpoint)
    assert r2.exit_code == 0, r2.output
    res2 = load_results(next(p for p in (tmp_path / "b").iterdir() if not p.name.startswith("_")))
    assert _numbers(res2) == _numbers(res) and res2["run_id"] == res["run_id"]

    # a finished run is kept as it is
    before = (run_dir / "results.json").read_bytes()
    assert _run(tmp_path / "a", tiny_checkpoint).exit_code == 0
    assert (run_dir / "results.json").read_bytes() == before


def test_interrupted_run_resumes_without_rewriting(tmp_path, tiny_checkpoint, monkeypatch):
    import vbench_i2v.run as run_mod

    real_noise = run_mod._noise_generator
    calls = {"n": 0}

    def failing(seed, clip_id):
        calls["n"] += 1
        if calls["n"] > 4:  # the second batch of 4 never finishes
            raise RuntimeError("simulated crash")
        return real_noise(seed, clip_id)

    monkeypatch.setattr(run_mod, "_noise_generator", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path / "r", tiny_checkpoint)
    run_dir = next(p for p in (tmp_path / "r").iterdir() if not p.name.startswith("_"))
    done = sorted((run_dir / "fake").glob("*.npz"))
    assert len(done) == 4 and not (run_dir / "results.json").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in done}
    monkeypatch.setattr(run_mod, "_noise_generator", real_noise)

    r = _run(tmp_path / "r", tiny_checkpoint)  # without --resume: refused, nothing touched
    assert r.exit_code == 2 and "--resume" in r.output
    r = _run(tmp_path / "r", tiny_checkpoint, "--resume")
    assert r.exit_code == 0, r.output
    assert "resuming: 4 of 6" in r.output
    assert {p.name: p.stat().st_mtime_ns for p in done} == stamps  # not rewritten
    resumed = load_results(run_dir)

    fresh = _run(tmp_path / "f", tiny_checkpoint)
    assert fresh.exit_code == 0
    full = load_results(next(p for p in (tmp_path / "f").iterdir() if not p.name.startswith("_")))
    assert _numbers(resumed) == _numbers(full)


def test_copy_first_frame_needs_no_checkpoint_and_missing_checkpoint_is_clear(tmp_path):
    r = CliRunner().invoke(main, ["run", "--generator", "copy-first-frame", "--dataset", "synthetic",
                                  "--max-videos", "3", "--metrics", "ssim,psnr", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    res = load_results(next(tmp_path.iterdir()))
    assert res["generator"]["checkpoint"] is None and res["metrics"]["psnr"]["n"] == 3
    # frame 0 is the conditioning frame itself: copying it is exact there, so PSNR is finite but high
    assert res["metrics"]["psnr"]["value"] > 15
    r = CliRunner().invoke(main, ["run", "--generator", "imaginator", "--dataset", "synthetic",
                                  "--checkpoint", str(tmp_path / "nope"), "--metrics", "ssim", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "nope" in r.output


def test_nan_from_a_generator_is_a_clear_error_naming_the_clip(tmp_path, monkeypatch):
    from vbench_i2v.generators.copy_first_frame import CopyFirstFrame

    monkeypatch.setattr(CopyFirstFrame, "_generate",
                        lambda self, images, labels, z: torch.full((images.shape[0], 3, 32, 64, 64), float("nan")))
    r = CliRunner().invoke(main, ["run", "--generator", "copy-first-frame", "--dataset", "synthetic",
                                  "--max-videos", "2", "--metrics", "ssim", "--out", str(tmp_path)])
    assert r.exit_code == 2
    assert "copy-first-frame produced NaN/inf values for clip id" in r.output
    assert not list(tmp_path.rglob("results.json")) and not list(tmp_path.rglob("fake/*.npz"))


def test_a_finished_run_gains_a_network_metric_from_its_clips_without_regenerating(tmp_path, monkeypatch):
    """`--metrics ssim` then `--metrics ssim,fid`: one run folder, fid scored from the clips on disk
    (a spy on the generate stage), the same value as a run asked for both at once."""
    import vbench_i2v.run as run_mod

    def cmd(out, metrics, *extra):
        return CliRunner().invoke(main, ["run", "--generator", "copy-first-frame", "--dataset", "synthetic",
                                         "--max-videos", "4", "--conditioning-per-video", "2", "--metrics", metrics,
                                         "--out", str(out), *extra], catch_exceptions=False)

    assert cmd(tmp_path / "a", "ssim").exit_code == 0
    (run_dir,) = [p for p in (tmp_path / "a").iterdir() if not p.name.startswith("_")]
    first = load_results(run_dir)
    stamps = {p: p.stat().st_mtime_ns for p in sorted(run_dir.rglob("*.npz"))}
    generated = []
    real_generate = run_mod.generate_stage
    monkeypatch.setattr(run_mod, "generate_stage", lambda *a, **k: generated.append(a) or real_generate(*a, **k))
    r = cmd(tmp_path / "a", "fid,ssim")
    assert r.exit_code == 0, r.output
    assert generated == [] and [p for p in (tmp_path / "a").iterdir() if not p.name.startswith("_")] == [run_dir]
    assert {p: p.stat().st_mtime_ns for p in sorted(run_dir.rglob("*.npz"))} == stamps  # no clip rewritten
    added = load_results(run_dir)
    assert added["metrics"]["ssim"] == first["metrics"]["ssim"]  # kept as it was
    assert added["provenance"]["added_later"][0]["metrics"] == ["fid"]
    assert added["metrics"]["fid"]["provenance"]["extractor"] == "synthetic-probe"
    # `ssim,fid` is the same run again: complete, nothing rewritten
    before = (run_dir / "results.json").read_bytes()
    assert cmd(tmp_path / "a", "ssim,fid").exit_code == 0 and (run_dir / "results.json").read_bytes() == before
    # a fresh run asked for both: the same run id and the same numbers and measurements
    monkeypatch.setattr(run_mod, "generate_stage", real_generate)
    assert cmd(tmp_path / "b", "ssim,fid").exit_code == 0
    both = load_results(tmp_path / "b" / run_dir.name)
    for m in ("ssim", "fid"):
        # the same clips, networks and seeds in one process: equal up to float summation order
        assert both["metrics"][m]["value"] == pytest.approx(added["metrics"][m]["value"], rel=1e-9)
        assert both["metrics"][m]["measurement"] == added["metrics"][m]["measurement"]
    # a recorded metric asked for with another setting is refused, not silently kept or replaced
    r = cmd(tmp_path / "a", "ssim", "--include-conditioning-frame")
    assert r.exit_code == 2 and "ssim is recorded with paired_frames 'predicted'" in r.output
    assert (run_dir / "results.json").read_bytes() == before
