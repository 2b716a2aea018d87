"""Plain video ViT (tubelet patch embedding + pre-norm blocks), shared by VideoMAE-v2 and V-JEPA.

Both published networks are the same transformer with three switches, so one module serves both
and the published key names load unchanged:

* attention bias: VideoMAE-v2 keeps ``attn.qkv`` bias-free and adds ``attn.q_bias`` / ``attn.v_bias``
  (the key gets no bias); V-JEPA has an ordinary ``attn.qkv.bias``.
* position embedding: VideoMAE-v2 adds a fixed 1-D sinusoid table over the flattened tokens that is
  *not* in its checkpoint (a plain tensor attribute); V-JEPA stores a 3-D sin-cos table as the
  parameter ``pos_embed``.
* output: VideoMAE-v2 (``use_mean_pooling``) returns ``fc_norm(mean of tokens)``; V-JEPA returns
  every token after a final ``norm``.

Block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``, GELU (erf), softmax attention scaled by
``head_dim ** -0.5``. Checkpoints load through ``load_weights_strict``: the network is built on the
meta device and the checkpoint tensors are assigned (no random init of ~1B parameters, no second
copy in memory), after a key-and-shape check that names the file and the offending keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VideoViTConfig:
    img_size: int
    patch_size: int
    num_frames: int
    tubelet_size: int
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float
    norm_eps: float
    qkv_bias: str  # "split": q_bias/v_bias beside a bias-free qkv (VideoMAE); "full": qkv.bias (V-JEPA)
    pos_embed: str  # "sincos-1d-fixed" (VideoMAE, not saved) or "sincos-3d-param" (V-JEPA, saved)
    output: str  # "mean-fc_norm" (pooled vector) or "tokens-norm" (all tokens after a final norm)
    num_classes: int = 0  # linear head after the pooled vector (VideoMAE's SSv2 head: 174)
    uniform_power: bool = False  # V-JEPA 3-D sin-cos split of the channels (only for a fresh table)

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.num_frames // self.tubelet_size, self.img_size // self.patch_size,
                self.img_size // self.patch_size)

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)  # as published: int() of the float product

    def reduced(self, **changes) -> "VideoViTConfig":
        """The same architecture with some fields changed (tests build small depths/widths)."""
        return replace(self, **changes)


def sinusoid_table_1d(n_position: int, dim: int) -> torch.Tensor:
    """VideoMAE's fixed table: angle ``p / 10000^(2*(j//2)/dim)``; sin on even j, cos on odd j."""
    pos = np.arange(n_position, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)[None, :]
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.tensor(table, dtype=torch.float32).unsqueeze(0)


def _sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = pos.reshape(-1)[:, None] * omega[None, :]
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)  # [sin half | cos half]


def sincos_table_3d(dim: int, grid: tuple[int, int, int], uniform_power: bool = False) -> torch.Tensor:
    """V-JEPA's 3-D table over (t, h, w) tokens: [time | height | width] blocks, each [sin | cos].

    Channel split: t gets dim/2 and h, w dim/4 each; with ``uniform_power`` all three get
    ``2*ceil(dim/6)`` and the concatenation is cut to ``dim``.
    """
    gt, gh, gw = grid
    d, h, w = np.meshgrid(np.arange(gt, dtype=np.float64), np.arange(gh, dtype=np.float64),
                          np.arange(gw, dtype=np.float64), indexing="ij")
    if uniform_power:
        dd = dh = dw = int(np.ceil(dim / 6) * 2)
    else:
        dd, dh, dw = dim // 2, dim // 4, dim // 4
    table = np.concatenate([_sincos_1d(dd, d), _sincos_1d(dh, h), _sincos_1d(dw, w)], axis=1)[:, :dim]
    return torch.tensor(table, dtype=torch.float32).unsqueeze(0)


class PatchEmbed3D(nn.Module):
    def __init__(self, cfg: VideoViTConfig):
        super().__init__()
        k = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(3, cfg.embed_dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # B x (t*h*w) x D, t slowest


class Attention(nn.Module):
    def __init__(self, cfg: VideoViTConfig):
        super().__init__()
        d = cfg.embed_dim
        self.num_heads = cfg.num_heads
        self.split_bias = cfg.qkv_bias == "split"
        self.qkv = nn.Linear(d, 3 * d, bias=not self.split_bias)
        if self.split_bias:
            self.q_bias = nn.Parameter(torch.zeros(d))
            self.v_bias = nn.Parameter(torch.zeros(d))
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        if self.split_bias:  # the key has no bias in VideoMAE
            bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
            qkv = F.linear(x, self.qkv.weight, bias)
        else:
            qkv = self.qkv(x)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(head_dim)) v
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: VideoViTConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        self.mlp = Mlp(cfg.embed_dim, cfg.mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VideoViT(nn.Module):
    """``features(x)``: B x 3 x T x H x W at the configured size -> pooled B x D or tokens B x N x D."""

    def __init__(self, cfg: VideoViTConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed3D(cfg)
        if cfg.pos_embed == "sincos-1d-fixed":
            self.register_buffer("pos_embed", torch.zeros(1, cfg.num_tokens, cfg.embed_dim), persistent=False)
        elif cfg.pos_embed == "sincos-3d-param":
            self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.embed_dim), requires_grad=False)
        else:
            raise ValueError(f"unknown pos_embed {cfg.pos_embed!r}")
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        if cfg.output == "mean-fc_norm":
            self.fc_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
            self.head = nn.Linear(cfg.embed_dim, cfg.num_classes) if cfg.num_classes else None
        elif cfg.output == "tokens-norm":
            self.norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.norm_eps)
        else:
            raise ValueError(f"unknown output {cfg.output!r}")
        if not self.pos_embed.is_meta:
            self.reset_pos_embed()

    def reset_pos_embed(self) -> None:
        """(Re)compute the sin-cos table: the fixed one after a checkpoint load, or a fresh V-JEPA one."""
        cfg = self.cfg
        if cfg.pos_embed == "sincos-1d-fixed":
            table = sinusoid_table_1d(cfg.num_tokens, cfg.embed_dim)
        else:
            table = sincos_table_3d(cfg.embed_dim, cfg.grid, cfg.uniform_power)
        with torch.no_grad():
            if self.pos_embed.is_meta:
                if isinstance(self.pos_embed, nn.Parameter):
                    self.pos_embed = nn.Parameter(table, requires_grad=False)
                else:
                    self.pos_embed = table
            else:
                self.pos_embed.copy_(table)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        want = (3, c.num_frames, c.img_size, c.img_size)
        if tuple(x.shape[1:]) != want:  # the published position tables are for this grid only
            raise ValueError(f"VideoViT expects B x {' x '.join(map(str, want))}, got {tuple(x.shape)}")
        x = self.patch_embed(x) + self.pos_embed.to(x.dtype)
        for blk in self.blocks:
            x = blk(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(x)
        if self.cfg.output == "mean-fc_norm":
            return self.fc_norm(t.mean(dim=1))
        return self.norm(t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        if self.cfg.output == "mean-fc_norm" and self.head is not None:
            return self.head(f)
        return f


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _summary(keys, limit: int = 4) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_weights_strict(model: nn.Module, sd: dict, path, what: str) -> nn.Module:
    """Assign ``sd`` to ``model`` (built on meta or not) after an exact key and shape check.

    Raises WeightsError naming the file, the network and the missing / unexpected / misshapen keys.
    Tensors are kept as loaded (memory-mapped where the file allowed it) and converted to float32.
    """
    from vbench_i2v.errors import WeightsError

    want = model.state_dict()
    missing = set(want) - set(sd)
    unexpected = set(sd) - set(want)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_summary(missing)}")
        if unexpected:
            parts.append(f"unexpected {_summary(unexpected)}")
        raise WeightsError(f"{path}: checkpoint keys do not match {what} ({'; '.join(parts)})")
    bad = [f"{k} {tuple(sd[k].shape)} vs {tuple(want[k].shape)}" for k in want
           if not isinstance(sd[k], torch.Tensor) or tuple(sd[k].shape) != tuple(want[k].shape)]
    if bad:
        raise WeightsError(f"{path}: checkpoint tensor shapes do not match {what} "
                           f"(checkpoint vs network: {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''})")
    model.load_state_dict(sd, strict=True, assign=True)
    return model.float()


def read_checkpoint(path):
    """``torch.load(weights_only=True)``, memory-mapped when the file is a zip checkpoint.

    ``argparse.Namespace`` is allowed because training scripts of this family save their arguments
    beside the weights; nothing else beyond torch's weights-only set is unpickled.
    """
    import argparse

    from vbench_i2v.errors import WeightsError

    with torch.serialization.safe_globals([argparse.Namespace]):
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc) and "zip" not in str(exc):
                raise WeightsError(f"{path}: cannot read as a torch checkpoint ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
            raise WeightsError(f"{path}: cannot read as a torch checkpoint ({type(exc).__name__}: {exc})") from None
        try:  # legacy (non-zip) serialisation cannot be memory-mapped
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise WeightsError(f"{path}: cannot read as a torch checkpoint ({type(exc).__name__}: {exc})") from None


def flops_per_clip(cfg: VideoViTConfig) -> float:
    """Multiply-adds x 2 of one forward (patch embedding, qkv/proj/MLP matmuls, attention)."""
    n, d = cfg.num_tokens, cfg.embed_dim
    patch = 2 * n * d * 3 * cfg.tubelet_size * cfg.patch_size ** 2
    per_block = 2 * n * (4 * d * d + 2 * d * cfg.mlp_hidden) + 4 * n * n * d
    return float(patch + cfg.depth * per_block)


def select_first_frames(videos, contract, name: str):
    """The contract's first frames of uint8 ``B x T x H x W x 3`` videos; one line naming the network
    and the need when the clips do not fit (shared by the VideoMAE-v2 and V-JEPA extractors)."""
    from vbench_i2v.errors import InputError

    v = np.asarray(videos) if not isinstance(videos, torch.Tensor) else videos
    if v.ndim != 5 or v.shape[-1] != 3:
        raise InputError(f"{name}: expected uint8 videos B x T x H x W x 3, got shape {tuple(v.shape)}")
    contract.check_clip(v.shape[1:4], f"{name} clip")
    if contract.sampling != "first":
        raise ValueError(f"unsupported sampling {contract.sampling!r}")
    return v[:, : contract.frames]


def video_input(videos, contract, name: str, device=None) -> torch.Tensor:
    """uint8 ``B x T x H x W x 3`` -> float ``B x 3 x frames x h x w`` network input: the clips
    checked against the contract (frames, aspect ratio), then built from it on ``device``
    (``vbench_i2v/preprocess.py``: the first frames, ``value_range``, resize, mean/std)."""
    from vbench_i2v.preprocess import videos_input

    select_first_frames(videos, contract, name)
    return videos_input(videos, contract, name, device=device)


__all__ = ["select_first_frames", "video_input", "VideoViTConfig", "VideoViT", "sinusoid_table_1d", "sincos_table_3d",
           "load_weights_strict", "read_checkpoint", "num_parameters", "flops_per_clip"]
