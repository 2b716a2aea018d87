"""Per-video features of a set of videos, with streaming float64 mean/covariance, sharded under torchrun.

Used by the set-level metrics (through the engine) and by ``vbench features``. Every clip is
checked against the extractor's input contract before it is fed (too few frames, extreme aspect
ratios are refused with one line); size changes the contract implies are recorded as conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.devices import resolve_device
from vbench_i2v.metrics.sources import FeatureFile, VideoSet
from vbench_i2v.metrics.streaming import StreamingStats


@dataclass
class FeatureSet:
    """One side of a set-level comparison: per-video features (rank 0) and their Gaussian."""

    names: list[str]
    features: np.ndarray | None
    mu: np.ndarray
    sigma: np.ndarray
    weights_sha256: str | None
    source: str
    conversions: list[str] = field(default_factory=list)


def _conversion(contract, shape) -> str | None:
    if contract is None or contract.size is None:
        return None
    h, w = int(shape[1]), int(shape[2])
    if (h, w) != tuple(contract.size):
        return f"frames resized {w}x{h} -> {contract.size[1]}x{contract.size[0]} ({contract.resize})"
    return None


def extract_features(videos: VideoSet, extractor, names: Iterable[str] | None = None,
                     progress: bool = False, conversions: list | None = None
                     ) -> tuple[list[str], np.ndarray, StreamingStats]:
    """Features of every video (batched by frame shape), with float64 streaming mean/cov."""
    names = list(videos.names() if names is None else names)
    spec = getattr(extractor, "spec", None)
    contract = spec.contract if spec is not None else None
    stats = StreamingStats(extractor.dim)
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    seen_conv: set[str] = set()

    def flush():
        if batch:
            f = extractor.features(np.stack(batch))
            stats.update(f)  # raises on NaN/Inf
            out.append(f)
            batch.clear()

    it = videos.iter(names)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(names), desc=f"features {videos.label}", unit="video")
    bs = getattr(extractor, "batch_size", 8)
    for name, v in it:
        if contract is not None:
            contract.check_clip(v.shape, f"{videos.label}/{name}")
            conv = _conversion(contract, v.shape)
            if conv and conv not in seen_conv:
                seen_conv.add(conv)
        if batch and (v.shape != batch[0].shape or len(batch) >= bs):
            flush()
        batch.append(v)
    flush()
    if conversions is not None:
        conversions.extend(sorted(seen_conv))
    feats = np.concatenate(out) if out else np.zeros((0, extractor.dim))
    return names, feats, stats


def extract_features_sharded(videos: VideoSet, extractor, progress: bool = False, conversions: list | None = None):
    """:func:`extract_features` split across torchrun ranks: returns ``(names, features, stats)`` with
    ``names`` in the global sorted order, ``stats`` all-reduced on every rank, and ``features`` the
    full global-order matrix on rank 0 (``None`` on the others). Without torchrun: unchanged."""
    names = videos.names()
    if not distributed.is_distributed():
        return extract_features(videos, extractor, names, progress=progress, conversions=conversions)
    local = {}

    def mine():
        conv: list[str] = []
        n, f, local["stats"] = extract_features(videos, extractor, distributed.shard(names),
                                                progress=progress and distributed.is_main(), conversions=conv)
        return n, f, conv

    parts = distributed.collect(mine)
    stats = distributed.reduce_stats(local["stats"])
    if parts is None:
        return names, None, stats
    if conversions is not None:
        conversions.extend(sorted({c for part in parts for c in part[2]}))
    rows = {n: row for part_names, part_feats, _ in parts for n, row in zip(part_names, part_feats)}
    return names, np.stack([rows[n] for n in names]), stats


def feature_set(videos: VideoSet, extractor, progress: bool = False) -> FeatureSet:
    conv: list[str] = []
    names, feats, stats = extract_features_sharded(videos, extractor, progress=progress, conversions=conv)
    mu, sigma = stats.compute()
    return FeatureSet(names, feats, mu, sigma, getattr(extractor, "weights_sha256", None), videos.label, conv)


def feature_set_from_file(ff: FeatureFile) -> FeatureSet:
    return FeatureSet(ff.names, ff.features, ff.mu, ff.sigma, ff.weights_sha256 or None, str(ff.path))


def features_file(videos, extractor, out_path, device: str = "cpu", batch_size: int = 8,
                  progress: bool = False) -> FeatureFile | None:
    """Compute and save per-video features + mu/sigma (what `vbench features` does).

    ``extractor``: a registered name, a probe folder, or an extractor object. Under torchrun every
    rank extracts its shard and rank 0 writes the file; the others return ``None`` once it is written.
    """
    from vbench_i2v import feature_extractors

    distributed.init(device)
    device = resolve_device(distributed.local_device(device))
    vs = VideoSet.from_source(videos, "videos")
    ex = feature_extractors.build_video_extractor(extractor, device=device, batch_size=batch_size)
    fs = feature_set(vs, ex, progress=progress)

    def save():
        ff = FeatureFile(path=Path(out_path), features=fs.features, names=fs.names, mu=fs.mu, sigma=fs.sigma,
                         extractor=ex.name, weights_sha256=ex.weights_sha256 or "")
        ff.save()
        return ff

    return distributed.on_main(save)
