"""`vbench protocol export`: the kit an outside generator gets (issue 21), and the README's guide run
end to end as written."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
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
from vbench_i2v.video_io import read_video

ROOT = Path(__file__).resolve().parents[1]
SEED, N = 5, 4


def vbench(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _noise_seed(seed: int, clip: str) -> int:
    """The per-clip noise seed from its published recipe (``protocol.rng_for``): sha256 of
    ``"<seed>/noise/<clip>"``, its first 8 bytes little-endian seed numpy's default generator, whose
    first ``integers(2**62)`` draw is the seed."""
    return int(seeded_stream(seed, "noise", clip).integers(1 << 62))


@pytest.fixture(scope="module")
def kit_and_run(tmp_path_factory):
    """A kit and a built-in run (copy-first-frame) of the same protocol."""
    tmp = tmp_path_factory.mktemp("kit")
    args = ["--dataset", "synthetic", "--max-videos", N, "--seed", SEED]
    r = vbench("protocol", "export", *args, "--out", tmp / "kit")
    assert r.exit_code == 0, r.output
    r = vbench("run", *args, "--generator", "copy-first-frame", "--metrics", "psnr", "--out", tmp / "runs")
    assert r.exit_code == 0, r.output
    (run,) = [p for p in (tmp / "runs").iterdir() if not p.name.startswith("_")]
    return tmp / "kit", run


def test_kit_files_names_and_conditioning_frames(kit_and_run):
    kit, run = kit_and_run
    # what the kit holds, and nothing else: no real clips, no source videos or start frames
    files = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
    with open(run / "clips.csv", newline="") as fh:
        run_rows = list(csv.DictReader(fh))
    clips = [row["clip"] for row in run_rows]
    assert len(clips) == N
    assert files == sorted(["README.md", "clips.csv", "protocol.json"] + [f"cond/{c}.png" for c in clips])
    for c in clips:
        with Image.open(kit / "cond" / f"{c}.png") as im:
            assert (im.format, im.size, im.mode, getattr(im, "n_frames", 1)) == ("PNG", (64, 64), "RGB", 1)
            image = np.asarray(im)
        # exactly the frame the built-in backend got: frame 0 of the run's real clip, and the run's cond/ file
        np.testing.assert_array_equal(image, read_video(run / "real" / f"{c}.npz")[0])
        np.testing.assert_array_equal(image, np.asarray(Image.open(run / "cond" / f"{c}.png")))
        np.testing.assert_array_equal(image, read_video(run / "fake" / f"{c}.npz")[0])  # copy-first-frame


def test_kit_clips_csv_labels_and_noise_seeds(kit_and_run):
    import vbench_i2v.run as run_mod

    kit, run = kit_and_run
    with open(kit / "clips.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["clip", "label", "label_name", "subject", "noise_seed"]
        rows = list(reader)
    with open(run / "clips.csv", newline="") as fh:
        run_rows = {row["clip"]: row for row in csv.DictReader(fh)}
    labels = json.loads((kit / "protocol.json").read_text())["labels"]
    assert [r["clip"] for r in rows] == list(run_rows)
    for row in rows:
        ref = run_rows[row["clip"]]
        assert (row["label"], row["label_name"], row["subject"]) == (ref["label"], ref["label_name"], ref["subject"])
        assert labels[int(row["label"])] == row["label_name"]
        assert int(row["noise_seed"]) == _noise_seed(SEED, row["clip"])
        # the seed a built-in backend's per-clip noise generator starts from
        assert run_mod._noise_generator(SEED, row["clip"]).initial_seed() == int(row["noise_seed"])
    assert len({r["noise_seed"] for r in rows}) == len(rows)


def test_kit_protocol_json_and_fingerprint_equal_the_runs(kit_and_run):
    kit, run = kit_and_run
    meta = json.loads((kit / "protocol.json").read_text())
    res = load_results(run)
    assert meta["fingerprint"] == meta["protocol"]["fingerprint"] == res["protocol"]["fingerprint"]
    for key in ("frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed", "dataset_options",
                "dataset_fingerprint"):
        assert meta["protocol"][key] == res["protocol"][key], key
    assert (meta["dataset"], meta["split"], meta["clip_count"], meta["frames"], meta["size"]) == \
        ("synthetic", "test", N, 32, 64)
    assert "frame 0" in meta["frame0"] and "conditioning image" in meta["frame0"]
    assert ".mp4" in meta["accepted_formats"] and any("folder" in f for f in meta["accepted_formats"])
    assert "<clip>" in meta["naming"]
    assert meta["submit"] == (f"vbench run --dataset synthetic --seed {SEED} --max-videos {N} "
                              "--videos CLIPS/ --name MY_MODEL")
    readme = (kit / "README.md").read_text()
    assert meta["submit"] in readme and meta["fingerprint"] in readme


def test_kit_folder_rules(kit_and_run, tmp_path):
    kit, _ = kit_and_run
    again = tmp_path / "again"
    shutil.copytree(kit, again)
    before = {p: p.read_bytes() for p in again.rglob("*") if p.is_file()}
    r = vbench("protocol", "export", "--dataset", "synthetic", "--max-videos", N, "--seed", SEED, "--out", again)
    assert r.exit_code == 0, r.output  # the same protocol: rewritten, the same bytes
    assert {p: p.read_bytes() for p in again.rglob("*") if p.is_file()} == before
    for args, words in [(["--seed", SEED + 1, "--max-videos", N, "--out", again], "another protocol"),
                        (["--max-videos", N, "--out", tmp_path], "not empty")]:
        r = vbench("protocol", "export", "--dataset", "synthetic", *args)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and words in lines[0], r.stderr
    r = vbench("protocol", "export", "--dataset", "nosuch", "--out", tmp_path / "k2")
    assert r.exit_code == 2 and "nosuch" in r.stderr
    r = vbench("protocol", "export", "--dataset", "synthetic", "--data-root", tmp_path, "--out", tmp_path / "k3")
    assert r.exit_code == 2 and "built in" in r.stderr
    assert not (tmp_path / "k2").exists() and not (tmp_path / "k3").exists()


# ----------------------------------------------------------------------------- the README's guide, as written

def _readme_guide() -> list[str]:
    """The shell lines of the README section "Benchmark your own model" (its first bash block)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Benchmark your own model", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines, current = [], ""
    for raw in block.splitlines():
        line = raw.split("  #", 1)[0].rstrip()
        if not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return lines


@pytest.mark.slow  # five fresh `vbench` processes with the default metrics: ~40 s on 2 busy cores
def test_readme_guide_runs_as_written(tmp_path):
    """Every command of the guide, in a fresh folder, as a new user types it (only --max-videos made
    smaller so the test takes seconds; the guide's own number is checked to be there)."""
    lines = _readme_guide()
    assert [ln.split()[:3] for ln in lines] == [
        ["vbench", "protocol", "export"], ["python", "examples/shift_generator.py", "kit/"],
        ["vbench", "run", "--dataset"], ["vbench", "run", "--generator"], ["vbench", "leaderboard", "runs/"]]
    assert all("--max-videos 20" in ln for ln in lines if ln.startswith("vbench run") or "export" in ln)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    for line in lines:
        args = shlex.split(line.replace("--max-videos 20", "--max-videos 3"))
        if args[0] == "python":
            args[0] = sys.executable
        done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    board = done.stdout  # the leaderboard: the submission and the built-in baseline in one table
    assert board.count("| generator") == 1 and "| my-model" in board and "| copy-first-frame" in board
