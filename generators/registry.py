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


def _shipped_root() -> Path:
    import vbench_i2v.generators as gens  # looked up at call time: tests point it at a copy

    return Path(gens.__file__).resolve().parent / "checkpoints"


def pretrained_names() -> list[str]:
    """Registered pretrained entries, ``<backend>.<dataset>`` (timm's ``name.tag``), one per line of
    ``checkpoints/SHA256SUMS``: adding a shipped checkpoint is its folder plus its sha256 line."""
    from vbench_i2v.files import read_sha256sums

    sums_path = _shipped_root() / "SHA256SUMS"
    if not sums_path.exists():
        return []
    return sorted(_entry_name(name.split("/")[0]) for name in read_sha256sums(sums_path)
                  if name.endswith("/model.safetensors"))


def _entry_name(folder: str) -> str:
    """``imaginator-synthetic`` -> ``imaginator.synthetic`` (backend names may hold hyphens)."""
    for dataset in sorted(_dataset_names(), key=len, reverse=True):
        if folder.endswith("-" + dataset):
            return f"{folder[: -len(dataset) - 1]}.{dataset}"
    return folder.replace("-", ".", 1)


def _dataset_names() -> list[str]:
    from vbench_i2v.datasets import dataset_names

    return dataset_names()


def pretrained(name: str) -> Path:
    """The folder of the pretrained entry ``name`` (e.g. ``imaginator.synthetic``), after checking
    its weights against the recorded sha256. The one lookup for shipped checkpoints."""
    from vbench_i2v.files import read_sha256sums, sha256_file

    backend, _, dataset = name.partition(".")
    root = _shipped_root()
    path = root / f"{backend}-{dataset}"
    sums_path = root / "SHA256SUMS"
    if not dataset or not (path / "config.json").exists():
        raise InputError(f"no pretrained entry {name!r} (known: {', '.join(pretrained_names()) or 'none'})")
    rel = f"{path.name}/model.safetensors"
    sums = read_sha256sums(sums_path) if sums_path.exists() else {}
    if rel not in sums:
        raise InputError(f"{path}: shipped checkpoint has no sha256 in {sums_path}")
    got = sha256_file(path / "model.safetensors")
    if got != sums[rel]:
        raise InputError(f"{path / 'model.safetensors'}: sha256 {got[:12]}... does not match the recorded "
                         f"{sums[rel][:12]}... (reinstall the package)")
    return path


def shipped_checkpoint(backend: str, dataset: str = "synthetic") -> Path | None:
    """The verified shipped checkpoint for ``backend`` on ``dataset``, or None when none ships."""
    if not (_shipped_root() / f"{backend}-{dataset}" / "config.json").exists():
        return None
    return pretrained(f"{backend}.{dataset}")


def load_checkpoint(directory, device: str | torch.device = "cpu", expect: str | None = None) -> GeneratorBackend:
    """Load any saved generator: ``config.json`` names the backend, which rebuilds itself.

    ``expect`` (a backend name) turns a checkpoint of another backend into a clear error.
    """
    meta = read_checkpoint_meta(Path(directory))
    if expect is not None and meta["backend"] != expect:
        raise InputError(f"{directory}: checkpoint is for generator {meta['backend']!r}, not {expect!r}")
    return get_generator(meta["backend"]).load(directory, device=device)
