"""DINO ViT-B/16 (Caron et al. 2021): the network of VBench's subject_consistency and i2v_subject.

As ``torch.hub.load('facebookresearch/dino:main', 'dino_vitb16')`` builds it: ``vit_base`` with patch
16, embed 768, depth 12, 12 heads, MLP ratio 4 (GELU, erf form), qkv with bias, LayerNorm eps
1e-6, no classification head. Published weights: ``dino_vitbase16_pretrain.pth``, a plain backbone
state dict loaded strictly: ``cls_token`` (1 x 1 x 768), ``pos_embed`` (1 x 197 x 768: CLS + a 14 x 14
grid), ``patch_embed.proj.{weight,bias}`` (conv 16 x 16 stride 16), ``blocks.{0..11}.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}.{weight,bias}``, ``norm.{weight,bias}``: 150 tensors, 85,798,656
parameters. The blocks are ``vit_video.Block`` (same key names, same pre-norm block).

Forward on an ``N x 3 x H x W`` image: the patch conv (stride 16, so a remainder under 16 pixels is
dropped) gives an ``H//16 x W//16`` grid; the CLS token is prepended; the position table is added;
12 blocks; the final LayerNorm; the output is the CLS token (768-d).

Position table for other grids (DINO's ``interpolate_pos_encoding``): kept as stored only when the
patch count equals 196 **and** ``H == W`` (pixels); otherwise the 14 x 14 part is resampled with
``F.interpolate(mode='bicubic', align_corners=False, scale_factor=((H//16 + 0.1) / 14, (W//16 + 0.1) / 14))``
(the scale-factor form: source positions use that factor, not the output/input size ratio), which
gives ``H//16 x W//16``. VBench's subject_consistency feeds non-square frames (shorter side 224, no
crop), so this path is used there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.catalog import DINO_VITB16
from vbench_i2v.feature_extractors.image_vit import ImageEmbedder
from vbench_i2v.feature_extractors.vit_video import Block, VideoViTConfig, load_weights_strict, read_checkpoint

SPEC = DINO_VITB16
NAME = SPEC.name
DIM = 768
NUM_PARAMETERS = 85_798_656  # DINO README: 85M; checked by tests/test_vbench_dims_networks.py
NUM_TENSORS = 150


@dataclass(frozen=True)
class DinoConfig:
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    grid: int = 14  # the stored position table's side (224 / 16)

    def reduced(self, **changes) -> "DinoConfig":
        """The same architecture with some fields changed (tests build small widths/depths)."""
        return replace(self, **changes)

    def block_config(self) -> VideoViTConfig:
        """What ``vit_video.Block`` reads: width, heads, MLP hidden, eps, an ordinary qkv bias."""
        return VideoViTConfig(img_size=self.grid * self.patch_size, patch_size=self.patch_size, num_frames=1,
                              tubelet_size=1, embed_dim=self.embed_dim, depth=self.depth, num_heads=self.num_heads,
                              mlp_ratio=self.mlp_ratio, norm_eps=self.norm_eps, qkv_bias="full",
                              pos_embed="sincos-3d-param", output="tokens-norm")


CONFIG = DinoConfig()


class PatchEmbed(nn.Module):
    def __init__(self, cfg: DinoConfig):
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.embed_dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)


def interpolate_position_table(pos_embed: torch.Tensor, height: int, width: int, patch_size: int) -> torch.Tensor:
    """DINO's position table for an ``height x width`` input (pixels): ``1 x (1 + h0*w0) x D``."""
    n = pos_embed.shape[1] - 1
    h0, w0 = height // patch_size, width // patch_size
    if h0 * w0 == n and height == width:
        return pos_embed
    side = int(math.sqrt(n))
    dim = pos_embed.shape[-1]
    grid = pos_embed[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((h0 + 0.1) / math.sqrt(n), (w0 + 0.1) / math.sqrt(n)),
                         mode="bicubic", align_corners=False)
    if tuple(grid.shape[-2:]) != (h0, w0):  # DINO asserts the same
        raise ValueError(f"position table resized to {tuple(grid.shape[-2:])}, expected {(h0, w0)}")
    return torch.cat([pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h0 * w0, dim)], dim=1)


class DinoViT(nn.Module):
    """``forward(x)``: float ``N x 3 x H x W`` (normalised) -> CLS token after the final norm, ``N x D``."""

    def __init__(self, cfg: DinoConfig = CONFIG):
        super().__init__()
        self.cfg = cfg
        d = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.grid * cfg.grid, d))
        self.patch_embed = PatchEmbed(cfg)
        bcfg = cfg.block_config()
        self.blocks = nn.ModuleList(Block(bcfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d, eps=cfg.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < self.cfg.patch_size:
            raise ValueError(f"DINO expects N x 3 x H x W with sides >= {self.cfg.patch_size}, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        t = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1).to(t.dtype), t], dim=1)
        t = t + interpolate_position_table(self.pos_embed, h, w, self.cfg.patch_size).to(t.dtype)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)[:, 0]


def dino_vitb16(**changes) -> DinoViT:
    """The published architecture (``changes`` build a reduced copy of the same class)."""
    return DinoViT(CONFIG.reduced(**changes) if changes else CONFIG)


def _config_from(sd: dict, num_heads: int | None) -> DinoConfig:
    """The published config with width, patch, depth and grid read from the tensors (reduced copies
    load too); heads are not in the file: the published 12, i.e. width / 64, unless given."""
    try:
        w = sd["patch_embed.proj.weight"]
        dim, patch = int(w.shape[0]), int(w.shape[-1])
        depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
        grid = int(math.isqrt(int(sd["pos_embed"].shape[1]) - 1))
        hidden = int(sd["blocks.0.mlp.fc1.weight"].shape[0])
    except (KeyError, ValueError, AttributeError, IndexError, TypeError):
        return CONFIG  # the strict load then names what is missing
    return CONFIG.reduced(embed_dim=dim, patch_size=patch, depth=depth, grid=grid, mlp_ratio=hidden / dim,
                          num_heads=num_heads or max(1, dim // 64))


def load_published(path, map_location="cpu", num_heads: int | None = None) -> DinoViT:
    """``dino_vitbase16_pretrain.pth`` -> ``DinoViT``, strictly (one WeightsError line naming the file
    and the missing / unexpected / misshapen keys)."""
    from vbench_i2v.errors import WeightsError

    sd = read_checkpoint(path)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        hint = (" (this looks like a DINO training checkpoint; the published backbone file is "
                "dino_vitbase16_pretrain.pth)" if isinstance(sd, dict) and {"teacher", "student"} & set(sd) else "")
        raise WeightsError(f"{path}: expected a plain state dict of tensors "
                           f"(the dino_vitbase16_pretrain.pth format){hint}")
    with torch.device("meta"):
        model = DinoViT(_config_from(sd, num_heads))
    model = load_weights_strict(model, sd, path, "DINO ViT-B/16 backbone")
    return model.to(map_location).eval()


def save_published(model: DinoViT, path) -> None:
    """Write the plain state dict with the published key names (tests; import checks)."""
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, path)


class DinoEmbedder(ImageEmbedder):
    """``embed_frames(frames, use)``: DINO CLS features (768-d) of uint8 frames under a catalog use."""

    spec = SPEC
    dim = DIM

    def __init__(self, weights_path, device="cpu", batch_size: int | None = None):
        self._setup(load_published(weights_path), device, batch_size)

    @classmethod
    def from_model(cls, model: DinoViT, device="cpu", batch_size: int | None = None) -> "DinoEmbedder":
        obj = cls.__new__(cls)
        obj._setup(model, device, batch_size)
        return obj

    def _setup(self, model: DinoViT, device, batch_size) -> None:
        self._setup_device(device, batch_size)
        self.model = model.float().eval().to(self.device)
        self.dim = model.cfg.embed_dim

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


__all__ = ["CONFIG", "DinoConfig", "DinoEmbedder", "DinoViT", "dino_vitb16", "interpolate_position_table",
           "load_published", "save_published", "NUM_PARAMETERS"]
