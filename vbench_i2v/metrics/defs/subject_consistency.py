"""subject-consistency (VBench's subject_consistency): DINO ViT-B/16 features of every frame (shorter
side to 224, bilinear, no antialias, no crop); per video the mean over frames ``i >= 1`` of
``(max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2``; the set value is frame-pair weighted
(VBench's single-process rule; docs/vbench-dims.md).

This module also holds what the VBench image-network metrics share: :class:`NetworkUse` (one
catalogued per-frame network under one of its declared uses, built once per scoring call however
many metrics use it) and the frame-pair weighted summary.
"""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "subject-consistency"
NETWORK = "dino-vitb16"  # the catalog entry it runs on (declared in provenance["networks"])


class NetworkUse:
    """A catalogued image network (``feature_extractors/image_vit.py``) bound to the use a metric
    declares: ``frames(video) -> T x dim`` under ``use``'s recipe and, for conditioned metrics,
    ``image(img) -> dim`` under ``image_use``'s. ``contract`` is the frames' input contract (what
    provenance records for the metric), ``image_contract`` the image's."""

    def __init__(self, net, use: str, image_use: str | None = None):
        self.net, self.use, self.image_use = net, use, image_use
        self.name = net.name
        self.spec = getattr(net, "spec", None)
        self.weights_sha256 = getattr(net, "weights_sha256", None)
        self.extra_weights_sha256 = dict(getattr(net, "extra_weights_sha256", {}) or {})
        self.precision = getattr(net, "precision", "fp32")
        self.contract = net.contract_for(use)
        self.image_contract = net.contract_for(image_use) if image_use else None

    def frames(self, video):
        return self.net.embed_frames(video, self.use)

    def image(self, img):
        return self.net.embed_frames(img[None], self.image_use)[0]


def network_use(name: str, use: str, image_use: str | None, device, ctx) -> NetworkUse:
    """The catalogued image network ``name`` (weights verified), built once per scoring call and
    shared by every family that uses it, bound to ``use``."""
    from vbench_i2v.feature_extractors import image_vit

    key = f"image-network:{name}"
    if key not in ctx.models:
        ctx.models[key] = image_vit.build_image_network(name, device=device, batch_size=ctx.batch_size)
    return NetworkUse(ctx.models[key], use, image_use)


def pair_weighted_summary(name: str):
    """The summary of a consistency metric: ``sum over videos of sum_i s_i / sum of pairs`` with a
    bootstrap interval of that ratio (videos resampled with their pair sums and counts)."""

    def summarize(values: dict, ctx) -> dict:
        from vbench_i2v.metrics.vbench_dims import pair_weighted_ci95, pair_weighted_mean

        recs = ctx.records[name]
        sums = [recs[n]["sum"] for n in values]
        pairs = [recs[n]["pairs"] for n in values]
        return {"value": pair_weighted_mean(sums, pairs),
                "ci95": pair_weighted_ci95(sums, pairs, seed=ctx.seed, reps=ctx.bootstrap_reps, key=name),
                "n": len(values), "per_video": {k: float(v) for k, v in values.items()},
                "frame_pairs": int(sum(pairs)),
                "aggregation": "frame-pair weighted: sum of every video's pair terms / number of frame pairs "
                               "(VBench's single-process rule; equal frame counts give the mean of the videos)"}

    return summarize


def consistency_value(name: str, feats, item, ctx) -> float:
    from vbench_i2v.metrics.vbench_dims import consistency_score

    score, total, pairs = consistency_score(feats, item.name)
    ctx.record(name, item.name, {"sum": total, "pairs": pairs})
    return score


def build_dino_subject(extractor, identity, device, ctx):
    return network_use(NETWORK, "subject-consistency", None, device, ctx)


def _per_video(item, ctx) -> float:
    return consistency_value(NAME, ctx.model("dino-subject").frames(item.fake), item, ctx)


register(MetricSpec(
    name=NAME, kind="per-video", higher_is_better=True, decimals=4, needs_model="dino-subject",
    description="VBench subject consistency: DINO ViT-B/16 cosine of each frame with the previous and the first "
                "(clipped at 0), frame-pair weighted",
    per_video=_per_video, summarize=pair_weighted_summary(NAME),
    provenance={"model_builder": build_dino_subject, "networks": (NETWORK,), "vbench_dimension": "subject_consistency"},
))
