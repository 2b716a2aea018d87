"""Tiny fake `vbench run` directories for the rater-study tests (layout of issue 7's brief)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from vbench_i2v.video_io import write_video


def moving_pattern(seed: int, t: int = 32, size: int = 64) -> np.ndarray:
    """A smooth moving colour pattern, uint8 T x H x W x 3 (codecs and eyes see it as video)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    speed = rng.uniform(0.5, 2.0)
    frames = [np.stack([127.5 + 100 * np.sin((xx + speed * i) / 9.0 + phase[c]) * np.cos((yy - i) / 11.0 + c)
                        for c in range(3)], -1) for i in range(t)]
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


def make_run(root: Path, run_id: str, n_clips: int = 6, fingerprint: str | None = "fp-test",
             generator: str = "dummy", quality: float = 0.0, labels: int = 3, clip_prefix: str = "c",
             shift: int = 0) -> Path:
    """Write results.json, clips.csv, fake/<clip>.npz and real/<clip>.npz.

    ``real`` clips depend only on the clip id (shared by runs on one protocol); ``fake`` clips are
    the real ones rolled ``shift`` pixels sideways (so each run is recognisable) plus noise of std
    ``quality``."""
    run = Path(root) / run_id
    (run / "fake").mkdir(parents=True)
    (run / "real").mkdir()
    rows = []
    for i in range(n_clips):
        clip = f"{clip_prefix}{i:03d}"
        real = moving_pattern(1000 + i)
        noise = np.random.default_rng([i, len(run_id), shift]).normal(0, quality, real.shape)
        fake = np.clip(np.roll(real, shift, axis=2) + noise, 0, 255).astype(np.uint8)
        write_video(run / "real" / f"{clip}.npz", real)
        write_video(run / "fake" / f"{clip}.npz", fake)
        rows.append({"clip": clip, "label": i % labels, "label_name": f"class{i % labels}",
                     "subject": f"s{i // 2}", "source": f"video{i}.avi", "start_frame": 2 * i})
    with open(run / "clips.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    results = {"schema_version": 1, "run_id": run_id,
               "generator": {"name": generator, "config": {}, "checkpoint_sha256": None},
               "dataset": {"name": "synthetic", "split": "test", "clip_count": n_clips},
               "protocol": {"frames": 32, "size": 64, "frame_step": 2, "conditioning_per_video": 10,
                            "max_videos": None, "seed": 0, "fingerprint": fingerprint},
               "metrics": {}, "provenance": {}}
    (run / "results.json").write_text(json.dumps(results))
    return run
