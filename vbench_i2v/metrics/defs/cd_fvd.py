"""Content-debiased FVD: Frechet distance on VideoMAE-v2 ViT-g features with cd-fvd's 1/N covariances."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics.defs.set_stats import frechet_with_interval
    from vbench_i2v.metrics.jedi import cd_fvd

    out = frechet_with_interval(real, fake, ctx, key="cd-fvd", biased_covariance=True, what="cd-FVD")
    out["value"] = cd_fvd(real.features, fake.features)  # cd-fvd's float32 feature rounding, as published
    return out


register(MetricSpec(
    name="cd-fvd", kind="set", higher_is_better=False, decimals=2, reduction="features",
    extractor="videomae-v2-g-ssv2", extractor_fixed=True,
    description="content-debiased FVD: Frechet distance (1/N covariances, as cd-fvd) on VideoMAE-v2 "
                "ViT-g/14 SSv2 features",
    set_level=_set_level,
))
