"""The training checkpoint format: ``training_state.pt`` beside a backend's own checkpoint, and exact resume.

A run folder is also a loadable checkpoint (``model.safetensors`` + ``config.json``, written by
:meth:`GeneratorBackend.save`); :func:`save_checkpoint` adds ``training_state.pt``: the optimiser
states, the torch/CUDA/numpy/python RNG states (every rank's under torchrun), the seed and the data
position (:class:`~vbench_i2v.generators.train_data.Progress`). It is written first and
``config.json`` (which names the step) last, so an interrupted save is detected on resume.
:func:`load_training_state` checks every field before restoring anything, naming the file and field
when one is wrong.

CUDA RNG states on another number of devices (:func:`set_rng_state`): saved state ``i`` goes to
visible device ``i`` for ``i < min(saved, visible)``; saved states beyond the visible devices are
dropped, and visible devices beyond the saved ones take saved state 0. A process trains on one
device, so the run continues exactly when that device keeps its index (same or more devices visible)
and otherwise continues with a stream that is still a fixed function of the checkpoint.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import protocol
from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_path
from vbench_i2v.generators.base import CONFIG_FILE, MODEL_FILE, GeneratorBackend, read_checkpoint_meta
from vbench_i2v.generators.train_data import Progress

log = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"


# --- RNG states ---------------------------------------------------------------------------------
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


def cuda_state_for_device(saved: int, device: int) -> int:
    """Which of ``saved`` CUDA RNG states visible device ``device`` takes (the module doc's rule)."""
    return device if device < saved else 0


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    cuda = list(state.get("cuda") or [])
    if cuda and torch.cuda.is_available():
        visible = torch.cuda.device_count()
        if visible != len(cuda):
            log.info("resume: CUDA RNG states saved for %d device(s), %d visible; device i takes state i "
                     "(i < %d), any other device state 0", len(cuda), visible, min(len(cuda), visible))
        for device in range(visible):
            torch.cuda.set_rng_state(cuda[cuda_state_for_device(len(cuda), device)], device)
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def rank_seed(seed: int, rank: int, step: int | None = None) -> int:
    """Rank ``rank``'s torch/numpy/python seed (rank 0 uses ``seed`` itself, as a single process does)."""
    keys = ("train-rank", str(rank)) + (() if step is None else (str(step),))
    return int(protocol.rng_for(seed, *keys).integers(2**62))


# --- save -------------------------------------------------------------------------------------
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


# --- load -------------------------------------------------------------------------------------
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
        seed_everything(rank_seed(int(state["seed"]), rank, state["step"]))
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
    field = "rank_rngs" if state.get("rank_rngs") else "rng"
    if not isinstance(rngs, list) or not all(isinstance(r, dict) and {"torch", "numpy", "python"} <= set(r)
                                              for r in rngs):
        raise InputError(f"{path}: cannot resume, field {field} must hold torch, numpy and python RNG states")
    if not all(isinstance(r.get("cuda", []), list) and all(isinstance(t, torch.Tensor) for t in r.get("cuda", []))
               for r in rngs):
        raise InputError(f"{path}: cannot resume, field {field}.cuda must be a list of CUDA RNG states (tensors)")
    return state
