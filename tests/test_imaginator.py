"""ImaGINator: published layer shapes and parameter counts, every ablation switch, loss weighting.

The checks every backend shares (pinned counts at width 1, generate, a training step per preset,
save/load, bad inputs) are in tests/test_backend_contract.py."""

from __future__ import annotations

import itertools

import pytest
import torch

from generator_fakes import one_torch_thread  # noqa: F401 - autouse fixture

from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.imaginator import Imaginator
from vbench_i2v.generators.imaginator import model as M
from vbench_i2v.generators.imaginator.train_step import wrong_labels

TINY = 1 / 16


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def hand_count_g(k: int, w: float = 1.0) -> int:
    """G's parameters from docs/models.md, "ImaGINator"'s layer table, written out by hand."""
    s = lambda c: max(1, round(c * w))  # noqa: E731
    conv = lambda cin, cout, kk: cin * cout * kk + cout  # noqa: E731 - weight + bias
    bn = lambda c: 2 * c  # noqa: E731
    enc = [s(64), s(128), s(256), s(512)]
    total = conv(3, enc[0], 16) + bn(enc[0]) + sum(conv(a, b, 16) + bn(b) for a, b in zip(enc, enc[1:]))
    total += conv(enc[3], s(100), 16)
    cin = s(512) + k + s(100)
    rows = [(2, s(4096), s(512), enc[3]), (4, s(3072), s(256), enc[2]), (4, s(1536), s(128), enc[1]),
            (4, s(768), s(64), enc[0])]
    for kt, mid, cout, skip in rows:
        total += conv(cin, mid, kt) + bn(mid) + conv(mid, cout, 16) + bn(cout)
        cin = cout + skip + k
    return total + conv(cin, s(36), 4) + bn(s(36)) + conv(s(36), 3, 16)  # rgb block: Tanh, no second BN


def test_published_parameter_counts_on_meta_device():
    # width 1.0 with 6 classes is pinned in tests/test_backend_contract.py (EXPECT)
    assert Imaginator.count_parameters(width=1.0, num_classes=7)["G"] == 75_436_291
    with torch.device("meta"):
        assert count(M.Encoder(1.0, 100)) == 3_577_764
    for k, w in [(6, 1.0), (7, 0.25), (2, 0.5), (0, 0.125)]:
        assert Imaginator.count_parameters(width=w, num_classes=k)["G"] == hand_count_g(k, w), (k, w)


def test_published_layer_shapes():
    """Decoder block outputs 2x4x4 ... 32x64x64, encoder maps 64@32 ... 512@4, D logits, at width 1."""
    with torch.device("meta"):
        nets = M.build_networks(6)
        image, label, z = torch.empty(2, 3, 64, 64), torch.zeros(2, dtype=torch.long), torch.empty(2, 512)
        maps = nets.G.encoder(image)
        assert [tuple(m.shape[1:]) for m in maps] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (100, 1, 1)]
        shapes = []
        hooks = [b.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for b in nets.G.blocks]
        video = nets.G(image, label, z)
        for h in hooks:
            h.remove()
        assert shapes == [(512, 2, 4, 4), (256, 4, 8, 8), (128, 8, 16, 16), (64, 16, 32, 32), (3, 32, 64, 64)]
        assert [b.temporal[0].out_channels for b in nets.G.blocks] == [4096, 3072, 1536, 768, 36]
        # fused inputs: previous output + encoder map + 6 label channels
        assert [b.temporal[0].in_channels for b in nets.G.blocks] == [618, 1030, 518, 262, 134]
        assert tuple(nets.D_V(video, label).shape) == (2,)
        assert nets.D_V.body[0].in_channels == 64 + 6
        assert tuple(nets.D_I(video[:, :, 0]).shape) == (2,)


def test_conv3d_ablation_matches_parameter_count():
    full = Imaginator.count_parameters(width=1.0, num_classes=6)["G"]
    conv3d = Imaginator.count_parameters(width=1.0, num_classes=6, conv="3d")["G"]
    assert abs(conv3d - full) / full < 0.01
    small = Imaginator.count_parameters(width=0.25, num_classes=7)["G"]
    small3d = Imaginator.count_parameters(width=0.25, num_classes=7, conv="3d")["G"]
    assert abs(small3d - small) / small < 0.02
    with torch.device("meta"):
        g = M.Generator(6, 1.0, conv="3d")
    assert all(isinstance(b, M.UpBlock3D) for b in g.blocks)
    assert g.blocks[1].conv.kernel_size == (4, 4, 4)


SWITCHES = list(itertools.product(["1+2d", "3d"], [True, False], [True, False], [True, False],
                                  ["projection", "aux-classifier"]))


@pytest.mark.parametrize("conv, fusion, noise, d_image, d_video", SWITCHES)
def test_output_shapes_for_every_switch(conv, fusion, noise, d_image, d_video):
    torch.manual_seed(0)
    cfg = Imaginator.make_config(width=TINY, overrides=dict(conv=conv, fusion=fusion, noise=noise,
                                                            d_image=d_image, d_video=d_video))
    model = Imaginator(cfg, num_classes=3)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    video = model.generate(x, [0, 2])
    assert video.shape == (2, 3, 32, 64, 64) and video.abs().max() <= 1
    assert (model.z_shape(2) is not None) == noise
    assert ("D_I" in model.nets) == d_image
    d_out = model.nets["D_V"](video, torch.tensor([0, 2]))
    assert d_out.shape == ((2, 4) if d_video == "aux-classifier" else (2,))
    enc_fused = model.nets["G"].blocks[1]
    first = enc_fused.temporal[0] if conv == "1+2d" else enc_fused.conv
    prev_out = (model.nets["G"].blocks[0].spatial[0] if conv == "1+2d" else model.nets["G"].blocks[0].conv).out_channels
    skip = M.scaled(512, TINY) if fusion else 0
    assert first.in_channels == prev_out + skip + 3


def test_fusion_makes_the_decoder_see_the_encoder_maps():
    """With fusion, changing the input image changes the output even if p were fixed; check via grads."""
    torch.manual_seed(0)
    g = M.Generator(2, TINY)
    image = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_()
    maps = []
    g.encoder.blocks[0].register_forward_hook(lambda m, i, o: maps.append(o))
    g(image, torch.tensor([1]), torch.randn(1, g.dim_z)).sum().backward()
    assert maps[0].shape[-1] == 32 and image.grad.abs().sum() > 0


def test_l1_weighting_follows_the_preset():
    """paper: 1e-3 x summed L1 per clip; released: 100 x mean L1 (loss_g - loss_g_adv = weighted L1)."""
    video = torch.rand(2, 3, 32, 64, 64) * 2 - 1
    for preset, factor in [("paper", 1e-3 * 3 * 32 * 64 * 64), ("released", 100.0)]:
        torch.manual_seed(0)
        model = Imaginator(Imaginator.make_config(preset, width=TINY), num_classes=3)
        model.optimizers = model.configure_optimizers()
        out = model.train_step(Batch(video, torch.tensor([0, 1])))
        assert out["loss_g"] - out["loss_g_adv"] == pytest.approx(factor * out["l1"], rel=1e-4)


def test_wrong_labels_always_differ_and_cover_the_others():
    torch.manual_seed(0)
    labels = torch.arange(5).repeat(400)
    wrong = wrong_labels(labels, 5)
    assert (wrong != labels).all() and wrong.min() >= 0 and wrong.max() <= 4
    for k in range(5):
        assert set(wrong[labels == k].tolist()) == set(range(5)) - {k}


def test_init_of_each_preset():
    """paper: every conv N(0, 0.02). released: the transposed convs keep PyTorch's default init,
    kaiming_uniform(a=sqrt(5)) = U(-b, b) with b = 1/sqrt(fan_in), fan_in = weight.size(1) * kernel
    volume for a transposed conv (std b/sqrt(3)); the encoder's convs and every BatchNorm follow
    N(0, 0.02) / N(1, 0.02) in both. Sampling tolerances: thousands of weights per tensor, so the
    std is within a few percent."""
    import math

    for preset in ("paper", "released"):
        cfg = Imaginator.make_config(preset, width=0.25)
        torch.manual_seed(0)
        g = M.build_networks(6, 0.25, transposed_init=cfg.transposed_init).G
        convt = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
        assert len(convt) >= 8
        for m in convt:
            w = m.weight.detach()
            if preset == "paper":
                assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
                assert m.bias is None or m.bias.abs().max() == 0
            else:
                bound = 1 / math.sqrt(w.shape[1] * math.prod(w.shape[2:]))
                assert w.abs().max().item() <= bound
                assert abs(w.std().item() - bound / math.sqrt(3)) < 0.1 * bound / math.sqrt(3), (w.shape, bound)
        bn = g.blocks[0].temporal[1].weight
        assert abs(bn.mean().item() - 1.0) < 0.01 and abs(bn.std().item() - 0.02) < 0.01
        enc = [m.weight for m in g.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
        assert enc and all(abs(w.std().item() - 0.02) < 0.004 for w in enc if w.numel() > 500)


def test_update_order_of_each_preset():
    """paper (Algorithm 1): D's update, then G's against the updated D. released: G's update
    against the current D first, then D's on the same (detached) fake clips. Recorded by hooks on
    D_V's forward and on the optimisers' steps."""
    from vbench_i2v.generators.base import StepState

    video = torch.rand(2, 3, 32, 64, 64) * 2 - 1
    for preset, expected in [("paper", ["D_V", "D_V", "D_V", "step D", "D_V", "step G"]),
                             ("released", ["D_V", "step G", "D_V", "D_V", "step D"])]:
        torch.manual_seed(0)
        model = Imaginator(Imaginator.make_config(preset, width=TINY), num_classes=3)
        optimizers = model.configure_optimizers()
        events = []
        model.nets["D_V"].register_forward_hook(lambda *a: events.append("D_V"))
        for name, opt in optimizers.items():
            opt.register_step_post_hook(lambda *a, name=name: events.append(f"step {name}"))
        d_before = {k: v.clone() for k, v in model.nets["D_V"].state_dict().items()}
        model.train_step(Batch(video, torch.tensor([0, 1])), StepState(model.nets, optimizers))
        # paper's D_V also sees the real clips with wrong labels (3 forwards before D's step)
        assert events == expected, (preset, events)
        assert any(not torch.equal(d_before[k], v) for k, v in model.nets["D_V"].state_dict().items())
