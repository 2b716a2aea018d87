"""Statistics shared by the Frechet- and kernel-based set metrics (FID, FVD, KID, KVD, ...)."""

from __future__ import annotations


def frechet_with_interval(real, fake, ctx, key: str, biased_covariance: bool = False, what: str = "FID") -> dict:
    """Frechet distance of the two feature Gaussians with the bias-shifted bootstrap interval.

    ``biased_covariance``: the 1/N covariance some published routes use (stylegan-v, cd-fvd)
    instead of 1/(N-1); the bootstrap then uses the same normaliser.
    """
    from vbench_i2v.metrics import bootstrap
    from vbench_i2v.metrics.frechet import frechet_distance, frechet_from_features

    n_r, n_f, dim = len(real.features), len(fake.features), real.features.shape[1]
    if biased_covariance:
        s_r, s_f = real.sigma * (n_r - 1) / n_r, fake.sigma * (n_f - 1) / n_f
    else:
        s_r, s_f = real.sigma, fake.sigma
    value = frechet_distance(real.mu, s_r, fake.mu, s_f)
    if min(n_r, n_f) < dim:
        ctx.warn(f"{what} with fewer videos than feature dimensions (real {n_r}, fake {n_f}, dim {dim}) "
                 "is strongly biased upwards; compare only at equal N, and see "
                 + ("KVD" if what.startswith("FVD") else "KID"))

    def stat(cx, cy):
        return frechet_from_features(real.features, fake.features, cx, cy, biased=biased_covariance)

    ci = bootstrap.two_sample_ci(stat, n_r, n_f, seed=ctx.seed, reps=ctx.set_bootstrap_reps, key=key,
                                 point=value, lower=0.0)
    return {"value": value, "ci95": ci, "n": n_f, "n_real": n_r,
            "covariance": "1/N" if biased_covariance else "1/(N-1)"}


def kid_with_interval(real, fake, ctx, key: str) -> dict:
    """Unbiased cubic-kernel MMD^2 averaged over random subsets, with its bootstrap interval."""
    from vbench_i2v.metrics import bootstrap
    from vbench_i2v.metrics.kid import KernelMatrices
    from vbench_i2v.protocol import rng_for

    n_r, n_f = len(real.features), len(fake.features)
    km = KernelMatrices(real.features, fake.features)
    value = km.subset_kid(ctx.kid_subsets, ctx.kid_subset_size, rng_for(ctx.seed, f"{key}-subsets"))
    ci = bootstrap.two_sample_ci(km.weighted_mmd2, n_r, n_f, seed=ctx.seed, reps=ctx.bootstrap_reps, key=key,
                                 point=value)
    return {"value": value, "ci95": ci, "n": n_f, "n_real": n_r, "subsets": ctx.kid_subsets,
            "subset_size": min(n_r, n_f, ctx.kid_subset_size)}


def frechet_inf(real, fake, ctx, key: str) -> dict:
    """FID-inf / FVD-inf (Chong & Forsyth 2020): Frechet at several subset sizes, fit in 1/N, N -> inf."""
    from vbench_i2v.metrics.extrapolate import frechet_inf as fit
    from vbench_i2v.protocol import rng_for

    n_f = len(fake.features)
    if n_f < 10:
        from vbench_i2v.errors import InputError

        raise InputError(f"{key}: needs at least 10 generated videos for the 1/N fit, got {n_f}")
    seed = int(rng_for(ctx.seed, key).integers(1 << 31))
    r = fit(fake.features, real.features, seed=seed)
    return {"value": r["value"], "ci95": [float(r["ci95"][0]), float(r["ci95"][1])], "n": n_f,
            "n_real": len(real.features), "slope": r["slope"], "ns": r["ns"], "points": r["points"], "fit": r["method"]}
