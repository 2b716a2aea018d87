"""A tiny in-memory dataset for generator tests: fast, seeded, with labels or without."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord

TINY_FRAMES = 40  # longer than a clip, so training windows have random starts


def tiny_video(subject: int, label: int | None, frames: int = TINY_FRAMES) -> np.ndarray:
    """A coloured background per subject and a bright square moving in a direction per label."""
    rng = np.random.default_rng(subject)
    bg = rng.integers(30, 200, size=3)
    video = np.empty((frames, 64, 64, 3), np.uint8)
    video[:] = bg
    dy, dx = [(0, 1), (1, 0), (0, -1), (-1, 0)][(label or 0) % 4]
    for t in range(frames):
        y, x = 24 + (dy * t) // 3, 24 + (dx * t) // 3
        video[t, max(0, y) : y + 12, max(0, x) : x + 12] = 255 - bg
    return video


class TinyDataset(VideoDataset):
    """Six subjects (5 train / 1 test) x ``labels`` x one video each, rendered on the fly."""

    name = "tiny-test"
    labels = ["left", "down"]
    split_subjects = (5, 1)
    user_supplied = False

    def discover(self):
        labels = range(len(self.labels)) if self.labels else [None]
        return [VideoRecord(f"s{s}_l{lab}", f"s{s}", lab, f"tiny:{s}/{lab}") for s in range(6) for lab in labels]

    def read_raw(self, record):
        return tiny_video(int(record.subject[1:]), record.label)


class TinyUnlabelled(TinyDataset):
    name = "tiny-test-unlabelled"
    labels = None


for _cls in (TinyDataset, TinyUnlabelled):
    if _cls.name not in DATASETS:
        DATASETS.register(_cls.name)(_cls)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Generator tests are many tiny ops: one thread is faster and immune to a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
