"""ACD-I: mean identity distance from each generated frame to the conditioning image."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.acd import acd_i
    from vbench_i2v.metrics.defs.identity import embeddings

    frames, cond = embeddings(item, ctx)
    return acd_i(frames, cond)


def _summarize(values, ctx) -> dict:
    from vbench_i2v.metrics.defs.identity import summarize

    return summarize(values, ctx, "acd-i")


register(MetricSpec(
    name="acd-i", kind="conditioned", higher_is_better=False, decimals=3, default_on_faces=True,
    needs_model="identity",
    description="mean L2 distance of each frame's identity embedding to the conditioning image's",
    per_video=_per_video, summarize=_summarize,
))
