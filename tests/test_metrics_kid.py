"""KID against a direct computation of the unbiased MMD^2 (``references.mmd2_unbiased``): full
subsets, per-row counts, subsets of unequal sets, float32 features kept in float64."""

import numpy as np
import pytest

from references import mmd2_unbiased, seeded_stream
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.kid import KernelMatrices, kid


def test_kid_full_subsets_equal_direct_unbiased_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((15, 6)), rng.standard_normal((15, 6)) + 0.5
    # subsets of the full size drawn without replacement are permutations: KID = MMD^2 of the sets
    assert kid(x, y, num_subsets=3, max_subset_size=1000) == pytest.approx(mmd2_unbiased(x, y), rel=1e-10)


def test_weighted_mmd_equals_direct_on_repeated_rows():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 5)), rng.standard_normal((10, 5))
    cx, cy = rng.integers(0, 3, 8).astype(float), rng.integers(0, 3, 10).astype(float)
    cx[0] = cy[0] = 2
    rx, ry = np.repeat(x, cx.astype(int), 0), np.repeat(y, cy.astype(int), 0)
    assert KernelMatrices(x, y).weighted_mmd2(cx, cy) == pytest.approx(mmd2_unbiased(rx, ry), rel=1e-10)


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


def test_weighted_mmd2_equals_repeated_rows_and_subset_sizes():
    """Per-row counts equal repeated rows; subsets of the smaller set's size drawn from the
    documented ``kid-subsets`` stream; fewer than 2 videos, other widths and NaN refused
    (written for mutants that survived mutation testing, docs/mutation-testing.md)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.5, 1.0, size=(11, 3))
    km = KernelMatrices(x, y)
    cx, cy = rng.integers(0, 3, 9).astype(float), rng.integers(0, 3, 11).astype(float)
    cx[0], cy[0] = 2, 1
    rx, ry = np.repeat(np.arange(9), cx.astype(int)), np.repeat(np.arange(11), cy.astype(int))
    # repeated rows are distinct samples here: the diagonal of the repeated kernel matrix only is left out
    want = mmd2_unbiased(x[rx], y[ry])
    assert km.weighted_mmd2(cx, cy) == pytest.approx(want, rel=1e-10)
    assert kid(x, y[:9], num_subsets=4, max_subset_size=100) == pytest.approx(mmd2_unbiased(x, y[:9]), rel=1e-10)
    # subsets of 9 from 11 fake rows: each subset value is the MMD of one 9 x 9 pair
    rng2 = seeded_stream(0, "kid-subsets")
    vals = []
    for _ in range(5):
        i = rng2.choice(9, 9, replace=False)
        j = rng2.choice(11, 9, replace=False)
        vals.append(mmd2_unbiased(x[i], y[j]))
    assert kid(x, y, num_subsets=5, max_subset_size=1000, seed=0) == pytest.approx(np.mean(vals), rel=1e-10)
    with pytest.raises(InputError):
        KernelMatrices(x[:1], y)
    with pytest.raises(InputError):
        KernelMatrices(x, y[:, :2])
    with pytest.raises(InputError):
        KernelMatrices(np.r_[x, [[np.nan, 0, 0]]], y)


def test_kid_kernels_of_float32_features_are_float64():
    """float32 features (what the networks return) give float64 kernel matrices, so KID equals the
    float64 computation to 1e-12 (a mutant that kept float32 survived the second mutation run)."""
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, size=(25, 4)).astype(np.float32)
    y = rng.normal(3.2, 1.0, size=(25, 4)).astype(np.float32)
    km = KernelMatrices(x, y)
    assert km.kxx.dtype == km.kyy.dtype == km.kxy.dtype == np.float64
    want = mmd2_unbiased(x.astype(np.float64), y.astype(np.float64))
    assert km.subset_kid(1, 1000, np.random.default_rng(0)) == pytest.approx(want, rel=1e-12)


def test_kid_with_fewer_fake_than_real_videos_and_only_two_real_ones():
    """Subsets are sized by the smaller set (fewer fake than real videos), and two videos a side,
    the smallest set KID is defined on, are accepted (mutants of both survived a mutation run)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.5, 1.0, size=(4, 3))
    # every subset holds min(real, fake, max size) = 4 videos on each side
    km = KernelMatrices(x, y)
    vals = [km.subset_kid(1, 1000, np.random.default_rng(s)) for s in range(5)]
    assert all(np.isfinite(vals))
    x2 = rng.normal(size=(2, 3))
    km2 = KernelMatrices(x2, y[:2])  # two videos per side is the smallest set KID is defined on
    assert km2.subset_kid(1, 1000, np.random.default_rng(0)) == pytest.approx(mmd2_unbiased(x2, y[:2]), rel=1e-12)
