"""The dataset interface: find a dataset's videos, split them by subject, and cut protocol clips.

A dataset subclass says where its videos are (:meth:`VideoDataset.discover`) and how to read one
(:meth:`VideoDataset.read_raw`). The base class does the rest the same way for every dataset:
temporal sampling (``frame_step``), face cropping, resizing to 64x64, flips, caching, seeded
subject splits and the protocol's clips.

Each subclass declares the options it takes in ``option_schema`` (names, types, allowed values,
defaults); the constructor validates keyword options against it, so a misspelt or mistyped
option is refused through the Python API as through ``--option``. The preprocessed-video cache
(:mod:`.cache`) serves an entry only while its source file and the preprocessing are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from vbench_i2v import protocol
from vbench_i2v.datasets.frames import center_square, resize_frames
from vbench_i2v.datasets import cache as _cache
from vbench_i2v.errors import DatasetError, VBenchError
from vbench_i2v.options import OptionError, Schema


class DatasetOptionError(OptionError, DatasetError):
    """A dataset option that is unknown or has a bad value (an InputError and a DatasetError)."""


@dataclass(frozen=True)
class VideoRecord:
    """One video of a dataset. ``video_id`` is unique and stable across runs."""

    video_id: str
    subject: str
    label: int | None
    source: str
    flip: bool = False
    extra: tuple = ()


@dataclass(frozen=True)
class ClipRef:
    """One protocol clip: ``start`` is the index in the sampled (``frame_step``) frames."""

    record: VideoRecord
    start: int

    @property
    def clip_id(self) -> str:
        return f"{self.record.video_id}{'_flip' if self.record.flip else ''}_f{self.start:04d}"


@dataclass
class DatasetStatus:
    present: bool
    where: str
    message: str
    videos: int = 0


def data_home() -> Path:
    """Where user datasets live by default: ``$VBENCH_I2V_DATA`` (one sub-folder per dataset)."""
    return Path(os.environ.get("VBENCH_I2V_DATA", Path.home() / "vbench_i2v_data"))


def cache_home() -> Path:
    return Path(os.environ.get("VBENCH_I2V_HOME", Path.home() / ".cache" / "vbench_i2v"))


class VideoDataset:
    """Base class of every dataset. Subclasses set the class attributes and two methods."""

    name: str = ""
    labels: list[str] | None = None
    frame_step: int = 1
    split_subjects: tuple[int, int] = (0, 0)
    flip_train: bool = False
    face_crop: bool = False
    user_supplied: bool = True
    layout_help: str = ""
    default_extractor: str = "resnext101-kinetics"  # feature network for FID/KID by default
    faces: bool | None = None  # identity metrics apply; None = same as face_crop
    option_schema: ClassVar[Schema] = Schema()  # the options this dataset takes (``--option``)

    def __init__(self, data_root=None, cache_dir=None, seed: int = 0, **options):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise DatasetError(f"dataset {self.name!r}: seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        self.given_options = self.validate_options(options)
        self.options = {**self.option_schema.defaults(), **self.given_options}
        self.root = Path(data_root) if data_root is not None else data_home() / self.name
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache_home() / "datasets"
        self._records: list[VideoRecord] | None = None
        self._sources = _cache.SourceIndex(self.cache_dir / self.name / "sources" if self.user_supplied else None)

    @classmethod
    def validate_options(cls, options: dict) -> dict:
        """Keyword options -> canonical values (None = not given); unknown keys or bad values refused."""
        try:
            return cls.option_schema.validate(options, what=f"dataset {cls.name!r}")
        except OptionError as exc:
            raise DatasetOptionError(str(exc)) from None

    # --- what subclasses provide -------------------------------------------------------
    def discover(self) -> list[VideoRecord]:
        """All videos of the dataset; raise :class:`DatasetError` saying what is missing."""
        raise NotImplementedError

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        """The video's original frames, uint8 ``T x H x W x 3``."""
        raise NotImplementedError

    # --- shared machinery --------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.labels) if self.labels else 0

    def label_name(self, label: int | None) -> str:
        return "" if label is None or not self.labels else self.labels[label]

    def label_id(self, label) -> int | None:
        """Accept a label name or id; raise a clear error for anything else."""
        if not self.labels:
            if label in (None, "", "none"):
                return None
            raise DatasetError(f"dataset {self.name!r} has no labels, got {label!r}")
        if isinstance(label, str) and not re.fullmatch(r"-?[0-9]+", label):
            if label not in self.labels:
                raise DatasetError(f"unknown label {label!r} for {self.name!r} (labels: {', '.join(self.labels)})")
            return self.labels.index(label)
        if isinstance(label, bool) or not isinstance(label, (str, int, np.integer)):
            raise DatasetError(f"label for {self.name!r} must be a label name or an integer id, got {label!r}")
        idx = int(label)
        if not 0 <= idx < len(self.labels):
            raise DatasetError(f"label id {idx} out of range for {self.name!r} (0..{len(self.labels) - 1})")
        return idx

    def records(self) -> list[VideoRecord]:
        if self._records is None:
            recs = self.discover()
            if not recs:
                raise DatasetError(f"{self.name}: no videos found under {self.root}\n{self.layout_help}".strip())
            self._records = sorted(recs, key=lambda r: r.video_id)
        return self._records

    def status(self) -> DatasetStatus:
        try:
            recs = self.records()
        except VBenchError as exc:  # a missing layout, a link loop, an unreadable folder
            return DatasetStatus(False, str(self.root), str(exc).splitlines()[0])
        return DatasetStatus(True, str(self.root), f"{len(recs)} videos", len(recs))

    # how to get a subject split when every video comes from one subject (the folder loader adds split_file)
    split_hint: str = ""
    empty_split_hint: str = ""

    def subjects(self) -> dict[str, list[str]]:
        n_train, n_test = self.split_subjects
        subjects = [r.subject for r in self.records()]
        distinct = sorted(set(subjects))
        if len(distinct) < 2:
            raise DatasetError(f"{self.name}: all {len(subjects)} video(s) under {self.root} come from one subject "
                               f"({distinct[0]!r}); a subject split needs at least two subjects{self.split_hint}")
        return protocol.subject_split(subjects, n_train, n_test, self.seed)

    def split(self, split: str) -> list[VideoRecord]:
        """The split's videos; the training split is doubled by flips where the protocol says so."""
        if split not in ("train", "test"):
            raise DatasetError(f"unknown split {split!r} (use train or test)")
        keep = set(self.subjects()[split])
        recs = [r for r in self.records() if r.subject in keep]
        if split == "train" and self.flip_train:
            recs = recs + [VideoRecord(r.video_id, r.subject, r.label, r.source, True, r.extra) for r in recs]
        return recs

    # --- the preprocessed cache ---------------------------------------------------------
    def preprocess_params(self) -> dict:
        """Everything besides the source that decides the preprocessed frames (part of the cache key)."""
        params = {"v": _cache.CACHE_VERSION, "frame_step": self.frame_step, "face_crop": bool(self.face_crop),
                  "size": protocol.SIZE, "resize": "center-square, PIL bilinear",
                  "options": {k: _jsonable(self.options[k]) for k in self.option_schema.pixel_options()}}
        if self.face_crop:
            from vbench_i2v.datasets import face_crop as fc

            params["crop"] = {"detector": "facenet-pytorch MTCNN", "every": fc.DETECT_EVERY,
                              "max_frames": fc.MAX_DETECT_FRAMES, "max_side": fc.DETECT_MAX_SIDE,
                              "min_prob": fc.MIN_PROB, "margin": fc.MARGIN}
        return params

    def _cache_folder(self) -> Path:
        params = json.dumps({"params": self.preprocess_params(), "root": os.path.abspath(self.root)}, sort_keys=True)
        return self.cache_dir / self.name / hashlib.sha256(params.encode()).hexdigest()[:12]

    def source_state(self, source: str) -> dict:
        """Size, mtime_ns and content sha256 of a record's source (see :class:`.cache.SourceIndex`)."""
        return self._sources.state(source)

    def cache_key(self, record: VideoRecord) -> str:
        """The JSON key a cache entry of ``record`` must carry to be served."""
        from vbench_i2v.video_io import READ_RULES

        return json.dumps({
            "source": os.path.abspath(record.source), "content": self.source_state(record.source),
            "record": {"video_id": record.video_id, "extra": _jsonable(list(record.extra))},
            "preprocess": self.preprocess_params(), "reader": READ_RULES,
        }, sort_keys=True)

    def preprocess(self, frames: np.ndarray, record: VideoRecord) -> np.ndarray:
        """Original frames -> protocol frames: sampled by ``frame_step``, face-cropped, 64x64."""
        frames = frames[:: self.frame_step]
        if self.face_crop:
            from vbench_i2v.datasets.face_crop import crop_faces

            frames = crop_faces(frames, size=protocol.SIZE, source=record.source)
        else:
            frames = resize_frames(center_square(frames), protocol.SIZE)
        return frames

    def _read_preprocessed(self, record: VideoRecord, conv: list) -> np.ndarray:
        """Original frames -> protocol frames; the reader's conversion lines go into ``conv``."""
        from vbench_i2v.video_io import recording_conversions

        with recording_conversions(conv):  # whatever API read_raw reads with
            raw = self.read_raw(record)
        return self.preprocess(raw, record)

    def load_video(self, record: VideoRecord, conversions: list | None = None) -> np.ndarray:
        """Protocol frames of one video, flipped if asked. User-supplied datasets cache them; an
        entry is served only while its key (source content + preprocessing) is unchanged.
        ``conversions`` (a list) receives what the reader did to the source (16-bit samples
        scaled, ...; :func:`vbench_i2v.video_io.read_video`), from the cache entry when served."""
        conv: list[str] = []
        if not self.user_supplied:
            frames = self._read_preprocessed(record, conv)
        else:
            path = self._cache_folder() / f"{record.video_id}.npz"
            key = self.cache_key(record)
            frames = _cache.read_entry(path, key, conv)
            if frames is None:
                conv = []
                frames = self._read_preprocessed(record, conv)
                if self.cache_key(record) == key:  # the source did not change while we read it
                    _cache.write_entry(path, frames, key, conv)
        if conversions is not None:
            conversions.extend(c for c in conv if c not in conversions)
        if record.flip:
            frames = np.ascontiguousarray(frames[:, :, ::-1])
        return frames

    # --- provenance ----------------------------------------------------------------------
    def dataset_fingerprint(self) -> str:
        """sha256 of what this dataset serves: its name, canonical options (a path option by its
        file's sha256), preprocessing, every record (id, subject, label, source relative to the
        root, extra) and every source file's (relative path, size, content sha256).

        Changes when a file is added, removed, renamed or rewritten, or an option changes; does
        not change when the same tree is moved to another root. Cheap after the first call:
        sources are hashed once and memoised by stat signature (see :mod:`.cache`). Generated
        datasets (no files) fingerprint their records, options and seed.
        """
        recs = self.records()
        root = os.path.abspath(self.root)
        opts = {}
        for k, v in sorted(self.options.items()):
            if k in self.option_schema and self.option_schema[k].type == "path" and v is not None:
                opts[k] = {"sha256": _cache.sha256_file(v) if os.path.isfile(v) else None}
            else:
                opts[k] = _jsonable(v)
        payload = {"dataset": self.name, "options": opts, "preprocess": self.preprocess_params(),
                   "records": [[r.video_id, r.subject, r.label, self._rel(r.source, root), _jsonable(list(r.extra))]
                               for r in recs]}
        if self.user_supplied:
            sources = {}
            for r in recs:
                rel = self._rel(r.source, root)
                if rel not in sources:
                    st = self.source_state(r.source)
                    sources[rel] = [st["size"], st["sha256"]]
            payload["sources"] = sources
        else:
            payload["seed"] = self.seed
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def provenance(self) -> dict:
        """What a run should record about its data: name, root, canonical options, fingerprint."""
        return {"name": self.name, "root": os.path.abspath(self.root) if self.user_supplied else None,
                "options": {k: _jsonable(v) for k, v in sorted(self.options.items())},
                "fingerprint": self.dataset_fingerprint()}

    @staticmethod
    def _rel(source: str, root: str) -> str:
        if not os.path.isabs(source) and ":" in source:  # a generated source such as synthetic:...
            return source
        return Path(os.path.relpath(os.path.abspath(source), root)).as_posix()

    def clips(self, split: str, per_video: int | None = None, seed: int | None = None,
              limit: int | None = None) -> list[ClipRef]:
        """Protocol clips of a split. Test: ``CONDITIONING_PER_VIDEO`` seeded starts per video;
        train: one clip per video from frame 0 unless ``per_video`` says otherwise.
        ``limit`` keeps a seeded subset of videos (not clips)."""
        seed = self.seed if seed is None else seed
        if per_video is None:
            per_video = protocol.CONDITIONING_PER_VIDEO if split == "test" else 1
        for what, value in (("clips per video", per_video), ("video limit", limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
                raise DatasetError(f"{self.name}: {what} must be a positive integer, got {value!r}")
        recs = self.split(split)
        if not recs:  # only a split file can leave a side empty (a seeded split keeps one subject on each)
            raise DatasetError(f"{self.name}: the {split} split of the videos under {self.root} is empty"
                               f"{self.empty_split_hint}")
        if limit is not None and limit < len(recs):
            pick = protocol.rng_for(seed, self.name, split, "subset").choice(len(recs), size=limit, replace=False)
            recs = [recs[i] for i in sorted(pick)]
        out: list[ClipRef] = []
        for rec in recs:
            n = self.num_frames(rec)
            if split == "train" and per_video == 1:
                starts = [0]
            else:
                rng = protocol.rng_for(seed, self.name, split, rec.video_id, str(rec.flip))
                starts = protocol.clip_starts(n, per_video, rng)
            out.extend(ClipRef(rec, s) for s in starts)
        return out

    def num_frames(self, record: VideoRecord) -> int:
        """Number of protocol (sampled) frames; subclasses may answer without decoding."""
        return len(self.load_video(record))

    def load_clip(self, ref: ClipRef, conversions: list | None = None) -> np.ndarray:
        """One protocol clip; ``conversions`` as in :meth:`load_video`."""
        return protocol.take_clip(self.load_video(ref.record, conversions), ref.start)

    def clip_row(self, ref: ClipRef) -> dict:
        """The ``clips.csv`` row of a clip; ``start_frame`` counts original (unsampled) frames."""
        return {
            "clip": ref.clip_id,
            "label": "" if ref.record.label is None else ref.record.label,
            "label_name": self.label_name(ref.record.label),
            "subject": ref.record.subject,
            "source": ref.record.source + (" (flipped)" if ref.record.flip else ""),
            "start_frame": ref.start * self.frame_step,
        }


def _jsonable(value):
    """Options and record extras as JSON (tuples -> lists, paths -> str), for keys and fingerprints."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


