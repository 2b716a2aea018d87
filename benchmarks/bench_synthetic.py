"""Speed of the synthetic dataset's renderer: milliseconds per 32-frame 64x64 clip on one core.

Reference in the same run: copying the clip's bytes (``np.copy`` of a 32x64x64x3 uint8 array),
so the ratio is comparable across machines. ``--montage PATH`` also writes a PNG grid of every
expression (rows) over time (columns) for a few identities, to look at the faces.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def time_per_call(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best


def montage(dataset, subjects, columns=8, take=1) -> np.ndarray:
    """Rows: each subject's 7 expressions; columns: ``columns`` frames spread over the clip."""
    from vbench_i2v.datasets.synthetic import EXPRESSIONS, render_clip

    rows = []
    for subject in subjects:
        for expr in EXPRESSIONS:
            rec = next(r for r in dataset.records() if r.video_id == f"{subject}_{expr}_t{take}")
            clip = render_clip(dataset.identity(subject), expr, dataset.take_rng(rec))
            idx = np.linspace(0, len(clip) - 1, columns).round().astype(int)
            rows.append(np.concatenate(list(clip[idx]), axis=1))
    return np.concatenate(rows, axis=0)


def save_png(path: str, image: np.ndarray, scale: int = 2) -> None:
    from PIL import Image

    img = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    img.save(tmp)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=50, help="clips per timing repeat")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--montage", default=None, help="also write a PNG montage here")
    ap.add_argument("--subjects", default="id000,id001", help="identities in the montage")
    args = ap.parse_args()

    from vbench_i2v.datasets.synthetic import SyntheticFaces, render_clip

    ds = SyntheticFaces(seed=args.seed)
    recs = ds.records()[: args.clips]
    ids = {r.subject: ds.identity(r.subject) for r in recs}

    def render_all():
        for r in recs:
            render_clip(ids[r.subject], ds.labels[r.label], ds.take_rng(r))

    per_clip = time_per_call(render_all, 1) / len(recs)
    ref = np.zeros((32, 64, 64, 3), np.uint8)
    per_copy = time_per_call(lambda: np.copy(ref), 200)
    print(f"synthetic render: {per_clip * 1e3:.2f} ms/clip (32x64x64), "
          f"{per_clip / per_copy:.0f}x a clip copy ({per_copy * 1e6:.1f} us)")
    if args.montage:
        save_png(args.montage, montage(ds, args.subjects.split(",")))
        print(f"montage written to {args.montage}")


if __name__ == "__main__":
    main()
