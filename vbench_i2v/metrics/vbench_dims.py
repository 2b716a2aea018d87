"""The VBench / VBench-I2V per-video formulas, as pure numpy (no network, no torch).

Each function takes what the dimension's network produced (per-frame features, per-pair flow
scores) or the frames themselves (flicker) and returns the per-video number VBench computes; the
metric modules in ``metrics/defs/`` only run the networks and call these. docs/vbench-dims.md
states each formula, the choices made where VBench's own behaviour varies, and how the numbers
relate to VBench's.

Conventions shared by the consistency formulas (VBench's): features are L2-normalised per frame
(``F.normalize``: ``x / max(||x||, 1e-12)``), similarities are dot products of the normalised
features (= cosine similarity) clipped below at 0 (``max(0, cos)``).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from vbench_i2v.errors import InputError

# --- shared --------------------------------------------------------------------------------------


def l2_normalise(features) -> np.ndarray:
    """Rows divided by their L2 norm, floored at 1e-12 (``torch.nn.functional.normalize``)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2:
        raise InputError(f"features must be a 2-d (frames x dim) array, got shape {f.shape}")
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def _clipped_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``max(0, a . b)`` row by row for normalised ``a``, ``b`` (broadcasting)."""
    return np.maximum(0.0, np.sum(a * b, axis=-1))


def _need_frames(t: int, need: int, what: str) -> None:
    if t < need:
        raise InputError(f"{what}: {t} frame{'s' if t != 1 else ''}, but this needs at least {need}")


# --- subject_consistency / background_consistency -------------------------------------------------


def consistency_pair_sims(features, what: str = "video") -> np.ndarray:
    """VBench's subject/background consistency terms, one per frame pair ``i = 1..T-1``:
    ``s_i = (max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2``."""
    f = l2_normalise(features)
    _need_frames(len(f), 2, what)
    return (_clipped_cos(f[:-1], f[1:]) + _clipped_cos(f[:1], f[1:])) / 2.0


def consistency_score(features, what: str = "video") -> tuple[float, float, int]:
    """``(per-video score, sum of s_i, number of pairs T-1)``: the score is the mean of the s_i."""
    s = consistency_pair_sims(features, what)
    return float(s.mean()), float(s.sum()), int(len(s))


def pair_weighted_mean(sums, pairs) -> float:
    """The dimension number of VBench's single-process run: ``sum over videos of sum_i s_i`` divided
    by the total number of frame pairs (with equal frame counts, the plain mean of the videos)."""
    sums, pairs = np.asarray(sums, np.float64), np.asarray(pairs, np.float64)
    return float(sums.sum() / pairs.sum())


def pair_weighted_ci95(sums, pairs, seed: int = 0, reps: int = 1000, key: str = "pair-weighted") -> list[float]:
    """95% percentile-bootstrap interval of :func:`pair_weighted_mean`, resampling videos with
    replacement (each video carries its sum and its pair count: the ratio estimator is resampled)."""
    from vbench_i2v.protocol import rng_for

    sums, pairs = np.asarray(sums, np.float64), np.asarray(pairs, np.float64)
    n = len(sums)
    if n < 2:
        v = pair_weighted_mean(sums, pairs) if n else float("nan")
        return [v, v]
    rng = rng_for(seed, "bootstrap", key)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=reps).astype(np.float64)
    stats = (counts @ sums) / (counts @ pairs)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return [float(lo), float(hi)]


# --- i2v_subject -----------------------------------------------------------------------------------

I2V_WEIGHTS = (0.4, 0.3, 0.3)  # VBench-I2V since 2024-07-12: max conformity, mean and min of consecutive


def i2v_consistency_score(frame_features, image_feature, what: str = "video") -> float:
    """VBench-I2V's image-video consistency (i2v_subject; i2v_background uses the same formula):
    ``0.4 * max_i max(0, cos(g, f_i)) + 0.3 * mean_i c_i + 0.3 * min_i c_i`` with ``g`` the
    conditioning image's feature, ``f_i`` every frame's (``i = 0..T-1``, frame 0 included) and
    ``c_i = max(0, cos(f_{i-1}, f_i))`` for ``i = 1..T-1``."""
    f = l2_normalise(frame_features)
    _need_frames(len(f), 2, what)
    g = l2_normalise(np.asarray(image_feature, np.float64).reshape(1, -1))
    conformity = _clipped_cos(g, f)
    consec = _clipped_cos(f[:-1], f[1:])
    a, b, c = I2V_WEIGHTS
    return float(a * conformity.max() + b * consec.mean() + c * consec.min())


# --- temporal_flickering ---------------------------------------------------------------------------


def flicker_score(video, what: str = "video") -> float:
    """VBench's temporal_flickering score of one uint8 ``T x H x W x C`` video at its own resolution:
    ``(255 - mean_t MAE_t) / 255`` with ``MAE_t`` the mean absolute difference of frames ``t`` and
    ``t+1`` over all pixels and channels (exact: integer sums, one division)."""
    v = np.asarray(video)
    if v.dtype != np.uint8 or v.ndim != 4:
        raise InputError(f"{what}: expected uint8 T x H x W x C frames, got {v.dtype} {v.shape}")
    _need_frames(len(v), 2, what)
    per_frame = v[0].size
    diffs = np.array([np.abs(v[t + 1].astype(np.int16) - v[t].astype(np.int16)).sum(dtype=np.int64)
                      for t in range(len(v) - 1)], np.float64)
    mae = diffs / per_frame
    return float((255.0 - mae.mean()) / 255.0)


# --- aesthetic_quality -----------------------------------------------------------------------------


def aesthetic_from_scores(frame_scores) -> float:
    """VBench's aesthetic_quality per video from the LAION head's per-frame scores (the linear head
    on each frame's L2-normalised CLIP ViT-L/14 embedding, about 1..10): ``mean over frames / 10``."""
    s = np.asarray(frame_scores, np.float64).reshape(-1)
    if s.size == 0:
        raise InputError("aesthetic quality: no frames to score")
    return float(s.mean() / 10.0)


# --- dynamic_degree --------------------------------------------------------------------------------

TARGET_FPS = 8.0  # VBench keeps about 8 frames per second before computing the flow
UNKNOWN_FPS_RULE = ("frame rate unknown (npz, frame folder or in-memory video): every frame kept, "
                    "as for a video at 8 fps or less")


def fps_interval(fps: float | None) -> int:
    """VBench's frame step ``max(1, round(fps / 8))`` (Python's round: halves to even, so 12 fps
    -> 2, 20 fps -> 2, 25 fps -> 3, 30 fps -> 4). Unknown fps (None) -> 1: every frame."""
    if fps is None:
        return 1
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"frame rate must be a positive number, got {fps}")
    return max(1, round(fps / TARGET_FPS))


def kept_frames(t: int, fps: float | None) -> np.ndarray:
    """The frames dynamic_degree looks at: ``0, k, 2k, ...`` with ``k = fps_interval(fps)``."""
    return np.arange(0, int(t), fps_interval(fps))


def dynamic_threshold(h: int, w: int) -> float:
    """Mean top-5% flow magnitude above which a pair counts as moving: ``6 * min(H, W) / 256``
    (H, W of the unpadded frames)."""
    return 6.0 * min(int(h), int(w)) / 256.0


def dynamic_count_needed(n_kept: int) -> int:
    """How many moving pairs make a video dynamic: ``round(4 * n_kept / 16)``, Python's round (halves
    to even: 2 -> 0, 6 -> 2, 10 -> 2, 14 -> 4)."""
    return round(4 * int(n_kept) / 16)


def flow_pair_score(flow) -> float:
    """Mean of the largest ``int(0.05 * H * W)`` flow magnitudes ``sqrt(u^2 + v^2)`` of one pair's
    ``2 x H x W`` flow (H, W of the flow as given: VBench passes the padded flow)."""
    f = np.asarray(flow, np.float64)
    if f.ndim != 3 or f.shape[0] != 2:
        raise InputError(f"flow must be 2 x H x W, got shape {f.shape}")
    mag = np.sqrt(f[0] ** 2 + f[1] ** 2).reshape(-1)
    k = int(0.05 * mag.size)
    if k < 1:
        raise InputError(f"flow of {f.shape[1]}x{f.shape[2]} is too small for a top-5% score")
    return float(np.sort(mag)[-k:].mean())


def dynamic_decision(pair_scores: Iterable[float], h: int, w: int, n_kept: int) -> tuple[bool, int]:
    """VBench's per-video yes/no, scanning the kept frame pairs in order: count the pairs whose score
    is above :func:`dynamic_threshold`; the video is dynamic as soon as the count reaches
    :func:`dynamic_count_needed` (checked after every pair, so with a needed count of 0 the first
    pair decides "dynamic" whatever its score; a video without pairs is not dynamic).

    ``pair_scores`` may be a lazy iterable: it is consumed only up to the decision (early exit).
    Returns ``(dynamic, pairs looked at)``."""
    thres = dynamic_threshold(h, w)
    need = dynamic_count_needed(n_kept)
    count = seen = 0
    for score in pair_scores:
        seen += 1
        if score > thres:
            count += 1
        if count >= need:
            return True, seen
    return False, seen


def share_with_wilson(flags) -> dict:
    """The dynamic_degree set value: the share of dynamic videos, its 95% Wilson score interval and n."""
    from vbench_i2v.metrics.label_accuracy import wilson_ci95

    f = np.asarray(list(flags), bool)
    if f.size == 0:
        raise InputError("dynamic degree: no videos to score")
    k = int(f.sum())
    return {"value": k / f.size, "ci95": wilson_ci95(k, f.size), "n": int(f.size), "dynamic": k}
