"""Reading and writing videos: PyAV containers, GIF, PNG/JPG frame folders and lossless npz.

Every reader returns uint8 ``T x H x W x 3`` RGB (grayscale and RGBA are converted); every failure
is a :class:`VideoError` naming the file and the problem.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from vbench_i2v.errors import VideoError
from vbench_i2v.files import _umask, atomic_path

CONTAINER_EXTS = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".gif")
FRAME_EXTS = (".png", ".jpg", ".jpeg")
ARRAY_EXTS = (".npz",)
VIDEO_EXTS = CONTAINER_EXTS + ARRAY_EXTS
WRITE_FORMATS = ("mp4", "gif", "png", "npz")


def frame_files(path) -> list[Path]:
    """The frames of a frame folder, in reading order: non-hidden .png/.jpg/.jpeg files, sorted.

    One definition for the reader, the dataset cache's content hash and the frame counts."""
    return sorted(p for p in Path(path).iterdir() if p.suffix.lower() in FRAME_EXTS and not p.name.startswith("."))


def is_frame_folder(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(frame_files(path))


def is_video_path(path: Path) -> bool:
    path = Path(path)
    return (path.is_file() and path.suffix.lower() in VIDEO_EXTS) or is_frame_folder(path)


def _to_rgb_uint8(arr: np.ndarray, path: Path) -> np.ndarray:
    """Convert a ``T x H x W [x C]`` array of 1, 3 or 4 channels to uint8 RGB."""
    if arr.dtype != np.uint8:
        raise VideoError(f"{path}: frames must be uint8, got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise VideoError(f"{path}: expected T x H x W x (1|3|4) frames, got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


def _read_container(path: Path) -> np.ndarray:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream in the file")
            stream = container.streams.video[0]
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except VideoError:
        raise
    except Exception as exc:  # PyAV raises many error types (InvalidDataError, OSError, ...)
        raise VideoError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise VideoError(f"{path}: the video has no frames")
    return np.stack(frames)


def _read_frame_folder(path: Path) -> np.ndarray:
    from PIL import Image

    files = frame_files(path)
    if not files:
        raise VideoError(f"{path}: frame folder holds no .png/.jpg frames")
    frames = []
    for f in files:
        try:
            with Image.open(f) as im:
                frames.append(np.asarray(im.convert("RGB")))
        except Exception as exc:
            raise VideoError(f"{f}: cannot read frame ({type(exc).__name__}: {exc})") from None
    shapes = {fr.shape for fr in frames}
    if len(shapes) != 1:
        raise VideoError(f"{path}: frames differ in size {sorted(shapes)}")
    return np.stack(frames)


NPZ_KEY = "video"  # the one array an npz video holds (what write_video stores)


def _read_npz(path: Path) -> np.ndarray:
    """The ``video`` array of an npz; any other layout is refused (no guessing among arrays)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if NPZ_KEY not in data.files:
                found = ", ".join(data.files) if data.files else "none"
                raise VideoError(f"{path}: an npz video must hold an array named {NPZ_KEY!r} "
                                 f"(uint8 T x H x W x 3); arrays found: {found}")
            return np.asarray(data[NPZ_KEY])
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"{path}: cannot read npz ({type(exc).__name__}: {exc})") from None


def read_video(path) -> np.ndarray:
    """Read any supported video into uint8 ``T x H x W x 3``."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    if path.is_dir():
        arr = _read_frame_folder(path)
    elif path.suffix.lower() in CONTAINER_EXTS:
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: the file is empty")
        arr = _read_container(path)
    elif path.suffix.lower() in ARRAY_EXTS:
        arr = _read_npz(path)
    elif path.suffix.lower() in FRAME_EXTS:
        arr = _read_frame_folder_single(path)
    else:
        raise VideoError(f"{path}: unsupported video format {path.suffix!r} (use {', '.join(VIDEO_EXTS)} or a frame folder)")
    arr = _to_rgb_uint8(arr, path)
    if arr.shape[0] == 0:
        raise VideoError(f"{path}: the video has no frames")
    return arr


def _read_frame_folder_single(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))[None]
    except Exception as exc:
        raise VideoError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def read_image(path) -> np.ndarray:
    """Read one image (or the first frame of a video) as uint8 ``H x W x 3``."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in FRAME_EXTS:
        return _to_rgb_uint8(_read_frame_folder_single(path), path)[0]
    return read_video(path)[0]


def _check_frames(frames: np.ndarray, path: Path) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise VideoError(f"{path}: expected non-empty uint8 T x H x W x 3 frames, got {frames.dtype} {frames.shape}")
    return np.ascontiguousarray(frames)


def _write_mp4(frames: np.ndarray, path: Path, fps: float, crf: int) -> None:
    import av

    t, h, w, _ = frames.shape
    pad_h, pad_w = h % 2, w % 2  # yuv420p needs even sizes
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for fr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_gif(frames: np.ndarray, path: Path, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(fr) for fr in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=int(round(1000 / fps)), loop=0, optimize=False, disposal=1)


def write_video(path, frames, fps: float = 8.0, crf: int = 12) -> Path:
    """Write uint8 ``T x H x W x 3`` frames to ``.mp4`` (H.264), ``.gif``, ``.npz`` (lossless),
    or a folder of PNG frames (any path without one of those suffixes). Written atomically."""
    path = Path(path)
    frames = _check_frames(frames, path)
    suffix = path.suffix.lower()
    if suffix in (".mp4", ".gif", ".npz"):
        with atomic_path(path) as tmp:  # a write error is one line naming the file; no temp is left
            if suffix == ".mp4":
                _write_mp4(frames, tmp, fps, crf)
            elif suffix == ".gif":
                _write_gif(frames, tmp, fps)
            else:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, video=frames)
        return path
    if suffix:
        raise VideoError(f"{path}: cannot write {suffix!r}; use .mp4, .gif, .npz or a folder name for PNG frames")
    return _write_png_folder(frames, path)


def _write_png_folder(frames: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    for i, fr in enumerate(frames):
        Image.fromarray(fr).save(tmp / f"{i:05d}.png")
    os.chmod(tmp, 0o777 & ~_umask())
    if path.exists():
        import shutil

        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def video_file_name(stem: str, fmt: str) -> str:
    """File (or folder) name for a clip written in ``fmt`` (mp4|gif|png|npz)."""
    if fmt not in WRITE_FORMATS:
        raise VideoError(f"unknown video format {fmt!r} (use {', '.join(WRITE_FORMATS)})")
    return stem if fmt == "png" else f"{stem}.{fmt}"


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def walk_folder(root, what: str = "input"):
    """``os.walk`` for input trees, top-down and sorted, that follows symbolic links to files and
    folders and never drops an entry silently.

    Yields ``(folder, dirnames, filenames)`` with paths through the links (so paths stay under
    ``root``); remove names from ``dirnames`` to prune. Hidden entries (``.name``) are skipped,
    as everywhere in the suite. A broken link, or a link to a folder that contains it (a loop,
    which would otherwise be walked forever), is an :class:`~vbench_i2v.errors.InputError`
    naming the link; ``what`` words the message (``"input"``, ``"dataset mug"``).
    """
    from vbench_i2v.errors import InputError

    root = Path(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        raise InputError(f"{what} {root}: cannot read ({exc.strerror or exc})") from None

    def walk(folder: Path, ancestors: frozenset):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise InputError(f"{what} {folder}: cannot list the folder ({exc.strerror or exc})") from None
        dirnames, filenames = [], []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            is_link = entry.is_symlink()
            try:
                target_st = os.stat(entry.path)  # follows links
            except FileNotFoundError:
                if is_link:
                    raise InputError(f"{what} {entry.path}: broken symbolic link (points to "
                                     f"{_link_target(Path(entry.path))!r}, which does not exist)") from None
                continue  # removed while we walked
            except OSError as exc:
                if is_link and exc.errno == errno.ELOOP:  # ELOOP: a link chain that never ends
                    raise InputError(f"{what} {entry.path}: symbolic link loop (the link chain never "
                                     "reaches a file or folder)") from None
                raise InputError(f"{what} {entry.path}: cannot read ({exc.strerror or exc})") from None
            if stat.S_ISDIR(target_st.st_mode):
                if (target_st.st_dev, target_st.st_ino) in ancestors:
                    raise InputError(f"{what} {entry.path}: symbolic link loop (points to "
                                     f"{_link_target(Path(entry.path))!r}, a folder that contains the link)")
                dirnames.append(entry.name)
            else:
                filenames.append(entry.name)
        yield folder, dirnames, filenames
        for name in list(dirnames):
            sub = folder / name
            sst = os.stat(sub)
            yield from walk(sub, ancestors | {(sst.st_dev, sst.st_ino)})

    yield from walk(root, frozenset({(st.st_dev, st.st_ino)}))


def list_videos(root, what: str = "input") -> list[Path]:
    """All videos under ``root`` (files with a video suffix, and leaf frame folders), sorted.

    Symbolic links are followed (to files and folders); loops and broken links are errors
    (see :func:`walk_folder`)."""
    root = Path(root)
    if not root.is_dir():
        raise VideoError(f"{root}: not a folder")
    found: list[Path] = []
    for d, dirnames, filenames in walk_folder(root, what):
        frames = [n for n in filenames if Path(n).suffix.lower() in FRAME_EXTS]
        if frames and d != root:
            found.append(d)
            dirnames[:] = []
            continue
        found.extend(d / n for n in filenames if Path(n).suffix.lower() in VIDEO_EXTS)
    return sorted(found)
