"""OpenAI CLIP image towers (ViT-B/32, ViT-L/14) and the LAION aesthetic head, read from the
published files without running any of their code.

**Weights.** OpenAI publishes CLIP as TorchScript archives (``ViT-B-32.pt``, ``ViT-L-14.pt``): a zip
holding ``<root>/code/`` (the module's TorchScript source), ``<root>/constants.pkl`` and
``<root>/data.pkl``, a pickle of the module object graph whose tensors point at raw storages in
``<root>/data/<key>``. :func:`read_torchscript_tensors` reads ``data.pkl`` with a restricted
unpickler that knows only tensors (``torch._utils._rebuild_tensor_v2`` over ``torch.<Type>Storage``
persistent ids), TorchScript's list helpers, ``OrderedDict`` and stand-ins for the ``__torch__.*``
module objects; any other global is refused. It returns every tensor by its attribute path
(``visual.conv1.weight``, ...: the names ``state_dict()`` gives), reading only the storages asked
for. Nothing in the archive is executed or compiled (``torch.jit.load`` is never called).

**Image tower** (CLIP's ``VisionTransformer``): ``conv1`` (patch conv, no bias) -> flatten to tokens
-> prepend ``class_embedding`` -> add ``positional_embedding`` -> ``ln_pre`` -> ``transformer.resblocks``:
``x + attn(ln_1(x))`` (``nn.MultiheadAttention`` parameters ``in_proj_weight``/``in_proj_bias`` = q, k, v
rows, softmax of ``q k^T / sqrt(head_dim)``, ``out_proj``), ``x + mlp(ln_2(x))`` with
``mlp.c_fc`` -> QuickGELU ``x * sigmoid(1.702 x)`` -> ``mlp.c_proj`` -> ``ln_post`` of the CLS token
-> ``@ proj``. LayerNorm eps 1e-5; heads = width / 64. Width, depth, patch, grid and output size
are read from the tensors as CLIP's ``build_model`` does. Input: exactly ``grid * patch`` square
(224 for both published models). The archives hold fp16 tensors; this module computes in fp32 on
every device (VBench runs ``clip.load`` on a GPU, i.e. fp16 weights and activations there).

**LAION aesthetic predictor v1** (``sa_0_4_vit_l_14_linear.pth``): a plain state dict ``weight``
(1 x 768), ``bias`` (1), i.e. ``nn.Linear(768, 1)``, applied to the L2-normalised ViT-L/14
embedding; :class:`AestheticScorer` returns that raw head output (VBench's aesthetic quality then
divides by 10).
"""

from __future__ import annotations

import collections
import math
import pickle
import zipfile
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.catalog import CLIP_VIT_B32, CLIP_VIT_L14, LAION_AESTHETIC_LINEAR
from vbench_i2v.feature_extractors.image_vit import ImageEmbedder
from vbench_i2v.feature_extractors.vit_video import load_weights_strict, read_checkpoint

# ---------------------------------------------------------------------------------------------------
# TorchScript archives read as tensors


_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "DoubleStorage": torch.float64,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _ScriptObject:
    """Stands for a ``__torch__.*`` object of the archive: only its attribute dict is kept."""

    qualified_name = "__torch__"

    def __setstate__(self, state):
        self.state = state


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor without a storage")
    return _TensorRef(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _keep_value(value, *_):
    return value


_JIT_HELPERS = {"build_intlist": list, "build_doublelist": list, "build_boollist": list, "build_tensorlist": list,
                "build_strlist": list, "restore_type_tag": _keep_value}


class _TensorsOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name == "device":
            return str
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch.jit._pickle" and name in _JIT_HELPERS:
            return _JIT_HELPERS[name]
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (_ScriptObject,), {"qualified_name": f"{module}.{name}"})
        raise pickle.UnpicklingError(f"refusing {module}.{name} (only tensors and module attributes are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:60]}")
        return _StorageRef(str(pid[2]), pid[1].dtype, int(pid[4]))


def _flatten(obj, prefix: str, out: dict, seen: set) -> None:
    if isinstance(obj, _TensorRef):
        out[prefix[:-1]] = obj
    elif isinstance(obj, _ScriptObject):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        state = getattr(obj, "state", None)
        if isinstance(state, dict):
            for k, v in state.items():
                _flatten(v, f"{prefix}{k}.", out, seen)
    elif isinstance(obj, dict) and not prefix:  # a torch.save'd state dict at the root
        for k, v in obj.items():
            _flatten(v, f"{k}.", out, seen)


def _data_root(names: list[str], path) -> str:
    from vbench_i2v.errors import WeightsError

    roots = [n[: -len("data.pkl")] for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(roots) != 1:
        raise WeightsError(f"{path}: not a TorchScript or torch.save zip archive (no single <root>/data.pkl)")
    return roots[0]


def _materialise(z: zipfile.ZipFile, root: str, ref: _TensorRef, key: str, path) -> torch.Tensor:
    from vbench_i2v.errors import WeightsError

    raw = z.read(f"{root}data/{ref.storage.key}")
    item = torch.empty((), dtype=ref.storage.dtype).element_size()
    if len(raw) != ref.storage.numel * item:
        raise WeightsError(f"{path}: storage {ref.storage.key} of {key} holds {len(raw)} bytes, "
                           f"expected {ref.storage.numel} x {item}")
    flat = torch.frombuffer(bytearray(raw), dtype=ref.storage.dtype) if raw else torch.empty(0, dtype=ref.storage.dtype)
    last = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride)) if all(ref.size) else -1
    if ref.offset < 0 or last >= flat.numel() or any(st < 0 for st in ref.stride):
        raise WeightsError(f"{path}: tensor {key} {ref.size} lies outside its storage")
    return flat.as_strided(ref.size, ref.stride, ref.offset).clone()


def read_torchscript_tensors(path, keep=None) -> dict[str, torch.Tensor]:
    """Every tensor of a TorchScript archive (or torch.save zip) by attribute path, without executing it.

    ``keep(name) -> bool`` selects which tensors are read from the archive (default: all). Little-endian
    archives only (the ``byteorder`` record, where present, must say so).
    """
    from vbench_i2v.errors import WeightsError

    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path}: not a zip archive (expected a TorchScript .pt such as OpenAI's ViT-B-32.pt)")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            root = _data_root(names, path)
            if f"{root}byteorder" in names and z.read(f"{root}byteorder").strip() not in (b"little", b""):
                raise WeightsError(f"{path}: big-endian archive; only little-endian tensors are read")
            with z.open(f"{root}data.pkl") as f:
                top = _TensorsOnlyUnpickler(f).load()
            refs: dict[str, _TensorRef] = {}
            _flatten(top, "", refs, set())
            return {k: _materialise(z, root, r, k, path) for k, r in refs.items() if keep is None or keep(k)}
    except WeightsError:
        raise
    except (pickle.UnpicklingError, zipfile.BadZipFile, KeyError, EOFError, ValueError, TypeError) as exc:
        raise WeightsError(f"{path}: cannot read the archive's tensors ({type(exc).__name__}: {exc})") from None


def is_torchscript(path) -> bool:
    """TorchScript archives carry a ``<root>/code/`` folder; ``torch.save`` zips do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/")[1:2] == ["code"] for n in z.namelist())


# ---------------------------------------------------------------------------------------------------
# CLIP image tower


@dataclass(frozen=True)
class ClipVisionConfig:
    width: int
    layers: int
    patch_size: int
    grid: int
    output_dim: int
    heads: int
    norm_eps: float = 1e-5

    @property
    def resolution(self) -> int:
        return self.grid * self.patch_size

    def reduced(self, **changes) -> "ClipVisionConfig":
        return replace(self, **changes)


VIT_B32 = ClipVisionConfig(width=768, layers=12, patch_size=32, grid=7, output_dim=512, heads=12)
VIT_L14 = ClipVisionConfig(width=1024, layers=24, patch_size=14, grid=16, output_dim=768, heads=16)
NUM_PARAMETERS = {"clip-vit-b32": 87_849_216, "clip-vit-l14": 303_966_208}  # image towers; checked by the tests


class ClipAttention(nn.Module):
    """``nn.MultiheadAttention``'s parameters (self-attention, no mask), computed with SDPA."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).reshape(
            b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(head_dim)) v
        return self.out_proj(y.transpose(1, 2).reshape(b, n, d))


class ClipMlp(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        return self.c_proj(h * torch.sigmoid(1.702 * h))  # QuickGELU


class ResidualAttentionBlock(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.width, eps=cfg.norm_eps)
        self.attn = ClipAttention(cfg.width, cfg.heads)
        self.ln_2 = nn.LayerNorm(cfg.width, eps=cfg.norm_eps)
        self.mlp = ClipMlp(cfg.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ClipTransformer(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(cfg) for _ in range(cfg.layers))


class ClipVisionTransformer(nn.Module):
    """``forward(x)``: float ``N x 3 x R x R`` (CLIP-normalised, R = grid * patch) -> ``N x output_dim``."""

    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.conv1 = nn.Conv2d(3, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(w))
        self.positional_embedding = nn.Parameter(torch.empty(cfg.grid * cfg.grid + 1, w))
        self.ln_pre = nn.LayerNorm(w, eps=cfg.norm_eps)
        self.transformer = ClipTransformer(cfg)
        self.ln_post = nn.LayerNorm(w, eps=cfg.norm_eps)
        self.proj = nn.Parameter(torch.empty(w, cfg.output_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.cfg.resolution
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, r, r):
            raise ValueError(f"CLIP image tower expects N x 3 x {r} x {r}, got {tuple(x.shape)}")
        t = self.conv1(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.class_embedding.to(t.dtype).expand(t.shape[0], 1, -1), t], dim=1)
        t = self.ln_pre(t + self.positional_embedding.to(t.dtype))
        for blk in self.transformer.resblocks:
            t = blk(t)
        return self.ln_post(t[:, 0]) @ self.proj


PREFIX = "visual."


def _config_from(sd: dict, heads: int | None) -> ClipVisionConfig:
    """CLIP's ``build_model`` arithmetic on the image tower's tensors."""
    try:
        w = sd["conv1.weight"]
        width, patch = int(w.shape[0]), int(w.shape[-1])
        layers = len([k for k in sd if k.startswith("transformer.resblocks.") and k.endswith(".attn.in_proj_weight")])
        grid = round(math.sqrt(int(sd["positional_embedding"].shape[0]) - 1))
        out = int(sd["proj"].shape[1])
    except (KeyError, IndexError, AttributeError, TypeError, ValueError):
        return VIT_B32  # the strict load then names what is missing
    return ClipVisionConfig(width=width, layers=layers, patch_size=patch, grid=grid, output_dim=out,
                            heads=heads or max(1, width // 64))


def load_published(path, map_location="cpu", heads: int | None = None) -> ClipVisionTransformer:
    """OpenAI's ``ViT-B-32.pt`` / ``ViT-L-14.pt`` -> the image tower, strictly, as fp32.

    A TorchScript archive is read as tensors (:func:`read_torchscript_tensors`, ``visual.*`` only); a
    ``torch.save``'d full CLIP state dict with the same names is accepted too. Every ``visual.*``
    tensor must match the tower's keys and shapes (one WeightsError line otherwise).
    """
    from vbench_i2v.errors import WeightsError

    if is_torchscript(path):
        full = read_torchscript_tensors(path, keep=lambda k: k.startswith(PREFIX))
    else:
        full = read_checkpoint(path)
        if not isinstance(full, dict):
            raise WeightsError(f"{path}: expected OpenAI's CLIP TorchScript archive or a CLIP state dict")
    sd = {k[len(PREFIX):]: v for k, v in full.items() if k.startswith(PREFIX)}
    if not sd:
        raise WeightsError(f"{path}: no {PREFIX}* tensors (not a CLIP model archive)")
    with torch.device("meta"):
        model = ClipVisionTransformer(_config_from(sd, heads))
    model = load_weights_strict(model, sd, path, "CLIP image tower (visual.*)")
    return model.to(map_location).eval()


def load_aesthetic_head(path, map_location="cpu") -> nn.Linear:
    """``sa_0_4_vit_l_14_linear.pth`` (``weight`` 1 x D, ``bias`` 1) -> ``nn.Linear(D, 1)``, strictly."""
    from vbench_i2v.errors import WeightsError

    sd = read_checkpoint(path)
    if not isinstance(sd, dict) or not isinstance(sd.get("weight"), torch.Tensor) or sd["weight"].ndim != 2:
        raise WeightsError(f"{path}: expected a state dict with 'weight' (1 x 768) and 'bias' (1): "
                           "the sa_0_4_vit_l_14_linear.pth format")
    with torch.device("meta"):
        head = nn.Linear(int(sd["weight"].shape[1]), 1)
    return load_weights_strict(head, sd, path, "LAION aesthetic linear head").to(map_location).eval()


# ---------------------------------------------------------------------------------------------------
# catalogued embedders


class ClipEmbedder(ImageEmbedder):
    """``embed_frames(frames, use)``: CLIP image embeddings (``encode_image``, not normalised)."""

    def __init__(self, weights_path, device="cpu", batch_size: int | None = None):
        model = load_published(weights_path)
        self._setup(model, device, batch_size, _spec_for(model))

    @classmethod
    def from_model(cls, model: ClipVisionTransformer, spec=None, device="cpu",
                   batch_size: int | None = None) -> "ClipEmbedder":
        obj = cls.__new__(cls)
        obj._setup(model, device, batch_size, spec or _spec_for(model))
        return obj

    def _setup(self, model, device, batch_size, spec) -> None:
        self.spec = spec
        self._setup_device(device, batch_size)
        self.model = model.float().eval().to(self.device)
        self.dim = model.cfg.output_dim

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _spec_for(model: ClipVisionTransformer):
    return CLIP_VIT_L14 if model.cfg.output_dim == 768 else CLIP_VIT_B32


class AestheticScorer(ImageEmbedder):
    """``embed_frames(frames, use)`` -> ``N x 1``: the LAION v1 linear head on the L2-normalised
    CLIP ViT-L/14 embedding (the raw score, about 1..10). ``weights_path`` is the head; the CLIP
    archive is ``clip_path``, by default the verified ``clip-vit-l14`` registry file."""

    spec = LAION_AESTHETIC_LINEAR
    dim = 1

    def __init__(self, weights_path, clip_path=None, device="cpu", batch_size: int | None = None):
        clip_sha = None
        if clip_path is None:
            from vbench_i2v import weights

            wf = weights.require(CLIP_VIT_L14.weights.name)
            clip_path, clip_sha = wf.path, wf.sha256
        self._setup(load_published(clip_path), load_aesthetic_head(weights_path), device, batch_size)
        if clip_sha:
            self.extra_weights_sha256 = {CLIP_VIT_L14.weights.name: clip_sha}

    @classmethod
    def from_models(cls, clip: ClipVisionTransformer, head: nn.Linear, device="cpu",
                    batch_size: int | None = None) -> "AestheticScorer":
        obj = cls.__new__(cls)
        obj._setup(clip, head, device, batch_size)
        return obj

    def _setup(self, clip, head, device, batch_size) -> None:
        from vbench_i2v.errors import WeightsError

        if head.in_features != clip.cfg.output_dim:
            raise WeightsError(f"aesthetic head takes {head.in_features}-d embeddings, the CLIP tower gives "
                               f"{clip.cfg.output_dim}-d")
        self._setup_device(device, batch_size)
        self.model = clip.float().eval().to(self.device)
        self.head = head.float().eval().to(self.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.normalize(self.model(x), dim=-1))


__all__ = ["AestheticScorer", "ClipEmbedder", "ClipVisionConfig", "ClipVisionTransformer", "VIT_B32", "VIT_L14",
           "is_torchscript", "load_aesthetic_head", "load_published", "read_torchscript_tensors"]
