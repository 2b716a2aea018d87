"""Per-video features of a set of videos, with streaming float64 mean/covariance, sharded under torchrun.

Used by the set-level metrics (through the engine) and by ``vbench features``. Every clip is
checked against the extractor's input contract before it is fed (too few frames, extreme aspect
ratios are refused with one line); size changes the contract implies are recorded as conversions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.devices import resolve_device
from vbench_i2v.errors import InputError
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


def _conversions(contract, shape) -> list[str]:
    """What the network's contract does to a clip of this shape beyond picking frames."""
    if contract is None:
        return []
    out = []
    t, h, w = int(shape[0]), int(shape[1]), int(shape[2])
    if contract.native_frames and t != contract.native_frames:
        out.append(f"{t} frames resampled (nearest) to {contract.native_frames}")
    if contract.size is not None and (h, w) != tuple(contract.size):
        out.append(f"frames resized {w}x{h} -> {contract.size[1]}x{contract.size[0]} ({contract.resize})")
    return out


class FeatureAccumulator:
    """Feeds videos to one extractor in batches (same frame shape, ``batch_size`` at a time) and
    keeps per-video features, float64 streaming mean/covariance and the conversions applied.

    Each clip is checked against the extractor's input contract before it is fed. Several
    accumulators can share one pass over the videos (each video decoded once for all networks).
    """

    def __init__(self, extractor, label: str = "videos"):
        self.extractor = extractor
        spec = getattr(extractor, "spec", None)
        self.contract = spec.contract if spec is not None else None
        self.label = label
        self.stats = StreamingStats(extractor.dim)
        self.names: list[str] = []
        self._rows: list[np.ndarray] = []
        self._batch: list[np.ndarray] = []
        self._conversions: set[str] = set()
        self.batch_size = getattr(extractor, "batch_size", 8)

    def add(self, name: str, video: np.ndarray) -> None:
        if self.contract is not None:
            self.contract.check_clip(video.shape, f"{self.label}/{name}")
            self._conversions.update(_conversions(self.contract, video.shape))
        if self._batch and (video.shape != self._batch[0].shape or len(self._batch) >= self.batch_size):
            self._flush()
        self._batch.append(video)
        self.names.append(name)

    def _flush(self) -> None:
        if self._batch:
            f = self.extractor.features(np.stack(self._batch))
            self.stats.update(f)  # raises on NaN/Inf
            self._rows.append(f)
            self._batch.clear()

    def finish(self) -> tuple[list[str], np.ndarray, StreamingStats, list[str]]:
        self._flush()
        feats = np.concatenate(self._rows) if self._rows else np.zeros((0, self.extractor.dim))
        return self.names, feats, self.stats, sorted(self._conversions)


def _announce_cost(ex, n_videos: int, device) -> None:
    """Before a long CPU job: the expected time per clip of a large network, and how to go faster."""
    spec = getattr(ex, "spec", None)
    per_clip = getattr(spec, "seconds_per_clip_cpu", None)
    if per_clip is None or str(device) != "cpu" or per_clip < 1.0:
        return
    total = per_clip * n_videos / 60
    logging.getLogger(__name__).warning("%s on CPU: about %.0f s per clip on one core, ~%.0f min for %d clips; use --device cuda "
                "or torchrun to shard it", spec.name, per_clip, total, n_videos)


def extract_features(videos: VideoSet, extractor, names: Iterable[str] | None = None,
                     progress: bool = False, conversions: list | None = None
                     ) -> tuple[list[str], np.ndarray, StreamingStats]:
    """Features of every video (batched by frame shape), with float64 streaming mean/cov."""
    names = list(videos.names() if names is None else names)
    acc = FeatureAccumulator(extractor, videos.label)
    it = videos.iter(names)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(names), desc=f"features {videos.label}", unit="video", disable=None)
    for name, v in it:
        acc.add(name, v)
    names, feats, stats, conv = acc.finish()
    if conversions is not None:
        conversions.extend(conv)
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
    try:
        mu, sigma = stats.compute()
    except InputError as exc:
        raise InputError(f"{videos.label}: {exc}") from None
    return FeatureSet(names, feats, mu, sigma, getattr(extractor, "weights_sha256", None), videos.label, conv)


def feature_set_from_file(ff: FeatureFile) -> FeatureSet:
    return FeatureSet(ff.names, ff.features, ff.mu, ff.sigma, ff.weights_sha256 or None, str(ff.path))


def features_file(videos, extractor, out_path, device: str = "cpu", batch_size: int = 8,
                  progress: bool = False, bf16: bool = False) -> FeatureFile | None:
    """Compute and save per-video features + mu/sigma (what `vbench features` does).

    ``extractor``: a registered name, a probe folder, or an extractor object. ``bf16``: the
    network's bf16 mode (opt-in; the file records it, so it is never mixed with fp32 features).
    Under torchrun every rank extracts its shard and rank 0 writes the file; the others return
    ``None`` once it is written.
    """
    from vbench_i2v import feature_extractors

    distributed.init(device)
    device = resolve_device(distributed.local_device(device))
    vs = VideoSet.from_source(videos, "videos")
    ex = feature_extractors.build_video_extractor(extractor, device=device, batch_size=batch_size,
                                                  **({"bf16": True} if bf16 else {}))  # only when asked for
    _announce_cost(ex, len(vs), device)
    fs = feature_set(vs, ex, progress=progress)

    def save():
        ff = FeatureFile(path=Path(out_path), features=fs.features, names=fs.names, mu=fs.mu, sigma=fs.sigma,
                         extractor=ex.name, weights_sha256=ex.weights_sha256 or "", bf16=bool(bf16))
        ff.save()
        return ff

    return distributed.on_main(save)
