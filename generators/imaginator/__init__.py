"""The ImaGINator backend: config, presets and the glue between :mod:`.model` and the interface."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import Batch, GeneratorBackend, GeneratorConfig, StepState
from vbench_i2v.generators.imaginator import model as M
from vbench_i2v.generators.imaginator.train_step import train_step
from vbench_i2v.generators.registry import GENERATORS


@dataclass
class ImaginatorConfig(GeneratorConfig):
    """Model switches (the paper's ablations) and training hyper-parameters.

    ``width`` defaults to 0.25 so CPU training is practical (1.0 = the published 75 M parameter G).
    The released code trained with batch 64; the default here is 16 for CPU.
    """

    width: float = 0.25
    batch_size: int = 16
    dim_z: int = 512
    dim_a: int = 100
    conv: str = "1+2d"  # "1+2d" | "3d"
    fusion: bool = True
    noise: bool = True
    d_image: bool = True
    d_video: str = "projection"  # "projection" (label fused) | "aux-classifier" (D_V(ac))
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    l1_weight: float = 100.0
    l1_mean: bool = True  # True: mean absolute error; False: summed per clip, averaged over the batch
    wrong_label: bool = False  # Algorithm 1's wrong-label negatives for D_V
    # G's label input: one-hot x label_scale at every decoder level (1.0 = released code; see
    # docs/imaginator-label-path.md). No weights depend on it.
    label_scale: float = field(default=1.0, metadata={"min": 0.0})
    # weight of G's adversarial terms (1.0 = published; 0 = L1 regression only, D not trained)
    adv_weight: float = field(default=1.0, metadata={"min": 0.0})
    # init of the decoder's transposed convs: "normal" = N(0, 0.02) like every other conv (the
    # paper's rule); "default" = PyTorch's default init, what the released code does (its init loop
    # misses ConvTranspose3d). The field default is what checkpoints saved before it existed used.
    transposed_init: str = field(default="normal", metadata={"choices": ("normal", "default")})
    # order of the two updates within a step: "d-first" (Algorithm 1) or "g-first" (the released
    # trainer: G steps against the current D, then D steps on the same, detached, fake clips)
    update_order: str = field(default="d-first", metadata={"choices": ("d-first", "g-first")})


PRESETS = {
    # Algorithm 1 of the paper.
    "paper": {"wrong_label": True, "lr_g": 2e-4, "lr_d": 5e-5, "beta1": 0.5, "beta2": 0.999,
              "l1_weight": 1e-3, "l1_mean": False, "transposed_init": "normal", "update_order": "d-first"},
    # wyhsirius/ImaGINator as released.
    "released": {"wrong_label": False, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                 "l1_weight": 100.0, "l1_mean": True, "transposed_init": "default", "update_order": "g-first"},
}


@GENERATORS.register("imaginator")
class Imaginator(GeneratorBackend):
    name = "imaginator"
    Config = ImaginatorConfig
    presets = PRESETS
    default_preset = "released"
    config_choices = {"conv": ("1+2d", "3d"), "d_video": ("projection", "aux-classifier")}
    description = "ImaGINator (WACV 2020): (1+2)D transposed decoder, spatio-temporal fusion, D_V + D_I"

    def build(self, num_classes: int) -> None:
        c = self.config
        if c.conv not in ("1+2d", "3d"):
            raise InputError(f"imaginator: conv must be 1+2d or 3d, got {c.conv!r}")
        if c.d_video not in ("projection", "aux-classifier"):
            raise InputError(f"imaginator: d_video must be projection or aux-classifier, got {c.d_video!r}")
        nets = M.build_networks(num_classes, c.width, c.dim_z, c.dim_a, c.conv, c.fusion, c.noise,
                                c.d_image, c.d_video, label_scale=c.label_scale, transposed_init=c.transposed_init)
        self.nets["G"], self.nets["D_V"] = nets.G, nets.D_V
        if nets.D_I is not None:
            self.nets["D_I"] = nets.D_I

    def z_shape(self, batch: int):
        g = self.nets["G"]
        return (batch, g.dim_z) if g.dim_z else None

    def _generate(self, images, labels, z):
        return self.nets["G"](images, labels, z)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        d_params = [p for k, m in self.nets.items() if k != "G" for p in m.parameters()]
        return {
            "G": torch.optim.Adam(self.nets["G"].parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2)),
            "D": torch.optim.Adam(d_params, lr=c.lr_d, betas=(c.beta1, c.beta2)),
        }

    def _train_step(self, batch: Batch, state: StepState) -> dict[str, float]:
        return train_step(self, batch, state)


__all__ = ["Imaginator", "ImaginatorConfig", "PRESETS"]
