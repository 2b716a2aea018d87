"""Face identity embeddings for ACD: facenet-pytorch MTCNN crops + InceptionResnetV1 (VGGFace2).

Each frame is cropped by MTCNN (weights ship in facenet-pytorch's wheel); a frame where no face is
found falls back to the whole frame (counted, and reported in the results). Crops are 160x160,
standardised as facenet does ((x - 127.5) / 128), and embedded to L2-normalised 512-d vectors.
Every number (crop size, the detector's settings, the whole frame's resize and standardisation) is
the catalog entry's input contract; the whole frame is built from it by vbench_i2v/preprocess.py.
"""

from __future__ import annotations

import numpy as np
import torch

from vbench_i2v.catalog import IDENTITY_EMBEDDERS
from vbench_i2v.errors import WeightsError
from vbench_i2v.preprocess import frames_input

CONTRACT = IDENTITY_EMBEDDERS["facenet-vggface2"].contract
CROP = CONTRACT.size[0]


def load_inception_resnet(path, map_location="cpu"):
    """InceptionResnetV1 with the weights in ``path`` (a state_dict, loaded with weights_only=True)."""
    from facenet_pytorch import InceptionResnetV1

    try:
        sd = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as a state_dict ({type(exc).__name__}: {exc})") from None
    if not isinstance(sd, dict) or "last_linear.weight" not in sd:
        raise WeightsError(f"{path}: not an InceptionResnetV1 state_dict (no 'last_linear.weight')")
    model = InceptionResnetV1(pretrained=None, classify=False)
    if "logits.weight" in sd:  # the published file carries the 8631-way VGGFace2 classifier
        model.logits = torch.nn.Linear(512, sd["logits.weight"].shape[0])
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: keys do not match InceptionResnetV1 ({str(exc).splitlines()[0]})") from None
    return model.eval()


def _whole_frame(frame: np.ndarray) -> torch.Tensor:
    """A frame without a face, as the network's input ``3 x 160 x 160`` (the contract, whole frame)."""
    return _whole_frames(np.asarray(frame)[None])[0]


def _whole_frames(frames: np.ndarray) -> torch.Tensor:
    return frames_input(frames, CONTRACT, "facenet-vggface2")


def build_mtcnn(device, contract=CONTRACT):
    """facenet-pytorch's MTCNN with the contract's crop size and detector settings."""
    from facenet_pytorch import MTCNN

    face = contract.face_settings
    if face.get("detector") != "facenet-pytorch MTCNN":
        raise ValueError(f"face_identity: the contract's detector is {face.get('detector')!r}, not MTCNN")
    return MTCNN(image_size=contract.size[0], margin=face["margin"], min_face_size=face["min_face_size"],
                 thresholds=list(face["thresholds"]), factor=face["factor"], post_process=True,
                 select_largest=face["select"] == "largest", device=device)


class FaceEmbedder:
    """``embed(frames uint8 N x H x W x 3) -> (N x 512 float64, number of frames without a face)``."""

    name = "facenet-vggface2"
    weights_name = "facenet-vggface2"

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 64):
        self.device = torch.device(device)
        self.model = load_inception_resnet(weights_path).to(self.device)
        self.mtcnn = build_mtcnn(self.device)
        self.batch_size = batch_size

    def crops(self, frames: np.ndarray) -> tuple[torch.Tensor, int]:
        """MTCNN face crops (3 x 160 x 160, standardised); whole frame where none is found."""
        faces = list(self.mtcnn(list(frames))) if len(frames) else []
        missing = [i for i, face in enumerate(faces) if face is None]
        if missing:
            whole = _whole_frames(np.asarray(frames)[missing])
            for j, i in enumerate(missing):
                faces[i] = whole[j]
        return torch.stack(faces), len(missing)

    @torch.inference_mode()
    def embed(self, frames) -> tuple[np.ndarray, int]:
        frames = np.asarray(frames)
        crops, fallback = self.crops(frames)
        embs = [self.model(crops[i : i + self.batch_size].to(self.device)).double().cpu().numpy()
                for i in range(0, len(crops), self.batch_size)]
        return np.concatenate(embs), fallback
