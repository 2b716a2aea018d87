"""UvA-NEMO Smile database (Dibeklioglu et al., 2012), published layout.

The distribution holds ``videos/<NNN>_<spontaneous|deliberate>_smile_<k>.mp4``, ``<NNN>`` the
subject. The paper's 597 videos of 400 subjects are the spontaneous smiles (the database has 597
spontaneous and 643 deliberate ones), so ``smiles="spontaneous"`` is the default; ``deliberate``
and ``all`` are options. Unlabelled; faces are cropped with MTCNN; frame step 2.
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.datasets.layout import compile_pattern, layout_error, require_root, walk_files
from vbench_i2v.options import Option, Schema
from vbench_i2v.video_io import CONTAINER_EXTS, read_video

DEFAULT_PATTERN = r"^(?P<subject>\d+)_(?P<kind>spontaneous|deliberate)_smile_(?P<take>\d+)$"  # on the file stem
SMILES = ("spontaneous", "deliberate", "all")

LAYOUT_HELP = """expected the UvA-NEMO layout:
  <root>/[videos/]<NNN>_spontaneous_smile_<k>.mp4   (and <NNN>_deliberate_smile_<k>.mp4)
  <NNN> is the subject; the paper's set is the spontaneous smiles (option smiles=spontaneous|deliberate|all)
  other file names: pass pattern=<regex on the file stem with a named group subject (optional: kind)>"""


@DATASETS.register("uva-nemo")
class UvANemoDataset(VideoDataset):
    """UvA-NEMO: 400 subjects, no labels; split 320/80 subjects; face-cropped; frame step 2."""

    name = "uva-nemo"
    labels = None
    frame_step = 2
    split_subjects = (320, 80)
    face_crop = True
    layout_help = LAYOUT_HELP
    option_schema = Schema(
        Option("pattern", "regex", DEFAULT_PATTERN, groups=("subject",),
               help="regex on the file stem with a named group subject (optional: kind)"),
        Option("smiles", "choice", "spontaneous", choices=SMILES,
               help="which smiles: the paper's spontaneous ones, the deliberate ones, or all"),
    )

    def discover(self) -> list[VideoRecord]:
        root = require_root(self.name, self.root, self.layout_help)
        rx = compile_pattern(self.name, self.options["pattern"], ("subject",))
        smiles = self.options["smiles"]
        files = walk_files(root, CONTAINER_EXTS, f"dataset {self.name}")
        matched, records = 0, []
        for path in files:
            m = rx.search(path.stem)
            if m is None:
                continue
            matched += 1
            kind = m.groupdict().get("kind")
            if smiles != "all" and kind is not None and kind != smiles:
                continue
            records.append(VideoRecord(path.stem, m.group("subject"), None, str(path)))
        if not records:
            if matched:
                problem = f"{matched} UvA-NEMO videos found but none is a {smiles} smile"
            elif files:
                problem = f"none of the {len(files)} video files is named <NNN>_<spontaneous|deliberate>_smile_<k>"
            else:
                problem = "no UvA-NEMO videos (<NNN>_spontaneous_smile_<k>.mp4)"
            raise layout_error(self.name, root, problem, self.layout_help)
        return records

    def read_raw(self, record: VideoRecord) -> np.ndarray:
        return read_video(record.source)
