"""``clips.csv``: the table every folder of protocol clips carries (export folders, run folders)."""

from __future__ import annotations

from pathlib import Path

from vbench_i2v.files import atomic_write_csv

CLIP_COLUMNS = ["clip", "label", "label_name", "subject", "source", "start_frame"]


def write_clips_csv(path: Path, rows: list[dict]) -> None:
    """Write ``clips.csv`` atomically."""
    atomic_write_csv(path, CLIP_COLUMNS, rows)


MAX_LABEL = 1_000_000


def read_labels(path, allow_unlabelled: bool = False) -> dict[str, int]:
    """``{clip: label}`` from a CSV with columns ``clip,label`` (a run folder's clips.csv works).

    Read row-checked by :func:`vbench_i2v.tables.read_table` before any scoring, so a ragged,
    truncated or binary file is refused even when no label metric runs; a clip named twice or a
    label that is not a class index is refused with its line. ``allow_unlabelled``: rows with an
    empty label (a dataset without labels) are skipped instead of refused.
    """
    from vbench_i2v.errors import InputError
    from vbench_i2v.tables import read_table

    table = read_table(path, "labels file")
    if not {"clip", "label"} <= set(table.columns):
        raise InputError(f"{path}: needs columns clip,label, found {','.join(table.columns)}")
    out: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for n, (clip, label) in enumerate(zip(table["clip"], table["label"]), start=2):
        if not clip.strip():
            raise InputError(f"{path}, line {n}: field clip is empty")
        text = label.strip()
        if allow_unlabelled and not text:
            continue
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_LABEL:
            raise InputError(f"{path}, line {n}: label must be a class index 0..{MAX_LABEL}, got {label!r}")
        if clip in out:
            raise InputError(f"{path}, line {n}: clip {clip!r} is listed twice (first on line {first_line[clip]})")
        out[clip], first_line[clip] = int(text), n
    return out
