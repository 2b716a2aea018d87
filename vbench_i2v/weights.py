"""Registry of the weight files the metrics use: where they come from, their sha256, how they load.

Files live in ``$VBENCH_I2V_HOME/weights`` (default ``~/.cache/vbench_i2v/weights``).
``vbench weights fetch NAME`` downloads and verifies; ``vbench weights import NAME PATH`` copies a
file the user already has (the only way offline). Where the published sha256 is unknown (None),
the hash of the file first imported/fetched is recorded beside it (``FILE.sha256``) and checked on
every later use, so a silently replaced file is caught. Checkpoints load with
``torch.load(weights_only=True)`` or safetensors, never plain pickle. Files that another Python
package ships (``WeightSpec.in_package``: dlib's face models in face-recognition-models, installed
by an extra) are read where that package put them and checked against the catalog's sha256.
"""

from __future__ import annotations

import importlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vbench_i2v.files import atomic_path, atomic_write_text, os_reason, read_sha256_record, sha256_file, temp_beside
from vbench_i2v.errors import WeightsError
from vbench_i2v.catalog import all_weight_specs, metrics_using
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


def _in_package_path(s: WeightSpec) -> Path:
    """Where the package that ships ``s`` holds the file: found with ``find_spec``, which locates a
    top-level package without running its ``__init__`` (face_recognition_models' imports
    pkg_resources, which new setuptools no longer has); where it is not installed, the place
    ``pip install`` would put it (it does not exist)."""
    import importlib.util
    import sysconfig

    top, *rest = Path(s.in_package).parts
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # e.g. set to None in sys.modules: treated as not installed
        found = None
    if found is None or not found.submodule_search_locations:
        return Path(sysconfig.get_paths()["purelib"]).joinpath(top, *rest)
    return Path(found.submodule_search_locations[0]).resolve().joinpath(*rest)


def local_path(name: str) -> Path:
    s = spec(name)
    if s.in_package:
        return _in_package_path(s)
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
    if s.in_package:
        return f'pip install "vbench-i2v[{s.extra}]"'
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
        if s.in_package:
            raise WeightsError(f"weights {name!r} ({s.file_name}) come with the Python package {s.requirement}, "
                               f"which is not installed (the optional {s.extra} extra): {_how_to_get(s)}")
        if s.packaged:
            raise WeightsError(f"weights {name!r} should ship with the package at {path} but are missing "
                               "(they are produced by scripts/train_synthetic_probe.py)")
        raise WeightsError(f"weights {name!r} ({s.file_name}) are missing from {weights_dir()}: {_how_to_get(s)}")
    digest = sha256_file(path)
    want = expected_sha256(name)
    if want and digest != want and s.in_package:
        raise WeightsError(f"weights {name!r} at {path} have sha256 {digest[:12]}..., expected {want[:12]}... "
                           f"(the file of {s.requirement}): refusing them; reinstall that version: "
                           f"pip install --force-reinstall --no-deps {s.requirement}")
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


def _container_kind(path: Path) -> str | None:
    """What kind of checkpoint container the file's first bytes announce, or None (garbage).

    torch.save writes a zip archive (PyTorch >= 1.6) or a pickle (older, protocol 2: ``0x80``);
    very old PyTorch wrote a tar; safetensors starts with an 8-byte little-endian header length
    and a JSON header (``{``); TorchScript archives are zips."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    if head[257:262] == b"ustar":
        return "tar"
    if len(head) > 8 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < (1 << 31):
        return "safetensors"
    return None


def _reason(exc: BaseException, path: Path) -> str:
    """A loader's complaint without the path it was given (the caller names the user's file), one line."""
    msg = str(exc)
    for prefix in (f"{path}: ", f"{path}:"):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    msg = msg.replace(str(path), "the file")
    if not isinstance(exc, WeightsError):
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    msg = " ".join(part.strip() for part in msg.splitlines() if part.strip())
    return msg if len(msg) <= 400 else msg[:397] + "..."


def _check(s: WeightSpec, path: Path, shown: str) -> str:
    """Check the file at ``path`` against ``s`` (size, sha256, loader); returns its sha256.

    Every refusal is a WeightsError that starts with ``shown`` (the user's file, or the URL) and
    says why; nothing is written anywhere."""
    try:
        size = path.stat().st_size
        digest = sha256_file(path)
    except OSError as exc:
        raise WeightsError(f"{shown}: cannot read ({os_reason(exc)})") from None
    what = f"{s.name!r} weights ({s.file_name})"
    if size == 0:
        raise WeightsError(f"{shown}: the file is empty (0 bytes), not {what}")
    if s.size is not None and size != s.size:
        raise WeightsError(f"{shown}: {size} bytes, but {what} are {s.size} bytes; refusing the file")
    if s.sha256 and digest != s.sha256:
        raise WeightsError(f"{shown}: sha256 mismatch for {what} (got {digest}, expected {s.sha256}); "
                           "refusing the file")
    try:
        _loader(s)(path)
    except Exception as exc:  # noqa: BLE001 - any failure to load is a refusal naming the file
        kind = _container_kind(path)
        if kind is None:
            with open(path, "rb") as fh:
                first = fh.read(8).hex(" ")
            reason = f"not a PyTorch checkpoint or safetensors file (it starts with the bytes {first})"
        elif kind == "zip" and not zipfile.is_zipfile(path):
            reason = f"a truncated or damaged zip checkpoint (its end is missing or unreadable: {_reason(exc, path)})"
        else:
            reason = _reason(exc, path)
        raise WeightsError(f"{shown}: does not load as {what}: {reason}") from None
    return digest


def _install(s: WeightSpec, copy_into, digest: str, shown: str) -> WeightFile:
    """Write the checked file into the cache atomically (``copy_into(tmp)`` fills the temp file),
    verify the copy's sha256, then record it beside the file."""
    dest = local_path(s.name)
    with atomic_path(dest) as tmp:
        copy_into(tmp)
        if sha256_file(tmp) != digest:
            raise WeightsError(f"{shown}: the file changed while it was being imported (sha256 differs from the "
                               "one checked); nothing was installed, try again")
    atomic_write_text(_recorded_hash_path(dest), f"{digest}  {dest.name}\n")
    return WeightFile(s.name, dest, digest)


def import_file(name: str, source) -> WeightFile:
    """Copy a user's file into the cache after checking its size and sha256 (when known) and that
    it loads. The file is checked where it is, so every refusal names it (``Error: FILE: why``);
    only a file that passed is copied into the cache (atomically, its copy's sha256 checked)."""
    source = Path(source)
    try:
        s = spec(name)
    except WeightsError as exc:
        raise WeightsError(f"{source}: not imported: {exc}") from None
    if s.packaged:
        raise WeightsError(f"{source}: not imported: weights {name!r} ship with the package")
    if s.in_package:
        raise WeightsError(f"{source}: not imported: weights {name!r} come with the Python package "
                           f"{s.requirement}: {_how_to_get(s)}")
    if not source.exists():
        raise WeightsError(f"{source}: no such file to import as {name!r}")
    if not source.is_file():
        raise WeightsError(f"{source}: not a file (expected {s.file_name} to import as {name!r})")
    digest = _check(s, source, str(source))
    return _install(s, lambda tmp: shutil.copyfile(source, tmp), digest, str(source))


def fetch(name: str, progress: bool = True) -> WeightFile:
    """Download from the registered URLs (first that works), verify, install atomically."""
    import urllib.request

    s = spec(name)
    if s.packaged or s.in_package:
        return require(name)
    if not s.urls:
        raise WeightsError(f"weights {name!r} have no direct download URL: {_how_to_get(s)}")
    errors = []
    for url in s.urls:
        tmp = temp_beside(weights_dir() / f"{s.file_name}.download")
        try:
            try:
                with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
                    shutil.copyfileobj(resp, out, 1 << 20)
            except Exception as exc:  # noqa: BLE001 - try the next URL
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                continue
            digest = _check(s, tmp, url)
            return _install(s, lambda dst: os.replace(tmp, dst), digest, url)
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
            "packaged": bool(s.packaged), "used_by": ",".join(metrics_using(name)), "description": s.description}
