"""JEDi and cd-fvd statistics against independent computations (``references``' MMD and Frechet
distance, exact fractions, scipy)."""

from fractions import Fraction

import numpy as np
import pytest

from references import frechet_distance, frechet_distance_eig, jedi_kernel, mmd2_biased, mmd2_unbiased
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.jedi import cd_fvd, jedi, jedi_terms, jedi_unbiased, population_statistics


def _loops(x, y):
    """Biased and unbiased MMD^2 with JEDi's kernel k(a, b) = (a . b / d)^2, x100 (JEDi's scale)."""
    return 100 * mmd2_biased(x, y, jedi_kernel), 100 * mmd2_unbiased(x, y, jedi_kernel)


def test_published_example_by_hand():
    """videojedi/mmd_polynomial.py's own example: mmd_poly(a, b, degree=2, coef0=0) = 270.7 (x100 in JEDi)."""
    a = np.arange(1, 10).reshape(3, 3)
    b = np.array([[7, 6, 5], [4, 3, 2], [1, 1, 8], [0, 2, 5]])

    def k(u, v):
        return Fraction(int(np.dot(u, v)), 3) ** 2

    exact = (sum(k(u, v) for u in a for v in a) / 9 + sum(k(u, v) for u in b for v in b) / 16
             - 2 * sum(k(u, v) for u in a for v in b) / 12)
    assert round(float(exact), 1) == 270.7
    assert jedi(a, b) == pytest.approx(100 * float(exact), rel=1e-12)


@pytest.mark.parametrize("m,n,d", [(5, 7, 4), (9, 6, 2), (3, 4, 8)])  # both kernel-sum routes (N*M vs D*D)
def test_against_explicit_loops(m, n, d):
    rng = np.random.default_rng(m * 100 + n * 10 + d)
    x = rng.normal(size=(m, d))
    y = rng.normal(0.3, 1.2, size=(n, d))
    b, u = _loops(x, y)
    t = jedi_terms(x, y)
    assert t["jedi"] == pytest.approx(b, rel=1e-10)
    assert t["jedi_unbiased"] == pytest.approx(u, rel=1e-10, abs=1e-12)
    assert jedi(x, y) == t["jedi"] and jedi_unbiased(x, y) == t["jedi_unbiased"]
    assert jedi(y, x) == pytest.approx(t["jedi"], rel=1e-12)  # symmetric


def test_identical_sets_give_zero_biased_and_negative_unbiased():
    x = np.random.default_rng(0).normal(size=(6, 3))
    assert abs(jedi(x, x)) < 1e-12
    b, u = _loops(x, x)
    assert jedi_unbiased(x, x) == pytest.approx(u, rel=1e-10) and u < 0


def _cdfvd_reference(x1, x2, batch=3):
    """cd-fvd's FeatureStats (float32 rows, running sums, raw_cov/N - mu mu^T) + scipy sqrtm."""
    def stats(x):
        raw_mean, raw_cov, n = 0.0, 0.0, 0
        for i in range(0, len(x), batch):
            b = np.asarray(x[i : i + batch], np.float32).astype(np.float64)
            raw_mean = raw_mean + b.sum(axis=0)
            raw_cov = raw_cov + b.T @ b
            n += len(b)
        mu = raw_mean / n
        return mu, raw_cov / n - np.outer(mu, mu)

    return frechet_distance(*stats(x1), *stats(x2))


def test_cd_fvd_matches_cdfvd_formula_more_videos_than_dims():
    rng = np.random.default_rng(1)
    x1 = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    x2 = rng.normal(0.5, 1.0, size=(30, 5)) @ rng.normal(size=(5, 5))
    ref = _cdfvd_reference(x1, x2)
    assert cd_fvd(x1, x2) == pytest.approx(ref, rel=1e-7)
    assert cd_fvd(x2, x1) == pytest.approx(ref, rel=1e-7)


def test_cd_fvd_fewer_videos_than_dims():
    """Singular covariances: compare with the eigenvalue form of tr sqrt(S1 S2), which stays
    accurate where sqrtm of the singular product does not."""
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(6, 10)), rng.normal(0.2, 1.5, size=(8, 10))
    mu1, s1 = population_statistics(x1)
    mu2, s2 = population_statistics(x2)
    ref = frechet_distance_eig(mu1, s1, mu2, s2)
    assert cd_fvd(x1, x2) == pytest.approx(ref, rel=1e-6)


def test_cd_fvd_tiny_case_by_hand():
    """1-D: means 1 and 5, 1/N variances 1 and 8/3 -> 16 + 1 + 8/3 - 2 sqrt(8/3)."""
    x1 = np.array([[0.0], [2.0]])
    x2 = np.array([[3.0], [5.0], [7.0]])
    assert cd_fvd(x1, x2) == pytest.approx(16 + 1 + 8 / 3 - 2 * np.sqrt(8 / 3), rel=1e-12)
    # the 1/(N-1) normaliser (variances 2 and 4) would give 16 + 2 + 4 - 2 sqrt(8) = 16.343 instead of 16.401
    assert abs(cd_fvd(x1, x2) - (22 - 2 * np.sqrt(8))) > 0.05


def test_cd_fvd_rounds_features_to_float32_like_cdfvd():
    x = np.array([[0.1], [0.2], [0.3 + 1e-12]])
    mu, s = population_statistics(x)
    want = sum(float(np.float32(v)) for v in (0.1, 0.2, 0.3 + 1e-12)) / 3
    assert mu[0] == pytest.approx(want, rel=1e-15) and mu[0] != pytest.approx(0.2 + 1e-12 / 3, rel=1e-12)


@pytest.mark.parametrize("fn", [jedi, jedi_unbiased, cd_fvd])
def test_bad_inputs_refused(fn):
    x = np.zeros((4, 3))
    with pytest.raises(InputError, match="N x D"):
        fn(x, np.zeros((4, 2)))
    with pytest.raises(InputError, match="at least 2"):
        fn(x, np.zeros((1, 3)))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fn(bad, x)
