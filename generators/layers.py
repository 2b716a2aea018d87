"""Tiny helpers every backend's model.py uses: channel scaling and label one-hots."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def scaled(channels: int, width: float) -> int:
    """A layer's channel count at width multiplier ``width`` (1.0 = the published width)."""
    return max(1, round(channels * width))


def one_hot(labels: torch.Tensor | None, num_classes: int, batch: int, like: torch.Tensor) -> torch.Tensor:
    """B x K one-hot (B x 0 for unlabelled models)."""
    if num_classes == 0 or labels is None:
        return like.new_zeros(batch, num_classes)
    return F.one_hot(labels, num_classes).to(like.dtype)
