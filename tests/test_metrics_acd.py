"""ACD arithmetic against hand computation; bootstrap intervals seeded."""

import numpy as np
import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.acd import acd_c, acd_i
from vbench_i2v.metrics.bootstrap import mean_ci, two_sample_ci


def test_acd_c_hand_computed():
    # three frames on a 3-4-5 triangle: pair distances 3, 4, 5 -> mean 4
    e = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert acd_c(e) == pytest.approx(4.0)


def test_acd_i_hand_computed():
    e = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    c = np.array([0.0, 0.0])
    assert acd_i(e, c) == pytest.approx((1 + 1 + 0) / 3)
    assert acd_i(e, np.array([1.0, 0.0])) == pytest.approx((0 + np.sqrt(2) + 1) / 3)


def test_acd_bad_inputs():
    with pytest.raises(InputError, match="at least 2 frames"):
        acd_c(np.zeros((1, 4)))
    with pytest.raises(InputError, match="NaN"):
        acd_c(np.array([[0.0, np.nan], [1, 1]]))
    with pytest.raises(InputError, match="dims"):
        acd_i(np.zeros((3, 4)), np.zeros(5))


def test_bootstrap_intervals_are_seeded_and_cover_the_mean():
    v = np.random.default_rng(0).normal(3.0, 1.0, 200)
    lo, hi = mean_ci(v, seed=1)
    assert mean_ci(v, seed=1) == [lo, hi] and mean_ci(v, seed=2) != [lo, hi]
    assert lo < v.mean() < hi and hi - lo == pytest.approx(2 * 1.96 / np.sqrt(200), rel=0.25)
    lo2, hi2 = two_sample_ci(lambda cx, cy: (cx @ v[:100]) / 100 - (cy @ v[100:]) / 100, 100, 100, seed=0, reps=300)
    d = v[:100].mean() - v[100:].mean()
    assert lo2 < d < hi2


def test_acd_against_loops():
    """ACD-C and ACD-I against plain loops; error messages start with the metric's label; float32
    embeddings promoted (written for mutants that survived mutation testing, docs/mutation-testing.md)."""
    rng = np.random.default_rng(3)
    e, c = rng.normal(size=(5, 3)), rng.normal(size=3)
    pairs = [np.linalg.norm(e[i] - e[j]) for i in range(5) for j in range(i + 1, 5)]
    assert acd_c(e) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert acd_c(e[:2]) == pytest.approx(np.linalg.norm(e[0] - e[1]), rel=1e-12)
    assert acd_i(e, c) == pytest.approx(np.mean([np.linalg.norm(r - c) for r in e]), rel=1e-12)
    assert acd_i(e, c[None]) == pytest.approx(acd_i(e, c))
    for bad in (e[:1], e[0], np.r_[e, [[np.nan] * 3]]):
        with pytest.raises(InputError, match="^ACD-C[: ]"):
            acd_c(bad)
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(e, c[:2])
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(np.r_[e, [[np.inf] * 3]], c)
    with pytest.raises(InputError, match="^ACD-I[: ]"):
        acd_i(e[0], c)
    # float32 embeddings are promoted: the value is the float64 one to 1e-12
    e32, c32 = (e * 1000 + 5000).astype(np.float32), (c * 1000 + 5001).astype(np.float32)
    want = np.mean([np.linalg.norm(r - c32.astype(float)) for r in e32.astype(float)])
    assert acd_i(e32, c32) == pytest.approx(want, rel=1e-12)
