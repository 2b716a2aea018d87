"""Weizmann actions (Gorelick et al., 2007), in its published layout or in MoCoGAN's.

Published: one video per subject and action, ``<subject>_<action>.avi`` (e.g. ``daria_bend.avi``,
``lena_run1.avi``), at any depth under the root (the site ships one zip per action). Lena has a
second take of run, skip and walk (``lena_run2.avi`` ...); by default only the first take is kept,
giving the paper's 90 videos of 9 subjects.

MoCoGAN's layout (sergeytulyakov/mocogan, ``data/actions``): ``actions/<class>/<id>.jpg``, each
video one 64 x (64*T) image of frames side by side. In the published copy, id ``2k+1`` is the
exact mirror image of id ``2k`` (checked pixel by pixel), so the mirrors are dropped by default
(the training split is doubled by flips anyway). That layout has no subject names: ids come in
blocks of ``2 x classes`` (one mirrored pair per class), and each block is used as one
pseudo-subject; looking at the videos shows the person is not always the same within a block,
so a subject may appear in both splits (a warning says so).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.datasets.layout import compile_pattern, layout_error, require_root, walk_files, warn_skipped
from vbench_i2v.errors import DatasetError, VideoError
from vbench_i2v.options import Option, Schema
from vbench_i2v.video_io import CONTAINER_EXTS, read_image, read_video

DEFAULT_PATTERN = r"^(?P<subject>[A-Za-z]+)_(?P<label>[A-Za-z]+\d?)$"  # on the file stem
# MoCoGAN's class folders, identified by watching the videos (one-hand wave, two-hand wave,
# jumping jack, bend); override with mocogan_classes="0=wave1,1=wave2,..."
DEFAULT_MOCOGAN_CLASSES = "0=wave1,1=wave2,3=jack,4=bend"

LAYOUT_HELP = """expected the Weizmann layout, one video per subject and action:
  <root>/[<action>/]<subject>_<action>.avi   (e.g. daria_bend.avi, lena_run1.avi)
  <action> is one of bend, jack, jump, pjump, run, side, skip, walk, wave1, wave2
or MoCoGAN's layout: <root>/[actions/]<class>/<id>.jpg, each image 64 x (64*T) frames side by side
  other file names: pass pattern=<regex on the file stem with named groups subject and label>"""


@DATASETS.register("weizmann")
class WeizmannDataset(VideoDataset):
    """Weizmann: 9 subjects, 10 actions; split 6/3 subjects; training set doubled by flips."""

    name = "weizmann"
    labels = ["bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2"]
    frame_step = 1
    split_subjects = (6, 3)
    flip_train = True
    layout_help = LAYOUT_HELP
    option_schema = Schema(
        Option("pattern", "regex", DEFAULT_PATTERN, groups=("subject", "label"),
               help="regex on the file stem with named groups subject and label (published layout)"),
        Option("extra_takes", "bool", False, help="keep Lena's second takes of run, skip and walk (93 videos)"),
        Option("mocogan_classes", "mapping", Option("m", "mapping", keys=r"\d+").coerce(DEFAULT_MOCOGAN_CLASSES),
               keys=r"\d+", choices=tuple(labels),
               help="MoCoGAN layout: <class folder id>=<action>, comma-separated"),
        Option("keep_mirrors", "bool", False, help="MoCoGAN layout: keep the mirrored copies (odd ids)"),
    )

    def discover(self) -> list[VideoRecord]:
        root = require_root(self.name, self.root, self.layout_help)
        mocogan_root = self._mocogan_root(root)
        if mocogan_root is not None:
            return self._discover_mocogan(mocogan_root)
        return self._discover_original(root)

    # --- the published layout ------------------------------------------------------------
    def _label_of(self, name: str) -> tuple[str, int] | None:
        """``run1`` -> (``run``, take 1); ``wave1`` stays an action; unknown -> None."""
        name = name.lower()
        if name in self.labels:
            return name, 1
        m = re.fullmatch(r"([a-z]+?)(\d+)", name)
        if m and m.group(1) in self.labels:
            return m.group(1), int(m.group(2))
        return None

    def _discover_original(self, root: Path) -> list[VideoRecord]:
        rx = compile_pattern(self.name, self.options["pattern"], ("subject", "label"))
        keep_takes = self.options["extra_takes"]
        files = walk_files(root, CONTAINER_EXTS, f"dataset {self.name}")
        records, unknown, extra_takes = [], [], []
        for path in files:
            m = rx.search(path.stem)
            if m is None:
                continue
            parsed = self._label_of(m.group("label"))
            if parsed is None:
                unknown.append(path.name)
                continue
            label, take = parsed
            if take > 1 and not keep_takes:
                extra_takes.append(path.name)
                continue
            subject = m.group("subject").lower()
            vid = f"{subject}_{label}" + (f"_take{take}" if take > 1 else "")
            records.append(VideoRecord(vid, subject, self.labels.index(label), str(path)))
        warn_skipped(self.name, "videos with an unknown action", unknown)
        if not records:
            problem = (f"none of the {len(files)} video files matches <subject>_<action>" if files
                       else "no Weizmann videos (.avi) and no MoCoGAN actions/<class>/<id>.jpg folders")
            raise layout_error(self.name, root, problem, self.layout_help)
        ids = [r.video_id for r in records]
        dup = sorted({v for v in ids if ids.count(v) > 1})
        if dup:
            raise DatasetError(f"{self.name}: the same video appears twice under {root} ({', '.join(dup[:3])})")
        return records

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        if dict(record.extra).get("layout") == "mocogan":
            return read_strip(Path(record.source))
        return read_video(record.source)

    # --- MoCoGAN's layout ----------------------------------------------------------------
    @staticmethod
    def _mocogan_root(root: Path) -> Path | None:
        for cand in (root / "actions", root):
            if cand.is_dir():
                classes = [d for d in cand.iterdir() if d.is_dir() and d.name.isdecimal()]
                if classes and any(f.suffix.lower() == ".jpg" for d in classes for f in d.iterdir()):
                    return cand
        return None

    def _mocogan_classes(self) -> dict[str, str]:
        """Class folder name -> action (entries validated by the option schema)."""
        return dict(self.options["mocogan_classes"])

    def _discover_mocogan(self, root: Path) -> list[VideoRecord]:
        mapping = self._mocogan_classes()
        class_dirs = sorted((d for d in root.iterdir() if d.is_dir() and d.name.isdecimal()), key=lambda d: int(d.name))
        unmapped = [d.name for d in class_dirs if d.name not in mapping]
        if unmapped:
            raise DatasetError(f"{self.name}: MoCoGAN class folder(s) {', '.join(unmapped)} under {root} have no action "
                               f"name; pass mocogan_classes=\"{DEFAULT_MOCOGAN_CLASSES},...\"")
        videos: dict[int, tuple[str, Path]] = {}
        odd_names = []
        for d in class_dirs:
            for f in sorted(d.iterdir()):
                if f.suffix.lower() != ".jpg" or f.name.startswith("."):
                    continue
                if not f.stem.isdecimal():
                    odd_names.append(f"{d.name}/{f.name}")
                    continue
                videos[int(f.stem)] = (d.name, f)
        warn_skipped(self.name, "MoCoGAN files whose name is not a number", odd_names)
        if not videos:
            raise layout_error(self.name, root, "MoCoGAN class folders hold no <id>.jpg strips", self.layout_help)
        mirrored = all(i + 1 in videos and videos[i + 1][0] == videos[i][0] for i in videos if i % 2 == 0) \
            and all(i - 1 in videos for i in videos if i % 2 == 1)
        keep_mirrors = self.options["keep_mirrors"] or not mirrored
        block = 2 * len(class_dirs)
        class_names = sorted(d.name for d in class_dirs)

        def block_classes(b: int) -> list[str]:
            return sorted(videos[i][0] for i in videos if i // block == b and i % 2 == 0)

        blocks_ok = mirrored and all(block_classes(b) == class_names for b in {i // block for i in videos})
        records = []
        for i, (cls, path) in sorted(videos.items()):
            if mirrored and not keep_mirrors and i % 2 == 1:
                continue
            subject = f"block{i // block:02d}" if blocks_ok else f"video{i // 2 if mirrored else i:04d}"
            records.append(VideoRecord(
                video_id=f"mocogan_{i:08d}_c{cls}", subject=subject, label=self.labels.index(mapping[cls]),
                source=str(path), extra=(("layout", "mocogan"), ("mocogan_class", int(cls)), ("mocogan_id", i))))
        how = (f"ids are grouped in blocks of {block} (one mirrored pair per class) into "
               f"{len({r.subject for r in records})} pseudo-subjects; the same person may appear in both splits"
               if blocks_ok else "each video is its own pseudo-subject (split by video id)")
        warnings.warn(f"{self.name}: MoCoGAN layout under {root} has no subject names: {how}", UserWarning, stacklevel=2)
        return records

    def num_frames(self, record: VideoRecord) -> int:
        if dict(record.extra).get("layout") == "mocogan":
            from PIL import Image

            try:
                with Image.open(record.source) as im:
                    w, h = im.size
            except Exception as exc:
                raise VideoError(f"{record.source}: cannot read image ({type(exc).__name__}: {exc})") from None
            return w // h if h and w % h == 0 else len(self.load_video(record))
        return len(self.load_video(record))


def read_strip(path: Path) -> np.ndarray:
    """One MoCoGAN strip (an H x (H*T) image) -> uint8 ``T x H x H x 3``."""
    img = read_image(path)
    h, w, _ = img.shape
    if h == 0 or w % h != 0:
        raise VideoError(f"{path}: a MoCoGAN strip must be H x (H*T) pixels (frames side by side), got {h} x {w}")
    t = w // h
    return np.ascontiguousarray(img.reshape(h, t, h, 3).transpose(1, 0, 2, 3))
