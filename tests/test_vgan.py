"""VGAN: published layer shapes and hand-counted parameters, the mask and its composition, both
modes, loss weighting.

The checks every backend shares (pinned counts at width 1, generate, a training step and save/load
in both modes, bad inputs, the shared training loop) are in tests/test_backend_contract.py."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from generator_fakes import one_torch_thread  # noqa: F401 - autouse fixture
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.vgan import Vgan
from vbench_i2v.generators.vgan import model as M

TINY = 1 / 16
MODES = ["i2v", "unconditional"]


def tiny(mode="i2v", num_classes=3, **overrides) -> Vgan:
    torch.manual_seed(0)
    return Vgan(Vgan.make_config(width=TINY, overrides={"mode": mode, **overrides}), num_classes)


def images(b=2, seed=0):
    return torch.rand(b, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- layer shapes and parameter counts -----------------------------------------------------
def hand_count(k: int, w: float, conditional: bool = True, dz: int = 100, dc: int = 100) -> dict[str, int]:
    """Parameters from docs/models.md, "Baselines"'s layer list, written out by hand (Torch7 layers: with biases)."""
    s = lambda c: max(1, round(c * w))  # noqa: E731
    conv = lambda cin, cout, kk: cin * cout * kk + cout  # noqa: E731
    e, f, b, d = ([s(c) for c in (64, 128, 256, 512)], [s(c) for c in (512, 256, 128, 64)],
                  [s(c) for c in (512, 256, 128, 64)], [s(c) for c in (64, 128, 256, 512)])
    enc = conv(3, e[0], 16) + conv(e[0], e[1], 16) + conv(e[1], e[2], 16) + conv(e[2], e[3], 16) \
        + conv(e[3], dc, 16) + 2 * sum(e)
    code = dz + (dc + k if conditional else 0)
    fg = conv(code, f[0], 2 * 4 * 4) + conv(f[0], f[1], 64) + conv(f[1], f[2], 64) + conv(f[2], f[3], 64) \
        + 2 * sum(f) + conv(f[3], 3, 64) + conv(f[3], 1, 64)  # RGB and mask heads
    bg = conv(code, b[0], 16) + conv(b[0], b[1], 16) + conv(b[1], b[2], 16) + conv(b[2], b[3], 16) \
        + 2 * sum(b) + conv(b[3], 3, 16)
    fused = k if conditional else 0
    disc = conv(3, d[0], 64) + conv(d[0] + fused, d[1], 64) + conv(d[1], d[2], 64) + conv(d[2], d[3], 64) \
        + 2 * (d[1] + d[2] + d[3]) + conv(d[3], 1, 2 * 4 * 4)
    return {"G": (enc if conditional else 0) + fg + bg, "D": disc}


def test_parameter_counts_pinned_and_hand_counted():
    assert Vgan.Config().width == 0.25
    assert Vgan.count_parameters(num_classes=7) == {"G": 2_516_699, "D": 710_321}
    # width 1.0 is pinned in tests/test_backend_contract.py (EXPECT)
    for k, w, mode in [(7, 0.25, "i2v"), (7, 1.0, "i2v"), (6, 0.5, "unconditional"), (0, 0.125, "i2v")]:
        got = Vgan.count_parameters(width=w, num_classes=k, mode=mode)
        assert got == hand_count(k, w, conditional=mode == "i2v"), (k, w, mode)


def test_generators_list_prints_the_counts():
    from vbench_i2v.cli.train import generators_group

    result = CliRunner().invoke(generators_group, ["list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("vgan"))
    assert "G 2,516,699" in row and "D 11,098,817" in row


def test_published_layer_shapes():
    """Foreground 512@2x4x4 ... 64@16x32x32 + heads at 32x64x64; background 512@4x4 ... 3@64x64."""
    with torch.device("meta"):
        nets = M.build_networks(6)
        g = nets["G"]
        image, z, label = torch.empty(2, 3, 64, 64), torch.empty(2, 100), torch.zeros(2, dtype=torch.long)
        fg_shapes, bg_shapes = [], []
        for seq, out in ((g.foreground, fg_shapes), (g.background[0], bg_shapes)):
            for layer in seq:
                if isinstance(layer, (torch.nn.ConvTranspose3d, torch.nn.ConvTranspose2d)):
                    layer.register_forward_hook(lambda m, i, o, out=out: out.append(tuple(o.shape[1:])))
        fg, mask, bg = g.streams(image, label, z)
        assert fg_shapes == [(512, 2, 4, 4), (256, 4, 8, 8), (128, 8, 16, 16), (64, 16, 32, 32)]
        assert bg_shapes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32)]
        assert tuple(fg.shape) == (2, 3, 32, 64, 64) and tuple(mask.shape) == (2, 1, 32, 64, 64)
        assert tuple(bg.shape) == (2, 3, 64, 64)
        assert g.foreground[0].in_channels == 100 + 100 + 6  # encoded frame, noise, label
        assert tuple(nets["D"](g(image, label, z), label).shape) == (2,)
        assert nets["D"].body[0].in_channels == 64 + 6  # label fused after the first layer
        assert M.build_networks(6, conditional=False)["D"].body[0].in_channels == 64


# --- mask and composition --------------------------------------------------------------------
def test_composition_identity_on_plain_tensors():
    fg, bg = torch.rand(2, 3, 4, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.equal(M.compose(fg, torch.ones(2, 1, 4, 8, 8), bg), fg)
    assert torch.equal(M.compose(fg, torch.zeros(2, 1, 4, 8, 8), bg), bg[:, :, None].expand_as(fg))
    half = M.compose(fg, torch.full((2, 1, 4, 8, 8), 0.5), bg)
    assert torch.allclose(half, (fg + bg[:, :, None]) / 2)


@pytest.mark.parametrize("mode", MODES)
def test_mask_in_unit_range_and_generator_composes_its_streams(mode):
    model = tiny(mode)
    g = model.nets["G"].eval()
    z = model.sample_z(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fg, mask, bg = g.streams(images(), torch.tensor([0, 1]), z)
        assert mask.min() >= 0 and mask.max() <= 1 and mask.std() > 0
        assert torch.allclose(g(images(), torch.tensor([0, 1]), z), mask * fg + (1 - mask) * bg[:, :, None])
        assert torch.equal(g(images(), torch.tensor([0, 1]), z, with_mask=True)[1], mask)  # what training penalises
        # Saturate the mask head: mask 1 -> the clip is the foreground; mask 0 -> the static background.
        g.to_mask.bias.fill_(100.0)
        assert torch.allclose(g(images(), torch.tensor([0, 1]), z), fg, atol=1e-6)
        g.to_mask.bias.fill_(-100.0)
        video = g(images(), torch.tensor([0, 1]), z)
        assert torch.allclose(video, bg[:, :, None].expand_as(video), atol=1e-6)
        assert torch.equal(video[:, :, 0], video[:, :, 31])  # background is one static image


def test_code_holds_image_noise_and_label_in_i2v_and_only_noise_unconditionally():
    g = tiny("i2v").nets["G"].eval()
    z = torch.randn(2, 100)
    code = g.code(images(), torch.tensor([2, 0]), z)
    assert code.shape == (2, 203) and torch.equal(code[:, 100:200], z) and torch.equal(code[:, 200:], torch.eye(3)[[2, 0]])
    assert not torch.allclose(code[:, :100], g.code(images(seed=1), torch.tensor([2, 0]), z)[:, :100])
    g = tiny("unconditional").nets["G"].eval()
    assert torch.equal(g.code(images(), torch.tensor([2, 0]), z), z)


# --- generation, training, save/load -------------------------------------------------------
def test_unconditional_mode_ignores_images_and_labels():
    model = tiny("unconditional")
    z = model.sample_z(2, torch.Generator().manual_seed(0))
    assert torch.equal(model.generate(images(seed=0), [0, 1], z=z), model.generate(images(seed=5), [2, 2], z=z))


def test_generator_loss_terms_follow_the_weights():
    """loss_g = adv + 0.1 mask mean + first-frame L1 + clip L1, each weighted as the preset says."""
    video = torch.rand(2, 3, 32, 64, 64) * 2 - 1
    for preset, clip_f, frame_f in [("paper", 1e-3 * 3 * 32 * 64 * 64, 1e-3 * 3 * 64 * 64), ("released", 100.0, 100.0)]:
        torch.manual_seed(0)
        model = Vgan(Vgan.make_config(preset, width=TINY), num_classes=3)
        model.optimizers = model.configure_optimizers()
        out = model.train_step(Batch(video, torch.tensor([0, 1])))
        expected = out["loss_g_adv"] + 0.1 * out["mask_mean"] + clip_f * out["l1"] + frame_f * out["l1_first_frame"]
        assert out["loss_g"] == pytest.approx(expected, rel=1e-4)
    model = tiny("unconditional")
    model.optimizers = model.configure_optimizers()
    out = model.train_step(Batch(video, torch.tensor([0, 1])))
    assert out["loss_g"] == pytest.approx(out["loss_g_adv"] + 0.1 * out["mask_mean"], rel=1e-5)


def test_init_is_dcgan():
    torch.manual_seed(0)
    g = M.build_networks(7, 0.25)["G"]
    w, bn = g.foreground[3].weight, g.foreground[1].weight
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    assert abs(bn.mean().item() - 1.0) < 0.01 and g.foreground[3].bias.abs().max() == 0


def test_bad_config_and_noise_are_clear_errors():
    with pytest.raises(InputError, match="mode must be one of i2v, unconditional"):
        Vgan(Vgan.make_config(width=TINY, overrides={"mode": "future"}), 3)
    with pytest.raises(InputError, match="dim_z must be >= 1"):
        Vgan(Vgan.make_config(width=TINY, overrides={"dim_z": 0}), 3)
    model = tiny()
    with pytest.raises(InputError, match=r"z must have shape \(2, 100\)"):
        model.generate(images(), [0, 1], z=torch.zeros(2, 50))
