"""KVD: the unbiased kernel distance (KID's estimator) on FVD's I3D features."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import kid_with_interval

    return kid_with_interval(real, fake, ctx, key="kvd")


register(MetricSpec(
    name="kvd", kind="set", higher_is_better=False, decimals=4, reduction="features",
    extractor="i3d-kinetics400", extractor_fixed=True,
    description="unbiased cubic-kernel MMD^2 on FVD's I3D features (meaningful at small N, where FVD is biased)",
    set_level=_set_level, value_settings=("seed", "kid_subsets", "kid_subset_size"),
))
