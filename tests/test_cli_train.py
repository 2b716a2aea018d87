"""`vbench train`, `vbench generate`, `vbench generators list` through click's test runner."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from generator_fakes import one_torch_thread  # noqa: F401 - also registers the tiny-test datasets
from vbench_i2v.cli import _Main
from vbench_i2v.cli.train import commands
from vbench_i2v.video_io import read_video

cli = _Main(name="vbench", commands={c.name: c for c in commands})


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--width", 1 / 16, "--steps", 2,
              "--batch-size", 2, "--out", out, "--device", "cpu", "--set", "noise=off", "--preset", "paper")
    assert res.exit_code == 0, res.output
    # The trainer's messages come through the package logger (stderr, which the runner shows too).
    assert "imaginator on tiny-test (cpu): G " in res.output and f"wrote {out} (model.safetensors" in res.output
    return out


def test_train_then_resume_continues_the_step_count(trained):
    meta = json.loads((trained / "config.json").read_text())
    assert meta["step"] == 2 and meta["config"]["noise"] is False and meta["config"]["preset"] == "paper"
    assert meta["config"]["batch_size"] == 2
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--steps", 3, "--out", trained,
              "--resume", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert json.loads((trained / "config.json").read_text())["step"] == 3
    with open(trained / "losses.csv") as f:
        assert [r["step"] for r in csv.DictReader(f)] == ["1", "2", "3"]
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--steps", 4, "--out", trained,
              "--resume", "--width", 0.5)
    assert res.exit_code == 2 and "--resume continues the saved config" in res.output
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--steps", 4, "--out", trained,
              "--resume", "--seed", 5)
    assert res.exit_code == 2 and "--resume keeps the run's seed 0; drop --seed 5" in res.output
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--steps", 4, "--out", trained,
              "--resume", "--seed", 0, "--workers", "0", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert json.loads((trained / "config.json").read_text())["step"] == 4


def test_option_types_refuse_at_parse_time(tmp_path):
    base = ["train", "--generator", "imaginator", "--dataset", "tiny-test", "--out", tmp_path / "r"]
    for extra, words in ((["--workers", "-1"], "--workers must be auto or a number between 0 and 64, got '-1'"),
                         (["--workers", "65"], "--workers must be auto or a number between 0 and 64, got '65'"),
                         (["--workers", "two"], "--workers must be auto or a whole number, got 'two'"),
                         (["--compile", "auto"], "--compile must be true/false"),
                         (["--width", "9"], "0<x<=8"), (["--steps", str(10**9 + 1)], "1<=x<=1000000000"),
                         (["--steps", "3", "--epochs", "1"], "give --steps or --epochs, not both")):
        res = run(*base, *extra)
        assert res.exit_code == 2 and words in res.output, (extra, res.output)
    assert not (tmp_path / "r").exists()
    res = run("generate", "--checkpoint", tmp_path, "--image", __file__, "--out", tmp_path / "clip.avi")
    assert res.exit_code == 2 and "must end in .mp4 or .gif" in res.output
    res = run("generate", "--checkpoint", tmp_path, "--image", __file__, "--num", 1001, "--out", tmp_path / "c.gif")
    assert res.exit_code == 2 and "1<=x<=1000" in res.output


def test_generate_writes_a_clip_and_rejects_bad_inputs(trained, tmp_path):
    frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(frame).save(tmp_path / "in.png")
    res = run("generate", "--checkpoint", trained, "--image", tmp_path / "in.png", "--label", "down",
              "--out", tmp_path / "out.gif")
    assert res.exit_code == 0, res.output
    clip = read_video(tmp_path / "out.gif")
    assert clip.shape == (32, 64, 64, 3)
    res = run("generate", "--checkpoint", trained, "--image", tmp_path / "in.png", "--label", 1, "--num", 2,
              "--out", tmp_path / "many.mp4")
    assert res.exit_code == 0 and (tmp_path / "many_001.mp4").exists()

    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(tmp_path / "big.png")
    cases = [
        (["--image", tmp_path / "big.png", "--label", 0], "image is 50x40, the model takes 64x64"),
        (["--image", tmp_path / "in.png", "--label", "happy"], "unknown label 'happy' (labels: left, down)"),
        (["--image", tmp_path / "in.png", "--label", 5], "label id 5 out of range (0..1)"),
        (["--image", tmp_path / "in.png"], "needs a label"),
    ]
    for extra, message in cases:
        res = run("generate", "--checkpoint", trained, *extra, "--out", tmp_path / "x.gif")
        assert res.exit_code == 2 and "Error: " in res.output and message in res.output, res.output
    res = run("generate", "--checkpoint", trained, "--image", tmp_path / "big.png", "--label", 0, "--resize",
              "--out", tmp_path / "resized.gif")
    assert res.exit_code == 0, res.output


def test_another_backends_checkpoint_and_unknown_names(trained, tmp_path):
    from vbench_i2v.generators.registry import get_generator

    get_generator("copy-first-frame")(num_classes=2).save(tmp_path / "copy")
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--out", tmp_path / "copy", "--resume")
    assert res.exit_code == 2 and "checkpoint is for generator 'copy-first-frame', not 'imaginator'" in res.output
    res = run("train", "--generator", "nope", "--dataset", "tiny-test", "--out", tmp_path / "n")
    assert res.exit_code == 2 and "unknown generator 'nope'" in res.output
    res = run("train", "--generator", "imaginator", "--dataset", "tiny-test", "--out", tmp_path / "n", "--set", "x=1")
    assert res.exit_code == 2 and "unknown imaginator config key 'x'" in res.output


def test_generators_list_shows_published_counts():
    res = run("generators", "list")
    assert res.exit_code == 0, res.output
    assert "imaginator" in res.output and "copy-first-frame" in res.output
    assert "G 75,436,291" in res.output and "D_V 11,097,025" in res.output  # 7 classes at width 1
    res = run("generators", "list", "--num-classes", 6)
    assert "G 75,406,451" in res.output and "D_V 11,088,833" in res.output and "D_I 2,764,737" in res.output


def test_train_passes_numerics_flags_and_refuses_tf32_on_the_cpu(tmp_path, monkeypatch):
    from vbench_i2v.generators import training

    seen = []

    class Capture(training.Trainer):
        def fit(self):
            seen.append(self.options)
            return self.out

    monkeypatch.setattr(training, "Trainer", Capture)
    base = ["train", "--generator", "imaginator", "--dataset", "tiny-test", "--width", 1 / 16, "--steps", 1,
            "--out", tmp_path / "r", "--device", "cpu"]
    assert run(*base).exit_code == 0
    assert run(*base[:-4], "--out", tmp_path / "s", "--deterministic", "--compile", "on").exit_code == 0
    assert [(o.deterministic, o.tf32, o.compile) for o in seen] == [(False, False, "off"), (True, False, "on")]
    res = run(*base[:-4], "--out", tmp_path / "t", "--device", "cpu", "--tf32")
    assert res.exit_code == 2 and res.output.strip().splitlines() == [
        "Error: --tf32: device 'cpu' is not a CUDA device (TF32 is a CUDA matmul and convolution mode)"]
