"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.

``k(x, y) = (x . y / d + 1)^3`` (Binkowski et al. 2018), as in clean-fid and torch-fidelity: each
subset draws ``m = min(n_real, n_fake, max_subset_size)`` rows from each set without replacement;
the estimator drops the diagonal of the within-set terms, so it is unbiased at small N.
The kernel matrices are computed once; subsets are index gathers into them.
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import InputError


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def _mmd2_unbiased(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m, n = kxx.shape[0], kyy.shape[0]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.sum() / (m * n))


class KernelMatrices:
    """The three kernel matrices of a real and a fake feature set (computed once)."""

    def __init__(self, real, fake):
        real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
        if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
            raise InputError(f"KID features must be N x D on both sides, got {real.shape} and {fake.shape}")
        if len(real) < 2 or len(fake) < 2:
            raise InputError(f"KID needs at least 2 videos on each side, got {len(real)} real and {len(fake)} fake")
        if not (np.isfinite(real).all() and np.isfinite(fake).all()):
            raise InputError("KID features contain NaN or Inf")
        self.kxx = polynomial_kernel(real, real)
        self.kyy = polynomial_kernel(fake, fake)
        self.kxy = polynomial_kernel(real, fake)

    def subset_kid(self, num_subsets: int, max_subset_size: int, rng: np.random.Generator) -> float:
        nx, ny = self.kxx.shape[0], self.kyy.shape[0]
        m = min(nx, ny, max_subset_size)
        total = 0.0
        for _ in range(num_subsets):
            i = rng.choice(nx, m, replace=False)
            j = rng.choice(ny, m, replace=False)
            total += _mmd2_unbiased(self.kxx[np.ix_(i, i)], self.kyy[np.ix_(j, j)], self.kxy[np.ix_(i, j)])
        return total / num_subsets

    def weighted_mmd2(self, cx: np.ndarray, cy: np.ndarray) -> float:
        """Unbiased MMD^2 of a bootstrap resample given as per-row counts (no gathers: O(N^2))."""
        m, n = cx.sum(), cy.sum()
        sxx = (cx @ self.kxx @ cx - cx @ np.diag(self.kxx)) / (m * (m - 1))
        syy = (cy @ self.kyy @ cy - cy @ np.diag(self.kyy)) / (n * (n - 1))
        return float(sxx + syy - 2.0 * (cx @ self.kxy @ cy) / (m * n))


def kid(real, fake, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0) -> float:
    """KID (unbiased MMD^2, polynomial kernel) averaged over seeded subsets."""
    from vbench_i2v.protocol import rng_for

    return KernelMatrices(real, fake).subset_kid(num_subsets, max_subset_size, rng_for(seed, "kid-subsets"))
