"""Controlled corruptions of uint8 ``T x H x W x 3`` videos, each at graded strengths.

A metric that is worth reporting should get worse, monotonically, as a clean video set is
degraded, and it should notice broken *motion* as readily as blurry *pixels*. These functions make
the degraded sets: three spatial corruptions (blur, noise, JPEG) that leave the frame order alone,
and four temporal ones (frozen, shuffled, reversed, dropped frames) that leave every frame's pixels
alone and only change which frame is shown when. Everything is numpy (plus PIL's JPEG codec),
deterministic given the ``rng`` passed in, and returns a new uint8 array of the input's shape.

:data:`CORRUPTIONS` lists them with their parameter ranges; :meth:`Corruption.levels` spaces
``n`` strengths from the mild end to the strong end.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np

from vbench_i2v.errors import InputError


def _check(video) -> np.ndarray:
    v = np.asarray(video)
    if v.dtype != np.uint8 or v.ndim != 4 or v.shape[-1] != 3:
        raise InputError(f"corruptions take uint8 T x H x W x 3 videos, got {v.dtype} {v.shape}")
    return v


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Round half to even and clip to 0..255 (how every float result here returns to uint8)."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _check_fraction(fraction: float) -> float:
    f = float(fraction)
    if not 0.0 <= f <= 1.0:
        raise InputError(f"fraction must be in [0, 1], got {fraction}")
    return f


# ---------------------------------------------------------------------------------- spatial

def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 1-D Gaussian ``exp(-x^2 / 2 sigma^2)`` on ``x = -r..r``, ``r = int(truncate*sigma + 0.5)``
    (the radius rule of scipy.ndimage.gaussian_filter, so the two agree to rounding)."""
    r = int(truncate * float(sigma) + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return k / k.sum()


def _convolve_axis(x: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``x`` with the symmetric kernel ``k`` along ``axis``, edges mirrored with the edge
    sample repeated (numpy's 'symmetric' = scipy.ndimage's 'reflect': d c b a | a b c d | d c b a)."""
    r = (len(k) - 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    xp = np.pad(x, pad, mode="symmetric")
    n = x.shape[axis]
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * np.take(xp, np.arange(i, i + n), axis=axis)
    return out


def blur_float(video, sigma: float) -> np.ndarray:
    """:func:`gaussian_blur` before rounding (float64), for checks against scipy."""
    v = _check(video).astype(np.float64)
    if sigma <= 0:
        return v
    k = gaussian_kernel(sigma)
    return _convolve_axis(_convolve_axis(v, k, 1), k, 2)


def gaussian_blur(video, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blur every frame and colour channel separately with a 2-D Gaussian of std ``sigma`` pixels
    (separable, truncated at 4 sigma, mirrored edges), then round to uint8. Time is not blurred.
    Equals ``scipy.ndimage.gaussian_filter(v.astype(float), sigma=(0, sigma, sigma, 0))`` rounded."""
    return _to_uint8(blur_float(video, sigma))


def gaussian_noise(video, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add independent ``N(0, std^2)`` noise (in 0..255 grey levels) to every pixel and channel of every
    frame, then round and clip to 0..255 (so the measured std is ``std`` except where clipping bites)."""
    v = _check(video)
    if std < 0:
        raise InputError(f"noise std must be >= 0, got {std}")
    return _to_uint8(v.astype(np.float64) + rng.normal(0.0, float(std), size=v.shape))


JPEG_SUBSAMPLING = "4:2:0"  # PIL's default for these qualities, stated so it cannot drift


def jpeg_frame(frame: np.ndarray, quality: int) -> np.ndarray:
    """One ``H x W x 3`` frame through PIL's baseline JPEG encoder (``quality``, 4:2:0 chroma) and back."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="JPEG", quality=int(quality),
                                                      subsampling=JPEG_SUBSAMPLING)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def jpeg_compress(video, quality: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Encode every frame separately as a JPEG at ``quality`` (1..95, rounded to an integer; lower is
    worse) with PIL and decode it again: blocking, ringing and chroma loss, frame by frame."""
    v = _check(video)
    q = int(round(quality))
    if not 1 <= q <= 95:
        raise InputError(f"JPEG quality must be in 1..95, got {quality}")
    return np.stack([jpeg_frame(f, q) for f in v]) if len(v) else v.copy()


# --------------------------------------------------------------------------------- temporal
# Each temporal corruption is an index map: out[t] = video[index[t]]; the *_index functions give it.

def freeze_index(t: int, fraction: float) -> np.ndarray:
    """``k = round(fraction * (T-1))``: the last ``k`` frames show frame ``T-1-k`` (the clip stops
    moving there). fraction 1 -> every frame is frame 0; fraction 0 -> unchanged."""
    k = int(round(_check_fraction(fraction) * (t - 1))) if t > 0 else 0
    return np.minimum(np.arange(t), t - 1 - k)


def freeze_frames(video, fraction: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Frozen frames: the clip plays normally, then holds one frame for the last ``fraction`` of its
    length (``round(fraction*(T-1))`` frames); at fraction 1 it is frame 0 repeated ``T`` times."""
    v = _check(video)
    return v[freeze_index(len(v), fraction)]


def shuffle_index(t: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``0..T-1`` that moves exactly ``k = round(fraction*T)`` frames (``k = 1`` is
    raised to 2: one frame cannot move alone). The ``k`` positions are drawn at random and cycled in a
    random order, so none of them keeps its own frame (a derangement of those positions)."""
    idx = np.arange(t)
    k = int(round(_check_fraction(fraction) * t))
    if k == 1 and t >= 2:
        k = 2
    if k < 2:
        return idx
    pos = rng.choice(t, size=k, replace=False)  # random positions in a random order
    idx[pos] = np.roll(pos, -1)  # position pos[i] now shows frame pos[i+1]
    return idx


def shuffle_frames(video, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Shuffled frames: ``round(fraction*T)`` randomly chosen frames swap places among themselves,
    each one ending somewhere else; the other frames stay put. Same frames, wrong order."""
    v = _check(video)
    return v[shuffle_index(len(v), fraction, rng)]


def reverse_index(t: int, fraction: float = 1.0) -> np.ndarray:
    """``k = round(fraction*T)``: the first ``k`` frames in reverse order, then the rest as they were
    (fraction 1 -> ``T-1 .. 0``, the whole clip backwards)."""
    k = int(round(_check_fraction(fraction) * t))
    idx = np.arange(t)
    idx[:k] = idx[:k][::-1]
    return idx


def reverse_time(video, fraction: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Reversed time: the first ``round(fraction*T)`` frames play backwards; at fraction 1 the output
    is exactly ``video[::-1]`` (every frame intact, the motion running the wrong way)."""
    v = _check(video)
    return v[reverse_index(len(v), fraction)]


def drop_index(t: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``k = round(fraction*(T-1))`` of frames ``1..T-1`` (drawn at random; frame 0 is always kept)
    are dropped, and each dropped slot shows the last kept frame before it, so the length stays ``T``."""
    k = int(round(_check_fraction(fraction) * (t - 1))) if t > 1 else 0
    kept = np.ones(t, bool)
    if k:
        kept[1 + rng.choice(t - 1, size=k, replace=False)] = False
    return np.maximum.accumulate(np.where(kept, np.arange(t), 0))


def drop_frames(video, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Dropped frames: a random ``fraction`` of frames 1..T-1 is removed and each gap is filled by
    repeating the previous kept frame (a stutter: motion jumps, then holds)."""
    v = _check(video)
    return v[drop_index(len(v), fraction, rng)]


# ------------------------------------------------------------------------------------ table

@dataclass(frozen=True)
class Corruption:
    """A corruption and its strength range: ``fn(video, value, rng)``; ``mild`` .. ``strong`` spaced
    linearly or geometrically by :meth:`levels`."""

    name: str
    kind: str  # "spatial" or "temporal"
    parameter: str
    mild: float
    strong: float
    spacing: str  # "linear" or "geometric"
    fn: Callable
    description: str
    integer: bool = False

    def levels(self, n: int) -> list[float]:
        """``n`` strengths from mild to strong; ``n = 1`` gives the strong end only."""
        if n < 1:
            raise InputError(f"need at least 1 strength level, got {n}")
        if n == 1:
            vals = np.array([self.strong], float)
        elif self.spacing == "geometric":
            vals = np.geomspace(self.mild, self.strong, n)
        else:
            vals = np.linspace(self.mild, self.strong, n)
        return [float(round(x)) if self.integer else float(x) for x in vals]

    def apply(self, video, value: float, rng: np.random.Generator) -> np.ndarray:
        return self.fn(video, value, rng)


CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in (
    Corruption("blur", "spatial", "sigma", 0.5, 2.0, "geometric", gaussian_blur,
               "Gaussian blur of every frame, std sigma pixels"),
    Corruption("noise", "spatial", "std", 4.0, 32.0, "geometric", gaussian_noise,
               "additive Gaussian pixel noise, std in grey levels (0..255)"),
    Corruption("jpeg", "spatial", "quality", 90.0, 10.0, "linear", jpeg_compress,
               "per-frame JPEG encode/decode (PIL, 4:2:0) at this quality", integer=True),
    Corruption("frozen", "temporal", "fraction", 0.25, 1.0, "linear", freeze_frames,
               "the last fraction of the clip holds one frame (1 = a still image of frame 0)"),
    Corruption("shuffled", "temporal", "fraction", 0.25, 1.0, "linear", shuffle_frames,
               "this fraction of frames permuted among themselves, each displaced"),
    Corruption("reversed", "temporal", "fraction", 1.0 / 3.0, 1.0, "linear", reverse_time,
               "the first fraction of the clip played backwards (1 = video[::-1])"),
    Corruption("dropped", "temporal", "fraction", 0.25, 0.75, "linear", drop_frames,
               "this fraction of frames 1..T-1 removed, each gap filled with the previous kept frame"),
)}
