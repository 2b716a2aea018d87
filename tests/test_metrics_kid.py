"""KID against a direct O(n^2) computation of the unbiased MMD^2."""

import numpy as np
import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.kid import KernelMatrices, kid


def _k(x, y):
    return (float(np.dot(x, y)) / len(x) + 1.0) ** 3


def _direct_mmd2(x, y):
    m, n = len(x), len(y)
    sxx = sum(_k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(_k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(_k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kid_full_subsets_equal_direct_unbiased_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((15, 6)), rng.standard_normal((15, 6)) + 0.5
    # subsets of the full size drawn without replacement are permutations: KID = MMD^2 of the sets
    assert kid(x, y, num_subsets=3, max_subset_size=1000) == pytest.approx(_direct_mmd2(x, y), rel=1e-10)


def test_weighted_mmd_equals_direct_on_repeated_rows():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 5)), rng.standard_normal((10, 5))
    cx, cy = rng.integers(0, 3, 8).astype(float), rng.integers(0, 3, 10).astype(float)
    cx[0] = cy[0] = 2
    rx, ry = np.repeat(x, cx.astype(int), 0), np.repeat(y, cy.astype(int), 0)
    assert KernelMatrices(x, y).weighted_mmd2(cx, cy) == pytest.approx(_direct_mmd2(rx, ry), rel=1e-10)


def test_kid_is_seeded_and_near_zero_for_same_distribution():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((60, 4)), rng.standard_normal((60, 4))
    assert kid(x, y, 10, 20, seed=5) == kid(x, y, 10, 20, seed=5)
    assert abs(kid(x, y, 50, 30)) < 0.1 * kid(x, y + 1.5, 50, 30)


def test_kid_bad_inputs():
    with pytest.raises(InputError, match="NaN"):
        kid(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(InputError, match="at least 2"):
        kid(np.zeros((1, 2)), np.zeros((3, 2)))
