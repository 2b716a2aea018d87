"""Face identity embeddings for ACD: facenet-pytorch MTCNN crops + InceptionResnetV1 (VGGFace2).

Each frame is cropped by MTCNN (weights ship in facenet-pytorch's wheel); a frame where no face is
found falls back to the whole frame (counted, and reported in the results). Crops are 160x160,
standardised as facenet does ((x - 127.5) / 128), and embedded to L2-normalised 512-d vectors.
"""

from __future__ import annotations

import numpy as np
import torch

from vbench_i2v.errors import WeightsError

CROP = 160


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
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    x = torch.nn.functional.interpolate(x, size=(CROP, CROP), mode="bilinear", antialias=True, align_corners=False)
    return (x[0] - 127.5) / 128.0


class FaceEmbedder:
    """``embed(frames uint8 N x H x W x 3) -> (N x 512 float64, number of frames without a face)``."""

    name = "facenet-vggface2"
    weights_name = "facenet-vggface2"

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 64):
        from facenet_pytorch import MTCNN

        self.device = torch.device(device)
        self.model = load_inception_resnet(weights_path).to(self.device)
        self.mtcnn = MTCNN(image_size=CROP, margin=0, post_process=True, device=self.device)
        self.batch_size = batch_size

    def crops(self, frames: np.ndarray) -> tuple[torch.Tensor, int]:
        """MTCNN face crops (3 x 160 x 160, standardised); whole frame where none is found."""
        faces = self.mtcnn(list(frames)) if len(frames) else []
        out, fallback = [], 0
        for frame, face in zip(frames, faces):
            if face is None:
                fallback += 1
                face = _whole_frame(frame)
            out.append(face)
        return torch.stack(out), fallback

    @torch.inference_mode()
    def embed(self, frames) -> tuple[np.ndarray, int]:
        frames = np.asarray(frames)
        crops, fallback = self.crops(frames)
        embs = [self.model(crops[i : i + self.batch_size].to(self.device)).double().cpu().numpy()
                for i in range(0, len(crops), self.batch_size)]
        return np.concatenate(embs), fallback
