"""NATOPS aircraft handling signals (Song, Demirdjian and Davis, FG 2011), published layout.

The distribution (yalesong/natops) unpacks into ``gesture<XX>/`` folders holding, per subject,
``g<XX>s<YY>.avi`` (RGB, 320x240, 20 fps; one file holds the subject's 20 repetitions),
``g<XX>s<YY>m.avi`` (masks) and ``g<XX>s<YY>d.avi`` (depth); only the RGB files are used.
``segmentation.txt`` gives each repetition's first and last frame (1-based, inclusive): blocks
start with ``// Subject <n>``, then per gesture (in order 1..24) a ``<a>,<b>,<c>`` header line
followed by ``<rep>:<start>,<end>`` lines. When that file is present each repetition is one video
(9,600 in all); otherwise (or with ``segments=False``) each RGB file is one video.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.datasets.layout import ceil_div, compile_pattern, layout_error, require_root, walk_files
from vbench_i2v.errors import DatasetError, VideoError
from vbench_i2v.options import Option, Schema
from vbench_i2v.video_io import CONTAINER_EXTS, read_video, report_conversions

DEFAULT_PATTERN = r"^g(?P<label>\d{2})s(?P<subject>\d{2})$"  # on the file stem: g01s01 (not g01s01m/d)

LAYOUT_HELP = """expected the NATOPS layout (RGB videos, one per gesture and subject):
  <root>/[data/]gesture<XX>/g<XX>s<YY>.avi   XX = gesture 01..24, YY = subject 01..20
  <root>/[data/]segmentation.txt             optional: cuts each file into its 20 repetitions
  other file names: pass pattern=<regex on the file stem with named groups label (1..24) and subject>"""


def parse_segmentation(path: Path) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """``segmentation.txt`` -> {(gesture, subject): [(first, last), ...]} (1-based, inclusive)."""
    header = re.compile(r"^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$")
    rep = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*$")
    subj = re.compile(r"^\s*//\s*Subject\s+(\d+)", re.IGNORECASE)
    segments: dict[tuple[int, int], list[tuple[int, int]]] = {}
    subject, gesture = None, 0
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if m := subj.match(line):
            subject, gesture = int(m.group(1)), 0
        elif header.match(line):
            if subject is None:
                raise DatasetError(f"{path}:{lineno}: gesture block before any '// Subject <n>' line")
            gesture += 1
            segments[(gesture, subject)] = []
        elif m := rep.match(line):
            if subject is None or gesture == 0:
                raise DatasetError(f"{path}:{lineno}: repetition line outside a gesture block")
            first, last = int(m.group(2)), int(m.group(3))
            if first < 1:
                raise DatasetError(f"{path}:{lineno}: frame numbers start at 1, got {first}")
            if last < first:
                raise DatasetError(f"{path}:{lineno}: repetition ends ({last}) before it starts ({first})")
            segments[(gesture, subject)].append((first, last))
    if not segments:
        raise DatasetError(f"{path}: no '// Subject <n>' blocks with repetitions found")
    return segments


@DATASETS.register("natops")
class NATOPSDataset(VideoDataset):
    """NATOPS: 20 subjects, 24 gestures; split 15/5 subjects; frame step 1."""

    name = "natops"
    # gesture ids as published; g01..g06 are I have command, All clear, Not clear, Spread wings,
    # Fold wings, Lock wings (the official names of the others are in the FG 2011 paper)
    labels = [f"g{i:02d}" for i in range(1, 25)]
    frame_step = 1
    split_subjects = (15, 5)
    layout_help = LAYOUT_HELP
    option_schema = Schema(
        Option("pattern", "regex", DEFAULT_PATTERN, groups=("subject", "label"),
               help="regex on the file stem with named groups label (gesture 1..24) and subject"),
        Option("segments", "bool", True,
               help="cut each file into its repetitions with segmentation.txt (when present); false: whole files"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._decoded: tuple[tuple[str, str], np.ndarray, list[str]] | None = None

    def discover(self) -> list[VideoRecord]:
        root = require_root(self.name, self.root, self.layout_help)
        rx = compile_pattern(self.name, self.options["pattern"], ("subject", "label"))
        files = walk_files(root, CONTAINER_EXTS, f"dataset {self.name}")
        found = []
        for path in files:
            m = rx.search(path.stem)
            if m is None:
                continue
            try:
                gesture, subject = int(m.group("label")), int(m.group("subject"))
            except ValueError:
                raise DatasetError(f"{self.name}: {path} matches pattern {self.options['pattern']!r} but its "
                                   f"label ({m.group('label')!r}) and subject ({m.group('subject')!r}) groups "
                                   "must be numbers") from None
            if not 1 <= gesture <= len(self.labels):
                raise DatasetError(f"{self.name}: {path} names gesture {gesture}; NATOPS has gestures 01..24")
            found.append((gesture, subject, path))
        if not found:
            problem = (f"none of the {len(files)} video files is named g<XX>s<YY>.avi" if files
                       else "no NATOPS videos (gesture<XX>/g<XX>s<YY>.avi)")
            raise layout_error(self.name, root, problem, self.layout_help)
        seg_file = next((p for p in (root / "segmentation.txt", root / "data" / "segmentation.txt") if p.is_file()), None)
        use_segments = seg_file is not None and self.options["segments"]
        segments = parse_segmentation(seg_file) if use_segments else {}
        records = []
        for gesture, subject, path in found:
            base = f"g{gesture:02d}s{subject:02d}"
            reps = segments.get((gesture, subject))
            if use_segments and not reps:
                raise DatasetError(f"{self.name}: {seg_file} has no repetitions for {path.name} "
                                   f"(subject {subject}, gesture {gesture}); pass segments=False to use whole files")
            if not reps:
                records.append(VideoRecord(base, f"s{subject:02d}", gesture - 1, str(path)))
                continue
            for k, (first, last) in enumerate(reps, 1):
                records.append(VideoRecord(f"{base}r{k:02d}", f"s{subject:02d}", gesture - 1, str(path),
                                           extra=(("first", first), ("last", last))))
        return records

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        # one file holds 20 repetitions: keep the last decoded file (by content) for the next one
        key = (record.source, self.source_state(record.source)["sha256"])
        if self._decoded is None or self._decoded[0] != key:
            conv: list[str] = []
            self._decoded = (key, read_video(record.source, conv), conv)
        frames = self._decoded[1]
        report_conversions(self._decoded[2])  # a repetition served from the memo keeps its record
        extra = dict(record.extra)
        if "first" not in extra:
            return frames
        first, last = extra["first"], extra["last"]
        if last > len(frames):
            raise VideoError(f"{record.source}: segmentation.txt gives frames {first}..{last} "
                             f"but the video has {len(frames)} frames")
        return frames[first - 1 : last]

    def num_frames(self, record: VideoRecord) -> int:
        extra = dict(record.extra)
        if "first" in extra:
            return ceil_div(extra["last"] - extra["first"] + 1, self.frame_step)
        return len(self.load_video(record))
