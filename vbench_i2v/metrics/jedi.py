"""JEDi (polynomial-kernel MMD on V-JEPA features) and content-debiased FVD (Frechet on VideoMAE-v2).

JEDi, as ``videojedi`` computes it (``JEDiMetric.compute_metric`` -> ``mmd_poly(train, test,
degree=2, coef0=0) * 100``, with sklearn's ``polynomial_kernel`` whose ``gamma=None`` means
``1/d``): kernel ``k(x, y) = (x . y / d)^2``, the *biased* (V-statistic) estimator
``mean K_xx + mean K_yy - 2 mean K_xy`` with the diagonals included, times 100. ``jedi_unbiased``
is the same kernel with the diagonals of ``K_xx`` and ``K_yy`` left out (``/(m(m-1))``), the
unbiased MMD^2 that KID uses; the two differ by O(1/N).

Degree 2 without offset lets the kernel sums be computed without any N x N matrix:
``sum_ij (x_i . y_j)^2 = sum((X^T X) * (Y^T Y))`` (two D x D Gram matrices), which we use when it
is cheaper than the N x M kernel matrix. Sums are in float64 (JEDi's sklearn call works in the features' dtype).

cd-fvd (``cdfvd.fvd.cdfvd.compute_fvd_from_stats``): features are stored as float32
(``FeatureStats.append``), mean and covariance with the 1/N normaliser (``raw_cov / N - mu mu^T``),
then ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))`` with ``scipy.linalg.sqrtm`` and the real part.
We use the same statistics and ``vbench_i2v.metrics.frechet`` for the distance (identical in exact
arithmetic; always real and >= 0, no complex round-off).
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.frechet import frechet_from_features

JEDI_SCALE = 100.0  # JEDiMetric.compute_metric multiplies the MMD by 100
JEDI_DEGREE = 2
JEDI_COEF0 = 0.0  # with gamma = 1 / feature dimension


def _check(real, fake, what: str, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise InputError(f"{what} features must be N x D on both sides, got {x.shape} and {y.shape}")
    if len(x) < min_rows or len(y) < min_rows:
        raise InputError(f"{what} needs at least {min_rows} videos on each side, got {len(x)} real and {len(y)} fake")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError(f"{what} features contain NaN or Inf")
    return x, y


def _kernel_sum(x: np.ndarray, y: np.ndarray) -> float:
    """``sum_ij ((x_i . y_j) / d)^2`` by the cheaper of the N x M and the D x D route."""
    d = x.shape[1]
    if len(x) * len(y) <= d * d:
        k = x @ y.T
        return float(np.sum(k * k)) / (d * d)
    # ||X Y^T||_F^2 = tr(X^T X Y^T Y) = sum((X^T X) * (Y^T Y)): two D x D Gram matrices
    gx = x.T @ x
    gy = gx if y is x else y.T @ y
    return float(np.sum(gx * gy)) / (d * d)


def _kernel_trace(x: np.ndarray) -> float:
    """``sum_i ((x_i . x_i) / d)^2``: the diagonal of K_xx."""
    return float(np.sum((np.einsum("ij,ij->i", x, x) / x.shape[1]) ** 2))


def jedi_terms(real, fake) -> dict[str, float]:
    """Both estimators, scaled by 100: ``{'jedi': biased (published), 'jedi_unbiased': ...}``."""
    x, y = _check(real, fake, "JEDi", 2)
    m, n = len(x), len(y)
    sxx, syy, sxy = _kernel_sum(x, x), _kernel_sum(y, y), _kernel_sum(x, y)
    biased = sxx / (m * m) + syy / (n * n) - 2.0 * sxy / (m * n)
    unbiased = ((sxx - _kernel_trace(x)) / (m * (m - 1)) + (syy - _kernel_trace(y)) / (n * (n - 1))
                - 2.0 * sxy / (m * n))
    return {"jedi": JEDI_SCALE * biased, "jedi_unbiased": JEDI_SCALE * unbiased}


def jedi(real, fake) -> float:
    """JEDi as published: 100 x biased MMD^2 with the kernel ``(x . y / d)^2`` (>= 0)."""
    return jedi_terms(real, fake)["jedi"]


def jedi_unbiased(real, fake) -> float:
    """100 x unbiased MMD^2 with JEDi's kernel (can be slightly negative for close sets)."""
    return jedi_terms(real, fake)["jedi_unbiased"]


def population_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """cd-fvd's ``FeatureStats``: features rounded to float32, mean and 1/N covariance in float64."""
    x = np.asarray(np.asarray(features, np.float32), np.float64)
    mu = x.mean(axis=0)
    c = x - mu
    return mu, c.T @ c / len(x)


def cd_fvd(real, fake) -> float:
    """Content-debiased FVD between two feature sets (VideoMAE-v2 features, 1/N covariances)."""
    x, y = _check(real, fake, "cd-fvd", 2)
    x, y = (np.asarray(np.asarray(a, np.float32), np.float64) for a in (x, y))
    return frechet_from_features(x, y, biased=True)
