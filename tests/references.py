"""The tests' independent references, one copy each, written from the published definitions.

Nothing here imports ``vbench_i2v``: these are the second implementations the package's numbers are
checked against (numpy and scipy only), so a slip in the package cannot hide in its own reference.

- Frechet distance (Heusel et al. 2017; FID, Video FID, FVD):
  ``d = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)``. :func:`frechet_distance` takes the matrix
  square root of the product with ``scipy.linalg.sqrtm`` in float64, as the published FID code does
  (pytorch-fid ``calculate_frechet_distance``, TTUR ``calculate_frechet_distance``, stylegan-v's
  ``compute_fvd``). When fewer samples than dimensions make ``S1 S2`` singular, ``sqrtm`` loses
  accuracy; :func:`frechet_distance_eig` then computes ``tr sqrt(S1 S2)`` as the sum of the square
  roots of the eigenvalues of ``S1 S2`` (real and >= 0 for a product of PSD matrices; round-off
  below 0 clamped), which stays accurate there.
- Maximum mean discrepancy (Gretton et al. 2012, eq. 3 unbiased and eq. 5 biased) with the
  polynomial kernel ``k(a, b) = (gamma a.b + coef0)^degree``, ``gamma = 1/d``: KID and KVD's kernel
  is degree 3, coef0 1 (Binkowski et al. 2018); JEDi's is degree 2, coef0 0 (Luo et al. 2024).
- The seeded streams of ``protocol.rng_for`` as documented: sha256 of ``"seed/key/..."``, its first
  8 bytes little-endian seed numpy's default generator.
- The percentile bootstrap of a mean: ``reps`` multinomial count vectors drawn at once from the
  stream, the 2.5 and 97.5 percentiles of the resampled means.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import scipy.linalg


# ----------------------------------------------------------------------------- Frechet distance

def feature_stats(x, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the rows of ``x`` in float64 (``ddof=1``: 1/(N-1), ``ddof=0``: 1/N)."""
    x = np.asarray(x, np.float64)
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False, ddof=ddof))


def _frechet(mu1, s1, mu2, s2, trace_sqrt) -> float:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt(s1, s2))


def trace_sqrtm_product(s1, s2) -> float:
    """``tr sqrtm(S1 S2)`` by ``scipy.linalg.sqrtm`` of the product; the imaginary round-off part
    that sqrtm leaves on a non-symmetric product is dropped (pytorch-fid takes ``.real`` too)."""
    return float(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)


def trace_sqrt_product_eig(s1, s2) -> float:
    """``tr sqrt(S1 S2)`` = sum of the square roots of the eigenvalues of ``S1 S2`` (general
    eigensolver; the eigenvalues of a product of PSD matrices are real and >= 0, round-off clamped)."""
    ev = np.linalg.eigvals(s1 @ s2).real
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """The published FID formula with ``scipy.linalg.sqrtm(S1 @ S2)``, float64."""
    return _frechet(mu1, s1, mu2, s2, trace_sqrtm_product)


def frechet_distance_eig(mu1, s1, mu2, s2) -> float:
    """The same distance with ``tr sqrt(S1 S2)`` from the eigenvalues of ``S1 S2``: the reference for
    singular covariances (fewer samples than dimensions), where ``sqrtm`` is inaccurate."""
    return _frechet(mu1, s1, mu2, s2, trace_sqrt_product_eig)


def frechet_of(x, y, ddof: int = 1, eig: bool = False) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets (rows are samples)."""
    return (frechet_distance_eig if eig else frechet_distance)(*feature_stats(x, ddof), *feature_stats(y, ddof))


# ----------------------------------------------------------------------------- MMD

def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> np.ndarray:
    """``K[i, j] = (gamma x_i . y_j + coef0)^degree``, ``gamma = 1/d`` by default (scikit-learn's
    ``polynomial_kernel`` definition); the defaults are KID's kernel ``(x.y/d + 1)^3``."""
    x, y = np.atleast_2d(np.asarray(x, np.float64)), np.atleast_2d(np.asarray(y, np.float64))
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (g * (x @ y.T) + coef0) ** degree


#: JEDi's kernel: ``(x.y/d)^2``.
jedi_kernel = functools.partial(polynomial_kernel, degree=2, coef0=0.0)


def mmd2_unbiased(x, y, kernel=polynomial_kernel) -> float:
    """``sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (n(n-1)) - 2 sum k(x_i, y_j) / (mn)``:
    the kernel matrices' diagonals are left out of the within-set means."""
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = len(kxx), len(kyy)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.sum() / (m * n))


def mmd2_biased(x, y, kernel=polynomial_kernel) -> float:
    """``mean k(x_i, x_j) + mean k(y_i, y_j) - 2 mean k(x_i, y_j)`` over all pairs, diagonals included."""
    return float(kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean())


# ----------------------------------------------------------------------------- seeded streams, bootstrap

def seeded_stream(seed, *keys) -> np.random.Generator:
    """The documented derivation of every random stream: sha256 of ``"seed/key/..."``, its first
    8 bytes little-endian seed ``numpy.random.default_rng``."""
    h = hashlib.sha256("/".join((str(seed),) + tuple(str(k) for k in keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def bootstrap_means(values, rng: np.random.Generator, reps: int) -> np.ndarray:
    """``reps`` resampled means: count vectors ``multinomial(n, 1/n)`` drawn in one call, ``counts @ v / n``."""
    v = np.asarray(values, np.float64)
    counts = rng.multinomial(len(v), np.full(len(v), 1.0 / len(v)), size=reps)
    return counts @ v / len(v)


def percentile_interval(draws, level: float = 0.95) -> np.ndarray:
    """The percentile interval of bootstrap draws (2.5 and 97.5 percentiles for 95%)."""
    tail = 100 * (1 - level) / 2
    return np.percentile(draws, [tail, 100 - tail])
