"""The one place that converts pixels between the edge and model conventions.

Edge (files, datasets, metrics on pixels): uint8 ``T x H x W x 3`` (or ``B x T x H x W x 3``), RGB.
Models: float32 ``B x 3 x T x H x W`` in ``[-1, 1]``.
Images (one conditioning frame): uint8 ``H x W x 3`` at the edge, float32 ``B x 3 x H x W`` inside.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels, got {x.dtype}")
    return x


def video_to_model(frames) -> torch.Tensor:
    """uint8 ``[B x] T x H x W x 3`` -> float32 ``B x 3 x T x H x W`` in [-1, 1]."""
    x = _as_tensor(frames)
    if x.ndim == 4:
        x = x.unsqueeze(0)
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"expected [B x] T x H x W x 3 video, got shape {tuple(x.shape)}")
    return x.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def video_from_model(x: torch.Tensor) -> np.ndarray:
    """float ``B x 3 x T x H x W`` in [-1, 1] -> uint8 ``B x T x H x W x 3`` (rounded, clipped)."""
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"expected B x 3 x T x H x W, got shape {tuple(x.shape)}")
    y = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 4, 1).contiguous().cpu().numpy()


def image_to_model(image) -> torch.Tensor:
    """uint8 ``[B x] H x W x 3`` -> float32 ``B x 3 x H x W`` in [-1, 1]."""
    x = _as_tensor(image)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected [B x] H x W x 3 image, got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def image_from_model(x: torch.Tensor) -> np.ndarray:
    """float ``B x 3 x H x W`` in [-1, 1] -> uint8 ``B x H x W x 3``."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected B x 3 x H x W, got shape {tuple(x.shape)}")
    y = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()
