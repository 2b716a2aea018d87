"""The floor of every leaderboard: repeat the conditioning image for all 32 frames.

SSIM and PSNR reward staying close to the first frame, so a model that does not beat this
backend on them has learnt nothing about motion that those metrics can see.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vbench_i2v import protocol
from vbench_i2v.generators.base import GeneratorBackend, GeneratorConfig
from vbench_i2v.generators.registry import GENERATORS


@dataclass
class CopyFirstFrameConfig(GeneratorConfig):
    pass


@GENERATORS.register("copy-first-frame")
class CopyFirstFrame(GeneratorBackend):
    name = "copy-first-frame"
    Config = CopyFirstFrameConfig
    trainable = False
    description = "repeats the conditioning image 32 times (no parameters)"

    def build(self, num_classes: int) -> None:
        pass  # nothing to learn

    def _generate(self, images: torch.Tensor, labels, z) -> torch.Tensor:
        return images.unsqueeze(2).expand(-1, -1, protocol.CLIP_FRAMES, -1, -1).contiguous()
