"""``clips.csv``: the table every folder of protocol clips carries (export folders, run folders)."""

from __future__ import annotations

from pathlib import Path

from vbench_i2v.files import atomic_write_csv

CLIP_COLUMNS = ["clip", "label", "label_name", "subject", "source", "start_frame"]


def write_clips_csv(path: Path, rows: list[dict]) -> None:
    """Write ``clips.csv`` atomically."""
    atomic_write_csv(path, CLIP_COLUMNS, rows)
