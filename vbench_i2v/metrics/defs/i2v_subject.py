"""i2v-subject (VBench-I2V's i2v_subject): DINO ViT-B/16 features of every frame (shorter side to 256,
bicubic, antialiased, centre crop 224) and of the conditioning image (the same through PIL);
per video ``0.4 max_i c(g, f_i) + 0.3 mean_i c(f_{i-1}, f_i) + 0.3 min_i c(f_{i-1}, f_i)`` with
``c = max(0, cos)`` (VBench-I2V's formula since July 2024); the set value is the mean of the videos."""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "i2v-subject"
NETWORK = "dino-vitb16"  # the catalog entry it runs on (declared in provenance["networks"])


def build_dino_i2v(extractor, identity, device, ctx):
    from vbench_i2v.metrics.defs.subject_consistency import network_use

    return network_use(NETWORK, "i2v-subject-frames", "i2v-subject-image", device, ctx)


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.vbench_dims import i2v_consistency_score

    net = ctx.model("dino-i2v")
    return i2v_consistency_score(net.frames(item.fake), net.image(item.cond), item.name)


register(MetricSpec(
    name=NAME, kind="conditioned", higher_is_better=True, decimals=4, needs_model="dino-i2v",
    description="VBench-I2V video-image subject consistency: DINO ViT-B/16, 0.4 max cos(image, frame) + 0.3 mean "
                "+ 0.3 min cos(consecutive frames), clipped at 0",
    per_video=_per_video,
    provenance={"model_builder": build_dino_i2v, "networks": (NETWORK,), "vbench_dimension": "i2v_subject"},
))
