"""dynamic-degree (VBench's dynamic_degree): is each generated video moving? RAFT-things optical flow
between kept frames (about 8 per second), a pair "moves" when the mean of its largest 5% flow
magnitudes exceeds ``6 * min(H, W) / 256``, and a video is dynamic once ``round(4 * kept / 16)``
pairs moved (formulas in ``vbench_i2v.metrics.vbench_dims``). The value is the share of dynamic
videos with a Wilson 95% interval; each video's 1/0 is kept.

Frame rate: a container's declared rate gives the step ``max(1, round(fps / 8))``; videos whose file
declares none (npz, frame folders, in memory) keep every frame, as a video at 8 fps or less would
(``UNKNOWN_FPS_RULE``, recorded in the result with the count of such videos).
"""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "dynamic-degree"
NETWORK = "raft-things"  # the catalog entry raft.build() builds (declared in provenance["networks"])


def build_raft(extractor, identity, device, ctx):
    """The catalogued ``raft-things`` with its verified weights (built once per scoring call)."""
    from vbench_i2v.feature_extractors import raft

    return raft.build(device=device)


def _pair_scores(model, video, kept, name: str):
    """Flow scores of consecutive kept frames, computed a batch at a time (lazily, so the decision's
    early exit skips the batches after it)."""
    from vbench_i2v.errors import InputError
    from vbench_i2v.metrics.vbench_dims import flow_pair_score

    step = max(1, int(getattr(model, "batch_size", 1) or 1))
    for s in range(0, len(kept) - 1, step):
        a, b = kept[s:s + step + 1][:-1], kept[s + 1:s + step + 1]
        try:
            flows = model.flow(video[a], video[b])
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None
        for f in flows:
            yield flow_pair_score(f.numpy() if hasattr(f, "numpy") else f)


def _per_video(item, ctx) -> float:
    from vbench_i2v.metrics.vbench_dims import dynamic_decision, kept_frames

    video = item.fake
    fps = item.fps
    kept = kept_frames(len(video), fps)
    h, w = video.shape[1:3]
    dynamic, pairs = dynamic_decision(_pair_scores(ctx.model("raft"), video, kept, item.name), h, w, len(kept))
    ctx.record(NAME, item.name, {"fps": fps, "kept_frames": int(len(kept)), "pairs_computed": int(pairs)})
    return float(dynamic)


def _summarize(values: dict, ctx) -> dict:
    from vbench_i2v.metrics.vbench_dims import UNKNOWN_FPS_RULE, share_with_wilson

    recs = ctx.records.get(NAME, {})
    out = {**share_with_wilson([values[n] > 0.5 for n in values]), "per_video": dict(values),
           "interval": "Wilson score 95%"}
    unknown = sum(1 for n in values if recs.get(n, {}).get("fps") is None)
    out["frame_rate"] = {"videos_without_fps": unknown, "rule": UNKNOWN_FPS_RULE,
                         "step": "max(1, round(fps / 8)) for videos that declare a frame rate"}
    out["pairs_computed"] = int(sum(recs.get(n, {}).get("pairs_computed", 0) for n in values))
    return out


register(MetricSpec(
    name=NAME, kind="per-video", higher_is_better=True, decimals=3, needs_model="raft",
    description="VBench dynamic degree: share of videos whose RAFT flow moves (top-5% magnitude above 6*min(H,W)/256 "
                "in round(kept/4) frame pairs, ~8 fps), Wilson 95%",
    per_video=_per_video, summarize=_summarize, sanity=(("frozen", "lower"),),
    provenance={"model_builder": build_raft, "networks": (NETWORK,), "vbench_dimension": "dynamic_degree"},
))
