"""MoCoGAN: published layer shapes and hand-counted parameters, the content/motion split of the
per-frame codes, both modes, loss weighting.

The checks every backend shares (pinned counts at width 1, generate, a training step and save/load
in both modes, bad inputs, the shared training loop) are in tests/test_backend_contract.py."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from generator_fakes import one_torch_thread  # noqa: F401 - autouse fixture
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.mocogan import Mocogan
from vbench_i2v.generators.mocogan import model as M

TINY = 1 / 16
MODES = ["i2v", "unconditional"]


def tiny(mode="i2v", num_classes=3, **overrides) -> Mocogan:
    torch.manual_seed(0)
    return Mocogan(Mocogan.make_config(width=TINY, overrides={"mode": mode, **overrides}), num_classes)


def images(b=2, seed=0):
    return torch.rand(b, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- layer shapes and parameter counts -----------------------------------------------------
def hand_count(k: int, w: float, conditional: bool = True, dc: int = 50, dm: int = 10) -> dict[str, int]:
    """Parameters from docs/models.md, "Baselines"'s layer list, written out by hand (no biases anywhere)."""
    s = lambda c: max(1, round(c * w))  # noqa: E731
    e, g, a, v = [s(c) for c in (64, 128, 256, 512)], [s(c) for c in (512, 256, 128, 64)], \
        [s(c) for c in (64, 128, 256)], [s(c) for c in (64, 128, 256, 512)]
    enc = 16 * (3 * e[0] + e[0] * e[1] + e[1] * e[2] + e[2] * e[3] + e[3] * dc) + 2 * sum(e)
    gru = 3 * (dm * dm + dm * dm + dm + dm)  # W_ih, W_hh, b_ih, b_hh for the r, z, n gates
    latent = dc + k + dm
    image_g = 16 * (latent * g[0] + g[0] * g[1] + g[1] * g[2] + g[2] * g[3] + g[3] * 3) + 2 * sum(g)
    d_i = 16 * (3 * a[0] + a[0] * a[1] + a[1] * a[2] + a[2] * 1) + 2 * (a[1] + a[2])
    d_v = 64 * (3 * v[0] + v[0] * v[1] + v[1] * v[2] + v[2] * v[3] + v[3] * (1 + k)) + 2 * (v[1] + v[2] + v[3])
    return {"G": (enc if conditional else 0) + gru + image_g, "D_I": d_i, "D_V": d_v}


def test_parameter_counts_pinned_and_hand_counted():
    default = Mocogan.count_parameters(num_classes=7)  # the CPU default width, as `generators list` shows
    assert Mocogan.Config().width == 0.25
    assert default == {"G": 586_836, "D_I": 42_944, "D_V": 757_184}
    # width 1.0 is pinned in tests/test_backend_contract.py (EXPECT)
    for k, w, mode in [(7, 0.25, "i2v"), (7, 1.0, "i2v"), (6, 0.5, "unconditional"), (0, 0.125, "i2v")]:
        got = Mocogan.count_parameters(width=w, num_classes=k, mode=mode)
        assert got == hand_count(k, w, conditional=mode == "i2v"), (k, w, mode)


def test_generators_list_prints_the_counts():
    from vbench_i2v.cli.train import generators_group

    result = CliRunner().invoke(generators_group, ["list"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("mocogan"))
    assert "G 586,836" in row and "D_V 11,286,272" in row


def test_published_layer_shapes():
    """DCGAN frames 512@4 ... 3@64, patch D_I 4x4 map, D_V (1 + K) logits over T - 15 positions."""
    with torch.device("meta"):
        nets = M.build_networks(6)
        g = nets["G"]
        image, z = torch.empty(2, 3, 64, 64), torch.empty(2, g.noise_size)
        label = torch.zeros(2, dtype=torch.long)
        shapes = []
        for layer in g.image_generator.net:
            if isinstance(layer, torch.nn.ConvTranspose2d):
                layer.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
        video = g(image, label, z)
        assert shapes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
        assert g.image_generator.net[0].in_channels == 50 + 6 + 10
        assert tuple(video.shape) == (2, 3, 32, 64, 64)
        assert tuple(g.encoder(image).shape) == (2, 50)
        assert tuple(nets["D_I"](video[:, :, 0]).shape) == (2, 4, 4)
        logits, classes = nets["D_V"](video)
        assert tuple(logits.shape) == (2, 17) and tuple(classes.shape) == (2, 6)
        assert tuple(nets["D_V"](video[:, :, :16])[0].shape) == (2, 1)  # published 16-frame clips: one logit


# --- codes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_motion_codes_differ_per_frame_and_content_does_not(mode):
    model = tiny(mode)
    g = model.nets["G"].eval()
    z = model.sample_z(2, torch.Generator().manual_seed(1))
    codes = g.codes(images(), torch.tensor([0, 2]), z)  # B x T x (50 + K + 10)
    assert tuple(codes.shape) == (2, 32, 50 + 3 + 10)
    static, motion = codes[:, :, :53], codes[:, :, 53:]
    assert torch.equal(static, static[:, :1].expand_as(static))  # content and category fixed over the clip
    assert torch.equal(static[:, 0, 50:], torch.eye(3)[[0, 2]])  # category = the label one-hot
    diffs = (motion[:, 1:] - motion[:, :-1]).abs().amax(dim=2)
    assert (diffs > 1e-4).all()  # every frame has its own motion code
    assert not torch.allclose(motion[0], motion[1])  # and clips differ


def test_motion_gru_matches_torch_gru():
    """The GRUCell loop equals nn.GRU run over the per-frame noise from the noise initial state."""
    torch.manual_seed(0)
    motion = M.MotionGRU(10)
    gru = torch.nn.GRU(10, 10, batch_first=True)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(gru, f"{name}_l0").data.copy_(getattr(motion.cell, name))
    noise = torch.randn(3, 33, 10)
    expected, _ = gru(noise[:, 1:], noise[:, 0][None])
    assert torch.allclose(motion(noise), expected, atol=1e-6)


def test_content_comes_from_the_image_in_i2v_and_from_noise_unconditionally():
    z = torch.randn(2, tiny("i2v").nets["G"].noise_size)
    g = tiny("i2v").nets["G"].eval()
    a, b = g.codes(images(seed=0), None, z), g.codes(images(seed=1), None, z)
    assert not torch.allclose(a[:, :, :50], b[:, :, :50]) and torch.equal(a[:, :, 50:], b[:, :, 50:])
    model = tiny("unconditional")
    g = model.nets["G"].eval()
    z = model.sample_z(2, torch.Generator().manual_seed(0))
    assert model.z_shape(2) == (2, 50 + 33 * 10)
    assert torch.equal(g.codes(images(seed=0), None, z), g.codes(images(seed=1), None, z))  # images ignored
    assert torch.equal(g.codes(None, None, z)[:, 0, :50], z[:, :50])


# --- generation, training, save/load -------------------------------------------------------
def test_optimiser_settings():
    """Adam with the released code's weight decay on G and lr 2e-4 on D (the step itself: contract test)."""
    model = tiny()
    model.optimizers = model.configure_optimizers()
    assert model.optimizers["G"].defaults["weight_decay"] == 1e-5 and model.optimizers["D"].defaults["lr"] == 2e-4


def test_l1_weighting_follows_the_preset():
    video = torch.rand(2, 3, 32, 64, 64) * 2 - 1
    for preset, factor in [("paper", 1e-3 * 3 * 32 * 64 * 64), ("released", 100.0)]:
        torch.manual_seed(0)
        model = Mocogan(Mocogan.make_config(preset, width=TINY), num_classes=3)
        model.optimizers = model.configure_optimizers()
        out = model.train_step(Batch(video, torch.tensor([0, 1])))
        weighted = out["loss_g"] - out["loss_g_adv"] - out["loss_cls_fake"]
        assert weighted == pytest.approx(factor * out["l1"], rel=1e-4)


def test_unlabelled_model_has_no_category():
    model = tiny("i2v", num_classes=0)
    model.optimizers = model.configure_optimizers()
    losses = model.train_step(Batch(torch.rand(2, 3, 32, 64, 64) * 2 - 1, None))
    assert losses["loss_cls_real"] == 0 and losses["loss_cls_fake"] == 0
    assert model.generate(images(), None).shape == (2, 3, 32, 64, 64)


def test_bad_config_and_noise_are_clear_errors():
    with pytest.raises(InputError, match="mode must be one of i2v, unconditional"):
        Mocogan(Mocogan.make_config(width=TINY, overrides={"mode": "video"}), 3)
    with pytest.raises(InputError, match="dim_motion must be >= 1"):
        Mocogan(Mocogan.make_config(width=TINY, overrides={"dim_motion": 0}), 3)
    model = tiny()
    with pytest.raises(InputError, match=r"z must have shape \(2, 330\)"):
        model.generate(images(), [0, 1], z=torch.zeros(2, 380))
