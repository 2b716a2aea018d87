"""ImaGINator (Wang et al., WACV 2020): networks, readable top to bottom.

G = 2D encoder of the conditioning image + decoder of transposed (1+2)D blocks. At every decoder
level the encoder's map of the same size (repeated along time) and the label one-hot (broadcast
over time and space) are concatenated to the features: "spatio-temporal fusion". D_V judges
whole clips (label fused after its first layer), D_I single frames. Layer shapes follow the
released code (docs/models.md, "ImaGINator"): at ``width=1`` with 6 classes G has 75,406,451 parameters,
D_V 11,088,833 and D_I 2,764,737. ``width`` scales every channel count.

Ablations (the paper's Tables 2, 5, 6): ``conv="3d"`` (one full transposed 3D conv per block,
outputs widened so G keeps about the same parameter count), ``fusion=False`` (no encoder maps
in the decoder; the label is still fused), ``noise=False`` (no z), ``d_video="aux-classifier"``
(D_V without the label input, predicting the class instead: D_V(ac)).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from vbench_i2v.generators.layers import one_hot, scaled

# Decoder blocks as published: (temporal k, s, p), (spatial k, s, p), mid channels M, out channels.
# Block outputs: 2x4x4, 4x8x8, 8x16x16, 16x32x32, then 32x64x64 RGB.
DECODER = [
    ((2, 1, 0), (4, 1, 0), 4096, 512),
    ((4, 2, 1), (4, 2, 1), 3072, 256),
    ((4, 2, 1), (4, 2, 1), 1536, 128),
    ((4, 2, 1), (4, 2, 1), 768, 64),
    ((4, 2, 1), (4, 2, 1), 36, 3),
]
ENCODER = [64, 128, 256, 512]  # 32x32, 16x16, 8x8, 4x4 maps, fused into decoder blocks 4, 3, 2, 1
DISC = [64, 128, 256, 512]


def fuse(x: torch.Tensor, *maps: torch.Tensor) -> torch.Tensor:
    """Concatenate 2D maps (B x C x H x W) or vectors (B x C) to a video volume, repeated over T (x H x W)."""
    b, _, t, h, w = x.shape
    parts = [x]
    for m in maps:
        if m.ndim == 2:
            m = m[:, :, None, None]
        parts.append(m[:, :, None].expand(b, m.shape[1], t, h, w).to(x.dtype))
    return torch.cat(parts, dim=1)


# --- generator -----------------------------------------------------------------------------
class Encoder(nn.Module):
    """3x64x64 image -> [64@32, 128@16, 256@8, 512@4 maps, appearance vector p (dim_a@1x1)]."""

    def __init__(self, width: float, dim_a: int):
        super().__init__()
        chans = [3] + [scaled(c, width) for c in ENCODER]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True))
            for cin, cout in zip(chans[:-1], chans[1:])
        )
        self.to_p = nn.Conv2d(chans[-1], dim_a, 4, 1, 0)
        self.channels = chans[1:]

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        maps, x = [], image
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps + [self.to_p(x)]


class UpBlock1plus2D(nn.Module):
    """Transposed (1+2)D: temporal ConvT (kt,1,1) -> BN -> LReLU -> spatial ConvT (1,ks,ks) -> BN -> LReLU.

    The last block ends in Tanh instead of the second BN + LReLU.
    """

    def __init__(self, cin: int, mid: int, cout: int, temporal, spatial, last: bool = False):
        super().__init__()
        (kt, st, pt), (ks, ss, ps) = temporal, spatial
        self.temporal = nn.Sequential(
            nn.ConvTranspose3d(cin, mid, (kt, 1, 1), (st, 1, 1), (pt, 0, 0)),
            nn.BatchNorm3d(mid), nn.LeakyReLU(0.2, inplace=True))
        self.spatial = nn.Sequential(
            nn.ConvTranspose3d(mid, cout, (1, ks, ks), (1, ss, ss), (0, ps, ps)),
            *([nn.Tanh()] if last else [nn.BatchNorm3d(cout), nn.LeakyReLU(0.2, inplace=True)]))

    def forward(self, x):
        return self.spatial(self.temporal(x))


class UpBlock3D(nn.Module):
    """Full transposed 3D conv (kt,ks,ks) -> BN -> LReLU (Tanh for the last): the paper's baseline."""

    def __init__(self, cin: int, mid: int, cout: int, temporal, spatial, last: bool = False):
        super().__init__()
        (kt, st, pt), (ks, ss, ps) = temporal, spatial
        self.conv = nn.ConvTranspose3d(cin, cout, (kt, ks, ks), (st, ss, ss), (pt, ps, ps))
        self.post = nn.Tanh() if last else nn.Sequential(nn.BatchNorm3d(cout), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x):
        return self.post(self.conv(x))


class Generator(nn.Module):
    """(image, one-hot label, z) -> clip 3 x 32 x 64 x 64 in [-1, 1]."""

    def __init__(self, num_classes: int, width: float = 1.0, dim_z: int = 512, dim_a: int = 100,
                 conv: str = "1+2d", fusion: bool = True, noise: bool = True, widen_3d: float | None = None,
                 label_scale: float = 1.0):
        super().__init__()
        self.num_classes, self.fusion = num_classes, fusion
        self.label_channels, self.label_scale = num_classes, float(label_scale)
        self.dim_z = scaled(dim_z, width) if noise else 0
        self.encoder = Encoder(width, scaled(dim_a, width))
        if conv == "3d" and widen_3d is None:
            widen_3d = matched_3d_widening(num_classes, width, dim_z, dim_a, fusion, noise)
        block = UpBlock1plus2D if conv == "1+2d" else UpBlock3D
        skips = list(reversed(self.encoder.channels)) if fusion else [0, 0, 0, 0]
        cin = self.dim_z + num_classes + scaled(dim_a, width)
        self.blocks = nn.ModuleList()
        for i, (temporal, spatial, mid, cout) in enumerate(DECODER):
            last = i == len(DECODER) - 1
            cout = 3 if last else scaled(cout, width * (widen_3d if conv == "3d" else 1.0))
            self.blocks.append(block(cin, scaled(mid, width), cout, temporal, spatial, last=last))
            if not last:
                cin = cout + skips[i] + num_classes

    def forward(self, image: torch.Tensor, label: torch.Tensor | None, z: torch.Tensor | None) -> torch.Tensor:
        b = image.shape[0]
        *maps, p = self.encoder(image)  # maps: 32x32 ... 4x4
        y = self.label_code(label, b, image)
        code = [z] if self.dim_z else []
        x = torch.cat(code + [y, p.flatten(1)], dim=1)[:, :, None, None, None]  # 1x1x1 volume
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = fuse(x, maps[-1 - i], y) if self.fusion else fuse(x, y)
        return x

    def label_code(self, label: torch.Tensor | None, batch: int, like: torch.Tensor) -> torch.Tensor:
        """What the decoder is given for the label at every level: B x ``label_channels``.

        The one-hot times ``label_scale`` (1.0: the released code). No parameters depend on the
        scale, so a checkpoint loads under any value; 1.0 reproduces it exactly.
        """
        y = one_hot(label, self.num_classes, batch, like)
        return y * self.label_scale if self.label_scale != 1.0 else y


@lru_cache(maxsize=64)
def matched_3d_widening(num_classes: int, width: float, dim_z: int, dim_a: int, fusion: bool, noise: bool) -> float:
    """Factor on the 3D decoder's block outputs that gives G the (1+2)D model's parameter count.

    Bisection on models built on the meta device (no memory, milliseconds each).
    """
    def count(conv: str, widen: float) -> int:
        with torch.device("meta"):
            g = Generator(num_classes, width, dim_z, dim_a, conv, fusion, noise, widen_3d=widen)
        return sum(p.numel() for p in g.parameters())

    target, lo, hi = count("1+2d", 1.0), 0.5, 8.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count("3d", mid) < target else (lo, mid)
    return round((lo + hi) / 2, 4)


# --- discriminators ------------------------------------------------------------------------
def sn_conv(dims: int, cin: int, cout: int, kernel, stride=2, padding=1) -> nn.Module:
    conv = (nn.Conv3d if dims == 3 else nn.Conv2d)(cin, cout, kernel, stride, padding)
    if conv.weight.is_meta:
        # Shape-only build (parameter counts): spectral norm keeps the same parameters and its
        # 15 start-up power iterations cost seconds on meta tensors, so leave it out there.
        return conv
    return spectral_norm(conv)


class VideoDiscriminator(nn.Module):
    """D_V: five 3D convs with spectral norm; the label one-hot is fused after the first layer.

    ``aux_classifier=True`` is D_V(ac): no label input, the last layer predicts 1 + K logits
    (real/fake and the class).
    """

    def __init__(self, num_classes: int, width: float = 1.0, aux_classifier: bool = False):
        super().__init__()
        self.num_classes, self.aux = num_classes, aux_classifier
        c = [scaled(x, width) for x in DISC]
        fused = 0 if aux_classifier else num_classes
        self.first = sn_conv(3, 3, c[0], 4)
        self.body = nn.ModuleList([sn_conv(3, c[0] + fused, c[1], 4), sn_conv(3, c[1], c[2], 4), sn_conv(3, c[2], c[3], 4)])
        self.last = sn_conv(3, c[3], 1 + (num_classes if aux_classifier else 0), (2, 4, 4), 1, 0)

    def forward(self, video: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        x = F.leaky_relu(self.first(video), 0.2)
        if not self.aux:
            x = fuse(x, one_hot(label, self.num_classes, x.shape[0], x))
        for conv in self.body:
            x = F.leaky_relu(conv(x), 0.2)
        out = self.last(x).flatten(1)  # B x 1 (or B x (1 + K))
        return out if self.aux else out[:, 0]


class ImageDiscriminator(nn.Module):
    """D_I: five 2D convs with spectral norm on single frames -> one logit per frame."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        c = [3] + [scaled(x, width) for x in DISC]
        self.body = nn.ModuleList(sn_conv(2, cin, cout, 4) for cin, cout in zip(c[:-1], c[1:]))
        self.last = sn_conv(2, c[-1], 1, 4, 1, 0)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames
        for conv in self.body:
            x = F.leaky_relu(conv(x), 0.2)
        return self.last(x).flatten()


def init_weights(module: nn.Module, transposed_init: str = "normal") -> None:
    """Convs N(0, 0.02) (bias 0); BatchNorm weight N(1, 0.02), bias 0 (DCGAN's rule, the paper's).

    ``transposed_init="default"`` leaves every ``ConvTranspose3d`` at PyTorch's default init, as the
    released code does: its init loop tests ``isinstance(m, nn.Conv3d)``, which is False for a
    transposed conv, so only the decoder's BatchNorms get the N(1, 0.02) rule there."""
    if transposed_init not in ("normal", "default"):
        raise ValueError(f"transposed_init must be normal or default, got {transposed_init!r}")
    kinds = (nn.Conv2d, nn.Conv3d) + ((nn.ConvTranspose3d,) if transposed_init == "normal" else ())
    for m in module.modules():
        if isinstance(m, kinds):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@dataclass
class Networks:
    """What :func:`build_networks` returns: G, D_V and (optionally) D_I."""

    G: Generator
    D_V: VideoDiscriminator
    D_I: ImageDiscriminator | None


def build_networks(num_classes: int, width: float = 1.0, dim_z: int = 512, dim_a: int = 100, conv: str = "1+2d",
                   fusion: bool = True, noise: bool = True, d_image: bool = True,
                   d_video: str = "projection", label_scale: float = 1.0,
                   transposed_init: str = "normal") -> Networks:
    nets = Networks(
        G=Generator(num_classes, width, dim_z, dim_a, conv, fusion, noise, label_scale=label_scale),
        D_V=VideoDiscriminator(num_classes, width, aux_classifier=d_video == "aux-classifier"),
        D_I=ImageDiscriminator(width) if d_image else None,
    )
    for net in (nets.G, nets.D_V, nets.D_I):
        if net is not None and not any(p.is_meta for p in net.parameters()):
            init_weights(net, transposed_init)
    return nets
