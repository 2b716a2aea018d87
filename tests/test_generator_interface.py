"""The backend interface: registry, entry points, configs/presets, load_checkpoint, copy-first-frame.

What every backend must do (generate conventions, input validation, save/load, a training step)
is checked for each registered backend in tests/test_backend_contract.py."""

from __future__ import annotations

import importlib.metadata
import json

import numpy as np
import pytest
import torch

from generator_fakes import one_torch_thread  # noqa: F401 - autouse fixture

from vbench_i2v import tensors
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import GeneratorBackend
from vbench_i2v.generators.registry import (
    GENERATORS,
    generator_names,
    get_generator,
    load_checkpoint,
    shipped_checkpoint,
)
from vbench_i2v.registry import Registry

TINY = 1 / 16  # width for fast tests


def tiny_imaginator(num_classes=2, label_names=("left", "down"), **overrides):
    cls = get_generator("imaginator")
    torch.manual_seed(0)
    return cls(cls.make_config(width=TINY, overrides=overrides), num_classes,
               list(label_names) if label_names else None, "tiny-test")


def images(b=2, seed=0):
    return torch.rand(b, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- registry ------------------------------------------------------------------------------
def test_registry_knows_backends_and_rejects_unknown():
    assert {"imaginator", "copy-first-frame"} <= set(generator_names())
    assert GENERATORS.entry_point_group == "vbench_i2v.generators"
    with pytest.raises(InputError, match="unknown generator 'nope'.*imaginator"):
        get_generator("nope")


def test_entry_point_group_adds_third_party_backend(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="third-party", group="vbench_i2v.generators",
                                       value="vbench_i2v.generators.copy_first_frame:CopyFirstFrame")
    seen = []

    def fake_entry_points(group=None):
        seen.append(group)
        return [ep] if group == "vbench_i2v.generators" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    reg = Registry("generator", entry_point_group="vbench_i2v.generators")
    from vbench_i2v.generators.copy_first_frame import CopyFirstFrame

    assert reg.get("third-party") is CopyFirstFrame
    assert seen == ["vbench_i2v.generators"]


# --- configs -------------------------------------------------------------------------------
def test_presets_widths_and_overrides():
    cls = get_generator("imaginator")
    paper = cls.make_config("paper")
    assert (paper.lr_g, paper.lr_d, paper.beta1, paper.wrong_label, paper.preset) == (2e-4, 5e-5, 0.5, True, "paper")
    released = cls.make_config("released", width=0.5, overrides=cls.parse_overrides(["fusion=off", "lr_g=1e-3"]))
    assert (released.lr_d, released.wrong_label, released.width, released.fusion, released.lr_g) == \
        (2e-4, False, 0.5, False, 1e-3)
    assert cls.make_config().preset == cls.default_preset
    with pytest.raises(InputError, match="unknown preset 'fast'.*paper, released"):
        cls.make_config("fast")
    with pytest.raises(InputError, match="unknown imaginator config key 'lr'"):
        cls.parse_overrides(["lr=1"])
    with pytest.raises(InputError, match="'noise' expects bool"):
        cls.parse_overrides(["noise=maybe"])
    with pytest.raises(InputError, match="key=value"):
        cls.parse_overrides(["noise"])
    with pytest.raises(InputError, match="width must be > 0"):
        cls.make_config(width=0)


# --- save / load ---------------------------------------------------------------------------
def test_load_checkpoint_expect_and_non_checkpoints_are_clear_errors(tmp_path):
    copy = get_generator("copy-first-frame")(num_classes=2, label_names=["left", "down"])
    copy.save(tmp_path / "copy")  # Backend.load of another backend: tests/test_backend_contract.py
    with pytest.raises(InputError, match="not 'imaginator'"):
        load_checkpoint(tmp_path / "copy", expect="imaginator")
    assert isinstance(load_checkpoint(tmp_path / "copy"), get_generator("copy-first-frame"))
    with pytest.raises(InputError, match="not a generator checkpoint"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{}")
    with pytest.raises(InputError, match="not a vbench-i2v generator config"):
        load_checkpoint(tmp_path / "bad")


def test_weights_that_do_not_match_the_config_are_a_clear_error(tmp_path):
    tiny_imaginator().save(tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    meta["config"]["width"] = 2 * TINY
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="weights do not match the config"):
        load_checkpoint(tmp_path / "ck")


# --- copy-first-frame ----------------------------------------------------------------------
def test_copy_first_frame_repeats_the_image_32_times():
    model = get_generator("copy-first-frame")(num_classes=7)
    assert model.parameter_count() == 0 and not model.trainable
    frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = tensors.video_from_model(model.generate(frame, 3))
    assert out.shape == (1, 32, 64, 64, 3)
    assert (out[0] == frame[None]).all()  # exact: uint8 -> [-1, 1] -> uint8 round-trips


def test_base_class_is_abstract_where_it_must_be():
    class Half(GeneratorBackend):
        name = "half"

        def build(self, num_classes):
            pass

    with pytest.raises(NotImplementedError):
        Half().generate(images(1))
    with pytest.raises(NotImplementedError, match="not trainable"):
        Half().configure_optimizers()


def test_shipped_checkpoints_load_when_present():
    assert shipped_checkpoint("copy-first-frame") is None  # nothing to ship for it
    path = shipped_checkpoint("imaginator")
    if path is None:
        pytest.skip("no shipped imaginator checkpoint in this tree")
    model = load_checkpoint(path)
    assert model.name == "imaginator" and model.dataset == "synthetic" and model.num_classes == 7
    assert sum(f.stat().st_size for f in path.iterdir()) <= 10e6
    out = model.generate(torch.zeros(1, 3, 64, 64), "happy", generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 3, 32, 64, 64) and torch.isfinite(out).all()
