"""Where videos and features come from: folders of videos, in-memory dicts, saved feature npz files.

Videos are keyed by their path relative to the folder without the extension, so a fake clip
pairs with the real clip (and conditioning image) of the same key. Folders are walked with
symbolic links followed; a link loop or a broken link is an error naming the link, never a
silently shorter input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from vbench_i2v.errors import InputError
from vbench_i2v.video_io import FRAME_EXTS, VIDEO_EXTS, list_videos, read_image, read_video, walk_folder


def video_key(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    return rel.with_suffix("").as_posix() if path.is_file() else rel.as_posix()


def _keyed(root: Path, paths, what: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        k = video_key(root, p)
        if k in out:
            raise InputError(f"{what} {root}: {out[k].name} and {p.name} have the same name without extension")
        out[k] = p
    return out


class VideoSet:
    """Named uint8 videos, loaded lazily from a folder or held in memory.

    ``read_conversions``: ``{name: lines}`` of the videos the reader converted when they were loaded
    (16-bit samples scaled to 8 bits, greyscale replicated, ...: :func:`vbench_i2v.video_io.read_video`),
    for provenance (:func:`conversion_lines`); videos read without a conversion are not listed."""

    def __init__(self, items: Mapping[str, object], label: str):
        self._items = dict(sorted(items.items()))
        self.label = label
        self.read_conversions: dict[str, list[str]] = {}

    @classmethod
    def from_source(cls, source, what: str) -> "VideoSet":
        if isinstance(source, VideoSet):
            return source
        if isinstance(source, Mapping):
            if not source:
                raise InputError(f"{what}: no videos given")
            return cls(source, f"<{len(source)} {what} videos in memory>")
        root = Path(source)
        if not root.exists():
            raise InputError(f"{what} {root}: no such folder")
        if not root.is_dir():
            raise InputError(f"{what} {root}: expected a folder of videos (or a features .npz)")
        items = _keyed(root, list_videos(root, what), what)
        if not items:
            raise InputError(f"{what} {root}: no videos found (looked for {', '.join(VIDEO_EXTS)} and frame folders)")
        return cls(items, str(root))

    def names(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def load(self, name: str) -> np.ndarray:
        item = self._items[name]
        if isinstance(item, (str, os.PathLike)):
            conv: list[str] = []
            arr = read_video(item, conv)
            if conv:
                self.read_conversions[name] = conv
            return arr
        arr = np.asarray(item)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise InputError(f"video {name!r}: expected uint8 T x H x W x 3, got {arr.dtype} {arr.shape}")
        return arr

    def iter(self, names=None) -> Iterator[tuple[str, np.ndarray]]:
        for n in names if names is not None else self._items:
            yield n, self.load(n)

    def fps(self, name: str) -> float | None:
        """The frame rate the video's container declares; None for npz, frame folders, in memory."""
        from vbench_i2v.video_io import read_fps

        item = self._items[name]
        return read_fps(item) if isinstance(item, (str, os.PathLike)) else None


class ImageSet:
    """Conditioning images keyed like videos: image files, or the first frame of a video."""

    def __init__(self, root):
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"conditioning {root}: not a folder")
        paths = []
        for folder, _dirnames, filenames in walk_folder(root, "conditioning"):  # links followed, loops refused
            paths += [folder / f for f in filenames if Path(f).suffix.lower() in FRAME_EXTS + VIDEO_EXTS]
        self.items = _keyed(root, paths, "conditioning")
        if not self.items:
            raise InputError(f"conditioning {root}: no images found")
        self.label = str(root)
        self.read_conversions: dict[str, list[str]] = {}  # as VideoSet's

    def __contains__(self, name: str) -> bool:
        return name in self.items

    def __len__(self) -> int:
        return len(self.items)

    def load(self, name: str) -> np.ndarray:
        conv: list[str] = []
        img = read_image(self.items[name], conv)
        if conv:
            self.read_conversions[name] = conv
        return img


def conversion_lines(side: str, by_name: Mapping[str, list[str]], total: int, unit: str = "clip") -> list[str]:
    """``"SIDE: LINE (n of TOTAL clips)"`` for each conversion line the reader reported for the
    clips in ``by_name`` (``{name: lines}``), each line once with the number of clips it applied
    to, in sorted order."""
    clips: dict[str, set] = {}
    for name, lines in by_name.items():
        for line in lines:
            clips.setdefault(line, set()).add(name)
    return [f"{side}: {line} ({len(names)} of {total} {unit}{'s' if total != 1 else ''})"
            for line, names in sorted(clips.items())]


@dataclass
class FeatureFile:
    """Per-video features saved by `vbench features` (features, names, mu, sigma, extractor).

    ``bf16``: made by the network's bf16 mode (``--bf16``); such features are a little off fp32's,
    so a scoring run refuses to mix them with fp32 ones. ``precision``: fp32, tf32 or bf16 (files
    without the field: bf16 when ``bf16`` says so, else fp32); ``device``: the device type the
    features were computed on (cpu, cuda; files without the field were made on the CPU). A scoring
    run that computes features refuses a file of another precision or device type."""

    path: Path
    features: np.ndarray
    names: list[str]
    mu: np.ndarray
    sigma: np.ndarray
    extractor: str
    weights_sha256: str
    bf16: bool = False
    extra_weights_sha256: dict = field(default_factory=dict)  # further weight files of the network
    precision: str = ""  # "" = from bf16
    device: str = "cpu"

    def __post_init__(self):
        self.precision = self.precision or ("bf16" if self.bf16 else "fp32")
        self.bf16 = self.precision == "bf16"

    @classmethod
    def load(cls, path) -> "FeatureFile":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:
            raise InputError(f"{path}: cannot read features npz ({type(exc).__name__}: {exc})") from None
        missing = [k for k in ("features", "names", "mu", "sigma", "extractor") if k not in data]
        if missing:
            raise InputError(f"{path}: not a features file from `vbench features` (missing {', '.join(missing)})")
        feats = np.asarray(data["features"], np.float64)
        if not np.isfinite(feats).all():
            raise InputError(f"{path}: features contain NaN or Inf")
        extra = {}
        if "extra_weights_sha256" in data:
            import json

            try:
                extra = json.loads(str(data["extra_weights_sha256"]))
            except ValueError:
                raise InputError(f"{path}: extra_weights_sha256 is not JSON") from None
        precision = str(data["precision"]) if "precision" in data else ""
        if precision not in ("", "fp32", "tf32", "bf16"):
            raise InputError(f"{path}: unknown precision {precision!r} (fp32, tf32 or bf16)")
        return cls(path, feats, [str(n) for n in data["names"]], np.asarray(data["mu"], np.float64),
                   np.asarray(data["sigma"], np.float64), str(data["extractor"]),
                   str(data.get("weights_sha256", "")), bool(data["bf16"]) if "bf16" in data else False,
                   extra if isinstance(extra, dict) else {}, precision,
                   str(data["device"]) if "device" in data else "cpu")

    def save(self) -> Path:
        import json

        from vbench_i2v.files import atomic_path

        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, features=self.features, names=np.array(self.names, dtype=str), mu=self.mu,
                     sigma=self.sigma, extractor=np.array(self.extractor), weights_sha256=np.array(self.weights_sha256),
                     bf16=np.array(bool(self.bf16)), precision=np.array(self.precision), device=np.array(self.device),
                     extra_weights_sha256=np.array(json.dumps(self.extra_weights_sha256, sort_keys=True)))
        return self.path


def is_features_file(source) -> bool:
    return isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".npz" and Path(source).is_file()
