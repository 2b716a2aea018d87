"""The prefetching loader (order, bounded look-ahead, errors in place) and the thread policy."""

from __future__ import annotations

import threading
import time

import pytest

from vbench_i2v import threads
from vbench_i2v.metrics.prefetch import prefetched


@pytest.mark.parametrize("workers", [0, 1, 2, 3])
def test_prefetched_keeps_order_and_values(workers):
    keys = list(range(25))

    def load(k):
        time.sleep(0.001 * ((k * 7) % 5))  # out-of-order completion
        return k * k

    assert list(prefetched(load, keys, workers=workers)) == [(k, k * k) for k in keys]


def test_prefetched_looks_ahead_at_most_depth():
    started: list[int] = []
    lock = threading.Lock()

    def load(k):
        with lock:
            started.append(k)
        return k

    gen = prefetched(load, range(100), workers=2, depth=3)
    seen = []
    for k, _ in gen:
        time.sleep(0.005)  # let the loaders run as far as they are allowed
        with lock:
            # when key k is handed out, at most depth keys after it were submitted
            assert max(started) <= k + 3, (k, max(started))
        seen.append(k)
    assert seen == list(range(100))


def test_prefetched_raises_at_the_failing_position():
    def load(k):
        if k == 4:
            raise ValueError("bad video 4")
        return k

    got = []
    with pytest.raises(ValueError, match="bad video 4"):
        for k, v in prefetched(load, range(10), workers=2):
            got.append(v)
    assert got == [0, 1, 2, 3]


def test_prefetched_stops_loading_when_abandoned():
    calls = []

    def load(k):
        calls.append(k)
        time.sleep(0.002)
        return k

    gen = prefetched(load, range(1000), workers=2, depth=4)
    next(gen)
    gen.close()
    n = len(calls)
    time.sleep(0.05)
    assert len(calls) == n <= 8


def test_idle_cores_from_load():
    assert threads.idle_cores(cpus=2, load=0.0) == 2
    assert threads.idle_cores(cpus=2, load=1.2) == 1
    assert threads.idle_cores(cpus=2, load=9.0) == 1  # never 0
    assert threads.idle_cores(cpus=16, load=3.6) == 12


PROC_STAT = """cpu  500 0 100 900 10 0 5 0 0 0
cpu0 100 0 50 800 5 0 0 0 0 0
cpu1 400 0 50 100 5 0 5 0 0 0
intr 1 2 3
ctxt 99
"""


def test_cpu_times_sum_the_cpus_this_process_may_use(tmp_path):
    path = tmp_path / "stat"
    path.write_text(PROC_STAT)
    # busy = user + nice + system + irq + softirq + steal; total adds idle and iowait
    assert threads._cpu_times(str(path)) == (150 + 455, 955 + 560)
    assert threads._cpu_times(str(path), cpus={1}) == (455, 560)


def test_own_ticks_parse_a_process_name_with_spaces_and_brackets(tmp_path):
    path = tmp_path / "self_stat"
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", "37", "5"] + ["0"] * 30
    path.write_text("1234 (vbench (x) y) " + " ".join(fields))
    assert threads._own_ticks(str(path)) == 42


def test_busy_cores_from_two_samples_leave_out_this_process():
    # 2 CPUs, a window of 50 ticks per core (100 in all): 80 busy ticks, 30 of them ours
    assert threads.busy_cores_from_samples((0, 0, 0), (80, 100, 30), cpus=2) == pytest.approx(1.0)
    assert threads.busy_cores_from_samples((10, 10, 5), (10, 110, 5), cpus=2) == 0.0  # idle window
    assert threads.busy_cores_from_samples((0, 0, 0), (20, 100, 40), cpus=2) == 0.0  # never negative
    assert threads.busy_cores_from_samples((0, 0, 0), (0, 0, 0), cpus=2) == 0.0  # no time passed


def test_a_busy_process_next_door_is_measured_at_once():
    """The load average would need a minute to see it; /proc/stat sees it in the window."""
    import subprocess
    import sys

    if threads.measured_busy_cores(0.05) is None:
        pytest.skip("no /proc/stat here")
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 20\nwhile time.time() < end: pass"])
    try:
        time.sleep(0.3)
        # everything else on the machine only adds to the count, so at least the spinner's core
        assert threads.measured_busy_cores(0.5) >= 0.6
    finally:
        spinner.kill()
        spinner.wait()


def test_idle_cores_use_the_measurement_not_the_load_average(monkeypatch):
    monkeypatch.setattr(threads, "_IDLE_MEMO", {})
    monkeypatch.setattr(threads, "measured_busy_cores", lambda seconds=0.25: 0.2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # a quiet machine's lag
    assert threads.idle_cores(cpus=2) == 2
    monkeypatch.setattr(threads, "_IDLE_MEMO", {})
    monkeypatch.setattr(threads, "measured_busy_cores", lambda seconds=0.25: 1.0)  # one busy neighbour
    assert threads.idle_cores(cpus=2) == 1
    monkeypatch.setattr(threads, "_IDLE_MEMO", {})
    monkeypatch.setattr(threads, "measured_busy_cores", lambda seconds=0.25: None)  # no /proc
    assert threads.idle_cores(cpus=2) == 1  # falls back to the load average


def test_compute_threads_policy(monkeypatch):
    monkeypatch.delenv("VBENCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "idle_cores", lambda: 5)
    assert threads.compute_threads(large=False) == 1
    assert threads.compute_threads(large=True) == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.compute_threads(large=True) == 3
    monkeypatch.setenv("VBENCH_THREADS", "2")
    assert threads.compute_threads(large=False) == 2
    monkeypatch.setenv("VBENCH_THREADS", "nonsense")
    assert threads.compute_threads(large=False) == 3


def test_env_policy_sets_only_missing_variables():
    env = {"KMP_BLOCKTIME": "5"}
    assert threads.set_env_policy(env) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert env == {"KMP_BLOCKTIME": "5", "OMP_WAIT_POLICY": "PASSIVE"}


def test_torch_threads_restores():
    import torch

    before = torch.get_num_threads()
    with threads.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# ----------------------------------------------------------------------------- compute workers

def test_ordered_map_runs_jobs_on_marked_workers_in_order_with_bounded_concurrency():
    from vbench_i2v.metrics.prefetch import in_compute_worker, ordered_map

    running, peak, names = [0], [0], set()
    lock = threading.Lock()

    def job(k):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            names.add(threading.current_thread().name)
        time.sleep(0.001 * ((k * 5) % 4))  # out-of-order completion
        with lock:
            running[0] -= 1
        return k, in_compute_worker()

    out = list(ordered_map(job, range(30), workers=3))
    assert out == [(k, (k, True)) for k in range(30)]  # in order, every job inside a compute worker
    assert peak[0] <= 3 and len(names) > 1 and threading.current_thread().name not in names
    assert not in_compute_worker()  # the caller is not marked


def test_ordered_map_with_one_worker_runs_in_the_calling_thread():
    from vbench_i2v.metrics.prefetch import in_compute_worker, ordered_map

    me = threading.current_thread().name
    out = list(ordered_map(lambda k: (threading.current_thread().name, in_compute_worker()), range(3), workers=1))
    assert out == [(k, (me, True)) for k in range(3)] and not in_compute_worker()


def test_ordered_map_raises_the_first_failure_in_order_and_stops_when_closed():
    from vbench_i2v.metrics.prefetch import ordered_map

    def job(k):
        if k == 2:
            time.sleep(0.03)  # fails last in time, first in order
            raise ValueError("clip 2 is broken")
        if k == 5:
            raise ValueError("clip 5 is broken")
        return k

    got = []
    with pytest.raises(ValueError, match="clip 2"):
        for k, v in ordered_map(job, range(10), workers=3):
            got.append(v)
    assert got == [0, 1]
    calls = []

    def slow(k):
        calls.append(k)
        time.sleep(0.002)
        return k

    gen = ordered_map(slow, range(1000), workers=2)
    next(gen)
    gen.close()
    n = len(calls)
    time.sleep(0.05)
    assert len(calls) == n <= 2 * 2 + 2  # at most the window of 2 x workers (+ the next one) ever ran
