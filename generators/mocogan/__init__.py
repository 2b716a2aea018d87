"""The MoCoGAN backend: config, presets and the glue between :mod:`.model` and the interface.

Two modes (config field ``mode``):

- ``i2v`` (default): the image-to-video adaptation of docs/models.md, "Baselines" that the ImaGINator paper
  compares against: content code from an encoder of the conditioning frame, category = the given
  label, plus ImaGINator's L1 reconstruction term.
- ``unconditional``: MoCoGAN as published: content code from noise, categories sampled during
  training. ``generate`` keeps the same signature for every backend, so it still receives the
  conditioning images: they are ignored (the label, when the model has classes, still picks the
  category, as in the published code). Its noise ``z`` then also carries the content code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vbench_i2v import protocol
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch, GeneratorBackend, GeneratorConfig, StepState
from vbench_i2v.generators.mocogan import model as M
from vbench_i2v.generators.mocogan.train_step import train_step
from vbench_i2v.generators.registry import GENERATORS

MODES = ("i2v", "unconditional")


@dataclass
class MocoganConfig(GeneratorConfig):
    """Model and training hyper-parameters (published values unless noted).

    ``width`` 0.25 and ``batch_size`` 16 match ImaGINator's CPU defaults, so the backends are
    compared at the same width and clips per step (published: width 1, video batch 3).
    """

    width: float = 0.25
    batch_size: int = 16  # clips per step (the video discriminator's batch)
    mode: str = "i2v"  # "i2v" | "unconditional"
    dim_content: int = 50
    dim_motion: int = 10
    image_batch: int = 10  # frames per step for the image discriminator
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 1e-5
    l1_weight: float = 100.0  # i2v only: ImaGINator's reconstruction term, same weight
    l1_mean: bool = True  # True: mean absolute error; False: summed per clip, averaged over the batch


PRESETS = {
    # L1 term as ImaGINator's released code has it (ImaGINator's default preset).
    "released": {"mode": "i2v", "l1_weight": 100.0, "l1_mean": True},
    # L1 term as ImaGINator's paper (Algorithm 1) has it.
    "paper": {"mode": "i2v", "l1_weight": 1e-3, "l1_mean": False},
    # MoCoGAN as published: unconditional, video batch 3, image batch 10, no L1.
    "unconditional": {"mode": "unconditional", "batch_size": 3, "image_batch": 10, "l1_weight": 0.0},
}


@GENERATORS.register("mocogan")
class Mocogan(GeneratorBackend):
    name = "mocogan"
    Config = MocoganConfig
    presets = PRESETS
    default_preset = "released"
    config_choices = {"mode": MODES}
    description = ("MoCoGAN (CVPR 2018) adapted to image-to-video: encoder content code, label category, "
                   "GRU motion, per-frame DCGAN, patch D_I + categorical D_V (mode=unconditional: as published)")

    def build(self, num_classes: int) -> None:
        c = self.config
        if c.mode not in MODES:
            raise InputError(f"mocogan: mode must be one of {', '.join(MODES)}, got {c.mode!r}")
        for key in ("dim_content", "dim_motion", "image_batch"):
            if getattr(c, key) < 1:
                raise InputError(f"mocogan: {key} must be >= 1, got {getattr(c, key)}")
        nets = M.build_networks(num_classes, c.width, c.dim_content, c.dim_motion, protocol.CLIP_FRAMES,
                                conditional=c.mode == "i2v")
        for key, net in nets.items():
            self.nets[key] = net

    def z_shape(self, batch: int):
        return (batch, self.nets["G"].noise_size)

    def _generate(self, images, labels, z):
        return self.nets["G"](images, labels, z)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        d_params = [p for k in ("D_I", "D_V") for p in self.nets[k].parameters()]
        adam = dict(betas=(c.beta1, c.beta2), weight_decay=c.weight_decay)
        return {"G": torch.optim.Adam(self.nets["G"].parameters(), lr=c.lr_g, **adam),
                "D": torch.optim.Adam(d_params, lr=c.lr_d, **adam)}

    def _train_step(self, batch: Batch, state: StepState) -> dict[str, float]:
        return train_step(self, batch, state)


__all__ = ["Mocogan", "MocoganConfig", "PRESETS"]
