"""The results.json file one run writes: its schema, its protocol fingerprint, and safe load/write.

A leaderboard is built from these files only, so everything that decides whether two numbers are
comparable lives here: :data:`FINGERPRINT_FIELDS` lists the fields that must match, and
:func:`protocol_fingerprint` hashes them into a short id stored at ``protocol.fingerprint``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_text

SCHEMA_VERSION = 1
RESULTS_FILENAME = "results.json"
FINGERPRINT_LENGTH = 12

# Everything that must be equal for two numbers to be comparable. Generator, checkpoint, device,
# versions and wall time are deliberately absent: those are what a leaderboard compares or merely
# records. ``dataset`` and ``split`` come from the results' ``dataset`` section, the rest from its
# ``protocol`` section (see :func:`fingerprint_fields`).
FINGERPRINT_FIELDS = (
    "dataset",  # dataset name, e.g. "mug", "synthetic"
    "split",  # "test", ...
    "dataset_options",  # loader options that change the data (--option pattern=..., smiles=...), {} if none
    "frames",  # clip length (32 in the paper)
    "size",  # frame side in pixels (64 in the paper)
    "frame_step",  # temporal subsampling (2 faces, 1 actions)
    "conditioning_per_video",  # conditioning frames per test video (10 in the paper)
    "max_videos",  # cap on test videos, null = all
    "seed",  # seed of every protocol choice (split, conditioning frames)
    "extractor",  # feature network behind FID/KID ("resnext101-kinetics", "synthetic-probe", ...)
    "extractor_weights_sha256",  # exact weights of that network
)

# Required keys per section; a value of None in the file is allowed only where noted in NULLABLE.
_REQUIRED = {
    "generator": ("name", "config", "checkpoint", "checkpoint_sha256", "variant"),
    "dataset": ("name", "split", "clip_count", "video_count"),
    "protocol": (
        "frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed",
        "extractor", "extractor_weights_sha256", "dataset_options", "fingerprint",
    ),
    "provenance": ("package_version", "torch_version", "device", "wall_time_s", "created"),
}
_NULLABLE = {
    ("generator", "checkpoint"), ("generator", "checkpoint_sha256"), ("generator", "variant"),
    ("protocol", "max_videos"), ("protocol", "extractor"), ("protocol", "extractor_weights_sha256"),
}
_METRIC_REQUIRED = ("value", "ci95", "n")


def _canonical(value: Any) -> Any:
    """Integral floats become ints so that 64 and 64.0 hash the same."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def protocol_fingerprint(protocol_dict: dict) -> str:
    """Short sha256 of the canonical JSON of :data:`FINGERPRINT_FIELDS` taken from a flat dict.

    The dict must hold every field named there (``dataset`` and ``split`` included; build it from a
    results dict with :func:`fingerprint_fields`). Extra keys are ignored.
    """
    missing = [f for f in FINGERPRINT_FIELDS if f not in protocol_dict]
    if missing:
        raise InputError(f"protocol fingerprint: missing field(s) {', '.join(missing)}")
    picked = {f: _canonical(protocol_dict[f]) for f in FINGERPRINT_FIELDS}
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:FINGERPRINT_LENGTH]


def fingerprint_fields(results: dict) -> dict:
    """The flat dict :func:`protocol_fingerprint` hashes, taken from a results dict."""
    return {**results["protocol"], "dataset": results["dataset"]["name"],
            "split": results["dataset"]["split"]}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metric(name: str, metric: Any, where: str) -> None:
    if not isinstance(metric, dict):
        raise InputError(f"{where}: metrics.{name} must be an object with value, ci95, n")
    for key in _METRIC_REQUIRED:
        if key not in metric:
            raise InputError(f"{where}: missing field metrics.{name}.{key}")
    value, ci95, n = metric["value"], metric["ci95"], metric["n"]
    if value is not None and not (_is_number(value) and math.isfinite(value)):
        raise InputError(f"{where}: metrics.{name}.value must be a finite number or null, got {value!r}")
    if ci95 is not None:
        if not (isinstance(ci95, (list, tuple)) and len(ci95) == 2
                and all(_is_number(v) and math.isfinite(v) for v in ci95)):
            raise InputError(f"{where}: metrics.{name}.ci95 must be [low, high] or null, got {ci95!r}")
        if ci95[0] > ci95[1]:
            raise InputError(f"{where}: metrics.{name}.ci95 has low > high: {ci95!r}")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        raise InputError(f"{where}: metrics.{name}.n must be a non-negative integer, got {n!r}")


def validate_results(results: dict, source: str | os.PathLike = "results") -> dict:
    """Check a results dict against schema version 1; raise InputError naming ``source`` and the field.

    Also checks that ``protocol.fingerprint`` matches the fields it summarises, so a hand-edited
    protocol cannot slip into the wrong table. Returns the dict unchanged.
    """
    where = str(source)
    if not isinstance(results, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(results).__name__}")
    version = results.get("schema_version")
    if version is None:
        raise InputError(f"{where}: missing field schema_version (not a vbench results file?)")
    if version != SCHEMA_VERSION:
        raise InputError(f"{where}: schema_version {version!r} is not supported "
                         f"(this vbench reads version {SCHEMA_VERSION})")
    if not isinstance(results.get("run_id"), str) or not results["run_id"]:
        raise InputError(f"{where}: missing field run_id")
    for section, keys in _REQUIRED.items():
        block = results.get(section)
        if not isinstance(block, dict):
            raise InputError(f"{where}: missing section {section}")
        for key in keys:
            if key not in block:
                raise InputError(f"{where}: missing field {section}.{key}")
            if block[key] is None and (section, key) not in _NULLABLE:
                raise InputError(f"{where}: field {section}.{key} must not be null")
    if not isinstance(results["generator"]["config"], dict):
        raise InputError(f"{where}: generator.config must be an object")
    metrics = results.get("metrics")
    if not isinstance(metrics, dict):
        raise InputError(f"{where}: missing section metrics")
    for name, metric in metrics.items():
        _check_metric(name, metric, where)
    expected = protocol_fingerprint(fingerprint_fields(results))
    if results["protocol"]["fingerprint"] != expected:
        raise InputError(f"{where}: protocol.fingerprint {results['protocol']['fingerprint']!r} "
                         f"does not match its protocol fields (expected {expected!r})")
    return results


def results_file(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else ``path/results.json`` (a run directory)."""
    path = Path(path)
    return path / RESULTS_FILENAME if path.is_dir() else path


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate one results file, given the file or its run directory."""
    file = results_file(path)
    if not file.is_file():
        raise InputError(f"{file}: no such results file")
    try:
        with open(file, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read ({exc})") from None
    return validate_results(data, source=file)


def write_results(path: str | os.PathLike, results: dict) -> Path:
    """Validate and write atomically (temp file in the same folder, then rename); returns the file.

    ``path`` is the results file, or a run directory (then ``results.json`` inside it).
    """
    path = Path(path)
    file = path / RESULTS_FILENAME if (path.is_dir() or not path.suffix) else path
    validate_results(results, source=file)
    try:
        text = json.dumps(results, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InputError(f"{file}: results cannot be written as strict JSON ({exc})") from None
    atomic_write_text(file, text)
    return file


def find_results_files(paths) -> list[Path]:
    """results.json files named by ``paths``: files, run directories, or folders holding run dirs.

    A folder without its own results.json is searched recursively; order is sorted and duplicates
    (the same file named twice) are dropped, so the same arguments always give the same board.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif (path / RESULTS_FILENAME).is_file():
            found.append(path / RESULTS_FILENAME)
        elif path.is_dir():
            inside = sorted(path.rglob(RESULTS_FILENAME))
            if not inside:
                raise InputError(f"{path}: no {RESULTS_FILENAME} in this folder or below it")
            found.extend(inside)
        else:
            raise InputError(f"{path}: no such file or folder")
    return list(dict.fromkeys(p.resolve() for p in found))


def collect_results(paths) -> list[tuple[Path, dict]]:
    """``(file, validated results)`` for every results file named by ``paths`` (see find_results_files)."""
    return [(file, load_results(file)) for file in find_results_files(paths)]
