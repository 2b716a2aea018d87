"""What a training run leaves for people to look at: ``losses.csv`` and the sample sheets.

- :class:`LossLog` writes ``losses.csv`` (step, epoch, seconds, then the backend's losses; the
  columns come from the first step). On resume it keeps the rows up to the resumed step.
- :class:`SampleSheet` draws fixed conditioning images (first frames of test clips) x every label
  with fixed noise, so sheets of one run are comparable step to step; saved as png + gif under
  ``samples/``.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import protocol, tensors
from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_text
from vbench_i2v.generators.base import GeneratorBackend
from vbench_i2v.generators.grids import save_sample_grid

LOSS_FILE = "losses.csv"
SAMPLES_DIR = "samples"


class LossLog:
    """``losses.csv``: step, epoch, seconds, then the backend's losses (columns from the first step)."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        self.columns: list[str] | None = None
        if resume_step is not None and path.exists():
            rows = list(csv.reader(path.read_text().splitlines()))
            if rows:
                self.columns = rows[0]
                keep = [rows[0]]
                for line, r in enumerate(rows[1:], start=2):
                    try:
                        if r and int(r[0]) <= resume_step:
                            keep.append(r)
                    except ValueError:
                        raise InputError(f"{path}, line {line}: cannot resume, column step must be an "
                                         f"integer, got {r[0]!r}") from None
                buf = io.StringIO()
                csv.writer(buf).writerows(keep)
                atomic_write_text(path, buf.getvalue())
        elif path.exists():
            path.unlink()

    def write(self, step: int, epoch: int, seconds: float, losses: dict[str, float]) -> None:
        if self.columns is None:
            self.columns = ["step", "epoch", "seconds"] + list(losses)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        row = {"step": step, "epoch": epoch, "seconds": f"{seconds:.4f}",
               **{k: f"{float(v):.6g}" for k, v in losses.items()}}
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([row.get(c, "") for c in self.columns])


class SampleSheet:
    """Fixed conditioning images (first frames of test clips) x every label, with fixed noise."""

    def __init__(self, backend: GeneratorBackend, dataset, seed: int, inputs: int = 2):
        split = "test" if _has_split(dataset, "test") else "train"
        refs = dataset.clips(split, per_video=1, seed=seed)[: max(1, inputs)]
        firsts = np.stack([dataset.load_clip(r)[0] for r in refs])
        if backend.num_classes:
            k = backend.num_classes
            self.images = np.repeat(firsts, k, axis=0)
            self.labels: list | None = [i for _ in refs for i in range(k)]
            self.ncols = k
        else:
            self.images = np.repeat(firsts, 2, axis=0)
            self.labels = None
            self.ncols = 2
        gen = torch.Generator().manual_seed(int(protocol.rng_for(seed, "sample-noise").integers(2**62)))
        self.z = backend.sample_z(len(self.images), gen)

    def render(self, backend: GeneratorBackend, stem: Path, autocast=contextlib.nullcontext) -> list[Path]:
        """Generate the sheet (under ``autocast``: the run's AMP setting) and save it as png + gif."""
        with autocast():
            videos = backend.generate(self.images, self.labels, z=self.z)
        return save_sample_grid(stem, tensors.video_from_model(videos), self.images, self.ncols)


def _has_split(dataset, split: str) -> bool:
    try:
        return bool(dataset.split(split))
    except Exception:
        return False
