"""Small file helpers every part shares: sha256 of a file, sha256 records, and atomic writes.

Every write goes through a temp file beside its target (named ``.<name>.vbench-tmp-XXXXXXXX``, so
:func:`remove_stale_temps` can clear what a killed run left) and ``os.replace``. A failing write
(permission denied, disk full, read-only file system, a parent that is a file) raises
:class:`WriteError`, one line ``<path>: cannot write (<reason>)``, and leaves neither a partial
target nor a temp file behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from vbench_i2v.errors import InputError, VBenchError

TEMP_MARK = ".vbench-tmp-"


class WriteError(VBenchError):
    """A file or folder that cannot be written (the message is ``<path>: cannot write (<reason>)``)."""


class ReadError(InputError):
    """A file the project reads (its own records, a user's table) that is missing or malformed."""


# errno -> the words a user reads; anything else falls back to os.strerror.
_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a parent in the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENOENT: "its folder does not exist",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "a parent in the path is a file, not a folder",
}


def os_reason(exc: OSError) -> str:
    """Short words for an OSError's cause (``disk full``, ``permission denied`` ...)."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


def write_error(path, exc: OSError) -> WriteError:
    return WriteError(f"{path}: cannot write ({os_reason(exc)})")


@contextlib.contextmanager
def writing(path):
    """Turn an OSError raised inside the block into :class:`WriteError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise write_error(path, exc) from None


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


def _make_parent(path: Path) -> None:
    """Create ``path``'s folder, reporting a parent that is a file as such (mkdir says 'exists')."""
    parent = path.parent
    if parent.is_dir():
        return
    for above in [parent, *parent.parents]:
        if above.exists() and not above.is_dir():
            raise WriteError(f"{path}: cannot write ({above} is a file, not a folder)")
        if above.is_dir():
            break
    with writing(path):
        parent.mkdir(parents=True, exist_ok=True)


def _new_temp(path: Path) -> Path:
    _make_parent(path)
    if path.is_dir():
        raise WriteError(f"{path}: cannot write (it is a folder)")
    with writing(path):
        fd, name = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent)
        os.close(fd)
        try:
            publish_mode(name)
        except OSError:
            os.unlink(name)
            raise
    return Path(name)


def _unlink_quietly(path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def temp_beside(path) -> Path:
    """An empty temp file in ``path``'s folder (ordinary permissions), to ``os.replace`` onto it.

    The caller owns the temp file; prefer :func:`atomic_path`, which also cleans it up on failure.
    """
    return _new_temp(Path(path))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path beside ``path`` to write; on success it replaces ``path``.

    On any exception the temp file is removed and ``path`` is left as it was; an OSError becomes
    :class:`WriteError` naming ``path`` (for writers that take a file name: torch.save, encoders).
    """
    path = Path(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise write_error(path, exc) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
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


# ---------------------------------------------------------------- checks before long work

def _probe(folder: Path, target: Path) -> None:
    """Create and delete a temp file in ``folder``: the only check that sees read-only mounts,
    ACLs and root's rules alike (``os.access`` answers for permission bits only)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".probe{TEMP_MARK}", dir=folder)
    except OSError as exc:
        raise write_error(target, exc) from None
    os.close(fd)
    _unlink_quietly(name)


def check_writable(path, kind: str = "file") -> Path:
    """Fail now, in one line, if ``path`` could not be written later; creates nothing.

    ``kind="file"``: ``path`` must not be a folder, and its folder must exist (or be creatable:
    the nearest existing ancestor is a writable folder). ``kind="dir"``: ``path`` must be a
    writable folder, or creatable the same way. Call it before long work (training, a run).
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    if path is None or str(path).strip() == "":
        raise WriteError("'': cannot write (empty path)")
    path = Path(path)
    if path.exists():
        if kind == "file" and path.is_dir():
            raise WriteError(f"{path}: cannot write (it is a folder, a file name is needed)")
        if kind == "dir" and not path.is_dir():
            raise WriteError(f"{path}: cannot write (it is a file, a folder is needed)")
        if kind == "file" and not os.access(path, os.W_OK):
            raise WriteError(f"{path}: cannot write (permission denied)")
    start = path if (kind == "dir" and path.is_dir()) else path.parent
    for above in [start, *start.parents]:
        if above.exists():
            if not above.is_dir():
                raise WriteError(f"{path}: cannot write ({above} is a file, not a folder)")
            _probe(above, path)
            break
    return path


def remove_stale_temps(folder, recursive: bool = True) -> list[Path]:
    """Delete the temp files (``.*.vbench-tmp-*``) a killed writer left in ``folder``; returns them.

    Only names this module makes are touched, so a user's own files are never removed. Call it
    when resuming into a folder, never while another process may be writing there.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".*{TEMP_MARK}*"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for p in sorted(found):
        if p.is_file() and not p.is_symlink():
            with writing(p):
                p.unlink()
            removed.append(p)
    return removed


# ---------------------------------------------------------------- sha256 records

_HEX64 = re.compile(r"[0-9a-f]{64}")
# sha256sum's output: digest, two spaces (or space + '*' in binary mode), the file name.
_SUMS_LINE = re.compile(r"(?P<digest>[0-9a-fA-F]{64}) [ *](?P<name>\S.*)")


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise ReadError(f"{path}: no such {what}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReadError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot read ({os_reason(exc)})") from None


def read_json_object(path, what: str = "JSON file") -> dict:
    """A JSON object from ``path``, or one line naming the file: unreadable, not UTF-8, not valid
    JSON, or not an object (strict: NaN and Infinity are refused)."""
    import json

    path = Path(path)

    def no_constants(name):
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    except UnicodeDecodeError:
        raise ReadError(f"{path}: cannot read JSON (not UTF-8 text)") from None
    except (ValueError, RecursionError) as exc:
        raise ReadError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot read ({os_reason(exc)})") from None
    if not isinstance(data, dict):
        raise ReadError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_sha256sums(path) -> dict[str, str]:
    """``{file name: lowercase hex digest}`` from a ``sha256sum``-format file, every line checked.

    Blank lines are skipped; a malformed line, or a name listed twice with different digests,
    raises :class:`ReadError` naming the file and the line number.
    """
    path = Path(path)
    sums: dict[str, str] = {}
    for n, line in enumerate(_read_text(path, "sha256 list").splitlines(), start=1):
        if not line.strip():
            continue
        m = _SUMS_LINE.fullmatch(line.rstrip("\r"))
        if m is None:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise ReadError(f"{path}, line {n}: expected '<64 hex digits>  <file name>', got {shown!r}")
        name, digest = m["name"].rstrip(), m["digest"].lower()
        if sums.get(name, digest) != digest:
            raise ReadError(f"{path}, line {n}: {name} is listed twice with different sha256 sums")
        sums[name] = digest
    return sums


def read_sha256_record(path) -> str:
    """The digest in a one-file record (``FILE.sha256``: the digest, optionally followed by a name)."""
    path = Path(path)
    text = _read_text(path, "sha256 record").strip()
    digest = text.split()[0].lower() if text else ""
    if not _HEX64.fullmatch(digest):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ReadError(f"{path}, line 1: expected a sha256 (64 hex digits), got {shown!r}")
    return digest
