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
from vbench_i2v.files import atomic_write_text, os_reason

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
    "extractors",  # every set-level network: its input contract and weights sha256
    "dataset_fingerprint",  # content of the data served (files, sizes, hashes, options)
    "paired_frames",  # frames the paired metrics score: "predicted" (1..T-1) or "all"
)

# Required keys per section; a value of None in the file is allowed only where noted in NULLABLE.
_REQUIRED = {
    "generator": ("name", "config", "checkpoint", "checkpoint_sha256", "variant"),
    "dataset": ("name", "split", "clip_count", "video_count"),
    "protocol": (
        "frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed",
        "extractor", "extractor_weights_sha256", "dataset_options", "fingerprint",
        "extractors", "dataset_fingerprint", "paired_frames",
    ),
    "provenance": ("package_version", "torch_version", "device", "wall_time_s", "created"),
}
_NULLABLE = {
    ("generator", "checkpoint"), ("generator", "checkpoint_sha256"), ("generator", "variant"),
    ("protocol", "max_videos"), ("protocol", "extractor"), ("protocol", "extractor_weights_sha256"),
}
_METRIC_REQUIRED = ("value", "ci95", "n")
_METRIC_OPTIONAL_TEXT = ("extractor", "weights_sha256")  # text or null when present


def _is_int(value: Any) -> bool:
    """An integer, or a float with an integral value (64.0 reads as 64, as in the fingerprint)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _count(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _positive(value: Any) -> bool:
    return _is_int(value) and value >= 1


# What each required field holds (null is handled by _NULLABLE): (test, words for the message).
_TYPES = {
    ("generator", "name"): (_text, "a non-empty string"),
    ("generator", "config"): (lambda v: isinstance(v, dict), "an object"),
    ("generator", "checkpoint"): (_text, "a non-empty string or null"),
    ("generator", "checkpoint_sha256"): (_text, "a non-empty string or null"),
    ("generator", "variant"): (_text, "a non-empty string or null"),
    ("dataset", "name"): (_text, "a non-empty string"),
    ("dataset", "split"): (_text, "a non-empty string"),
    ("dataset", "clip_count"): (_count, "a non-negative integer"),
    ("dataset", "video_count"): (_count, "a non-negative integer"),
    ("protocol", "frames"): (_positive, "a positive integer"),
    ("protocol", "size"): (_positive, "a positive integer"),
    ("protocol", "frame_step"): (_positive, "a positive integer"),
    ("protocol", "conditioning_per_video"): (_positive, "a positive integer"),
    ("protocol", "max_videos"): (_positive, "a positive integer or null"),
    ("protocol", "seed"): (_count, "a non-negative integer"),
    ("protocol", "extractor"): (_text, "a non-empty string or null"),
    ("protocol", "extractor_weights_sha256"): (_text, "a non-empty string or null"),
    ("protocol", "dataset_options"): (lambda v: isinstance(v, dict), "an object"),
    ("protocol", "fingerprint"): (_text, "a non-empty string"),
    ("protocol", "extractors"): (lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
                                 "an object of one object per extractor"),
    ("protocol", "dataset_fingerprint"): (_text, "a non-empty string"),
    ("protocol", "paired_frames"): (lambda v: v in ("predicted", "all"), "'predicted' or 'all'"),
    ("provenance", "package_version"): (_text, "a non-empty string"),
    ("provenance", "torch_version"): (_text, "a non-empty string"),
    ("provenance", "device"): (_text, "a non-empty string"),
    ("provenance", "wall_time_s"): (lambda v: _is_number(v) and math.isfinite(v) and v >= 0,
                                    "a non-negative number"),
    ("provenance", "created"): (_text, "a non-empty string"),
}


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
        raise InputError(f"{where}: metrics.{name}.n must be a non-negative integer, got {_shown(n)}")
    for key in _METRIC_OPTIONAL_TEXT:
        if metric.get(key) is not None and not isinstance(metric[key], str):
            raise InputError(f"{where}: metrics.{name}.{key} must be a string or null, got {_shown(metric[key])}")


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
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InputError(f"{where}: schema_version {version!r} is not supported "
                         f"(this vbench reads version {SCHEMA_VERSION})")
    if "run_id" not in results:
        raise InputError(f"{where}: missing field run_id")
    if not _text(results["run_id"]):
        raise InputError(f"{where}: field run_id must be a non-empty string, got {_shown(results['run_id'])}")
    for section, keys in _REQUIRED.items():
        block = results.get(section)
        if not isinstance(block, dict):
            raise InputError(f"{where}: missing section {section}")
        for key in keys:
            if key not in block:
                raise InputError(f"{where}: missing field {section}.{key}")
            value = block[key]
            if value is None:
                if (section, key) not in _NULLABLE:
                    raise InputError(f"{where}: field {section}.{key} must not be null")
                continue
            check, words = _TYPES.get((section, key), (lambda v: True, ""))
            if not check(value):
                raise InputError(f"{where}: field {section}.{key} must be {words}, got {_shown(value)}")
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
        if Path(path).is_dir():
            raise InputError(f"{path}: not a run directory (no {RESULTS_FILENAME})")
        raise InputError(f"{file}: no such results file")
    try:
        with open(file, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: cannot read (not UTF-8 text)") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot read ({os_reason(exc)})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long, nesting too deep
        raise InputError(f"{file}: not valid JSON ({exc})") from None
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
