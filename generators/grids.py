"""Sample grids: clips laid out as rows of frames (png) and as a tiled animation (gif)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbench_i2v.video_io import write_video


def frame_strip_grid(videos: np.ndarray, every: int = 4, pad: int = 2, firsts: np.ndarray | None = None) -> np.ndarray:
    """uint8 ``N x T x H x W x 3`` -> one image: a row per clip showing every ``every``-th frame.

    ``firsts`` (uint8 ``N x H x W x 3``), when given, is put in a leading column (the input image).
    """
    n, t, h, w, _ = videos.shape
    cols = [videos[:, i] for i in range(0, t, every)]
    if firsts is not None:
        cols = [firsts] + cols
    out = np.full((n * (h + pad) + pad, len(cols) * (w + pad) + pad, 3), 255, np.uint8)
    for r in range(n):
        for c, col in enumerate(cols):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            out[y : y + h, x : x + w] = col[r]
    return out


def tiled_video(videos: np.ndarray, ncols: int, pad: int = 2) -> np.ndarray:
    """uint8 ``N x T x H x W x 3`` -> ``T x H' x W' x 3``: the clips tiled side by side, played together."""
    n, t, h, w, _ = videos.shape
    nrows = -(-n // ncols)
    out = np.full((t, nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[:, y : y + h, x : x + w] = videos[i]
    return out


def save_sample_grid(stem: Path, videos: np.ndarray, firsts: np.ndarray | None, ncols: int) -> list[Path]:
    """Write ``stem.png`` (frame strips) and ``stem.gif`` (tiled animation) atomically."""
    from PIL import Image

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_suffix(".png")
    tmp = png.with_name(f".{png.name}.tmp")
    Image.fromarray(frame_strip_grid(videos, firsts=firsts)).save(tmp, format="PNG")
    tmp.replace(png)
    gif = write_video(stem.with_suffix(".gif"), tiled_video(videos, ncols), fps=8)
    return [png, Path(gif)]
