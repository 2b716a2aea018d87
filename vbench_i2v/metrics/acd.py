"""Average Content Distance (ACD) from per-frame identity embeddings.

ACD-C: mean L2 distance over all pairs of frames of one video (identity consistency over time).
ACD-I: mean L2 distance from each generated frame to the conditioning image (identity kept from
the input). Both are per video, then averaged over videos by the engine.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from vbench_i2v.errors import InputError


def _check(emb, what: str) -> np.ndarray:
    e = np.asarray(emb, np.float64)
    if e.ndim != 2:
        raise InputError(f"{what}: embeddings must be T x D, got shape {e.shape}")
    if not np.isfinite(e).all():
        raise InputError(f"{what}: embeddings contain NaN or Inf")
    return e


def acd_c(frame_embeddings) -> float:
    """Mean pairwise L2 distance between the frames of one video (needs >= 2 frames)."""
    e = _check(frame_embeddings, "ACD-C")
    if len(e) < 2:
        raise InputError("ACD-C needs at least 2 frames per video")
    return float(pdist(e).mean())


def acd_i(frame_embeddings, conditioning_embedding) -> float:
    """Mean L2 distance from each frame's embedding to the conditioning image's."""
    e = _check(frame_embeddings, "ACD-I")
    c = np.asarray(conditioning_embedding, np.float64).reshape(-1)
    if c.shape[0] != e.shape[1]:
        raise InputError(f"ACD-I: conditioning embedding has {c.shape[0]} dims, frames have {e.shape[1]}")
    return float(np.linalg.norm(e - c, axis=1).mean())
