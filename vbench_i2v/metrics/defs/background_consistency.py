"""background-consistency (VBench's background_consistency): CLIP ViT-B/32 image embeddings of every
frame (shorter side to 224, bicubic, no antialias, centre crop 224); the subject-consistency
formula on them, frame-pair weighted (docs/vbench-dims.md)."""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "background-consistency"
NETWORK = "clip-vit-b32"  # the catalog entry it runs on (declared in provenance["networks"])


def build_clip_background(extractor, identity, device, ctx):
    from vbench_i2v.metrics.defs.subject_consistency import network_use

    return network_use(NETWORK, "background-consistency", None, device, ctx)


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.defs.subject_consistency import consistency_value

    return consistency_value(NAME, ctx.model("clip-background").frames(item.fake), item, ctx)


def _summarize(values, ctx):
    from vbench_i2v.metrics.defs.subject_consistency import pair_weighted_summary

    return pair_weighted_summary(NAME)(values, ctx)


register(MetricSpec(
    name=NAME, kind="per-video", higher_is_better=True, decimals=4, needs_model="clip-background",
    description="VBench background consistency: CLIP ViT-B/32 cosine of each frame with the previous and the "
                "first (clipped at 0), frame-pair weighted",
    per_video=_per_video, summarize=_summarize,
    provenance={"model_builder": build_clip_background, "networks": (NETWORK,),
                "vbench_dimension": "background_consistency"},
))
