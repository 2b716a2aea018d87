"""Frechet distance between Gaussians, from the eigenvalues of a symmetric PSD matrix.

``d = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)``. The usual ``scipy.linalg.sqrtm(S1 @ S2)``
works on a non-symmetric product, can return complex values and negative distances, and takes
~10 s at 2048-d. ``tr sqrt(S1 S2)`` is the sum of square roots of the eigenvalues of S1 S2, which
are those of the symmetric PSD ``sqrt(S1) S2 sqrt(S1)``; we take them with ``eigvalsh`` and clamp
round-off negatives at 0, so identical sets give exactly ~0 and nothing turns complex.

Speed: when S1 is positive definite we use its Cholesky factor L (S1 = L L^T) instead of sqrt(S1)
(the float64 algebra runs in torch/MKL):
``L^T S2 L`` is symmetric with the same eigenvalues (it is similar to S1 S2), and Cholesky is ~10x
cheaper than the eigendecomposition that sqrt(S1) needs. Singular S1 (fewer videos than
dimensions) falls back to the ``sqrt(S1)`` route.

With few samples the features route (``frechet_from_features``) works in sample space: with
S1 = A^T A and S2 = B^T B, ``tr sqrt(S1 S2)`` is the sum of singular values of ``A B^T`` (N1 x N2),
which makes bootstrap resampling cheap.
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import InputError


def _check_stats(mu1, s1, mu2, s2):
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise InputError(f"Frechet statistics disagree in shape: mu {mu1.shape}/{mu2.shape}, sigma {s1.shape}/{s2.shape}")
    for name, arr in (("mu1", mu1), ("mu2", mu2), ("sigma1", s1), ("sigma2", s2)):
        if not np.isfinite(arr).all():
            raise InputError(f"Frechet statistics: {name} contains NaN or Inf")
    return mu1, (s1 + s1.T) / 2, mu2, (s2 + s2.T) / 2


def sqrtm_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues -> 0)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr sqrt(S1 S2)`` for symmetric PSD S1, S2, via a symmetric PSD similar matrix.

    The float64 linear algebra runs in torch, whose CPU builds ship MKL's LAPACK: at 2048-d its
    Cholesky + eigvalsh take ~0.7 s against ~1.1 s through numpy's OpenBLAS here.
    """
    import torch

    from vbench_i2v.threads import torch_threads

    # One thread, always: MKL splits its reductions by thread count, and the thread policy picks
    # the count from the machine's load, so the same command would move FID in the 10th digit.
    with torch_threads(1):
        a, b = torch.from_numpy(np.ascontiguousarray(s1)), torch.from_numpy(np.ascontiguousarray(s2))
        l, info = torch.linalg.cholesky_ex(a)
        if int(info) == 0:
            m = l.T @ b @ l  # similar to S1 S2, symmetric PSD
        else:  # singular S1 (fewer videos than dimensions): the sqrt(S1) route
            w, v = torch.linalg.eigh(a)
            r = (v * w.clamp(min=0).sqrt()) @ v.T
            m = r @ b @ r
        eig = torch.linalg.eigvalsh((m + m.T) / 2)
        return float(eig.clamp(min=0).sqrt().sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2); always real and >= 0."""
    mu1, s1, mu2, s2 = _check_stats(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))
    return max(d, 0.0)


def _weighted_centered(x: np.ndarray, w: np.ndarray, biased: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    n = float(w.sum())
    mu = w @ x / n
    a = (x - mu) * np.sqrt(w / (n if biased else n - 1))[:, None]
    return mu, a, n


def frechet_from_features(x1, x2, w1=None, w2=None, biased: bool = False) -> float:
    """Frechet distance between two feature sets; ``w1``/``w2`` are per-row counts (bootstrap).
    ``biased``: 1/N covariances (the stylegan-v and cd-fvd routes) instead of 1/(N-1).

    Works in sample space (SVD of an N1 x N2 matrix) when both sets are smaller than the feature
    dimension, in feature space otherwise; both give the same number.
    """
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    w1 = np.ones(len(x1)) if w1 is None else np.asarray(w1, np.float64)
    w2 = np.ones(len(x2)) if w2 is None else np.asarray(w2, np.float64)
    keep1, keep2 = w1 > 0, w2 > 0
    x1, w1, x2, w2 = x1[keep1], w1[keep1], x2[keep2], w2[keep2]
    if w1.sum() < 2 or w2.sum() < 2:
        raise InputError("need at least 2 videos on each side for FID")
    mu1, a, _ = _weighted_centered(x1, w1, biased)
    mu2, b, _ = _weighted_centered(x2, w2, biased)
    d = x1.shape[1]
    if max(len(a), len(b)) < d:
        diff = mu1 - mu2
        tr = np.sum(a * a) + np.sum(b * b)
        sv = np.linalg.svd(a @ b.T, compute_uv=False)
        return max(float(diff @ diff + tr - 2.0 * sv.sum()), 0.0)
    return frechet_distance(mu1, a.T @ a, mu2, b.T @ b)
