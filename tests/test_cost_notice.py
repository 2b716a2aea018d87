"""Before a long CPU job with a large network, the expected time per clip is announced (once)."""

import logging

from vbench_i2v.metrics.features import _announce_cost


class _Spec:
    name = "big-net"
    seconds_per_clip_cpu = 90.0


class _Small(_Spec):
    seconds_per_clip_cpu = 0.1


def _records(fn):
    logger = logging.getLogger("vbench_i2v.metrics.features")
    got: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = got.append
    logger.addHandler(handler)
    try:
        fn()
    finally:
        logger.removeHandler(handler)
    return [r.getMessage() for r in got]


def test_large_network_on_cpu_announces_its_time():
    ex = type("Ex", (), {"spec": _Spec()})()
    msgs = _records(lambda: _announce_cost(ex, 40, "cpu"))
    assert len(msgs) == 1 and "big-net" in msgs[0] and "90 s per clip" in msgs[0] and "~60 min for 40 clips" in msgs[0]
    assert "--device cuda" in msgs[0]


def test_no_notice_on_an_accelerator_or_for_a_fast_network():
    big = type("Ex", (), {"spec": _Spec()})()
    small = type("Ex", (), {"spec": _Small()})()
    assert _records(lambda: _announce_cost(big, 40, "cuda")) == []
    assert _records(lambda: _announce_cost(small, 40, "cpu")) == []
    assert _records(lambda: _announce_cost(object(), 40, "cpu")) == []
