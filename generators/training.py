"""The training loop every backend shares: data, logging, sample grids, checkpoints, exact resume.

A backend only says what one step does (:meth:`GeneratorBackend.train_step`) and which
optimisers it has (:meth:`GeneratorBackend.configure_optimizers`). This module feeds it random
32-frame training windows, writes ``losses.csv`` and sample grids, and saves checkpoints that a
later ``resume=True`` run continues exactly: weights, optimiser states, the torch/numpy/python
RNG states and the position in the (seeded) data order.

Output folder layout (also a loadable checkpoint, so ``vbench generate --checkpoint DIR`` works)::

    DIR/model.safetensors  DIR/config.json      latest weights + config (+ step)
    DIR/training_state.pt                        optimisers, RNG states, step, data position
    DIR/losses.csv                               one row per step
    DIR/samples/step_000100.{png,gif}            fixed inputs x every label, fixed noise
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import protocol, tensors
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import (
    CONFIG_FILE,
    MODEL_FILE,
    Batch,
    GeneratorBackend,
    _temp_path,
    read_checkpoint_meta,
)
from vbench_i2v.generators.grids import save_sample_grid

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
        order = self.order(epoch)
        take = range(index * self.batch_size, min(len(order), (index + 1) * self.batch_size))
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


def save_checkpoint(backend: GeneratorBackend, out: Path, progress: Progress, seed: int) -> None:
    """Training state first, then weights, then config.json (which names the step last)."""
    state = {
        "step": progress.step,
        "epoch": progress.epoch,
        "batch_in_epoch": progress.batch_in_epoch,
        "seed": seed,
        "optimizers": {k: opt.state_dict() for k, opt in backend.optimizers.items()},
        "rng": rng_state(),
    }
    tmp = _temp_path(out / STATE_FILE)
    torch.save(state, tmp)
    os.replace(tmp, out / STATE_FILE)
    backend.save(out, extra={"step": progress.step, "seed": seed})


def load_training_state(backend: GeneratorBackend, out: Path) -> tuple[Progress, int]:
    """Restore weights, optimisers and RNG from ``out``; returns the progress and the run's seed."""
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
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["step"] != meta.get("step"):
        raise InputError(f"{out}: {STATE_FILE} (step {state['step']}) and {CONFIG_FILE} "
                         f"(step {meta.get('step')}) disagree; the last checkpoint was interrupted")
    backend.nets.load_state_dict(load_file(str(out / MODEL_FILE)))
    for name, opt in backend.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    set_rng_state(state["rng"])
    return Progress(state["step"], state["epoch"], state["batch_in_epoch"]), int(state["seed"])


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
                keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= resume_step]
                buf = io.StringIO()
                csv.writer(buf).writerows(keep)
                tmp = _temp_path(path)
                tmp.write_text(buf.getvalue())
                os.replace(tmp, path)
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

    def render(self, backend: GeneratorBackend, stem: Path) -> list[Path]:
        videos = tensors.video_from_model(backend.generate(self.images, self.labels, z=self.z))
        return save_sample_grid(stem, videos, self.images, self.ncols)


def _has_split(dataset, split: str) -> bool:
    try:
        return bool(dataset.split(split))
    except Exception:
        return False


# --- the loop ------------------------------------------------------------------------------
def train(backend: GeneratorBackend, dataset, out, *, steps: int | None = None, epochs: float | None = None,
          seed: int = 0, device: str | torch.device | None = None, resume: bool = False,
          sample_every: int = 200, checkpoint_every: int = 200, amp: str = "auto", compile: str = "auto",
          progress_bar: bool = True, sample_inputs: int = 2, max_seconds: float | None = None,
          on_step=None) -> Path:
    """Train ``backend`` on ``dataset``'s training split until ``steps`` (or ``epochs``) in total.

    With ``resume=True`` the run continues from the checkpoint in ``out`` (same seed, same data
    order, restored RNG and optimisers), so N steps, or N/2 steps then a resume to N, give the
    same weights. ``amp``/``compile``: ``auto`` (on for CUDA), ``on`` or ``off``. ``max_seconds``
    ends the run early (with samples and a checkpoint) once that much wall time has passed.
    """
    if not backend.trainable:
        raise InputError(f"generator {backend.name!r} has nothing to train")
    if backend.num_classes != dataset.num_classes:
        raise InputError(f"model has {backend.num_classes} classes, dataset {dataset.name!r} has {dataset.num_classes}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if device is not None:
        backend.to(device)
    cuda = backend.device.type == "cuda"
    backend.amp = _switch(amp, cuda, "amp")

    if resume:
        meta = read_checkpoint_meta(out)
        seed = int(meta.get("seed", seed))
    seed_everything(seed)
    backend.optimizers = backend.configure_optimizers()
    prog = Progress()
    if resume:
        if meta.get("dataset") and dataset.name and meta["dataset"] != dataset.name:
            raise InputError(f"{out}: cannot resume, checkpoint was trained on {meta['dataset']!r}, not {dataset.name!r}")
        prog, seed = load_training_state(backend, out)
    elif (out / STATE_FILE).exists():
        raise InputError(f"{out} already holds a training run; pass --resume to continue it or pick another --out")
    if _switch(compile, cuda, "compile"):
        backend.compile()

    data = TrainWindows(dataset, backend.config.batch_size, seed)
    total = steps if steps is not None else math.ceil((epochs if epochs is not None else 1) * data.batches_per_epoch)
    if total < 1:
        raise InputError(f"number of steps must be >= 1, got {total}")
    log = LossLog(out / LOSS_FILE, prog.step if resume else None)
    sheet = SampleSheet(backend, dataset, seed, inputs=sample_inputs)
    backend.dataset = dataset.name
    backend.label_names = list(dataset.labels) if dataset.labels else None

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=prog.step, disable=not progress_bar, desc=f"train {backend.name}", unit="step")
    for module in backend.nets.values():
        module.train()
    started = time.perf_counter()
    while prog.step < total:
        clips, labels = data.batch(prog.epoch, prog.batch_in_epoch)
        batch = data.to_batch(clips, labels, backend.device)
        t0 = time.perf_counter()
        losses = backend.train_step(batch)
        seconds = time.perf_counter() - t0
        bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
        if bad:
            raise InputError(f"training diverged at step {prog.step + 1}: loss {bad[0]} is {losses[bad[0]]}")
        prog.step += 1
        prog.batch_in_epoch += 1
        if prog.batch_in_epoch >= data.batches_per_epoch:
            prog.epoch, prog.batch_in_epoch = prog.epoch + 1, 0
        log.write(prog.step, prog.epoch, seconds, losses)
        bar.update(1)
        bar.set_postfix({k: f"{float(v):.3g}" for k, v in losses.items()})
        out_of_time = max_seconds is not None and time.perf_counter() - started >= max_seconds
        last = prog.step == total or out_of_time
        if prog.step % sample_every == 0 or last:
            sheet.render(backend, out / SAMPLES_DIR / f"step_{prog.step:06d}")
        if prog.step % checkpoint_every == 0 or last:
            save_checkpoint(backend, out, prog, seed)
        if on_step is not None:
            on_step(prog.step, losses)
        if out_of_time:
            break
    bar.close()
    return out


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
