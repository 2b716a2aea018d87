"""A toy image-to-video generator that lives outside vbench-i2v, for the "Benchmark your own model" guide.

It reads a protocol kit (``vbench protocol export``), makes one clip per row of the kit's clips.csv
and writes it where ``vbench run --videos`` can score it. The "model" slides the conditioning image
in a direction set by the label, at a speed drawn from the clip's noise seed, so the label and the
seed both matter. It uses numpy, Pillow and PyAV only: nothing from vbench-i2v.

    vbench protocol export --dataset synthetic --out kit/
    python examples/shift_generator.py kit/ clips/ --size 128 --format mp4
    vbench run --dataset synthetic --videos clips/ --name shift

The same model as a Python callable (``vbench run --generator examples/shift_generator.py:generate``)
is :func:`generate`: ``(images uint8 B x H x W x 3, labels, seeds) -> uint8 B x T x H x W x 3``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image


def shift_clip(image: np.ndarray, label: int | None, seed: int, frames: int, size: int) -> np.ndarray:
    """``frames`` x size x size x 3 uint8: ``image`` (resized to ``size``) sliding along the label's
    direction; frame 0 is the image itself."""
    if image.shape[0] != size:
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
    angle = 2 * math.pi * ((label or 0) % 8) / 8  # one direction per label (8 directions)
    speed = np.random.default_rng(seed).uniform(0.5, 1.5) * size / 64  # pixels per frame
    padded = np.pad(image, ((size, size), (size, size), (0, 0)), mode="edge")
    out = []
    for t in range(frames):
        dx, dy = round(t * speed * math.cos(angle)), round(t * speed * math.sin(angle))
        out.append(padded[size - dy : 2 * size - dy, size - dx : 2 * size - dx])
    return np.stack(out)


def generate(images, labels, seeds, frames: int = 32) -> np.ndarray:
    """The callable form: uint8 B x H x W x 3 images, B labels (or None), B seeds -> uint8 B x T x H x W x 3."""
    labels = [None] * len(images) if labels is None else labels
    return np.stack([shift_clip(np.asarray(im), lab, int(s), frames, im.shape[0])
                     for im, lab, s in zip(images, labels, seeds)])


def write_mp4(path: Path, frames: np.ndarray, fps: int = 8) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_png_folder(path: Path, frames: np.ndarray) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(path / f"{i:03d}.png")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kit", type=Path, help="a protocol kit folder (vbench protocol export)")
    ap.add_argument("out", type=Path, help="folder for the generated clips")
    ap.add_argument("--size", type=int, default=128, help="output frame size (default 128; vbench resizes to 64)")
    ap.add_argument("--format", choices=["mp4", "png"], default="mp4")
    args = ap.parse_args(argv)

    meta = json.loads((args.kit / "protocol.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.kit / "clips.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        image = np.asarray(Image.open(args.kit / "cond" / f"{row['clip']}.png").convert("RGB"))
        label = int(row["label"]) if row["label"] else None
        clip = shift_clip(image, label, int(row["noise_seed"]), meta["frames"], args.size)
        if args.format == "mp4":
            write_mp4(args.out / f"{row['clip']}.mp4", clip)
        else:
            write_png_folder(args.out / row["clip"], clip)
    print(f"wrote {len(rows)} clips to {args.out}")


if __name__ == "__main__":
    main()
