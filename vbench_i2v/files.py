"""Small file helpers every part shares: sha256 of a file and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (recorded for every weight and checkpoint file used)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path) -> None:
    """Give a temp file (mkstemp makes them 0600) the mode a plain ``open`` would have given it."""
    os.chmod(path, 0o666 & ~_umask())


def temp_beside(path) -> Path:
    """An empty temp file in ``path``'s folder (ordinary permissions), to ``os.replace`` onto it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    publish_mode(name)
    return Path(name)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        publish_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(path, columns, rows) -> Path:
    """A CSV with a header row, written atomically (rows are dicts keyed by ``columns``)."""
    import csv
    import io

    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def atomic_write_json(path, obj) -> Path:
    """Strict JSON (a NaN raises instead of writing a file other tools cannot read)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
