"""LPIPS per frame: generated vs real (paired, same frame index) and generated vs the conditioning image.

Pure functions over one clip: uint8 ``T x H x W x 3`` in, float64 per-frame distances out (lower is
more similar). Which frames count is the caller's policy, so ``frames`` is required: for
image-to-video the conditioning frame 0 is usually left out of paired scores (``range(1, T)``).
Frames are scored at native size in batches of ``model.batch_size`` (see
``feature_extractors/lpips_net.py`` for the network and its input contract).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vbench_i2v.errors import InputError
from vbench_i2v.tensors import image_to_model


def _clip(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise InputError(f"LPIPS {what}: expected uint8 pixels, got {x.dtype}")
    if x.ndim != 4 or x.shape[-1] != 3:
        raise InputError(f"LPIPS {what}: expected a T x H x W x 3 clip, got shape {x.shape}")
    return x


def frame_indices(frames: Sequence[int] | range | slice, t: int) -> np.ndarray:
    """The chosen frame numbers as an int array, checked against the clip length ``t``."""
    if isinstance(frames, slice):
        idx = np.arange(t)[frames]
    else:
        idx = np.asarray(list(frames) if isinstance(frames, range) else frames)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError(f"LPIPS frames: expected a list of frame numbers, got {frames!r}")
        idx = idx.astype(np.int64)
    if idx.size == 0:
        raise InputError(f"LPIPS frames: no frames selected from a {t}-frame clip")
    if idx.min() < 0 or idx.max() >= t:
        raise InputError(f"LPIPS frames: frame numbers must lie in 0..{t - 1}, got {idx.min()}..{idx.max()}")
    return idx


def _to_model(frames: np.ndarray, model):
    return image_to_model(frames).to(model.device)


def lpips_paired(fake, real, model, *, frames) -> np.ndarray:
    """LPIPS between ``fake[i]`` and ``real[i]`` for each ``i`` in ``frames``; float64 array."""
    fake, real = _clip(fake, "fake"), _clip(real, "real")
    if fake.shape != real.shape:
        raise InputError(f"LPIPS: paired clips differ in shape: {fake.shape} vs {real.shape} "
                         "(same frame count and size needed)")
    idx = frame_indices(frames, fake.shape[0])
    d = model.distance(_to_model(fake[idx], model), _to_model(real[idx], model))
    return d.double().cpu().numpy()


def lpips_to_conditioning(fake, cond_image, model, *, frames) -> np.ndarray:
    """LPIPS between each chosen ``fake`` frame and the conditioning image (first-frame fidelity)."""
    fake = _clip(fake, "fake")
    cond = np.asarray(cond_image)
    if cond.dtype != np.uint8 or cond.shape != fake.shape[1:]:
        raise InputError(f"LPIPS: conditioning image must be uint8 {fake.shape[1:]} like the frames, "
                         f"got {cond.dtype} {cond.shape}")
    idx = frame_indices(frames, fake.shape[0])
    d = model.distance(_to_model(fake[idx], model), _to_model(cond, model))  # cond features computed once
    return d.double().cpu().numpy()
