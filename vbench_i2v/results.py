"""The results.json file one run writes: its schema, its two identities, and safe load/write.

A leaderboard is built from these files only, so everything that decides whether two numbers are
comparable lives here, as two identities:

- ``protocol.fingerprint`` describes the *clips* (:data:`FINGERPRINT_FIELDS`: dataset, split,
  options, content, frames, size, step, conditioning, max videos, seed). It keys the run folder and
  the leaderboard table; which metrics were asked for does not enter it, so ``--metrics ssim`` and
  ``--metrics fid,ssim`` on the same clips are one run.
- each metric's ``measurement`` id describes *how that number was measured*
  (:data:`MEASUREMENT_FIELDS`: network, input contract, weights, precision, paired frames,
  bootstrap and metric settings, read from the metric's own ``provenance``, plus the device type
  when it is not the CPU, :data:`DEVICE_FIELD`); :func:`measurement_id` computes it. A
  leaderboard compares a cell only with the cells of its column that share it.

Schema version 2 (:data:`SCHEMA_VERSION`) stores per metric the object ``vbench metrics --json``
prints: ``{"value", "ci95", "n", "measurement", "provenance": {...}, ...}``. Version-1 files
(networks in the fingerprint, no per-metric provenance) are still read: :func:`load_results`
validates them under the version-1 rules, then :func:`migrate_results` turns them into version 2.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_text, os_reason

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
RESULTS_FILENAME = "results.json"
FINGERPRINT_LENGTH = 12
MEASUREMENT_LENGTH = 12

# What must be equal for two runs to have scored the same clips. Generator, checkpoint, device,
# versions and wall time are deliberately absent (what a leaderboard compares or merely records),
# and so is every network: how each number was measured is its metric's measurement id.
# ``dataset`` and ``split`` come from the results' ``dataset`` section, the rest from its
# ``protocol`` section (see :func:`fingerprint_fields`).
FINGERPRINT_FIELDS = (
    "dataset",  # dataset name, e.g. "mug", "synthetic"
    "split",  # "test", ...
    "dataset_options",  # loader options that change the data (--option pattern=..., smiles=...), {} if none
    "dataset_fingerprint",  # content of the data served (files, sizes, hashes, options)
    "frames",  # clip length (32 in the paper)
    "size",  # frame side in pixels (64 in the paper)
    "frame_step",  # temporal subsampling (2 faces, 1 actions)
    "conditioning_per_video",  # conditioning frames per test video (10 in the paper)
    "max_videos",  # cap on test videos, null = all
    "seed",  # seed of every protocol choice (split, conditioning frames)
)
# Schema 1 also hashed the networks of the requested metrics and the paired frames (kept to check
# the fingerprint stored in a version-1 file before it is migrated).
FINGERPRINT_FIELDS_V1 = FINGERPRINT_FIELDS + (
    "extractor", "extractor_weights_sha256", "extractors", "paired_frames")

# What must be equal for two values of one metric to be comparable, read from the metric's
# ``provenance`` (a missing or empty entry counts as null). Conversions and warnings are recorded
# beside them but are consequences of these plus the clips, not settings.
MEASUREMENT_FIELDS = (
    "extractor",  # network identity: catalog name, "probe:<sha12>", "facenet-vggface2", ...; null = pixels
    "contract",  # the network's input contract (numbers and enums; its prose "note" is left out)
    "weights_sha256",  # exact weights of that network
    "extra_weights_sha256",  # {name: sha256} of further files it loads (e.g. a face detector)
    "precision",  # "fp32", "tf32" or "bf16" for a network; null for pixel metrics
    "paired_frames",  # paired metrics: "predicted" (1..T-1) or "all"; null otherwise
    "bootstrap",  # the interval's settings (repetitions, method)
    "settings",  # metric-specific settings that change the number (e.g. KID's subsets), if any
)
# The device type a metric's network ran on (provenance ``device``: "cpu", "cuda"; null for pixel
# metrics) identifies the measurement too, but only when it is not the CPU: it is hashed as
# ``"device": TYPE`` for any other device and left out for the CPU (and when absent, as in files
# written before it was recorded, all of which were CPU runs), so every CPU measurement id stays
# what it was and a CUDA measurement never shares an id with a CPU one.
DEVICE_FIELD = "device"

# The interval and metric settings every schema-1 `vbench run` used (it never passed others to the
# engine): recorded into the provenance of the metrics a version-1 file is migrated with (the seed
# is the file's protocol seed).
V1_BOOTSTRAP = {"per_video_reps": 1000, "set_level_reps": 100,
                "method": "percentile, videos resampled with replacement"}
V1_SETTINGS = {"kid_subsets": 100, "kid_subset_size": 1000}

# Required keys per section and schema version; null is allowed only where noted in _NULLABLE.
_PROTOCOL_V2 = ("frames", "size", "frame_step", "conditioning_per_video", "max_videos", "seed",
                "dataset_options", "dataset_fingerprint", "fingerprint")
_REQUIRED = {
    "generator": ("name", "config", "checkpoint", "checkpoint_sha256", "variant"),
    "dataset": ("name", "split", "clip_count", "video_count"),
    "protocol": _PROTOCOL_V2,
    "provenance": ("package_version", "torch_version", "device", "wall_time_s", "created"),
}
_REQUIRED_V1 = {**_REQUIRED, "protocol": _PROTOCOL_V2 + (
    "extractor", "extractor_weights_sha256", "extractors", "paired_frames")}
_NULLABLE = {
    ("generator", "checkpoint"), ("generator", "checkpoint_sha256"), ("generator", "variant"),
    ("protocol", "max_videos"), ("protocol", "extractor"), ("protocol", "extractor_weights_sha256"),
}
_METRIC_REQUIRED = ("value", "ci95", "n")
_METRIC_REQUIRED_V2 = _METRIC_REQUIRED + ("measurement", "provenance")
_METRIC_OPTIONAL_TEXT = ("extractor", "weights_sha256")  # text or null when present (also in provenance)


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
    """Integral floats become ints so that 64 and 64.0 hash the same (top level: the fingerprint
    of a version-1 file must stay what it was)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_deep(value: Any) -> Any:
    """:func:`_canonical` inside lists and dicts too (a contract's [-1.0, 1.0] is [-1, 1])."""
    if isinstance(value, dict):
        return {k: _canonical_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_deep(v) for v in value]
    return _canonical(value)


def _short_hash(picked: dict, length: int) -> str:
    text = json.dumps(picked, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:length]


def protocol_fingerprint(protocol_dict: dict, fields: tuple[str, ...] = FINGERPRINT_FIELDS) -> str:
    """Short sha256 of the canonical JSON of :data:`FINGERPRINT_FIELDS` taken from a flat dict.

    The dict must hold every field named there (``dataset`` and ``split`` included; build it from a
    results dict with :func:`fingerprint_fields`). Extra keys are ignored. ``fields`` is
    :data:`FINGERPRINT_FIELDS_V1` only to check a version-1 file.
    """
    missing = [f for f in fields if f not in protocol_dict]
    if missing:
        raise InputError(f"protocol fingerprint: missing field(s) {', '.join(missing)}")
    return _short_hash({f: _canonical(protocol_dict[f]) for f in fields}, FINGERPRINT_LENGTH)


def fingerprint_fields(results: dict) -> dict:
    """The flat dict :func:`protocol_fingerprint` hashes, taken from a results dict."""
    return {**results["protocol"], "dataset": results["dataset"]["name"],
            "split": results["dataset"]["split"]}


# ----------------------------------------------------------------------------- measurement id

def measurement_fields(metric: dict) -> dict:
    """What :func:`measurement_id` hashes: :data:`MEASUREMENT_FIELDS` from ``metric["provenance"]``.

    Absent, null and empty entries are all null; a contract's prose ``note`` is left out (it
    explains the numbers, it is not one of them). :data:`DEVICE_FIELD` is added only when it names
    a device other than the CPU (see its comment)."""
    prov = metric.get("provenance") or {}
    if not isinstance(prov, dict):
        raise InputError(f"measurement: provenance must be an object, got {_shown(prov)}")
    fields = {}
    for key in MEASUREMENT_FIELDS:
        value = prov.get(key)
        if key == "contract" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "note"}
        fields[key] = _canonical_deep(value) if value not in (None, "", {}, []) else None
    device = prov.get(DEVICE_FIELD)
    if device not in (None, "", "cpu"):
        fields[DEVICE_FIELD] = _canonical_deep(device)
    return fields


def measurement_id(metric: dict) -> str:
    """The 12-hex id of how one metric's value was measured (network identity, contract, weights,
    precision, device type unless the CPU, paired frames, bootstrap and metric settings), from its
    per-metric ``provenance``.

    Two values of the same metric are comparable only when their ids are equal (the protocol
    fingerprint having already matched the clips). The engine and the results migration both call
    this, so a stored ``measurement`` can always be recomputed and checked."""
    return _short_hash(measurement_fields(metric), MEASUREMENT_LENGTH)


def with_measurement(metric: dict) -> dict:
    """``metric`` with its ``measurement`` id, computed from its provenance when absent."""
    if metric.get("measurement") is not None:
        return metric
    out = {**metric, "measurement": measurement_id(metric)}
    keys = [k for k in ("value", "ci95", "n", "measurement") if k in out]
    return {**{k: out[k] for k in keys}, **{k: v for k, v in out.items() if k not in keys}}


def describe_measurement(metric: dict) -> str:
    """One line naming how a value was measured, e.g. ``synthetic-probe (weights 4db96437555a, fp32)``."""
    f = measurement_fields(metric)
    parts = []
    if f["extractor"]:
        sha, c = f["weights_sha256"], f["contract"]
        inner = [f"weights {sha[:12]}" if sha else "weights unknown", f["precision"]]
        if f.get(DEVICE_FIELD):
            inner.append(f"on {f[DEVICE_FIELD]}")
        if isinstance(c, dict) and c:
            size = c.get("size")
            size = "x".join(map(str, size)) if isinstance(size, list) else size
            inner.append("input " + " ".join(str(x) for x in (
                f"{c['frames']} frames" if "frames" in c else None, c.get("sampling"), size) if x))
        else:
            inner.append("input contract not recorded")
        parts.append(f"{f['extractor']} ({', '.join(x for x in inner if x)})")
    else:
        parts.append("pixels")
    if f["paired_frames"]:
        parts.append("frames 1..T-1" if f["paired_frames"] == "predicted" else "all frames")
    boot = f["bootstrap"]
    if isinstance(boot, dict):
        reps = [f"{boot[k]} {w}" for k, w in (("per_video_reps", "per video"), ("set_level_reps", "per set"))
                if k in boot]
        if reps:
            parts.append(f"bootstrap {' / '.join(reps)}")
    if f["settings"]:
        parts.append(", ".join(f"{k} {v}" for k, v in sorted(f["settings"].items())))
    return ", ".join(parts)


# ----------------------------------------------------------------------------- validation

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_metric(name: str, metric: Any, where: str, version: int = SCHEMA_VERSION) -> None:
    if not isinstance(metric, dict):
        raise InputError(f"{where}: metrics.{name} must be an object with value, ci95, n")
    for key in (_METRIC_REQUIRED_V2 if version >= 2 else _METRIC_REQUIRED):
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
    if version < 2:
        return
    prov = metric["provenance"]
    if not isinstance(prov, dict):
        raise InputError(f"{where}: metrics.{name}.provenance must be an object, got {_shown(prov)}")
    for key in _METRIC_OPTIONAL_TEXT + (DEVICE_FIELD,):
        if prov.get(key) is not None and not isinstance(prov[key], str):
            raise InputError(f"{where}: metrics.{name}.provenance.{key} must be a string or null, "
                             f"got {_shown(prov[key])}")
    for key in ("conversions", "warnings"):
        if prov.get(key) is not None and not (isinstance(prov[key], list) and all(isinstance(x, str) for x in prov[key])):
            raise InputError(f"{where}: metrics.{name}.provenance.{key} must be a list of strings or null, "
                             f"got {_shown(prov[key])}")
    if prov.get("paired_frames") not in (None, "predicted", "all"):
        raise InputError(f"{where}: metrics.{name}.provenance.paired_frames must be 'predicted', 'all' or null, "
                         f"got {_shown(prov['paired_frames'])}")
    if not _text(metric["measurement"]):
        raise InputError(f"{where}: metrics.{name}.measurement must be a non-empty string, "
                         f"got {_shown(metric['measurement'])}")
    expected = measurement_id(metric)
    if metric["measurement"] != expected:
        raise InputError(f"{where}: metrics.{name}.measurement {metric['measurement']!r} does not match its "
                         f"provenance (expected {expected!r})")


def validate_results(results: dict, source: str | os.PathLike = "results") -> dict:
    """Check a results dict against its schema version (2, or 1 as older runs wrote it); raise
    InputError naming ``source`` and the field.

    Also checks that ``protocol.fingerprint`` matches the fields it summarises (and, in version 2,
    each ``metrics.NAME.measurement`` its provenance), so a hand-edited protocol cannot slip into
    the wrong table. Returns the dict unchanged; :func:`load_results` migrates a version-1 file.
    """
    where = str(source)
    if not isinstance(results, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(results).__name__}")
    version = results.get("schema_version")
    if version is None:
        raise InputError(f"{where}: missing field schema_version (not a vbench results file?)")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise InputError(f"{where}: schema_version {version!r} is not supported "
                         f"(this vbench reads versions {', '.join(map(str, READABLE_VERSIONS))})")
    if "run_id" not in results:
        raise InputError(f"{where}: missing field run_id")
    if not _text(results["run_id"]):
        raise InputError(f"{where}: field run_id must be a non-empty string, got {_shown(results['run_id'])}")
    for section, keys in (_REQUIRED if version >= 2 else _REQUIRED_V1).items():
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
        _check_metric(name, metric, where, version)
    expected = protocol_fingerprint(fingerprint_fields(results),
                                    FINGERPRINT_FIELDS if version >= 2 else FINGERPRINT_FIELDS_V1)
    if results["protocol"]["fingerprint"] != expected:
        raise InputError(f"{where}: protocol.fingerprint {results['protocol']['fingerprint']!r} "
                         f"does not match its protocol fields (expected {expected!r})")
    return results


# ----------------------------------------------------------------------------- version 1 -> 2

def metric_from_v1(name: str, metric: dict, networks: dict, bootstrap: dict | None = None,
                   seed: int | None = None) -> dict:
    """A version-2 metric object from a version-1 one (``{value, ci95, n, extractor, weights_sha256,
    ...}``): the network moves into ``provenance`` with what the run recorded about it.

    ``networks`` is the version-1 ``protocol.extractors`` (each set-level network's contract and
    weights): a set metric takes its network's contract from there. A per-video metric's model
    (an identity embedder, a classifier) had no contract recorded, and may read the same weights
    under another one (per frame), so its contract stays null (unknown). ``paired_frames`` is
    the ``frames`` a paired metric recorded; ``settings`` are the metric's value settings
    (``MetricSpec.value_settings``) as every schema-1 run had them (:data:`V1_SETTINGS`, ``seed``).
    Conversions and warnings were not kept by version 1: they are null (unknown), not empty. Extra
    fields (KID's subsets, label-acc's confusion, ...) are kept as they are.
    """
    from vbench_i2v.metrics.registry import all_metrics

    spec = all_metrics().get(name)
    net, sha = metric.get("extractor"), metric.get("weights_sha256")
    info = (networks or {}).get(net) if (net and spec is not None and spec.kind == "set") else None
    if info is not None and info.get("weights_sha256") not in (None, sha):
        info = None  # another file under the same name: its contract is not this one's
    known = {**V1_SETTINGS, **({"seed": seed} if seed is not None else {})}
    wanted = getattr(spec, "value_settings", ()) if spec is not None else ()
    prov = {
        "extractor": net, "weights_sha256": sha,
        "contract": ({k: v for k, v in (info.get("contract") or {}).items() if k != "note"} or None) if info else None,
        "extra_weights_sha256": (info.get("extra_weights_sha256") or None) if info else None,
        "precision": "fp32" if net else None,  # schema-1 runs never used bf16
        "paired_frames": metric.get("frames") if metric.get("frames") in ("predicted", "all") else None,
        "bootstrap": dict(bootstrap if bootstrap is not None else V1_BOOTSTRAP),
        "settings": {k: known[k] for k in wanted if k in known} or None,
        "conversions": None, "warnings": None,
    }
    extras = {k: v for k, v in metric.items()
              if k not in ("value", "ci95", "n", "extractor", "weights_sha256", "measurement", "provenance")}
    out = {"value": metric["value"], "ci95": metric["ci95"], "n": metric["n"], **extras, "provenance": prov}
    return with_measurement(out)


def migrate_results(results: dict, source: str | os.PathLike = "results") -> dict:
    """A version-2 results dict from a version-1 one (a copy; a version-2 dict comes back as is).

    The protocol keeps the clip fields and gets the new fingerprint; the networks it listed move
    into each metric's provenance (:func:`metric_from_v1`), which also gives each metric its
    measurement id; ``provenance.migrated_from`` records the old version and fingerprint."""
    validate_results(results, source)
    if results["schema_version"] == SCHEMA_VERSION:
        return results
    old = copy.deepcopy(results)
    proto1 = old["protocol"]
    protocol = {k: proto1[k] for k in _PROTOCOL_V2 if k != "fingerprint"}
    new = {"schema_version": SCHEMA_VERSION, "run_id": old["run_id"], "generator": old["generator"],
           "dataset": old["dataset"], "protocol": protocol,
           "metrics": {name: metric_from_v1(name, m, proto1["extractors"], seed=proto1["seed"])
                       for name, m in old["metrics"].items()},
           "provenance": {**old["provenance"], "migrated_from": {
               "schema_version": old["schema_version"], "fingerprint": proto1["fingerprint"]}}}
    new.update({k: v for k, v in old.items() if k not in new})  # anything else the file carried
    protocol["fingerprint"] = protocol_fingerprint(fingerprint_fields(new))
    return validate_results(new, source)


def results_file(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else ``path/results.json`` (a run directory)."""
    path = Path(path)
    return path / RESULTS_FILENAME if path.is_dir() else path


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate one results file, given the file or its run directory; a version-1 file
    comes back migrated to version 2 (:func:`migrate_results`; the file itself is not rewritten)."""
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
    return migrate_results(data, source=file)


def write_results(path: str | os.PathLike, results: dict) -> Path:
    """Validate and write atomically (temp file in the same folder, then rename); returns the file.
    Only the current :data:`SCHEMA_VERSION` is written.

    ``path`` is the results file, or a run directory (then ``results.json`` inside it).
    """
    path = Path(path)
    file = path / RESULTS_FILENAME if (path.is_dir() or not path.suffix) else path
    validate_results(results, source=file)
    if results["schema_version"] != SCHEMA_VERSION:  # older versions are read, never written
        raise InputError(f"{file}: results are written in schema version {SCHEMA_VERSION} only "
                         f"(migrate_results turns version {results['schema_version']} into it)")
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
