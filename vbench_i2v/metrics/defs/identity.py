"""Per-frame identity embeddings of a generated video, shared by ACD-C and ACD-I (one embed call),
the identity family's builder, and the summary both metrics share (face fallback counted)."""

from __future__ import annotations


def build_embedder(extractor, identity, device, ctx):
    """The identity embedder (catalog family ``identity``): ``identity`` when given, else the
    plan's extractor when the catalog also lists it as an identity embedder (a probe that gives
    both), else the catalog's default."""
    from vbench_i2v import feature_extractors
    from vbench_i2v.catalog import DEFAULT_IDENTITY, IDENTITY_EMBEDDERS

    if identity is None:
        identity = extractor if isinstance(extractor, str) and extractor in IDENTITY_EMBEDDERS else DEFAULT_IDENTITY
    emb = feature_extractors.build_identity_embedder(identity, device=device)
    ctx.note("identity_embedder", getattr(emb, "name", identity if isinstance(identity, str) else type(identity).__name__))
    if getattr(emb, "pipeline", None):  # detector, alignment, library version (e.g. dlib-resnet)
        ctx.note("identity_pipeline", emb.pipeline)
    return emb


def embeddings(item, ctx):
    """``(frame embeddings, conditioning embedding or None)``; the conditioning image is embedded in
    the same call when ACD-I is asked for, and frames without a face are counted."""

    def compute():
        import numpy as np

        emb = ctx.model("identity")
        fv = item.fake
        if "acd-i" in ctx.metric_names:
            e, fb = emb.embed(np.concatenate([fv, item.cond[None]]))
            out = (e[:-1], e[-1])
            frames = len(fv) + 1
        else:
            e, fb = emb.embed(fv)
            out = (e, None)
            frames = len(fv)
        ctx.count("frames_without_face", int(fb))
        ctx.count("frames", frames)
        return out

    return item.memo("identity", compute)


def summarize(values: dict, ctx, key: str) -> dict:
    """The mean with its bootstrap interval, plus how many embedded frames had no face (the whole
    frame was embedded instead): in the result, in the call's provenance, and as a warning."""
    from vbench_i2v.metrics.engine import summarize_mean

    out = summarize_mean(values, ctx, key)
    if "frames" in ctx.counters:
        fallback = {"frames_without_face": ctx.counters.get("frames_without_face", 0),
                    "frames": ctx.counters["frames"]}
        out["face_fallback"] = fallback
        ctx.note("face_fallback", fallback)
        if fallback["frames_without_face"]:
            ctx.warn(f"no face found in {fallback['frames_without_face']} of {fallback['frames']} "
                     "frames: the whole frame was embedded instead")
    return out
