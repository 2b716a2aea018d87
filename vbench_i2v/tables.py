"""CSV tables the project reads (study keys, rater answers, clip lists, the paper's numbers), checked row by row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vbench_i2v.errors import InputError
from vbench_i2v.files import os_reason


def read_table(path, what: str) -> pd.DataFrame:
    """A CSV read as text, every row checked to have the header's field count.

    Read with the csv module, not pandas: pandas silently turns extra fields in the first data
    row into an index. Line numbers in ``_first_bad`` assume one line per row (no quoted newlines),
    so a quoted newline is refused too. Unreadable or malformed files raise one line naming them.
    """
    import csv

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a {what} (.csv)")
    if not path.is_file():
        raise InputError(f"{path}: no such {what}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a CSV {what} (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({os_reason(exc)})") from None
    import io

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            if any("\n" in f or "\r" in f for f in row):
                raise InputError(f"{path}, line {reader.line_num}: a field holds a line break")
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: not a valid CSV {what} ({exc})") from None
    while rows and not rows[-1]:
        rows.pop()  # trailing blank lines are harmless
    if not rows:
        raise InputError(f"{path}: empty file, expected a {what} with a header row")
    header, body = rows[0], rows[1:]
    if any(not c.strip() for c in header) or len(set(header)) != len(header):
        raise InputError(f"{path}, line 1: header names must be non-empty and distinct, got {','.join(header)!r}")
    for n, row in enumerate(body, start=2):
        if not row:
            raise InputError(f"{path}, line {n}: blank line inside the table")
        if len(row) != len(header):
            raise InputError(f"{path}, line {n}: not a valid CSV {what} (expected {len(header)} fields, "
                             f"saw {len(row)})")
    return pd.DataFrame(body, columns=header, dtype=str)
