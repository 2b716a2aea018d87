"""LPIPS v0.1 (AlexNet) of each predicted frame with the conditioning image: first-frame fidelity."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.lpips_metric import lpips_to_conditioning

    return float(lpips_to_conditioning(item.fake, item.cond, ctx.model("lpips"),
                                       frames=ctx.scored_frames(len(item.fake), item.name)).mean())


register(MetricSpec(
    name="lpips-cond", kind="conditioned", higher_is_better=False, decimals=3, needs_model="lpips",
    description="LPIPS v0.1 (AlexNet) of each predicted frame with the conditioning image, mean per video",
    per_video=_per_video,
))
