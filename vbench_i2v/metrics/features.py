"""Per-video features of a set of videos and their float64 mean/covariance, sharded under torchrun.

Used by the set-level metrics (through the engine) and by ``vbench features``. Every clip is
checked against the extractor's input contract before it is fed (too few frames, extreme aspect
ratios are refused with one line); size changes the contract implies are recorded as conversions.
With a feature store (:mod:`vbench_i2v.metrics.store`) each clip's features are computed once per
network and read back afterwards. The Gaussian of a set is computed once from its feature matrix
in the global sorted order, so it does not depend on batching, sharding or the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.devices import hint_bf16, resolve_device
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
    keeps per-video features (float64, in the order added) and the conversions applied.

    Each clip is checked against the extractor's input contract before it is fed. With a
    :class:`vbench_i2v.metrics.store.NetworkStore` a clip whose features are stored is not fed at
    all, and every clip that is fed is stored. Several accumulators can share one pass over the
    videos (each video decoded once for all networks).
    """

    def __init__(self, extractor, label: str = "videos", store=None):
        self.extractor = extractor
        spec = getattr(extractor, "spec", None)
        self.contract = spec.contract if spec is not None else None
        self.label = label
        self.store = store
        self.dim = int(extractor.dim)
        self.names: list[str] = []
        self._rows: list[np.ndarray | None] = []
        self._batch: list[tuple[int, np.ndarray, str | None, list[str]]] = []
        self._conversions: set[str] = set()
        self.batch_size = getattr(extractor, "batch_size", 8)
        self.extracted = 0  # clips actually sent through the network

    def add(self, name: str, video: np.ndarray) -> None:
        conv: list[str] = []
        if self.contract is not None:
            self.contract.check_clip(video.shape, f"{self.label}/{name}")
            conv = _conversions(self.contract, video.shape)
        index = len(self.names)
        self.names.append(name)
        self._rows.append(None)
        h = None
        if self.store is not None:
            from vbench_i2v.metrics.store import clip_hash

            h = clip_hash(video)
            got = self.store.get(h)
            if got is not None and got[0].shape == (self.dim,):
                self._rows[index] = got[0]
                self._conversions.update(got[1])
                return
        self._conversions.update(conv)
        if self._batch and (video.shape != self._batch[0][1].shape or len(self._batch) >= self.batch_size):
            self._flush()
        self._batch.append((index, video, h, conv))

    def _flush(self) -> None:
        if not self._batch:
            return
        f = np.asarray(self.extractor.features(np.stack([b[1] for b in self._batch])), np.float64)
        if f.ndim != 2 or f.shape != (len(self._batch), self.dim):
            raise InputError(f"features must be {len(self._batch)} x {self.dim}, got shape {f.shape}")
        if not np.isfinite(f).all():
            raise InputError("features contain NaN or Inf (check the videos and the extractor weights)")
        self.extracted += len(self._batch)
        for (index, _, h, conv), row in zip(self._batch, f):
            self._rows[index] = row
            if self.store is not None and h is not None:
                self.store.put(h, row, conv)
        self._batch.clear()

    def finish(self) -> tuple[list[str], np.ndarray, list[str]]:
        """``(names, features N x dim float64, conversions)`` in the order the clips were added."""
        self._flush()
        feats = np.stack(self._rows) if self._rows else np.zeros((0, self.dim))
        return self.names, feats, sorted(self._conversions)


def gaussian(features: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 1/(N-1) covariance (float64) of the rows, in one pass over the matrix (the same
    numbers whether the rows came from the network or from a feature store)."""
    stats = StreamingStats(features.shape[1])
    if len(features):
        stats.update(features)
    try:
        return stats.compute()
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None


def _announce_cost(ex, n_videos: int, device) -> None:
    """Before a long CPU job: the expected time per clip of a large network, and how to go faster."""
    hint_bf16(ex, device)  # one line where --bf16 would be faster (native bf16, network in fp32)
    spec = getattr(ex, "spec", None)
    per_clip = getattr(spec, "seconds_per_clip_cpu", None)
    if per_clip is None or str(device) != "cpu" or per_clip < 1.0:
        return
    total = per_clip * n_videos / 60
    logging.getLogger(__name__).warning("%s on CPU: about %.0f s per clip on one core, ~%.0f min for %d clips; use --device cuda "
                "or torchrun to shard it", spec.name, per_clip, total, n_videos)


def extract_features(videos: VideoSet, extractor, names: Iterable[str] | None = None, progress: bool = False,
                     store=None) -> tuple[list[str], np.ndarray, list[str]]:
    """``(names, features, conversions)`` of the videos (batched by frame shape), through ``store``."""
    import contextlib

    from vbench_i2v.metrics.prefetch import prefetched

    names = list(videos.names() if names is None else names)
    acc = FeatureAccumulator(extractor, videos.label, store=store)
    # the next clips are decoded on loader threads while the network runs on this one (bounded
    # look-ahead, in order; a clip that fails to decode raises at its own position)
    with contextlib.closing(prefetched(videos.load, names)) as it:
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(names), desc=f"features {videos.label}", unit="video", disable=None)
        for name, v in it:
            acc.add(name, v)
    return acc.finish()


def feature_set(videos: VideoSet, extractor, progress: bool = False, store=None) -> FeatureSet | None:
    """The videos' :class:`FeatureSet`, split across torchrun ranks and gathered to rank 0 in the
    global sorted order (the other ranks get None). Without torchrun: one process does it all."""
    names = videos.names()
    parts = distributed.collect(lambda: extract_features(videos, extractor, distributed.shard(names),
                                                         progress=progress and distributed.is_main(), store=store))
    if parts is None:
        return None
    rows = {n: row for part_names, part_feats, _ in parts for n, row in zip(part_names, part_feats)}
    feats = np.stack([rows[n] for n in names]) if names else np.zeros((0, int(extractor.dim)))
    mu, sigma = gaussian(feats, videos.label)
    conv = sorted({c for part in parts for c in part[2]})
    return FeatureSet(names, feats, mu, sigma, getattr(extractor, "weights_sha256", None), videos.label, conv)


def feature_set_from_file(ff: FeatureFile) -> FeatureSet:
    return FeatureSet(ff.names, ff.features, ff.mu, ff.sigma, ff.weights_sha256 or None, str(ff.path))


def features_file(videos, extractor, out_path, device: str = "cpu", batch_size: int = 8,
                  progress: bool = False, bf16: bool = False, store=None, tf32: bool = False) -> FeatureFile | None:
    """Compute and save per-video features + mu/sigma (what `vbench features` does).

    ``extractor``: a registered name, a probe folder, or an extractor object. ``bf16``: the
    network's bf16 mode (opt-in); ``tf32``: TF32 on a CUDA device (opt-in, refused elsewhere; IEEE
    fp32 otherwise). The file records the precision (fp32, tf32, bf16) and the device type, so its
    features are never mixed with features of another precision or device type. ``store``: a
    feature store (folder or :class:`vbench_i2v.metrics.store.FeatureStore`) the features are read
    from and written to. Under torchrun every rank extracts its shard and rank 0
    writes the file; the others return ``None`` once it is written.
    """
    from vbench_i2v import feature_extractors
    from vbench_i2v.devices import scoring_numerics
    from vbench_i2v.metrics.plan import network_identity
    from vbench_i2v.metrics.store import open_store

    distributed.init(device)
    device = resolve_device(distributed.local_device(device))
    with scoring_numerics(device, tf32):  # TF32 refused off CUDA; on CUDA IEEE fp32 unless asked
        vs = VideoSet.from_source(videos, "videos")
        ex = feature_extractors.build_video_extractor(extractor, device=device, batch_size=batch_size,
                                                      **({"bf16": True} if bf16 else {}))  # only when asked for
        _announce_cost(ex, len(vs), device)
        identity = network_identity(ex, bf16, device)
        store = open_store(store)
        net_store = store.network(identity) if store is not None else None
        fs = feature_set(vs, ex, progress=progress, store=net_store)

    def save():
        ff = FeatureFile(path=Path(out_path), features=fs.features, names=fs.names, mu=fs.mu, sigma=fs.sigma,
                         extractor=ex.name, weights_sha256=ex.weights_sha256 or "", bf16=bool(bf16),
                         extra_weights_sha256=dict(getattr(ex, "extra_weights_sha256", {}) or {}),
                         precision=identity["precision"], device=identity.get("device", "cpu"))
        ff.save()
        return ff

    return distributed.on_main(save)
