"""How many threads the metric commands use, so a busy (shared) CPU does not stall them.

Why: OpenMP threads that finish a parallel region spin for a while before sleeping, and every
region ends with a barrier that waits for the slowest thread. When other processes hold the
cores, the thread scheduled there arrives late at every barrier. Measured with
``benchmarks/bench_shared_cpu.py`` on the shared 2-core machine (load average about 6): ResNeXt-101
features with 2 torch threads took 1.8-2x the wall time of this policy's 1 thread, alone and next
to one busy process; for the small SSIM/PSNR kernel 2 threads were no faster or slower than 1
beyond the noise (not "several times", as an earlier version of this text said, unmeasured). With
one extra busy process every setting slowed about 1.7-2.2x: a single-threaded command cannot beat
its fair share of a core. The policy:

* passive OpenMP waiting (``OMP_WAIT_POLICY=PASSIVE``, ``KMP_BLOCKTIME=0``), set before torch is
  imported so spinning threads never steal the core another thread needs;
* small per-frame kernels (SSIM/PSNR on 64x64 frames) run on one torch thread; the other cores
  decode the next videos (:mod:`vbench_i2v.metrics.prefetch`);
* large kernels (feature networks) use the cores that are idle now: the CPU count minus the
  one-minute load average, at least 1;
* ``VBENCH_THREADS=N`` (or an explicit ``OMP_NUM_THREADS``) overrides the estimate.
"""

from __future__ import annotations

import contextlib
import os
import sys

ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
MAX_LOADER_THREADS = 2


def set_env_policy(environ=os.environ) -> dict[str, str]:
    """Set the passive-wait variables that are not set yet; returns those it set.

    Only effective before torch (and its OpenMP runtime) is first imported."""
    added = {k: v for k, v in ENV_DEFAULTS.items() if k not in environ}
    environ.update(added)
    return added


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _explicit() -> int | None:
    for var in ("VBENCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                continue
            if n >= 1:
                return n
    return None


def idle_cores(cpus: int | None = None, load: float | None = None) -> int:
    """Cores not busy right now: CPUs minus the one-minute load average (rounded), at least 1."""
    cpus = cpu_count() if cpus is None else cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    return max(1, min(cpus, cpus - int(round(load))))


def compute_threads(large: bool) -> int:
    """torch intra-op threads for a kernel: 1 for small ones, the idle cores for large ones."""
    explicit = _explicit()
    if explicit is not None:
        return explicit
    return idle_cores() if large else 1


def loader_threads() -> int:
    """Threads decoding videos ahead of scoring (they sleep in I/O and zlib/FFmpeg, never spin)."""
    explicit = _explicit()
    n = explicit if explicit is not None else cpu_count()
    return max(1, min(MAX_LOADER_THREADS, n))


def apply(large: bool = True) -> int:
    """The whole policy for a metric command; call it before the command's first torch work.

    Sets the passive-wait variables (if torch is not imported yet), one inter-op thread, and
    ``compute_threads(large)`` intra-op threads. Returns the intra-op thread count."""
    if "torch" not in sys.modules:
        set_env_policy()
    import torch

    n = compute_threads(large)
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # refused once inter-op work has started
        torch.set_num_interop_threads(1)
    return n


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` torch intra-op threads (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)
