"""`vbench run` as four stages: load -> generate -> score -> record.

Each stage is a function whose inputs and outputs are in its signature; :func:`execute` chains
them. The run folder ``<out>/<run-id>/`` holds ``clips.csv``, ``real/<clip>.npz`` and
``fake/<clip>.npz`` (lossless), ``cond/<clip>.png`` (the conditioning frames) and finally
``results.json``. The run id is a pure function of what was run (generator, variant, dataset and
its content fingerprint, protocol fingerprint, checkpoint hash, seed), so the same command finds
its own folder again: an interrupted run resumes with ``--resume`` (stale temp files are removed
first) and nothing already written is rewritten; a finished run asked for metrics it lacks scores
them from the clips on disk and rewrites results.json atomically. Real-clip features are stored
once per (protocol, extractor) under ``<out>/_reference/`` and reused.

Under torchrun (``torchrun --nproc_per_node N -m vbench_i2v run ...``) each rank generates its share
of the clips (per-clip noise makes them identical to a 1-process run), scoring is sharded as in
:mod:`vbench_i2v.metrics.engine`, and rank 0 alone trains a missing checkpoint, creates the run
folder and writes ``results.json``. Messages go through the ``vbench_i2v`` logger, which only rank 0
lets through (:func:`vbench_i2v.logs.setup`).

Why this module is over 400 lines: the four stages and their helpers share one owner of state, the run folder and its layout; splitting them would scatter that layout over several modules.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import vbench_i2v
from vbench_i2v import distributed, protocol
from vbench_i2v.errors import InputError
from vbench_i2v.files import sha256_file
from vbench_i2v.results import SCHEMA_VERSION, protocol_fingerprint, write_results

log = logging.getLogger(__name__)
TRAIN_STEPS_IF_MISSING = 2000


@dataclass
class RunSpec:
    """Everything a run depends on (the CLI fills it; the Python API takes it as keywords)."""

    generator: str
    dataset: str
    checkpoint: str | None = None
    train_if_missing: bool = False
    metrics: list[str] | None = None
    extractor: str | None = None
    conditioning_per_video: int = protocol.CONDITIONING_PER_VIDEO
    max_videos: int | None = None
    seed: int = 0
    device: str = "auto"
    out: str = "runs"
    resume: bool = False
    data_root: str | None = None
    batch_size: int = 16
    dataset_options: dict = field(default_factory=dict)
    include_conditioning_frame: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class LoadedRun:
    """What the load stage settles: the data, the model, and the identity of the run."""

    dataset: object
    refs: list
    model: object
    checkpoint: Path | None
    checkpoint_sha256: str | None
    variant: str | None
    metrics: list[str]
    extractor: str
    protocol: dict
    dataset_block: dict
    run_id: str
    run_dir: Path
    device: object


def shipped_checkpoint(generator: str, dataset: str) -> Path | None:
    """The verified checkpoint the package ships for ``generator`` on ``dataset``, if any."""
    from vbench_i2v.generators.registry import shipped_checkpoint as lookup

    return lookup(generator, dataset)


def default_metrics(ds, extractor: str | None = None) -> list[str]:
    """The registry's defaults; identity metrics on face datasets; label-acc where the dataset has
    labels and the run's extractor is a probe with a class head (the synthetic probe, a probe folder)."""
    from vbench_i2v.metrics.registry import default_metrics as defaults

    names = defaults(faces=bool(ds.faces if ds.faces is not None else ds.face_crop))
    extractor = extractor or default_extractor(ds)
    probe = extractor == "synthetic-probe" or (extractor is not None and Path(str(extractor)).is_dir())
    if ds.num_classes > 0 and probe:
        names.append("label-acc")
    return names


def default_extractor(ds) -> str:
    return ds.default_extractor


def config_variant(backend) -> str | None:
    """What sets this model apart from the backend's default, e.g. ``fusion=False,width=0.125``.

    Fields are compared with the defaults of the model's own preset (a non-default preset is named
    first); ``batch_size`` is left out: it shapes training, not what the model is.
    """
    cls = type(backend)
    mine = dataclasses.asdict(backend.config)
    preset = mine.get("preset") or None
    base = dataclasses.asdict(cls.make_config(preset=preset if preset in cls.presets else None))
    diff = [f"{k}={mine[k]}" for k in sorted(mine)
            if k not in ("batch_size", "preset") and mine[k] != base.get(k)]
    if preset and preset != cls.default_preset:
        diff.insert(0, f"preset={preset}")
    return ",".join(diff) or None


def vbench_i2v_home() -> Path:
    from vbench_i2v.datasets.base import cache_home

    return cache_home()


def _load_generator(spec: RunSpec, ds, device):
    from vbench_i2v.devices import resolve_device
    from vbench_i2v.generators.registry import get_generator, load_checkpoint

    cls = get_generator(spec.generator)
    if not cls.trainable:
        if spec.checkpoint:
            raise InputError(f"{spec.checkpoint}: --checkpoint given, but generator {spec.generator!r} has no "
                             "weights to load")
        return cls(cls.make_config(), ds.num_classes, ds.labels, ds.name, device=device), None
    ckpt = Path(spec.checkpoint) if spec.checkpoint else shipped_checkpoint(spec.generator, ds.name)
    if ckpt is None:
        ckpt = vbench_i2v_home() / "checkpoints" / f"{spec.generator}-{ds.name}-s{spec.seed}"
        if not (ckpt / "model.safetensors").exists():
            if not spec.train_if_missing:
                raise InputError(
                    f"no checkpoint for {spec.generator} on {ds.name}: pass --checkpoint DIR, or "
                    f"--train-if-missing, or train one with `vbench train --generator {spec.generator} "
                    f"--dataset {ds.name} --out DIR`")
            log.info("no checkpoint for %s on %s: training one (%d steps, default config) into %s",
                     spec.generator, ds.name, TRAIN_STEPS_IF_MISSING, ckpt)
            import torch

            from vbench_i2v.generators import training

            torch.manual_seed(spec.seed)
            model = cls(cls.make_config(), ds.num_classes, ds.labels, ds.name, device=resolve_device(device))
            training.train(model, ds, ckpt, steps=TRAIN_STEPS_IF_MISSING, seed=spec.seed,
                           resume=(ckpt / "training_state.pt").exists(), single_process=True)
    model = load_checkpoint(ckpt, device=device, expect=spec.generator)
    if model.num_classes != ds.num_classes:
        raise InputError(f"{ckpt}: model has {model.num_classes} classes, dataset {ds.name!r} has {ds.num_classes}")
    return model, ckpt


def _noise_generator(seed: int, clip_id: str):
    """Per-clip noise: the same clip gets the same z whatever the batch size or resume point."""
    import torch

    g = torch.Generator()
    g.manual_seed(int(protocol.rng_for(seed, "noise", clip_id).integers(1 << 62)))
    return g


def _set_extractors(metrics: list[str], extractor: str) -> dict:
    """``{extractor name: {contract..., weights_sha256}}`` of every network the set metrics use
    (verified weights; a missing file gives the exact command to get it)."""
    from vbench_i2v import feature_extractors, weights
    from vbench_i2v.metrics.engine import _extractor_for
    from vbench_i2v.metrics.registry import get_metric

    out = {}
    for m in metrics:
        s = get_metric(m)
        if s.kind != "set":
            continue
        name = _extractor_for(s, extractor)
        if name in out:
            continue
        if Path(str(name)).is_dir() and name not in feature_extractors.EXTRACTORS:
            ex = feature_extractors.build_video_extractor(name)
            out[ex.name] = {**ex.spec.provenance(), "weights_sha256": ex.weights_sha256}
            continue
        espec = feature_extractors.extractor_spec(name)
        out[name] = {**espec.provenance(), "weights_sha256": weights.require(espec.weights.name).sha256,
                     "extra_weights_sha256": {w.name: weights.require(w.name).sha256 for w in espec.extra_weights}}
    for entry in out.values():  # the contract's numbers identify the protocol; its prose note does not
        entry["contract"] = {k: v for k, v in entry.get("contract", {}).items() if k != "note"}
    return out


def run_id_for(generator: str, variant: str | None, dataset: str, fingerprint: str,
               checkpoint_sha: str | None, seed: int) -> str:
    import hashlib

    tag = f"{generator}_{dataset}_{fingerprint[:8]}_{(checkpoint_sha or 'none')[:8]}_s{seed}"
    if variant:
        tag += "_" + hashlib.sha256(variant.encode()).hexdigest()[:6]
    return tag


# ----------------------------------------------------------------------------- stage 1: load

def load_stage(spec: RunSpec) -> LoadedRun:
    """Dataset, protocol clips, generator and the run's identity; every input checked first."""
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.devices import resolve_device
    from vbench_i2v.metrics.registry import get_metric, parse_metrics

    if spec.conditioning_per_video < 1:
        raise InputError(f"--conditioning-per-video must be >= 1, got {spec.conditioning_per_video}")
    if spec.max_videos is not None and spec.max_videos < 1:
        raise InputError(f"--max-videos must be >= 1, got {spec.max_videos}")
    if spec.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {spec.batch_size}")
    device = resolve_device(distributed.local_device(spec.device))
    ds = get_dataset(spec.dataset, data_root=spec.data_root, seed=spec.seed, **spec.dataset_options)
    if spec.data_root and not getattr(ds, "user_supplied", True):
        raise InputError(f"{spec.data_root}: --data-root given, but dataset {ds.name!r} is built in and reads no files")
    extractor = spec.extractor or default_extractor(ds)
    metrics = parse_metrics(spec.metrics) if spec.metrics else default_metrics(ds, extractor)
    # the data first (a missing dataset is the first thing to fix), then the extractors' weights
    refs = ds.clips("test", per_video=spec.conditioning_per_video, seed=spec.seed, limit=spec.max_videos)
    uses_features = any(get_metric(m).kind == "set" or get_metric(m).needs_model for m in metrics)
    extractors = _set_extractors(metrics, extractor) if uses_features else {}
    main = next(iter(extractors.items()), (None, {"weights_sha256": None}))
    if uses_features and not extractors:  # identity metrics only: record the extractor asked for
        from vbench_i2v import weights
        from vbench_i2v.feature_extractors import extractor_spec

        main = (extractor, {"weights_sha256": weights.require(extractor_spec(extractor).weights.name).sha256})
    proto = {
        "frames": protocol.CLIP_FRAMES, "size": protocol.SIZE, "frame_step": ds.frame_step,
        "conditioning_per_video": spec.conditioning_per_video, "max_videos": spec.max_videos,
        "seed": spec.seed, "extractor": main[0], "extractor_weights_sha256": main[1]["weights_sha256"],
        "extractors": extractors,
        "dataset_options": ds.provenance()["options"],  # canonical, defaults included
        "dataset_fingerprint": ds.dataset_fingerprint(),
        "paired_frames": "all" if spec.include_conditioning_frame else "predicted",
    }
    dataset_block = {"name": ds.name, "split": "test", "clip_count": len(refs),
                     "video_count": len({r.record for r in refs})}
    proto["fingerprint"] = protocol_fingerprint({**proto, "dataset": ds.name, "split": "test"})

    # rank 0 first, alone: it trains a missing checkpoint; then the others load what it wrote
    loaded = distributed.on_main(lambda: _load_generator(spec, ds, device))
    model, ckpt = distributed.everywhere(lambda: loaded if distributed.is_main()
                                         else _load_generator(spec, ds, device))
    ckpt_sha = sha256_file(Path(ckpt) / "model.safetensors") if ckpt else None
    variant = config_variant(model)
    run_id = run_id_for(model.name, variant, ds.name, proto["fingerprint"], ckpt_sha, spec.seed)
    return LoadedRun(ds, refs, model, Path(ckpt) if ckpt else None, ckpt_sha, variant, metrics, extractor,
                     proto, dataset_block, run_id, Path(spec.out) / run_id, device)


# ----------------------------------------------------------------------------- stage 2: generate

def generate_stage(model, ds, refs, run_dir: Path, seed: int, batch_size: int) -> int:
    """Write real/, fake/ and cond/ for every clip of this rank not yet written; returns how many
    were new. The conditioning image saved in cond/ is exactly the frame the generator saw."""
    import torch
    from PIL import Image
    from tqdm.auto import tqdm

    from vbench_i2v.files import atomic_write_bytes
    from vbench_i2v.tensors import video_from_model
    from vbench_i2v.video_io import write_video

    refs = distributed.shard(refs, key=lambda r: r.clip_id)  # this rank's clips (all of them in 1 process)
    todo = [r for r in refs if not (run_dir / "fake" / f"{r.clip_id}.npz").exists()]
    if len(todo) < len(refs):
        log.info("resuming: %d of %d clips already generated%s", len(refs) - len(todo), len(refs),
                 f" (rank 0's share of {distributed.world_size()})" if distributed.is_distributed() else "")
    bar = tqdm(total=len(todo), desc=f"generate {model.name}", unit="clip",
               disable=None if distributed.is_main() else True)
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        reals = np.stack([ds.load_clip(r) for r in chunk])
        conds = np.ascontiguousarray(reals[:, 0])
        labels = None if model.num_classes == 0 else [r.record.label for r in chunk]
        zs = [model.sample_z(1, _noise_generator(seed, r.clip_id)) for r in chunk]
        z = None if zs[0] is None else torch.cat(zs)
        fake = model.generate(conds, labels, z=z)
        if not torch.isfinite(fake).all():
            bad = chunk[int((~torch.isfinite(fake)).flatten(1).any(1).nonzero()[0])].clip_id
            raise InputError(f"{model.name} produced NaN/inf values for clip {bad}")
        fake_u8 = video_from_model(fake)
        for ref, real, cond, fk in zip(chunk, reals, conds, fake_u8):
            write_video(run_dir / "real" / f"{ref.clip_id}.npz", real)
            buf = io.BytesIO()
            Image.fromarray(cond).save(buf, format="PNG")
            atomic_write_bytes(run_dir / "cond" / f"{ref.clip_id}.png", buf.getvalue())
            write_video(run_dir / "fake" / f"{ref.clip_id}.npz", fk)  # last: marks the clip done
        bar.update(len(chunk))
    bar.close()
    return len(todo)


# ----------------------------------------------------------------------------- stage 3: score

def _labels_of(run_dir: Path) -> dict:
    """``{clip: label index}`` from the run's clips.csv (what each clip was conditioned on)."""
    from vbench_i2v.clips_table import read_labels

    path = run_dir / "clips.csv"
    return read_labels(path, allow_unlabelled=True) if path.exists() else {}


def score_stage(run_dir: Path, reference_dir: Path, metrics: list[str], extractor: str, seed: int,
                device: str, include_conditioning_frame: bool = False) -> dict:
    """Score fake/ against real/; real-clip features are computed once per (protocol, extractor)
    and reused. Returns the results' ``metrics`` block."""
    from vbench_i2v.metrics.engine import _extractor_for, compute_metrics, features_file
    from vbench_i2v.metrics.registry import get_metric

    specs = [get_metric(m) for m in metrics]
    per_video = [s.name for s in specs if s.kind != "set"]
    scored: dict = {}
    by_extractor: dict = {}
    for s in specs:
        if s.kind == "set":
            by_extractor.setdefault(_extractor_for(s, extractor), []).append(s.name)
    for ex_name, names in by_extractor.items():
        tag = Path(str(ex_name)).name if Path(str(ex_name)).is_dir() else ex_name
        ref = reference_dir / f"real_features_{tag}.npz"
        if ref.exists():
            log.info("reusing real-clip features %s", ref)
        else:
            features_file(run_dir / "real", ex_name, ref, device=device)
        r = compute_metrics(ref, run_dir / "fake", metrics=names, extractor=ex_name, seed=seed, device=device)
        for m in names:
            got = r["metrics"][m]
            scored[m] = {**got, "weights_sha256": r["provenance"]["weights"].get(got.get("extractor"))}
    if per_video:
        r = compute_metrics(run_dir / "real", run_dir / "fake", metrics=per_video, extractor=extractor,
                            conditioning=run_dir / "cond", seed=seed, device=device, labels=_labels_of(run_dir),
                            include_conditioning_frame=include_conditioning_frame)
        ident = r["provenance"].get("identity_embedder")
        for m in per_video:
            s = get_metric(m)
            model = r["provenance"].get("models", {}).get(s.needs_model, {}).get("name") if s.needs_model else None
            if s.needs_model == "identity":
                extra = {"extractor": ident, "weights_sha256": r["provenance"]["weights"].get(ident)}
            elif model:
                extra = {"extractor": model, "weights_sha256": r["provenance"]["weights"].get(model)}
            else:
                extra = {"extractor": None, "weights_sha256": None}
            scored[m] = {**r["metrics"][m], **extra}
            if s.needs_model == "identity" and "face_fallback" in r["provenance"]:
                scored[m]["face_fallback"] = r["provenance"]["face_fallback"]
    if "label-acc" in scored and "confusion" in scored["label-acc"]:
        from vbench_i2v.metrics.label_accuracy import write_confusion_csv

        distributed.on_main(lambda: write_confusion_csv(run_dir / "confusion.csv", scored["label-acc"]))
    block = {}
    for m in metrics:
        v = dict(scored[m])
        v.pop("per_video", None)
        block[m] = {"value": v.pop("value"), "ci95": v.pop("ci95"), "n": v.pop("n"),
                    "extractor": v.pop("extractor", None), "weights_sha256": v.pop("weights_sha256", None), **v}
    return block


# ----------------------------------------------------------------------------- stage 4: record

def record_stage(loaded: LoadedRun, metric_block: dict, spec: RunSpec, wall_time_s: float) -> dict:
    """The results dict of the run, written atomically to ``results.json`` by rank 0."""
    import torch

    model = loaded.model
    results = {
        "schema_version": SCHEMA_VERSION,
        "run_id": loaded.run_id,
        "generator": {"name": model.name, "config": dataclasses.asdict(model.config),
                      "checkpoint": str(loaded.checkpoint) if loaded.checkpoint else None,
                      "checkpoint_sha256": loaded.checkpoint_sha256,
                      "variant": loaded.variant, "num_classes": model.num_classes},
        "dataset": loaded.dataset_block,
        "protocol": loaded.protocol,
        "metrics": metric_block,
        "provenance": {
            "package_version": vbench_i2v.__version__, "torch_version": torch.__version__,
            "device": str(loaded.device), "wall_time_s": round(wall_time_s, 3),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": spec.extra.get("command"),
            "data": loaded.dataset.provenance(),
        },
    }
    distributed.on_main(lambda: write_results(loaded.run_dir, results))
    return results


def _prepare_run_dir(loaded: LoadedRun, resume: bool) -> str:
    """``"complete"``, ``"new"`` or ``"resumed"`` (rank 0 decides for all and makes the folder)."""
    from vbench_i2v.files import remove_stale_temps
    from vbench_i2v.clips_table import write_clips_csv

    run_dir = loaded.run_dir
    if (run_dir / "results.json").exists():
        return "complete"
    state = "new"
    if run_dir.exists() and any(run_dir.iterdir()):
        if not resume:
            raise InputError(f"{run_dir}: an unfinished run is here; pass --resume to continue it")
        removed = remove_stale_temps(run_dir)
        if removed:
            log.info("removed %d stale temp file(s) left by an interrupted write", len(removed))
        state = "resumed"
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "clips.csv").exists():
        write_clips_csv(run_dir / "clips.csv", [loaded.dataset.clip_row(r) for r in loaded.refs])
    return state


def _complete_missing(loaded: LoadedRun, spec: RunSpec) -> dict:
    """A finished run asked for metrics it lacks: score them from the clips on disk (never
    regenerating a clip) and rewrite results.json atomically."""
    from vbench_i2v.results import load_results

    results = load_results(loaded.run_dir)
    missing = [m for m in loaded.metrics if m not in results["metrics"]]
    if not missing:
        log.info("%s: this run is already complete; its results are kept as they are", loaded.run_dir)
        return results
    absent = [r.clip_id for r in loaded.refs if not (loaded.run_dir / "fake" / f"{r.clip_id}.npz").exists()
              or not (loaded.run_dir / "real" / f"{r.clip_id}.npz").exists()]
    if absent:
        raise InputError(f"{loaded.run_dir}: results.json exists but {len(absent)} clip file(s) are missing "
                         f"(e.g. {absent[0]}); cannot add {', '.join(missing)} without regenerating")
    log.info("%s: adding %s from the clips on disk", loaded.run_dir, ", ".join(missing))
    block = score_stage(loaded.run_dir, Path(spec.out) / "_reference" / loaded.protocol["fingerprint"], missing,
                        loaded.extractor, spec.seed, str(loaded.device), spec.include_conditioning_frame)
    results["metrics"].update(block)
    results["provenance"].setdefault("added_later", []).append(
        {"metrics": missing, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
         "command": spec.extra.get("command")})
    distributed.on_main(lambda: write_results(loaded.run_dir, results))
    return results


def execute(spec: RunSpec) -> dict:
    """Do the whole run; returns the results dict (also written to ``results.json``)."""
    from vbench_i2v.logs import setup

    setup()
    t0 = time.perf_counter()
    distributed.init(distributed.local_device(spec.device))  # a no-op without torchrun
    loaded = load_stage(spec)
    state = distributed.on_main(lambda: _prepare_run_dir(loaded, spec.resume), share=True)
    if state == "complete":
        return _complete_missing(loaded, spec)
    log.info("run %s: %s on %s/test, %d clips from %d videos, device %s", loaded.run_id, loaded.model.name,
             loaded.dataset.name, len(loaded.refs), loaded.dataset_block["video_count"], loaded.device)
    # every rank its share of the clips; everywhere() is also the barrier before scoring reads them all
    distributed.everywhere(lambda: generate_stage(loaded.model, loaded.dataset, loaded.refs, loaded.run_dir,
                                                  spec.seed, spec.batch_size))
    block = score_stage(loaded.run_dir, Path(spec.out) / "_reference" / loaded.protocol["fingerprint"],
                        loaded.metrics, loaded.extractor, spec.seed, str(loaded.device),
                        spec.include_conditioning_frame)
    return record_stage(loaded, block, spec, time.perf_counter() - t0)
