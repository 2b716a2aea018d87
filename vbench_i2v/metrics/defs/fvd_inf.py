"""FVD-inf: FVD extrapolated to infinitely many generated videos (Chong & Forsyth 2020)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_inf

    return frechet_inf(real, fake, ctx, key="fvd-inf")


register(MetricSpec(
    name="fvd-inf", kind="set", higher_is_better=False, decimals=1, reduction="features",
    extractor="i3d-kinetics400", extractor_fixed=True,
    description="FVD at 10 subset sizes N/5..N of the generated set, least-squares fit a + b/N, value = a",
    set_level=_set_level, value_settings=("seed",),
))
