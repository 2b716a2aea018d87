"""SSIM per generated frame against the real frame (skimage's Gaussian SSIM), averaged per video."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.defs.pixel_pass import pixel_frames

    return pixel_frames(item, ctx)["ssim"]


register(MetricSpec(
    name="ssim", kind="paired", higher_is_better=True, decimals=3, default=True,
    description="SSIM of each predicted frame with the real frame (skimage, Gaussian 11x11, sigma 1.5), mean per video",
    per_video=_per_video,
))
