"""The synthetic-domain probe: a small network that makes FID/KID and ACD meaningful offline on the
built-in synthetic dataset, where the published ResNeXt-101 and facenet weights are unavailable or
meaningless (cartoon faces are not Kinetics videos nor VGGFace2 photos).

Two parts in one module, trained by ``scripts/train_synthetic_probe.py`` on the synthetic TRAIN
split only (held-out test identities are never seen), shipped as ``weights/synthetic_probe.safetensors``:

- **video branch** (3D convs) on 16 frames (every second frame of the 32-frame protocol clip) at
  64x64; a 7-way expression head and an auxiliary degradation head (noise, blur and frame-jitter strength) sit
  on a 128-d penultimate layer whose activations are the FID/KID features. The degradation head
  makes those features respond to generator artefacts, not only to the expression shown.
- **identity branch** (2D convs) per frame to a 64-d L2-normalised embedding, trained with a
  normalised-softmax (cosine) loss over the training identities. Distances lie in [0, 2] on the
  unit sphere, so ACD values of different runs share one scale: same identity close, another far.

Numbers from these features are labelled ``synthetic-probe`` and are never ResNeXt Video FID.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vbench_i2v import protocol
from vbench_i2v.errors import WeightsError
from vbench_i2v.preprocess import frame_indices, frames_input, videos_input

FORMAT = "vbench-synthetic-probe/1"
PROBE_FRAMES = protocol.CLIP_FRAMES // 2  # every second frame of a protocol clip
SIZE = protocol.SIZE
NUM_EXPRESSIONS = 7
FEATURE_DIM = 128
EMBED_DIM = 64
DEGRADATIONS = ("noise", "blur", "jitter")  # auxiliary head targets, strength in [0, 1] (see the script)


def _block3d(cin: int, cout: int, stride) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(cout),
                         nn.ReLU(inplace=True))


def _block2d(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class VideoBranch(nn.Module):
    """``B x 3 x 16 x 64 x 64`` in [-1, 1] -> 128-d features; heads for expression and degradation.

    The first layer sees each frame and its difference from the clip's first frame (6 channels):
    an expression is a change from the neutral start, and the difference isolates it from the
    identity's appearance (and shows temporal artefacts such as jitter or flicker directly).
    """

    def __init__(self, width: int = 16, num_classes: int = NUM_EXPRESSIONS, feature_dim: int = FEATURE_DIM):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            _block3d(6, w, (1, 2, 2)),          # 16 x 32 x 32
            _block3d(w, 2 * w, (2, 2, 2)),      # 8 x 16 x 16
            _block3d(2 * w, 4 * w, (2, 2, 2)),  # 4 x 8 x 8
            _block3d(4 * w, 8 * w, (2, 2, 2)),  # 2 x 4 x 4
        )
        self.project = nn.Linear(8 * w, feature_dim)
        self.expression = nn.Linear(feature_dim, num_classes)
        self.degradation = nn.Linear(feature_dim, len(DEGRADATIONS))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (after ReLU): what FID/KID compare."""
        x = torch.cat([x, x - x[:, :, :1]], dim=1)
        return F.relu(self.project(self.trunk(x).mean(dim=(2, 3, 4))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.expression(f), self.degradation(f)


class IdentityBranch(nn.Module):
    """``N x 3 x 64 x 64`` frames in [-1, 1] -> 64-d unit vectors (per-frame identity)."""

    def __init__(self, width: int = 16, embed_dim: int = EMBED_DIM):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(_block2d(3, w, 2), _block2d(w, 2 * w, 2), _block2d(2 * w, 4 * w, 2),
                                   _block2d(4 * w, 8 * w, 2))  # 4 x 4
        self.embed = nn.Linear(8 * w * 4 * 4, embed_dim)  # flatten keeps where things are (hair vs shirt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.embed(self.trunk(x).flatten(1)), dim=1)


class SyntheticProbe(nn.Module):
    """Both branches; ``config`` (saved in the safetensors metadata) rebuilds the same shapes.

    ``identity_width=0`` builds no identity branch (``self.identity is None``): probes trained by
    ``vbench probes train`` on datasets without faces have nothing to embed per frame."""

    def __init__(self, video_width: int = 16, identity_width: int = 16, feature_dim: int = FEATURE_DIM,
                 embed_dim: int = EMBED_DIM, num_classes: int = NUM_EXPRESSIONS):
        super().__init__()
        self.config = {"video_width": video_width, "identity_width": identity_width, "feature_dim": feature_dim,
                       "embed_dim": embed_dim, "num_classes": num_classes}
        self.video = VideoBranch(video_width, num_classes, feature_dim)
        self.identity = IdentityBranch(identity_width, embed_dim) if identity_width > 0 else None


def build_probe(seed: int = 0, **config) -> SyntheticProbe:
    """The probe with deterministic initial weights (same seed, same tensors), without touching
    the caller's global torch random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SyntheticProbe(**config)


META_KEY = "vbench_i2v"  # the one metadata entry: safetensors orders several keys at random, one keeps bytes stable


def save_probe(model: SyntheticProbe, path, extra_metadata: dict | None = None) -> str:
    """Write the weights as safetensors (config + provenance as one JSON metadata entry),
    atomically; same model and metadata, same bytes. Returns the file's sha256."""
    from safetensors.torch import save

    from vbench_i2v.files import atomic_write_bytes, sha256_file

    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {**(extra_metadata or {}), "format": FORMAT, "config": model.config}
    atomic_write_bytes(path, save(sd, metadata={META_KEY: json.dumps(meta, sort_keys=True)}))
    return sha256_file(path)


def read_metadata(path) -> dict:
    """The probe's metadata (format, config, training provenance) without loading tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(META_KEY)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read as safetensors ({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a synthetic-probe file (no {FORMAT!r} metadata)")
    return meta


def load_probe(path, map_location: str = "cpu") -> SyntheticProbe:
    """Build the probe from ``path`` (safetensors), every key and shape checked; eval mode."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    try:
        model = SyntheticProbe(**meta["config"])
    except Exception as exc:
        raise WeightsError(f"{path}: bad probe config in the metadata ({type(exc).__name__}: {exc})") from None
    try:
        model.load_state_dict(load_file(str(path), device=str(map_location)), strict=True)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        raise WeightsError(f"{path}: keys do not match the synthetic probe "
                           f"({' '.join(line.strip() for line in lines[:2])})") from None
    return model.eval()


# --- inputs ----------------------------------------------------------------------------------

def _contracts():
    """The video and per-frame input contracts of the shipped probe (catalog entries): what
    ``video_input`` and ``frame_input`` build, through vbench_i2v/preprocess.py."""
    from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS

    return EXTRACTORS["synthetic-probe"].contract, IDENTITY_EMBEDDERS["synthetic-probe"].contract


def probe_frame_indices(t: int) -> np.ndarray:
    """Which frames the video branch sees: every second frame of a 32-frame clip; other lengths
    are first resampled (nearest) to 32 frames, so a clip's whole time span is always covered."""
    return frame_indices(t, _contracts()[0], "the synthetic probe")


def video_input(videos, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` -> float ``B x 3 x 16 x 64 x 64`` in [-1, 1] (the video contract), on ``device``."""
    return videos_input(videos, _contracts()[0], "the synthetic probe", device=device)


def frame_input(frames, device=None) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> float ``N x 3 x 64 x 64`` in [-1, 1] (the per-frame contract), on ``device``."""
    return frames_input(frames, _contracts()[1], "the synthetic probe", device=device)


# --- the registry's two interfaces --------------------------------------------------------------

class ProbeVideoExtractor:
    """128-d FID/KID features of the synthetic probe (only meaningful on the synthetic domain)."""

    name = "synthetic-probe"
    weights_name = "synthetic-probe"
    dim = FEATURE_DIM

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 32):
        self.device = torch.device(device)
        self.model = load_probe(weights_path).to(self.device)
        self.dim = self.model.config["feature_dim"]
        self.batch_size = batch_size

    @torch.inference_mode()
    def features(self, videos) -> np.ndarray:
        out = [self.model.video.features(video_input(videos[i : i + self.batch_size], self.device)).double().cpu().numpy()
               for i in range(0, len(videos), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim))

    @torch.inference_mode()
    def expression_logits(self, videos) -> np.ndarray:
        """7-way expression logits (synthetic labels order), for checking the probe itself."""
        out = [self.model.video(video_input(videos[i : i + self.batch_size], self.device))[1].double().cpu().numpy()
               for i in range(0, len(videos), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.model.config["num_classes"]))


class ProbeIdentityEmbedder:
    """Per-frame 64-d unit identity embeddings for ACD on the synthetic domain (no face detection:
    the synthetic frames are already face-centred, so nothing falls back)."""

    name = "synthetic-probe"
    weights_name = "synthetic-probe"

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = 256):
        self.device = torch.device(device)
        self.model = load_probe(weights_path).to(self.device)
        self.dim = self.model.config["embed_dim"]
        self.batch_size = batch_size

    @torch.inference_mode()
    def embed(self, frames) -> tuple[np.ndarray, int]:
        frames = np.asarray(frames)
        out = [self.model.identity(frame_input(frames[i : i + self.batch_size], self.device)).double().cpu().numpy()
               for i in range(0, len(frames), self.batch_size)]
        return (np.concatenate(out) if out else np.zeros((0, self.dim))), 0
