"""V-JEPA ViT-H/16 encoder + SSv2 attentive-probe pooler: the features of JEDi.

As JEDi (oooolga/JEDi, pip ``videojedi``: ``videojedi/V_JEPA.py``) builds them from
facebookresearch/jepa: encoder ``vit_huge`` (patch 16, embed 1280, depth 32, 16 heads, MLP 5120,
qkv bias, LayerNorm eps 1e-6, tubelet 2, 16 frames, 224 px, a 3-D sin-cos ``pos_embed`` stored in
the checkpoint, final ``norm`` over all 1568 tokens) loaded from ``vith16.pth.tar`` entry
``'target_encoder'`` (JEDi's config ``checkpoint_key``; ``'encoder'`` as fallback) with the
``module.`` and ``backbone.`` prefixes removed. Pooler: ``AttentiveClassifier(embed_dim=1280,
num_heads=16, depth=1, num_classes=174)`` from ``ssv2-probe.pth.tar`` entry ``'classifier'``
(saved from DistributedDataParallel, so keys start with ``module.``). The feature is
``classifier.pooler(tokens).squeeze(1)``: one learned query cross-attending to the tokens
(``q + xattn(q, norm1(tokens))``, then ``q + mlp(norm2(q))``, LayerNorm eps 1e-5), 1280-d, before
the linear head.

Preprocessing: JEDi takes clips in [0, 1] and normalises them with the ImageNet mean/std
(``VJEPA(normalize=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))``); resizing is left to the
caller's loader. Here: the first 16 frames, bilinear to 224 x 224 (antialiased when shrinking),
then that normalisation per colour channel.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.feature_extractors.vit_video import (
    Mlp, VideoViT, VideoViTConfig, load_weights_strict, read_checkpoint, video_input)
from vbench_i2v.catalog import EXTRACTORS as EXTRACTOR_CATALOG
from vbench_i2v.specs import InputContract

NAME = "vjepa-h16-ssv2"
PROBE_NAME = "vjepa-h16-ssv2-probe"
ENCODER_FILE = "vith16.pth.tar"
PROBE_FILE = "ssv2-probe.pth.tar"
DIM = 1280
NUM_CLASSES = 174  # Something-Something-v2 probe
ENCODER_PARAMETERS = 633_655_040  # ViT-H/16 incl. the stored 1568 x 1280 pos_embed (631,648,000 without)
PROBE_PARAMETERS = 19_901_614  # attentive pooler 19,678,720 + 174-way linear head; tests count both by hand
CPU_BATCH = 2  # ~2.5 GB fp32 weights; per-clip CPU time measured no better at 2 than at 1 (GEMM-bound)

ENCODER_CONFIG = VideoViTConfig(img_size=224, patch_size=16, num_frames=16, tubelet_size=2, embed_dim=1280,
                                depth=32, num_heads=16, mlp_ratio=4.0, norm_eps=1e-6, qkv_bias="full",
                                pos_embed="sincos-3d-param", output="tokens-norm", uniform_power=True)
PROBE_NORM_EPS = 1e-5  # AttentiveClassifier uses nn.LayerNorm's default
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CONTRACT = EXTRACTOR_CATALOG[NAME].contract  # the one copy of the recipe: vbench_i2v/catalog.py


class CrossAttention(nn.Module):
    """Queries from ``q``, keys/values from ``x`` (``q``, ``kv``, ``proj`` as in the probe checkpoint)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, n, d = q.shape
        h = self.num_heads
        q = self.q(q).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(x).reshape(b, x.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class CrossAttentionBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, eps: float = PROBE_NORM_EPS):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.xattn = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        q = q + self.xattn(q, self.norm1(x))  # the tokens are normalised, not the query
        return q + self.mlp(self.norm2(q))


class AttentivePooler(nn.Module):
    """One learned query token and one cross-attention block (depth 1: no further self-attention)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, 1, dim))
        self.cross_attention_block = CrossAttentionBlock(dim, num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cross_attention_block(self.query_tokens.expand(len(x), -1, -1), x)


class AttentiveClassifier(nn.Module):
    def __init__(self, dim: int = DIM, num_heads: int = 16, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.pooler = AttentivePooler(dim, num_heads)
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pooler(x).squeeze(1))


def vjepa_vith16(**changes) -> VideoViT:
    """The JEDi encoder (``changes`` build a reduced copy of the same class for tests)."""
    return VideoViT(ENCODER_CONFIG.reduced(**changes) if changes else ENCODER_CONFIG)


def _strip(sd: dict, prefixes: tuple[str, ...]) -> dict:
    out = {}
    for k, v in sd.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def _entry(ckpt, keys: tuple[str, ...], path, what: str) -> dict:
    from vbench_i2v.errors import WeightsError

    if isinstance(ckpt, dict):
        for key in keys:
            if isinstance(ckpt.get(key), dict):
                return ckpt[key]
    found = sorted(ckpt)[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
    raise WeightsError(f"{path}: not a {what} checkpoint (expected an entry {' or '.join(map(repr, keys))}, "
                       f"found {found})")


def load_encoder(path, map_location="cpu", num_heads: int | None = None) -> VideoViT:
    """V-JEPA ViT-H/16 from ``vith16.pth.tar`` (``target_encoder``, else ``encoder``), strict keys."""
    sd = _strip(_entry(read_checkpoint(path), ("target_encoder", "encoder"), path, "V-JEPA"),
                ("module.", "backbone."))
    cfg = ENCODER_CONFIG
    try:
        cfg = cfg.reduced(embed_dim=sd["patch_embed.proj.weight"].shape[0],
                          depth=1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks.")))
    except (KeyError, ValueError, AttributeError, IndexError):
        pass  # the strict check below names what is missing
    if num_heads is not None:
        cfg = cfg.reduced(num_heads=num_heads)
    with torch.device("meta"):
        model = VideoViT(cfg)
    return load_weights_strict(model, sd, path, "V-JEPA ViT-H/16 encoder").to(map_location).eval()


def load_probe(path, map_location="cpu", num_heads: int = 16) -> AttentiveClassifier:
    """The SSv2 attentive probe from ``ssv2-probe.pth.tar`` (``classifier`` entry), strict keys."""
    sd = _strip(_entry(read_checkpoint(path), ("classifier",), path, "V-JEPA attentive-probe"), ("module.",))
    try:
        dim, classes = sd["pooler.query_tokens"].shape[-1], sd["linear.weight"].shape[0]
    except (KeyError, AttributeError, IndexError):
        dim, classes = DIM, NUM_CLASSES
    with torch.device("meta"):
        model = AttentiveClassifier(dim, num_heads, classes)
    return load_weights_strict(model, sd, path, "V-JEPA SSv2 attentive probe").to(map_location).eval()


def save_encoder(model: VideoViT, path, context_encoder: VideoViT | None = None) -> None:
    """Write the pretraining checkpoint layout (``encoder``/``target_encoder``, ``module.backbone.`` keys).

    ``context_encoder`` fills the ``encoder`` entry (the EMA ``target_encoder`` is what JEDi reads).
    """
    def wrap(m):
        return {f"module.backbone.{k}": v.detach().clone() for k, v in m.state_dict().items()}

    torch.save({"encoder": wrap(context_encoder or model), "predictor": {}, "target_encoder": wrap(model),
                "epoch": 300, "loss": 0.0, "batch_size": 24, "world_size": 1, "lr": 0.0}, path)


def save_probe(model: AttentiveClassifier, path) -> None:
    """Write the probe checkpoint layout (``classifier`` entry with DDP ``module.`` keys)."""
    sd = {f"module.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"classifier": sd, "opt": {}, "scaler": None, "epoch": 20, "batch_size": 4, "world_size": 1,
                "lr": 0.001}, path)


def preprocess(videos, contract: InputContract = CONTRACT, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` -> normalised float ``B x 3 x 16 x 224 x 224`` (the contract: the
    first 16 frames, [0, 1], bilinear antialiased when shrinking, ImageNet mean/std)."""
    return video_input(videos, contract, NAME, device)


class VJEPAExtractor:
    """1280-d JEDi features: the SSv2 probe's attentive pooling of the V-JEPA ViT-H/16 tokens.

    Two weight files: ``weights_path`` is the encoder (``vith16.pth.tar``); ``probe_path`` the probe
    (``ssv2-probe.pth.tar``), by default the verified ``vjepa-h16-ssv2-probe`` registry file.
    """

    name = NAME
    weights_name = NAME
    probe_weights_name = PROBE_NAME
    dim = DIM
    contract = CONTRACT

    def __init__(self, weights_path, probe_path=None, device: str = "cpu", batch_size: int = CPU_BATCH):
        self.probe_sha256 = None
        if probe_path is None:
            from vbench_i2v import weights

            wf = weights.require(PROBE_NAME)
            probe_path, self.probe_sha256 = wf.path, wf.sha256
        self._setup(load_encoder(weights_path), load_probe(probe_path), device, batch_size)

    @classmethod
    def from_models(cls, encoder: VideoViT, probe: AttentiveClassifier, device: str = "cpu",
                    batch_size: int = CPU_BATCH) -> "VJEPAExtractor":
        ex = cls.__new__(cls)
        ex.probe_sha256 = None
        ex._setup(encoder, probe, device, batch_size)
        return ex

    def _setup(self, encoder, probe, device, batch_size: int) -> None:
        self.device = torch.device(device)
        self.encoder = encoder.eval().to(self.device)
        self.pooler = probe.pooler.eval().to(self.device)
        self.batch_size = max(1, int(batch_size))
        self.dim = encoder.cfg.embed_dim

    @torch.inference_mode()
    def features(self, videos) -> np.ndarray:
        out = []
        for i in range(0, len(videos), self.batch_size):
            x = preprocess(videos[i : i + self.batch_size], self.contract, self.device)
            f = self.pooler(self.encoder.features(x)).squeeze(1)
            out.append(f.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim))
