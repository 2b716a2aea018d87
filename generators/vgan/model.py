"""VGAN (Vondrick et al., NeurIPS 2016; cvondrick/videogan): networks, readable top to bottom.

The generator has two streams decoded from one code vector:

- foreground: transposed 3D convs 512@2x4x4 -> 256@4x8x8 -> 128@8x16x16 -> 64@16x32x32, then two
  heads at 32x64x64: RGB (Tanh) and a one-channel mask (Sigmoid);
- background: transposed 2D convs 512@4x4 -> 256@8x8 -> 128@16x16 -> 64@32x32 -> 3@64x64 (Tanh),
  one static image for the whole clip;

and the clip is ``mask * foreground + (1 - mask) * background`` (:func:`compose`).

The code: published, 100-d noise. Image-to-video (``conditional=True``, docs/models.md, "Baselines"): the
published "future generation" mode's 2D conv encoder of the input frame (ImaGINator's encoder
stack, ending in a ``dim_code`` vector), concatenated with ``dim_z`` noise and the label one-hot.
The discriminator is a 3D conv stack (64, 128, 256, 512; kernel 4, stride 2; BN from the second;
LeakyReLU 0.2) ending in one logit per clip; in the conditional mode the label one-hot is fused
after its first layer as ImaGINator's D_V does. BN + ReLU inside G, DCGAN init (convs N(0, 0.02),
BN weight N(1, 0.02)), biases as Torch7 layers have them. ``width`` scales every layer's channel
count; the code sizes do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vbench_i2v.generators.layers import one_hot, scaled

ENCODER = [64, 128, 256, 512]  # input frame -> 32x32, 16x16, 8x8, 4x4, then 4x4 conv to the code
FOREGROUND = [512, 256, 128, 64]  # 2x4x4, 4x8x8, 8x16x16, 16x32x32, then heads at 32x64x64
BACKGROUND = [512, 256, 128, 64]  # 4x4, 8x8, 16x16, 32x32, then 3@64x64
DISC = [64, 128, 256, 512]  # 16x32x32, 8x16x16, 4x8x8, 2x4x4, then a (2, 4, 4) conv to 1 logit


def compose(foreground: torch.Tensor, mask: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """``m * f + (1 - m) * b``: f B x 3 x T x H x W, m B x 1 x T x H x W, b B x 3 x H x W (static)."""
    return mask * foreground + (1 - mask) * background[:, :, None]


# --- generator -----------------------------------------------------------------------------
class FrameEncoder(nn.Module):
    """Input frame 3x64x64 -> code vector: four stride-2 convs (BN + LeakyReLU), then 4x4 conv."""

    def __init__(self, width: float, dim_code: int):
        super().__init__()
        chans = [3] + [scaled(c, width) for c in ENCODER]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Conv2d(chans[-1], dim_code, 4, 1, 0))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).flatten(1)


def up_stack(conv: type[nn.Module], norm: type[nn.Module], chans: list[int], first_kernel) -> nn.Sequential:
    """Transposed convs (first: ``first_kernel`` from 1 voxel; then kernel 4 stride 2 pad 1), BN + ReLU."""
    layers = []
    for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
        layer = conv(cin, cout, first_kernel, 1, 0) if i == 0 else conv(cin, cout, 4, 2, 1)
        layers += [layer, norm(cout), nn.ReLU(True)]
    return nn.Sequential(*layers)


class TwoStreamGenerator(nn.Module):
    """(image, label, z) -> clip 3 x 32 x 64 x 64 in [-1, 1] from a foreground/mask and a background."""

    def __init__(self, num_classes: int, width: float = 1.0, dim_z: int = 100, dim_code: int = 100,
                 conditional: bool = True):
        super().__init__()
        self.num_classes, self.conditional, self.dim_z = num_classes, conditional, dim_z
        self.encoder = FrameEncoder(width, dim_code) if conditional else None
        dim_in = dim_z + (dim_code + num_classes if conditional else 0)
        fg = [dim_in] + [scaled(c, width) for c in FOREGROUND]
        bg = [dim_in] + [scaled(c, width) for c in BACKGROUND]
        self.foreground = up_stack(nn.ConvTranspose3d, nn.BatchNorm3d, fg, (2, 4, 4))
        self.to_rgb = nn.ConvTranspose3d(fg[-1], 3, 4, 2, 1)
        self.to_mask = nn.ConvTranspose3d(fg[-1], 1, 4, 2, 1)
        self.background = nn.Sequential(up_stack(nn.ConvTranspose2d, nn.BatchNorm2d, bg, 4),
                                        nn.ConvTranspose2d(bg[-1], 3, 4, 2, 1))

    def code(self, image: torch.Tensor, label: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        """``B x dim_in``: [encoder(image), z, one-hot] (conditional) or z (unconditional)."""
        if not self.conditional:
            return z
        p = self.encoder(image)
        return torch.cat([p, z.to(p.dtype), one_hot(label, self.num_classes, z.shape[0], p)], dim=1)

    def streams(self, image, label, z) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Foreground B x 3 x 32 x 64 x 64, mask B x 1 x 32 x 64 x 64 in [0, 1], background B x 3 x 64 x 64."""
        code = self.code(image, label, z)
        h = self.foreground(code[:, :, None, None, None])
        foreground, mask = torch.tanh(self.to_rgb(h)), torch.sigmoid(self.to_mask(h))
        background = torch.tanh(self.background(code[:, :, None, None]))
        return foreground, mask, background

    def forward(self, image: torch.Tensor, label: torch.Tensor | None, z: torch.Tensor, with_mask: bool = False):
        """The composed clip (and, with ``with_mask``, the mask too: training penalises it)."""
        foreground, mask, background = self.streams(image, label, z)
        video = compose(foreground, mask, background)
        return (video, mask) if with_mask else video


# --- discriminator -------------------------------------------------------------------------
class VideoDiscriminator(nn.Module):
    """Clip B x 3 x 32 x 64 x 64 (+ label) -> B logits; the label is fused after the first conv."""

    def __init__(self, num_classes: int, width: float = 1.0, conditional: bool = True):
        super().__init__()
        self.num_classes = num_classes if conditional else 0
        c = [scaled(x, width) for x in DISC]
        self.first = nn.Conv3d(3, c[0], 4, 2, 1)
        cins = [c[0] + self.num_classes] + c[1:-1]
        self.body = nn.Sequential(*[m for cin, cout in zip(cins, c[1:])
                                    for m in (nn.Conv3d(cin, cout, 4, 2, 1), nn.BatchNorm3d(cout),
                                              nn.LeakyReLU(0.2, inplace=True))])
        self.last = nn.Conv3d(c[-1], 1, (2, 4, 4), 1, 0)

    def forward(self, video: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        x = F.leaky_relu(self.first(video), 0.2)
        if self.num_classes:
            b, _, t, h, w = x.shape
            y = one_hot(label, self.num_classes, b, x)
            x = torch.cat([x, y[:, :, None, None, None].expand(b, self.num_classes, t, h, w)], dim=1)
        return self.last(self.body(x)).flatten()


def init_weights(module: nn.Module) -> None:
    """DCGAN init (dcgan.torch, which videogan uses): convs N(0, 0.02), bias 0; BN weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build_networks(num_classes: int, width: float = 1.0, dim_z: int = 100, dim_code: int = 100,
                   conditional: bool = True) -> dict[str, nn.Module]:
    """G (two-stream generator) and D (3D video discriminator), DCGAN-initialised (skipped on meta)."""
    nets = {"G": TwoStreamGenerator(num_classes, width, dim_z, dim_code, conditional),
            "D": VideoDiscriminator(num_classes, width, conditional)}
    for net in nets.values():
        if not any(p.is_meta for p in net.parameters()):
            init_weights(net)
    return nets
