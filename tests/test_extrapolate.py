"""FID-inf/FVD-inf: the fit against scipy, exact a + b/N data, and Gaussian features with a known answer."""

import numpy as np
import pytest
from scipy import stats

from references import feature_stats, frechet_distance
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.extrapolate import default_ns, extrapolate_inf, fit_inverse_n, frechet_inf


def test_exact_a_plus_b_over_n_gives_exact_intercept():
    out = extrapolate_inf(lambda idx: 3.25 + 40.0 / len(idx), 200, seed=1)
    assert out["value"] == pytest.approx(3.25, abs=1e-10)
    assert out["slope"] == pytest.approx(40.0, abs=1e-8)
    assert out["ci95"][1] - out["ci95"][0] < 1e-8
    assert out["ns"] == [40, 57, 75, 93, 111, 128, 146, 164, 182, 200]
    assert len(out["points"]) == 9 * 3 + 1  # 3 subsets per N, one at N = n_total


def test_fit_matches_scipy_linregress():
    rng = np.random.default_rng(0)
    ns = np.repeat([20, 40, 60, 80, 100], 3)
    y = 5.0 + 90.0 / ns + rng.normal(0, 0.2, len(ns))
    ours = fit_inverse_n(ns, y)
    ref = stats.linregress(1.0 / ns, y)
    assert ours["value"] == pytest.approx(ref.intercept, rel=1e-12)
    assert ours["slope"] == pytest.approx(ref.slope, rel=1e-12)
    assert ours["se"] == pytest.approx(ref.intercept_stderr, rel=1e-10)
    t = stats.t.ppf(0.975, len(ns) - 2)
    assert ours["ci95"] == pytest.approx((ref.intercept - t * ref.intercept_stderr,
                                          ref.intercept + t * ref.intercept_stderr), rel=1e-10)


def test_subsets_are_seeded_and_without_replacement():
    seen = []

    def score(idx):
        assert len(np.unique(idx)) == len(idx) and idx.max() < 50
        seen.append(idx.copy())
        return 1.0 / len(idx)

    a = extrapolate_inf(score, 50, seed=7)
    first = list(seen)
    seen.clear()
    b = extrapolate_inf(score, 50, seed=7)
    assert a["points"] == b["points"] and all(np.array_equal(x, y) for x, y in zip(first, seen))


def test_gaussian_features_extrapolation_removes_the_small_sample_bias():
    """Fake ~ N(delta, I_d), real statistics known almost exactly (many real samples). Over many
    independent fake sets, FD at the full N is biased upwards (the mean term alone adds d/N),
    while the mean of FD-inf lands on the population distance; the fitted slope is >= d."""
    rng = np.random.default_rng(0)
    d, n_fake, sets = 4, 200, 30
    delta = np.full(d, 0.3)
    real = rng.standard_normal((8_000, d))
    truth = frechet_distance(*feature_stats(real), delta, np.eye(d))
    inf, full, slopes = [], [], []
    for k in range(sets):
        fake = rng.standard_normal((n_fake, d)) + delta
        out = frechet_inf(fake, real, seed=k)
        assert out["points"][-1][0] == n_fake
        inf.append(out["value"])
        full.append(out["points"][-1][1])
        slopes.append(out["slope"])
    bias_full, bias_inf = np.mean(full) - truth, np.mean(inf) - truth
    assert bias_full > 0.5 * d / n_fake
    assert abs(bias_inf) < 0.3 * bias_full, (bias_inf, bias_full)
    assert np.mean(slopes) > d


def test_bad_inputs_are_clear_errors():
    with pytest.raises(InputError, match="range of sample sizes"):
        default_ns(2)
    with pytest.raises(InputError, match="at least 3 points"):
        fit_inverse_n([10, 10, 10], [1, 2, 3])
    with pytest.raises(InputError, match="2..10"):
        extrapolate_inf(lambda idx: 0.0, 10, ns=[5, 20])
