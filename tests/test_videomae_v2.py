"""VideoMAE-v2 ViT-g/14 (cd-fvd): published size, checkpoint format, preprocessing, and features
against an independent float64 re-implementation written from the published description."""

import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F

from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors.videomae_v2 import (
    CONFIG, CONTRACT, DIM, NUM_PARAMETERS, VideoMAEv2Extractor, load_published, preprocess, save_published,
    videomae_v2_giant)
from vbench_i2v.feature_extractors.vit_video import num_parameters

SMALL = dict(embed_dim=64, depth=2)  # same class and heads (16), full 16 x 224 x 224 input


def test_published_size_on_meta():
    with torch.device("meta"):
        m = videomae_v2_giant()
    d, hid, n_cls = 1408, 6144, 174
    # norms, q/v bias, qkv, proj, mlp
    per_block = 4 * d + 2 * d + 3 * d * d + (d * d + d) + (d * hid + hid) + (hid * d + d)
    hand = (d * 3 * 2 * 14 * 14 + d) + 40 * per_block + 2 * d + (d * n_cls + n_cls)
    assert num_parameters(m) == hand == NUM_PARAMETERS == 1_011_855_918
    assert CONFIG.mlp_hidden == hid and CONFIG.num_tokens == 8 * 16 * 16 and len(m.blocks) == 40
    sd = m.state_dict()
    assert len(sd) == 2 + 40 * 13 + 4  # patch conv; 13 tensors a block; fc_norm and head
    assert {"blocks.0.attn.q_bias", "blocks.0.attn.v_bias", "fc_norm.weight", "head.weight"} <= set(sd)
    assert "blocks.0.attn.qkv.bias" not in sd and "pos_embed" not in sd and "norm.weight" not in sd
    assert m.patch_embed.proj.kernel_size == (2, 14, 14) and m.patch_embed.proj.stride == (2, 14, 14)
    assert m.blocks[0].norm1.eps == 1e-6 and m.blocks[0].attn.num_heads == 16 and DIM == 1408


def _randomised(seed=0):
    torch.manual_seed(seed)
    m = videomae_v2_giant(**SMALL).eval()
    with torch.no_grad():  # non-trivial norms and biases so a wrong load or a dropped term shows
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
    return m


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    m = _randomised()
    path = tmp_path_factory.mktemp("w") / "vit_g_hybrid_pt_1200e_ssv2_ft.pth"
    save_published(m, path)
    return m, path


def _layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1.0 + scipy.special.erf(x / math.sqrt(2.0)))


def reference_features(sd, x, heads=16, eps=1e-6):
    """float64 numpy forward from the published description: patches by reshape (no conv), sinusoid
    table by the formula, explicit softmax attention per head, q/v-only bias, mean pool + fc_norm."""
    sd = {k: v.double().numpy() for k, v in sd.items()}
    x = x.double().numpy()
    b, c, t, h, w = x.shape
    wpe = sd["patch_embed.proj.weight"]
    d = wpe.shape[0]
    patches = x.reshape(b, c, t // 2, 2, h // 14, 14, w // 14, 14).transpose(0, 2, 4, 6, 1, 3, 5, 7)
    tok = patches.reshape(b, -1, c * 2 * 14 * 14) @ wpe.reshape(d, -1).T + sd["patch_embed.proj.bias"]
    n = tok.shape[1]
    table = np.array([[p / 10000 ** (2 * (j // 2) / d) for j in range(d)] for p in range(n)])
    table[:, 0::2], table[:, 1::2] = np.sin(table[:, 0::2]), np.cos(table[:, 1::2])
    tok = tok + table
    hd = d // heads
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for i in range(depth):
        p = lambda s: sd[f"blocks.{i}.{s}"]  # noqa: E731
        y = _layernorm(tok, p("norm1.weight"), p("norm1.bias"), eps)
        qkv = y @ p("attn.qkv.weight").T + np.concatenate([p("attn.q_bias"), np.zeros(d), p("attn.v_bias")])
        q, k, v = (qkv[..., j * d:(j + 1) * d].reshape(b, n, heads, hd).transpose(0, 2, 1, 3) for j in range(3))
        logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)  # b x heads x n x n
        att = np.exp(logits - logits.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
        tok = tok + o @ p("attn.proj.weight").T + p("attn.proj.bias")
        y = _layernorm(tok, p("norm2.weight"), p("norm2.bias"), eps)
        y = _gelu(y @ p("mlp.fc1.weight").T + p("mlp.fc1.bias")) @ p("mlp.fc2.weight").T + p("mlp.fc2.bias")
        tok = tok + y
    return _layernorm(tok.mean(1), sd["fc_norm.weight"], sd["fc_norm.bias"], eps)


def test_published_format_round_trip(published):
    model, path = published
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"module"} and set(ckpt["module"]) == set(model.state_dict())
    loaded = load_published(path)
    x = torch.rand(1, 3, 16, 224, 224)
    with torch.inference_mode():
        a, b = model.features(x), loaded.features(x)
        assert a.shape == (1, 64) and torch.equal(a, b)
        assert loaded(x).shape == (1, 174)  # the SSv2 head is kept but not used for features


def test_network_matches_independent_forward():
    """Same class on a 16 x 56 x 56 grid (128 tokens) so the float64 numpy reference stays fast."""
    torch.manual_seed(3)
    m = videomae_v2_giant(**SMALL, img_size=56).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
    x = torch.rand(2, 3, 16, 56, 56)
    with torch.inference_mode():
        ours = m.features(x).double().numpy()
    np.testing.assert_allclose(ours, reference_features(m.state_dict(), x), rtol=1e-4, atol=1e-5)


def test_fixed_position_table_at_full_size():
    """The 2048 x 1408 table the published model adds (not stored in the checkpoint), by the formula."""
    from vbench_i2v.feature_extractors.vit_video import sinusoid_table_1d

    ours = sinusoid_table_1d(2048, 1408)[0].double().numpy()
    pos, j = np.arange(2048)[:, None], np.arange(1408)[None, :]
    angle = pos / np.power(10000.0, 2 * (j // 2) / 1408)
    np.testing.assert_allclose(ours[:, 0::2], np.sin(angle[:, 0::2]), atol=1e-6)
    np.testing.assert_allclose(ours[:, 1::2], np.cos(angle[:, 1::2]), atol=1e-6)
    assert ours[5, 7] == pytest.approx(math.cos(5 / 10000 ** (6 / 1408)), abs=1e-6)


@pytest.mark.parametrize("layout", ["model", "bare"])
def test_other_published_layouts_load(published, tmp_path, layout):
    model, path = published
    sd = torch.load(path, weights_only=True)["module"]
    other = tmp_path / "other.pth"
    torch.save({"model": sd, "epoch": 3} if layout == "model" else sd, other)
    x = torch.rand(1, 3, 16, 224, 224)
    with torch.inference_mode():
        assert torch.equal(load_published(other).features(x), model.features(x))


def test_strict_key_checks_name_file_and_keys(published, tmp_path):
    _, path = published
    sd = torch.load(path, weights_only=True)["module"]
    cases = {
        "missing": {k: v for k, v in sd.items() if k != "blocks.1.attn.v_bias"},
        "unexpected": {**sd, "blocks.0.attn.qkv.bias": torch.zeros(192)},
        "shapes": {**sd, "fc_norm.weight": torch.ones(65)},
    }
    for word, bad in cases.items():
        f = tmp_path / f"{word}.pth"
        torch.save({"module": bad}, f)
        with pytest.raises(WeightsError, match=word) as err:
            load_published(f)
        assert str(f) in str(err.value)
    assert "blocks.1.attn.v_bias" in _msg(load_published, tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        load_published(tmp_path / "junk.pth")


def _msg(fn, path):
    with pytest.raises(WeightsError) as err:
        fn(path)
    return str(err.value)


def test_preprocess_is_cdfvd_recipe():
    """cd-fvd: permute each video to C x T x H x W, /255, interpolate the last two dims to 224."""
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (2, 20, 96, 128, 3), dtype=np.uint8)
    ours = preprocess(videos)
    assert ours.shape == (2, 3, 16, 224, 224) and ours.dtype == torch.float32
    for i in range(2):
        vid = torch.from_numpy(videos[i, :16]).permute(3, 0, 1, 2).float() / 255
        ref = F.interpolate(vid, size=(224, 224), mode="bilinear", align_corners=False)
        torch.testing.assert_close(ours[i], ref, rtol=0, atol=1e-6)
    later = videos.copy()
    later[:, 16:] = 0  # frames after the first 16 are not used
    assert torch.equal(preprocess(later), ours)
    assert CONTRACT.mean == (0.0, 0.0, 0.0) and CONTRACT.std == (1.0, 1.0, 1.0) and CONTRACT.value_range == (0.0, 1.0)


def test_short_clip_refused():
    with pytest.raises(InputError, match="needs at least 16"):
        preprocess(np.zeros((1, 15, 64, 64, 3), np.uint8))
    with pytest.raises(InputError, match="B x T x H x W x 3"):
        preprocess(np.zeros((15, 64, 64, 3), np.uint8))


def test_extractor_end_to_end(published):
    model, path = published
    rng = np.random.default_rng(1)
    videos = rng.integers(0, 256, (3, 16, 40, 48, 3), dtype=np.uint8)
    ex = VideoMAEv2Extractor(path, batch_size=2)
    assert (ex.name, ex.weights_name) == ("videomae-v2-g-ssv2", "videomae-v2-g-ssv2")
    f = ex.features(videos)
    assert f.shape == (3, 64) and f.dtype == np.float64
    with torch.inference_mode():
        direct = model.features(preprocess(videos)).double().numpy()
    np.testing.assert_allclose(f, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(VideoMAEv2Extractor.from_model(model, batch_size=1).features(videos), f,
                               rtol=1e-5, atol=1e-6)
    assert ex.features(videos[:0]).shape == (0, 64)
