"""Sharded scoring under ``torchrun``: a thin layer over ``torch.distributed`` (no cluster code of our own).

``torchrun --nproc_per_node N -m vbench_i2v metrics ...`` starts N copies of the command with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT`` set. Each copy calls :func:`init`
(nccl when it scores on CUDA, gloo on CPU), takes its :func:`shard` of the sorted videos, and the
pieces meet on rank 0 (:func:`collect`, :func:`all_reduce_sum`), which runs the unchanged statistics
(:func:`on_main`) so the numbers do not depend on N. Launched without torchrun (``WORLD_SIZE`` unset
or 1) every helper here is a no-op: ``shard`` returns everything, ``collect`` returns ``[fn()]``.

Failures travel: a rank that raises inside :func:`collect` or :func:`on_main` makes every rank raise
(the others with ``rank k failed: ...``) instead of leaving them waiting on a collective.
"""

from __future__ import annotations

import atexit
import datetime
import os
from typing import Callable, Iterable, TypeVar

import numpy as np

from vbench_i2v.errors import InputError, VBenchError

T = TypeVar("T")

# Rank 0 may compute a 2048-d FID bootstrap for minutes while the others wait in a broadcast.
DEFAULT_TIMEOUT_S = 2 * 3600
_MAIN_ONLY = 0  # > 0 while on_main runs a function on rank 0 alone


def launched() -> bool:
    """True when started by torchrun (or any launcher setting ``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _dist():
    import torch.distributed as dist

    return dist


def is_distributed() -> bool:
    """True once a process group of more than one process is up."""
    dist = _dist()
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def backend_for(device) -> str:
    """``nccl`` when this process scores on CUDA, else ``gloo`` (``VBENCH_DIST_BACKEND`` overrides)."""
    forced = os.environ.get("VBENCH_DIST_BACKEND")
    if forced:
        return forced
    return "nccl" if str(device).startswith("cuda") else "gloo"


def local_device(device):
    """Under torchrun, a bare ``cuda`` (or ``auto`` meaning cuda) is this node's GPU ``LOCAL_RANK``.

    An explicit ``cuda:N`` other than ``cuda:LOCAL_RANK`` is refused there: kept for every process it
    would put all of them on one GPU.
    """
    if not launched():
        return device
    text = str(device).strip()
    if text == "auto":
        from vbench_i2v.devices import auto_device_type

        text = auto_device_type()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if text == "cuda":
        return f"cuda:{local}"
    if text.startswith("cuda:") and text != f"cuda:{local}":
        raise InputError(f"device {text!r}: under torchrun each process uses the GPU of its LOCAL_RANK "
                         f"(this one: cuda:{local}); pass --device cuda (or auto)")
    return device if not isinstance(device, str) else text


def init(device="cpu") -> bool:
    """Join the torchrun process group once (idempotent); returns whether we run distributed.

    Without torchrun's environment this does nothing, so single-process code paths stay unchanged.
    """
    if not launched():
        return False
    dist = _dist()
    if dist.is_initialized():
        return dist.get_world_size() > 1
    backend = backend_for(local_device(device))
    if backend == "nccl":
        import torch

        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))  # object collectives use it
    timeout = datetime.timedelta(seconds=float(os.environ.get("VBENCH_DIST_TIMEOUT_S", DEFAULT_TIMEOUT_S)))
    dist.init_process_group(backend, timeout=timeout)
    atexit.register(teardown)
    return dist.get_world_size() > 1


def teardown() -> None:
    """Leave the process group cleanly (registered with atexit by :func:`init`)."""
    dist = _dist()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return _dist().get_rank() if is_distributed() else 0


def world_size() -> int:
    return _dist().get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that prints and writes files."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        _dist().barrier()


def shard(items: Iterable[T], key: Callable[[T], object] | None = None, rank_: int | None = None,
          world: int | None = None) -> list[T]:
    """This rank's share of ``items``: sorted (by ``key``), then every ``world``-th item from ``rank``.

    Strided rather than blocked so that shards stay balanced when items come grouped (one subject's
    clips together); deterministic, and the union over ranks is every item exactly once.
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    if not 0 <= r < w:
        raise ValueError(f"rank {r} outside world of size {w}")
    return sorted(items, key=key)[r::w]


def _tensor_device():
    """Where collective tensors live: the current GPU for nccl, else the CPU."""
    import torch

    if _dist().get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(array) -> np.ndarray:
    """Element-wise float64 sum of ``array`` over all ranks (every rank gets the sum)."""
    a = np.asarray(array, dtype=np.float64)
    if not is_distributed():
        return a.copy()
    import torch

    t = torch.from_numpy(np.ascontiguousarray(a)).to(_tensor_device())
    _dist().all_reduce(t, op=_dist().ReduceOp.SUM)
    return t.cpu().numpy().reshape(a.shape)


def reduce_stats(stats):
    """Add every rank's :class:`~vbench_i2v.metrics.streaming.StreamingStats` sums (count, sum,
    sum of outer products) in one float64 all-reduce; returns the merged stats on every rank."""
    if not is_distributed():
        return stats
    d = stats.dim
    flat = all_reduce_sum(np.concatenate([[float(stats.n)], stats.sum, stats.sum_outer.ravel()]))
    stats.n = int(round(flat[0]))
    stats.sum = flat[1 : 1 + d].copy()
    stats.sum_outer = flat[1 + d :].reshape(d, d).copy()
    return stats


def _raise_if_any_failed(error: BaseException | None) -> None:
    """Every rank learns whether any rank failed; the failing rank re-raises its own exception."""
    if not is_distributed():
        if error is not None:
            raise error
        return
    dist = _dist()
    mine = None if error is None else f"{type(error).__name__}: {error}" if not isinstance(error, VBenchError) \
        else str(error)
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    if error is not None:
        raise error
    for r, msg in enumerate(everyone):
        if msg is not None:
            raise VBenchError(f"rank {r} failed: {msg}")


def everywhere(fn: Callable[[], T]) -> T:
    """Run ``fn()`` on every rank and return this rank's result; if any rank fails, all raise.
    Also a barrier. Without torchrun: ``fn()``."""
    error = result = None
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
        error = exc
    _raise_if_any_failed(error)
    return result


def collect(fn: Callable[[], T]) -> list[T] | None:
    """Run ``fn()`` on every rank and gather the results to rank 0 (``[result of rank 0, rank 1, ...]``);
    other ranks get ``None``. Also a barrier; a failure on any rank fails all. Without torchrun: ``[fn()]``."""
    result = everywhere(fn)
    if not is_distributed():
        return [result]
    dist = _dist()
    out = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(result, out, dst=0)
    return out


def on_main(fn: Callable[[], T], share: bool = False) -> T | None:
    """Run ``fn()`` on rank 0 only while the others wait (a barrier); a failure there fails every rank.

    ``share=True`` broadcasts the (picklable) result so every rank returns it; otherwise the other
    ranks return ``None``. Without torchrun: ``fn()``.
    """
    if not is_distributed():
        return fn()
    global _MAIN_ONLY
    error = result = None
    if is_main():
        _MAIN_ONLY += 1  # fn runs on rank 0 alone: code inside must not start collectives (main_only())
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
            error = exc
        finally:
            _MAIN_ONLY -= 1
    _raise_if_any_failed(error)
    if not share:
        return result
    box = [result]
    _dist().broadcast_object_list(box, src=0)
    return box[0]


# --- helpers for distributed training (generators/training.py, generators/train_ddp.py) -----------

def main_only() -> bool:
    """True while :func:`on_main` runs a function on rank 0 alone (the other ranks wait in a collective).

    Code that may be called there (``vbench run`` trains a missing checkpoint on rank 0) must run as a
    single process: starting a collective would wait forever for ranks that are not coming.
    """
    return _MAIN_ONLY > 0


def collectives_ok() -> bool:
    """A process group of more than one process is up and every rank is running this code."""
    return is_distributed() and not main_only()


def broadcast_buffers(module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics, spectral-norm vectors) to every rank."""
    if not collectives_ok():
        return
    dist = _dist()
    for buf in module.buffers():
        dist.broadcast(buf.data, src=src)


def mean_over_ranks(values) -> np.ndarray:
    """Element-wise float64 mean of ``values`` over all ranks (every rank gets it)."""
    return all_reduce_sum(values) / world_size()
