"""Seeded percentile-bootstrap 95% intervals, for per-video means and for set-level metrics."""

from __future__ import annotations

from typing import Callable

import numpy as np

from vbench_i2v.protocol import rng_for

DEFAULT_REPS = 1000
MEAN_CI_BLOCK = 1 << 18  # count-matrix entries drawn at once by mean_ci (2 MB of int64)


def _interval(stats: np.ndarray) -> list[float]:
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return [float(lo), float(hi)]


def mean_ci(values, seed: int = 0, reps: int = DEFAULT_REPS, key: str = "mean") -> list[float]:
    """95% interval of the mean of per-video values, resampling videos with replacement."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return [float(v.mean()), float(v.mean())] if len(v) else [float("nan")] * 2
    rng = rng_for(seed, "bootstrap", key)
    n, p = len(v), np.full(len(v), 1.0 / len(v))
    # The reps x n count matrix in blocks of rows: drawn in one piece it was 80 MB at 10,000 videos
    # (160 MB with its float copy), so peak memory grew with the number of videos. Drawing the rows
    # in blocks takes the same numbers from the stream (only the dot products' rounding may differ).
    rows = max(1, min(reps, MEAN_CI_BLOCK // n))
    means = np.empty(reps)
    for start in range(0, reps, rows):
        k = min(rows, reps - start)
        means[start:start + k] = rng.multinomial(n, p, size=k) @ v / n
    return _interval(means)


def two_sample_ci(stat: Callable[[np.ndarray, np.ndarray], float], n_real: int, n_fake: int,
                  seed: int = 0, reps: int = 200, key: str = "two-sample", point: float | None = None,
                  lower: float | None = None) -> list[float]:
    """95% interval of a set-level metric (FID, KID): ``stat(counts_real, counts_fake)`` is the
    metric on a resample of each set given as per-video counts.

    Resampling with replacement repeats videos, which shrinks a set's diversity and pushes FID up:
    the plain percentile interval of identical sets is e.g. [3, 48] around a value of 0. With
    ``point`` (the full-sample value) the percentiles are shifted by the bootstrap bias
    (mean of the resamples minus ``point``), so the interval is centred where the estimate is;
    ``lower`` clamps it to the metric's range (0 for FID)."""
    rng = rng_for(seed, "bootstrap", key)
    out = np.empty(reps)
    for r in range(reps):
        cx = rng.multinomial(n_real, np.full(n_real, 1.0 / n_real)).astype(np.float64)
        cy = rng.multinomial(n_fake, np.full(n_fake, 1.0 / n_fake)).astype(np.float64)
        out[r] = stat(cx, cy)
    lo, hi = _interval(out)
    if point is not None:
        bias = float(out.mean()) - float(point)
        lo, hi = lo - bias, hi - bias
        if lower is not None:
            lo, hi = max(lo, lower), max(hi, lower)
    return [lo, hi]
