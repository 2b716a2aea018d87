"""LPIPS v0.1 (AlexNet) of each predicted frame with the real frame, mean per video (docs/lpips.md)."""

from vbench_i2v.metrics.registry import MetricSpec, register


def build_lpips(extractor, identity, device, ctx):
    """The LPIPS network (catalog family ``lpips``), built once per scoring call and shared by
    lpips and lpips-cond."""
    from vbench_i2v import weights
    from vbench_i2v.feature_extractors.lpips_net import LPIPSAlex

    wf = weights.require("lpips-alex")
    model = LPIPSAlex(wf.path, device=device)
    model.weights_sha256 = wf.sha256
    model.name = "lpips-alex"
    return model


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.lpips_metric import lpips_paired

    return float(lpips_paired(item.fake, item.real, ctx.model("lpips"),
                              frames=ctx.scored_frames(len(item.fake), item.name)).mean())


register(MetricSpec(
    name="lpips", kind="paired", higher_is_better=False, decimals=3, needs_model="lpips",
    description="LPIPS v0.1 (AlexNet) of each predicted frame with the real frame, native size, mean per video",
    per_video=_per_video,
))
