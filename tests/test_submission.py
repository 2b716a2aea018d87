"""`vbench run --videos` (a submitted folder), `--generator module.path:callable`, the frame-0 mismatch
guard, and boards and studies that mix the routes (issue 21).

Everything runs on a tiny synthetic protocol (8 clips of 32 frames at 64x64) with SSIM/PSNR, so the
whole file takes seconds. The clips come from the worked example, examples/shift_generator.py, a
generator outside the package.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from references import seeded_stream
from vbench_i2v.cli import main
from vbench_i2v.results import load_results
from vbench_i2v.video_io import read_video, write_video

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shift_generator.py"
SEED, N = 2, 8  # a non-default protocol seed: the kit, the run and the seeds must all follow it
PROTOCOL = ["--dataset", "synthetic", "--max-videos", str(N), "--seed", str(SEED)]
METRICS = ["--metrics", "ssim,psnr"]


def _example():
    spec = importlib.util.spec_from_file_location("shift_generator_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def vbench(*args, cwd=None):
    """``vbench ARGS`` in-process; returns the click result (stderr separate)."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


def error_lines(result) -> list[str]:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    return [ln for ln in lines if ln.startswith("Error:")]


def run_dir_of(out: Path, prefix: str) -> Path:
    (found,) = [p for p in out.iterdir() if p.name.startswith(prefix)]
    return found


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "kit"
    r = vbench("protocol", "export", *PROTOCOL, "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def clip_ids(kit):
    with open(kit / "clips.csv", newline="") as fh:
        return [row["clip"] for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def mp4_128(kit, tmp_path_factory):
    """The worked example, run as a user runs it: a script outside the package, 128x128 mp4 clips."""
    out = tmp_path_factory.mktemp("sub") / "mp4"
    subprocess.run([sys.executable, str(EXAMPLE), str(kit), str(out), "--size", "128", "--format", "mp4"],
                   check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out


@pytest.fixture(scope="module")
def png_64(kit, tmp_path_factory):
    out = tmp_path_factory.mktemp("sub") / "png"
    _example().main([str(kit), str(out), "--size", "64", "--format", "png"])
    return out


@pytest.fixture(scope="module")
def scored(kit, mp4_128, png_64, tmp_path_factory):
    """Both submissions scored under the kit's protocol (one runs folder)."""
    out = tmp_path_factory.mktemp("runs")
    for folder, name in ((mp4_128, "shift-mp4"), (png_64, "shift-png")):
        r = vbench("run", *PROTOCOL, *METRICS, "--videos", folder, "--name", name, "--variant", "demo v1",
                   "--out", out)
        assert r.exit_code == 0, r.output + r.stderr
    return out


# ----------------------------------------------------------------------------- submissions score as runs

def _pil_resize_64(frames: np.ndarray) -> np.ndarray:
    """The declared kernel, written here from its description: PIL bilinear, per frame, to 64x64."""
    return np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BILINEAR)) for f in frames])


def _decode_mp4(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def test_submissions_are_converted_once_and_score_as_vbench_metrics(scored, kit, mp4_128, png_64, clip_ids,
                                                                    tmp_path):
    for prefix, folder, resized in (("shift-mp4", mp4_128, True), ("shift-png", png_64, False)):
        run = run_dir_of(scored, prefix)
        res = load_results(run)
        g = res["generator"]
        assert (g["source"], g["name"], g["variant"]) == ("videos", prefix, "demo v1")
        assert g["checkpoint_sha256"] is None and len(g["manifest_sha256"]) == 64
        # the run folder holds the converted clips: lossless, protocol size, exactly the declared conversion
        assert sorted(p.stem for p in (run / "fake").glob("*.npz")) == sorted(clip_ids)
        for clip in clip_ids[:3]:
            fake = read_video(run / "fake" / f"{clip}.npz")
            if resized:
                src = _decode_mp4(folder / f"{clip}.mp4")
                assert src.shape == (32, 128, 128, 3)
                np.testing.assert_array_equal(fake, _pil_resize_64(src))
            else:
                src = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted((folder / clip).iterdir())])
                np.testing.assert_array_equal(fake, src)
        if resized:
            assert g["submitted_sizes"] == {"128x128": N}
            assert any("resize 8 clip(s) to 64x64: PIL bilinear" in c for c in g["conversions"])
        else:
            assert g["submitted_sizes"] == {"64x64": N}
            assert not any("resize" in c for c in g["conversions"])
        # the same numbers as `vbench metrics` on the converted clips
        out = tmp_path / f"{prefix}.json"
        r = vbench("metrics", "--real", run / "real", "--fake", run / "fake", "--conditioning", run / "cond",
                   "--metrics", "ssim,psnr", "--seed", SEED, "--json", out)
        assert r.exit_code == 0, r.output
        ref = json.loads(out.read_text())["metrics"]
        for m in ("ssim", "psnr"):
            got = res["metrics"][m]
            assert got["n"] == ref[m]["n"] == N
            # the same code on the same pixels in one process: equal up to float summation order
            assert got["value"] == pytest.approx(ref[m]["value"], rel=1e-9)
            assert got["ci95"] == pytest.approx(ref[m]["ci95"], rel=1e-9)
        # the kit's conditioning images are the run's (frame 0 compared against them)
        for clip in clip_ids:
            assert (run / "cond" / f"{clip}.png").read_bytes() == (kit / "cond" / f"{clip}.png").read_bytes()


def test_manifest_names_the_run_folder(scored, mp4_128, tmp_path):
    run = run_dir_of(scored, "shift-mp4")
    rows = []
    for p in sorted(mp4_128.iterdir()):  # the manifest from its description: name, size, sha256 of each file
        rows.append({"name": p.name, "size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()})
    manifest = json.loads((run / "submission.json").read_text())["manifest"]
    assert sorted((r["name"], r["size"], r["sha256"]) for rs in manifest.values() for r in rs) == \
        sorted((r["name"], r["size"], r["sha256"]) for r in rows)
    # the same files elsewhere find the same run folder (already complete: nothing is redone)
    copy = tmp_path / "copy"
    shutil.copytree(mp4_128, copy)
    before = (run / "results.json").read_bytes()
    r = vbench("run", *PROTOCOL, *METRICS, "--videos", copy, "--name", "shift-mp4", "--variant", "demo v1",
               "--out", scored)
    assert r.exit_code == 0 and f"{run.name}/results.json" in r.output
    assert (run / "results.json").read_bytes() == before
    # one changed file: another run folder
    first = sorted(copy.iterdir())[0]
    write_video(first, read_video(first)[:, ::-1].copy())  # same length and size, other pixels
    out2 = tmp_path / "runs2"
    r = vbench("run", *PROTOCOL, *METRICS, "--videos", copy, "--name", "shift-mp4", "--variant", "demo v1",
               "--out", out2)
    assert r.exit_code == 0, r.output
    assert run_dir_of(out2, "shift-mp4").name != run.name


def test_any_size_is_cropped_and_resized_as_declared_and_a_changed_file_is_refused(tmp_path):
    from vbench_i2v import protocol
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.errors import InputError
    from vbench_i2v.submission import open_submission

    ds = get_dataset("synthetic", seed=0)
    refs = protocol.test_clips(ds, max_videos=3, seed=0)
    shapes = [(80, 96), (64, 64), (40, 40)]  # wide (crop, then shrink), as is, small (enlarge)
    rng = np.random.default_rng(0)
    given = {}
    for ref, (h, w) in zip(refs, shapes):
        given[ref.clip_id] = rng.integers(0, 256, (32, h, w, 3), dtype=np.uint8)
        write_video(tmp_path / f"{ref.clip_id}.npz", given[ref.clip_id])
    sub = open_submission(tmp_path, refs, "sizes", num_classes=ds.num_classes)
    got = sub.clips_for(refs)
    assert got.shape == (3, 32, 64, 64, 3)
    wide = given[refs[0].clip_id][:, :, 8:88]  # the central 80x80 square of 80 rows x 96 columns, by hand
    np.testing.assert_array_equal(got[0], _pil_resize_64(wide))
    np.testing.assert_array_equal(got[1], given[refs[1].clip_id])
    np.testing.assert_array_equal(got[2], _pil_resize_64(given[refs[2].clip_id]))
    conv = sub.source_record()["conversions"]
    assert conv[0].startswith("crop 1 non-square clip(s): central square") and conv[1].startswith("resize 2 clip(s)")
    write_video(tmp_path / f"{refs[1].clip_id}.npz", given[refs[1].clip_id][::-1].copy())
    with pytest.raises(InputError, match="changed since the submission was validated"):
        sub.clips_for(refs[1:2])


# ----------------------------------------------------------------------------- refused before anything is written

def _broken(folder: Path, tmp: Path, how: str, clip_ids: list[str]) -> tuple[Path, list[str]]:
    """A copy of the png submission broken one way; returns it and the words its error must hold."""
    bad = tmp / f"bad-{how}"
    shutil.copytree(folder, bad)
    if how == "missing":
        for c in clip_ids[:5]:
            shutil.rmtree(bad / c)
        return bad, ["5 missing", clip_ids[0], clip_ids[1], clip_ids[2]]
    if how == "extra":
        write_video(bad / "not_a_clip.npz", read_video(bad / clip_ids[0]))
        return bad, ["1 extra", "not_a_clip.npz"]
    if how == "duplicate":
        write_video(bad / f"{clip_ids[1]}.npz", read_video(bad / clip_ids[1]))
        return bad, ["ambiguous", clip_ids[1], f"{clip_ids[1]}.npz"]
    if how == "wrong-length":
        frames = sorted((bad / clip_ids[2]).iterdir())
        frames[-1].unlink()
        return bad, [clip_ids[2], "31 frames", "32 frames"]
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing", "extra", "duplicate", "wrong-length"])
def test_bad_submissions_one_line_naming_them_and_nothing_written(png_64, clip_ids, tmp_path, how):
    bad, words = _broken(png_64, tmp_path, how, clip_ids)
    out = tmp_path / "runs"
    r = vbench("run", *PROTOCOL, *METRICS, "--videos", bad, "--name", "x", "--out", out)
    assert r.exit_code == 2
    (line,) = error_lines(r)
    assert "Traceback" not in r.output + r.stderr
    for w in words:
        assert w in line, (w, line)
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_submission_options_are_checked(png_64, tmp_path):
    for args, words in [(["--name", "x", "--generator", "imaginator"], "give one of them"),
                        ([], "needs --name"),
                        (["--name", "has space"], "letters, digits")]:
        r = vbench("run", *PROTOCOL, "--videos", png_64, *args, "--out", tmp_path / "r")
        assert r.exit_code == 2 and words in error_lines(r)[0], r.stderr


# ----------------------------------------------------------------------------- the mismatch guard

def test_shuffled_submission_is_flagged_and_the_right_one_is_not(scored, png_64, clip_ids, tmp_path):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    res = load_results(run_dir_of(scored, "shift-png"))
    checks = res["submission_checks"]
    assert checks["mismatch"] is False and checks["unlike_count"] == 0
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for i, c in enumerate(clip_ids):  # every clip under the name of the clip half the list away
        shutil.copytree(png_64 / c, shuffled / clip_ids[(i + N // 2) % N])
    out = tmp_path / "runs"
    r = vbench("run", *PROTOCOL, *METRICS, "--videos", shuffled, "--name", "shuffled", "--out", out)
    assert r.exit_code == 0, r.output
    run = run_dir_of(out, "shuffled")
    checks = load_results(run)["submission_checks"]
    assert checks["mismatch"] is True and checks["unlike_count"] > N // 2
    warning = [ln for ln in r.stderr.splitlines() if "look unlike their conditioning image" in ln]
    assert len(warning) == 1 and checks["worst"][0]["clip"] in warning[0]
    # per clip: PSNR and SSIM of frame 0 against cond/<clip>.png, as scikit-image computes them
    for clip, got in checks["per_clip"].items():
        first = read_video(run / "fake" / f"{clip}.npz")[0]
        cond = np.asarray(Image.open(run / "cond" / f"{clip}.png").convert("RGB"))
        assert got["psnr_db"] == pytest.approx(peak_signal_noise_ratio(cond, first, data_range=255), abs=1e-3)
        assert got["ssim"] == pytest.approx(structural_similarity(
            cond, first, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
            channel_axis=-1), abs=1e-4)
    worst = sorted(checks["per_clip"], key=lambda c: checks["per_clip"][c]["psnr_db"])[:5]
    assert [w["clip"] for w in checks["worst"]] == worst


# ----------------------------------------------------------------------------- a Python callable

CALLABLE_SOURCE = '''
import json, os
import numpy as np


def drift(images, labels, seeds):
    """Slides each image sideways by (label + 1) pixels per frame; records the seeds it was given."""
    with open(os.environ["SEEDS_LOG"], "a") as fh:
        fh.write(json.dumps([int(s) for s in seeds]) + "\\n")
    out = []
    for im, lab in zip(images, labels):
        padded = np.pad(im, ((0, 0), (64, 64), (0, 0)), mode="edge")
        out.append(np.stack([padded[:, 64 - t * (lab + 1) // 4 : 128 - t * (lab + 1) // 4] for t in range(32)]))
    return np.stack(out).astype(np.uint8)


def drift_float(images, labels, seeds):
    """drift in the backends' layout: float B x 3 x T x H x W in [-1, 1]."""
    return (drift(images, labels, seeds).astype(np.float32) / 127.5 - 1).transpose(0, 4, 1, 2, 3)


def short(images, labels, seeds):
    return np.zeros((len(images), 16, 64, 64, 3), np.uint8)


def floats(images, labels, seeds):
    return np.full((len(images), 3, 32, 64, 64), 3.0, np.float32)


not_a_function = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "mymodel.py").write_text(CALLABLE_SOURCE)
    monkeypatch.setenv("SEEDS_LOG", str(tmp_path / "seeds.log"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("mymodel", None)


def _noise_seed(seed: int, clip: str) -> int:
    """The per-clip seed from its published recipe: sha256("seed/noise/clip") seeds numpy's PCG64."""
    return int(seeded_stream(seed, "noise", clip).integers(1 << 62))


def test_callable_equals_the_same_function_as_a_backend(user_module, kit, clip_ids, monkeypatch, tmp_path):
    import torch

    import mymodel
    from vbench_i2v import tensors
    from vbench_i2v.generators.base import GeneratorBackend, GeneratorConfig
    from vbench_i2v.generators.registry import GENERATORS

    class Wrapped(GeneratorBackend):  # the function written as a backend by hand
        name = "wrapped-drift"
        Config = GeneratorConfig
        trainable = False

        def build(self, num_classes):
            pass

        def _generate(self, images, labels, z):
            out = mymodel.drift(tensors.image_from_model(images), labels.tolist(), [0] * len(images))
            return tensors.video_to_model(torch.from_numpy(out))

    monkeypatch.setitem(GENERATORS._items, "wrapped-drift", Wrapped)
    out = tmp_path / "runs"
    r = vbench("run", *PROTOCOL, *METRICS, "--generator", "wrapped-drift", "--batch-size", 3, "--out", out)
    assert r.exit_code == 0, r.output
    (user_module / "seeds.log").unlink()
    r = vbench("run", *PROTOCOL, *METRICS, "--generator", "mymodel:drift", "--variant", "v1", "--batch-size", 3,
               "--out", out, cwd=user_module)
    assert r.exit_code == 0, r.output
    a, b = load_results(run_dir_of(out, "wrapped-drift")), load_results(run_dir_of(out, "drift"))
    for m in ("ssim", "psnr"):
        assert (a["metrics"][m]["value"], a["metrics"][m]["ci95"]) == (b["metrics"][m]["value"], b["metrics"][m]["ci95"])
    for clip in clip_ids:
        np.testing.assert_array_equal(read_video(run_dir_of(out, "drift") / "fake" / f"{clip}.npz"),
                                      read_video(run_dir_of(out, "wrapped-drift") / "fake" / f"{clip}.npz"))
    g = b["generator"]
    assert (g["source"], g["name"], g["variant"], g["callable"]) == ("callable", "drift", "v1", "mymodel:drift")
    assert a["generator"]["source"] == "backend"
    from vbench_i2v.generators.registry import generator_names

    assert "callable" not in generator_names()  # an adapter, not a registry name
    assert g["file_sha256"] == hashlib.sha256((user_module / "mymodel.py").read_bytes()).hexdigest()
    # called in batches (3, 3, 2), each clip with its protocol noise seed: the kit's clips.csv, and the recipe
    calls = [json.loads(line) for line in (user_module / "seeds.log").read_text().splitlines()]
    assert [len(c) for c in calls] == [3, 3, 2]
    with open(kit / "clips.csv", newline="") as fh:
        kit_seeds = {row["clip"]: int(row["noise_seed"]) for row in csv.DictReader(fh)}
    assert [s for c in calls for s in c] == [kit_seeds[c] for c in clip_ids] == [_noise_seed(SEED, c) for c in clip_ids]


def test_callable_float_layout_is_taken_as_the_backends(user_module):
    from vbench_i2v.generators.callable_backend import CallableGenerator
    from vbench_i2v.tensors import video_from_model

    images = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    u8 = CallableGenerator.from_target("mymodel:drift", num_classes=7).generate(images, [0, 3, 6])
    fl = CallableGenerator.from_target("mymodel:drift_float", num_classes=7).generate(images, [0, 3, 6])
    assert u8.shape == fl.shape == (3, 3, 32, 64, 64)
    # uint8 -> [-1, 1] -> uint8 is exact (the error of /127.5 is far below the rounding step)
    np.testing.assert_array_equal(video_from_model(u8), video_from_model(fl))
    np.testing.assert_array_equal(video_from_model(u8)[:, 0], images)  # drift starts at the image itself


@pytest.mark.parametrize("target, words", [
    ("nosuchmodule:drift", "no module named 'nosuchmodule'"),
    ("mymodel:nope", "has no attribute 'nope'"),
    ("mymodel:not_a_function", "not a callable"),
    ("mymodel:short", "returned uint8 of shape (8, 16, 64, 64, 3)"),
    ("mymodel:floats", "returned floats in [3, 3]"),
    ("missing/file.py:drift", "no such Python file"),
])
def test_callable_bad_paths_and_outputs_are_one_line(user_module, target, words, tmp_path):
    r = vbench("run", *PROTOCOL, *METRICS, "--generator", target, "--batch-size", 8, "--out", tmp_path / "r",
               cwd=user_module)
    assert r.exit_code == 2, r.output
    (line,) = error_lines(r)
    assert words in line and "Traceback" not in r.stderr, line


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_callable_in_a_git_work_tree_records_its_commit(tmp_path, monkeypatch):
    from vbench_i2v.generators.callable_backend import load_callable

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "gen.py").write_text(CALLABLE_SOURCE)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["init", "-q"], ["add", "gen.py"], ["commit", "-q", "-m", "gen"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    fn, prov = load_callable(f"{repo / 'gen.py'}:drift")
    assert callable(fn) and prov["git_commit"] == head and prov["git_dirty"] is False
    (repo / "gen.py").write_text(CALLABLE_SOURCE + "\n# edited\n")
    assert load_callable(f"{repo / 'gen.py'}:drift")[1]["git_dirty"] is True
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "gen2.py").write_text(CALLABLE_SOURCE)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert load_callable(f"{outside / 'gen2.py'}:drift")[1]["git_commit"] is None


# ----------------------------------------------------------------------------- boards and studies mix the routes

def test_board_and_study_mix_a_submission_with_builtin_runs(scored, tmp_path):
    from vbench_i2v.leaderboard import measured_boards
    from vbench_i2v.results import collect_results
    from vbench_i2v.study.export import export_study

    r = vbench("run", *PROTOCOL, *METRICS, "--generator", "copy-first-frame", "--out", scored)
    assert r.exit_code == 0, r.output
    builtin, submitted = run_dir_of(scored, "copy-first-frame"), run_dir_of(scored, "shift-png")
    assert load_results(builtin)["protocol"]["fingerprint"] == load_results(submitted)["protocol"]["fingerprint"]
    (board,) = measured_boards(collect_results([scored]))  # one table: the same clips
    rows = set(board.long["row"])
    assert {"copy-first-frame", "shift-png (demo v1)", "shift-mp4 (demo v1)"} <= rows
    info = export_study([builtin, submitted], tmp_path / "study", pairs=4, attention_rate=0, fmt="gif", scale=1)
    assert info["shared_protocol"] is True
    with open(tmp_path / "study" / "key.csv", newline="") as fh:
        key = list(csv.DictReader(fh))
    assert len(key) == 4 and all(row["left_clip"] == row["right_clip"] for row in key)  # paired on the same clip
    assert {row["left_run"] for row in key} | {row["right_run"] for row in key} == {builtin.name, submitted.name}
