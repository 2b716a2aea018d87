"""Load the next videos while the current one is scored: a bounded, ordered prefetch.

Decoding (zlib for npz, FFmpeg for mp4) and the torch kernels both release the GIL, so a few
loader threads overlap reading with scoring. At most ``depth`` loads are in flight or waiting,
so memory stays flat in the number of videos; results come back in input order, and a load that
fails raises at its own position, exactly where a plain loop would have raised.
"""

from __future__ import annotations

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
