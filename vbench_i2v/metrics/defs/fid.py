"""Frechet distance between the real and generated feature Gaussians (Video FID on ResNeXt-101)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics import bootstrap
    from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features

    n_r, n_f, dim = len(real.features), len(fake.features), real.features.shape[1]
    value = frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)
    if min(n_r, n_f) < dim:
        ctx.warn(f"FID with fewer videos than feature dimensions (real {n_r}, fake {n_f}, dim {dim}) "
                 "is strongly biased upwards; compare only at equal N, and see KID")
    ci = bootstrap.two_sample_ci(lambda cx, cy: frechet_from_features(real.features, fake.features, cx, cy),
                                 n_r, n_f, seed=ctx.seed, reps=ctx.set_bootstrap_reps, key="fid",
                                 point=value, lower=0.0)
    return {"value": value, "ci95": ci, "n": n_f, "n_real": n_r}


register(MetricSpec(
    name="fid", kind="set", higher_is_better=False, decimals=2, default=True, reduction="features",
    extractor="resnext101-kinetics",
    description="Frechet distance of the feature Gaussians (ResNeXt-101 Video FID by default; 1/(N-1) covariance)",
    set_level=_set_level,
))
