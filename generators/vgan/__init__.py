"""The VGAN backend: config, presets and the glue between :mod:`.model` and the interface.

Two modes (config field ``mode``):

- ``i2v`` (default): the adaptation of docs/models.md, "Baselines": VGAN's "future generation" encoder of the
  input frame, plus noise and the label one-hot in the code, the label fused into the
  discriminator, the first-frame L1 term and ImaGINator's clip L1 term.
- ``unconditional``: VGAN as published: the code is 100-d noise, no label anywhere. ``generate``
  keeps the same signature for every backend, so it still receives the conditioning images and
  (for labelled models) the labels: both are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch, GeneratorBackend, GeneratorConfig, StepState
from vbench_i2v.generators.registry import GENERATORS
from vbench_i2v.generators.vgan import model as M
from vbench_i2v.generators.vgan.train_step import train_step

MODES = ("i2v", "unconditional")


@dataclass
class VganConfig(GeneratorConfig):
    """Model and training hyper-parameters (published values unless noted).

    ``width`` 0.25 and ``batch_size`` 16 match ImaGINator's CPU defaults, so the backends are
    compared at the same width and clips per step (published: width 1, batch 64).
    """

    width: float = 0.25
    batch_size: int = 16
    mode: str = "i2v"  # "i2v" | "unconditional"
    dim_z: int = 100
    dim_code: int = 100  # i2v only: size of the encoded input frame
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    mask_weight: float = 0.1  # L1 sparsity on the mask (its mean)
    l1_weight: float = 100.0  # i2v only: ImaGINator's clip reconstruction term, same weight
    first_frame_weight: float = 100.0  # i2v only: L1(input frame, generated first frame)
    l1_mean: bool = True  # True: mean absolute error; False: summed per clip/frame, averaged over the batch


PRESETS = {
    # L1 terms as ImaGINator's released code weighs its L1 (ImaGINator's default preset).
    "released": {"mode": "i2v", "l1_weight": 100.0, "first_frame_weight": 100.0, "l1_mean": True},
    # L1 terms as ImaGINator's paper (Algorithm 1) weighs its L1.
    "paper": {"mode": "i2v", "l1_weight": 1e-3, "first_frame_weight": 1e-3, "l1_mean": False},
    # VGAN as published: unconditional, batch 64, no L1 terms.
    "unconditional": {"mode": "unconditional", "batch_size": 64, "l1_weight": 0.0, "first_frame_weight": 0.0},
}


@GENERATORS.register("vgan")
class Vgan(GeneratorBackend):
    name = "vgan"
    Config = VganConfig
    presets = PRESETS
    default_preset = "released"
    config_choices = {"mode": MODES}
    description = ("VGAN (NeurIPS 2016) adapted to image-to-video: frame encoder + noise + label code, "
                   "3D foreground/mask + 2D background, 3D D with label fusion (mode=unconditional: as published)")

    def build(self, num_classes: int) -> None:
        c = self.config
        if c.mode not in MODES:
            raise InputError(f"vgan: mode must be one of {', '.join(MODES)}, got {c.mode!r}")
        for key in ("dim_z", "dim_code"):
            if getattr(c, key) < 1:
                raise InputError(f"vgan: {key} must be >= 1, got {getattr(c, key)}")
        nets = M.build_networks(num_classes, c.width, c.dim_z, c.dim_code, conditional=c.mode == "i2v")
        for key, net in nets.items():
            self.nets[key] = net

    def z_shape(self, batch: int):
        return (batch, self.config.dim_z)

    def _generate(self, images, labels, z):
        return self.nets["G"](images, labels, z)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        return {"G": torch.optim.Adam(self.nets["G"].parameters(), lr=c.lr_g, betas=betas),
                "D": torch.optim.Adam(self.nets["D"].parameters(), lr=c.lr_d, betas=betas)}

    def _train_step(self, batch: Batch, state: StepState) -> dict[str, float]:
        return train_step(self, batch, state)


__all__ = ["Vgan", "VganConfig", "PRESETS"]
