"""Reading and writing videos: PyAV containers, GIF, PNG/JPG/TIFF frame folders and lossless npz.

Every reader returns uint8 ``T x H x W x 3`` RGB; every failure is a :class:`VideoError` naming the
file and the problem. Frames are read at their real depth and converted by fixed rules
(docs/caching-and-inputs.md, "Frame depth and channels"):

- 16-bit samples (PNG, TIFF) and high-bit-depth video (``yuv420p10le`` and the like, decoded to
  16-bit RGB by FFmpeg) are scaled to 8 bits by ``round(v * 255 / 65535)`` (:func:`scale_to_8bit`),
  never clipped; 32-bit integer or float samples have no agreed 8-bit scale and are refused;
- greyscale (and 1-bit) frames are replicated to R = G = B; palette frames are looked up in
  their palette; an alpha channel is dropped (colours kept as stored, no compositing).

The readers take an optional ``conversions`` list and append one path-free line per kind of
conversion they applied (the way the feature pass reports its resizes), for provenance. Code that
reads through another API (a dataset's ``read_raw``) collects the same lines with
:func:`recording_conversions`. An npz written with ``write_video(..., conversions=lines)`` keeps the
lines of what was done to its frames before (e.g. a run's real clip cut from a 16-bit source), and
reading it reports them again, so the record follows the frames.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from vbench_i2v.errors import VideoError
from vbench_i2v.files import _umask, atomic_path

CONTAINER_EXTS = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".gif")
FRAME_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ARRAY_EXTS = (".npz",)
VIDEO_EXTS = CONTAINER_EXTS + ARRAY_EXTS
WRITE_FORMATS = ("mp4", "gif", "png", "npz")


def frame_files(path) -> list[Path]:
    """The frames of a frame folder, in reading order: non-hidden .png/.jpg/.jpeg/.tif/.tiff files, sorted.

    One definition for the reader, the dataset cache's content hash and the frame counts."""
    return sorted(p for p in Path(path).iterdir() if p.suffix.lower() in FRAME_EXTS and not p.name.startswith("."))


def is_frame_folder(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(frame_files(path))


def is_video_path(path: Path) -> bool:
    path = Path(path)
    return (path.is_file() and path.suffix.lower() in VIDEO_EXTS) or is_frame_folder(path)


# The version of the reading rules above: part of the dataset cache's key (vbench_i2v/datasets/base.py),
# so entries decoded under older rules (16-bit frames clipped at 255) are rebuilt, not served.
READ_RULES = "depth-scaled-1"

# The conversion lines the readers report (path-free, so a set of videos gives each line once).
SCALED_16 = "16-bit samples scaled to 8 bits: round(v * 255 / 65535)"
GREY_TO_RGB = "greyscale frames replicated to R = G = B"
PALETTE_TO_RGB = "palette frames looked up in their palette"
ALPHA_DROPPED = "alpha channel dropped (transparent pixels keep their stored colour, no compositing)"


def _video_scaled(bits: int, pix_fmt: str) -> str:
    return (f"{bits}-bit video ({pix_fmt}) scaled to 8 bits: decoded to 16-bit RGB by FFmpeg, "
            "then round(v * 255 / 65535)")


def scale_to_8bit(values: np.ndarray) -> np.ndarray:
    """uint16 samples -> uint8 by the exact rescale ``round(v * 255 / 65535)`` (= ``round(v / 257)``).

    In integers: ``(v * 255 + 32767) // 65535``; ``v / 257`` is never exactly half-way between two
    integers (257 is odd), so no tie rule is needed. ``u * 257`` (an 8-bit value widened) gives ``u``.
    """
    v = np.asarray(values)
    if v.dtype != np.uint16:
        raise TypeError(f"scale_to_8bit expects uint16 samples, got {v.dtype}")
    return ((v.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


_RECORDING: contextvars.ContextVar[list | None] = contextvars.ContextVar("vbench_read_conversions", default=None)


@contextlib.contextmanager
def recording_conversions(conversions: list):
    """Inside the block (this thread or task), every reader call also reports its conversion lines
    into ``conversions``: for code that reads through another API, e.g. a dataset's ``read_raw``."""
    token = _RECORDING.set(conversions)
    try:
        yield conversions
    finally:
        _RECORDING.reset(token)


def report_conversions(lines) -> None:
    """Report ``lines`` into the list of the enclosing :func:`recording_conversions` (if any): for a
    reader that serves frames it decoded earlier (a memo) and must report what was done to them."""
    _report(None, *lines)


def _report(conversions, *lines: str) -> None:
    recording = _RECORDING.get()
    for target in (conversions, recording if recording is not conversions else None):
        if target is not None:
            for line in lines:
                if line not in target:
                    target.append(line)


def _channels_to_rgb(arr: np.ndarray, conversions=None) -> np.ndarray:
    """``... x C`` uint8 with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) -> ``... x 3``."""
    c = arr.shape[-1]
    if c in (2, 4):
        alpha = arr[..., -1]
        if (alpha < 255).any():
            _report(conversions, ALPHA_DROPPED)
        arr = arr[..., :-1]
    if arr.shape[-1] == 1:
        _report(conversions, GREY_TO_RGB)
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


def _to_rgb_uint8(arr: np.ndarray, path: Path, conversions=None) -> np.ndarray:
    """Convert a ``T x H x W [x C]`` array of 1, 3 or 4 channels to uint8 RGB (an npz's array)."""
    if arr.dtype != np.uint8:
        raise VideoError(f"{path}: frames must be uint8, got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise VideoError(f"{path}: expected T x H x W x (1|3|4) frames, got shape {arr.shape}")
    return _channels_to_rgb(arr, conversions)


def _frame_bits(frame) -> int:
    return max((c.bits for c in frame.format.components), default=8)


def _frame_has_alpha(frame) -> bool:
    return any(getattr(c, "is_alpha", False) for c in frame.format.components)


def _decode_frame(frame, conversions) -> np.ndarray:
    """One PyAV frame -> uint8 ``H x W x 3``: 8-bit formats through rgb24 (rgba where the format
    has alpha, then the alpha rule), deeper ones through rgb48le/rgba64le and :func:`scale_to_8bit`."""
    bits, alpha = _frame_bits(frame), _frame_has_alpha(frame)
    if bits > 8:
        arr = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le")
        _report(conversions, _video_scaled(bits, frame.format.name))
        arr = scale_to_8bit(np.asarray(arr, dtype=np.uint16))
    else:
        arr = frame.to_ndarray(format="rgba" if alpha else "rgb24")
    return _channels_to_rgb(arr, conversions) if alpha else arr


def _read_container(path: Path, conversions=None) -> np.ndarray:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream in the file")
            stream = container.streams.video[0]
            frames = [_decode_frame(f, conversions) for f in container.decode(stream)]
    except VideoError:
        raise
    except Exception as exc:  # PyAV raises many error types (InvalidDataError, OSError, ...)
        raise VideoError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise VideoError(f"{path}: the video has no frames")
    return np.stack(frames)


_PACKED_16 = {"gray16be": 1, "gray16le": 1, "ya16be": 2, "ya16le": 2, "rgb48be": 3, "rgb48le": 3,
              "rgba64be": 4, "rgba64le": 4}


def _bits_per_sample(im, path: Path) -> int:
    """The file's bits per sample: PNG from its IHDR chunk (byte 24, by the PNG spec), TIFF from
    tag 258 (BitsPerSample); other formats PIL opens are 8-bit. PIL itself reduces 16-bit colour
    PNG/TIFF to 8 bits by dropping the low byte, so the depth is read from the file."""
    if im.format == "PNG":
        with open(path, "rb") as fh:
            head = fh.read(26)
        return head[24] if len(head) > 24 else 8
    if im.format == "TIFF":
        bps = im.tag_v2.get(258, 1)
        return int(max(bps)) if isinstance(bps, (tuple, list)) else int(bps)
    return 8


def _signed_or_float(im) -> bool:
    """TIFF tag 339 (SampleFormat): 1 = unsigned integer; 2 (signed) and 3 (float) have no 8-bit scale."""
    if im.format != "TIFF":
        return False
    fmt = im.tag_v2.get(339, 1)
    return any(int(f) != 1 for f in (fmt if isinstance(fmt, (tuple, list)) else (fmt,)))


def _read_16bit_image(path: Path) -> np.ndarray:
    """A 16-bit PNG/TIFF as uint16 ``H x W x C`` (C = 1..4), decoded by FFmpeg at full depth."""
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    name = frame.format.name
    if name in _PACKED_16:  # the samples as stored: read the packed plane directly
        c = _PACKED_16[name]
        plane = frame.planes[0]
        flat = np.frombuffer(memoryview(plane), dtype=">u2" if name.endswith("be") else "<u2")
        rows = flat.reshape(frame.height, -1)[:, : frame.width * c]
        return rows.reshape(frame.height, frame.width, c).astype(np.uint16)
    # planar layouts (gbrp16 ...): FFmpeg reorders them into packed RGB(A) at the same depth
    return np.asarray(frame.to_ndarray(format="rgba64le" if _frame_has_alpha(frame) else "rgb48le"), np.uint16)


def _read_image_file(path: Path, conversions=None) -> np.ndarray:
    """One image file -> uint8 ``H x W x 3`` by the rules in the module docstring."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            bits, signed = _bits_per_sample(im, path), _signed_or_float(im)
            mode = im.mode
            if mode == "F" or signed or bits > 16:
                what = "floating-point or signed" if mode == "F" or signed else f"{bits}-bit"
                raise VideoError(f"{path}: {what} samples have no agreed scale to 8 bits; "
                                 "save the frames as 8- or 16-bit unsigned PNG/TIFF")
            if bits not in (1, 2, 4, 8, 16):
                raise VideoError(f"{path}: {bits}-bit samples are not supported; save the frames as 8- or 16-bit")
            if bits == 16:
                if mode.startswith("I"):  # 16-bit greyscale: PIL keeps every bit
                    arr = np.asarray(im).astype(np.uint16)[..., None]
                else:
                    arr = None  # colour: PIL would drop the low byte, decode at full depth below
            elif mode in ("RGB", "L", "RGBA", "LA"):
                arr = np.asarray(im)
            elif mode == "1":
                arr = np.asarray(im.convert("L"))  # 0 -> 0, 1 -> 255
            elif mode in ("P", "PA"):
                _report(conversions, PALETTE_TO_RGB)
                arr = np.asarray(im.convert("RGBA"))  # palette lookup; tRNS transparency as alpha
            elif mode in ("CMYK", "YCbCr"):  # PIL's own conversion, stated in the record
                _report(conversions, f"{mode} frames converted to RGB by PIL")
                arr = np.asarray(im.convert("RGB"))
            else:
                raise VideoError(f"{path}: {mode} frames ({bits}-bit) are not supported; "
                                 "save the frames as RGB, greyscale or palette PNG")
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"{path}: cannot read frame ({type(exc).__name__}: {exc})") from None
    if bits == 16:
        if arr is None:
            try:
                arr = _read_16bit_image(path)
            except Exception as exc:
                raise VideoError(f"{path}: cannot decode the 16-bit frame at full depth "
                                 f"({type(exc).__name__}: {exc}); save it as 8-bit") from None
        _report(conversions, SCALED_16)
        arr = scale_to_8bit(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    return _channels_to_rgb(arr, conversions)


def _read_frame_folder(path: Path, conversions=None) -> np.ndarray:
    files = frame_files(path)
    if not files:
        raise VideoError(f"{path}: frame folder holds no {'/'.join(FRAME_EXTS)} frames")
    frames = [_read_image_file(f, conversions) for f in files]
    shapes = {fr.shape for fr in frames}
    if len(shapes) != 1:
        raise VideoError(f"{path}: frames differ in size {sorted(shapes)}")
    return np.stack(frames)


NPZ_KEY = "video"  # the one array an npz video holds (what write_video stores)
NPZ_CONVERSIONS_KEY = "conversions"  # optional: a JSON list of the conversion lines its frames went through


def _stored_conversions(value) -> list[str]:
    """The lines of an npz's ``conversions`` member (a JSON list of strings); anything else is not
    ours (a foreign npz may hold an array of that name) and gives none."""
    if value.dtype.kind != "U" or value.ndim != 0:
        return []
    try:
        lines = json.loads(str(value))
    except ValueError:
        return []
    return [x for x in lines if isinstance(x, str)] if isinstance(lines, list) else []


def _read_npz(path: Path, conversions=None) -> np.ndarray:
    """The ``video`` array of an npz; any other layout is refused (no guessing among arrays). The
    conversions it records (``conversions`` member, :func:`write_video`) are reported again."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if NPZ_KEY not in data.files:
                found = ", ".join(data.files) if data.files else "none"
                raise VideoError(f"{path}: an npz video must hold an array named {NPZ_KEY!r} "
                                 f"(uint8 T x H x W x 3); arrays found: {found}")
            if NPZ_CONVERSIONS_KEY in data.files:
                _report(conversions, *_stored_conversions(data[NPZ_CONVERSIONS_KEY]))
            return np.asarray(data[NPZ_KEY])
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(f"{path}: cannot read npz ({type(exc).__name__}: {exc})") from None


def read_video(path, conversions: list | None = None) -> np.ndarray:
    """Read any supported video into uint8 ``T x H x W x 3``; ``conversions`` (a list) receives
    one line per kind of conversion applied (16-bit scaling, greyscale, palette, alpha)."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    if path.is_dir():
        arr = _read_frame_folder(path, conversions)
    elif path.suffix.lower() in CONTAINER_EXTS:
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: the file is empty")
        arr = _read_container(path, conversions)
    elif path.suffix.lower() in ARRAY_EXTS:
        arr = _to_rgb_uint8(_read_npz(path, conversions), path, conversions)
    elif path.suffix.lower() in FRAME_EXTS:
        arr = _read_image_file(path, conversions)[None]
    else:
        raise VideoError(f"{path}: unsupported video format {path.suffix!r} (use {', '.join(VIDEO_EXTS)} or a frame folder)")
    if arr.shape[0] == 0:
        raise VideoError(f"{path}: the video has no frames")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise VideoError(f"{path}: the frames have no pixels ({arr.shape[1]} x {arr.shape[2]})")
    return arr


def read_fps(path) -> float | None:
    """The frame rate a video container declares (PyAV's average rate), or None where there is
    none: npz arrays, frame folders, single images, or a container that states no rate."""
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() in CONTAINER_EXTS):
        return None
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
    except Exception as exc:  # PyAV raises many error types
        raise VideoError(f"{path}: cannot read the frame rate ({type(exc).__name__}: {exc})") from None
    return float(rate) if rate else None


def read_image(path, conversions: list | None = None) -> np.ndarray:
    """Read one image (or the first frame of a video) as uint8 ``H x W x 3``."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in FRAME_EXTS:
        return _read_image_file(path, conversions)
    return read_video(path, conversions)[0]


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


def write_video(path, frames, fps: float = 8.0, crf: int = 12, conversions=()) -> Path:
    """Write uint8 ``T x H x W x 3`` frames to ``.mp4`` (H.264), ``.gif``, ``.npz`` (lossless),
    or a folder of PNG frames (any path without one of those suffixes). Written atomically.

    ``conversions``: lines of what was done to the frames when they were read (an npz keeps them
    beside the frames and :func:`read_video` reports them again; the other formats cannot)."""
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
                extra = {NPZ_CONVERSIONS_KEY: np.array(json.dumps(list(conversions)))} if conversions else {}
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, video=frames, **extra)
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
