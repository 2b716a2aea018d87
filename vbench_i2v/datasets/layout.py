"""Shared helpers for the user-supplied loaders: check the root, compile file-name patterns,
and word the errors that say which path was looked at and what layout was expected."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from vbench_i2v.errors import DatasetError
from vbench_i2v.video_io import walk_folder


def layout_error(name: str, where: Path, problem: str, layout_help: str) -> DatasetError:
    """One line naming the dataset, the path and the problem; the expected tree follows."""
    return DatasetError(f"{name}: {problem} under {where}\n{layout_help}".rstrip())


def require_root(name: str, root: Path, layout_help: str) -> Path:
    if not root.exists():
        raise DatasetError(f"{name}: data folder {root} does not exist\n{layout_help}".rstrip())
    if not root.is_dir():
        raise DatasetError(f"{name}: {root} is not a folder\n{layout_help}".rstrip())
    return root


def compile_pattern(name: str, pattern: str, required: tuple[str, ...]) -> re.Pattern:
    """Compile a user pattern and check it has the named groups the loader needs."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise DatasetError(f"{name}: invalid pattern {pattern!r} ({exc})") from None
    missing = [g for g in required if g not in rx.groupindex]
    if missing:
        raise DatasetError(f"{name}: pattern {pattern!r} lacks the named group(s) {', '.join(missing)}")
    return rx


def walk_files(root: Path, suffixes: tuple[str, ...], what: str = "dataset") -> list[Path]:
    """Every file under ``root`` (hidden entries skipped) whose suffix is in ``suffixes``, sorted.

    Symbolic links to files and folders are followed; a loop or a broken link is an error naming
    the link (:func:`vbench_i2v.video_io.walk_folder`), never a silently missing video."""
    found = []
    for folder, _dirnames, filenames in walk_folder(root, what):
        found.extend(folder / f for f in filenames if Path(f).suffix.lower() in suffixes)
    return sorted(found)


def warn_skipped(name: str, what: str, paths: list) -> None:
    """One warning for a group of skipped entries, with a few examples."""
    if paths:
        examples = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        warnings.warn(f"{name}: skipped {len(paths)} {what}: {examples}", UserWarning, stacklevel=3)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
