"""Generator backends by name: ours, plus any a third-party package adds through the entry-point
group ``vbench_i2v.generators`` (``[project.entry-points."vbench_i2v.generators"] mine = "pkg:MyBackend"``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from vbench_i2v.errors import InputError, VBenchError
from vbench_i2v.generators.base import GeneratorBackend, read_checkpoint_meta
from vbench_i2v.registry import Registry

GENERATORS: Registry[type[GeneratorBackend]] = Registry("generator", entry_point_group="vbench_i2v.generators")

# Our backends; each module registers itself with ``@GENERATORS.register(name)`` on import.
_MODULES = [
    "vbench_i2v.generators.imaginator",
    "vbench_i2v.generators.copy_first_frame",
    "vbench_i2v.generators.mocogan",
    "vbench_i2v.generators.vgan",
]


def _load_modules() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def get_generator(name: str) -> type[GeneratorBackend]:
    """The backend class registered as ``name`` (a clear error lists the known ones)."""
    _load_modules()
    try:
        return GENERATORS.get(name)
    except VBenchError as exc:
        raise InputError(str(exc)) from None


def generator_names() -> list[str]:
    _load_modules()
    return GENERATORS.names()


SHIPPED = Path(__file__).resolve().parent / "checkpoints"


def shipped_checkpoint(backend: str, dataset: str = "synthetic") -> Path | None:
    """The small checkpoint shipped in the package for ``backend`` on ``dataset``, if there is one
    (``generators/checkpoints/<backend>-<dataset>/``, written by ``scripts/train_shipped_checkpoints.py``)."""
    path = SHIPPED / f"{backend}-{dataset}"
    return path if (path / "config.json").exists() and (path / "model.safetensors").exists() else None


def load_checkpoint(directory, device: str | torch.device = "cpu", expect: str | None = None) -> GeneratorBackend:
    """Load any saved generator: ``config.json`` names the backend, which rebuilds itself.

    ``expect`` (a backend name) turns a checkpoint of another backend into a clear error.
    """
    meta = read_checkpoint_meta(Path(directory))
    if expect is not None and meta["backend"] != expect:
        raise InputError(f"{directory}: checkpoint is for generator {meta['backend']!r}, not {expect!r}")
    return get_generator(meta["backend"]).load(directory, device=device)
