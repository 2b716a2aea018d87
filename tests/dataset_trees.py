"""Helpers for the dataset tests: tiny videos and frame folders written in each dataset's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_WEIZMANN = Path(__file__).resolve().parents[2] / "shared" / "data" / "weizmann-mocogan"


BITS = 6


def index_frames(t: int, h: int, w: int) -> np.ndarray:
    """Frames that carry their index in 6 horizontal black/white bands (bit b of i in band b),
    which survives lossy codecs, cropping to the central square and resizing."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    edges = np.linspace(0, h, BITS + 1).round().astype(int)
    for i in range(t):
        for b in range(BITS):
            if (i >> b) & 1:
                frames[i, edges[b] : edges[b + 1]] = 255
    return frames


def decode_index(frames: np.ndarray) -> list[int]:
    """The indices written by :func:`index_frames`, read back from the middle row of each band."""
    h = frames.shape[1]
    edges = np.linspace(0, h, BITS + 1)
    rows = ((edges[:-1] + edges[1:]) / 2).astype(int)
    bits = frames[:, rows].mean(axis=(2, 3)) > 127
    return [int(sum(int(v) << b for b, v in enumerate(row))) for row in bits]


def write_avi(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """A real AVI (MPEG-4 Part 2), the container Weizmann and NATOPS ship."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"}
        for fr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def copy_to(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def write_frame_folder(folder: Path, frames: np.ndarray, ext: str = ".jpg") -> Path:
    """MUG-style take folder: img_0000.jpg, img_0001.jpg, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, fr in enumerate(frames):
        Image.fromarray(fr).save(folder / f"img_{i:04d}{ext}")
    return folder


def face_frames(t: int, size: int = 160, shift: int = 2) -> np.ndarray:
    """A short 'video' of skimage's astronaut (one face), shifted a little each frame."""
    import skimage.data

    img = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((size, size), Image.BILINEAR))
    return np.stack([np.roll(img, (shift * (i % 3), shift * (i % 4)), axis=(0, 1)) for i in range(t)])
