"""Any folder of videos: files PyAV reads, GIFs, npz, or frame folders, at any depth.

Labels are the first-level sub-folder names (sorted) when every video lies in one; a folder
with videos directly in the root is unlabelled. Each video is its own subject (its path without
suffix) unless ``pattern`` (a regex on that relative path with named groups ``subject`` and/or
``label``) says otherwise; the split is seeded (80/20 by subject) or read from ``split_file``,
a CSV with columns ``video,split`` (``video`` = relative path, with or without suffix; ``split``
= train or test). Options ``frame_step`` (default 1) and ``face_crop`` (default off).
Symbolic links under the root are followed; a link loop or a broken link is an error.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.datasets.layout import compile_pattern, layout_error, require_root
from vbench_i2v.errors import DatasetError, VideoError
from vbench_i2v.options import Option, Schema
from vbench_i2v.video_io import list_videos, read_video

LAYOUT_HELP = """expected a folder of videos (.mp4 .avi .webm .mov .mkv .gif .npz, or folders of .png/.jpg/.tif frames):
  <root>/<label>/<video>   labelled by sub-folder (labels sorted by name)
  <root>/<video>           unlabelled
  optional: split_file=<csv with columns video,split>; pattern=<regex with named groups subject/label>"""


@DATASETS.register("folder")
class FolderDataset(VideoDataset):
    """A user folder of videos; labels from sub-folders; seeded or file-given split."""

    name = "folder"
    labels = None
    frame_step = 1
    split_subjects = (4, 1)  # a ratio: the base keeps it for any number of subjects
    layout_help = LAYOUT_HELP
    split_hint = ("; add videos of another subject (each video is its own subject unless pattern= groups them "
                  "with a subject group) or give split_file=<csv with columns video,split>")
    empty_split_hint = " (the split_file lists no video in it)"
    option_schema = Schema(
        Option("frame_step", "int", 1, min=1, pixels=True, help="keep every n-th frame"),
        Option("face_crop", "bool", False, pixels=True, help="crop faces with MTCNN (one square box per video)"),
        Option("pattern", "regex", None,
               help="regex on the relative path without suffix, named groups subject and/or label"),
        Option("split_file", "path", None, must_exist=True, help="CSV with columns video,split (train|test)"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frame_step = self.options["frame_step"]
        self.face_crop = self.options["face_crop"]
        self.labels = None

    def discover(self) -> list[VideoRecord]:
        root = require_root(self.name, self.root, self.layout_help)
        try:
            paths = list_videos(root, f"dataset {self.name}")
        except VideoError as exc:
            raise DatasetError(str(exc)) from None
        if not paths:
            raise layout_error(self.name, root, "no videos found", self.layout_help)
        rels = [p.relative_to(root) for p in paths]
        keys = [rel.with_suffix("").as_posix() if p.is_file() else rel.as_posix() for rel, p in zip(rels, paths)]
        pattern = self.options["pattern"]
        rx = compile_pattern(self.name, pattern, ()) if pattern else None
        subjects, label_names = list(keys), [None] * len(keys)
        if rx is not None:
            for i, key in enumerate(keys):
                m = rx.search(key)
                if m is None:
                    raise DatasetError(f"{self.name}: {paths[i]} does not match pattern {pattern!r}")
                groups = m.groupdict()
                subjects[i] = groups.get("subject") or key
                label_names[i] = groups.get("label")
        if rx is None or "label" not in rx.groupindex:
            nested = [len(rel.parts) > 1 for rel in rels]
            if any(nested) and not all(nested):
                loose = next(p for p, n in zip(paths, nested) if not n)
                raise DatasetError(f"{self.name}: {loose} lies directly in {root} while other videos are in "
                                   "label sub-folders; put every video in a sub-folder or none")
            label_names = [rel.parts[0] if len(rel.parts) > 1 else None for rel in rels]
        if any(n is not None for n in label_names):
            self.labels = sorted({n for n in label_names if n is not None})
        ids = [k.replace("/", "__") for k in keys]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise DatasetError(f"{self.name}: two videos under {root} share the name {dup[0]!r} (different suffixes)")
        return [VideoRecord(vid, subj, None if name is None else self.labels.index(name), str(path),
                            extra=(("key", key),))
                for vid, subj, name, path, key in zip(ids, subjects, label_names, paths, keys)]

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        return read_video(record.source)

    def label_id(self, label) -> int | None:
        self.records()  # the labels are the sub-folder names: known once the folder is walked
        return super().label_id(label)

    def subjects(self) -> dict[str, list[str]]:
        split_file = self.options["split_file"]
        if not split_file:
            return super().subjects()
        return self._subjects_from_file(Path(split_file))

    def _subjects_from_file(self, path: Path) -> dict[str, list[str]]:
        """Train/test subjects from a ``video,split`` CSV; every video must be listed once."""
        if not path.is_file():
            raise DatasetError(f"{self.name}: split file {path} does not exist")
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                if not reader.fieldnames or not {"video", "split"} <= set(reader.fieldnames):
                    raise DatasetError(f"{path}: needs the columns video,split (found {reader.fieldnames})")
                rows = list(reader)
        except UnicodeDecodeError:
            raise DatasetError(f"{path}: not a CSV split file (not UTF-8 text)") from None
        except csv.Error as exc:
            raise DatasetError(f"{path}: not a valid CSV split file ({exc})") from None
        by_key = {dict(r.extra)["key"]: r for r in self.records()}
        by_name = {Path(r.source).relative_to(self.root).as_posix(): r for r in self.records()}
        split_of: dict[str, str] = {}
        for lineno, row in enumerate(rows, 2):
            video, split = (row["video"] or "").strip(), (row["split"] or "").strip().lower()
            rec = by_key.get(video) or by_name.get(video)
            if rec is None:
                raise DatasetError(f"{path}:{lineno}: video {video!r} is not under {self.root}")
            if split not in ("train", "test"):
                raise DatasetError(f"{path}:{lineno}: split must be train or test, got {split!r}")
            if split_of.setdefault(rec.subject, split) != split:
                raise DatasetError(f"{path}:{lineno}: subject {rec.subject!r} is in both train and test")
        missing = [r.source for r in self.records() if r.subject not in split_of]
        if missing:
            raise DatasetError(f"{path}: {len(missing)} videos are not listed, e.g. {missing[0]}")
        return {s: sorted(k for k, v in split_of.items() if v == s) for s in ("train", "test")}
