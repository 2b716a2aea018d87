"""FVD, the VideoGPT route: Frechet distance of Kinetics-400 I3D logit features (docs/fvd.md)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_with_interval

    return {**frechet_with_interval(real, fake, ctx, key="fvd", what="FVD"), "route": "fvd"}


register(MetricSpec(
    name="fvd", kind="set", higher_is_better=False, decimals=1, reduction="features",
    extractor="i3d-kinetics400", extractor_fixed=True,
    description="FVD (VideoGPT route): I3D Kinetics-400 logits of all frames, short side 224 + centre crop, "
                "1/(N-1) covariance",
    set_level=_set_level,
))
