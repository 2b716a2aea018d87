"""Progress messages through the ``vbench_i2v`` logger: one handler on stderr, rank 0 only.

Library modules log with ``logging.getLogger(__name__)``; under torchrun every rank runs the same
code, and the rank filter keeps the messages of rank 0 so each line appears once.
"""

from __future__ import annotations

import logging
import sys

ROOT = "vbench_i2v"


class RankFilter(logging.Filter):
    """Lets records through on rank 0 (or without torchrun) only."""

    def filter(self, record: logging.LogRecord) -> bool:
        from vbench_i2v import distributed

        return distributed.is_main()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners replace it)."""

    def __init__(self):
        super().__init__()
        self.addFilter(RankFilter())
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the property always reads sys.stderr
        pass


def setup(level: int = logging.INFO) -> logging.Logger:
    """Attach the stderr handler once (idempotent); returns the package logger."""
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(level)
    logger.propagate = False
    return logger
