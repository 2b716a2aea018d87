"""JEDi: 100 x biased MMD^2 with the kernel (x.y/d)^2 on V-JEPA features, plus the unbiased variant."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _set_level(real, fake, ctx) -> dict:
    import numpy as np

    from vbench_i2v.metrics import bootstrap
    from vbench_i2v.metrics.jedi import JEDI_SCALE, jedi_terms

    x, y = real.features, fake.features
    t = jedi_terms(x, y)
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d) ** 2, (y @ y.T / d) ** 2, (x @ y.T / d) ** 2

    def stat(cx, cy):  # the biased estimator on a resample given as per-video counts
        wx, wy = np.asarray(cx, float) / np.sum(cx), np.asarray(cy, float) / np.sum(cy)
        return JEDI_SCALE * float(wx @ kxx @ wx + wy @ kyy @ wy - 2 * wx @ kxy @ wy)

    ci = bootstrap.two_sample_ci(stat, len(x), len(y), seed=ctx.seed, reps=ctx.bootstrap_reps, key="jedi",
                                 point=t["jedi"], lower=0.0)
    return {"value": t["jedi"], "ci95": ci, "unbiased": t["jedi_unbiased"], "n": len(y), "n_real": len(x)}


register(MetricSpec(
    name="jedi", kind="set", higher_is_better=False, decimals=4, reduction="features",
    extractor="vjepa-h16-ssv2", extractor_fixed=True,
    description="JEDi: 100 x biased MMD^2, kernel (x.y/d)^2, on V-JEPA ViT-H/16 SSv2-probe features "
                "(unbiased variant reported beside it)",
    set_level=_set_level,
))
