"""PSNR per generated frame against the real frame, averaged per video."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.defs.pixel_pass import pixel_frames

    return pixel_frames(item, ctx)["psnr"]


def _summarize(values, ctx) -> dict:
    """The mean with its interval, and how many scored frames were identical (each at the cap)."""
    from vbench_i2v.metrics.engine import summarize_mean

    out = summarize_mean(values, ctx, "psnr")
    if ctx.counters.get("identical_frames"):
        out["identical_frames"] = ctx.counters["identical_frames"]
    return out


register(MetricSpec(
    name="psnr", kind="paired", higher_is_better=True, decimals=2, default=True,
    description="PSNR (dB, data range 255) of each predicted frame with the real frame, mean per video; "
                "an identical frame scores 148.13 dB (MSE floor 1e-10) and is counted",
    per_video=_per_video, summarize=_summarize,
))
