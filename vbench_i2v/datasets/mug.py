"""MUG Facial Expression database (Aifanti et al., 2010), in its published frame-folder layout.

MUG ships each take as a folder of JPEG frames: ``subjects3/<subject>/[session<k>/]<expression>/
take<NNN>[suffix]/img_<NNNN>.jpg`` with expression folders named ``happiness``, ``sadness``,
``surprise``, ``anger``, ``disgust``, ``fear``, ``neutral``. Faces are cropped with MTCNN and
frames sampled with step 2 (paper, section 4.1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.datasets.layout import ceil_div, compile_pattern, layout_error, require_root, warn_skipped
from vbench_i2v.options import Option, Schema
from vbench_i2v.video_io import FRAME_EXTS, read_video, walk_folder

# matched (re.search) against the take folder's path relative to the root, with "/" separators
DEFAULT_PATTERN = r"(?:^|/)(?P<subject>\d+)/(?:session\d+/)?(?P<label>[A-Za-z]+)/take\d+[^/]*$"

# MUG folder names -> our label names (docs/models.md, "Datasets")
LABEL_ALIASES = {
    "happiness": "happy", "happy": "happy",
    "sadness": "sad", "sad": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "anger": "anger", "angry": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear",
    "neutral": "neutral",
}

LAYOUT_HELP = """expected the MUG layout (frame folders, one per take):
  <root>/subjects3/<subject>/<expression>/take<NNN>/img_<NNNN>.jpg
  (also <subject>/session<k>/<expression>/..., and <root> may be subjects3 itself)
  <expression> is one of happiness, sadness, surprise, anger, disgust, fear, neutral
  other trees: pass pattern=<regex with named groups subject and label> (matched on the take folder's relative path)"""


@DATASETS.register("mug")
class MUGDataset(VideoDataset):
    """MUG: 52 subjects, 7 expressions; split 42/10 subjects; face-cropped; frame step 2."""

    name = "mug"
    labels = ["happy", "sad", "surprise", "anger", "disgust", "fear", "neutral"]
    frame_step = 2
    split_subjects = (42, 10)
    face_crop = True
    layout_help = LAYOUT_HELP
    option_schema = Schema(
        Option("pattern", "regex", DEFAULT_PATTERN, groups=("subject", "label"),
               help="regex with named groups subject and label, searched in each take folder's path relative to the root"),
    )

    def discover(self) -> list[VideoRecord]:
        root = require_root(self.name, self.root, self.layout_help)
        rx = compile_pattern(self.name, self.options["pattern"], ("subject", "label"))
        records, unknown, empty, folders = [], [], [], 0
        for dirpath, _dirnames, filenames in walk_folder(root, f"dataset {self.name}"):  # links followed
            rel = Path(dirpath).relative_to(root).as_posix()
            m = rx.search(rel) if rel != "." else None
            if m is None:
                continue
            folders += 1
            frames = [f for f in filenames if Path(f).suffix.lower() in FRAME_EXTS and not f.startswith(".")]
            label = LABEL_ALIASES.get(m.group("label").lower())
            if label is None:
                unknown.append(rel)
                continue
            if not frames:
                empty.append(rel)
                continue
            records.append(VideoRecord(
                video_id=rel.replace("/", "_"), subject=m.group("subject"), label=self.labels.index(label),
                source=str(Path(dirpath)), extra=(("frames", len(frames)),)))
        warn_skipped(self.name, "take folders with an unknown expression name", unknown)
        warn_skipped(self.name, "take folders without .jpg/.png frames", empty)
        if not records:
            problem = ("no take folders matching the MUG layout" if not folders
                       else f"{folders} take folders matched but none holds frames of a known expression")
            raise layout_error(self.name, root, problem, self.layout_help)
        return records

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        return read_video(record.source)

    def num_frames(self, record: VideoRecord) -> int:
        return ceil_div(dict(record.extra)["frames"], self.frame_step)
