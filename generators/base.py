"""The generator backend interface: one class per backend, the same calls for every one.

A backend turns a conditioning image (and a class label) into a 32-frame clip::

    videos = backend.generate(images, labels, z=None)   # B x 3 x 64 x 64 in [-1, 1] -> B x 3 x 32 x 64 x 64

and knows how to build its networks, take one training step, and save/load itself as
``model.safetensors`` + ``config.json``. Everything else (the training loop, checkpoints with
optimiser and RNG state, loss logs, sample grids, resume) lives once in :mod:`.training`, whose
``Trainer`` owns that state and hands a step what it needs (:class:`StepState`). This module
knows nothing of the loop: :mod:`.training` imports it, never the reverse.

See docs/architecture.md ("Add a backend") for how to add a backend.

Why this module is over 400 lines: it is the backend contract (interface, config schema and overrides, step state, checkpoint format) that every backend implements; a backend author reads one file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vbench_i2v import protocol
from vbench_i2v.devices import resolve_device
from vbench_i2v.files import atomic_path, atomic_write_json
from vbench_i2v.errors import InputError
from vbench_i2v.options import Option, Schema, parse_options

CHECKPOINT_FORMAT = "vbench-i2v-generator"
CHECKPOINT_VERSION = 1
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class GeneratorConfig:
    """Fields every backend config has; a backend subclasses this and adds its own.

    Rules for backend configs: every field has a default, every value is a JSON scalar
    (bool, int, float, str), model and training hyper-parameters live side by side, and
    ``width`` multiplies every layer's channel count (1.0 = the published widths).
    """

    width: float = 1.0
    batch_size: int = 8
    preset: str = ""


@dataclass
class Batch:
    """One training batch, already on the backend's device, in model convention."""

    video: torch.Tensor  # B x 3 x 32 x 64 x 64 in [-1, 1]
    label: torch.Tensor | None  # B int64 class ids, or None for unlabelled datasets

    @property
    def image(self) -> torch.Tensor:
        """The conditioning image: the clip's first frame, B x 3 x 64 x 64."""
        return self.video[:, :, 0]

    def __len__(self) -> int:
        return self.video.shape[0]


@dataclass
class StepState:
    """What one training step works with, handed to :meth:`GeneratorBackend.train_step` by its owner.

    The training loop (:class:`~vbench_i2v.generators.training.Trainer`) owns the optimisers, the
    AMP switch and, under torchrun, the DistributedDataParallel wrappers; a step reads them from
    here instead of from attributes someone set on the backend. ``nets`` has the backend's keys
    and shares its parameters: the plain networks in one process, DDP wrappers under torchrun.
    """

    nets: nn.ModuleDict
    optimizers: dict[str, torch.optim.Optimizer]
    amp: bool = False  # bf16 autocast; only takes effect on CUDA
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    def autocast(self):
        """bf16 autocast on CUDA when ``amp`` is set; a no-op elsewhere."""
        if self.amp and torch.device(self.device).type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()


class GeneratorBackend:
    """Base class of every generator backend.

    Subclasses set ``name``, ``Config`` (a :class:`GeneratorConfig` subclass), ``presets``
    (name -> field overrides) and implement :meth:`build`, :meth:`_generate`, and, when
    ``trainable``, :meth:`configure_optimizers` and :meth:`_train_step`.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[GeneratorConfig]] = GeneratorConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None
    published_width: ClassVar[float] = 1.0
    trainable: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # allowed values of str (or other) config fields, e.g. {"mode": ("i2v", "unconditional")}; a field
    # may also say it itself: ``mode: str = field(default="i2v", metadata={"choices": (...)})``
    config_choices: ClassVar[dict[str, tuple]] = {}

    def __init__(self, config: GeneratorConfig | None = None, num_classes: int = 0,
                 label_names: list[str] | None = None, dataset: str = "", device: str | torch.device = "cpu"):
        self.config = config if config is not None else self.make_config()
        if not isinstance(self.config, self.Config):
            raise InputError(f"{self.name}: config must be a {self.Config.__name__}, got {type(self.config).__name__}")
        if label_names is not None and len(label_names) != num_classes:
            raise InputError(f"{self.name}: {len(label_names)} label names for {num_classes} classes")
        self.num_classes = int(num_classes)
        self.label_names = list(label_names) if label_names is not None else None
        self.dataset = dataset
        self.nets = nn.ModuleDict()
        # For steps called by hand (tests, benchmarks: see step_state); the training loop keeps its own.
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.amp = False  # bf16 autocast in generate() on CUDA
        self.build(self.num_classes)
        self.device = torch.device("cpu")
        self.to(device)

    # --- what a backend provides -------------------------------------------------------
    def build(self, num_classes: int) -> None:
        """Create the networks into ``self.nets`` (an ``nn.ModuleDict``); everything saved lives there."""
        raise NotImplementedError

    def _generate(self, images: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor | None) -> torch.Tensor:
        """Validated inputs on the device -> ``B x 3 x 32 x 64 x 64`` in [-1, 1]."""
        raise NotImplementedError

    def z_shape(self, batch: int) -> tuple[int, ...] | None:
        """Shape of the noise for ``batch`` clips, or None when the backend takes no noise."""
        return None

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimisers by name (saved and restored with the training state)."""
        raise NotImplementedError(f"{self.name} is not trainable")

    def _train_step(self, batch: Batch, state: StepState) -> dict[str, float]:
        """One optimisation step on ``batch`` with ``state``'s networks, optimisers and autocast;
        returns float losses by name (the csv columns)."""
        raise NotImplementedError(f"{self.name} is not trainable")

    # --- training steps --------------------------------------------------------------------
    def train_step(self, batch: Batch, state: StepState | None = None) -> dict[str, float]:
        """One optimisation step on ``batch``; returns float losses by name.

        The training loop passes its :class:`StepState`. Called by hand without one, the step
        uses :meth:`step_state` (these networks, this model's own optimisers).
        """
        if not self.trainable:
            raise NotImplementedError(f"{self.name} is not trainable")
        return self._train_step(batch, self.step_state() if state is None else state)

    def step_state(self) -> StepState:
        """The state for steps called by hand: ``self.nets``, ``self.optimizers`` (made by
        :meth:`configure_optimizers` when empty) and ``self.amp``."""
        if not self.optimizers:
            self.optimizers = self.configure_optimizers()
        return StepState(self.nets, self.optimizers, amp=self.amp, device=self.device)

    # --- configs and presets -----------------------------------------------------------
    @classmethod
    def make_config(cls, preset: str | None = None, width: float | None = None,
                    overrides: dict[str, Any] | None = None) -> GeneratorConfig:
        """Defaults, then the preset's overrides, then ``width``, then ``key=value`` overrides."""
        preset = preset if preset is not None else cls.default_preset
        values: dict[str, Any] = {}
        if preset:
            if preset not in cls.presets:
                known = ", ".join(sorted(cls.presets)) or "none"
                raise InputError(f"unknown preset {preset!r} for {cls.name} (presets: {known})")
            values.update(cls.presets[preset])
            values["preset"] = preset
        if width is not None:
            values["width"] = width
        values.update(overrides or {})
        return cls.config_from_dict(values)

    @classmethod
    def config_fields(cls) -> dict[str, type]:
        hints = typing.get_type_hints(cls.Config)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls.Config)}

    @classmethod
    def config_schema(cls) -> Schema:
        """The config as an option schema: one typed option per dataclass field (bool, int, float
        or str, default from the field), with allowed values from ``config_choices`` or the
        field's ``metadata["choices"]`` and a range from ``metadata["min"/"max"]``."""
        kinds = {bool: "bool", int: "int", float: "float", str: "str"}
        hints = typing.get_type_hints(cls.Config)
        opts = []
        for f in dataclasses.fields(cls.Config):
            typ = hints[f.name]
            if typ not in kinds:
                raise TypeError(f"{cls.Config.__name__}.{f.name}: config fields must be bool, int, float or str, "
                                f"not {typ}")
            choices = tuple(f.metadata.get("choices", ())) or tuple(cls.config_choices.get(f.name, ()))
            kind = "choice" if choices and typ is str else kinds[typ]
            default = f.default if f.default is not dataclasses.MISSING else None
            opts.append(Option(f.name, kind, default, help=f.metadata.get("help", ""), choices=choices,
                               min=f.metadata.get("min"), max=f.metadata.get("max")))
        return Schema(*opts, noun=f"{cls.name} config key")

    @classmethod
    def config_from_dict(cls, values: dict[str, Any]) -> GeneratorConfig:
        fields = cls.config_fields()
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise InputError(f"unknown {cls.name} config key(s) {', '.join(unknown)} (known: {', '.join(fields)})")
        schema = cls.config_schema()
        cfg = cls.Config(**{k: schema.coerce(k, v) for k, v in values.items()})
        if not cfg.width > 0:
            raise InputError(f"{cls.name}: width must be > 0, got {cfg.width}")
        if cfg.batch_size < 1:
            raise InputError(f"{cls.name}: batch_size must be >= 1, got {cfg.batch_size}")
        return cfg

    @classmethod
    def parse_overrides(cls, pairs: list[str]) -> dict[str, Any]:
        """``["lr_g=1e-4", "fusion=off"]`` -> typed dict (for ``--set key=value``), through the one
        option parser (:func:`vbench_i2v.options.parse_options`) with :meth:`config_schema`:
        unknown keys, keys given twice, wrong types and values outside the allowed ones are refused."""
        return parse_options(list(pairs or ()), cls.config_schema(), flag="--set")

    # --- devices and modes -------------------------------------------------------------
    def to(self, device: str | torch.device) -> "GeneratorBackend":
        self.device = resolve_device(device)
        self.nets.to(self.device)
        return self

    def autocast(self):
        """bf16 autocast on CUDA when ``self.amp`` is set; a no-op elsewhere."""
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def compile(self) -> None:
        """Compile every network in place (keeps state-dict keys); used on CUDA only."""
        for module in self.nets.values():
            module.compile()

    def parameter_count(self, net: str | None = None) -> int:
        modules = [self.nets[net]] if net else list(self.nets.values())
        return sum(p.numel() for m in modules for p in m.parameters())

    def parameter_counts(self) -> dict[str, int]:
        return {k: sum(p.numel() for p in m.parameters()) for k, m in self.nets.items()}

    @classmethod
    def count_parameters(cls, width: float | None = None, num_classes: int = 7, **overrides) -> dict[str, int]:
        """Parameter counts per network without allocating memory (built on the meta device)."""
        cfg = cls.make_config(width=width, overrides=overrides)
        with torch.device("meta"):
            model = cls(cfg, num_classes=num_classes, device="meta")
        return model.parameter_counts()

    # --- generation --------------------------------------------------------------------
    def sample_z(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        shape = self.z_shape(batch)
        if shape is None:
            return None
        z = torch.randn(shape, generator=generator, device=generator.device if generator else "cpu")
        return z.to(self.device)

    def label_id(self, label) -> int | None:
        """A label name or id -> class id (``None`` for unlabelled models), with clear errors."""
        if self.num_classes == 0:
            if label in (None, "", "none"):
                return None
            raise InputError(f"{self.name} model was trained without labels, got label {label!r}")
        if label is None:
            raise InputError(f"{self.name} model needs a label (0..{self.num_classes - 1}"
                             + (f" or one of {', '.join(self.label_names)})" if self.label_names else ")"))
        if isinstance(label, str) and not label.lstrip("-").isdigit():
            if not self.label_names or label not in self.label_names:
                known = ", ".join(self.label_names) if self.label_names else "no names recorded"
                raise InputError(f"unknown label {label!r} (labels: {known})")
            return self.label_names.index(label)
        idx = int(label)
        if not 0 <= idx < self.num_classes:
            raise InputError(f"label id {idx} out of range (0..{self.num_classes - 1})")
        return idx

    @torch.no_grad()
    def generate(self, images, labels=None, z: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditioning images (+ labels, + noise) -> clips ``B x 3 x 32 x 64 x 64`` in [-1, 1].

        ``images``: float ``B x 3 x 64 x 64`` in [-1, 1] (or ``3 x 64 x 64``), or uint8
        ``[B x] 64 x 64 x 3`` converted by :mod:`vbench_i2v.tensors`. ``labels``: ``B`` ints
        (a tensor, list, or one int for all), or None for unlabelled models. ``z``: the
        backend's noise (``z_shape(B)``); drawn from ``generator`` (or the global RNG) when None.
        Networks run in eval mode here and are put back as they were.
        """
        images = self._check_images(images)
        labels = self._check_labels(labels, images.shape[0])
        if z is None:
            z = self.sample_z(images.shape[0], generator)
        elif self.z_shape(images.shape[0]) is None:
            raise InputError(f"{self.name} takes no noise, got z of shape {tuple(z.shape)}")
        else:
            want = self.z_shape(images.shape[0])
            if tuple(z.shape) != tuple(want):
                raise InputError(f"{self.name}: z must have shape {tuple(want)}, got {tuple(z.shape)}")
            z = z.to(self.device, torch.float32)
        was_training = {k: m.training for k, m in self.nets.items()}
        self.nets.eval()
        try:
            with self.autocast():
                out = self._generate(images, labels, z)
        finally:
            for k, m in self.nets.items():
                m.train(was_training[k])
        return out.float()

    def _check_images(self, images) -> torch.Tensor:
        from vbench_i2v import tensors

        if isinstance(images, np.ndarray):
            images = torch.from_numpy(np.ascontiguousarray(images))
        if not isinstance(images, torch.Tensor):
            raise InputError(f"images must be a tensor or array, got {type(images).__name__}")
        if images.dtype == torch.uint8:
            if images.ndim not in (3, 4) or images.shape[-1] != 3:
                raise InputError(f"uint8 images must be [B x] H x W x 3, got shape {tuple(images.shape)}")
            images = tensors.image_to_model(images)
        if images.ndim == 3:
            images = images.unsqueeze(0)
        s = protocol.SIZE
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, s, s):
            raise InputError(f"images must be B x 3 x {s} x {s} (got shape {tuple(images.shape)}); "
                             f"resize conditioning frames to {s}x{s} first")
        if not images.is_floating_point():
            raise InputError(f"images must be float in [-1, 1] or uint8, got {images.dtype}")
        if not torch.isfinite(images).all():
            raise InputError("images contain NaN or infinite values")
        lo, hi = float(images.min()), float(images.max())
        if lo < -1.001 or hi > 1.001:
            raise InputError(f"float images must be in [-1, 1], got values in [{lo:.3g}, {hi:.3g}]")
        return images.to(self.device, torch.float32)

    def _check_labels(self, labels, batch: int) -> torch.Tensor | None:
        if self.num_classes == 0:
            if labels is None:
                return None
            raise InputError(f"{self.name} model was trained without labels; pass labels=None")
        if labels is None:
            raise InputError(f"{self.name} model needs labels (0..{self.num_classes - 1})")
        if isinstance(labels, (int, np.integer, str)):
            labels = [self.label_id(labels)] * batch
        labels = torch.as_tensor(labels if isinstance(labels, torch.Tensor) else
                                 [self.label_id(x) if isinstance(x, str) else x for x in labels])
        if labels.ndim != 1 or labels.shape[0] != batch:
            raise InputError(f"expected {batch} labels, got shape {tuple(labels.shape)}")
        if labels.is_floating_point():
            raise InputError(f"labels must be integer class ids, got {labels.dtype}")
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if len(bad):
            raise InputError(f"label id {int(bad[0])} out of range (0..{self.num_classes - 1})")
        return labels.to(self.device, torch.long)

    # --- save / load -------------------------------------------------------------------
    def checkpoint_meta(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "backend": self.name,
            "config": dataclasses.asdict(self.config),
            "num_classes": self.num_classes,
            "label_names": self.label_names,
            "dataset": self.dataset,
            "parameters": self.parameter_counts(),
        }

    def save(self, directory, extra: dict[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (each file atomically)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.nets.state_dict().items()}
        with atomic_path(directory / MODEL_FILE) as tmp:
            save_file(state, str(tmp), metadata={"backend": self.name})
        meta = self.checkpoint_meta()
        meta.update(extra or {})
        atomic_write_json(directory / CONFIG_FILE, meta)
        return directory

    @classmethod
    def load(cls, directory, device: str | torch.device = "cpu") -> "GeneratorBackend":
        """Rebuild a saved model; a checkpoint of another backend is a clear error."""
        from safetensors.torch import load_file

        directory = Path(directory)
        meta = read_checkpoint_meta(directory)
        if meta["backend"] != cls.name:
            raise InputError(f"{directory}: checkpoint is for generator {meta['backend']!r}, not {cls.name!r}")
        cfg = cls.config_from_dict(meta["config"])
        model = cls(cfg, num_classes=meta["num_classes"], label_names=meta.get("label_names"),
                    dataset=meta.get("dataset", ""), device="cpu")
        weights = directory / MODEL_FILE
        if not weights.exists():
            raise InputError(f"{directory}: no {MODEL_FILE} beside {CONFIG_FILE}")
        try:
            state = load_file(str(weights))
        except Exception as exc:
            raise InputError(f"{weights}: cannot read weights ({type(exc).__name__}: {exc})") from None
        try:
            model.nets.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{weights}: weights do not match the config ({first})") from None
        return model.to(device)

    # --- what a run records about the route (see vbench_i2v.run) ----------------------
    def source_record(self) -> dict:
        """Extra fields of results.json's ``generator`` section: how the clips were made. A backend
        says ``source: backend``; an adapter (a callable, :mod:`.callable_backend`) says more."""
        return {"source": "backend"}

    def identity_sha256(self) -> str | None:
        """What names the run folder when there is no checkpoint (None: nothing beyond the config)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, num_classes={self.num_classes}, config={self.config})"


# --- helpers -----------------------------------------------------------------------------
def read_checkpoint_meta(directory) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not path.exists():
        raise InputError(f"{directory}: not a generator checkpoint (no {CONFIG_FILE})")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT or "backend" not in meta:
        raise InputError(f"{path}: not a vbench-i2v generator config")
    return meta

