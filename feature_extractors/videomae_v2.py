"""VideoMAE-v2 ViT-g/14 fine-tuned on SSv2: the network of content-debiased FVD (cd-fvd).

As the ``cd-fvd`` package (songweige/content-debiased-fvd, ``cdfvd/third_party/VideoMAEv2``) builds
and calls it: ``vit_giant_patch14_224(img_size=224, num_classes=174, all_frames=16,
tubelet_size=2, use_mean_pooling=True)`` = patch 14, embed 1408, depth 40, 16 heads, MLP ratio
48/11 (hidden 6144), q/v biases, LayerNorm eps 1e-6, fixed 1-D sinusoid position table (not in the
checkpoint), no layer-scale. The feature is ``forward_features``: ``fc_norm`` of the token mean,
1408-d, before the 174-way head. Checkpoint: ``vit_g_hybrid_pt_1200e_ssv2_ft.pth``, a dict whose
``'model'`` or ``'module'`` entry (cd-fvd tries them in that order) is the state dict with the
network's own key names (``patch_embed.proj.weight``, ``blocks.0.attn.q_bias``, ``fc_norm.weight``,
``head.weight`` ...), loaded strictly.

Preprocessing (``cdfvd.third_party.VideoMAEv2.utils.preprocess_videomae``): uint8 -> float / 255,
each frame resized to 224 x 224 with ``F.interpolate(bilinear, align_corners=False)`` (no
antialias, aspect ratio not kept), no mean/std normalisation.
"""

from __future__ import annotations

import numpy as np
import torch

from vbench_i2v.feature_extractors.vit_video import (
    VideoViT, VideoViTConfig, load_weights_strict, read_checkpoint, select_first_frames, video_input)
from vbench_i2v.catalog import EXTRACTORS as EXTRACTOR_CATALOG
from vbench_i2v.specs import InputContract

NAME = "videomae-v2-g-ssv2"
FILE_NAME = "vit_g_hybrid_pt_1200e_ssv2_ft.pth"
DIM = 1408
NUM_CLASSES = 174  # Something-Something-v2
NUM_PARAMETERS = 1_011_855_918  # with the 174-way head; checked by tests/test_videomae_v2.py
CPU_BATCH = 2  # ~4 GB fp32 weights; ~0.4 GB activations a clip; larger batches do not speed up the GEMMs

CONFIG = VideoViTConfig(img_size=224, patch_size=14, num_frames=16, tubelet_size=2, embed_dim=1408, depth=40,
                        num_heads=16, mlp_ratio=48 / 11, norm_eps=1e-6, qkv_bias="split",
                        pos_embed="sincos-1d-fixed", output="mean-fc_norm", num_classes=NUM_CLASSES)

CONTRACT = EXTRACTOR_CATALOG[NAME].contract  # the one copy of the recipe: vbench_i2v/catalog.py


def videomae_v2_giant(**changes) -> VideoViT:
    """The cd-fvd network (``changes`` build a reduced copy of the same class, e.g. depth=2 for tests)."""
    return VideoViT(CONFIG.reduced(**changes) if changes else CONFIG)


def published_state_dict(checkpoint) -> dict:
    """The state dict inside a published checkpoint: ``'model'``, else ``'module'``, else the dict itself."""
    if not isinstance(checkpoint, dict):
        raise ValueError("not a VideoMAE-v2 checkpoint (expected a dict)")
    for key in ("model", "module"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    return checkpoint


def _config_from(sd: dict) -> VideoViTConfig:
    """The published config, with depth/width/classes read from the tensors (reduced test copies)."""
    try:
        dim = sd["patch_embed.proj.weight"].shape[0]
        depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
        classes = sd["head.weight"].shape[0] if "head.weight" in sd else 0
    except (KeyError, ValueError, AttributeError, IndexError):
        return CONFIG
    return CONFIG.reduced(embed_dim=dim, depth=depth, num_classes=classes)


def load_published(path, map_location="cpu", num_heads: int | None = None) -> VideoViT:
    """Build the network and load ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` with strict key checking.

    Depth, width and class count follow the file's tensors, so a reduced copy saved by
    ``save_published`` loads too; the head count (not in the file) stays the published 16 unless given.
    """
    from vbench_i2v.errors import WeightsError

    ckpt = read_checkpoint(path)
    try:
        sd = published_state_dict(ckpt)
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    cfg = _config_from(sd)
    if num_heads is not None:
        cfg = cfg.reduced(num_heads=num_heads)
    with torch.device("meta"):
        model = VideoViT(cfg)
    model = load_weights_strict(model, sd, path, "VideoMAE-v2 ViT-g/14 (cd-fvd)")
    model.reset_pos_embed()  # the fixed sinusoid table is not stored in the checkpoint
    return model.to(map_location).eval()


def save_published(model: VideoViT, path) -> None:
    """Write ``{'module': state_dict}`` with the published key names (tests; import checks)."""
    torch.save({"module": {k: v.detach().clone() for k, v in model.state_dict().items()}}, path)


def select_frames(videos, contract: InputContract = CONTRACT):
    """The contract's frames of uint8 ``B x T x H x W x 3`` videos (InputError when too short)."""
    return select_first_frames(videos, contract, NAME)


def preprocess(videos, contract: InputContract = CONTRACT, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` -> float ``B x 3 x 16 x 224 x 224`` as cd-fvd feeds the network
    (the first 16 frames, [0, 1], bilinear without antialias: the contract)."""
    return video_input(videos, contract, NAME, device)


class VideoMAEv2Extractor:
    """1408-d content-debiased FVD features (``fc_norm`` of the mean token, before the SSv2 head)."""

    name = NAME
    weights_name = NAME
    dim = DIM
    contract = CONTRACT

    def __init__(self, weights_path, device: str = "cpu", batch_size: int = CPU_BATCH):
        self._setup(load_published(weights_path), device, batch_size)

    @classmethod
    def from_model(cls, model: VideoViT, device: str = "cpu", batch_size: int = CPU_BATCH) -> "VideoMAEv2Extractor":
        """An extractor around an already built model (tests, benchmarks)."""
        ex = cls.__new__(cls)
        ex._setup(model, device, batch_size)
        return ex

    def _setup(self, model: VideoViT, device, batch_size: int) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.batch_size = max(1, int(batch_size))
        self.dim = model.cfg.embed_dim

    @torch.inference_mode()
    def features(self, videos) -> np.ndarray:
        out = []
        for i in range(0, len(videos), self.batch_size):
            x = preprocess(videos[i : i + self.batch_size], self.contract, self.device)
            out.append(self.model.features(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))
