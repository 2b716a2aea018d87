"""FVD, stylegan-v's fvd2048_16f route: 16 frames stretched to 224x224, 1/N covariance (docs/fvd.md)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_with_interval

    return {**frechet_with_interval(real, fake, ctx, key="fvd-styleganv", biased_covariance=True,
                                    what="FVD (stylegan-v route)"), "route": "fvd-styleganv"}


register(MetricSpec(
    name="fvd-styleganv", kind="set", higher_is_better=False, decimals=1, reduction="features",
    extractor="i3d-kinetics400-styleganv", extractor_fixed=True,
    description="FVD (stylegan-v fvd2048_16f route): first 16 frames stretched to 224x224, 1/N covariance",
    set_level=_set_level,
))
