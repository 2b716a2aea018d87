"""temporal-flickering (VBench's temporal_flickering): ``(255 - mean_t MAE(frame t, frame t+1)) / 255``
per video at its own resolution, every frame; no network. 1 = no pixel changes between frames."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.vbench_dims import flicker_score

    return flicker_score(item.fake, item.name)


register(MetricSpec(
    name="temporal-flickering", kind="per-video", higher_is_better=True, decimals=4,
    description="VBench temporal flickering: 1 - mean absolute difference of consecutive frames / 255, "
                "native size, mean per video",
    per_video=_per_video,
    sanity=(("shuffled", "lower"),), provenance={"vbench_dimension": "temporal_flickering"},
))
