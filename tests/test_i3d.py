"""I3D for FVD: architecture facts, the published state-dict format, the TorchScript importer,
both routes' preprocessing, and the extractor against an independent forward written here."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors import i3d as I
from vbench_i2v.feature_extractors.i3d import (
    CONTRACTS, I3DFVDExtractor, load_any, load_published, load_styleganv_torchscript, preprocess, save_published)


def _model(seed=0, bn_eps=I.BN_EPS, unit_gamma=False):
    """Random I3D with non-trivial BN statistics and logits large enough to compare relatively."""
    torch.manual_seed(seed)
    m = I.i3d(bn_eps=bn_eps).eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5) if not unit_gamma else mod.weight.data.fill_(1.0)
            mod.bias.data.uniform_(-0.1, 0.1)
    m.logits.conv3d.weight.data.mul_(30)
    return m


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    model = _model()
    path = tmp_path_factory.mktemp("w") / "i3d_pretrained_400.pt"
    save_published(model, path)
    return model, path


@pytest.fixture(scope="module")
def clips():
    # 2 clips of 10 frames, 48 x 64 (not square: the VideoGPT route resizes the short side and crops)
    return np.random.default_rng(0).integers(0, 256, (2, 10, 48, 64, 3), dtype=np.uint8)


def test_parameter_count_and_layer_facts():
    with torch.device("meta"):
        m = I.i3d()
    assert sum(p.numel() for p in m.parameters()) == 12_697_264
    assert m.Conv3d_1a_7x7.conv3d.weight.shape == (64, 3, 7, 7, 7) and m.Conv3d_1a_7x7.stride == (2, 2, 2)
    assert m.Conv3d_1a_7x7.conv3d.bias is None and m.Conv3d_1a_7x7.bn.eps == 1e-5
    assert m.Conv3d_1a_7x7.bn.momentum == 0.001
    assert (m.MaxPool3d_2a_3x3.kernel, m.MaxPool3d_2a_3x3.stride) == ((1, 3, 3), (1, 2, 2))
    assert (m.MaxPool3d_4a_3x3.kernel, m.MaxPool3d_4a_3x3.stride) == ((3, 3, 3), (2, 2, 2))
    assert (m.MaxPool3d_5a_2x2.kernel, m.MaxPool3d_5a_2x2.stride) == ((2, 2, 2), (2, 2, 2))
    assert m.avg_pool.kernel_size == (2, 7, 7) and m.avg_pool.stride == (1, 1, 1) and m.avg_pool.padding == 0
    assert m.logits.bn is None and not m.logits.relu and m.logits.conv3d.weight.shape == (400, 1024, 1, 1, 1)
    assert m.Mixed_5c.b1b.conv3d.weight.shape == (384, 192, 3, 3, 3)


@pytest.mark.parametrize("size,k,s,want", [(224, 7, 2, (2, 3)), (112, 3, 2, (0, 1)), (10, 7, 2, (2, 3)),
                                           (9, 7, 2, (3, 3)), (5, 3, 2, (1, 1)), (56, 3, 1, (1, 1)),
                                           (2, 2, 2, (0, 0)), (3, 2, 2, (0, 1))])
def test_same_padding_matches_tensorflow_formula(size, k, s, want):
    out = math.ceil(size / s)  # TF: out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0)
    total = max((out - 1) * s + k - size, 0)
    assert I.same_padding(size, k, s) == (total // 2, total - total // 2) == want


def test_saved_format_is_the_published_one(published):
    _, path = published
    sd = torch.load(path, weights_only=True)
    assert len(sd) == 287
    assert not any(k.endswith("num_batches_tracked") or k.startswith("module.") for k in sd)
    for k in ("Conv3d_1a_7x7.conv3d.weight", "Conv3d_1a_7x7.bn.weight", "Conv3d_1a_7x7.bn.bias",
              "Conv3d_1a_7x7.bn.running_mean", "Conv3d_1a_7x7.bn.running_var", "Mixed_3b.b1a.conv3d.weight",
              "Mixed_5b.b2b.bn.running_var", "logits.conv3d.weight", "logits.conv3d.bias"):
        assert k in sd
    assert "Conv3d_1a_7x7.conv3d.bias" not in sd


# --- an independent forward written from the published description -------------------------------

def _ref_unit(x, sd, name, k, s=(1, 1, 1), bn=True, relu=True, eps=1e-5):
    # TF SAME from the documented formula, then conv, explicit BN, ReLU
    pads = []
    for size, kk, ss in zip(x.shape[2:], k, s):
        total = max((math.ceil(size / ss) - 1) * ss + kk - size, 0)
        pads.append((total // 2, total - total // 2))
    x = F.pad(x, (*pads[2], *pads[1], *pads[0]))
    y = F.conv3d(x, sd[f"{name}.conv3d.weight"], sd.get(f"{name}.conv3d.bias"), s)
    if bn:
        shp = (1, -1, 1, 1, 1)
        y = (y - sd[f"{name}.bn.running_mean"].view(shp)) / torch.sqrt(sd[f"{name}.bn.running_var"].view(shp) + eps)
        y = y * sd[f"{name}.bn.weight"].view(shp) + sd[f"{name}.bn.bias"].view(shp)
    return y.clamp(min=0) if relu else y


def _ref_pool(x, k, s):
    pads = []
    for size, kk, ss in zip(x.shape[2:], k, s):
        total = max((math.ceil(size / ss) - 1) * ss + kk - size, 0)
        pads.append((total // 2, total - total // 2))
    x = F.pad(x, (*pads[2], *pads[1], *pads[0]), value=float("-inf"))  # TF pads max-pool with -inf
    return F.max_pool3d(x, k, s)


def _ref_mixed(x, sd, n):
    u = lambda src, b, k=(1, 1, 1): _ref_unit(src, sd, f"{n}.{b}", k)  # noqa: E731
    return torch.cat([u(x, "b0"), u(u(x, "b1a"), "b1b", (3, 3, 3)), u(u(x, "b2a"), "b2b", (3, 3, 3)),
                      u(_ref_pool(x, (3, 3, 3), (1, 1, 1)), "b3b")], 1)


def reference_features(sd, x):
    x = _ref_unit(x, sd, "Conv3d_1a_7x7", (7, 7, 7), (2, 2, 2))
    x = _ref_pool(x, (1, 3, 3), (1, 2, 2))
    x = _ref_unit(x, sd, "Conv3d_2b_1x1", (1, 1, 1))
    x = _ref_unit(x, sd, "Conv3d_2c_3x3", (3, 3, 3))
    x = _ref_pool(x, (1, 3, 3), (1, 2, 2))
    for n in ("Mixed_3b", "Mixed_3c"):
        x = _ref_mixed(x, sd, n)
    x = _ref_pool(x, (3, 3, 3), (2, 2, 2))
    for n in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
        x = _ref_mixed(x, sd, n)
    x = _ref_pool(x, (2, 2, 2), (2, 2, 2))
    for n in ("Mixed_5b", "Mixed_5c"):
        x = _ref_mixed(x, sd, n)
    x = F.avg_pool3d(x, (2, 7, 7), 1)
    x = F.conv3d(x, sd["logits.conv3d.weight"], sd["logits.conv3d.bias"])
    return x.mean(dim=(2, 3, 4))  # 1x1 spatially at 224: mean over time


def videogpt_preprocess(video_uint8):
    """VideoGPT's recipe for one T x H x W x 3 clip, step by step: /255, short side -> 224
    (bilinear), centre crop, -0.5, then x2 to [-1, 1]."""
    v = torch.from_numpy(video_uint8).permute(0, 3, 1, 2).float() / 255.0
    t, c, h, w = v.shape
    scale = 224 / min(h, w)
    size = (224, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), 224)
    v = torch.stack([F.interpolate(f[None], size=size, mode="bilinear", align_corners=False)[0] for f in v])
    hs, ws = (v.shape[2] - 224) // 2, (v.shape[3] - 224) // 2
    v = v[:, :, hs : hs + 224, ws : ws + 224].permute(1, 0, 2, 3)
    return (v - 0.5) * 2


def test_published_file_loads_and_extractor_matches_independent_forward(published, clips):
    model, path = published
    loaded = load_published(path)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items()
               if not k.endswith("num_batches_tracked"))
    ex = I3DFVDExtractor(path, batch_size=2)  # defaults: route fvd, folded plan, channels_last
    feats = ex.features(clips)
    assert feats.shape == (2, 400) and feats.dtype == np.float64
    sd = torch.load(path, weights_only=True)
    x = torch.stack([videogpt_preprocess(c) for c in clips])
    np.testing.assert_allclose(ex.preprocess(clips).numpy(), x.numpy(), atol=1e-5)
    with torch.no_grad():
        ref = reference_features(sd, x).numpy()
    assert np.abs(feats - ref).max() <= 1e-4 * np.abs(ref).max(), np.abs(feats - ref).max() / np.abs(ref).max()
    eager = I3DFVDExtractor.from_model(loaded, fast=False, batch_size=1).features(clips[:1])
    assert np.abs(eager - ref[:1]).max() <= 1e-4 * np.abs(ref).max()


def test_module_prefix_is_stripped_and_bad_keys_name_the_file(published, tmp_path):
    model, path = published
    sd = torch.load(path, weights_only=True)
    prefixed = tmp_path / "prefixed.pt"
    torch.save({f"module.{k}": v for k, v in sd.items()}, prefixed)
    assert torch.equal(load_published(prefixed).Mixed_4d.b2b.bn.running_var, model.Mixed_4d.b2b.bn.running_var)

    missing = tmp_path / "missing.pt"
    torch.save({k: v for k, v in sd.items() if k != "Mixed_4c.b1b.bn.running_mean"}, missing)
    with pytest.raises(WeightsError, match=r"missing\.pt.*missing 1 key.*Mixed_4c\.b1b\.bn\.running_mean"):
        load_published(missing)

    extra = tmp_path / "extra.pt"
    torch.save({**sd, "fc.weight": torch.zeros(3)}, extra)
    with pytest.raises(WeightsError, match=r"extra\.pt.*unexpected 1 .*fc\.weight"):
        load_published(extra)

    shape = tmp_path / "shape.pt"
    torch.save({**sd, "Mixed_3b.b0.conv3d.weight": torch.zeros(64, 192, 3, 1, 1)}, shape)
    with pytest.raises(WeightsError, match="Mixed_3b.b0.conv3d.weight"):
        load_published(shape)

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="junk.pt"):
        load_any(junk)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_torchscript_with_our_names_imports_identically(published, tmp_path):
    model, path = published
    ts_path = tmp_path / "i3d_torchscript.pt"
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.zeros(1, 3, 9, 224, 224), check_trace=False)
    traced.save(str(ts_path))
    assert I.is_torchscript(ts_path) and not I.is_torchscript(path)
    imported = load_any(ts_path)
    assert imported.bn_eps_source == "file" and imported.bn_eps == pytest.approx(1e-5)
    ours = model.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in imported.state_dict().items() if not k.endswith("num_batches_tracked"))
    x = torch.randn(1, 3, 9, 224, 224)
    with torch.no_grad():
        assert torch.equal(imported(x), model(x))


class _TFNamed(torch.nn.Module):
    """Same tensors under TF-hub-like names, without BN scales (the tf.hub graph has none)."""

    def __init__(self, sd):
        super().__init__()
        for k, v in sd.items():
            if k.endswith("bn.weight") or k.endswith("num_batches_tracked"):
                continue
            leaf = {"conv3d.weight": "conv_3d_w", "conv3d.bias": "conv_3d_b", "bn.bias": "batch_norm_beta",
                    "bn.running_mean": "batch_norm_moving_mean", "bn.running_var": "batch_norm_moving_variance"}
            unit, tail = next((k[: -len(t) - 1], leaf[t]) for t in leaf if k.endswith(t))
            self.register_buffer("RGB_inception_i3d_" + unit.replace(".", "_") + "_" + tail, v.clone())

    def forward(self, x):
        return x


def test_torchscript_with_foreign_names_maps_by_role_and_shape(tmp_path):
    source = _model(3, bn_eps=1e-3, unit_gamma=True)
    ts_path = tmp_path / "tfnamed.pt"
    torch.jit.script(_TFNamed(source.state_dict())).save(str(ts_path))
    imported = load_styleganv_torchscript(ts_path)
    assert imported.bn_eps_source == "assumed" and imported.bn_eps == 1e-3
    ours = source.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in imported.state_dict().items() if not k.endswith("num_batches_tracked"))
    x = torch.randn(1, 3, 9, 224, 224)
    with torch.no_grad():
        assert torch.equal(imported(x), source(x))

    class Swapped(_TFNamed):  # a file whose order does not fit must be refused, not mis-mapped
        def __init__(self, sd):
            torch.nn.Module.__init__(self)
            items = list(_TFNamed(sd).named_buffers())
            items[1], items[2] = items[2], items[1]
            for k, v in items:
                self.register_buffer(k, v)

    bad = tmp_path / "swapped.pt"
    torch.jit.script(Swapped(source.state_dict())).save(str(bad))
    with pytest.raises(WeightsError, match="swapped.pt"):
        load_styleganv_torchscript(bad)


def test_styleganv_route_preprocessing(clips):
    long = np.random.default_rng(1).integers(0, 256, (1, 20, 40, 56, 3), dtype=np.uint8)
    x = preprocess(long, CONTRACTS["fvd-styleganv"])
    assert x.shape == (1, 3, 16, 224, 224)
    # x/255*2-1 then a plain 224x224 bilinear stretch of each of the first 16 frames
    f = torch.from_numpy(long[0, 15]).permute(2, 0, 1).float()[None] / 255 * 2 - 1
    ref = F.interpolate(f, size=(224, 224), mode="bilinear", align_corners=False)[0]
    assert torch.allclose(x[0, :, 15], ref, atol=1e-6)
    assert x.min() >= -1 - 1e-6 and x.max() <= 1 + 1e-6


def test_too_few_frames_is_refused(published):
    model, _ = published
    ex = I3DFVDExtractor.from_model(model)
    with pytest.raises(InputError, match="at least 9 frames.*got 8"):
        ex.features(np.zeros((1, 8, 32, 32, 3), np.uint8))
    sg = I3DFVDExtractor.from_model(model, route="fvd-styleganv")
    with pytest.raises(InputError, match="16 consecutive frames.*got 15"):
        sg.features(np.zeros((1, 15, 32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="unknown I3D route"):
        I3DFVDExtractor.from_model(model, route="nope")
