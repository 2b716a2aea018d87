"""FID-inf / FVD-inf: the Frechet distance extrapolated to infinitely many generated samples.

Chong & Forsyth (CVPR 2020, "Effectively Unbiased FID and Inception Score and where to find
them") show that FID_N is, to first order, linear in 1/N: ``FID_N = FID_inf + b / N``. Their code
(mchong6/FID_IS_infinity, ``score_infinity.py``) evaluates FID_N at 15 values of N linearly
spaced from 5,000 to 50,000 generated images (``np.linspace(5000, num_im, 15)``), one random
subset of the generated activations per N, the real statistics fixed, and takes the intercept
of an ordinary least-squares line in 1/N.

Video sets are small, so here N runs over ``n_points`` values (default 10) linearly spaced from
``n_total // 5`` to ``n_total``, with ``reps`` random subsets (without replacement, seeded) per N
except N = n_total (every subset is the whole set). The interval is the usual 95% t interval
of the OLS intercept from the regression's standard error (``scipy.stats.linregress``'s
``intercept_stderr``). Caveat: subsets of one finite set overlap, so the points are not
independent and the interval is optimistic; it says how well the line fits, not the full
sampling uncertainty of the fake set (for that, bootstrap the videos).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from vbench_i2v.errors import InputError

DEFAULT_POINTS = 10
DEFAULT_REPS = 3


def default_ns(n_total: int, n_points: int = DEFAULT_POINTS, n_min: int | None = None) -> np.ndarray:
    """Sample sizes: ``n_points`` linearly spaced from ``n_min`` (default n_total // 5) to n_total."""
    lo = max(int(n_min) if n_min is not None else n_total // 5, 2)
    if lo >= n_total:
        raise InputError(f"FVD-inf needs a range of sample sizes: smallest N {lo} is not below the {n_total} videos")
    return np.unique(np.linspace(lo, n_total, n_points).astype(int))


def fit_inverse_n(ns, scores) -> dict:
    """Least-squares ``score = a + b / N``; intercept a, slope b, a's standard error and 95% interval."""
    from scipy import stats

    x = 1.0 / np.asarray(ns, np.float64)
    y = np.asarray(scores, np.float64)
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        raise InputError("FVD-inf needs at least 3 points at 2 or more sample sizes to fit a + b/N")
    xm, ym = x.mean(), y.mean()
    sxx = np.sum((x - xm) ** 2)
    b = float(np.sum((x - xm) * (y - ym)) / sxx)
    a = float(ym - b * xm)
    resid = y - (a + b * x)
    s2 = float(np.sum(resid ** 2) / (n - 2))
    se = float(np.sqrt(s2 * (1.0 / n + xm ** 2 / sxx)))
    half = float(stats.t.ppf(0.975, n - 2)) * se
    return {"value": a, "slope": b, "se": se, "ci95": (a - half, a + half)}


def extrapolate_inf(score_at: Callable[[np.ndarray], float], n_total: int, seed: int = 0,
                    n_points: int = DEFAULT_POINTS, reps: int = DEFAULT_REPS, n_min: int | None = None,
                    ns=None) -> dict:
    """Score at several subset sizes of ``n_total`` samples and extrapolate to N = infinity.

    ``score_at(idx)`` scores the generated samples ``idx`` (an index array into the fake set)
    against fixed real statistics. Returns ``value`` (the intercept), ``ci95``, ``se``,
    ``slope``, ``ns`` (sizes used), ``points`` ([N, score] per evaluation) and ``method``.
    """
    n_total = int(n_total)
    ns = default_ns(n_total, n_points, n_min) if ns is None else np.unique(np.asarray(ns, int))
    if ns.min() < 2 or ns.max() > n_total:
        raise InputError(f"FVD-inf sample sizes must lie in 2..{n_total}, got {ns.min()}..{ns.max()}")
    rng = np.random.default_rng(seed)
    points = []
    for n in ns:
        for _ in range(1 if n == n_total else max(int(reps), 1)):
            idx = np.sort(rng.choice(n_total, size=int(n), replace=False))
            points.append((int(n), float(score_at(idx))))
    fit = fit_inverse_n([p[0] for p in points], [p[1] for p in points])
    return {**fit, "ns": [int(n) for n in ns], "points": [list(p) for p in points], "seed": seed,
            "method": "OLS fit of score = a + b/N over random subsets of the generated set; "
                      "95% t interval from the regression standard error of a"}


def frechet_inf(fake_features, real_features, seed: int = 0, **kwargs) -> dict:
    """FID-inf / FVD-inf from feature arrays: subsets of the fake set against the whole real set."""
    from vbench_i2v.metrics.frechet import frechet_from_features

    fake = np.asarray(fake_features, np.float64)
    real = np.asarray(real_features, np.float64)
    return extrapolate_inf(lambda idx: frechet_from_features(fake[idx], real), len(fake), seed, **kwargs)
