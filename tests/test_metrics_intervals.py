"""Set-level bootstrap intervals are centred on the estimate (FID's resampling bias removed)."""

import numpy as np

from vbench_i2v.metrics import bootstrap
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics

from dist_fakes import MomentsExtractor  # the 6-d mean/std stand-in


def test_shift_is_the_bootstrap_bias():
    # stat = number of distinct fake videos drawn: always <= n, so its plain percentiles sit below
    stat = lambda cx, cy: float((cy > 0).sum())  # noqa: E731
    plain = bootstrap.two_sample_ci(stat, 5, 20, seed=1, reps=300, key="t")
    shifted = bootstrap.two_sample_ci(stat, 5, 20, seed=1, reps=300, key="t", point=20.0)
    rng = bootstrap.rng_for(1, "bootstrap", "t")
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
