"""Registry of the weight files the metrics use: where they come from, their sha256, how they load.

Files live in ``$VBENCH_I2V_HOME/weights`` (default ``~/.cache/vbench_i2v/weights``).
``vbench weights fetch NAME`` downloads and verifies; ``vbench weights import NAME PATH`` copies a
file the user already has (the only way offline). Where the published sha256 is unknown (None),
the hash of the file first imported/fetched is recorded beside it (``FILE.sha256``) and checked on
every later use, so a silently replaced file is caught. Checkpoints load with
``torch.load(weights_only=True)`` or safetensors, never plain pickle.
"""

from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vbench_i2v.files import atomic_write_text, read_sha256_record, sha256_file, temp_beside
from vbench_i2v.errors import WeightsError
from vbench_i2v.catalog import all_weight_specs
from vbench_i2v.specs import WeightSpec

PACKAGE_DIR = Path(__file__).resolve().parent


# Every weight file the catalogued extractors carry (their specs live beside the input contract in
# vbench_i2v/catalog.py); ``register`` adds others (plugins, tests).
WEIGHTS: dict[str, WeightSpec] = dict(all_weight_specs())


def register(spec: WeightSpec) -> WeightSpec:
    WEIGHTS[spec.name] = spec
    return spec


def _specs() -> dict[str, WeightSpec]:
    return WEIGHTS


@dataclass(frozen=True)
class WeightFile:
    name: str
    path: Path
    sha256: str


def home() -> Path:
    return Path(os.environ.get("VBENCH_I2V_HOME", Path.home() / ".cache" / "vbench_i2v")).expanduser()


def weights_dir() -> Path:
    return home() / "weights"


def spec(name: str) -> WeightSpec:
    table = _specs()
    if name not in table:
        raise WeightsError(f"unknown weights {name!r} (known: {', '.join(sorted(table))})")
    return table[name]


def names() -> list[str]:
    return sorted(_specs())


def _packaged_path(s: WeightSpec) -> Path:
    # shipped files sit under the vbench_i2v import name (feature_extractors/ maps to vbench_i2v.feature_extractors)
    import importlib.util

    rel = Path(s.packaged)
    # find_spec locates the subpackage's folder without running its __init__ (no import circle)
    folder = importlib.util.find_spec("vbench_i2v.feature_extractors").submodule_search_locations[0]
    return Path(folder).resolve().joinpath(*rel.parts[1:])


def local_path(name: str) -> Path:
    s = spec(name)
    return _packaged_path(s) if s.packaged else weights_dir() / s.file_name


def _recorded_hash_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def expected_sha256(name: str) -> str | None:
    """The registry's sha256, else the one recorded when the file was imported or fetched."""
    s = spec(name)
    if s.sha256:
        return s.sha256
    rec = _recorded_hash_path(local_path(name))
    return read_sha256_record(rec) if rec.exists() else None


def _how_to_get(s: WeightSpec) -> str:
    imp = f"vbench weights import {s.name} PATH/TO/{s.file_name}"
    if s.urls:
        return f"run `vbench weights fetch {s.name}` (offline: `{imp}`)"
    where = f" after downloading it from {s.source_page}" if s.source_page else ""
    return f"run `{imp}`{where}"


def require(name: str) -> WeightFile:
    """The verified local file for ``name``, or a WeightsError naming the exact command to run."""
    s = spec(name)
    path = local_path(name)
    if not path.exists():
        if s.packaged:
            raise WeightsError(f"weights {name!r} should ship with the package at {path} but are missing "
                               "(they are produced by scripts/train_synthetic_probe.py)")
        raise WeightsError(f"weights {name!r} ({s.file_name}) are missing from {weights_dir()}: {_how_to_get(s)}")
    digest = sha256_file(path)
    want = expected_sha256(name)
    if want and digest != want:
        raise WeightsError(f"weights {name!r} at {path} have sha256 {digest[:12]}..., expected {want[:12]}...: "
                           f"the file is corrupt or replaced; {_how_to_get(s)}")
    return WeightFile(name, path, digest)


def load(name: str, **kwargs):
    """Load the model/state for ``name`` with its registered loader; returns (object, WeightFile)."""
    wf = require(name)
    return _loader(spec(name))(wf.path, **kwargs), wf


def _loader(s: WeightSpec):
    mod, fn = s.loader.split(":")
    return getattr(importlib.import_module(mod), fn)


def _verify_and_install(s: WeightSpec, tmp: Path) -> WeightFile:
    digest = sha256_file(tmp)
    if s.sha256 and digest != s.sha256:
        raise WeightsError(f"{s.name}: sha256 mismatch (got {digest}, expected {s.sha256}); refusing the file")
    if s.size is not None and tmp.stat().st_size != s.size:
        raise WeightsError(f"{s.name}: size mismatch (got {tmp.stat().st_size} bytes, expected {s.size}); refusing the file")
    try:
        _loader(s)(tmp)
    except WeightsError as exc:
        raise WeightsError(f"{s.name}: the file does not load as expected: {exc}") from None
    except Exception as exc:
        raise WeightsError(f"{s.name}: the file does not load ({type(exc).__name__}: {exc})") from None
    dest = local_path(s.name)
    os.replace(tmp, dest)
    rec = _recorded_hash_path(dest)
    atomic_write_text(rec, f"{digest}  {dest.name}\n")
    return WeightFile(s.name, dest, digest)


def _temp_in_cache(s: WeightSpec) -> Path:
    return temp_beside(weights_dir() / s.file_name)


def import_file(name: str, source) -> WeightFile:
    """Copy a user's file into the cache after checking its sha256 (when known) and that it loads."""
    s = spec(name)
    if s.packaged:
        raise WeightsError(f"weights {name!r} ship with the package; nothing to import")
    source = Path(source)
    if not source.is_file():
        raise WeightsError(f"{source}: no such file to import as {name!r}")
    tmp = _temp_in_cache(s)
    try:
        shutil.copyfile(source, tmp)
        return _verify_and_install(s, tmp)
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch(name: str, progress: bool = True) -> WeightFile:
    """Download from the registered URLs (first that works), verify, install atomically."""
    import urllib.request

    s = spec(name)
    if s.packaged:
        return require(name)
    if not s.urls:
        raise WeightsError(f"weights {name!r} have no direct download URL: {_how_to_get(s)}")
    errors = []
    for url in s.urls:
        tmp = _temp_in_cache(s)
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
            return _verify_and_install(s, tmp)
        except WeightsError:
            raise
        except Exception as exc:
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise WeightsError(f"cannot download {name!r} ({'; '.join(errors)}); offline, use "
                       f"`vbench weights import {name} PATH/TO/{s.file_name}`")


def status(name: str) -> dict:
    """For `vbench weights list`: present or not, path, size, sha256 expected (no hashing here)."""
    s = spec(name)
    path = local_path(name)
    return {"name": name, "file": s.file_name, "present": path.exists(), "path": str(path),
            "size": path.stat().st_size if path.exists() else s.size, "sha256": expected_sha256(name),
            "packaged": bool(s.packaged), "used_by": ",".join(s.used_by), "description": s.description}
