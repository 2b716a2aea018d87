"""FID-inf: the Frechet distance extrapolated to N = infinity (Chong & Forsyth 2020)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_inf

    return frechet_inf(real, fake, ctx, key="fid-inf")


register(MetricSpec(
    name="fid-inf", kind="set", higher_is_better=False, decimals=2, reduction="features",
    extractor="resnext101-kinetics",
    description="FID at 10 subset sizes N/5..N of the generated set, least-squares fit a + b/N, value = a",
    set_level=_set_level, value_settings=("seed",),
))
