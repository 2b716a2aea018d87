"""Frechet distance against scipy's sqrtm route (``references.frechet_distance``; its eigenvalue
form where covariances are singular); streaming statistics against numpy."""

import numpy as np
import pytest
import scipy.linalg

from references import frechet_distance as scipy_frechet
from references import frechet_of, trace_sqrt_product_eig
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features
from vbench_i2v.metrics.streaming import StreamingStats


def _sets(rng, n, d):
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n, d)) @ (np.eye(d) + 0.1 * rng.standard_normal((d, d))) + 0.3
    return a, b


def test_matches_scipy_on_well_conditioned_inputs():
    rng = np.random.default_rng(0)
    a, b = _sets(rng, 400, 48)
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    ref = scipy_frechet(m1, s1, m2, s2)
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
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(9, 4)), rng.normal(0.3, 1.2, size=(7, 4))
    cx, cy = rng.integers(0, 3, 9).astype(float), rng.integers(1, 3, 7).astype(float)
    xr, yr = np.repeat(x, cx.astype(int), axis=0), np.repeat(y, cy.astype(int), axis=0)
    for ddof, biased in ((0, True), (1, False)):
        want = frechet_of(xr, yr, ddof=ddof)
        assert frechet_from_features(x, y, cx, cy, biased=biased) == pytest.approx(want, rel=1e-9)


# The tests below were written for mutants that survived mutation testing (docs/mutation-testing.md).

@pytest.mark.parametrize("n1,n2,d", [(6, 9, 20), (30, 25, 4), (12, 12, 12)])
def test_frechet_from_features_with_counts_equals_repeated_rows(n1, n2, d):
    """Counts w mean row i taken w_i times: the same as np.repeat, in sample and feature space."""
    rng = np.random.default_rng(n1 + d)
    x, y = rng.normal(size=(n1, d)), rng.normal(0.3, 1.5, size=(n2, d))
    w1, w2 = rng.integers(0, 3, n1).astype(float), rng.integers(0, 3, n2).astype(float)
    w1[:2], w2[:2] = 1, 2
    want = frechet_of(np.repeat(x, w1.astype(int), 0), np.repeat(y, w2.astype(int), 0), eig=True)
    assert frechet_from_features(x, y, w1, w2) == pytest.approx(want, rel=1e-8)
    plain = frechet_of(x, y, eig=True)
    assert frechet_from_features(x, y) == pytest.approx(plain, rel=1e-8)
    if n1 > d and n2 > d:
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        textbook = frechet_of(x, y)  # scipy's sqrtm route
        assert frechet_distance(x.mean(0), s1, y.mean(0), s2) == pytest.approx(textbook, rel=1e-8)
    with pytest.raises(InputError):
        frechet_from_features(x[:1], y)
    with pytest.raises(InputError):
        frechet_from_features(x, y, np.r_[1.0, np.zeros(n1 - 1)], w2)


def test_frechet_distance_identical_is_zero_and_singular_route():
    """Identical singular statistics give 0; the sqrt(S1) route of a singular S1; shape and NaN
    checks name the offending argument."""
    from vbench_i2v.metrics.frechet import sqrtm_psd, trace_sqrt_product

    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 8))  # 5 samples in 8-d: singular covariance (the sqrt(S1) route)
    s = np.cov(a, rowvar=False)
    assert frechet_distance(a.mean(0), s, a.mean(0), s) == pytest.approx(0.0, abs=1e-9)
    b = rng.normal(size=(6, 8))
    s2 = np.cov(b, rowvar=False)
    assert trace_sqrt_product(s, s2) == pytest.approx(trace_sqrt_product_eig(s, s2), rel=1e-7)
    r = sqrtm_psd(s)
    np.testing.assert_allclose(r @ r, s, atol=1e-10)
    np.testing.assert_allclose(r, scipy.linalg.sqrtm(s + 1e-300 * np.eye(8)).real, atol=1e-6)
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(9 + 1 + 4 - 2 * 2)
    with pytest.raises(InputError, match="shape"):
        frechet_distance(a.mean(0), s, b.mean(0), s2[:3, :3])
    with pytest.raises(InputError, match="shape"):
        frechet_distance(a.mean(0), s[:3, :3], b.mean(0), s2)
    for i, name in enumerate(("mu1", "sigma1", "mu2", "sigma2")):  # frechet_distance(mu1, sigma1, mu2, sigma2)
        args = [np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)]
        args[i] = args[i].copy()
        args[i].flat[0] = np.nan
        with pytest.raises(InputError, match=f"Frechet statistics: {name} contains NaN"):
            frechet_distance(*args)


def test_frechet_works_in_float64_whatever_the_input_dtype():
    """float32 features (what the networks return) are promoted before any sum: the value equals
    the float64 computation on the same numbers to 1e-12, not float32's ~1e-7."""
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(7, 5)) * 100 + 1000).astype(np.float32)
    y = (rng.normal(size=(9, 5)) * 100 + 1001).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    w1, w2 = np.arange(1, 8).astype(np.float32), np.arange(1, 10).astype(np.float32)
    assert frechet_from_features(x, y, w1, w2) == pytest.approx(
        frechet_from_features(x64, y64, w1.astype(float), w2.astype(float)), rel=1e-12)
    mu1, mu2 = x.mean(0), y.mean(0) + np.float32(0.1)
    s1, s2 = np.cov(x64, rowvar=False).astype(np.float32), np.cov(y64, rowvar=False).astype(np.float32)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        frechet_distance(mu1.astype(float), s1.astype(float), mu2.astype(float), s2.astype(float)), rel=1e-12)
    # exactly two videos a side is enough (the bootstrap can draw that)
    assert frechet_from_features(x64[:2], y64[:2]) == pytest.approx(frechet_of(x64[:2], y64[:2], eig=True), rel=1e-8)
    assert frechet_from_features(x64, y64, np.r_[2.0, np.zeros(6)], np.r_[1.0, 1.0, np.zeros(7)]) >= 0


# ----------------------------------------------------------------------------- streaming stats

def test_streaming_stats_equal_np_cov_and_merge():
    """Row-at-a-time and chunked updates merge to numpy's mean and covariance; the state's keys;
    bad shapes, Inf, other widths and a single row refused; two rows suffice."""
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(23, 4))
    a, b = StreamingStats(4), StreamingStats(4)
    a.update(x[:10])
    for row in x[10:]:
        b.update(row)  # one vector at a time (1-d input)
    mu, sigma = a.merge(b).compute()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10)
    assert a.n == 23 and int(a.state()["n"]) == 23
    np.testing.assert_allclose(a.state()["sum"], x.sum(0))
    np.testing.assert_allclose(a.state()["sum_outer"], x.T @ x)
    for bad in (np.ones((2, 3)), np.full((2, 4), np.inf), np.ones((1, 2, 4))):
        with pytest.raises(InputError):
            StreamingStats(4).update(bad)
    with pytest.raises(InputError):
        StreamingStats(4).merge(StreamingStats(3))
    one = StreamingStats(4)
    one.update(x[:1])
    with pytest.raises(InputError):
        one.compute()
    two = StreamingStats(4)
    two.update(x[:2])
    np.testing.assert_allclose(two.compute()[1], np.cov(x[:2], rowvar=False), atol=1e-12)


def test_streaming_stats_accumulate_float32_features_in_float64():
    """float32 features are summed in float64 (a mutant summing in float32 survived the second
    mutation run): the statistics stay within float64's summation error bound."""
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.normal(size=(4000, 3))).astype(np.float32)  # large mean: float32 sums lose digits
    s = StreamingStats(3)
    for chunk in np.array_split(x, 7):
        s.update(chunk)
    mu, sigma = s.compute()
    x64 = x.astype(np.float64)
    # Tolerances from the error bound of float64 summation, not from one machine's result (BLAS
    # sums in an order that depends on the CPU's instruction set). n = 4000 rows, |x| <= ~1004,
    # u = 1.1e-16: the column sums err by at most n*u*sum|x| = 4000 * 1.1e-16 * 4.0e6 = 1.8e-6,
    # so mu by 4.4e-10 (4.4e-13 relative); the products' sum (sum|x_i x_j| = 4.0e9) by
    # n*u*4.0e9 = 1.8e-3, and n*mu*mu^T by 2*n*mu*4.4e-10 = 3.5e-3: sigma errs by at most
    # (1.8e-3 + 3.5e-3) / 3999 = 1.3e-6. Accumulating in float32 (u = 6e-8) errs by ~1e-1 or more.
    np.testing.assert_allclose(mu, x64.mean(0), rtol=5e-13, atol=0)
    np.testing.assert_allclose(sigma, np.cov(x64, rowvar=False), rtol=0, atol=2e-6)
    # The test can fail: the same sums accumulated in float32 are far outside the bound.
    s32, o32 = np.zeros(3, np.float32), np.zeros((3, 3), np.float32)
    for chunk in np.array_split(x, 7):
        s32 += chunk.sum(0, dtype=np.float32)
        o32 += chunk.T @ chunk
    mu32 = s32.astype(np.float64) / len(x)
    sigma32 = (o32.astype(np.float64) - len(x) * np.outer(mu32, mu32)) / (len(x) - 1)
    assert np.abs(sigma32 - np.cov(x64, rowvar=False)).max() > 1e-3


def test_frechet_does_not_depend_on_the_torch_thread_count():
    """The thread policy picks torch's thread count from the machine's load; the float64 linear
    algebra (MKL, split by thread count) runs on one thread so the same command gives the same
    FID to the last bit whatever the count (it moved in the 10th digit before)."""
    import torch

    from vbench_i2v.metrics.frechet import frechet_distance

    before = torch.get_num_threads()
    try:
        # few videos (the singular route) and more videos than dimensions (the Cholesky route);
        # with MKL on 1 against 2 threads these moved by 1e-7 and 1e-6 before
        for n, d in ((5, 128), (100, 512)):
            rng = np.random.default_rng(3)
            x, y = rng.normal(size=(n, d)), rng.normal(0.1, 1.1, size=(n, d))
            args = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
            values = []
            for threads in (1, 2, 4):
                torch.set_num_threads(threads)
                values.append(frechet_distance(*args))
            assert values[0] == values[1] == values[2], (n, d, values)
    finally:
        torch.set_num_threads(before)
