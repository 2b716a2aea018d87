"""ACD-C: mean pairwise identity distance between the frames of a generated video."""

from vbench_i2v.metrics.registry import MetricSpec, register


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.acd import acd_c
    from vbench_i2v.metrics.defs.identity import embeddings

    return acd_c(embeddings(item, ctx)[0])


def _summarize(values, ctx) -> dict:
    from vbench_i2v.metrics.defs.identity import summarize

    return summarize(values, ctx, "acd-c")


register(MetricSpec(
    name="acd-c", kind="per-video", higher_is_better=False, decimals=3, default_on_faces=True,
    needs_model="identity",
    description="mean pairwise L2 distance of the frames' identity embeddings (consistency over time)",
    per_video=_per_video, summarize=_summarize,
))
