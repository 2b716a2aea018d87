"""Option types every command shares, so a bad value fails at parse time in one line.

Click's own ranges let NaN through (every comparison with NaN is false) and its paths accept an
empty string; these types close both gaps, and :class:`OutputPath` checks that an output can be
written before the command starts its long work.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from vbench_i2v.files import WriteError, check_writable

SEED_MAX = 2**63 - 1  # numpy/torch seeds are unsigned 64-bit; stay in the signed range every API takes


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that also refuses NaN and +-inf."""

    name = "float range"

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


class NonEmptyText(click.ParamType):
    """A string that is not empty or only spaces (names, questions, comma lists)."""

    name = "text"

    def convert(self, value, param, ctx):
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            self.fail("must not be empty.", param, ctx)
        return text


class OutputPath(click.Path):
    """Where a command writes: a file or a folder that :func:`check_writable` accepts.

    ``suffixes`` (e.g. ``(".npz",)``) restricts a file's extension, case-insensitively.
    Returns a :class:`pathlib.Path`.
    """

    def __init__(self, kind: str = "file", suffixes: tuple[str, ...] = ()):
        if kind not in ("file", "dir"):
            raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
        super().__init__(file_okay=kind == "file", dir_okay=kind == "dir", path_type=Path)
        self.kind = kind
        self.suffixes = tuple(s.lower() for s in suffixes)

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail("empty path.", param, ctx)
        path = super().convert(value, param, ctx)
        if self.suffixes and Path(path).suffix.lower() not in self.suffixes:
            self.fail(f"{path}: must end in {' or '.join(self.suffixes)}.", param, ctx)
        try:
            check_writable(path, self.kind)
        except WriteError as exc:
            self.fail(str(exc), param, ctx)
        return Path(path)


class NonEmptyPath(click.Path):
    """:class:`click.Path` that refuses ``""`` (which would silently mean the current folder)."""

    def __init__(self, **kw):
        kw.setdefault("path_type", Path)
        super().__init__(**kw)

    def convert(self, value, param, ctx):
        if not str(value).strip():
            self.fail("empty path.", param, ctx)
        return super().convert(value, param, ctx)


def InputFile(**kw) -> click.Path:  # noqa: N802 (reads like a type at the option)
    """An existing, readable file (not a folder)."""
    return NonEmptyPath(exists=True, dir_okay=False, readable=True, **kw)


def InputDir(**kw) -> click.Path:  # noqa: N802
    """An existing, readable folder (not a file)."""
    return NonEmptyPath(exists=True, file_okay=False, readable=True, **kw)


def int_range(low: int, high: int | None = None) -> click.IntRange:
    return click.IntRange(low, high)


SEED = click.IntRange(0, SEED_MAX)
POSITIVE_INT = click.IntRange(min=1)
NON_NEGATIVE_INT = click.IntRange(min=0)
# Upper bounds where a huge value would only end in an out-of-memory crash or a job that never ends.
BATCH_SIZE = click.IntRange(1, 4096)
BOOTSTRAP_REPS = click.IntRange(1, 1_000_000)
FRACTION = FiniteFloatRange(0.0, 1.0)
POSITIVE_FLOAT = FiniteFloatRange(min=0.0, min_open=True)
FPS = FiniteFloatRange(min=0.0, max=240.0, min_open=True)
TEXT = NonEmptyText()


DEVICE_HELP = "auto (cuda when available, else cpu), cpu or cuda[:N]."


def device_option(fn):
    """``--device`` with one default and one help text for every command."""
    return click.option("--device", type=TEXT, default="auto", show_default=True, help=DEVICE_HELP)(fn)
