"""The preprocessed-video cache: an entry is used only while its source is unchanged.

Every entry (``<cache>/<dataset>/<params>/<video_id>.npz``) stores the frames, the conversions the
reader applied to the source (16-bit samples scaled to 8 bits, greyscale replicated, ...: the lines
of :func:`vbench_i2v.video_io.read_video`, so a frame served from the cache keeps its record; an
entry written before they were kept is rebuilt once) and the JSON key they were made from: the
source path, its size, mtime_ns and a sha256 of its bytes (of every frame file, by name, for a
frame folder), the record's own fields (e.g. NATOPS repetition
bounds) and the preprocessing parameters (frame step, face crop and its constants, output
size, pixel-changing loader options, cache version). A load recomputes the key and serves the
entry only when it is equal; otherwise the video is preprocessed again and the entry replaced
atomically (temp file + ``os.replace``), so a reader never sees a half-written entry.

Hashing every source on every load would re-read the whole dataset each run, so the sha256 of a
file is memoised (``<cache>/<dataset>/sources/``) under its full stat signature: size, mtime_ns,
ctime_ns, inode and device. Rewriting a file's bytes always moves its ctime (the kernel sets it
on every data or metadata change, and ``os.utime`` cannot set it back), and replacing the file
gives a new inode, so a replaced or rewritten source misses the memo and is hashed again, even
when its size and mtime were forced to the old values. ``VBENCH_I2V_REHASH=1`` ignores the memo
(for file systems that do not keep ctime).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from vbench_i2v.files import sha256_file, temp_beside

CACHE_VERSION = 2


def _sig(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def rehash_always() -> bool:
    return os.environ.get("VBENCH_I2V_REHASH", "").strip().lower() in ("1", "true", "yes", "on")


class SourceIndex:
    """Content state of source files and frame folders, with sha256 memoised by stat signature.

    ``state(path)`` -> ``{"kind": "file", "size", "mtime_ns", "sha256"}`` or, for a frame folder,
    ``{"kind": "frames", "files", "size", "mtime_ns", "sha256"}`` (``size`` summed, ``mtime_ns`` the
    newest, ``sha256`` over each frame's name and sha256). ``folder`` None: memo in memory only.
    """

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._memory: dict[str, dict] = {}

    # --- memo -------------------------------------------------------------------------
    def _memo_path(self, path: str) -> Path | None:
        if self.folder is None:
            return None
        h = hashlib.sha256(path.encode()).hexdigest()
        return self.folder / h[:2] / f"{h}.json"

    def _memo(self, path: str) -> dict:
        if rehash_always():
            return {}
        if path in self._memory:
            return self._memory[path]
        memo = {}
        mp = self._memo_path(path)
        if mp is not None and mp.is_file():
            try:
                data = json.loads(mp.read_text())
                if data.get("source") == path and isinstance(data.get("files"), dict):
                    memo = data["files"]
            except (OSError, ValueError):
                memo = {}  # unreadable memo: hash again
        self._memory[path] = memo
        return memo

    def _save(self, path: str, files: dict) -> None:
        self._memory[path] = files
        mp = self._memo_path(path)
        if mp is None:
            return
        try:
            tmp = temp_beside(mp)
            try:
                tmp.write_text(json.dumps({"source": path, "files": files}, sort_keys=True))
                os.replace(tmp, mp)
            finally:
                if tmp.exists():
                    tmp.unlink()
        except Exception:  # noqa: BLE001 - the memo only saves time; a failed write just rehashes later
            pass

    def _hash(self, file: Path, name: str, memo: dict, fresh: dict) -> tuple[os.stat_result, str]:
        st = os.stat(file)
        sig = _sig(st)
        old = memo.get(name)
        if old is not None and old[:-1] == sig:
            sha = old[-1]
        else:
            sha = sha256_file(file)
            st2 = os.stat(file)
            if _sig(st2) != sig:  # changed while we read it: hash what is there now
                st, sig, sha = st2, _sig(st2), sha256_file(file)
        fresh[name] = sig + [sha]
        return st, sha

    # --- state ------------------------------------------------------------------------
    def state(self, source) -> dict:
        from vbench_i2v.video_io import frame_files

        path = os.path.abspath(os.fspath(source))
        memo = self._memo(path)
        fresh: dict = {}
        if os.path.isdir(path):
            files = frame_files(path)
            h = hashlib.sha256()
            size, newest = 0, 0
            for f in files:
                st, sha = self._hash(f, f.name, memo, fresh)
                size, newest = size + st.st_size, max(newest, st.st_mtime_ns)
                h.update(f"{f.name}\0{sha}\n".encode())
            out = {"kind": "frames", "files": len(files), "size": size, "mtime_ns": newest, "sha256": h.hexdigest()}
        else:
            st, sha = self._hash(Path(path), "", memo, fresh)
            out = {"kind": "file", "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
        if fresh != memo:
            self._save(path, fresh)
        return out


def read_entry(path: Path, key: str, conversions: list | None = None) -> np.ndarray | None:
    """The frames of a cache entry made from ``key``; None when missing, unreadable or stale (an
    entry without its conversion record counts as stale). ``conversions`` (a list) receives the
    reader's conversion lines stored with the entry."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if ("key" not in data.files or "video" not in data.files or "conversions" not in data.files
                    or str(data["key"]) != key):
                return None
            frames = np.asarray(data["video"])
            stored = json.loads(str(data["conversions"]))
    except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, not trusted
        return None
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        return None
    if not (isinstance(stored, list) and all(isinstance(x, str) for x in stored)):
        return None
    if conversions is not None:
        conversions.extend(x for x in stored if x not in conversions)
    return frames


def write_entry(path: Path, frames: np.ndarray, key: str, conversions=()) -> None:
    """Write an entry atomically: a temp file beside it, then ``os.replace``. ``conversions``: the
    reader's conversion lines of the source (kept with the frames)."""
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, video=np.ascontiguousarray(frames), key=np.array(key),
                                conversions=np.array(json.dumps(list(conversions))))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
