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
* large kernels (feature networks) use the cores that are idle now, measured directly: the
  busy time of this process's CPUs is read from ``/proc/stat`` twice, ``SAMPLE_SECONDS`` apart,
  this process's own CPU time in that window (``/proc/self/stat``) is taken out, and the cores the
  others kept busy are subtracted from the CPU count (at least 1). The one-minute load average is
  not used: it lags by a minute and counts this process's own recent past, so on a quiet 2-core
  machine, right after any earlier command, it read about 1 and halved the threads. Where
  ``/proc/stat`` cannot be read the load average is the fallback;
* ``VBENCH_THREADS=N`` (or an explicit ``OMP_NUM_THREADS``) overrides the estimate.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

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


SAMPLE_SECONDS = 0.1  # the window over which /proc/stat is read (10 clock ticks per core at 100 Hz)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_times(path: str = "/proc/stat", cpus: set[int] | None = None) -> tuple[float, float]:
    """(busy, total) clock ticks summed over ``cpus`` (all when None) since boot.

    Busy = user + nice + system + irq + softirq + steal; idle and iowait are not busy."""
    busy = total = 0.0
    with open(path) as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu"):
                break  # the per-CPU lines come first
            if name == "cpu" or (cpus is not None and int(name[3:]) not in cpus):
                continue  # the machine's total, or a CPU this process may not use
            v = [float(x) for x in fields[:8]] + [0.0] * (8 - len(fields[:8]))
            user, nice, system, idle, iowait, irq, softirq, steal = v
            busy += user + nice + system + irq + softirq + steal
            total += user + nice + system + idle + iowait + irq + softirq + steal
    return busy, total


def _own_ticks(path: str = "/proc/self/stat") -> float:
    """This process's user + system CPU time in clock ticks (all its threads)."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return float(fields[11]) + float(fields[12])  # utime, stime (fields 14, 15 of proc(5))


def busy_cores_from_samples(before: tuple[float, float, float], after: tuple[float, float, float],
                            cpus: int) -> float:
    """Cores other processes kept busy between two samples of (busy, total, own) ticks.

    The share of the window the CPUs were busy, times the CPU count, less this process's own time."""
    busy, total, own = (a - b for a, b in zip(after, before))
    if total <= 0:
        return 0.0
    window = total / cpus  # ticks of one core in the window
    return max(0.0, (busy - own) / window)


def measured_busy_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores that other processes kept busy over the last ``seconds`` (None where unreadable)."""
    try:
        mask = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mask = None
    try:
        b0, t0 = _cpu_times(cpus=mask)
        o0 = _own_ticks()
        time.sleep(seconds)
        b1, t1 = _cpu_times(cpus=mask)
        o1 = _own_ticks()
    except (OSError, ValueError, IndexError):
        return None
    return busy_cores_from_samples((b0, t0, o0), (b1, t1, o1), len(mask) if mask else cpu_count())


_IDLE_MEMO: dict[str, int] = {}


def idle_cores(cpus: int | None = None, load: float | None = None) -> int:
    """Cores not busy right now, at least 1: the CPU count minus the cores other processes keep
    busy, measured from ``/proc/stat`` (once per process); ``load`` given, or ``/proc/stat``
    unreadable: minus that load (the one-minute load average by default), rounded."""
    cpus = cpu_count() if cpus is None else cpus
    if load is None:
        if "measured" not in _IDLE_MEMO:
            busy = measured_busy_cores()
            if busy is not None:
                # a core counts as taken when others kept it busy for more than half the window
                _IDLE_MEMO["measured"] = max(1, min(cpus, cpus - int(round(busy))))
        if "measured" in _IDLE_MEMO:
            return min(cpus, _IDLE_MEMO["measured"])
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
