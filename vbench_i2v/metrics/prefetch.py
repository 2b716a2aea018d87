"""Load the next videos while the current one is scored: a bounded, ordered prefetch.

Decoding (zlib for npz, FFmpeg for mp4) and the torch kernels both release the GIL, so a few
loader threads overlap reading with scoring. At most ``depth`` loads are in flight or waiting,
so memory stays flat in the number of videos; results come back in input order, and a load that
fails raises at its own position, exactly where a plain loop would have raised.

:func:`ordered_map` runs whole per-clip jobs (decode and score) the same way on several compute
workers: each worker is marked (:func:`in_compute_worker`) so that the kernels it calls run on
one torch thread, the cores being split across clips instead of inside one small op.
"""

from __future__ import annotations

import contextlib
import threading

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def prefetched(load: Callable[[K], V], keys: Iterable[K], workers: int | None = None,
               depth: int | None = None) -> Iterator[tuple[K, V]]:
    """``(key, load(key))`` in the order of ``keys``, loading up to ``depth`` keys ahead.

    ``workers``: loader threads (default :func:`vbench_i2v.threads.loader_threads`); 0 loads in
    the calling thread (no overlap, for debugging). ``depth``: loads in flight (default
    ``2 * workers``, at least 2).
    """
    if workers is None:
        from vbench_i2v.threads import loader_threads

        workers = loader_threads()
    if workers <= 0:
        for key in keys:
            yield key, load(key)
        return
    depth = max(2, depth if depth is not None else 2 * workers)
    it = iter(keys)
    pending: deque = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vbench-load")
    try:
        for key in it:
            pending.append((key, pool.submit(load, key)))
            if len(pending) >= depth:
                break
        while pending:
            key, fut = pending.popleft()
            value = fut.result()  # re-raises the load's own exception here, in order
            for nxt in it:  # keep the window full before handing this one out
                pending.append((nxt, pool.submit(load, nxt)))
                break
            yield key, value
            del value
    finally:
        for _, fut in pending:
            fut.cancel()
        # an abandoned generator may be collected in one of its own loader threads, which cannot join itself
        own = threading.current_thread() in getattr(pool, "_threads", ())
        pool.shutdown(wait=not own, cancel_futures=True)


_WORKER = threading.local()


def in_compute_worker() -> bool:
    """True in a thread that runs one clip's job for :func:`ordered_map`: kernels called there
    use one torch thread (the other cores run other clips)."""
    return getattr(_WORKER, "active", False)


@contextlib.contextmanager
def compute_worker():
    """Mark the calling thread as a compute worker for the duration of the block."""
    before = in_compute_worker()
    _WORKER.active = True
    try:
        yield
    finally:
        _WORKER.active = before


def ordered_map(job: Callable[[K], V], keys: Iterable[K], workers: int,
                depth: int | None = None) -> Iterator[tuple[K, V]]:
    """``(key, job(key))`` in the order of ``keys``, the jobs run on ``workers`` compute-worker
    threads, at most ``depth`` (default ``2 * workers``) submitted ahead of the one handed out.

    Only ``workers`` jobs run at once, so a job that decodes its clip holds at most ``workers``
    clips in memory; finished jobs wait for their turn with only their results. A job's exception
    is raised at its own position. ``workers`` <= 1 runs the jobs in the calling thread, in order.
    """

    def run(key: K) -> V:
        with compute_worker():
            return job(key)

    if workers <= 1:
        for key in keys:
            yield key, run(key)
        return
    yield from prefetched(run, keys, workers=workers, depth=depth if depth is not None else 2 * workers)
