"""Streaming float64 mean and covariance of feature vectors (memory flat in the number of videos).

The state is three sums (count, sum, sum of outer products), so states from several processes or
shards combine by adding them (``merge``), as torchmetrics' FID does.
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import InputError


class StreamingStats:
    """``update(features)`` batch by batch, then ``compute() -> (mu, sigma)`` with sigma over N-1."""

    def __init__(self, dim: int):
        self.dim = dim
        self.n = 0
        self.sum = np.zeros(dim, dtype=np.float64)
        self.sum_outer = np.zeros((dim, dim), dtype=np.float64)

    def update(self, features) -> None:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InputError(f"features must be N x {self.dim}, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise InputError("features contain NaN or Inf (check the videos and the extractor weights)")
        self.n += x.shape[0]
        self.sum += x.sum(axis=0)
        self.sum_outer += x.T @ x

    def merge(self, other: "StreamingStats") -> "StreamingStats":
        """Add another shard's sums into this one (the cross-process reduction)."""
        if other.dim != self.dim:
            raise InputError(f"cannot merge feature statistics of dimension {other.dim} into {self.dim}")
        self.n += other.n
        self.sum += other.sum
        self.sum_outer += other.sum_outer
        return self

    def state(self) -> dict[str, np.ndarray]:
        return {"n": np.array(self.n), "sum": self.sum, "sum_outer": self.sum_outer}

    def compute(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise InputError(f"need at least 2 videos for a mean and covariance, got {self.n}")
        mu = self.sum / self.n
        sigma = (self.sum_outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, (sigma + sigma.T) / 2
