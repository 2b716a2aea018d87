"""Kernel Inception Distance: unbiased polynomial-kernel MMD^2 averaged over random subsets."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    from vbench_i2v.metrics import bootstrap
    from vbench_i2v.metrics.kid import KernelMatrices
    from vbench_i2v.protocol import rng_for

    n_r, n_f = len(real.features), len(fake.features)
    km = KernelMatrices(real.features, fake.features)
    value = km.subset_kid(ctx.kid_subsets, ctx.kid_subset_size, rng_for(ctx.seed, "kid-subsets"))
    ci = bootstrap.two_sample_ci(km.weighted_mmd2, n_r, n_f, seed=ctx.seed, reps=ctx.bootstrap_reps, key="kid",
                                 point=value)
    return {"value": value, "ci95": ci, "n": n_f, "n_real": n_r, "subsets": ctx.kid_subsets,
            "subset_size": min(n_r, n_f, ctx.kid_subset_size)}


register(MetricSpec(
    name="kid", kind="set", higher_is_better=False, decimals=4, default=True, reduction="features",
    extractor="resnext101-kinetics",
    description="unbiased MMD^2 with the cubic polynomial kernel, mean over random subsets",
    set_level=_set_level,
))
