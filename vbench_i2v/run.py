"""`vbench run` as four stages: load -> generate -> score -> record.

Each stage is a function whose inputs and outputs are in its signature; :func:`execute` chains
them. The run folder ``<out>/<run-id>/`` holds ``clips.csv``, ``real/<clip>.npz`` and
``fake/<clip>.npz`` (lossless), ``cond/<clip>.png`` (the conditioning frames) and finally
``results.json``. The run id is a pure function of the clips that were made (generator, variant,
dataset, the protocol fingerprint of the clips, checkpoint hash, seed); the metrics asked for are
not part of it, so ``--metrics ssim`` and ``--metrics fid,ssim`` find the same folder: an
interrupted run resumes with ``--resume`` (stale temp files are removed first) and nothing already
written is rewritten; a finished run asked for metrics it lacks scores them from the clips on disk
(never regenerating one) and rewrites results.json atomically. Each metric records how it was
measured (its measurement id, :mod:`vbench_i2v.results`). Scoring is one engine call
(:func:`score_stage`); every clip's features are kept in the feature store ``<out>/_features/``
(keyed by network identity and clip content, :mod:`vbench_i2v.metrics.store`) and reused by every
later run and metric on the same network.

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
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import vbench_i2v
from vbench_i2v import distributed, protocol
from vbench_i2v.errors import InputError
from vbench_i2v.files import sha256_file
from vbench_i2v.results import SCHEMA_VERSION, write_results

log = logging.getLogger(__name__)
TRAIN_STEPS_IF_MISSING = 2000


@dataclass
class RunSpec:
    """Everything a run depends on (the CLI fills it; the Python API takes it as keywords)."""

    generator: str | None  # a backend name, ``module.path:callable``, or None with ``videos``
    dataset: str
    checkpoint: str | None = None
    train_if_missing: bool = False
    metrics: list[str] | None = None
    extractor: str | None = None
    identity: str | None = None  # ACD's identity embedder (ScorePlan.identity); None: the catalog's choice
    tf32: bool = False  # the scoring networks may use TF32 (CUDA only; generation stays IEEE fp32)
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
    # a submitted folder of clips instead of a generator (vbench_i2v.submission), named by ``name``;
    # ``variant``: free text for a submission or a callable generator (``module.path:callable``)
    videos: str | None = None
    name: str | None = None
    variant: str | None = None


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
    networks: dict = field(default_factory=dict)  # {name: contract, weights sha256} of the set metrics' networks


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
    from vbench_i2v.generators.callable_backend import CallableGenerator, is_callable_target
    from vbench_i2v.generators.registry import get_generator, load_checkpoint

    if is_callable_target(spec.generator):  # a function imported by path, behind the backend interface
        if spec.checkpoint or spec.train_if_missing:
            raise InputError(f"--generator {spec.generator}: a callable loads its own weights; drop "
                             "--checkpoint/--train-if-missing")
        return CallableGenerator.from_target(spec.generator, spec.name, ds.num_classes, ds.labels, ds.name,
                                             device), None
    if spec.variant is not None or spec.name is not None:
        raise InputError("--name and --variant go with --videos or a callable --generator module.path:callable "
                         f"(a backend's variant is its config; {spec.generator!r} is a backend)")
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
    g.manual_seed(protocol.noise_seed(seed, clip_id))
    return g


def _scoring_networks(metrics: list[str], extractor) -> dict:
    """``{name: identity}`` of the networks the set metrics run on, weights verified (the engine's
    answer, :func:`vbench_i2v.metrics.engine.networks`)."""
    from vbench_i2v.metrics.engine import networks
    from vbench_i2v.metrics.plan import ScorePlan

    return networks(ScorePlan(metrics=metrics, extractor=extractor))


def run_id_for(generator: str, variant: str | None, dataset: str, fingerprint: str,
               checkpoint_sha: str | None, seed: int) -> str:
    """The run folder's name: what made the clips (``fingerprint`` is the protocol fingerprint of
    the clips, :data:`vbench_i2v.results.FINGERPRINT_FIELDS`); never the metrics or their networks."""
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
    refs = protocol.test_clips(ds, spec.conditioning_per_video, spec.max_videos, spec.seed)
    # the networks' weights are checked before any clip is made (a missing file: the command to get it)
    uses_features = any(get_metric(m).kind == "set" or get_metric(m).needs_model for m in metrics)
    networks = _scoring_networks(metrics, extractor) if uses_features else {}
    if spec.identity is not None and any(_uses_identity(m) for m in metrics) and not Path(spec.identity).is_dir():
        from vbench_i2v import weights
        from vbench_i2v.feature_extractors import extractor_spec

        espec = extractor_spec(spec.identity, "identity")  # the embedder asked for: its files, before any clip
        for w in (espec.weights, *espec.extra_weights):
            weights.require(w.name)
    elif uses_features and not networks and not Path(str(extractor)).is_dir():  # identity metrics only
        from vbench_i2v import weights
        from vbench_i2v.feature_extractors import extractor_spec

        weights.require(extractor_spec(extractor).weights.name)
    # the protocol describes the clips only (its fingerprint keys the run folder); which metrics and
    # networks score them is recorded per metric, as its measurement id
    proto = protocol.clip_protocol(ds, spec.conditioning_per_video, spec.max_videos, spec.seed)
    dataset_block = {"name": ds.name, "split": "test", "clip_count": len(refs),
                     "video_count": len({r.record for r in refs})}

    if spec.videos is not None:  # a submitted folder, checked against the clips before anything is written
        from vbench_i2v.submission import open_submission

        model, ckpt = open_submission(spec.videos, refs, spec.name, spec.variant, ds.num_classes,
                                      generator=spec.generator), None
    else:  # rank 0 first, alone: it trains a missing checkpoint; then the others load what it wrote
        loaded = distributed.on_main(lambda: _load_generator(spec, ds, device))
        model, ckpt = distributed.everywhere(lambda: loaded if distributed.is_main()
                                             else _load_generator(spec, ds, device))
    ckpt_sha = sha256_file(Path(ckpt) / "model.safetensors") if ckpt else None
    variant = spec.variant if spec.variant is not None or spec.videos is not None else config_variant(model)
    run_id = run_id_for(model.name, variant, ds.name, proto["fingerprint"], ckpt_sha or model.identity_sha256(),
                        spec.seed)
    return LoadedRun(ds, refs, model, Path(ckpt) if ckpt else None, ckpt_sha, variant, metrics, extractor,
                     proto, dataset_block, run_id, Path(spec.out) / run_id, device, networks)


# ----------------------------------------------------------------------------- stage 2: generate

def generate_stage(model, ds, refs, run_dir: Path, seed: int, batch_size: int) -> int:
    """Write real/, fake/ and cond/ for every clip of this rank not yet written; returns how many
    were new. The conditioning image saved in cond/ is exactly the frame the generator saw."""
    import torch
    from tqdm.auto import tqdm

    from vbench_i2v.files import atomic_write_bytes
    from vbench_i2v.kit import png_bytes
    from vbench_i2v.tensors import video_from_model
    from vbench_i2v.video_io import write_video

    refs = distributed.shard(refs, key=lambda r: r.clip_id)  # this rank's clips (all of them in 1 process)
    todo = [r for r in refs if not (run_dir / "fake" / f"{r.clip_id}.npz").exists()]
    if len(todo) < len(refs):
        log.info("resuming: %d of %d clips already generated%s", len(refs) - len(todo), len(refs),
                 f" (rank 0's share of {distributed.world_size()})" if distributed.is_distributed() else "")
    bar = tqdm(total=len(todo), desc=f"generate {model.name}", unit="clip",
               disable=None if distributed.is_main() else True)
    submitted = getattr(model, "source", None) == "videos"  # a folder of clips (vbench_i2v.submission)
    if submitted:
        distributed.on_main(lambda: model.write_manifest(run_dir))
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        read = [[] for _ in chunk]  # what the reader did to each clip's source (kept in real/<clip>.npz)
        reals = np.stack([ds.load_clip(r, conv) for r, conv in zip(chunk, read)])
        conds = np.ascontiguousarray(reals[:, 0])
        if submitted:  # converted once, to the protocol's size, instead of generated
            fake_u8 = model.clips_for(chunk)
        else:
            labels = None if model.num_classes == 0 else [r.record.label for r in chunk]
            zs = [model.sample_z(1, _noise_generator(seed, r.clip_id)) for r in chunk]
            z = None if zs[0] is None else torch.cat(zs)
            fake = model.generate(conds, labels, z=z)
            if not torch.isfinite(fake).all():
                bad = chunk[int((~torch.isfinite(fake)).flatten(1).any(1).nonzero()[0])].clip_id
                raise InputError(f"{model.name} produced NaN/inf values for clip {bad}")
            fake_u8 = video_from_model(fake)
        for ref, real, cond, fk, conv in zip(chunk, reals, conds, fake_u8, read):
            write_video(run_dir / "real" / f"{ref.clip_id}.npz", real, conversions=conv)
            atomic_write_bytes(run_dir / "cond" / f"{ref.clip_id}.png", png_bytes(cond))  # as the kit has it
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


def feature_store_dir(out) -> Path:
    """The feature store every run under ``out`` shares (``<out>/_features/``): each clip's features
    are kept per network identity and clip content (:mod:`vbench_i2v.metrics.store`), so the real
    clips of a protocol are extracted once for every run and metric that uses the network."""
    return Path(out) / "_features"


def score_stage(run_dir: Path, store_dir: Path | None, metrics: list[str], extractor, seed: int,
                device: str, include_conditioning_frame: bool = False, identity=None, tf32: bool = False) -> dict:
    """Score fake/ against real/ in one engine call (every clip decoded once; features through the
    feature store at ``store_dir``), write each metric's artifacts beside the results (e.g.
    label-acc's confusion.csv), and return the engine's per-metric objects (the results' block).
    ``identity``: ACD's identity embedder (None: the catalog's choice); ``tf32``: the networks may
    use TF32 (CUDA only)."""
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan
    from vbench_i2v.metrics.registry import get_metric

    cond = run_dir / "cond"
    plan = ScorePlan(metrics=metrics, extractor=extractor, conditioning=cond if cond.is_dir() else None,
                     labels=_labels_of(run_dir), seed=seed, device=device, identity=identity, tf32=tf32,
                     include_conditioning_frame=include_conditioning_frame)
    scores = compute_metrics(run_dir / "real", run_dir / "fake", plan, store=store_dir)
    for name, result in scores.metrics.items():
        spec = get_metric(name)
        if spec.artifacts is not None:
            distributed.on_main(lambda: spec.artifacts(result, run_dir))
    return scores.to_json()["metrics"]


# ----------------------------------------------------------------------------- stage 4: record

def _paired_frames(spec: RunSpec) -> str:
    return "all" if spec.include_conditioning_frame else "predicted"


def _uses_identity(metric: str) -> bool:
    """Whether ``metric`` embeds identities (ACD): ``--identity`` is part of its measurement."""
    from vbench_i2v.metrics.registry import get_metric

    return get_metric(metric).needs_model == "identity"


def _scoring_request(metric: str, loaded: LoadedRun, spec: RunSpec) -> dict:
    """What of this command decides how ``metric`` is measured: the network asked for (set metrics
    that do not fix theirs, metrics that build a model), the identity embedder asked for (ACD, when
    ``--identity`` is given), TF32 (when asked for, for metrics with a network) and the frames
    paired metrics score."""
    from vbench_i2v.metrics.registry import get_metric

    s = get_metric(metric)
    request = {}
    if (s.kind == "set" and not s.extractor_fixed) or s.needs_model:
        ex = str(loaded.extractor)
        request["extractor"] = str(Path(ex).resolve()) if Path(ex).is_dir() else ex
    if spec.identity is not None and _uses_identity(metric):
        request["identity"] = str(Path(spec.identity).resolve()) if Path(spec.identity).is_dir() else spec.identity
    if spec.tf32 and (s.kind == "set" or s.needs_model):
        request["tf32"] = True
    if s.kind == "paired":
        request["paired_frames"] = _paired_frames(spec)
    return request


def _metric_objects(block: dict) -> dict:
    """The schema-2 per-metric objects, as the engine returns them (value, ci95, n, measurement,
    provenance); an object without its ``measurement`` gets it from its provenance."""
    from vbench_i2v.results import with_measurement

    return {name: with_measurement(m) for name, m in block.items()}


def record_stage(loaded: LoadedRun, metric_block: dict, spec: RunSpec, wall_time_s: float) -> dict:
    """The results dict of the run (schema 2), written atomically to ``results.json`` by rank 0."""
    import torch

    model = loaded.model
    results = {
        "schema_version": SCHEMA_VERSION,
        "run_id": loaded.run_id,
        "generator": {"name": model.name, "config": dataclasses.asdict(model.config),
                      "checkpoint": str(loaded.checkpoint) if loaded.checkpoint else None,
                      "checkpoint_sha256": loaded.checkpoint_sha256,
                      "variant": loaded.variant, "num_classes": model.num_classes,
                      **model.source_record()},  # the route: backend, callable or submitted videos
        "dataset": loaded.dataset_block,
        "protocol": loaded.protocol,
        "metrics": _metric_objects(metric_block),
        "provenance": {
            "package_version": vbench_i2v.__version__, "torch_version": torch.__version__,
            "device": str(loaded.device), "wall_time_s": round(wall_time_s, 3),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": spec.extra.get("command"),
            "data": loaded.dataset.provenance(),
            "scored_with": {m: _scoring_request(m, loaded, spec) for m in metric_block},
        },
    }
    if getattr(model, "checks", None) is not None:  # a submission's frame-0 checks (vbench_i2v.submission)
        results["submission_checks"] = model.checks
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


def _recorded_request(results: dict, metric: str) -> dict:
    """How a recorded metric was asked for (a version-1 file recorded only its paired frames)."""
    got = results["provenance"].get("scored_with", {}).get(metric)
    if got is not None:
        return got
    frames = (results["metrics"][metric].get("provenance") or {}).get("paired_frames")
    return {"paired_frames": frames} if frames else {}


def _check_recorded(results: dict, loaded: LoadedRun, spec: RunSpec) -> None:
    """A metric already in the run was measured as this command would measure it, or a one-line
    error: a run folder keeps one measurement per metric, never a silently different one."""
    for m in loaded.metrics:
        if m not in results["metrics"]:
            continue
        got, want = _recorded_request(results, m), _scoring_request(m, loaded, spec)
        for key in ("identity", "tf32"):  # recorded only when asked for: absent means the default
            if key in got or key in want:
                got, want = {**got, key: got.get(key)}, {**want, key: want.get(key)}
        for key, value in want.items():
            if key in got and got[key] != value:
                run_dir = loaded.run_dir
                shown = lambda v: "the default" if v is None else repr(v)  # noqa: E731 - absent: the default
                raise InputError(
                    f"{run_dir}: {m} is recorded with {key} {shown(got[key])}, this command asks for "
                    f"{shown(value)}; a run "
                    f"keeps one measurement per metric (score its clips otherwise with `vbench metrics --real "
                    f"{run_dir}/real --fake {run_dir}/fake --metrics {m} ...`)")


def _complete_missing(loaded: LoadedRun, spec: RunSpec) -> dict:
    """A finished run asked for metrics it lacks: score them from the clips on disk (never
    regenerating a clip) and rewrite results.json atomically (a version-1 file becomes version 2)."""
    from vbench_i2v.results import load_results

    results = load_results(loaded.run_dir)
    _check_recorded(results, loaded, spec)
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
    block = score_stage(loaded.run_dir, feature_store_dir(spec.out), missing,
                        loaded.extractor, spec.seed, str(loaded.device), spec.include_conditioning_frame,
                        spec.identity, spec.tf32)
    results["metrics"].update(_metric_objects(block))
    results["provenance"].setdefault("scored_with", {}).update(
        {m: _scoring_request(m, loaded, spec) for m in missing})
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
    if spec.videos is not None:  # a submission: does frame 0 match each clip's conditioning image?
        from vbench_i2v.submission import first_frame_checks

        loaded.model.checks = distributed.on_main(lambda: first_frame_checks(loaded.run_dir, loaded.refs,
                                                                             spec.seed))
    block = score_stage(loaded.run_dir, feature_store_dir(spec.out), loaded.metrics, loaded.extractor,
                        spec.seed, str(loaded.device), spec.include_conditioning_frame, spec.identity, spec.tf32)
    return record_stage(loaded, block, spec, time.perf_counter() - t0)
