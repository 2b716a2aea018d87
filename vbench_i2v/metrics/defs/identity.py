"""Per-frame identity embeddings of a generated video, shared by ACD-C and ACD-I (one embed call)."""

from __future__ import annotations


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
