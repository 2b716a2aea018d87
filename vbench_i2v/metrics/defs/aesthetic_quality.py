"""aesthetic-quality (VBench's aesthetic_quality): every frame through CLIP ViT-L/14 (shorter side to
224, bicubic, no antialias, centre crop 224), the L2-normalised embedding scored by the LAION v1
linear head, divided by 10; per video the mean over frames, the set value the mean of the videos."""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "aesthetic-quality"
NETWORK = "laion-aesthetic-linear"  # the catalog entry it runs on, CLIP ViT-L/14 its extra weights


def build_aesthetic(extractor, identity, device, ctx):
    from vbench_i2v.metrics.defs.subject_consistency import network_use

    return network_use(NETWORK, "aesthetic-quality", None, device, ctx)


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.vbench_dims import aesthetic_from_scores

    return aesthetic_from_scores(ctx.model("aesthetic").frames(item.fake))


register(MetricSpec(
    name=NAME, kind="per-video", higher_is_better=True, decimals=4, needs_model="aesthetic",
    description="VBench aesthetic quality: LAION v1 linear head on L2-normalised CLIP ViT-L/14 frame embeddings, "
                "/10, mean over frames",
    per_video=_per_video,
    provenance={"model_builder": build_aesthetic, "networks": (NETWORK,), "vbench_dimension": "aesthetic_quality"},
))
