"""Bootstrap intervals: the documented streams and percentiles of ``two_sample_ci`` and ``mean_ci``
(replayed with ``references``), and set-level intervals centred on the estimate (FID's resampling
bias removed)."""

import numpy as np

from vbench_i2v.metrics import bootstrap
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics

from dist_fakes import MomentsExtractor  # the 6-d mean/std stand-in
from references import bootstrap_means, percentile_interval, seeded_stream


def test_shift_is_the_bootstrap_bias():
    # stat = number of distinct fake videos drawn: always <= n, so its plain percentiles sit below
    stat = lambda cx, cy: float((cy > 0).sum())  # noqa: E731
    plain = bootstrap.two_sample_ci(stat, 5, 20, seed=1, reps=300, key="t")
    shifted = bootstrap.two_sample_ci(stat, 5, 20, seed=1, reps=300, key="t", point=20.0)
    rng = seeded_stream(1, "bootstrap", "t")
    draws = []
    for _ in range(300):
        rng.multinomial(5, np.full(5, 0.2))
        draws.append((rng.multinomial(20, np.full(20, 0.05)) > 0).sum())
    bias = np.mean(draws) - 20.0
    assert plain[1] < 20  # the plain interval excludes the full-sample value
    np.testing.assert_allclose(shifted, np.array(plain) - bias)
    assert shifted[0] <= 20 <= shifted[1]
    assert bootstrap.two_sample_ci(stat, 5, 20, seed=1, reps=300, key="t", point=0.0, lower=0.0)[0] == 0.0


def test_fid_interval_of_identical_and_shifted_sets_contains_the_value(tmp_path):
    rng = np.random.default_rng(0)

    import vbench_i2v.feature_extractors as fe

    videos = {f"v{i}": rng.integers(0, 255, size=(4, 8, 8, 3), dtype=np.uint8) for i in range(40)}
    shifted = {k: np.clip(v.astype(int) + 30, 0, 255).astype(np.uint8) for k, v in videos.items()}
    orig = fe.build_video_extractor
    fe.build_video_extractor = lambda name, **kw: MomentsExtractor()
    try:
        same = compute_metrics(videos, videos, ScorePlan(metrics=["fid"], extractor="moments")).metrics["fid"]
        diff = compute_metrics(videos, shifted, ScorePlan(metrics=["fid"], extractor="moments")).metrics["fid"]
    finally:
        fe.build_video_extractor = orig
    assert same["value"] < 1e-9 and same["ci95"][0] == 0.0 and same["ci95"][0] <= same["value"] <= same["ci95"][1]
    assert diff["value"] > 100 and diff["ci95"][0] <= diff["value"] <= diff["ci95"][1]


# The two tests below were written for mutants that survived mutation testing (docs/mutation-testing.md).

def test_two_sample_ci_defaults_and_that_both_sides_are_resampled():
    """The defaults (seed 0, 200 reps, key "two-sample"), the stream replayed independently (real
    counts then fake counts, per rep) and its percentiles; a statistic of one side still varies."""
    a, b = np.arange(7.0), np.arange(9.0) ** 2
    stat = lambda cx, cy: float(cx @ a / cx.sum() - cy @ b / cy.sum())  # noqa: E731
    assert bootstrap.two_sample_ci(stat, 7, 9) == bootstrap.two_sample_ci(stat, 7, 9, seed=0, reps=200,
                                                                           key="two-sample")
    # an independent replay of the documented stream: real counts then fake counts, per rep
    rng = seeded_stream(0, "bootstrap", "two-sample")
    draws = []
    for _ in range(200):
        cx = rng.multinomial(7, np.full(7, 1 / 7)).astype(float)
        cy = rng.multinomial(9, np.full(9, 1 / 9)).astype(float)
        draws.append(stat(cx, cy))
    np.testing.assert_allclose(bootstrap.two_sample_ci(stat, 7, 9), percentile_interval(draws), rtol=1e-12)
    only_real = bootstrap.two_sample_ci(lambda cx, cy: float(cx @ a / cx.sum()), 7, 9, reps=50)
    assert only_real[1] - only_real[0] > 0.5


def test_mean_ci_small_inputs_and_stream():
    """Empty input gives two NaNs, one value a zero-width interval; the stream is
    ``("bootstrap", key)`` with the default key "mean" (checked on 25 continuous values: with 5 values
    the percentiles of two streams can coincide)."""
    assert bootstrap.mean_ci([]) != bootstrap.mean_ci([])  # [nan, nan]: nan != nan
    assert len(bootstrap.mean_ci([])) == 2 and all(np.isnan(bootstrap.mean_ci([])))
    assert bootstrap.mean_ci([2.5]) == [2.5, 2.5]
    v = np.array([1.0, 4.0, 2.0, 8.0, 3.0])
    np.testing.assert_allclose(bootstrap.mean_ci(v, seed=4, reps=300, key="k"),
                               percentile_interval(bootstrap_means(v, seeded_stream(4, "bootstrap", "k"), 300)),
                               rtol=1e-12)
    w = np.random.default_rng(0).lognormal(size=25)  # continuous values: another stream moves the ends
    assert bootstrap.mean_ci(w) == bootstrap.mean_ci(w, seed=0, reps=1000, key="mean")
    assert bootstrap.mean_ci(w) != bootstrap.mean_ci(w, seed=0, reps=1000, key="other")
    assert bootstrap.mean_ci([1.0, 3.0], reps=500)[0] < 2.0 < bootstrap.mean_ci([1.0, 3.0], reps=500)[1]
