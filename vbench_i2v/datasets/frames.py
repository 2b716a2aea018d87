"""Frame geometry shared by the loaders and the face crop: central square, resize to the protocol size."""

from __future__ import annotations

import numpy as np


def center_square(frames: np.ndarray) -> np.ndarray:
    """Crop ``T x H x W x 3`` frames to their central square."""
    t, h, w, _ = frames.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return frames[:, y0 : y0 + s, x0 : x0 + s]


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 frames to ``size x size`` with PIL bilinear (antialiased when shrinking)."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return np.ascontiguousarray(frames)
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames])
