"""Kernel Inception Distance: unbiased polynomial-kernel MMD^2 averaged over random subsets."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import kid_with_interval

    return kid_with_interval(real, fake, ctx, key="kid")


register(MetricSpec(
    name="kid", kind="set", higher_is_better=False, decimals=4, default=True, reduction="features",
    extractor="resnext101-kinetics",
    description="unbiased MMD^2 with the cubic polynomial kernel, mean over random subsets",
    set_level=_set_level, value_settings=("seed", "kid_subsets", "kid_subset_size"),
))
