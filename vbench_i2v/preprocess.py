"""Network input built from the network's input contract (timm's ``resolve_data_config`` ->
``create_transform``): the :class:`~vbench_i2v.specs.InputContract` is the data, this module the one
code that consumes it. ``preprocess(contract)`` returns the input builder of the contract's sampling
kind:

* clips (``central``, ``first``, ``every-2nd``, ``all``): :func:`videos_input`, uint8
  ``B x T x H x W x 3`` -> float32 ``B x 3 x T' x h x w``;
* ``per-frame``: :func:`frames_input`, uint8 ``N x H x W x 3`` -> float32 ``N x 3 x h x w``.

Per frame, in this order (each step a contract field): pick the frames (``native_frames``,
``sampling``, ``frames``); map 0..255 to ``value_range`` (``x / (255 / (hi - lo)) + lo``) first when
``pixels`` is ``scaled``; resample (``fit``, ``short_side``, ``size``, ``resize``: ``F.interpolate``
with ``align_corners=False``, or PIL for ``pil-uint8``; a frame already at the target size is not
resampled); round and clamp to 0..255 for ``rounded``; centre crop; map to ``value_range`` (the
other ``pixels`` kinds); ``(x - mean) / std``. Steps that are exact identities (a 0..255 range,
a zero mean, a unit std) are skipped. ``crop="face"`` networks run their detector themselves and
use :func:`frames_input` for frames without a face.

``device``: where the input is built and returned. The same code runs on any device: the uint8
frames the contract picks are moved there first (CUDA: copied into pinned host memory, then a
``non_blocking`` copy, so the host goes on decoding while the copy and the resize run on the GPU)
and every later step runs on it; ``pil-uint8`` frames are resized by PIL on the host before the
copy. On the CPU the device path is today's path, bit for bit. On CUDA the float kernels differ
from the CPU's by float rounding (``tests/test_gpu_preprocess.py`` states the bound); a ``rounded``
contract can then round a value lying within that rounding of ``k + 0.5`` the other way (one grey
level, rarely).

Only torch and numpy here (PIL for ``pil-uint8``); the contract module imports none of them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vbench_i2v.errors import InputError
from vbench_i2v.specs import Crop, Fit, InputContract, Pixels, Resize

CLIP_SAMPLINGS = ("central", "first", "every-2nd", "all")


def needed_frames(contract: InputContract) -> int:
    """The fewest frames a clip must have for the contract's sampling (after any resampling to
    ``native_frames``, which needs a time span: 2 frames)."""
    if contract.sampling == "per-frame":
        return 1
    if contract.native_frames:
        return 2
    n = contract.frames or 0
    return {"central": n, "first": n, "every-2nd": 2 * n - 1, "all": max(contract.min_frames, n)}[contract.sampling]


def frame_indices(t: int, contract: InputContract, what: str = "this network") -> np.ndarray:
    """Which frames of a ``t``-frame clip the network sees, or one InputError line naming the need."""
    need = needed_frames(contract)
    if t < need:
        raise InputError(f"{what} needs at least {need} frames per video ({contract.sampling} sampling), got {t}")
    native = contract.native_frames
    base = np.round(np.linspace(0, t - 1, native)).astype(int) if native and t != native else np.arange(t)
    n, k = len(base), contract.frames
    if contract.sampling == "central":
        start = n // 2 - k // 2
        return base[start : start + k]
    if contract.sampling == "first":
        return base[:k]
    if contract.sampling == "every-2nd":
        return base[: 2 * k - 1 : 2]
    return base


def _select(v, contract: InputContract, what: str):
    """The contract's frames of ``B x T x ...`` clips: a view for a contiguous run, else a copy."""
    t = v.shape[1]
    idx = frame_indices(t, contract, what)
    if len(idx) == t and (idx == np.arange(t)).all():
        return v
    if len(idx) and (np.diff(idx) == 1).all():
        return v[:, int(idx[0]) : int(idx[-1]) + 1]
    return v[:, torch.as_tensor(idx) if isinstance(v, torch.Tensor) else idx]


def resized_size(h: int, w: int, contract: InputContract) -> tuple[int, int]:
    """``(h, w)`` after resampling, before any crop (the frame's own size for ``resize="none"``)."""
    if contract.resize is Resize.NONE:
        return h, w
    if contract.fit is Fit.STRETCH:
        return tuple(contract.size)
    s = contract.short_side or contract.size[0]
    if contract.fit is Fit.SHORTER_SIDE:  # torchvision Resize(int)
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(s * long / short)
        return (new_long, s) if w <= h else (s, new_long)
    scale = s / min(h, w)  # VideoGPT
    return (s, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), s)


def crop_offsets(h: int, w: int, contract: InputContract) -> tuple[int, int] | None:
    """``(top, left)`` of the centre crop of an ``h x w`` resampled frame (None: no crop)."""
    if contract.crop is not Crop.CENTRE:
        return None
    ch, cw = contract.size
    if contract.fit is Fit.SHORTER_SIDE:  # torchvision CenterCrop
        return int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return (h - ch) // 2, (w - cw) // 2


def _pil_resample(frames_u8: torch.Tensor, size: tuple[int, int], resize: Resize) -> torch.Tensor:
    """Each uint8 ``H x W x 3`` frame resized by PIL as an 8-bit image -> uint8 ``N x h x w x 3`` (host)."""
    from PIL import Image

    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}[resize.kernel]
    arr = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(f)).resize((size[1], size[0]), resample))
                    for f in frames_u8.cpu().numpy()])
    return torch.from_numpy(arr)


def to_device(a, device=None) -> torch.Tensor:
    """``a`` (a tensor or a numpy array) as a tensor on ``device`` (None: where it is; a numpy array:
    the host). Host to CUDA: one copy into pinned (page-locked) host memory, then a ``non_blocking``
    copy, ordered before every later operation on the current stream (the caching host allocator
    keeps the pinned block until that copy is done). Anything else: ``Tensor.to``, no copy when
    ``a`` is already there."""
    device = None if device is None else torch.device(device)
    t = a if isinstance(a, torch.Tensor) else None
    if device is None or (t is not None and t.device == device):
        return t if t is not None else _to_torch(a)  # already there
    if device.type == "cuda" and (t is None or t.device.type == "cpu"):
        if t is not None:
            pinned = torch.empty(tuple(t.shape), dtype=t.dtype, pin_memory=True)
            pinned.copy_(t)
        else:  # any strides (a numpy view of the picked frames): copied once, by numpy
            arr = np.asarray(a)
            pinned = torch.empty(arr.shape, dtype=torch.from_numpy(np.empty(0, arr.dtype)).dtype, pin_memory=True)
            pinned.numpy()[...] = arr
        return pinned.to(device, non_blocking=True)
    return (t if t is not None else _to_torch(a)).to(device)


def _scale(x: torch.Tensor, contract: InputContract) -> torch.Tensor:
    lo, hi = contract.value_range
    if (lo, hi) == (0.0, 255.0):
        return x
    x = x.div(255.0 / (hi - lo))
    return x if lo == 0 else x.add(lo)


def _resample(x: torch.Tensor, h: int, w: int, size: tuple[int, int], resize: Resize) -> torch.Tensor:
    shrinking = size[0] < h or size[1] < w
    antialias = resize.antialias_for(shrinking)
    if antialias:  # torch's antialiased kernels: channels-first memory
        x = x.contiguous()
    return F.interpolate(x, size=size, mode=resize.kernel, align_corners=False, antialias=antialias)


def _frames(frames_u8: torch.Tensor, contract: InputContract, device=None) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` (torch, staged by :func:`_staged`: already on ``device``, or on the
    host for ``pil-uint8``) -> float ``N x 3 x h x w`` on ``device``, every per-frame step of the contract."""
    n, h, w, _ = frames_u8.shape
    size = resized_size(h, w, contract)
    resample = size != (h, w)
    if contract.pixels is Pixels.PIL_UINT8:
        u8 = _pil_resample(frames_u8, size, contract.resize) if resample else frames_u8
        x = to_device(u8, device).permute(0, 3, 1, 2).float()  # PIL's 8-bit frames travel
    else:
        x = frames_u8.permute(0, 3, 1, 2).float()  # a channels-last view of the N H W 3 memory
        if contract.pixels is Pixels.SCALED:
            x = _scale(x, contract)
        if resample:
            x = _resample(x, h, w, size, contract.resize)
        if contract.pixels is Pixels.ROUNDED:
            x = x.round().clamp_(0, 255)
    off = crop_offsets(size[0], size[1], contract)
    if off is not None:
        x = x[:, :, off[0] : off[0] + contract.size[0], off[1] : off[1] + contract.size[1]]
    if contract.pixels is not Pixels.SCALED:
        x = _scale(x, contract)
    if any(m != 0 for m in contract.mean):
        x = x - torch.tensor(contract.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    if any(s != 1 for s in contract.std):
        x = x / torch.tensor(contract.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return x


def _as_uint8(a, ndim: int, layout: str, what: str) -> torch.Tensor:
    if not isinstance(a, torch.Tensor):
        a = np.asarray(a)
    if a.ndim != ndim or a.shape[-1] != 3:
        raise InputError(f"{what}: expected uint8 {layout}, got shape {tuple(a.shape)}")
    if a.dtype not in (np.uint8, torch.uint8):
        raise InputError(f"{what}: expected uint8 {layout}, got dtype {a.dtype}")
    return a


def _to_torch(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))


def _staged(a, contract: InputContract, device) -> torch.Tensor:
    """The uint8 frames as a tensor where the contract's steps run: on ``device`` (one host copy,
    straight into pinned memory for CUDA, whatever the strides of the picked frames), except for
    ``pil-uint8`` contracts, whose frames PIL resizes on the host first."""
    if device is None or contract.pixels is Pixels.PIL_UINT8:
        return _to_torch(a)
    return to_device(a, device)


def videos_input(videos, contract: InputContract, what: str = "this network",
                 memory_format=torch.contiguous_format, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` clips -> float32 ``B x 3 x T' x h x w`` network input, per the
    contract (``memory_format``: the layout of the returned tensor). ``device``: where the frames
    the contract picks are resized and normalised, and the input returned (None: the host, or
    where ``videos`` already is)."""
    if contract.sampling not in CLIP_SAMPLINGS:
        raise ValueError(f"videos_input: {contract.sampling!r} sampling scores frames (frames_input)")
    v = _select(_as_uint8(videos, 5, "videos B x T x H x W x 3", what), contract, what)
    v = _staged(v, contract, device)  # only the picked frames travel
    b, t, h, w, _ = v.shape
    x = _frames(v.reshape(b * t, h, w, 3), contract, device)
    _, c, oh, ow = x.shape
    return x.reshape(b, t, c, oh, ow).permute(0, 2, 1, 3, 4).contiguous(memory_format=memory_format)


def frames_input(frames, contract: InputContract, what: str = "this network", device=None) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` frames -> float32 ``N x 3 x h x w`` network input, per the contract
    (frame by frame: any sampling kind's per-frame steps; a face network's whole-frame input), built
    on ``device`` (None: the host, or where ``frames`` already is)."""
    f = _staged(_as_uint8(frames, 4, "frames N x H x W x 3", what), contract, device)
    return _frames(f, contract, device).contiguous()


def preprocess(contract: InputContract, what: str = "this network", device=None):
    """The input builder of the contract's sampling kind (``create_transform``): ``per-frame`` ->
    ``frames -> N x 3 x h x w``; the clip samplings -> ``videos -> B x 3 x T' x h x w``; built on
    ``device`` (a network's feature pass gives its own device: CUDA resizes there)."""
    if contract.sampling == "per-frame":
        return lambda frames: frames_input(frames, contract, what, device=device)
    return lambda videos, **kw: videos_input(videos, contract, what, device=device, **kw)


__all__ = ["preprocess", "videos_input", "frames_input", "frame_indices", "needed_frames", "resized_size",
           "crop_offsets", "to_device"]
