"""What the training loop feeds a backend: seeded random 32-frame windows, and where a run is in them.

The order of videos in epoch ``e`` and the window start of its ``i``-th sample are pure functions of
``(seed, e, i)``, so a run's data position is just :class:`Progress` (a sample index in the epoch's
order) and a resumed run sees exactly the batches an uninterrupted run would.

Under torchrun a global batch is one block of ``batch_size x processes`` positions of the epoch's
seeded order and rank r takes its r-th ``batch_size`` (a DistributedSampler over our order: torch's
own sampler strides over the whole epoch, which ties positions to the process count). The position
is stored as ``sample_in_epoch``, so a resume with another number of processes continues at the same
sample. ``batch_size`` is per process (the DDP convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vbench_i2v import protocol, tensors
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch


@dataclass
class Progress:
    """Where a run is: global steps taken and the position in the seeded data order."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    sample_in_epoch: int = 0  # position in the epoch's order: independent of the number of processes


class TrainWindows:
    """Seeded batches of random 32-frame windows from a dataset's training split.

    Decoded videos are kept in memory up to ``cache_bytes`` (the protocol's 64x64 clips are small).
    """

    def __init__(self, dataset, batch_size: int, seed: int = 0, cache_bytes: float = 2e9):
        self.dataset = dataset
        self.records = dataset.split("train")
        if not self.records:
            raise InputError(f"dataset {dataset.name!r} has no training videos")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.cache_bytes = cache_bytes
        self._cache: dict[int, np.ndarray] = {}
        self._cached = 0

    @property
    def batches_per_epoch(self) -> int:
        return max(1, len(self.records) // self.batch_size)

    def _video(self, i: int) -> np.ndarray:
        if i in self._cache:
            return self._cache[i]
        frames = self.dataset.load_video(self.records[i])
        if self._cached + frames.nbytes <= self.cache_bytes:
            self._cache[i] = frames
            self._cached += frames.nbytes
        return frames

    def order(self, epoch: int) -> np.ndarray:
        return protocol.rng_for(self.seed, "train-order", str(epoch)).permutation(len(self.records))

    def window(self, epoch: int, sample: int, index: int) -> np.ndarray:
        """The random window of video ``index`` used as sample ``sample`` of ``epoch``."""
        frames = self._video(index)
        last = len(frames) - protocol.CLIP_FRAMES
        start = 0 if last <= 0 else int(protocol.rng_for(self.seed, "train-window", str(epoch), str(sample))
                                        .integers(0, last + 1))
        return protocol.take_clip(frames, start)

    def batch(self, epoch: int, index: int) -> tuple[np.ndarray, list[int | None]]:
        """uint8 ``B x 32 x 64 x 64 x 3`` clips and their labels for batch ``index`` of ``epoch``."""
        return self.samples(epoch, index * self.batch_size, self.batch_size)

    def samples(self, epoch: int, start: int, count: int) -> tuple[np.ndarray, list[int | None]]:
        """Clips and labels at positions ``start .. start+count-1`` of epoch ``epoch``'s order.

        A distributed step takes one global block of ``batch_size x processes`` positions and each
        rank its own ``batch_size`` of them, so a position (and its window) is the same sample
        whatever the number of processes.
        """
        order = self.order(epoch)
        take = range(start, min(len(order), start + count))
        clips = np.stack([self.window(epoch, s, int(order[s])) for s in take])
        return clips, [self.records[int(order[s])].label for s in take]

    def to_batch(self, clips: np.ndarray, labels: list, device: torch.device) -> Batch:
        video = tensors.video_to_model(clips).to(device)
        label = None if labels[0] is None else torch.as_tensor(labels, dtype=torch.long, device=device)
        return Batch(video=video, label=label)


def global_position(prog: Progress, global_batch: int, n_records: int, i: int) -> tuple[int, int]:
    """(epoch, first position) of the ``i``-th step after ``prog``: a pure function, for workers too.

    An epoch has ``max(1, n // global_batch)`` full global batches (the remainder is dropped, as in
    one process); a resumed position that no longer fits (more processes than before) starts the
    next epoch.
    """
    per_epoch = max(1, n_records // global_batch)
    epoch, pos = prog.epoch, prog.sample_in_epoch
    if pos > 0 and pos + global_batch > n_records:
        epoch, pos = epoch + 1, 0
    left_in_epoch = max(1, (n_records - pos) // global_batch) if pos == 0 else (n_records - pos) // global_batch
    if i < left_in_epoch:
        return epoch, pos + i * global_batch
    j = i - left_in_epoch
    return epoch + 1 + j // per_epoch, (j % per_epoch) * global_batch


class StepBatches(torch.utils.data.Dataset):
    """Item ``i`` = this rank's clips (uint8 tensor) and labels for the ``i``-th step after ``prog``."""

    def __init__(self, data: TrainWindows, prog: Progress, steps: int, rank: int, world: int):
        self.data, self.prog, self.steps, self.rank, self.world = data, Progress(**vars(prog)), steps, rank, world

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        b = self.data.batch_size
        epoch, pos = global_position(self.prog, b * self.world, len(self.data.records), i)
        clips, labels = self.data.samples(epoch, pos + self.rank * b, b)
        return epoch, pos, torch.from_numpy(clips), labels


def _identity(item):
    return item


def _share_cache(worker_id: int) -> None:
    """Each worker decodes into its own memory cache: split the budget between them."""
    info = torch.utils.data.get_worker_info()
    info.dataset.data.cache_bytes = info.dataset.data.cache_bytes / info.num_workers


def step_batches(data: TrainWindows, prog: Progress, steps: int, rank: int, world: int, workers: int, pin: bool):
    """Iterate (epoch, position, clips, labels) per step, in order; ``workers`` > 0 decodes in
    DataLoader worker processes (pinned memory for fast host-to-GPU copies when ``pin``)."""
    items = StepBatches(data, prog, steps, rank, world)
    if workers <= 0:
        return (items[i] for i in range(steps))
    loader = torch.utils.data.DataLoader(items, batch_size=None, shuffle=False, num_workers=workers,
                                         collate_fn=_identity, pin_memory=pin, worker_init_fn=_share_cache,
                                         prefetch_factor=2,
                                         # Its own generator: the loader draws worker seeds from it, and
                                         # drawing from the global RNG would shift the training noise.
                                         generator=torch.Generator().manual_seed(0))
    return iter(loader)


def to_batch(data: TrainWindows, clips: torch.Tensor, labels: list, device: torch.device, pin: bool) -> Batch:
    """A step's uint8 clips -> a model :class:`Batch` on ``device``."""
    if device.type == "cpu":
        return data.to_batch(clips.numpy(), labels, device)
    # Copy uint8 (4x fewer bytes than float) and convert on the GPU; asynchronous from pinned memory.
    video = tensors.video_to_model(clips.to(device, non_blocking=pin))
    label = None if labels[0] is None else torch.as_tensor(labels, dtype=torch.long).to(device, non_blocking=pin)
    return Batch(video=video, label=label)
