"""Inception-I3D (Kinetics-400) as used by the FVD routes, and its two published weight formats.

The network is the PyTorch port used by VideoGPT (``videogpt/fvd/pytorch_i3d.py``), TATS and
content-debiased-fvd: bias-free Conv3d + BatchNorm3d(eps=1e-5, momentum=0.001) + ReLU units,
TensorFlow "SAME" padding computed from the input size on every conv and max-pool, an
AvgPool3d((2, 7, 7), stride 1, VALID) and a 1x1x1 ``logits`` conv with bias (no BN, no ReLU).
The FVD feature is the 400 logits averaged over the remaining time steps (the TF graph's
``RGB/inception_i3d/Mean:0``). With 224x224 input the temporal size after the three stride-2
stages is ceil(ceil(ceil(T/2)/2)/2), and the (2, 7, 7) VALID pool needs it >= 2: T >= 9.

Weights: ``i3d_pretrained_400.pt`` (a plain state dict, 287 tensors, converted from
tfhub.dev/deepmind/i3d-kinetics-400/1 by TATS' ``convert_tf_pretrained.py``, BN scales set to 1)
loads with strict key checking; stylegan-v's TorchScript ``i3d_torchscript.pt`` is imported by
reading its tensors only (``torch.jit.load(...).state_dict()``), never by running its code.
See docs/fvd.md for every fact and where it was checked.

Why this module is over 400 lines: one network with its two published weight formats (state dict, TorchScript tensors) and its folded inference plan, which must stay in step with the layers.
"""

from __future__ import annotations

import re
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.i3d_routes import CONTRACTS, MIN_FRAMES, ROUTES  # noqa: F401
from vbench_i2v.preprocess import needed_frames, resized_size, videos_input
from vbench_i2v.specs import InputContract

NUM_CLASSES = 400
NUM_PARAMETERS = 12_697_264  # 400 classes; checked by tests/test_i3d.py
NUM_PUBLISHED_TENSORS = 287  # 57 conv+BN units x 5 tensors + logits weight and bias
BN_EPS = 1e-5  # VideoGPT's port (piergiaj's original uses 1e-3)
BN_MOMENTUM = 0.001

# (name, in channels, [b0, b1a, b1b, b2a, b2b, b3b] output channels)
MIXED = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
# Forward order of the named stages (the published module names).
ENDPOINTS = ("Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
             "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
             "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension: the extra pixel goes at the back."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    pads = [same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride)]
    if not any(a or b for a, b in pads):
        return x
    (tf, tb), (hf, hb), (wf, wb) = pads
    return F.pad(x, (wf, wb, hf, hb, tf, tb))


class Unit3D(nn.Module):
    """SAME-padded Conv3d (+ BatchNorm3d + ReLU); the ``logits`` unit has a bias and neither."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1),
                 batch_norm: bool = True, relu: bool = True, bias: bool = False, bn_eps: float = BN_EPS):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=BN_MOMENTUM) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max-pool with SAME padding by zeros, as VideoGPT's port does; every pool follows a ReLU
    (inputs >= 0), so zeros give the same maxima as TensorFlow's -inf padding."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    def __init__(self, in_channels: int, out: tuple[int, ...], bn_eps: float = BN_EPS):
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0], bn_eps=bn_eps)
        self.b1a = Unit3D(in_channels, out[1], bn_eps=bn_eps)
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(in_channels, out[3], bn_eps=bn_eps)
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3), bn_eps=bn_eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5], bn_eps=bn_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3D(nn.Module):
    """Inception-v1 I3D (Carreira & Zisserman 2017) with the published module names.

    ``forward`` returns the FVD features: logits averaged over time, ``B x 400``. Dropout before
    the logits is the identity at inference and holds no parameters, so it is left out.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, bn_eps: float = BN_EPS):
        super().__init__()
        self.bn_eps = bn_eps
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, bn_eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name, cin, out in MIXED[:2]:
            setattr(self, name, InceptionModule(cin, out, bn_eps))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        for name, cin, out in MIXED[2:7]:
            setattr(self, name, InceptionModule(cin, out, bn_eps))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        for name, cin, out in MIXED[7:]:
            setattr(self, name, InceptionModule(cin, out, bn_eps))
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1))  # VALID
        self.logits = Unit3D(1024, num_classes, batch_norm=False, relu=False, bias=True)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        for name in ENDPOINTS:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _logits_mean(self.logits(self.avg_pool(self.trunk(x))))


def _logits_mean(x: torch.Tensor) -> torch.Tensor:
    if x.shape[3:] != (1, 1):
        raise ValueError(f"I3D expects 224x224 frames (logits map {tuple(x.shape[3:])}, not 1x1)")
    return x[:, :, :, 0, 0].mean(dim=2)


def i3d(num_classes: int = NUM_CLASSES, bn_eps: float = BN_EPS) -> InceptionI3D:
    return InceptionI3D(num_classes, bn_eps)


# --- weight files --------------------------------------------------------------------------------

def published_keys(model: InceptionI3D) -> list[str]:
    return [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]


def save_published(model: InceptionI3D, path) -> None:
    """State dict in the ``i3d_pretrained_400.pt`` format: 287 tensors, no ``num_batches_tracked``."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, path)


def _load_state_dict(model: InceptionI3D, sd: dict, path) -> InceptionI3D:
    from vbench_i2v.errors import WeightsError

    # A DataParallel `module.` prefix is stripped on purpose (forks save it that way); BN step
    # counters are not weights and the release has none, so they are dropped if present.
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()
          if not k.endswith("num_batches_tracked")}
    want = published_keys(model)
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in set(want)]
    if missing or unexpected:
        raise WeightsError(f"{path}: not an I3D (Kinetics-400) state dict: missing {len(missing)} key(s) "
                           f"{missing[:3]}{'...' if len(missing) > 3 else ''}, unexpected {len(unexpected)} "
                           f"{unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
    ours = model.state_dict()
    bad = [f"{k} {tuple(sd[k].shape)} (expected {tuple(ours[k].shape)})" for k in want if sd[k].shape != ours[k].shape]
    if bad:
        raise WeightsError(f"{path}: I3D tensor shapes do not match: {', '.join(bad[:3])}")
    model.load_state_dict({k: sd[k] for k in want}, strict=False)
    return model.eval()


def load_published(path, map_location="cpu") -> InceptionI3D:
    """Build I3D and load ``i3d_pretrained_400.pt`` (weights_only, strict keys and shapes)."""
    from vbench_i2v.errors import WeightsError

    try:
        sd = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a PyTorch state dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{path}: expected a plain state dict of tensors (the i3d_pretrained_400.pt format)")
    num_classes = sd["logits.conv3d.bias"].shape[0] if "logits.conv3d.bias" in sd else NUM_CLASSES
    return _load_state_dict(i3d(num_classes), sd, path)


def is_torchscript(path) -> bool:
    """TorchScript archives carry a ``code/`` folder; ``torch.save`` zips do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n or n.startswith("code/") for n in z.namelist())


_ROLE_PATTERNS = (  # last name segment -> role of a tensor in a conv(+BN) unit
    ("mean", re.compile(r"(running|moving)_?mean$", re.I)),
    ("var", re.compile(r"(running|moving)_?var(iance)?$", re.I)),
    ("gamma", re.compile(r"(gamma|scale)$", re.I)),
    ("beta", re.compile(r"beta$", re.I)),
)


def _role(name: str, tensor: torch.Tensor) -> str:
    leaf = re.split(r"[./]", name)[-1]
    for role, pat in _ROLE_PATTERNS:
        if pat.search(leaf):
            return role
    if tensor.ndim == 5:
        return "conv"
    if re.search(r"(bias|(^|_)b(:0)?)$", leaf, re.I):
        return "bias"
    return "gamma" if re.search(r"weight$", leaf, re.I) else "?"


def _map_by_order(src: list[tuple[str, torch.Tensor]], model: InceptionI3D, path) -> dict[str, torch.Tensor]:
    """Map foreign names to ours: walk units in forward order, checking every role and shape.

    Each of our conv+BN units expects [conv 5-D weight, BN gamma (optional: ones if the file has
    none, as the TF-hub graph has no BN scale), beta, moving mean, moving variance]; the logits
    unit expects [weight, bias]. A tensor whose role (read from its name) or shape differs from
    what comes next is an error naming both.
    """
    from vbench_i2v.errors import WeightsError

    ours = model.state_dict()
    units = [k[: -len(".conv3d.weight")] for k in ours if k.endswith(".conv3d.weight")]
    out: dict[str, torch.Tensor] = {}
    i = 0

    def take(expect_role: str, key: str, optional: bool = False):
        nonlocal i
        if i < len(src):
            name, t = src[i]
            role = _role(name, t)
            ok_role = role == expect_role or (expect_role in ("beta", "bias") and role in ("beta", "bias"))
            if ok_role and tuple(t.shape) == tuple(ours[key].shape):
                out[key] = t
                i += 1
                return
            if optional and role != expect_role:
                return
            raise WeightsError(f"{path}: TorchScript tensor #{i} {name!r} {tuple(t.shape)} (read as {role}) does not "
                               f"fit {key} {tuple(ours[key].shape)} ({expect_role})")
        if optional:
            return
        raise WeightsError(f"{path}: TorchScript file ends before {key}")

    for u in units:
        take("conv", f"{u}.conv3d.weight")
        if f"{u}.bn.bias" in ours:
            take("gamma", f"{u}.bn.weight", optional=True)
            if f"{u}.bn.weight" not in out:
                out[f"{u}.bn.weight"] = torch.ones_like(ours[f"{u}.bn.weight"])
            take("beta", f"{u}.bn.bias")
            take("mean", f"{u}.bn.running_mean")
            take("var", f"{u}.bn.running_var")
        else:
            take("bias", f"{u}.conv3d.bias")
    if i != len(src):
        raise WeightsError(f"{path}: TorchScript file has {len(src) - i} tensor(s) beyond the I3D weights "
                           f"(first {src[i][0]!r})")
    return out


def _torchscript_bn_eps(module) -> float | None:
    """The BN epsilon stored in a TorchScript module (BatchNorm constants, else the code text)."""
    for _, sub in module.named_modules():
        eps = getattr(sub, "eps", None)
        if isinstance(eps, float):
            return eps
    try:
        texts = [module.code] + [getattr(sub, "code", "") for _, sub in module.named_modules()]
    except Exception:
        return None
    for text in texts:
        m = re.search(r"batch_norm\((?:[^()]|\([^()]*\))*?,\s*([0-9.]+(?:e-?[0-9]+)?)\s*,\s*(?:True|False)\)", text or "")
        if m:
            return float(m.group(1))
    return None


def load_styleganv_torchscript(path, map_location="cpu", bn_eps: float | None = None) -> InceptionI3D:
    """Import stylegan-v's ``i3d_torchscript.pt`` into ``InceptionI3D`` by reading its tensors.

    ``torch.jit.load`` only deserialises the archive; nothing it contains is called. Names
    identical to ours (after any prefix) map directly; otherwise tensors map in order with every
    role and shape checked (the TorchScript's own parameter names could not be checked against a
    published listing, so the mapping does not depend on them). BN epsilon: the file's own if it
    is stored as a BatchNorm constant or in its code text, else ``bn_eps``, else 1e-3 (the
    TF/Sonnet default of the tf.hub graph it reproduces); ``model.bn_eps_source`` says which.
    """
    from vbench_i2v.errors import WeightsError

    try:
        ts = torch.jit.load(str(path), map_location=map_location)
        tensors = [(k, v.detach()) for k, v in ts.state_dict().items()]
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a TorchScript archive ({type(exc).__name__}: {exc})") from None
    tensors = [(k, v) for k, v in tensors if not k.endswith("num_batches_tracked") and v.ndim > 0]
    found = _torchscript_bn_eps(ts)
    eps, source = (found, "file") if found is not None else ((bn_eps, "argument") if bn_eps is not None else (1e-3, "assumed"))
    model = i3d(bn_eps=eps)
    names = published_keys(model)
    direct = {}
    for k, v in tensors:
        for n in names:
            if k == n or k.endswith("." + n):
                direct[n] = v
                break
    if len(direct) == len(tensors) and set(direct) == set(names):
        sd = direct
    else:
        sd = _map_by_order(tensors, model, path)
    model = _load_state_dict(model, sd, path)
    model.bn_eps_source = source
    return model


def load_any(path, map_location="cpu") -> InceptionI3D:
    """Loader for the weights registry: TorchScript archive or plain state dict, detected by content."""
    if is_torchscript(path):
        return load_styleganv_torchscript(path, map_location)
    return load_published(path, map_location)


# --- input contracts -----------------------------------------------------------------------------

# The routes as data (torch-free, read by the extractor catalog too): vbench_i2v/i3d_routes.py;
# their InputContracts are what vbench_i2v/preprocess.py builds the input from.


def _route_name(contract: InputContract) -> str:
    return next((name for name, c in CONTRACTS.items() if c == contract), "custom")


def select_frames(videos, contract: InputContract):
    """The frames a route scores, or an InputError naming what it needs (``too_few_frames``)."""
    from vbench_i2v.errors import InputError

    t = videos.shape[-4]
    need = needed_frames(contract)
    if t < need:
        what = f"{contract.frames} consecutive frames" if contract.sampling == "first" else f"at least {need} frames"
        raise InputError(f"FVD route {_route_name(contract)!r} (I3D) needs {what} per video, got {t} "
                         "(too_few_frames)")
    return videos if contract.sampling == "all" else videos[..., : contract.frames, :, :, :]


def resize_size(h: int, w: int, contract: InputContract) -> tuple[int, int]:
    """The resized frame size before the route's crop (``preprocess.resized_size``)."""
    return resized_size(h, w, contract)


def preprocess(videos, contract: InputContract, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` -> float32 ``B x 3 x T' x side x side`` in [-1, 1], per the contract,
    built on ``device`` (the network's in its feature pass: CUDA resizes there).

    All frames of the batch are resized in one ``F.interpolate`` call (a per-sample operation, so
    the result equals resizing frame by frame).
    """
    select_frames(videos, contract)  # the route's wording for clips that are too short
    return videos_input(videos, contract, f"FVD route {_route_name(contract)!r} (I3D)", device=device)


# --- fast inference plan -------------------------------------------------------------------------

class _Conv:
    """``relu(bn(conv(pad(x))))`` as one conv with BN folded in (float64 fold); symmetric SAME
    padding goes into the conv, asymmetric SAME padding (stride 2) stays an explicit pad."""

    def __init__(self, weight, bias, kernel, stride, relu):
        self.weight, self.bias, self.kernel, self.stride, self.relu = weight, bias, kernel, stride, relu

    @classmethod
    def from_unit(cls, u: Unit3D, fmt) -> "_Conv":
        with torch.no_grad():
            w = u.conv3d.weight.double()
            if u.bn is not None:
                scale = u.bn.weight.double() / torch.sqrt(u.bn.running_var.double() + u.bn.eps)
                b = u.bn.bias.double() - u.bn.running_mean.double() * scale
                w = w * scale.view(-1, 1, 1, 1, 1)
            else:
                b = u.conv3d.bias.double()
        return cls(w.float().contiguous(memory_format=fmt), b.float(), u.kernel, u.stride, u.relu)

    @classmethod
    def concat(cls, convs: list["_Conv"], fmt) -> "_Conv":
        return cls(torch.cat([c.weight for c in convs]).contiguous(memory_format=fmt),
                   torch.cat([c.bias for c in convs]), convs[0].kernel, convs[0].stride, convs[0].relu)

    def to(self, device) -> None:
        self.weight, self.bias = self.weight.to(device), self.bias.to(device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pads = [same_padding(s, k, st) for s, k, st in zip(x.shape[2:], self.kernel, self.stride)]
        if all(a == b for a, b in pads):
            y = F.conv3d(x, self.weight.to(x.dtype), self.bias.to(x.dtype), self.stride, [a for a, _ in pads])
        else:
            (tf, tb), (hf, hb), (wf, wb) = pads
            y = F.conv3d(F.pad(x, (wf, wb, hf, hb, tf, tb)), self.weight.to(x.dtype), self.bias.to(x.dtype), self.stride)
        return y.relu_() if self.relu else y


class FoldedI3D:
    """Inference plan for ``InceptionI3D.forward`` with the same weights: BN folded into each conv,
    the three 1x1x1 branch convs that read the same input of an Inception module run as one conv,
    symmetric padding done inside the conv, channels_last_3d. The model is only read.
    Why: fewer passes over memory and larger GEMMs; features agree with the eager model to ~1e-6.
    """

    def __init__(self, model: InceptionI3D, channels_last: bool = True):
        fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
        self.fmt = fmt
        self.stages = []
        for name in ENDPOINTS:
            m = getattr(model, name)
            if isinstance(m, Unit3D):
                self.stages.append(("conv", _Conv.from_unit(m, fmt)))
            elif isinstance(m, MaxPool3dSame):
                self.stages.append(("pool", m))
            else:
                c0, c1a, c2a = (_Conv.from_unit(u, fmt) for u in (m.b0, m.b1a, m.b2a))
                splits = [c0.weight.shape[0], c1a.weight.shape[0], c2a.weight.shape[0]]
                self.stages.append(("mixed", (_Conv.concat([c0, c1a, c2a], fmt), splits, _Conv.from_unit(m.b1b, fmt),
                                              _Conv.from_unit(m.b2b, fmt), _Conv.from_unit(m.b3b, fmt))))
        self.avg_pool = model.avg_pool
        self.logits = _Conv.from_unit(model.logits, fmt)

    def to(self, device) -> "FoldedI3D":
        for kind, s in self.stages:
            if kind == "conv":
                s.to(device)
            elif kind == "mixed":
                for c in (s[0], s[2], s[3], s[4]):
                    c.to(device)
        self.logits.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=self.fmt)
        for kind, s in self.stages:
            if kind == "conv":
                x = s(x)
            elif kind == "pool":
                x = s(x)
            else:
                first, splits, c1b, c2b, c3b = s
                y0, y1, y2 = first(x).split(splits, dim=1)
                y3 = c3b(F.max_pool3d(x, 3, 1, 1))  # symmetric SAME (1 each side); inputs >= 0
                x = torch.cat([y0, c1b(y1), c2b(y2), y3], 1)
        return _logits_mean(self.logits(self.avg_pool(x)))


class I3DFVDExtractor:
    """400-d FVD features (I3D logits averaged over time) for one route's input contract.

    ``route="fvd"`` (VideoGPT/TATS-style port, default) or ``"fvd-styleganv"``; the weights file
    may be either published format (``load_any``). ``fast=False`` runs the eager model.
    """

    name = "i3d-kinetics400"
    weights_name = "i3d-kinetics400"
    dim = NUM_CLASSES

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 8, route: str = "fvd",
                 channels_last: bool = True, fast: bool = True):
        self._setup(load_any(weights_path), device, batch_size, route, channels_last, fast)

    @classmethod
    def from_model(cls, model: InceptionI3D, device: str = "cpu", batch_size: int = 8, route: str = "fvd",
                   channels_last: bool = True, fast: bool = True) -> "I3DFVDExtractor":
        ex = cls.__new__(cls)
        ex._setup(model.eval(), device, batch_size, route, channels_last, fast)
        return ex

    def _setup(self, model, device, batch_size, route, channels_last, fast) -> None:
        from vbench_i2v.errors import InputError

        if route not in CONTRACTS:
            raise InputError(f"unknown I3D route {route!r} (known: {', '.join(CONTRACTS)})")
        self.contract = CONTRACTS[route]
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.batch_size, self.channels_last, self.fast = batch_size, channels_last, fast
        self._plan = None

    def preprocess(self, videos, device=None) -> torch.Tensor:
        return preprocess(videos, self.contract, device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fast:
            return self.model(x)
        if self._plan is None:
            self._plan = FoldedI3D(self.model, self.channels_last).to(self.device)
        return self._plan(x)

    @torch.inference_mode()
    def features(self, videos) -> np.ndarray:
        select_frames(videos, self.contract)  # refuse short clips before any work
        out = []
        for i in range(0, len(videos), self.batch_size):
            x = self.preprocess(videos[i : i + self.batch_size], self.device)
            out.append(self._forward(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))
