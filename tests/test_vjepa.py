"""V-JEPA ViT-H/16 + SSv2 attentive probe (JEDi): published sizes, checkpoint layouts, preprocessing,
and features against an independent float64 re-implementation written from the published description."""

import math

import numpy as np
import pytest
import scipy.special
import torch
from PIL import Image

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors.vit_video import num_parameters, sincos_table_3d
from vbench_i2v.feature_extractors.vjepa import (
    CONTRACT, ENCODER_CONFIG, ENCODER_PARAMETERS, IMAGENET_MEAN, IMAGENET_STD, PROBE_PARAMETERS,
    AttentiveClassifier, VJEPAExtractor, load_encoder, load_probe, preprocess, save_encoder, save_probe,
    vjepa_vith16)

SMALL = dict(embed_dim=96, depth=2)  # same class and heads (16)


def test_published_sizes_on_meta():
    with torch.device("meta"):
        enc, probe = vjepa_vith16(), AttentiveClassifier()
    d, hid, n = 1280, 5120, 8 * 14 * 14
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * hid + hid) + (hid * d + d)
    enc_hand = (d * 3 * 2 * 16 * 16 + d) + n * d + 32 * block + 2 * d
    pooler = d + 2 * d + (d * d + d) + (2 * d * d + 2 * d) + (d * d + d) + 2 * d + (d * hid + hid) + (hid * d + d)
    assert num_parameters(enc) == enc_hand == ENCODER_PARAMETERS == 633_655_040
    assert num_parameters(probe) == pooler + d * 174 + 174 == PROBE_PARAMETERS
    assert num_parameters(probe.pooler) == pooler == 19_678_720
    sd = enc.state_dict()
    assert {"pos_embed", "blocks.0.attn.qkv.bias", "norm.weight"} <= set(sd) and "blocks.0.attn.q_bias" not in sd
    assert sd["pos_embed"].shape == (1, 1568, 1280) and ENCODER_CONFIG.num_tokens == 1568
    assert enc.blocks[0].norm1.eps == 1e-6 and enc.norm.eps == 1e-6
    assert probe.pooler.cross_attention_block.norm1.eps == 1e-5 and probe.pooler.query_tokens.shape == (1, 1, 1280)


def _table_by_loops(dim, grid, uniform_power):
    """get_3d_sincos_pos_embed written out: tokens t-major, blocks [t | h | w], each [sin | cos]."""
    parts = (int(math.ceil(dim / 6) * 2),) * 3 if uniform_power else (dim // 2, dim // 4, dim // 4)
    rows = []
    for t in range(grid[0]):
        for h in range(grid[1]):
            for w in range(grid[2]):
                row = []
                for pos, pd in zip((t, h, w), parts):
                    om = [1.0 / 10000 ** (i / (pd / 2)) for i in range(pd // 2)]
                    row += [math.sin(pos * o) for o in om] + [math.cos(pos * o) for o in om]
                rows.append(row[:dim])
    return np.array(rows)


@pytest.mark.parametrize("uniform_power", [True, False])
def test_3d_position_table(uniform_power):
    ours = sincos_table_3d(40, (3, 2, 4), uniform_power)[0].double().numpy()
    np.testing.assert_allclose(ours, _table_by_loops(40, (3, 2, 4), uniform_power), atol=1e-6)
    with torch.device("cpu"):
        fresh = vjepa_vith16(**SMALL)
    assert fresh.pos_embed.shape == (1, 1568, 96) and not fresh.pos_embed.requires_grad


def _randomised(seed, **cfg):
    torch.manual_seed(seed)
    enc = vjepa_vith16(**{**SMALL, **cfg}).eval()
    probe = AttentiveClassifier(SMALL["embed_dim"], 16, 174).eval()
    with torch.no_grad():
        for m in (enc, probe):
            for name, p in m.named_parameters():
                if name.endswith("bias") or "norm" in name:
                    p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            if hasattr(m, "pos_embed"):
                m.pos_embed.add_(torch.randn_like(m.pos_embed) * 0.1)  # a stored, loaded tensor
        probe.pooler.query_tokens.normal_()
    return enc, probe


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    enc, probe = _randomised(0)
    context, _ = _randomised(1)  # a different 'encoder' entry: JEDi reads 'target_encoder'
    d = tmp_path_factory.mktemp("w")
    save_encoder(enc, d / "vith16.pth.tar", context_encoder=context)
    save_probe(probe, d / "ssv2-probe.pth.tar")
    return enc, probe, context, d / "vith16.pth.tar", d / "ssv2-probe.pth.tar"


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def _attend(q, k, v, heads):
    """softmax(q k^T / sqrt(head_dim)) v per head; q: b x n x d, k/v: b x m x d."""
    b, n, d = q.shape
    hd = d // heads
    split = lambda a: a.reshape(b, a.shape[1], heads, hd).transpose(0, 2, 1, 3)  # noqa: E731
    logits = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(hd)
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    return (att @ split(v)).transpose(0, 2, 1, 3).reshape(b, n, d)


def _mlp(x, sd, pre):
    h = x @ sd[pre + "fc1.weight"].T + sd[pre + "fc1.bias"]
    h = 0.5 * h * (1 + scipy.special.erf(h / math.sqrt(2)))
    return h @ sd[pre + "fc2.weight"].T + sd[pre + "fc2.bias"]


def reference_features(enc_sd, probe_sd, x, heads=16):
    """Encoder (patches by reshape, stored pos_embed, pre-norm blocks, final norm) then the probe's
    pooler (learned query; tokens normalised by norm1; kv split into k | v; residual MLP)."""
    e = {k: v.double().numpy() for k, v in enc_sd.items()}
    p = {k: v.double().numpy() for k, v in probe_sd.items()}
    x = x.double().numpy()
    b, c, t, h, w = x.shape
    d = e["patch_embed.proj.weight"].shape[0]
    patches = x.reshape(b, c, t // 2, 2, h // 16, 16, w // 16, 16).transpose(0, 2, 4, 6, 1, 3, 5, 7)
    tok = patches.reshape(b, -1, c * 2 * 256) @ e["patch_embed.proj.weight"].reshape(d, -1).T
    tok = tok + e["patch_embed.proj.bias"] + e["pos_embed"]
    depth = 1 + max(int(k.split(".")[1]) for k in e if k.startswith("blocks."))
    for i in range(depth):
        pre = f"blocks.{i}."
        y = _ln(tok, e[pre + "norm1.weight"], e[pre + "norm1.bias"], 1e-6)
        qkv = y @ e[pre + "attn.qkv.weight"].T + e[pre + "attn.qkv.bias"]
        o = _attend(qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:], heads)
        tok = tok + o @ e[pre + "attn.proj.weight"].T + e[pre + "attn.proj.bias"]
        tok = tok + _mlp(_ln(tok, e[pre + "norm2.weight"], e[pre + "norm2.bias"], 1e-6), e, pre + "mlp.")
    tok = _ln(tok, e["norm.weight"], e["norm.bias"], 1e-6)
    pre = "pooler.cross_attention_block."
    q0 = np.repeat(p["pooler.query_tokens"], b, axis=0)
    xn = _ln(tok, p[pre + "norm1.weight"], p[pre + "norm1.bias"], 1e-5)
    q = q0 @ p[pre + "xattn.q.weight"].T + p[pre + "xattn.q.bias"]
    kv = xn @ p[pre + "xattn.kv.weight"].T + p[pre + "xattn.kv.bias"]
    o = _attend(q, kv[..., :d], kv[..., d:], heads) @ p[pre + "xattn.proj.weight"].T + p[pre + "xattn.proj.bias"]
    q1 = q0 + o
    q2 = q1 + _mlp(_ln(q1, p[pre + "norm2.weight"], p[pre + "norm2.bias"], 1e-5), p, pre + "mlp.")
    return q2[:, 0]


def test_network_matches_independent_forward():
    """Same classes on a 16 x 64 x 64 grid (128 tokens) so the numpy reference stays fast."""
    enc, probe = _randomised(5, img_size=64)
    x = torch.randn(2, 3, 16, 64, 64)
    with torch.inference_mode():
        ours = probe.pooler(enc.features(x)).squeeze(1).double().numpy()
        logits = probe(enc.features(x))
    np.testing.assert_allclose(ours, reference_features(enc.state_dict(), probe.state_dict(), x), rtol=1e-4, atol=1e-5)
    assert logits.shape == (2, 174)


def test_published_layouts_round_trip(published):
    enc, probe, context, enc_path, probe_path = published
    ck = torch.load(enc_path, weights_only=True)
    assert {"encoder", "target_encoder", "predictor", "epoch"} <= set(ck)
    assert all(k.startswith("module.backbone.") for k in ck["target_encoder"])
    pk = torch.load(probe_path, weights_only=True)
    assert all(k.startswith("module.") for k in pk["classifier"]) and "module.linear.weight" in pk["classifier"]
    x = torch.randn(1, 3, 16, 224, 224)
    e2, p2 = load_encoder(enc_path), load_probe(probe_path)
    with torch.inference_mode():
        assert torch.equal(e2.features(x), enc.features(x))  # target_encoder, not the context encoder
        assert not torch.equal(e2.features(x), context.features(x))
        tokens = enc.features(x)
        assert torch.equal(p2(tokens), probe(tokens)) and torch.equal(p2.pooler(tokens), probe.pooler(tokens))


def test_encoder_entry_is_the_fallback(published, tmp_path):
    enc, _, context, enc_path, _ = published
    ck = torch.load(enc_path, weights_only=True)
    f = tmp_path / "only-encoder.pth.tar"
    torch.save({"encoder": ck["encoder"], "epoch": 1}, f)
    x = torch.randn(1, 3, 16, 224, 224)
    with torch.inference_mode():
        assert torch.equal(load_encoder(f).features(x), context.features(x))


def test_strict_key_checks(published, tmp_path):
    _, _, _, enc_path, probe_path = published
    ck = torch.load(enc_path, weights_only=True)
    te = ck["target_encoder"]
    bad_enc = {
        "missing": {k: v for k, v in te.items() if k != "module.backbone.blocks.1.mlp.fc2.bias"},
        "unexpected": {**te, "module.backbone.blocks.0.attn.q_bias": torch.zeros(96)},
        "shapes": {**te, "module.backbone.pos_embed": torch.zeros(1, 1000, 96)},
    }
    for word, sd in bad_enc.items():
        f = tmp_path / f"enc-{word}.pth.tar"
        torch.save({"target_encoder": sd}, f)
        with pytest.raises(WeightsError, match=word) as err:
            load_encoder(f)
        assert str(f) in str(err.value)
    pc = torch.load(probe_path, weights_only=True)["classifier"]
    f = tmp_path / "probe-missing.pth.tar"
    torch.save({"classifier": {k: v for k, v in pc.items() if "xattn.kv" not in k}}, f)
    with pytest.raises(WeightsError, match="missing.*xattn.kv"):
        load_probe(f)
    f = tmp_path / "wrong-entry.pth.tar"
    torch.save({"state_dict": pc}, f)
    with pytest.raises(WeightsError, match="'classifier'"):
        load_probe(f)
    with pytest.raises(WeightsError, match="'target_encoder' or 'encoder'"):
        load_encoder(f)


def test_preprocess_imagenet_normalisation_and_resize():
    rng = np.random.default_rng(0)
    exact = rng.integers(0, 256, (1, 18, 224, 224, 3), dtype=np.uint8)  # no resize: exact arithmetic
    x = preprocess(exact)
    assert x.shape == (1, 3, 16, 224, 224)
    want = (exact[0, :16].astype(np.float64) / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(x[0].permute(1, 2, 3, 0).double().numpy(), want, atol=1e-5)
    big = rng.integers(0, 256, (1, 16, 300, 260, 3), dtype=np.uint8)  # shrinking: antialiased like PIL
    y = preprocess(big)[0, :, 3].permute(1, 2, 0).double().numpy() * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN)
    pil = np.asarray(Image.fromarray(big[0, 3]).resize((224, 224), Image.BILINEAR)) / 255.0
    assert np.abs(y - pil).max() <= 1.0 / 255 + 1e-6
    assert CONTRACT.frames == 16 and CONTRACT.sampling == "first" and CONTRACT.size == (224, 224)


def test_short_clip_refused():
    with pytest.raises(InputError, match="needs at least 16"):
        preprocess(np.zeros((2, 8, 224, 224, 3), np.uint8))


def test_extractor_end_to_end(published):
    enc, probe, _, enc_path, probe_path = published
    videos = np.random.default_rng(2).integers(0, 256, (3, 17, 48, 40, 3), dtype=np.uint8)
    ex = VJEPAExtractor(enc_path, probe_path=probe_path, batch_size=2)
    assert (ex.name, ex.weights_name) == ("vjepa-h16-ssv2", "vjepa-h16-ssv2")
    assert ex.probe_weights_name == "vjepa-h16-ssv2-probe"
    f = ex.features(videos)
    with torch.inference_mode():
        direct = probe.pooler(enc.features(preprocess(videos))).squeeze(1).double().numpy()
    assert f.shape == (3, 96) and f.dtype == np.float64
    np.testing.assert_allclose(f, direct, rtol=1e-5, atol=1e-6)


def test_probe_defaults_to_the_verified_registry_file(published, tmp_path, monkeypatch):
    _, _, _, enc_path, _ = published
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path))  # no probe file there
    with pytest.raises(WeightsError, match="vjepa-h16-ssv2-probe"):
        VJEPAExtractor(enc_path)
