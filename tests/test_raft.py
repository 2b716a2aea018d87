"""RAFT-things (dynamic-degree's optical flow): published size and key format, the strict loader, and
the flow against an independent float64 forward written here from the published description
(functional code on the state dict; the correlation by brute force from pooled features)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors import raft as R

# ------------------------------------------------------------------ published layout, by hand

# (name, c_out, c_in, kh, kw) of every conv, from the paper's Fig./appendix and the published file.
def _encoder_convs(prefix, out):
    convs = [(f"{prefix}.conv1", 64, 3, 7, 7)]
    c = 64
    for k, width in ((1, 64), (2, 96), (3, 128)):
        for blk in (0, 1):
            p = f"{prefix}.layer{k}.{blk}"
            convs += [(f"{p}.conv1", width, c if blk == 0 else width, 3, 3), (f"{p}.conv2", width, width, 3, 3)]
            if blk == 0 and k > 1:
                convs.append((f"{p}.downsample.0", width, c, 1, 1))
        c = width
    return convs + [(f"{prefix}.conv2", out, 128, 1, 1)]


UPDATE_CONVS = [
    ("update_block.encoder.convc1", 256, 324, 1, 1), ("update_block.encoder.convc2", 192, 256, 3, 3),
    ("update_block.encoder.convf1", 128, 2, 7, 7), ("update_block.encoder.convf2", 64, 128, 3, 3),
    ("update_block.encoder.conv", 126, 256, 3, 3),
    *[(f"update_block.gru.conv{g}{s}", 128, 384, *k) for s, k in (("1", (1, 5)), ("2", (5, 1))) for g in "zrq"],
    ("update_block.flow_head.conv1", 256, 128, 3, 3), ("update_block.flow_head.conv2", 2, 256, 3, 3),
    ("update_block.mask.0", 256, 128, 3, 3), ("update_block.mask.2", 576, 256, 1, 1),
]
CONVS = _encoder_convs("fnet", 256) + _encoder_convs("cnet", 256) + UPDATE_CONVS
# cnet's batch norms (name, channels): stem, two per block, the shortcut's (stored twice)
CNET_BN = [("cnet.norm1", 64)] + [
    (f"cnet.layer{k}.{blk}.{n}", w) for k, w in ((1, 64), (2, 96), (3, 128)) for blk in (0, 1)
    for n in (("norm1", "norm2") + (("norm3", "downsample.1") if blk == 0 and k > 1 else ()))]


def test_published_layout_and_size():
    with torch.device("meta"):
        m = R.RAFT()
    sd = m.state_dict()
    want = {}
    for name, co, ci, kh, kw in CONVS:
        want[f"{name}.weight"], want[f"{name}.bias"] = (co, ci, kh, kw), (co,)
    for name, c in CNET_BN:
        for t in ("weight", "bias", "running_mean", "running_var"):
            want[f"{name}.{t}"] = (c,)
        want[f"{name}.num_batches_tracked"] = ()
    assert {k: tuple(v.shape) for k, v in sd.items()} == want
    # parameters: convs + BN affine, the shortcut norm counted once (it is one module)
    hand = sum(co * ci * kh * kw + co for _, co, ci, kh, kw in CONVS) + sum(
        2 * c for n, c in CNET_BN if not n.endswith("downsample.1"))
    assert R.num_parameters(m) == hand == 5_257_536  # "5.3M parameters" (RAFT paper, Sec. 4)
    assert R.CORR_CHANNELS == 4 * 81 and R.ITERS == 20 and R.MIN_SIDE == 57


def test_catalog_entry():
    from vbench_i2v import weights as W
    from vbench_i2v.catalog import EXTRACTORS, RAFT_THINGS

    s = W.spec("raft-things")
    assert s.file_name == "raft-things.pth" and s.loader.endswith("raft:load_published")
    assert s.sha256 and len(s.sha256) == 64 and "models.zip" in s.source_page and not s.urls
    assert RAFT_THINGS.weights is s and RAFT_THINGS.family == "flow" and "raft-things" not in EXTRACTORS
    c = RAFT_THINGS.contract
    assert c.size is None and c.value_range == (-1.0, 1.0) and "fps/8" in c.note


# ------------------------------------------------------------------ random published-format network

def _randomised(seed=0):
    """Full-size RAFT with random weights (He-scaled convs: activations stay O(1), and in 3 iterations
    matches move up to ~8 cells, so fractional, border and outside lookups all occur) and non-trivial
    BN statistics and affines."""
    g = torch.Generator().manual_seed(seed)
    m = R.RAFT().eval()
    with torch.no_grad():
        for name, p in m.state_dict().items():
            if name.endswith("num_batches_tracked"):
                p.fill_(7)
            elif name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:  # BN scale
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / p[0].numel()))
    return m


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    m = _randomised()
    path = tmp_path_factory.mktemp("raft") / "raft-things.pth"
    R.save_published(m, path)
    return path, {k: v.double() for k, v in m.state_dict().items()}


# ------------------------------------------------------------------ the independent reference (float64)

EPS = 1e-5  # InstanceNorm2d / BatchNorm2d eps


def _conv(x, sd, name, stride=1):
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd[f"{name}.bias"], stride=stride, padding=(w.shape[2] // 2, w.shape[3] // 2))


def _instance_norm(x, sd, name):
    mu = x.mean((2, 3), keepdim=True)
    var = ((x - mu) ** 2).mean((2, 3), keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS)


def _batch_norm(x, sd, name):
    v = lambda t: sd[f"{name}.{t}"].view(1, -1, 1, 1)  # noqa: E731
    return (x - v("running_mean")) / torch.sqrt(v("running_var") + EPS) * v("weight") + v("bias")


def ref_encoder(x, sd, prefix, norm):
    relu = torch.relu
    x = relu(norm(_conv(x, sd, f"{prefix}.conv1", 2), sd, f"{prefix}.norm1"))
    for k, stride in ((1, 1), (2, 2), (3, 2)):
        for blk in (0, 1):
            p, s = f"{prefix}.layer{k}.{blk}", (stride if blk == 0 else 1)
            y = relu(norm(_conv(x, sd, f"{p}.conv1", s), sd, f"{p}.norm1"))
            y = relu(norm(_conv(y, sd, f"{p}.conv2"), sd, f"{p}.norm2"))
            if s != 1:
                x = norm(_conv(x, sd, f"{p}.downsample.0", s), sd, f"{p}.downsample.1")
            x = relu(x + y)
    return _conv(x, sd, f"{prefix}.conv2")


def ref_pooled(f):
    """f, then f averaged over 2x2 blocks (odd last row/column dropped), three times."""
    out = [f]
    for _ in range(3):
        b, c, h, w = out[-1].shape
        out.append(out[-1][..., :2 * (h // 2), :2 * (w // 2)].reshape(b, c, h // 2, 2, w // 2, 2).mean((3, 5)))
    return out


def ref_lookup(f1, f2_levels, coords, transposed=True):
    """Brute force: correlation of f1(p) with the pooled f2 (pooling commutes with the dot product),
    read bilinearly at the 4 integer neighbours of each window point, zero outside the map; window
    index i moves x (``transposed``: the published order). A level one cell wide/high reads 0."""
    b, c, h, w = f1.shape
    r = torch.arange(-4, 5, dtype=coords.dtype)
    feats = []
    for lvl, f2 in enumerate(f2_levels):
        hl, wl = f2.shape[-2:]
        if hl < 2 or wl < 2:
            feats.append(torch.zeros(b, 81, h, w, dtype=f1.dtype))
            continue
        corr = torch.einsum("bcp,bcq->bpq", f1.flatten(2), f2.flatten(2)) / math.sqrt(c)  # b, hw, hl*wl
        cx, cy = (coords[:, 0] / 2 ** lvl).flatten(1), (coords[:, 1] / 2 ** lvl).flatten(1)  # b, hw
        di, dj = torch.meshgrid(r, r, indexing="ij")
        ox, oy = (di, dj) if transposed else (dj, di)
        px = cx[:, :, None] + ox.flatten()[None, None]  # b, hw, 81
        py = cy[:, :, None] + oy.flatten()[None, None]
        x0, y0 = torch.floor(px), torch.floor(py)
        val = torch.zeros_like(px)
        for xc, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            for yc, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
                ok = (xc >= 0) & (xc <= wl - 1) & (yc >= 0) & (yc <= hl - 1)
                idx = (yc.clamp(0, hl - 1) * wl + xc.clamp(0, wl - 1)).long()
                val += torch.where(ok, torch.gather(corr, 2, idx) * wx * wy, torch.zeros_like(px))
        feats.append(val.permute(0, 2, 1).reshape(b, 81, h, w))
    return torch.cat(feats, 1)


def ref_update(sd, hidden, context, corr, flow):
    relu, p = torch.relu, "update_block"
    c = relu(_conv(relu(_conv(corr, sd, f"{p}.encoder.convc1")), sd, f"{p}.encoder.convc2"))
    f = relu(_conv(relu(_conv(flow, sd, f"{p}.encoder.convf1")), sd, f"{p}.encoder.convf2"))
    motion = torch.cat([relu(_conv(torch.cat([c, f], 1), sd, f"{p}.encoder.conv")), flow], 1)
    x = torch.cat([context, motion], 1)
    h = hidden
    for s in "12":
        z = torch.sigmoid(_conv(torch.cat([h, x], 1), sd, f"{p}.gru.convz{s}"))
        rr = torch.sigmoid(_conv(torch.cat([h, x], 1), sd, f"{p}.gru.convr{s}"))
        q = torch.tanh(_conv(torch.cat([rr * h, x], 1), sd, f"{p}.gru.convq{s}"))
        h = (1 - z) * h + z * q
    delta = _conv(relu(_conv(h, sd, f"{p}.flow_head.conv1")), sd, f"{p}.flow_head.conv2")
    mask = 0.25 * _conv(relu(_conv(h, sd, f"{p}.mask.0")), sd, f"{p}.mask.2")
    return h, mask, delta


def ref_upsample(flow, mask):
    """Pixel (8i+a, 8j+b) = sum_k softmax_k(mask[64k+8a+b]) * 8 * flow at neighbour k of (i, j)."""
    b, _, h, w = flow.shape
    padded = F.pad(8 * flow, (1, 1, 1, 1))
    nb = [padded[:, :, ki:ki + h, kj:kj + w] for ki in range(3) for kj in range(3)]
    out = torch.zeros(b, 2, 8 * h, 8 * w, dtype=flow.dtype)
    for a in range(8):
        for bb in range(8):
            wts = torch.softmax(torch.stack([mask[:, 64 * k + 8 * a + bb] for k in range(9)], 1), 1)
            out[:, :, a::8, bb::8] = sum(wts[:, k:k + 1] * nb[k] for k in range(9))
    return out


def ref_pad(frames):
    """numpy edge padding to multiples of 8, the odd pixel at the bottom/right."""
    h, w = frames.shape[1:3]
    ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
    return np.pad(frames, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="edge")


def ref_flow(sd, frames_a, frames_b, iters, transposed=True):
    x1, x2 = (torch.from_numpy(ref_pad(f)).double().permute(0, 3, 1, 2) / 255.0 * 2 - 1
              for f in (frames_a, frames_b))
    f1, f2 = ref_encoder(x1, sd, "fnet", _instance_norm), ref_encoder(x2, sd, "fnet", _instance_norm)
    levels = ref_pooled(f2)
    cn = ref_encoder(x1, sd, "cnet", _batch_norm)
    hidden, context = torch.tanh(cn[:, :128]), torch.relu(cn[:, 128:])
    b, _, h, w = f1.shape
    grid = torch.stack([torch.arange(w, dtype=torch.float64).expand(h, w),
                        torch.arange(h, dtype=torch.float64)[:, None].expand(h, w)])[None].repeat(b, 1, 1, 1)
    flow = torch.zeros(b, 2, h, w, dtype=torch.float64)
    for _ in range(iters):
        corr = ref_lookup(f1, levels, grid + flow, transposed)
        hidden, mask, delta = ref_update(sd, hidden, context, corr, flow)
        flow = flow + delta
    return ref_upsample(flow, mask)


# ------------------------------------------------------------------ the checks

def _frames(n, h, w, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_pad_amounts_by_hand():
    # (left, right, top, bottom): 122 -> +6 = 3 + 3, 131 -> +5 = 2 + 3, multiples of 8 untouched
    assert R.pad_amounts(122, 131) == (2, 3, 3, 3)
    assert R.pad_amounts(64, 64) == (0, 0, 0, 0)
    assert R.pad_amounts(57, 71) == (0, 1, 3, 4)
    assert R.padded_size(122, 131) == (128, 136) and R.padded_size(57, 71) == (64, 72)
    x = torch.arange(2 * 122 * 131, dtype=torch.float32).view(1, 2, 122, 131)
    padded = F.pad(x, R.pad_amounts(122, 131), mode="replicate")
    ref = ref_pad(x.permute(0, 2, 3, 1).numpy())
    assert np.array_equal(padded.permute(0, 2, 3, 1).numpy(), ref)
    assert torch.equal(R.unpad(padded, 122, 131), x)


def test_lookup_against_brute_force():
    """Correlation pyramid + window lookup vs brute force, at fractional, border and outside points;
    a 9 x 17 map makes the coarsest level one cell high (it must read zeros, see raft.py)."""
    g = torch.Generator().manual_seed(1)
    for h, w in ((16, 17), (9, 17)):
        f1, f2 = torch.randn(2, 2, 32, h, w, generator=g).unbind(0)
        coords = torch.stack([torch.rand(2, h, w, generator=g) * (w + 8) - 4,
                              torch.rand(2, h, w, generator=g) * (h + 8) - 4], 1)  # some windows leave the map
        coords[0, :, 0, 0] = torch.tensor([3.0, 5.0])  # exact grid points too
        got = R.lookup(R.correlation_pyramid(f1, f2), coords).double()
        ref = ref_lookup(f1.double(), ref_pooled(f2.double()), coords.double())
        # float32 dot products of 32 unit-variance terms (|corr| ~ 1) and bilinear weights: ~1e-6
        assert torch.isfinite(got).all() and (got - ref).abs().max() < 1e-4
        assert ref.abs().max() > 1 and ref.abs().mean() > 0.05  # a non-trivial comparison
        wrong = ref_lookup(f1.double(), ref_pooled(f2.double()), coords.double(), transposed=False)
        assert (got - wrong).abs().max() > 0.5  # the window order is seen
        if h == 9:
            assert torch.equal(got[:, 3 * 81:], torch.zeros_like(got[:, 3 * 81:]))


def test_convex_upsample_against_reference():
    g = torch.Generator().manual_seed(2)
    flow, mask = torch.randn(2, 2, 5, 7, generator=g) * 3, torch.randn(2, 576, 5, 7, generator=g) * 2
    got = R.convex_upsample(flow, mask).double()
    ref = ref_upsample(flow.double(), mask.double())
    assert got.shape == (2, 2, 40, 56) and (got - ref).abs().max() < 1e-4 * ref.abs().max()


def test_flow_matches_independent_forward(published):
    """The loaded network's upsampled flow at the padded size against the float64 reference."""
    path, sd = published
    a, b = _frames(1, 122, 131, 3), _frames(1, 122, 131, 4)
    net = R.RAFTFlow(path, iters=3)
    got = net.flow(a, b).double()
    ref = ref_flow(sd, a, b, iters=3)
    assert got.shape == ref.shape == (1, 2, 128, 136)
    scale = ref.abs().max()
    assert scale > 8  # matches move by more than a 1/8 cell: fractional and far lookups are exercised
    # float32 vs float64: ~30 conv layers whose dot products (up to 1920 terms, unit roundoff 6e-8) carry
    # relative errors ~1e-6 each, adding up through the encoders; each of the 3 iterations re-reads the
    # correlation at the moved points, which a random (non-contractive) update block amplifies a few
    # times: measured 3e-6 of the flow's scale. 2e-4 leaves a 60x margin for other CPUs' summation
    # orders, while a wrong window order, mask scale, x8 factor, 1/sqrt(C) or padding split moves the
    # flow by 40-130% of its scale (checked by mutation when this test was written).
    assert (got - ref).abs().max() < 2e-4 * scale
    crop = net.flow(a, b, unpad=True)
    assert crop.shape == (1, 2, 122, 131) and torch.equal(crop, got[..., 3:125, 2:133].float())
    assert net.weights_sha256 and len(net.weights_sha256) == 64


def test_flow_reference_is_discriminating(published):
    """The tolerance above is far below what a published-order mistake changes (one mutant, cheap size)."""
    path, sd = published
    a, b = _frames(1, 64, 64, 5), _frames(1, 64, 64, 6)
    got = R.RAFTFlow(path, iters=2).flow(a, b).double()
    ref, wrong = ref_flow(sd, a, b, 2), ref_flow(sd, a, b, 2, transposed=False)
    scale = ref.abs().max()
    assert (got - ref).abs().max() < 2e-4 * scale < 0.01 * (wrong - ref).abs().max()


def test_batching_dtypes_and_containers(published):
    path, _ = published
    a, b = _frames(3, 60, 66, 7), _frames(3, 60, 66, 8)
    one = R.RAFTFlow(path, iters=2, batch_size=1)
    three = R.RAFTFlow(path, iters=2, batch_size=3)
    ref = one.flow(a, b)
    assert ref.shape == (3, 2, 64, 72) and ref.dtype == torch.float32
    # the same pairs batched (instance norm is per image, BN uses running statistics): only conv
    # summation order may change, ~1e-6 of the scale
    assert (three.flow(a, b) - ref).abs().max() <= 1e-4 * ref.abs().max()
    assert torch.equal(one.flow(torch.from_numpy(a).float(), torch.from_numpy(b)), ref)
    assert torch.equal(one.flow(a[1:2], b[1:2]), ref[1:2])
    # swapped pairs give a different flow (a mix-up of the two inputs would not show otherwise)
    assert (one.flow(b[:1], a[:1]) - ref[:1]).abs().max() > 0.01 * ref.abs().max()


def test_bad_frames_are_refused(published):
    path, _ = published
    net = R.RAFTFlow(path, iters=1)
    good = _frames(1, 64, 64, 9)
    cases = [
        (_frames(1, 56, 80, 0), "at least 57"),
        (_frames(1, 64, 72, 0), "cannot pair"),
        (good[..., :2], "B x H x W x 3"),
        (good[0], "B x H x W x 3"),
        (good.astype(np.float32) * 1.01 + 1, "0..255"),
        (np.full((1, 64, 64, 3), np.nan, np.float32), "0..255"),
        (good.astype(bool), "uint8 or float"),
        (good.astype(np.int16) - 1, "0..255"),
        ("frames", "array of frames"),
    ]
    for frames, msg in cases:
        with pytest.raises(InputError, match=msg.replace("(", r"\(")):
            net.flow(frames, good if msg != "cannot pair" else good)
    with pytest.raises(InputError, match="iteration"):
        R.RAFTFlow(path, iters=0)


def test_strict_loader(published, tmp_path):
    path, _ = published
    sd = torch.load(path, weights_only=True)
    assert all(k.startswith("module.") for k in sd) and len(sd) == 179

    def write(d, name="bad.pth"):
        p = tmp_path / name
        torch.save(d, p)
        return p

    bare = R.load_published(write({k[7:]: v for k, v in sd.items()}, "bare.pth"))
    old = R.load_published(write({k: v for k, v in sd.items() if "num_batches" not in k}, "old.pth"))
    for m in (bare, old):
        assert all(torch.equal(m.state_dict()[k[7:]], v) for k, v in sd.items() if "num_batches" not in k)
    key = "module.update_block.mask.2.weight"
    cases = {
        "missing": {k: v for k, v in sd.items() if k != key},
        "unexpected": {**sd, "module.update_block.extra.weight": torch.zeros(1)},
        "shape": {**sd, key: torch.zeros(576, 128, 1, 1)},
        "mixes": {**{k: v for k, v in sd.items() if k != key}, key[7:]: sd[key]},
        "differ": {**sd, "module.cnet.layer2.0.norm3.weight": sd["module.cnet.layer2.0.norm3.weight"] + 1},
        "not a RAFT state dict": {"model": {"a": torch.zeros(1)}},
        "floating point": {**sd, key: sd[key].long()},
    }
    for i, (msg, d) in enumerate(cases.items()):
        p = write(d, f"case{i}.pth")
        with pytest.raises(WeightsError, match=msg) as e:
            R.load_published(p)
        assert str(p) in str(e.value)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read") as e:
        R.load_published(junk)
    assert str(junk) in str(e.value)


def test_weights_import_checks_the_published_sha256(published, tmp_path, monkeypatch):
    """The catalog carries the published file's sha256, so a file with other weights is refused; with
    that check lifted (test only), the registry's import + ``build`` give the file's network."""
    import dataclasses

    from vbench_i2v import weights as W

    path, _ = published
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    with pytest.raises(WeightsError, match="vbench weights import raft-things"):
        R.build()
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        W.import_file("raft-things", path)
    monkeypatch.setitem(W.WEIGHTS, "raft-things", dataclasses.replace(W.WEIGHTS["raft-things"], sha256=None))
    wf = W.import_file("raft-things", path)
    net = R.build(iters=1)
    assert net.weights_sha256 == wf.sha256 == R.RAFTFlow(path).weights_sha256
    assert net.provenance()["weights_sha256"] == wf.sha256 and net.provenance()["name"] == "raft-things"
    a, b = _frames(1, 64, 64, 10), _frames(1, 64, 64, 11)
    assert torch.equal(net.flow(a, b), R.RAFTFlow(path, iters=1).flow(a, b))
