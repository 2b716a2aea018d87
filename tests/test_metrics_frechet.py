"""Frechet distance against scipy's sqrtm route; streaming statistics against numpy."""

import numpy as np
import pytest
import scipy.linalg

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features
from vbench_i2v.metrics.streaming import StreamingStats


def _scipy_fid(m1, s1, m2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _sets(rng, n, d):
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n, d)) @ (np.eye(d) + 0.1 * rng.standard_normal((d, d))) + 0.3
    return a, b


def test_matches_scipy_on_well_conditioned_inputs():
    rng = np.random.default_rng(0)
    a, b = _sets(rng, 400, 48)
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ref = _scipy_fid(m1, s1, m2, s2)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-6)
    assert frechet_from_features(a, b) == pytest.approx(ref, rel=1e-6)


def test_sample_space_route_equals_feature_space_route():
    rng = np.random.default_rng(1)
    a, b = _sets(rng, 20, 64)  # fewer samples than dimensions: singular covariances
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    d = frechet_distance(m1, s1, m2, s2)
    assert frechet_from_features(a, b) == pytest.approx(d, rel=1e-6)
    w1 = rng.integers(0, 3, len(a)).astype(float)
    w2 = rng.integers(0, 3, len(b)).astype(float)
    # counts = repeating rows
    ra, rb = np.repeat(a, w1.astype(int), 0), np.repeat(b, w2.astype(int), 0)
    ref = frechet_distance(ra.mean(0), np.cov(ra, rowvar=False), rb.mean(0), np.cov(rb, rowvar=False))
    assert frechet_from_features(a, b, w1, w2) == pytest.approx(ref, rel=1e-6)


def test_identical_sets_give_zero_and_never_negative_or_complex():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((10, 32))  # rank-deficient covariance
    m, s = a.mean(0), np.cov(a, rowvar=False)
    d = frechet_distance(m, s, m, s)
    assert isinstance(d, float) and 0.0 <= d < 1e-9
    assert frechet_from_features(a, a) < 1e-9


def test_nan_statistics_are_refused():
    s = np.eye(3)
    with pytest.raises(InputError, match="NaN"):
        frechet_distance(np.array([0, np.nan, 0]), s, np.zeros(3), s)


def test_streaming_stats_match_numpy_and_merge():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((57, 9)) * 3 + 1
    a, b = StreamingStats(9), StreamingStats(9)
    for chunk in np.array_split(x[:30], 4):
        a.update(chunk)
    b.update(x[30:])
    mu, sigma = a.merge(b).compute()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    with pytest.raises(InputError, match="NaN"):
        StreamingStats(2).update(np.array([[1.0, np.nan]]))


def test_biased_covariance_and_counts_equal_repeated_rows_with_scipy():
    """``biased=True`` (1/N covariances, the stylegan-v and cd-fvd routes), with per-row counts as the
    bootstrap passes them, equals scipy's sqrtm Frechet on the rows repeated by their counts."""
    import numpy as np
    import scipy.linalg

    from vbench_i2v.metrics.frechet import frechet_from_features

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(9, 4)), rng.normal(0.3, 1.2, size=(7, 4))
    cx, cy = rng.integers(0, 3, 9).astype(float), rng.integers(1, 3, 7).astype(float)
    xr, yr = np.repeat(x, cx.astype(int), axis=0), np.repeat(y, cy.astype(int), axis=0)
    for ddof, biased in ((0, True), (1, False)):
        s1, s2 = np.cov(xr, rowvar=False, ddof=ddof), np.cov(yr, rowvar=False, ddof=ddof)
        d = xr.mean(0) - yr.mean(0)
        want = d @ d + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
        assert frechet_from_features(x, y, cx, cy, biased=biased) == pytest.approx(want, rel=1e-9)
