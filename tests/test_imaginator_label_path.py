"""ImaGINator's label path: the label-sensitivity metric, the per-level diagnostics, the
``label_scale`` / ``adv_weight`` switches, and the shipped checkpoint under its saved config
(checked against an independent functional forward pass written from the released layer table)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.imaginator import Imaginator
from vbench_i2v.generators.imaginator import model as M

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "generators" / "checkpoints" / "imaginator-synthetic"


def _script():
    spec = importlib.util.spec_from_file_location("diagnose_label_path", ROOT / "scripts" / "diagnose_label_path.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


D = _script()


# --- the metric -----------------------------------------------------------------------------
def test_label_pair_mad_matches_a_hand_computation():
    # three "labels", frames of 1 x 2 x 1 pixels: pairs (0,1) -> (3+1)/2 = 2, (0,2) -> 6, (1,2) -> (3+5)/2 = 4
    frames = np.array([[[[0], [0]]], [[[3], [1]]], [[[6], [6]]]], np.uint8)
    assert D.label_pair_mad(frames) == pytest.approx((2 + 6 + 4) / 3)
    # uint8 must not wrap around: |10 - 250| = 240
    assert D.label_pair_mad(np.array([[[[10]]], [[[250]]]], np.uint8)) == 240.0
    with pytest.raises(ValueError):
        D.label_pair_mad(np.zeros((1, 4, 4, 3)))


def test_label_sensitivity_averages_images_and_seeds():
    calls = []

    def generate(imgs, labels, z):  # frame value = label * (image id + 1) * (seed + 1)
        calls.append((labels, z))
        v = np.array(labels, np.float64)[:, None, None, None, None] * (imgs[0, 0, 0, 0] + 1.0) * (z + 1)
        return np.broadcast_to(v, (len(labels), 2, 2, 2, 3))

    images = np.stack([np.full((2, 2, 3), i, np.uint8) for i in range(2)])
    out = D.label_sensitivity(generate, images, 3, lambda seed, k: seed, seeds=(0, 1))
    # labels 0,1,2 -> pair MAD = mean(1, 2, 1) * scale = 4/3 * scale; scales 1, 2, 2, 4
    assert out["values"] == pytest.approx([4 / 3, 8 / 3, 8 / 3, 16 / 3])
    assert out["mean"] == pytest.approx(np.mean([4 / 3, 8 / 3, 8 / 3, 16 / 3]))
    assert all(lab == [0, 1, 2] for lab, _ in calls)


def test_label_direction_corr_by_hand():
    ref = np.array([[0.0, 2.0], [2.0, 0.0]])  # deviations from the label mean: [-1, 1], [1, -1]
    assert D.label_direction_corr(ref + 5, ref) == pytest.approx(1.0)
    assert D.label_direction_corr(3 * ref[::-1], ref) == pytest.approx(-1.0)
    assert D.label_direction_corr(np.array([[0.0, 0.0], [2.0, 2.0]]), ref) == pytest.approx(0.0)


def test_checkerboard_index_separates_a_checkerboard_from_a_smooth_image():
    y, x = np.mgrid[:64, :64]
    smooth = np.repeat((128 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0))[None, ..., None], 3, -1)
    board = smooth + 20 * ((x + y) % 2)[None, ..., None]
    assert D.checkerboard_index(smooth.astype(np.uint8)) < 1.5
    assert D.checkerboard_index(board.astype(np.uint8)) > 50


# --- the level-by-level forward -----------------------------------------------------------
def _net(scale=1.0, k=5, width=0.125, seed=0):
    torch.manual_seed(seed)
    return M.build_networks(k, width, label_scale=scale).G.eval()


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_decoder_forward_is_the_generator_forward(scale):
    g = _net(scale)
    x, z, lab = torch.rand(5, 3, 64, 64) * 2 - 1, torch.randn(5, g.dim_z), torch.arange(5)
    with torch.no_grad():
        assert torch.equal(D.decoder_forward(g, x, [lab] * 5, z), g(x, lab, z))
        assert torch.equal(D.decoder_forward(g, x, [None] * 5, z), g(x, None, z))
        # a label at one level only differs from both
        mixed = D.decoder_forward(g, x, [lab, lab, (lab + 1) % 5, lab, lab], z)
    assert not torch.equal(mixed, g(x, lab, z))


def test_input_parts_cover_each_block_input():
    g = _net()
    for level in range(5):
        cin = D.first_conv(g.blocks[level]).in_channels
        parts = D.input_parts(g, level)
        sizes = [len(range(cin)[sl]) for sl in parts.values()]
        assert sum(sizes) == cin and sizes[-1 if level else 1] == g.label_channels


# --- the label_scale switch ---------------------------------------------------------------
def test_label_scale_puts_the_label_at_unit_channel_rms_at_every_level():
    """With ``label_scale = sqrt(K)`` every block sees label channels of RMS 1 (the scale of z and
    of the BN-normalised features); the released one-hot gives 1/sqrt(K) -- this test fails at 1.0."""
    k = 7
    x, lab = torch.rand(k, 3, 64, 64) * 2 - 1, torch.arange(k)
    for scale, want in [(math.sqrt(k), 1.0), (1.0, 1 / math.sqrt(k))]:
        g = _net(scale, k)
        inputs = {}
        with torch.no_grad():
            D.decoder_forward(g, x, [lab] * 5, torch.randn(k, g.dim_z), record=lambda i, v: inputs.__setitem__(i, v))
        for level, v in inputs.items():
            rms = v[:, D.input_parts(g, level)["label"]].pow(2).mean().sqrt().item()
            assert rms == pytest.approx(want, rel=1e-5), (scale, level)


# --- the adv_weight switch ----------------------------------------------------------------
def _backend(**overrides):
    torch.manual_seed(0)
    cfg = Imaginator.make_config(None, 0.0625, {"batch_size": 2, **overrides})
    model = Imaginator(cfg, num_classes=3)
    model.optimizers = model.configure_optimizers()
    batch = Batch(video=torch.rand(2, 3, 32, 64, 64) * 2 - 1, label=torch.tensor([0, 2]))
    return model, batch


def test_adv_weight_zero_is_l1_regression_and_leaves_the_discriminators_alone():
    model, batch = _backend(adv_weight=0.0)
    d_before = {k: v.clone() for k, v in model.nets["D_V"].state_dict().items()}
    g_before = [p.clone() for p in model.nets["G"].parameters()]
    out = model.train_step(batch)
    assert out["loss_g"] == pytest.approx(100.0 * out["l1"], rel=1e-5) and out["loss_g_adv"] == 0.0
    assert all(torch.equal(v, model.nets["D_V"].state_dict()[k]) for k, v in d_before.items())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.nets["G"].parameters()))


def test_adv_weight_scales_the_adversarial_terms():
    model, batch = _backend(adv_weight=0.25)
    out = model.train_step(batch)
    assert out["loss_g"] == pytest.approx(0.25 * out["loss_g_adv"] + 100.0 * out["l1"], rel=1e-5)


# --- the shipped checkpoint ---------------------------------------------------------------
def _functional_forward(sd: dict, image, label, z, k: int) -> torch.Tensor:
    """G from its state dict with torch.nn.functional only, eval-mode BN, the released layer table
    (block 0: temporal k2 s1 p0, spatial k4 s1 p0; blocks 1-4: k4 s2 p1), one-hot at unit scale."""
    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                            False, 0.0, 1e-5)

    maps, x = [], image
    for i in range(4):
        x = F.leaky_relu(bn(F.conv2d(x, sd[f"G.encoder.blocks.{i}.0.weight"], sd[f"G.encoder.blocks.{i}.0.bias"], 2, 1),
                            f"G.encoder.blocks.{i}.1"), 0.2)
        maps.append(x)
    p = F.conv2d(x, sd["G.encoder.to_p.weight"], sd["G.encoder.to_p.bias"])
    y = F.one_hot(label, k).float()
    h = torch.cat([z, y, p.flatten(1)], 1)[:, :, None, None, None]
    for i in range(5):
        s, pad = (1, 0) if i == 0 else (2, 1)
        pre = f"G.blocks.{i}"
        h = F.conv_transpose3d(h, sd[pre + ".temporal.0.weight"], sd[pre + ".temporal.0.bias"], (s, 1, 1), (pad, 0, 0))
        h = F.leaky_relu(bn(h, pre + ".temporal.1"), 0.2)
        h = F.conv_transpose3d(h, sd[pre + ".spatial.0.weight"], sd[pre + ".spatial.0.bias"], (1, s, s), (0, pad, pad))
        if i == 4:
            return torch.tanh(h)
        h = F.leaky_relu(bn(h, pre + ".spatial.1"), 0.2)
        b, _, t, hh, ww = h.shape
        skip = maps[3 - i][:, :, None].expand(-1, -1, t, -1, -1)
        h = torch.cat([h, skip, y[:, :, None, None, None].expand(b, k, t, hh, ww)], 1)


@pytest.mark.skipif(not SHIPPED.exists(), reason="shipped checkpoint not in this tree")
def test_shipped_checkpoint_loads_with_its_config_and_matches_an_independent_forward():
    import json

    from safetensors.torch import load_file

    from vbench_i2v.generators.registry import load_checkpoint

    saved = json.loads((SHIPPED / "config.json").read_text())["config"]
    assert "label_scale" not in saved and "adv_weight" not in saved  # trained before the switches
    model = load_checkpoint(SHIPPED)
    assert model.config.label_scale == 1.0 and model.nets["G"].label_scale == 1.0
    sd = load_file(SHIPPED / "model.safetensors")
    k = model.num_classes
    torch.manual_seed(3)
    x, z, lab = torch.rand(k, 3, 64, 64) * 2 - 1, torch.randn(k, model.nets["G"].dim_z), torch.arange(k)
    got = model.generate(x, lab, z=z)
    with torch.no_grad():
        want = _functional_forward(sd, x, lab, z, k)
    assert (got - want).abs().max().item() < 1e-5
