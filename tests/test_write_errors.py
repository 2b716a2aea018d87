"""Writes through vbench_i2v.files fail in one line and leave no partial or temp file behind.

Disk full and read-only mounts are simulated by making the write or the temp-file creation raise
the OSError the kernel would give; a parent that is a file fails for real (also as root, where
permission bits do not bite); permission bits are tested only when not running as root.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import tempfile
from pathlib import Path

import pytest

from vbench_i2v import files
from vbench_i2v.errors import InputError, VBenchError
from vbench_i2v.files import (TEMP_MARK, WriteError, atomic_path, atomic_write_bytes, atomic_write_csv,
                              atomic_write_json, atomic_write_text, check_writable, read_sha256_record,
                              read_sha256sums, remove_stale_temps, temp_beside)

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMP_MARK in p.name)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_write_error_is_a_vbench_error():
    assert issubclass(WriteError, VBenchError)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    atomic_write_json(target, {"x": 1})
    atomic_write_json(target, {"x": 2})
    assert target.read_text() == '{\n  "x": 2\n}\n'
    assert _leftovers(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~files._umask())


@pytest.mark.parametrize("writer", [
    lambda p: atomic_write_bytes(p, b"new"),
    lambda p: atomic_write_text(p, "new"),
    lambda p: atomic_write_json(p, {"new": 1}),
    lambda p: atomic_write_csv(p, ["a"], [{"a": 1}]),
])
def test_disk_full_during_write(tmp_path, monkeypatch, writer):
    target = tmp_path / "out.txt"
    target.write_text("old")

    real_open = builtins.open

    class FullFile(io.FileIO):
        def write(self, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(file, mode="r", *a, **k):
        if "w" in mode and TEMP_MARK in str(file):
            return FullFile(file, "w")
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(WriteError) as info:
        writer(target)
    assert _one_line(info.value) == f"{target}: cannot write (disk full)"
    assert target.read_text() == "old"  # the old file is untouched
    assert _leftovers(tmp_path) == []


def test_disk_full_in_fsync(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match="disk full"):
        atomic_write_text(target, "x")
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_read_only_file_system(tmp_path, monkeypatch):
    def ro(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", ro)
    with pytest.raises(WriteError) as info:
        atomic_write_text(tmp_path / "x.txt", "x")
    assert str(info.value) == f"{tmp_path / 'x.txt'}: cannot write (read-only file system)"
    with pytest.raises(WriteError, match="read-only file system"):
        check_writable(tmp_path / "x.txt")
    with pytest.raises(WriteError, match="read-only file system"):
        check_writable(tmp_path / "new-dir", kind="dir")


def test_parent_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    target = blocker / "sub" / "out.json"
    for call in (lambda: atomic_write_json(target, {}), lambda: temp_beside(target),
                 lambda: check_writable(target), lambda: check_writable(blocker / "d", kind="dir")):
        with pytest.raises(WriteError) as info:
            call()
        assert _one_line(info.value).endswith(f": cannot write ({blocker} is a file, not a folder)")
    assert blocker.read_text() == "I am a file"
    assert _leftovers(tmp_path) == []


def test_target_is_a_folder(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteError, match=r"cannot write \(it is a folder\)"):
        atomic_write_text(tmp_path / "d", "x")
    with pytest.raises(WriteError, match="it is a folder"):
        check_writable(tmp_path / "d")
    with pytest.raises(WriteError, match="it is a file, a folder is needed"):
        (tmp_path / "f").write_text("")
        check_writable(tmp_path / "f", kind="dir")
    assert _leftovers(tmp_path) == []


def test_replace_failure_removes_temp(tmp_path, monkeypatch):
    def denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(WriteError, match=r"out\.txt: cannot write \(permission denied\)"):
        atomic_write_text(tmp_path / "out.txt", "x")
    assert _leftovers(tmp_path) == []


def test_atomic_path_cleans_up_on_any_error(tmp_path):
    target = tmp_path / "state.pt"
    with pytest.raises(ZeroDivisionError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            1 / 0
    assert not target.exists() and _leftovers(tmp_path) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and _leftovers(tmp_path) == []


@pytest.mark.skipif(ROOT, reason="root ignores permission bits (the parent-is-a-file case covers this path)")
def test_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="permission denied"):
            atomic_write_text(locked / "x.txt", "x")
        with pytest.raises(WriteError, match="permission denied"):
            check_writable(locked / "x.txt")
        with pytest.raises(WriteError, match="permission denied"):
            check_writable(locked / "sub", kind="dir")
    finally:
        locked.chmod(0o700)


def test_check_writable_accepts_and_creates_nothing(tmp_path):
    assert check_writable(tmp_path / "a" / "b" / "c.json") == tmp_path / "a" / "b" / "c.json"
    assert check_writable(tmp_path / "new", kind="dir") == tmp_path / "new"
    assert check_writable(tmp_path, kind="dir") == tmp_path
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(WriteError, match="empty path"):
        check_writable("")
    with pytest.raises(ValueError):
        check_writable(tmp_path, kind="folder")


def test_remove_stale_temps_only_touches_our_temps(tmp_path):
    (tmp_path / "sub").mkdir()
    ours = [temp_beside(tmp_path / "results.json"), temp_beside(tmp_path / "sub" / "clip.mp4")]
    keep = [tmp_path / "results.json", tmp_path / ".hidden", tmp_path / "sub" / "a.vbench-tmp.txt"]
    for p in keep:
        p.write_text("keep")
    assert all(TEMP_MARK in p.name and p.name.startswith(".") for p in ours)
    assert remove_stale_temps(tmp_path, recursive=False) == [ours[0]]
    assert remove_stale_temps(tmp_path) == [ours[1]]
    assert all(p.exists() for p in keep) and _leftovers(tmp_path) == []
    assert remove_stale_temps(tmp_path / "missing") == []


# ---------------------------------------------------------------- sha256 records

GOOD = "a" * 64


def test_read_sha256sums(tmp_path):
    f = tmp_path / "SHA256SUMS"
    f.write_text(f"{GOOD}  x/model.safetensors\n\n{'B' * 64} *y.bin\n{GOOD}  x/model.safetensors\n")
    assert read_sha256sums(f) == {"x/model.safetensors": GOOD, "y.bin": "b" * 64}


@pytest.mark.parametrize("text, line", [
    (f"{GOOD}  a\nnot a sum line\n", 2),
    (f"{GOOD[:-1]}  a\n", 1),              # 63 digits
    (f"{GOOD}a\n", 1),                     # no separator
    (f"{GOOD}  \n", 1),                    # no name
    (f"{'g' * 64}  a\n", 1),               # not hex
    (f"{GOOD}  a\n{'b' * 64}  a\n", 2),    # same name, other digest
])
def test_read_sha256sums_names_file_and_line(tmp_path, text, line):
    f = tmp_path / "SHA256SUMS"
    f.write_text(text)
    with pytest.raises(InputError) as info:
        read_sha256sums(f)
    assert _one_line(info.value).startswith(f"{f}, line {line}: ")


def test_read_sha256sums_missing_and_binary(tmp_path):
    with pytest.raises(InputError, match="no such sha256 list"):
        read_sha256sums(tmp_path / "nope")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        read_sha256sums(tmp_path / "bin")


def test_the_shipped_sha256sums_parse():
    import vbench_i2v.generators as gens

    sums = read_sha256sums(Path(gens.__file__).parent / "checkpoints" / "SHA256SUMS")
    assert sums and all(len(d) == 64 for d in sums.values())


def test_read_sha256_record(tmp_path):
    rec = tmp_path / "w.pth.sha256"
    rec.write_text(GOOD.upper() + "  w.pth\n")
    assert read_sha256_record(rec) == GOOD
    for bad in ("", "\n", "xyz", GOOD[:10]):
        rec.write_text(bad)
        with pytest.raises(InputError, match=r"line 1: expected a sha256"):
            read_sha256_record(rec)
