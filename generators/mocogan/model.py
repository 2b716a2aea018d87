"""MoCoGAN (Tulyakov et al., CVPR 2018; sergeytulyakov/mocogan): networks, readable top to bottom.

A clip is a sequence of per-frame latents ``[z_C, z_A, z_M(t)]`` each decoded by one 2D DCGAN
image generator:

- ``z_C`` (content, 50-d) is the same for every frame. Published: Gaussian noise. Image-to-video
  (``conditional=True``, docs/models.md, "Baselines"): the output of a 2D conv encoder of the conditioning
  frame (ImaGINator's encoder stack, ending in a 50-d vector).
- ``z_A`` (category) is the label one-hot, the same for every frame (absent for unlabelled data).
- ``z_M(t)`` (motion, 10-d) is the hidden state of a ``GRUCell(10, 10)`` run for T steps over
  per-frame Gaussian noise from a Gaussian initial state, so it differs from frame to frame.

Discriminators: a patch image discriminator on single frames (a 4x4 map of logits) and a
"categorical" video discriminator whose last conv gives one real/fake logit plus K class logits
(an auxiliary classifier). Published clips were 16 frames; ours are the protocol's 32, so the
video discriminator's last layer leaves 17 temporal positions: the real/fake logits are kept as a
temporal patch map and the class logits are averaged over time. No biases anywhere (as
published) and PyTorch's default initialisation (the published code sets none).

All noise a clip needs is one flat vector per clip (see :func:`noise_size`): ``[z_C]`` (only in
the unconditional mode) then the GRU's initial state and its T per-frame inputs, so a fixed ``z``
gives a fixed clip. ``width`` scales every layer's channel count; the code sizes (50, 10) do not.
"""

from __future__ import annotations

import torch
from torch import nn

from vbench_i2v.generators.layers import one_hot, scaled

ENCODER = [64, 128, 256, 512]  # conditioning frame -> 32x32, 16x16, 8x8, 4x4, then 4x4 conv to z_C
IMAGE_GENERATOR = [512, 256, 128, 64]  # 4x4, 8x8, 16x16, 32x32, then 3@64x64 (Tanh)
IMAGE_DISC = [64, 128, 256]  # 32x32, 16x16, 8x8, then 1@4x4 patch logits
VIDEO_DISC = [64, 128, 256, 512]  # stride (1, 2, 2): T-3 per layer, H/2; then (1 + K) logits


def noise_size(frames: int, dim_motion: int, dim_content: int, conditional: bool) -> int:
    """Length of the per-clip noise vector: [z_C if unconditional] + GRU h0 + T GRU inputs."""
    return (0 if conditional else dim_content) + (frames + 1) * dim_motion


# --- generator -----------------------------------------------------------------------------
class ContentEncoder(nn.Module):
    """Conditioning frame 3x64x64 -> z_C: four stride-2 convs (BN + LeakyReLU), then 4x4 conv to dim."""

    def __init__(self, width: float, dim_content: int):
        super().__init__()
        chans = [3] + [scaled(c, width) for c in ENCODER]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Conv2d(chans[-1], dim_content, 4, 1, 0, bias=False))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).flatten(1)


class MotionGRU(nn.Module):
    """``GRUCell(dim, dim)`` over T steps: noise ``B x (T+1) x dim`` (h0, then inputs) -> ``B x T x dim``."""

    def __init__(self, dim_motion: int):
        super().__init__()
        self.cell = nn.GRUCell(dim_motion, dim_motion)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        h, states = noise[:, 0], []
        for t in range(1, noise.shape[1]):
            h = self.cell(noise[:, t], h)
            states.append(h)
        return torch.stack(states, dim=1)


class ImageGenerator(nn.Module):
    """DCGAN: latent (N x D) -> N x 3 x 64 x 64; ConvT 4x4 (BN + ReLU), then ConvT to RGB + Tanh."""

    def __init__(self, dim_latent: int, width: float):
        super().__init__()
        chans = [dim_latent] + [scaled(c, width) for c in IMAGE_GENERATOR]
        layers = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(chans[-1], 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(latent[:, :, None, None])


class VideoGenerator(nn.Module):
    """(image, label, noise) -> clip 3 x T x 64 x 64 in [-1, 1], one DCGAN pass per frame."""

    def __init__(self, num_classes: int, width: float = 1.0, dim_content: int = 50, dim_motion: int = 10,
                 frames: int = 32, conditional: bool = True):
        super().__init__()
        self.num_classes, self.frames, self.conditional = num_classes, frames, conditional
        self.dim_content, self.dim_motion = dim_content, dim_motion
        self.noise_size = noise_size(frames, dim_motion, dim_content, conditional)
        self.encoder = ContentEncoder(width, dim_content) if conditional else None
        self.motion = MotionGRU(dim_motion)
        self.image_generator = ImageGenerator(dim_content + num_classes + dim_motion, width)

    def codes(self, image: torch.Tensor, label: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        """Per-frame latents ``B x T x (dim_content + K + dim_motion)``: [z_C, z_A, z_M(t)]."""
        b, t = z.shape[0], self.frames
        if self.conditional:
            content, motion_noise = self.encoder(image), z
        else:
            content, motion_noise = z[:, : self.dim_content], z[:, self.dim_content :]
        motion = self.motion(motion_noise.reshape(b, t + 1, self.dim_motion).to(content.dtype))
        category = one_hot(label, self.num_classes, b, content)
        static = torch.cat([content, category], dim=1)[:, None].expand(b, t, -1)
        return torch.cat([static, motion], dim=2)

    def forward(self, image: torch.Tensor, label: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        latents = self.codes(image, label, z)
        b, t = latents.shape[:2]
        frames = self.image_generator(latents.flatten(0, 1))  # (B*T) x 3 x 64 x 64
        return frames.unflatten(0, (b, t)).transpose(1, 2)  # B x 3 x T x 64 x 64


# --- discriminators ------------------------------------------------------------------------
class PatchImageDiscriminator(nn.Module):
    """Frames N x 3 x 64 x 64 -> N x 4 x 4 real/fake logits (LeakyReLU 0.2; BN from the second conv)."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        chans = [3] + [scaled(c, width) for c in IMAGE_DISC]
        layers = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
            layers += ([nn.BatchNorm2d(cout)] if i > 0 else []) + [nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Conv2d(chans[-1], 1, 4, 2, 1, bias=False))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)[:, 0]


class CategoricalVideoDiscriminator(nn.Module):
    """Clips B x 3 x T x 64 x 64 -> (real/fake logits B x T', class logits B x K).

    Conv3d kernel 4, stride (1, 2, 2), padding (0, 1, 1) to 64, 128, 256, 512 channels (BN from the
    second, LeakyReLU 0.2), then Conv3d kernel 4 to 1 + K. ``T' = T - 15`` (17 for 32 frames).
    """

    def __init__(self, num_classes: int, width: float = 1.0):
        super().__init__()
        self.num_classes = num_classes
        chans = [3] + [scaled(c, width) for c in VIDEO_DISC]
        layers = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.Conv3d(cin, cout, 4, (1, 2, 2), (0, 1, 1), bias=False)]
            layers += ([nn.BatchNorm3d(cout)] if i > 0 else []) + [nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Conv3d(chans[-1], 1 + num_classes, 4, 1, 0, bias=False))

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(video).flatten(2)  # B x (1 + K) x T'
        return out[:, 0], out[:, 1:].mean(dim=2)


def build_networks(num_classes: int, width: float = 1.0, dim_content: int = 50, dim_motion: int = 10,
                   frames: int = 32, conditional: bool = True) -> dict[str, nn.Module]:
    """G, D_I (patch image discriminator) and D_V (categorical video discriminator)."""
    return {
        "G": VideoGenerator(num_classes, width, dim_content, dim_motion, frames, conditional),
        "D_I": PatchImageDiscriminator(width),
        "D_V": CategoricalVideoDiscriminator(num_classes, width),
    }
