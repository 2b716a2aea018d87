"""A Python function as a generator: ``vbench run --generator module.path:callable``.

For researchers who do not want to package a backend. The function is imported by path and called
by the generate stage in batches, exactly where a backend's ``generate`` is called::

    def my_generator(images, labels, seeds):
        # images: uint8 B x H x W x 3 (the protocol's conditioning frames, 64 x 64)
        # labels: list of B class ids (None for a dataset without labels)
        # seeds:  list of B ints, each clip's noise seed (the kit's clips.csv ``noise_seed``)
        return videos  # uint8 B x T x H x W x 3, or float B x 3 x T x H x W in [-1, 1] (the backends' layout)

``module.path`` is a module importable from the current folder or ``sys.path``, or a ``.py`` file
(``path/to/gen.py:my_generator``). This adapter is not a registry entry (no name in ``vbench
generators list``): the run records the callable's path, its file's sha256 and, when the file is in
a git work tree, the commit (and whether the file differs from it).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import protocol
from vbench_i2v.errors import InputError
from vbench_i2v.generators.base import GeneratorBackend, GeneratorConfig

SOURCE = "callable"  # results.json generator.source of such a run


def is_callable_target(text: str | None) -> bool:
    """``module.path:callable`` (or ``file.py:callable``) rather than a registry name."""
    return isinstance(text, str) and ":" in text


@dataclass
class CallableConfig(GeneratorConfig):
    """No fields of its own: what the function does is outside this package."""


def _import_module(module: str, target: str):
    """Import ``module`` (a dotted name, or a ``.py`` file); any failure is one InputError."""
    by_file = module.endswith(".py") or "/" in module or "\\" in module
    try:
        if by_file:
            path = Path(module).expanduser().resolve()
            if not path.is_file():
                raise InputError(f"{target}: no such Python file {path}")
            name = f"vbench_i2v_callable_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise InputError(f"{target}: cannot import {path} as a Python module")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod  # dataclasses and pickling look the module up by name
            try:
                spec.loader.exec_module(mod)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return mod
        if str(Path.cwd()) not in sys.path and "" not in sys.path:  # the current folder, as `python -m` has it
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(module)
    except InputError:
        raise
    except ModuleNotFoundError as exc:
        if not by_file and exc.name and module.split(".")[0] == exc.name.split(".")[0]:
            raise InputError(f"{target}: no module named {exc.name!r} (run from the folder that holds it, or "
                             "give the file: path/to/file.py:callable)") from None
        raise InputError(f"{target}: importing the module failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise InputError(f"{target}: importing the module failed: {type(exc).__name__}: {exc}") from None


def load_callable(target: str):
    """``(function, provenance)`` for ``module.path:callable``; bad paths are one InputError."""
    module, _, attr = target.rpartition(":")
    if not module or not attr:
        raise InputError(f"--generator {target!r}: expected module.path:callable (or path/to/file.py:callable)")
    mod = _import_module(module, target)
    fn = mod
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise InputError(f"{target}: module {module!r} has no attribute {attr!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise InputError(f"{target}: {attr!r} is a {type(fn).__name__}, not a callable")
    return fn, _provenance(target, mod)


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _provenance(target: str, mod) -> dict:
    """The callable's path, its module file and sha256, and the git commit of that file's work tree."""
    from vbench_i2v.files import sha256_file

    file = getattr(mod, "__file__", None)
    record = {"source": SOURCE, "callable": target, "file": None, "file_sha256": None, "git_commit": None,
              "git_dirty": None}
    if not file:
        return record
    path = Path(file).resolve()
    record["file"], record["file_sha256"] = str(path), sha256_file(path)
    commit = _git(path.parent, "rev-parse", "HEAD")
    if commit:
        record["git_commit"] = commit
        status = _git(path.parent, "status", "--porcelain", "--", path.name)
        record["git_dirty"] = None if status is None else bool(status)
    return record


class CallableGenerator(GeneratorBackend):
    """Adapter: a function ``(images uint8, labels, seeds) -> clips`` behind the backend interface."""

    name = "callable"
    Config = CallableConfig
    trainable = False
    description = "a Python function imported by path (--generator module.path:callable)"

    def __init__(self, fn, provenance: dict, name: str, num_classes: int = 0, label_names=None,
                 dataset: str = "", device="cpu"):
        self.fn, self.provenance = fn, dict(provenance)
        super().__init__(CallableConfig(), num_classes, label_names, dataset, device)
        self.name = name  # the run's name for this function (an instance attribute, not a registry name)

    @classmethod
    def from_target(cls, target: str, name: str | None = None, num_classes: int = 0, label_names=None,
                    dataset: str = "", device="cpu") -> "CallableGenerator":
        from vbench_i2v.submission import check_name

        fn, prov = load_callable(target)
        name = check_name(name) if name is not None else check_name(target.rpartition(":")[2].split(".")[-1],
                                                                     "callable name")
        return cls(fn, prov, name,
                   num_classes, label_names, dataset, device)

    def build(self, num_classes: int) -> None:
        pass  # no networks

    def source_record(self) -> dict:
        return dict(self.provenance)

    def identity_sha256(self) -> str | None:
        """What names the run folder in place of a checkpoint's sha256: the function's file."""
        return self.provenance.get("file_sha256")

    def z_shape(self, batch: int):
        return (batch,)

    def sample_z(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The noise of a callable is its seeds: one clip drawn with the run's per-clip generator gets
        that generator's seed, which is the protocol's ``noise_seed(seed, clip)`` (the kit's
        ``clips.csv``); several clips draw their seeds from ``generator``."""
        if generator is not None and batch == 1:
            return torch.tensor([generator.initial_seed()], dtype=torch.int64)
        return torch.randint(0, 1 << 62, (batch,), generator=generator, dtype=torch.int64)

    @torch.no_grad()
    def generate(self, images, labels=None, z: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditioning images (+ labels, + seeds as ``z``) -> ``B x 3 x T x 64 x 64`` in [-1, 1]."""
        from vbench_i2v import tensors

        images = self._check_images(images)
        batch = images.shape[0]
        labels = self._check_labels(labels, batch)
        seeds = self.sample_z(batch, generator) if z is None else torch.as_tensor(z)
        if tuple(seeds.shape) != (batch,) or seeds.is_floating_point():
            raise InputError(f"{self.name}: seeds must be {batch} integers, got {seeds.dtype} {tuple(seeds.shape)}")
        images_u8 = tensors.image_from_model(images)  # exact: these came from uint8 pixels
        target = self.provenance["callable"]
        try:
            out = self.fn(images_u8, None if labels is None else labels.tolist(), [int(s) for s in seeds])
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{target} raised {type(exc).__name__}: {exc} "
                             "(VBENCH_DEBUG=1 shows the traceback)") from exc
        return self._to_model(out, batch, target).to(self.device)

    @staticmethod
    def _to_model(out, batch: int, target: str) -> torch.Tensor:
        """The function's output in the backends' layout; anything else is one InputError."""
        from vbench_i2v import tensors

        t, s = protocol.CLIP_FRAMES, protocol.SIZE
        want = (f"uint8 B x T x H x W x 3 = {batch} x {t} x {s} x {s} x 3, or float B x 3 x T x H x W = "
                f"{batch} x 3 x {t} x {s} x {s} in [-1, 1]")
        if isinstance(out, np.ndarray):
            out = torch.from_numpy(np.ascontiguousarray(out))
        if not isinstance(out, torch.Tensor):
            raise InputError(f"{target} returned a {type(out).__name__}; expected an array: {want}")
        shape = tuple(out.shape)
        if out.dtype == torch.uint8 and shape == (batch, t, s, s, 3):
            return tensors.video_to_model(out.cpu())
        if out.is_floating_point() and shape == (batch, 3, t, s, s):
            out = out.detach().float().cpu()
            finite = out[torch.isfinite(out)]
            if len(finite) and (float(finite.min()) < -1.001 or float(finite.max()) > 1.001):
                raise InputError(f"{target} returned floats in [{float(finite.min()):.3g}, "
                                 f"{float(finite.max()):.3g}]; expected {want}")
            return out
        raise InputError(f"{target} returned {str(out.dtype).replace('torch.', '')} of shape {shape}; "
                         f"expected {want}")
