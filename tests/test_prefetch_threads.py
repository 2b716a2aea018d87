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
