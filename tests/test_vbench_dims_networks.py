"""The per-frame networks of VBench's dimensions (DINO ViT-B/16, CLIP ViT-B/32 / ViT-L/14, the LAION
aesthetic head): catalog entries, published weight formats read strictly (CLIP's TorchScript archive
as tensors, never run), preprocessing against torchvision / PIL, and features against independent
forwards written here from the published descriptions (numpy float64 for DINO; CLIP's own module
layout with ``nn.MultiheadAttention`` in float64 for CLIP)."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from vbench_i2v import weights as W
from vbench_i2v.catalog import IMAGE_NETWORKS, all_weight_specs, metrics_using
from vbench_i2v.cli import main as vbench
from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors import clip_vit, dino_vit
from vbench_i2v.feature_extractors.image_vit import (
    build_image_network, centre_crop_offsets, embed_frames, preprocess_frames, resized_size)
from vbench_i2v.files import sha256_file

torchvision = pytest.importorskip("torchvision")
# the tests write real TorchScript archives (as OpenAI's are); torch marks scripting as deprecated
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.* is deprecated:FutureWarning")
T = torchvision.transforms
IM = T.InterpolationMode


def _frames(n, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


# --- catalog -------------------------------------------------------------------------------------

PUBLISHED = {  # name: (weight file, sha256, dim, uses)
    "dino-vitb16": ("dino_vitbase16_pretrain.pth", "bf34ad0f424b9029b593e8dc3ed553bf26e88bcba0d32bf3e62a6209cb64c85e",
                    768, ("i2v-subject-frames", "i2v-subject-image", "subject-consistency")),
    "clip-vit-b32": ("ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
                     512, ("background-consistency",)),
    "clip-vit-l14": ("ViT-L-14.pt", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
                     768, ("aesthetic-quality",)),
    "laion-aesthetic-linear": ("sa_0_4_vit_l_14_linear.pth",
                               "2cd4e60f4f24ae3bcd57b847b13c1f3ba27edc28cc1a7f9ce74ee9f421243cba", 1,
                               ("aesthetic-quality",)),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_catalog_entries(name):
    spec = IMAGE_NETWORKS[name]
    file_name, sha, dim, uses = PUBLISHED[name]
    assert spec.family == "image" and spec.dim == dim and spec.comparable_with_published
    assert spec.weights.file_name == file_name and spec.weights.sha256 == sha
    assert spec.weights.urls and all(u.endswith(file_name) for u in spec.weights.urls)
    if name.startswith("clip"):  # OpenAI's URL path carries the file's sha256 (clip.py checks it)
        assert spec.weights.urls[0].split("/")[-2] == sha
    assert tuple(u for u, _ in spec.uses) == uses and spec.contract == spec.uses[0][1].contract()
    assert W.spec(spec.weights.name) is spec.weights and spec.weights.name in all_weight_specs()
    for target, attr in ((spec.weights.loader, None), (spec.build, "embed_frames")):
        mod, obj = target.split(":")
        found = getattr(__import__(mod, fromlist=[obj]), obj)
        assert callable(found) and (attr is None or callable(getattr(found, attr)))
    assert metrics_using(spec.weights.name) and spec.description.strip() and spec.batch_size_cpu >= 1
    for _, recipe in spec.uses:
        c = recipe.contract()
        assert c.sampling == "per-frame" and c.value_range == (0.0, 1.0) and c.mean == recipe.mean
        assert (c.size == (recipe.crop, recipe.crop)) if recipe.crop else (c.size is None and c.crop == "none")


def test_declared_recipes_are_vbenchs():
    uses = dict(IMAGE_NETWORKS["dino-vitb16"].uses)
    f, im, sc = uses["i2v-subject-frames"], uses["i2v-subject-image"], uses["subject-consistency"]
    assert (f.short_side, f.kernel, f.antialias, f.crop, f.pixels) == (256, "bicubic", True, 224, "float")
    assert (im.short_side, im.kernel, im.crop, im.pixels) == (256, "bicubic", 224, "pil-uint8")
    assert (sc.short_side, sc.kernel, sc.antialias, sc.crop, sc.pixels) == (224, "bilinear", False, None, "float")
    assert f.mean == (0.485, 0.456, 0.406) and f.std == (0.229, 0.224, 0.225)
    for name in ("clip-vit-b32", "clip-vit-l14", "laion-aesthetic-linear"):
        (_, r), = IMAGE_NETWORKS[name].uses
        assert (r.short_side, r.kernel, r.antialias, r.crop, r.pixels) == (224, "bicubic", False, 224, "float")
        assert r.mean == (0.48145466, 0.4578275, 0.40821073) and r.std == (0.26862954, 0.26130258, 0.27577711)


def test_published_sizes_on_meta():
    with torch.device("meta"):
        d = dino_vit.dino_vitb16()
        b32 = clip_vit.ClipVisionTransformer(clip_vit.VIT_B32)
        l14 = clip_vit.ClipVisionTransformer(clip_vit.VIT_L14)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # DINO: patch conv + cls + 197 positions + 12 blocks (12 w^2 + 13 w) + final norm
    w = 768
    assert n(d) == (w * 3 * 256 + w) + w + 197 * w + 12 * (12 * w * w + 13 * w) + 2 * w == dino_vit.NUM_PARAMETERS
    sd = d.state_dict()
    assert len(sd) == dino_vit.NUM_TENSORS == 150 and tuple(sd["pos_embed"].shape) == (1, 197, 768)
    assert {"cls_token", "patch_embed.proj.bias", "blocks.11.attn.qkv.bias", "blocks.11.mlp.fc2.weight",
            "norm.weight"} <= set(sd) and d.blocks[0].norm1.eps == 1e-6 and d.blocks[0].attn.num_heads == 12

    def clip_hand(w, layers, patch, grid, out):
        # conv1 (no bias), class token, positions, ln_pre, blocks, ln_post, proj
        return (w * 3 * patch * patch + w + (grid * grid + 1) * w + 2 * w + layers * (12 * w * w + 13 * w)
                + 2 * w + w * out)

    assert n(b32) == clip_hand(768, 12, 32, 7, 512) == clip_vit.NUM_PARAMETERS["clip-vit-b32"]
    assert n(l14) == clip_hand(1024, 24, 14, 16, 768) == clip_vit.NUM_PARAMETERS["clip-vit-l14"]
    assert b32.cfg.resolution == l14.cfg.resolution == 224 and "conv1.bias" not in b32.state_dict()


# --- preprocessing against torchvision and PIL ----------------------------------------------------


def _torchvision_reference(frames, recipe):
    """VBench's transform chain, built with torchvision from the recipe's numbers."""
    kernel = IM.BICUBIC if recipe.kernel == "bicubic" else IM.BILINEAR
    steps = [T.Resize(recipe.short_side, interpolation=kernel, antialias=recipe.antialias)]
    if recipe.crop:
        steps.append(T.CenterCrop(recipe.crop))
    norm = T.Normalize(recipe.mean, recipe.std)
    if recipe.pixels == "float":  # float32 0..255 tensors, /255 after the resize (VBench's order)
        x = T.Compose(steps)(torch.from_numpy(frames).permute(0, 3, 1, 2).float())
        return norm(x / 255.0)
    from PIL import Image

    chain = T.Compose(steps + [T.ToTensor(), norm])
    return torch.stack([chain(Image.fromarray(f)) for f in frames])


@pytest.mark.parametrize("shape", [(2, 36, 64), (2, 270, 480), (1, 300, 200)])
@pytest.mark.parametrize("net_use", [
    ("dino-vitb16", "i2v-subject-frames"), ("dino-vitb16", "i2v-subject-image"),
    ("dino-vitb16", "subject-consistency"), ("clip-vit-b32", "background-consistency")])
def test_preprocess_matches_torchvision(shape, net_use):
    recipe = dict(IMAGE_NETWORKS[net_use[0]].uses)[net_use[1]]
    frames = _frames(*shape, seed=sum(shape))
    got = preprocess_frames(frames, recipe)
    want = _torchvision_reference(frames, recipe)
    assert got.shape == want.shape and got.dtype == torch.float32
    # the same arithmetic in float32 (PIL path: identical 8-bit images, then x/255): differences are
    # rounding of values of magnitude <= ~2.7 after normalisation, far under 1e-4
    assert torch.allclose(got, want, atol=1e-4, rtol=0)


def test_resize_arithmetic():
    assert resized_size(720, 1280, 224) == (224, 398)  # int(224 * 1280 / 720) = int(398.2)
    assert resized_size(36, 64, 224) == (224, 398) and resized_size(64, 36, 256) == (455, 256)
    assert resized_size(50, 50, 224) == (224, 224)
    assert centre_crop_offsets(256, 455, 224) == (16, 116)  # (455 - 224) / 2 = 115.5 rounds to even 116
    assert centre_crop_offsets(256, 453, 224) == (16, 114)  # 114.5 -> 114


def test_antialias_choice_changes_shrunk_frames():
    """The I2V frame recipe's antialias choice is visible on frames that shrink (so it is tested above)."""
    recipe = dict(IMAGE_NETWORKS["dino-vitb16"].uses)["i2v-subject-frames"]
    frames = _frames(1, 540, 960, seed=3)
    on = preprocess_frames(frames, recipe)
    off = preprocess_frames(frames, dataclasses.replace(recipe, antialias=False))
    assert (on - off).abs().max() > 0.1


# --- DINO against a numpy float64 forward -----------------------------------------------------------


def _cubic(t, a=-0.75):
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                    np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))


def _bicubic_axis(n_in, n_out, scale):
    """Weights n_out x n_in of PyTorch's bicubic (a = -0.75, align_corners=False) given a scale factor:
    source position (i + 0.5) / scale - 0.5, taps floor-1..floor+2 clamped to the border."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = (i + 0.5) / scale - 0.5
        i0 = math.floor(src)
        for k in range(-1, 3):
            m[i, min(max(i0 + k, 0), n_in - 1)] += _cubic(src - (i0 + k))
    return m


def _np_pos_table(pos, height, width, patch):
    n = pos.shape[1] - 1
    h0, w0 = height // patch, width // patch
    if h0 * w0 == n and height == width:
        return pos
    g = int(math.sqrt(n))
    grid = pos[0, 1:].reshape(g, g, -1)
    mh = _bicubic_axis(g, h0, (h0 + 0.1) / math.sqrt(n))
    mw = _bicubic_axis(g, w0, (w0 + 0.1) / math.sqrt(n))
    out = np.einsum("ai,bj,ijd->abd", mh, mw, grid).reshape(1, h0 * w0, -1)
    return np.concatenate([pos[:, :1], out], axis=1)


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def _mha(x, w_in, b_in, w_out, b_out, heads):
    n, t, d = x.shape
    q, k, v = np.split(x @ w_in.T + b_in, 3, axis=-1)
    split = lambda z: z.reshape(n, t, heads, d // heads).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d // heads)
    p = np.exp(s - s.max(-1, keepdims=True))
    y = (p / p.sum(-1, keepdims=True)) @ v
    return y.transpose(0, 2, 1, 3).reshape(n, t, d) @ w_out.T + b_out


def _patchify(x, weight, patch):
    n, c, h, w = x.shape
    h0, w0 = h // patch, w // patch
    p = x[:, :, : h0 * patch, : w0 * patch].reshape(n, c, h0, patch, w0, patch).transpose(0, 2, 4, 1, 3, 5)
    return p.reshape(n, h0 * w0, c * patch * patch) @ weight.reshape(weight.shape[0], -1).T


def dino_reference(x, sd, heads, patch=16, eps=1e-6):
    """DINO's vit_base forward (as the paper's code describes it) in numpy float64: CLS after the norm."""
    s = {k: v.detach().double().numpy() for k, v in sd.items()}
    x = np.asarray(x, np.float64)
    t = _patchify(x, s["patch_embed.proj.weight"], patch) + s["patch_embed.proj.bias"]
    t = np.concatenate([np.repeat(s["cls_token"], len(x), 0), t], 1)
    t = t + _np_pos_table(s["pos_embed"], x.shape[2], x.shape[3], patch)
    depth = 1 + max(int(k.split(".")[1]) for k in s if k.startswith("blocks."))
    for i in range(depth):
        b = lambda n: s[f"blocks.{i}.{n}"]  # noqa: E731
        t = t + _mha(_ln(t, b("norm1.weight"), b("norm1.bias"), eps), b("attn.qkv.weight"), b("attn.qkv.bias"),
                     b("attn.proj.weight"), b("attn.proj.bias"), heads)
        h = _ln(t, b("norm2.weight"), b("norm2.bias"), eps) @ b("mlp.fc1.weight").T + b("mlp.fc1.bias")
        h = 0.5 * h * (1 + scipy.special.erf(h / math.sqrt(2)))  # GELU, erf form
        t = t + h @ b("mlp.fc2.weight").T + b("mlp.fc2.bias")
    return _ln(t, s["norm.weight"], s["norm.bias"], eps)[:, 0]


SMALL_DINO = dict(embed_dim=128, depth=2, num_heads=2)  # 128 / 64 = 2 heads, what the loader infers


def _randomised_dino(seed=0):
    torch.manual_seed(seed)
    m = dino_vit.dino_vitb16(**SMALL_DINO).eval()
    with torch.no_grad():  # non-trivial tables, norms and biases so a dropped term or a wrong load shows
        for name, p in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            elif name in ("cls_token", "pos_embed"):
                p.copy_(torch.randn_like(p) * 0.5)
            elif p.ndim >= 2:
                p.copy_(torch.randn_like(p) * (1.0 / math.sqrt(p[0].numel())))
    return m


@pytest.fixture(scope="module")
def dino_file(tmp_path_factory):
    m = _randomised_dino()
    path = tmp_path_factory.mktemp("dino") / "dino_vitbase16_pretrain.pth"
    dino_vit.save_published(m, path)
    return m, path


@pytest.mark.parametrize("hw", [(224, 224), (240, 240), (230, 224), (224, 398)])
def test_position_table_against_numpy_bicubic(hw):
    pos = torch.randn(1, 197, 8, dtype=torch.float64)
    got = dino_vit.interpolate_position_table(pos, *hw, 16)
    want = _np_pos_table(pos.numpy(), *hw, 16)
    assert got.shape == (1, 1 + (hw[0] // 16) * (hw[1] // 16), 8)
    assert np.allclose(got.numpy(), want, atol=1e-12, rtol=0)
    if hw == (230, 224):  # 14 x 14 patches but a non-square image: DINO resamples (scale 14.1 / 14)
        assert not torch.equal(got, pos)


def test_dino_published_format_and_forward(dino_file):
    m, path = dino_file
    loaded = dino_vit.load_published(path)
    assert loaded.cfg == m.cfg and set(torch.load(path, weights_only=True)) == set(m.state_dict())
    for shape in ((224, 224), (224, 398), (230, 224)):
        x = torch.randn(2, 3, *shape)
        with torch.no_grad():
            got = loaded(x).double().numpy()
        want = dino_reference(x.double(), m.state_dict(), heads=2)
        # fp32 network vs float64 reference, 2 blocks of width 128, outputs of size ~1: float32 rounding
        # gives ~1e-6 (measured 1.4e-6); GELU's tanh form instead of erf would be off by ~5e-4
        assert np.allclose(got, want, atol=2e-5, rtol=0), np.abs(got - want).max()


def test_dino_strict_loader(dino_file, tmp_path):
    m, path = dino_file
    sd = torch.load(path, weights_only=True)
    for change, words in (("drop", "missing norm.bias"), ("extra", "unexpected head.weight"),
                          ("shape", "blocks.0.attn.qkv.weight")):
        bad = dict(sd)
        if change == "drop":
            del bad["norm.bias"]
        elif change == "extra":
            bad["head.weight"] = torch.zeros(3, 128)
        else:
            bad["blocks.0.attn.qkv.weight"] = torch.zeros(3 * 128, 64)
        p = tmp_path / f"{change}.pth"
        torch.save(bad, p)
        with pytest.raises(WeightsError, match=words) as e:
            dino_vit.load_published(p)
        assert str(p) in str(e.value)
    torch.save({"teacher": sd, "student": sd}, tmp_path / "ckpt.pth")
    with pytest.raises(WeightsError, match="training checkpoint"):
        dino_vit.load_published(tmp_path / "ckpt.pth")


# --- CLIP: a TorchScript archive in OpenAI's layout, written here from CLIP's published model ----------


class RefLayerNorm(nn.LayerNorm):
    """CLIP's LayerNorm: computed in float32 whatever the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(),
                            self.eps).to(x.dtype)


class RefQuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class RefResidualAttentionBlock(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads)
        self.ln_1 = RefLayerNorm(d)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(d, 4 * d)), ("gelu", RefQuickGELU()),
                                              ("c_proj", nn.Linear(4 * d, d))]))
        self.ln_2 = RefLayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class RefTransformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.Sequential(*[RefResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class RefVisionTransformer(nn.Module):
    def __init__(self, resolution: int, patch: int, width: int, layers: int, heads: int, out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((resolution // patch) ** 2 + 1, width))
        self.ln_pre = RefLayerNorm(width)
        self.transformer = RefTransformer(width, layers, heads)
        self.ln_post = RefLayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)  # NLD -> LND, as CLIP feeds nn.MultiheadAttention
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class RefCLIP(nn.Module):
    """The top level of OpenAI's archive: ``visual`` plus text-tower tensors the loader must ignore."""

    def __init__(self, patch: int, width: int, layers: int, out: int):
        super().__init__()
        self.visual = RefVisionTransformer(224, patch, width, layers, width // 64, out)
        self.token_embedding = nn.Embedding(10, out)
        self.positional_embedding = nn.Parameter(torch.randn(5, out))
        self.text_projection = nn.Parameter(torch.randn(out, out))
        self.logit_scale = nn.Parameter(torch.ones([]))
        self.register_buffer("input_resolution", torch.tensor(224))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


def _randomised_clip(patch, seed=0, width=128, layers=2, out=16):
    torch.manual_seed(seed)
    m = RefCLIP(patch, width, layers, out).eval()
    with torch.no_grad():
        for name, p in m.visual.named_parameters():
            if "ln_" in name:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)
    return m


def save_torchscript(model: RefCLIP, path) -> RefCLIP:
    """Script and save in fp16, as OpenAI's archives hold their tensors; returns the fp16 module."""
    half = copy.deepcopy(model).half()
    torch.jit.save(torch.jit.script(half), str(path))
    return half


@pytest.fixture(scope="module")
def clip_archive(tmp_path_factory):
    m = _randomised_clip(patch=32)
    path = tmp_path_factory.mktemp("clip") / "ViT-B-32.pt"
    half = save_torchscript(m, path)
    return half, path


def test_archive_is_real_torchscript(clip_archive):
    half, path = clip_archive
    names = zipfile.ZipFile(path).namelist()
    root = names[0].split("/")[0]
    assert f"{root}/data.pkl" in names and f"{root}/constants.pkl" in names
    assert any(n.startswith(f"{root}/code/") for n in names) and clip_vit.is_torchscript(path)
    # the tensors read without running the archive equal what TorchScript itself loads (reference only)
    tensors = clip_vit.read_torchscript_tensors(path)
    sd = torch.jit.load(str(path)).state_dict()
    assert set(tensors) == set(sd) and all(torch.equal(tensors[k], sd[k]) for k in sd)
    assert tensors["visual.conv1.weight"].dtype == torch.float16


def test_clip_loads_without_executing_the_archive(clip_archive, monkeypatch):
    half, path = clip_archive

    def refuse(*a, **k):
        raise AssertionError("the archive must not be loaded as TorchScript")

    monkeypatch.setattr(torch.jit, "load", refuse)
    monkeypatch.setattr(torch._C, "import_ir_module", refuse, raising=False)
    model = clip_vit.load_published(path)
    assert model.cfg == clip_vit.VIT_B32.reduced(width=128, layers=2, output_dim=16, heads=2)
    assert next(model.parameters()).dtype == torch.float32
    x = torch.randn(3, 3, 224, 224)
    ref = copy.deepcopy(half.visual).double()  # the fp16 weights, exactly, computed in float64
    with torch.no_grad():
        got, want = model(x).double(), ref(x.double())
    # fp32 vs float64 on identical weights; 2 blocks of width 128, outputs up to ~3: float32 rounding
    # gives ~1e-6 (measured 1.3e-6)
    assert torch.allclose(got, want, atol=2e-5, rtol=0), (got - want).abs().max()
    assert all(ln.eps == 1e-5 for ln in (model.ln_pre, model.ln_post, model.transformer.resblocks[0].ln_1))


def test_clip_l14_layout(tmp_path):
    m = _randomised_clip(patch=14, seed=1, width=64, layers=1, out=12)
    half = save_torchscript(m, tmp_path / "ViT-L-14.pt")
    model = clip_vit.load_published(tmp_path / "ViT-L-14.pt")
    assert (model.cfg.patch_size, model.cfg.grid, model.cfg.heads) == (14, 16, 1)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model(x).double(), copy.deepcopy(half.visual).double()(x.double()), atol=2e-5)


def test_clip_refuses_foreign_code_and_wrong_keys(tmp_path, clip_archive):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    payload = (b"\x80\x02cos\nsystem\nq\x00X" + len(f"touch {marker}").to_bytes(4, "little")
               + f"touch {marker}".encode() + b"\x85R.")
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", payload)
        z.writestr("evil/code/__torch__.py", "")
    with pytest.raises(WeightsError, match="refusing os.system"):
        clip_vit.load_published(evil)
    assert not marker.exists()
    # a state dict whose image tower lacks ln_post: strict keys, naming the file
    half, path = clip_archive
    sd = {k: v for k, v in clip_vit.read_torchscript_tensors(path).items() if "ln_post" not in k}
    torch.save(sd, tmp_path / "no_ln_post.pt")
    with pytest.raises(WeightsError, match="missing ln_post.bias"):
        clip_vit.load_published(tmp_path / "no_ln_post.pt")
    with pytest.raises(WeightsError, match="not a zip"):
        (tmp_path / "junk.pt").write_bytes(b"not a model")
        clip_vit.read_torchscript_tensors(tmp_path / "junk.pt")


def test_aesthetic_head_format(tmp_path):
    head = OrderedDict(weight=torch.randn(1, 768), bias=torch.randn(1))
    torch.save(head, tmp_path / "sa_0_4_vit_l_14_linear.pth")
    lin = clip_vit.load_aesthetic_head(tmp_path / "sa_0_4_vit_l_14_linear.pth")
    assert (lin.in_features, lin.out_features) == (768, 1) and torch.equal(lin.weight, head["weight"])
    torch.save({"weight": torch.randn(1, 768), "bias": torch.randn(1), "extra": torch.zeros(1)}, tmp_path / "x.pth")
    with pytest.raises(WeightsError, match="unexpected extra"):
        clip_vit.load_aesthetic_head(tmp_path / "x.pth")
    torch.save({"layers.0.weight": torch.randn(1024, 768)}, tmp_path / "mlp.pth")
    with pytest.raises(WeightsError, match="sa_0_4_vit_l_14_linear.pth format"):
        clip_vit.load_aesthetic_head(tmp_path / "mlp.pth")


# --- through the registry: import, build by name, embed frames ------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A weights home, with the pinned hashes of the published files lifted (the test files are reduced)."""
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    for name in PUBLISHED:
        monkeypatch.setitem(W.WEIGHTS, name, dataclasses.replace(W.WEIGHTS[name], sha256=None, size=None))
    return tmp_path / "home"


def _import(name, path):
    r = CliRunner().invoke(vbench, ["weights", "import", name, str(path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output


def test_pinned_hash_refuses_another_file(dino_file, tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    _, path = dino_file
    r = CliRunner().invoke(vbench, ["weights", "import", "dino-vitb16", str(path)])
    assert r.exit_code == 2 and "sha256 mismatch" in r.output and "bf34ad0f424b" in r.output


def test_dino_embed_frames_by_name(home, dino_file):
    m, path = dino_file
    _import("dino-vitb16", path)
    net = build_image_network("dino-vitb16")
    assert net.name == "dino-vitb16" and net.weights_sha256 == sha256_file(path) and net.precision == "fp32"
    assert set(net.provenance()["uses"]) == {"i2v-subject-frames", "i2v-subject-image", "subject-consistency"}
    frames = _frames(3, 36, 64, seed=5)  # 16:9 frames: subject-consistency feeds DINO 224 x 398 (14 x 24 grid)
    for use in net.uses:
        got = embed_frames(net, frames, use)
        x = _torchvision_reference(frames, net.recipe(use))
        want = dino_reference(x.double(), m.state_dict(), heads=2)
        assert got.shape == (3, 128) and got.dtype == np.float64
        assert np.allclose(got, want, atol=2e-5, rtol=0), (use, np.abs(got - want).max())  # as above
    with pytest.raises(InputError, match="no use 'background-consistency'"):
        net.embed_frames(frames, "background-consistency")
    with pytest.raises(InputError, match="uint8"):
        net.embed_frames(frames.astype(np.float32), "subject-consistency")
    with pytest.raises(InputError, match="aspect ratio"):
        net.embed_frames(_frames(1, 16, 80), "subject-consistency")
    assert net.embed_frames(frames[:0]).shape == (0, 128)
    # one metric's view: its use's contract (what a measurement identity records), the same features
    view = net.for_uses("subject-consistency")
    assert view.contract == net.contract_for("subject-consistency") != net.contract
    assert view.contract.size is None and view.name == net.name and view.weights_sha256 == net.weights_sha256
    assert np.array_equal(view.embed_frames(frames), net.embed_frames(frames, "subject-consistency"))
    assert list(view.provenance()["uses"]) == ["subject-consistency"]
    with pytest.raises(InputError, match="not one of"):
        view.embed_frames(frames, "i2v-subject-frames")


def test_clip_and_aesthetic_by_name(home, clip_archive, tmp_path):
    half, path = clip_archive
    _import("clip-vit-b32", path)
    net = build_image_network("clip-vit-b32", batch_size=2)
    frames = _frames(3, 48, 64, seed=7)
    x = _torchvision_reference(frames, net.recipe("background-consistency"))
    ref = copy.deepcopy(half.visual).double()
    with torch.no_grad():
        want = ref(x.double()).numpy()
    got = net.embed_frames(frames, "background-consistency")
    assert got.shape == (3, 16) and np.allclose(got, want, atol=2e-5, rtol=0)

    # the aesthetic head on the L2-normalised ViT-L/14 embedding (a reduced tower in the same archive layout)
    l14 = save_torchscript(_randomised_clip(patch=14, seed=2, width=64, layers=1, out=12), tmp_path / "ViT-L-14.pt")
    head = OrderedDict(weight=torch.randn(1, 12), bias=torch.tensor([5.0]))
    torch.save(head, tmp_path / "sa_0_4_vit_l_14_linear.pth")
    _import("clip-vit-l14", tmp_path / "ViT-L-14.pt")
    _import("laion-aesthetic-linear", tmp_path / "sa_0_4_vit_l_14_linear.pth")
    scorer = build_image_network("laion-aesthetic-linear")
    assert scorer.extra_weights_sha256 == {"clip-vit-l14": sha256_file(tmp_path / "ViT-L-14.pt")}
    x = _torchvision_reference(frames, scorer.recipe("aesthetic-quality"))
    with torch.no_grad():
        e = copy.deepcopy(l14.visual).double()(x.double()).numpy()
    want = (e / np.linalg.norm(e, axis=1, keepdims=True)) @ head["weight"].double().numpy().T + 5.0
    got = scorer.embed_frames(frames, "aesthetic-quality")
    assert got.shape == (3, 1) and np.allclose(got, want, atol=1e-5, rtol=0)


def test_dims_networks_are_not_video_extractors():
    from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS

    assert not set(IMAGE_NETWORKS) & (set(EXTRACTORS) | set(IDENTITY_EMBEDDERS))
    with pytest.raises(InputError, match="unknown image network"):
        build_image_network("resnext101-kinetics")


def test_pickle_global_helpers_only():
    """The unpickler's allow-list: tensors, storages, OrderedDict, TorchScript list helpers, __torch__ objects."""
    u = clip_vit._TensorsOnlyUnpickler.__new__(clip_vit._TensorsOnlyUnpickler)
    for module, name in (("builtins", "eval"), ("torch", "load"), ("torch._utils", "_rebuild_parameter"),
                         ("numpy.core.multiarray", "_reconstruct")):
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            u.find_class(module, name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(clip_archive):
    """Preprocessing (antialiased resize, PIL path) and both networks on CUDA give the CPU's features."""
    half, path = clip_archive
    frames = _frames(3, 270, 480, seed=11)
    with torch.backends.cudnn.flags(allow_tf32=False):  # fp32 both sides (TF32 would change the patch convs)
        dino = _randomised_dino()
        for use in ("i2v-subject-frames", "i2v-subject-image", "subject-consistency"):
            cpu = dino_vit.DinoEmbedder.from_model(copy.deepcopy(dino)).embed_frames(frames, use)
            gpu = dino_vit.DinoEmbedder.from_model(copy.deepcopy(dino), device="cuda").embed_frames(frames, use)
            assert np.allclose(cpu, gpu, atol=1e-4, rtol=0), (use, np.abs(cpu - gpu).max())
        model = clip_vit.load_published(path)
        cpu = clip_vit.ClipEmbedder.from_model(copy.deepcopy(model)).embed_frames(frames)
        gpu = clip_vit.ClipEmbedder.from_model(copy.deepcopy(model), device="cuda").embed_frames(frames)
        assert np.allclose(cpu, gpu, atol=1e-4, rtol=0), np.abs(cpu - gpu).max()
