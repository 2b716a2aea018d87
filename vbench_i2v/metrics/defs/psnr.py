"""PSNR per generated frame against the real frame, averaged per video."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.defs.pixel_pass import pixel_frames

    return pixel_frames(item, ctx)["psnr"]


register(MetricSpec(
    name="psnr", kind="paired", higher_is_better=True, decimals=2, default=True,
    description="PSNR (dB, data range 255) of each predicted frame with the real frame, mean per video; "
                "an identical frame scores 148.13 dB (MSE floor 1e-10) and is counted",
    per_video=_per_video,
))
