"""The training loop every backend shares: data, logging, sample grids, checkpoints, exact resume.

A backend only says what one step does (:meth:`GeneratorBackend.train_step`) and which
optimisers it has (:meth:`GeneratorBackend.configure_optimizers`). One :class:`Trainer` owns
everything else a run changes: the optimisers, the AMP and other fast-path switches, the
DistributedDataParallel wrappers, the RNG states and the data position, checkpoints and logs.
It feeds the backend random 32-frame training windows, hands each step a
:class:`~vbench_i2v.generators.base.StepState`, writes ``losses.csv`` and sample grids, and saves
checkpoints that a later ``resume=True`` run continues exactly: weights, optimiser states, the
torch/numpy/python RNG states and the position in the (seeded) data order. The run is described
by one :class:`TrainOptions`; :func:`train` is the short call for scripts.

Output folder layout (also a loadable checkpoint, so ``vbench generate --checkpoint DIR`` works)::

    DIR/model.safetensors  DIR/config.json      latest weights + config (+ step)
    DIR/training_state.pt                        optimisers, RNG states, step, data position
    DIR/losses.csv                               one row per step
    DIR/samples/step_000100.{png,gif}            fixed inputs x every label, fixed noise

Under ``torchrun`` (see the "Distributed training" section below) every process runs this loop on
its own slice of each global batch, each step calls DistributedDataParallel wrappers around the
networks, and rank 0 alone logs, draws samples and saves. A caller that trains on one rank while
the others wait (``vbench run`` training a missing checkpoint) says so with
``TrainOptions(single_process=True)``.

Why this module is over 400 lines: the Trainer is deliberately the one owner of training state (options, fast paths, optimisers, DDP, RNG and data position, checkpoints, logs); splitting it would split that state.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vbench_i2v import distributed, protocol, tensors
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import (
    CONFIG_FILE,
    MODEL_FILE,
    Batch,
    GeneratorBackend,
    StepState,
    read_checkpoint_meta,
)
from vbench_i2v.files import atomic_path, atomic_write_text
from vbench_i2v.generators.grids import save_sample_grid

log = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"
LOSS_FILE = "losses.csv"
SAMPLES_DIR = "samples"


# --- data --------------------------------------------------------------------------------
class TrainWindows:
    """Seeded batches of random 32-frame windows from a dataset's training split.

    The order of videos in epoch ``e`` and the window start of its ``i``-th sample are pure
    functions of ``(seed, e, i)``, so the data position is just ``(epoch, batch index)`` and a
    resumed run sees exactly the batches an uninterrupted run would. Decoded videos are kept in
    memory (the protocol's 64x64 clips are small).
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


# --- state ---------------------------------------------------------------------------------
@dataclass
class Progress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    sample_in_epoch: int = 0  # position in the epoch's order: independent of the number of processes


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(backend: GeneratorBackend, optimizers: dict, out: Path, progress: Progress, seed: int,
                    world_size: int = 1, rank_rngs: list | None = None) -> None:
    """Training state first, then weights, then config.json (which names the step last).

    A distributed run also stores every rank's RNG state (``rank_rngs``, rank 0's is ``rng``), so a
    resume with the same number of processes continues exactly.
    """
    state = {
        "step": progress.step,
        "epoch": progress.epoch,
        "batch_in_epoch": progress.batch_in_epoch,
        "sample_in_epoch": progress.sample_in_epoch,
        "world_size": world_size,
        "seed": seed,
        "optimizers": {k: opt.state_dict() for k, opt in optimizers.items()},
        "rng": rng_state() if rank_rngs is None else rank_rngs[0],
    }
    if rank_rngs is not None and len(rank_rngs) > 1:
        state["rank_rngs"] = rank_rngs
    with atomic_path(out / STATE_FILE) as tmp:
        torch.save(state, tmp)
    extra = {"step": progress.step, "seed": seed}
    if world_size > 1:
        extra.update(world_size=world_size, global_batch_size=backend.config.batch_size * world_size)
    backend.save(out, extra=extra)


def load_training_state(backend: GeneratorBackend, optimizers: dict, out: Path, rank: int = 0) -> tuple[Progress, int]:
    """Restore weights, ``optimizers`` and RNG from ``out``; returns the progress and the run's seed.

    ``rank`` > 0 (a distributed resume) takes that rank's saved RNG state when the run had that
    many processes, and otherwise a fresh stream derived from (seed, rank, step).
    """
    from safetensors.torch import load_file

    meta = read_checkpoint_meta(out)
    if meta["backend"] != backend.name:
        raise InputError(f"{out}: cannot resume, checkpoint is for generator {meta['backend']!r}, not {backend.name!r}")
    if meta["num_classes"] != backend.num_classes:
        raise InputError(f"{out}: cannot resume, checkpoint has {meta['num_classes']} classes, "
                         f"the model has {backend.num_classes}")
    path = out / STATE_FILE
    if not path.exists():
        raise InputError(f"{out}: cannot resume, no {STATE_FILE} (was it written by `vbench train`?)")
    state = _read_state(path, optimizers)
    if state["step"] != meta.get("step"):
        raise InputError(f"{out}: {STATE_FILE} (step {state['step']}) and {CONFIG_FILE} "
                         f"(step {meta.get('step')}) disagree; the last checkpoint was interrupted")
    weights = out / MODEL_FILE
    if not weights.is_file():
        raise InputError(f"{out}: cannot resume, no {MODEL_FILE}")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error type for a truncated/corrupt file
        raise InputError(f"{weights}: cannot resume, not a readable safetensors file ({_first_line(exc)})") from None
    try:
        backend.nets.load_state_dict(tensors)
    except RuntimeError as exc:
        raise InputError(f"{weights}: cannot resume, weights do not fit this model's config "
                         f"({_first_line(exc)})") from None
    for name, opt in optimizers.items():
        try:
            opt.load_state_dict(state["optimizers"][name])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise InputError(f"{path}: cannot resume, field optimizers.{name} does not fit this model's "
                             f"optimiser ({_first_line(exc)})") from None
    rngs = state.get("rank_rngs") or [state["rng"]]
    if rank < len(rngs):
        try:
            set_rng_state(rngs[rank])
        except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
            field = "rank_rngs" if state.get("rank_rngs") else "rng"
            raise InputError(f"{path}: cannot resume, field {field} is not a saved RNG state "
                             f"({_first_line(exc)})") from None
    else:
        seed_everything(_rank_seed(int(state["seed"]), rank, state["step"]))
    old_world = int(state.get("world_size", 1))
    sample = state.get("sample_in_epoch", state["batch_in_epoch"] * backend.config.batch_size * old_world)
    return Progress(state["step"], state["epoch"], state["batch_in_epoch"], int(sample)), int(state["seed"])


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The first informative line of an error (torch's load_state_dict puts the detail on line 2)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()] or [type(exc).__name__]
    text = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return text if len(text) <= limit else text[:limit - 3] + "..."


# Fields of training_state.pt and what they hold; checked before anything is restored.
_STATE_INTS = ("step", "epoch", "batch_in_epoch", "seed")


def _read_state(path: Path, optimizers: dict) -> dict:
    """Load ``training_state.pt`` and check its fields, naming the file and the field when wrong."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError/UnpicklingError/EOFError... for a damaged file
        raise InputError(f"{path}: cannot resume, file is damaged or not a training state "
                         f"({_first_line(exc)})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: cannot resume, expected a dict of training state, got {type(state).__name__}")
    for key in _STATE_INTS + ("optimizers", "rng"):
        if key not in state:
            raise InputError(f"{path}: cannot resume, missing field {key}")
    for key in _STATE_INTS + tuple(k for k in ("sample_in_epoch", "world_size") if k in state):
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "world_size" else 0):
            raise InputError(f"{path}: cannot resume, field {key} must be a "
                             f"{'positive' if key == 'world_size' else 'non-negative'} integer, got {value!r}")
    if not isinstance(state["optimizers"], dict):
        raise InputError(f"{path}: cannot resume, field optimizers must be a dict")
    missing = sorted(set(optimizers) - set(state["optimizers"]))
    if missing:
        raise InputError(f"{path}: cannot resume, field optimizers lacks {', '.join(missing)} "
                         f"(saved by another generator?)")
    rngs = state.get("rank_rngs") or [state["rng"]]
    if not isinstance(rngs, list) or not all(isinstance(r, dict) and {"torch", "numpy", "python"} <= set(r)
                                              for r in rngs):
        field = "rank_rngs" if state.get("rank_rngs") else "rng"
        raise InputError(f"{path}: cannot resume, field {field} must hold torch, numpy and python RNG states")
    return state


def _rank_seed(seed: int, rank: int, step: int | None = None) -> int:
    """Rank ``rank``'s torch/numpy/python seed (rank 0 uses ``seed`` itself, as a single process does)."""
    keys = ("train-rank", str(rank)) + (() if step is None else (str(step),))
    return int(protocol.rng_for(seed, *keys).integers(2**62))


# --- logging -------------------------------------------------------------------------------
class LossLog:
    """``losses.csv``: step, epoch, seconds, then the backend's losses (columns from the first step)."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        self.columns: list[str] | None = None
        if resume_step is not None and path.exists():
            rows = list(csv.reader(path.read_text().splitlines()))
            if rows:
                self.columns = rows[0]
                keep = [rows[0]]
                for line, r in enumerate(rows[1:], start=2):
                    try:
                        if r and int(r[0]) <= resume_step:
                            keep.append(r)
                    except ValueError:
                        raise InputError(f"{path}, line {line}: cannot resume, column step must be an "
                                         f"integer, got {r[0]!r}") from None
                buf = io.StringIO()
                csv.writer(buf).writerows(keep)
                atomic_write_text(path, buf.getvalue())
        elif path.exists():
            path.unlink()

    def write(self, step: int, epoch: int, seconds: float, losses: dict[str, float]) -> None:
        if self.columns is None:
            self.columns = ["step", "epoch", "seconds"] + list(losses)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        row = {"step": step, "epoch": epoch, "seconds": f"{seconds:.4f}",
               **{k: f"{float(v):.6g}" for k, v in losses.items()}}
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])


def read_losses(path) -> list[dict[str, float]]:
    with Path(path).open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


# --- sample grids --------------------------------------------------------------------------
class SampleSheet:
    """Fixed conditioning images (first frames of test clips) x every label, with fixed noise."""

    def __init__(self, backend: GeneratorBackend, dataset, seed: int, inputs: int = 2):
        split = "test" if _has_split(dataset, "test") else "train"
        refs = dataset.clips(split, per_video=1, seed=seed)[: max(1, inputs)]
        firsts = np.stack([dataset.load_clip(r)[0] for r in refs])
        if backend.num_classes:
            k = backend.num_classes
            self.images = np.repeat(firsts, k, axis=0)
            self.labels: list | None = [i for _ in refs for i in range(k)]
            self.ncols = k
        else:
            self.images = np.repeat(firsts, 2, axis=0)
            self.labels = None
            self.ncols = 2
        gen = torch.Generator().manual_seed(int(protocol.rng_for(seed, "sample-noise").integers(2**62)))
        self.z = backend.sample_z(len(self.images), gen)

    def render(self, backend: GeneratorBackend, stem: Path, autocast=contextlib.nullcontext) -> list[Path]:
        """Generate the sheet (under ``autocast``: the run's AMP setting) and save it as png + gif."""
        with autocast():
            videos = backend.generate(self.images, self.labels, z=self.z)
        return save_sample_grid(stem, tensors.video_from_model(videos), self.images, self.ncols)


def _has_split(dataset, split: str) -> bool:
    try:
        return bool(dataset.split(split))
    except Exception:
        return False


# --- distributed training -----------------------------------------------------------------
#
# Under torchrun every rank runs the same loop. Choices, and why:
# - Gradients: each network of ``backend.nets`` with trainable parameters is wrapped in
#   DistributedDataParallel (``_ddp_nets``), and the trainer hands the wrappers to every step as
#   ``StepState.nets``. Backends need no change: ``state.nets["G"](...)`` calls DDP's forward,
#   attribute look-ups (``state.nets["G"].dim_z``) reach the network (``_DDP.__getattr__``), and the
#   trainer's optimisers step the same Parameter objects. ``backend.nets`` itself always holds the
#   plain networks (sample grids, save, load), so rank 0 can generate alone and checkpoints keep
#   their keys (no ``module.`` prefix).
# - GAN steps call a network several times per step (D on real, on fake, then again for G's loss)
#   and backward through D into G. DDP supports several forwards before one backward (autograd sums
#   a parameter's gradients before DDP's hook sees them) as long as every parameter gets a gradient
#   in that backward; D's gradients from G's loss are all-reduced too and then zeroed by the
#   backend's next ``zero_grad``, which costs bandwidth but not correctness. Networks with
#   parameters that some steps do not use need ``find_unused_parameters`` (``--ddp-find-unused``,
#   off by default: it walks the graph after every forward).
# - Buffers: DDP broadcasts rank 0's buffers before each forward (``broadcast_buffers``), so
#   BatchNorm running statistics are rank 0's (per-rank BN: each rank normalises with its own batch
#   statistics in training mode; the running averages only matter at evaluation, and rank 0's is
#   what the checkpoint keeps). Spectral norm's power-iteration vectors (``_u``, ``_v``) depend only
#   on the weight and the previous vectors, never on data, so they stay identical on every rank
#   without communication; the broadcast makes that hold even if a kernel were non-deterministic.
#   (DDP's ``broadcast_buffers`` default, left on.)
#   Before each checkpoint all buffers are broadcast once more, so every rank holds the saved state.
# - SyncBatchNorm (``sync_bn``): batch statistics over the global batch. PyTorch implements it for
#   GPUs only ("SyncBatchNorm expected input tensor to be on GPU", checked with gloo on CPU), so
#   ``auto`` turns it on for distributed CUDA runs and leaves per-rank BN on CPU.
# - Data: a global batch is one block of ``batch_size x processes`` positions of the epoch's
#   seeded order and rank r takes its r-th ``batch_size`` (a DistributedSampler over our order:
#   torch's own sampler strides over the whole epoch, which ties positions to the process count).
#   The position is stored as ``sample_in_epoch``, so a resume with another number of processes
#   continues at the same sample. ``batch_size`` is per process (the DDP convention).
# - RNG: rank 0 keeps ``seed``'s stream (so 1 process is unchanged); rank r > 0 gets its own
#   stream for noise. Checkpoints keep every rank's RNG state.




class _DDP(torch.nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that lets backends read the wrapped network's attributes."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def _ddp_nets(nets: torch.nn.ModuleDict, device: torch.device, find_unused: bool = False) -> torch.nn.ModuleDict:
    """The networks a distributed step calls: DDP around each one with trainable parameters.

    Construction broadcasts rank 0's parameters and buffers, so every rank starts equal. DDP's
    default buffer sync (rank 0's buffers before every forward) is left on.
    """
    ids = [device.index] if device.type == "cuda" else None
    wrapped = torch.nn.ModuleDict()
    for name, net in nets.items():
        if any(p.requires_grad for p in net.parameters()):
            wrapped[name] = _DDP(net, device_ids=ids, find_unused_parameters=find_unused)
        else:
            wrapped[name] = net
    return wrapped


def _global_position(prog: Progress, global_batch: int, n_records: int, i: int) -> tuple[int, int]:
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


class _StepBatches(torch.utils.data.Dataset):
    """Item ``i`` = this rank's clips (uint8 tensor) and labels for the ``i``-th step after ``prog``."""

    def __init__(self, data: TrainWindows, prog: Progress, steps: int, rank: int, world: int):
        self.data, self.prog, self.steps, self.rank, self.world = data, Progress(**vars(prog)), steps, rank, world

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        b = self.data.batch_size
        epoch, pos = _global_position(self.prog, b * self.world, len(self.data.records), i)
        clips, labels = self.data.samples(epoch, pos + self.rank * b, b)
        return epoch, pos, torch.from_numpy(clips), labels


def _identity(item):
    return item


def _share_cache(worker_id: int) -> None:
    """Each worker decodes into its own memory cache: split the budget between them."""
    info = torch.utils.data.get_worker_info()
    info.dataset.data.cache_bytes = info.dataset.data.cache_bytes / info.num_workers


def _step_batches(data: TrainWindows, prog: Progress, steps: int, rank: int, world: int, workers: int, pin: bool):
    """Iterate (epoch, position, clips, labels) per step, in order; ``workers`` > 0 decodes in
    DataLoader worker processes (pinned memory for fast host-to-GPU copies when ``pin``)."""
    items = _StepBatches(data, prog, steps, rank, world)
    if workers <= 0:
        return (items[i] for i in range(steps))
    loader = torch.utils.data.DataLoader(items, batch_size=None, shuffle=False, num_workers=workers,
                                         collate_fn=_identity, pin_memory=pin, worker_init_fn=_share_cache,
                                         prefetch_factor=2,
                                         # Its own generator: the loader draws worker seeds from it, and
                                         # drawing from the global RNG would shift the training noise.
                                         generator=torch.Generator().manual_seed(0))
    return iter(loader)


def _to_batch(data: TrainWindows, clips: torch.Tensor, labels: list, device: torch.device, pin: bool) -> Batch:
    if device.type == "cpu":
        return data.to_batch(clips.numpy(), labels, device)
    # Copy uint8 (4x fewer bytes than float) and convert on the GPU; asynchronous from pinned memory.
    video = tensors.video_to_model(clips.to(device, non_blocking=pin))
    label = None if labels[0] is None else torch.as_tensor(labels, dtype=torch.long).to(device, non_blocking=pin)
    return Batch(video=video, label=label)


def to_channels_last(nets: torch.nn.Module) -> None:
    """Store 5-D weights as ``channels_last_3d`` and 4-D ones as ``channels_last``, in place.

    ``Module.to(memory_format=...)`` takes one format for all, and video GANs mix 3D and 2D convs.
    The Parameter objects stay the same (optimisers keep working); state-dict values are equal.
    """
    with torch.no_grad():
        for t in list(nets.parameters()) + list(nets.buffers()):
            fmt = {5: torch.channels_last_3d, 4: torch.channels_last}.get(t.dim())
            if fmt is not None:
                t.data = t.data.contiguous(memory_format=fmt)


def _workers(value, cuda: bool) -> int:
    """``auto``: 2 loader processes feeding a GPU, none on CPU (the ranks already use the cores, and the
    decoded videos are cached in memory after the first epoch)."""
    if value is None or str(value).lower() == "auto":
        return 2 if cuda else 0
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InputError(f"workers must be auto or a number >= 0, got {value!r}") from None
    if n < 0:
        raise InputError(f"workers must be auto or a number >= 0, got {value!r}")
    return n


def _switch(value: str | bool, cuda: bool, what: str) -> bool:
    if isinstance(value, bool):
        return value
    value = str(value).lower()
    if value == "auto":
        return cuda
    if value in ("on", "true", "1"):
        return True
    if value in ("off", "false", "0"):
        return False
    raise InputError(f"{what} must be auto, on or off, got {value!r}")


# --- what a run is ---------------------------------------------------------------------------
@dataclass
class TrainOptions:
    """Everything that describes one training run, checked when it is made.

    ``steps`` (or ``epochs``, default 1 epoch) is the total the run trains to, counting global steps
    under torchrun; ``seed`` is None for "0" on a new run and "the run's own" on ``resume`` (a
    different one is refused there). ``device`` None keeps the backend's. The fast paths
    (``amp``, ``compile``, ``channels_last``, ``sync_bn``) are ``auto`` (on for CUDA; ``sync_bn``
    only under torchrun), ``on`` or ``off``; ``workers`` is ``auto`` (2 DataLoader processes with
    pinned memory on CUDA, 0 on CPU) or a number. ``max_seconds`` ends the run early (with samples
    and a checkpoint). ``single_process`` trains in this process alone even when a torchrun
    process group is up (the other ranks are waiting elsewhere and must not be asked to join).
    """

    steps: int | None = None
    epochs: float | None = None
    seed: int | None = None
    resume: bool = False
    device: str | torch.device | None = None
    sample_every: int = 200
    checkpoint_every: int = 200
    sample_inputs: int = 2
    max_seconds: float | None = None
    progress_bar: bool = True
    amp: str | bool = "auto"
    compile: str | bool = "auto"
    channels_last: str | bool = "auto"
    sync_bn: str | bool = "auto"
    workers: int | str = "auto"
    ddp_find_unused: bool = False
    single_process: bool = False

    def __post_init__(self):
        if self.steps is not None and self.epochs is not None:
            raise InputError("give steps or epochs, not both")
        for name in ("steps", "sample_every", "checkpoint_every", "sample_inputs"):
            value = getattr(self, name)
            if value is None and name == "steps":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be an integer >= 1, got {value!r}")
        if self.epochs is not None and not (isinstance(self.epochs, (int, float)) and math.isfinite(self.epochs)
                                            and self.epochs > 0):
            raise InputError(f"epochs must be a finite number > 0, got {self.epochs!r}")
        if self.max_seconds is not None and not (self.max_seconds >= 0):  # NaN fails too
            raise InputError(f"max_seconds must be >= 0, got {self.max_seconds!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise InputError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("amp", "compile", "channels_last", "sync_bn"):
            _switch(getattr(self, name), False, name)  # refuses anything but auto/on/off now
        _workers(self.workers, False)


@dataclass(frozen=True)
class FastPaths:
    """The switches of :class:`TrainOptions` resolved for one device and process count."""

    amp: bool
    compile: bool
    channels_last: bool
    sync_bn: bool
    workers: int
    pin_memory: bool

    @classmethod
    def resolve(cls, options: TrainOptions, cuda: bool, multi: bool) -> "FastPaths":
        workers = _workers(options.workers, cuda)
        sync_bn = multi and _switch(options.sync_bn, cuda, "sync_bn")
        if sync_bn and not cuda:
            raise InputError("sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); use sync_bn off "
                             "or auto on CPU")
        return cls(amp=_switch(options.amp, cuda, "amp"), compile=_switch(options.compile, cuda, "compile"),
                   channels_last=_switch(options.channels_last, cuda, "channels_last"), sync_bn=sync_bn,
                   workers=workers, pin_memory=cuda and workers > 0)


# --- the loop ------------------------------------------------------------------------------
class Trainer:
    """One training run of ``backend`` on ``dataset``'s training split, into the folder ``out``.

    The trainer is the one owner of what a run changes besides the weights: the optimisers
    (``self.optimizers``), the resolved switches (``self.fast``), the DDP wrappers, the RNG
    states and the data position (``self.progress``), the seed and device (resolved once, in
    :meth:`fit`), the loss log, the sample sheet and the checkpoints. Each step receives a
    :class:`StepState` with the networks to call, the optimisers and the AMP switch.

    ``on_step(step, losses)`` is called after every step (after that step's checkpoint).
    """

    def __init__(self, backend: GeneratorBackend, dataset, out, options: TrainOptions | None = None,
                 on_step: Callable[[int, dict], None] | None = None):
        self.backend, self.dataset, self.out = backend, dataset, Path(out)
        self.options = options if options is not None else TrainOptions()
        self.on_step = on_step
        # Resolved by fit(): the process layout, device, seed, switches and the run's state.
        self.multi, self.rank, self.world = False, 0, 1
        self.device: torch.device = backend.device
        self.seed: int = 0
        self.fast: FastPaths | None = None
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.progress = Progress()
        self.total = 0
        self.data: TrainWindows | None = None
        self._log: LossLog | None = None
        self._sheet: SampleSheet | None = None
        self._state: StepState | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    # --- setting up --------------------------------------------------------------------------
    def fit(self) -> Path:
        """Train until ``options.steps`` (or ``epochs``) in total; returns the run folder.

        With ``resume`` the run continues from the checkpoint in ``out`` (same seed, same data
        order, restored RNG and optimisers), so N steps, or N/2 steps then a resume to N, give the
        same weights. Under torchrun, ``config.batch_size`` is per process and a failure while
        setting up on any rank stops every rank with the message.
        """
        backend, dataset, opts = self.backend, self.dataset, self.options
        if not backend.trainable:
            raise InputError(f"generator {backend.name!r} has nothing to train")
        if backend.num_classes != dataset.num_classes:
            raise InputError(f"model has {backend.num_classes} classes, dataset {dataset.name!r} "
                             f"has {dataset.num_classes}")
        if not opts.single_process:
            distributed.init(opts.device if opts.device is not None else backend.device)  # no-op without torchrun
            self.multi = distributed.is_distributed()
        if self.multi:
            self.rank, self.world = distributed.rank(), distributed.world_size()
        distributed.everywhere(self._setup) if self.multi else self._setup()
        backend.dataset = dataset.name  # the checkpoint records what it was trained on
        backend.label_names = list(dataset.labels) if dataset.labels else None
        nets = _ddp_nets(backend.nets, self.device, opts.ddp_find_unused) if self.multi else backend.nets
        self._state = StepState(nets, self.optimizers, amp=self.fast.amp, device=self.device)
        self._describe()
        self._loop()
        log.info("wrote %s (model.safetensors, config.json, losses.csv, samples/)", self.out)
        return self.out

    def _setup(self) -> None:
        backend, dataset, opts, out = self.backend, self.dataset, self.options, self.out
        out.mkdir(parents=True, exist_ok=True)
        if opts.device is not None:
            backend.to(distributed.local_device(opts.device) if self.multi else opts.device)
        self.device = backend.device
        cuda = self.device.type == "cuda"
        self.fast = FastPaths.resolve(opts, cuda, self.multi)
        saved_seed = self._saved_seed() if opts.resume else None
        if opts.resume and opts.seed is not None and opts.seed != saved_seed:
            raise InputError(f"{out}: cannot resume with seed {opts.seed}, the run was started with seed {saved_seed}")
        self.seed = saved_seed if opts.resume else (opts.seed or 0)
        if not opts.resume:
            seed_everything(self.seed if self.main else _rank_seed(self.seed, self.rank))
        self.optimizers = backend.configure_optimizers()
        if opts.resume:
            self.progress, state_seed = load_training_state(backend, self.optimizers, out, self.rank)
            if state_seed != self.seed:
                raise InputError(f"{out}: {STATE_FILE} (seed {state_seed}) and {CONFIG_FILE} (seed {self.seed}) "
                                 "disagree; the last checkpoint was interrupted")
        elif (out / STATE_FILE).exists():
            raise InputError(f"{out} already holds a training run; pass --resume to continue it or pick another --out")
        if self.fast.sync_bn:
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(backend.nets)  # in place; same parameters and keys
        if self.fast.channels_last:
            to_channels_last(backend.nets)
        if self.fast.compile:
            backend.compile()
        self.data = data = TrainWindows(dataset, backend.config.batch_size, self.seed)
        if self.world > 1 and len(data.records) < data.batch_size * self.world:
            raise InputError(f"dataset {dataset.name!r} has {len(data.records)} training videos, fewer than one "
                             f"global batch ({data.batch_size} per process x {self.world} processes)")
        per_epoch = max(1, len(data.records) // (data.batch_size * self.world))
        epochs = opts.epochs if opts.epochs is not None else 1
        self.total = opts.steps if opts.steps is not None else math.ceil(epochs * per_epoch)
        if self.main:
            self._log = LossLog(out / LOSS_FILE, self.progress.step if opts.resume else None)
            self._sheet = SampleSheet(backend, dataset, self.seed, inputs=opts.sample_inputs)

    def _saved_seed(self) -> int:
        """The seed a resumed run was started with (its config.json), after checking the run fits."""
        meta = read_checkpoint_meta(self.out)
        if meta.get("dataset") and self.dataset.name and meta["dataset"] != self.dataset.name:
            raise InputError(f"{self.out}: cannot resume, checkpoint was trained on {meta['dataset']!r}, "
                             f"not {self.dataset.name!r}")
        seed = meta.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"{self.out / CONFIG_FILE}: cannot resume, field seed must be a non-negative integer, "
                             f"got {seed!r}")
        return seed

    def _describe(self) -> None:
        b = self.backend
        counts = ", ".join(f"{k} {v:,}" for k, v in b.parameter_counts().items())
        layout = f", {self.world} processes, global batch {b.config.batch_size * self.world}" if self.world > 1 else ""
        log.info("%s on %s (%s%s): %s; config %s", b.name, self.dataset.name, self.device, layout, counts, b.config)
        log.info("steps %d..%d of %d, seed %d; %s", self.progress.step + 1, self.total, self.total, self.seed,
                 ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(self.fast).items()))

    # --- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        backend, opts, data, prog, fast = self.backend, self.options, self.data, self.progress, self.fast
        global_batch = data.batch_size * self.world
        from tqdm.auto import tqdm

        bar = tqdm(total=self.total, initial=prog.step, disable=not (opts.progress_bar and self.main),
                   desc=f"train {backend.name}", unit="step")
        for module in backend.nets.values():
            module.train()
        started = time.perf_counter()
        batches = _step_batches(data, prog, self.total - prog.step, self.rank, self.world, fast.workers,
                                fast.pin_memory)
        try:
            for epoch, pos, clips, labels in batches:
                batch = _to_batch(data, clips, labels, self.device, fast.pin_memory)
                if fast.channels_last:
                    batch.video = batch.video.contiguous(memory_format=torch.channels_last_3d)
                t0 = time.perf_counter()
                losses = backend.train_step(batch, self._state)
                seconds = time.perf_counter() - t0
                out_of_time = opts.max_seconds is not None and time.perf_counter() - started >= opts.max_seconds
                if self.multi:  # log the mean over ranks; stop together when any rank is out of time
                    agreed = distributed.mean_over_ranks([float(v) for v in losses.values()] + [float(out_of_time)])
                    losses = dict(zip(losses, (float(v) for v in agreed[:-1])))
                    out_of_time = bool(agreed[-1] > 0)
                bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
                if bad:
                    raise InputError(f"training diverged at step {prog.step + 1}: loss {bad[0]} is {losses[bad[0]]}")
                prog.step += 1
                prog.epoch, prog.sample_in_epoch = _global_position(
                    Progress(epoch=epoch, sample_in_epoch=pos), global_batch, len(data.records), 1)
                prog.batch_in_epoch = prog.sample_in_epoch // global_batch
                if self.main:
                    self._log.write(prog.step, prog.epoch, seconds, losses)
                bar.update(1)
                bar.set_postfix({k: f"{float(v):.3g}" for k, v in losses.items()})
                last = prog.step == self.total or out_of_time
                if (prog.step % opts.sample_every == 0 or last) and self.main:
                    self._sheet.render(backend, self.out / SAMPLES_DIR / f"step_{prog.step:06d}", self._state.autocast)
                if prog.step % opts.checkpoint_every == 0 or last:
                    self._checkpoint()
                if self.on_step is not None:
                    self.on_step(prog.step, losses)
                if out_of_time:
                    if prog.step < self.total:
                        log.info("stopped at step %d of %d: max_seconds %g reached", prog.step, self.total,
                                 opts.max_seconds)
                    break
        finally:
            del batches  # stops DataLoader workers when the run ends early
        bar.close()

    def _checkpoint(self) -> None:
        prog, seed = self.progress, self.seed
        if not self.multi:
            save_checkpoint(self.backend, self.optimizers, self.out, prog, seed)
        else:
            distributed.broadcast_buffers(self.backend.nets)  # every rank now holds exactly what rank 0 saves
            rngs = distributed.collect(rng_state)
            distributed.on_main(lambda: save_checkpoint(self.backend, self.optimizers, self.out, prog, seed,
                                                        world_size=self.world, rank_rngs=rngs))
        log.debug("step %d: checkpoint in %s", prog.step, self.out)


def train(backend: GeneratorBackend, dataset, out, *, steps: int | None = None, seed: int | None = None,
          resume: bool = False, on_step: Callable[[int, dict], None] | None = None, **options) -> Path:
    """Train ``backend`` on ``dataset`` into ``out``: ``Trainer(backend, dataset, out, TrainOptions(...)).fit()``.

    ``options`` are further :class:`TrainOptions` fields (``epochs``, ``sample_every``, ``amp``, ...).
    """
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TrainOptions)})
    if unknown:
        raise TypeError(f"train() got unknown option(s) {', '.join(unknown)} (see TrainOptions)")
    opts = TrainOptions(steps=steps, seed=seed, resume=resume, **options)
    return Trainer(backend, dataset, out, opts, on_step=on_step).fit()
