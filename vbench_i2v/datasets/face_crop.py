"""Face cropping for the face datasets (MUG, UvA-NEMO) with facenet-pytorch's MTCNN.

The paper cropped faces with OpenFace; we detect with MTCNN (CPU; its weights ship in the
facenet-pytorch wheel) on a subset of frames and cut ONE square box per video, from the median
of the detections, so the crop does not jitter from frame to frame.
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import DatasetError

DETECT_EVERY = 4  # detect on every 4th frame ...
MAX_DETECT_FRAMES = 24  # ... and on at most this many frames
DETECT_MAX_SIDE = 320  # frames are shrunk to this size for detection (boxes scaled back)
MIN_PROB = 0.9  # MTCNN confidence needed to count a detection
MARGIN = 0.4  # the square side is the face's larger side times (1 + MARGIN)
MIN_SIDE = 20  # MTCNN's smallest face (min_face_size=20): its image pyramid is empty below this side
BATCH = 8

_DETECTOR = None


def detector():
    """The MTCNN detector, built once per process (building loads three small networks)."""
    global _DETECTOR
    if _DETECTOR is None:
        from facenet_pytorch import MTCNN

        _DETECTOR = MTCNN(select_largest=True, keep_all=True, device="cpu")
    return _DETECTOR


def detection_frames(n: int) -> np.ndarray:
    """Indices of the frames to run the detector on: every 4th, evenly thinned to at most 24."""
    idx = np.arange(0, n, DETECT_EVERY)
    if len(idx) > MAX_DETECT_FRAMES:
        idx = idx[np.round(np.linspace(0, len(idx) - 1, MAX_DETECT_FRAMES)).astype(int)]
    return idx


def _detect_scale(h: int, w: int) -> float:
    """The factor frames are shrunk by for detection (to at most ``DETECT_MAX_SIDE``)."""
    return min(1.0, DETECT_MAX_SIDE / max(h, w))


def detect_boxes(frames: np.ndarray) -> np.ndarray:
    """The most confident face box ``x0, y0, x1, y1`` (original pixels) of each frame; NaN rows
    where no face passes ``MIN_PROB``."""
    from PIL import Image

    t, h, w, _ = frames.shape
    scale = _detect_scale(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames])
    else:
        small = frames
    out = np.full((t, 4), np.nan)
    mtcnn = detector()
    for b0 in range(0, t, BATCH):
        batch = small[b0 : b0 + BATCH]
        boxes, probs = mtcnn.detect(batch)
        for i, (bx, pr) in enumerate(zip(boxes, probs)):
            if bx is None:
                continue
            # detect() returns object arrays (one entry per frame): convert before arithmetic
            bx = np.asarray(bx, dtype=np.float64).reshape(-1, 4)
            pr = np.asarray(pr, dtype=np.float64).reshape(-1)
            ok = pr >= MIN_PROB
            if ok.any():
                out[b0 + i] = bx[ok][np.argmax(pr[ok])] / scale
    return out


def video_box(boxes: np.ndarray, margin: float = MARGIN) -> tuple[int, int, int]:
    """One square ``(x0, y0, side)`` from per-frame boxes: median centre and size, enlarged."""
    good = boxes[~np.isnan(boxes).any(axis=1)]
    x0, y0, x1, y1 = np.median(good, axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * (1 + margin)
    side = max(2, int(round(side)))
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def cut_square(frames: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """Cut the same square from every frame; parts outside the frame are edge-padded."""
    t, h, w, _ = frames.shape
    pad_top, pad_left = max(0, -y0), max(0, -x0)
    pad_bottom, pad_right = max(0, y0 + side - h), max(0, x0 + side - w)
    if pad_top or pad_left or pad_bottom or pad_right:
        frames = np.pad(frames, ((0, 0), (pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), mode="edge")
    y, x = y0 + pad_top, x0 + pad_left
    return frames[:, y : y + side, x : x + side]


def find_face_box(frames: np.ndarray, source: str = "video") -> tuple[int, int, int]:
    """The video's square face box; :class:`DatasetError` naming ``source`` when no frame has a face."""
    _, h, w, _ = frames.shape
    scale = _detect_scale(h, w)
    if (min(max(1, round(h * scale)), max(1, round(w * scale))) if scale < 1 else min(h, w)) < MIN_SIDE:
        raise DatasetError(f"{source}: frames of {w}x{h} pixels{' (shrunk for detection)' if scale < 1 else ''} "
                           f"are too small for the face detector (MTCNN needs faces of at least {MIN_SIDE} px); "
                           "turn face_crop off for such videos")
    idx = detection_frames(len(frames))
    boxes = detect_boxes(frames[idx])
    if np.isnan(boxes).any(axis=1).all():
        raise DatasetError(f"{source}: MTCNN found no face in any of the {len(idx)} frames checked")
    return video_box(boxes)


def crop_faces(frames: np.ndarray, size: int, source: str = "video") -> np.ndarray:
    """uint8 ``T x H x W x 3`` -> uint8 ``T x size x size x 3`` face crops (one box per video)."""
    from vbench_i2v.datasets.frames import resize_frames

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise DatasetError(f"{source}: expected uint8 T x H x W x 3 frames, got {frames.dtype} {frames.shape}")
    x0, y0, side = find_face_box(frames, source)
    return resize_frames(np.ascontiguousarray(cut_square(frames, x0, y0, side)), size)
