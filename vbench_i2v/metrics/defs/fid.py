"""Frechet distance between the real and generated feature Gaussians (Video FID on ResNeXt-101)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_with_interval

    out = frechet_with_interval(real, fake, ctx, key="fid")
    out.pop("covariance")
    return out


register(MetricSpec(
    name="fid", kind="set", higher_is_better=False, decimals=2, default=True, reduction="features",
    extractor="resnext101-kinetics",
    description="Frechet distance of the feature Gaussians (ResNeXt-101 Video FID by default; 1/(N-1) covariance)",
    set_level=_set_level,
))
