"""`vbench run`: load (or train) a generator, generate the protocol's test clips, score, record.

The run folder ``<out>/<run-id>/`` holds ``clips.csv``, ``real/<clip>.npz`` and ``fake/<clip>.npz``
(lossless), ``cond/<clip>.png`` (the conditioning frames) and finally ``results.json``. The run id
is a pure function of what was run (generator, variant, dataset, protocol fingerprint, checkpoint
hash, seed), so the same command finds its own folder again: an interrupted run resumes with
``--resume`` and nothing already written is rewritten. Real-clip feature statistics are stored once
per protocol under ``<out>/_reference/`` and reused by later runs.

Under torchrun (``torchrun --nproc_per_node N -m vbench_i2v run ...``) each rank generates its share
of the clips (:func:`vbench_i2v.distributed.shard`; per-clip noise makes them identical to a
1-process run), scoring is sharded as in :mod:`vbench_i2v.metrics.engine`, and rank 0 alone trains a
missing checkpoint, creates the run folder and writes ``results.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import vbench_i2v
from vbench_i2v import distributed, protocol
from vbench_i2v.errors import InputError
from vbench_i2v.files import sha256_file
from vbench_i2v.results import SCHEMA_VERSION, protocol_fingerprint, write_results

PIXEL_METRICS = ("ssim", "psnr")
FEATURE_METRICS = ("fid", "kid")
FACE_METRICS = ("acd-c", "acd-i")
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
    extra: dict = field(default_factory=dict)


def shipped_checkpoint(generator: str, dataset: str) -> Path | None:
    """The small checkpoint the package ships for ``generator`` on ``dataset``, if any.

    Its weights must match the sha256 recorded in ``generators/checkpoints/SHA256SUMS``.
    """
    import vbench_i2v.generators as gens

    root = Path(gens.__file__).parent / "checkpoints"
    path = root / f"{generator}-{dataset}"
    if not (path / "config.json").exists():
        return None
    sums = {}
    if (root / "SHA256SUMS").exists():
        for line in (root / "SHA256SUMS").read_text().splitlines():
            digest, _, name = line.strip().partition("  ")
            sums[name] = digest
    name = f"{path.name}/model.safetensors"
    if name not in sums:
        raise InputError(f"{path}: shipped checkpoint has no sha256 in {root / 'SHA256SUMS'}")
    got = sha256_file(path / "model.safetensors")
    if got != sums[name]:
        raise InputError(f"{path / 'model.safetensors'}: sha256 {got[:12]}... does not match the recorded "
                         f"{sums[name][:12]}... (reinstall the package)")
    return path


def default_metrics(ds) -> list[str]:
    """Pixel and feature metrics everywhere; identity metrics on face datasets."""
    names = list(PIXEL_METRICS + FEATURE_METRICS)
    if ds.faces if ds.faces is not None else ds.face_crop:
        names += list(FACE_METRICS)
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


def _load_generator(spec: RunSpec, ds, device, say):
    from vbench_i2v.devices import resolve_device
    from vbench_i2v.generators.registry import get_generator, load_checkpoint

    cls = get_generator(spec.generator)
    if not cls.trainable:
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
            say(f"no checkpoint for {spec.generator} on {ds.name}: training one "
                f"({TRAIN_STEPS_IF_MISSING} steps, default config) into {ckpt}")
            from vbench_i2v.generators import training

            torch.manual_seed(spec.seed)
            model = cls(cls.make_config(), ds.num_classes, ds.labels, ds.name, device=resolve_device(device))
            training.train(model, ds, ckpt, steps=TRAIN_STEPS_IF_MISSING, seed=spec.seed,
                           resume=(ckpt / "training_state.pt").exists())
    model = load_checkpoint(ckpt, device=device, expect=spec.generator)
    if model.num_classes != ds.num_classes:
        raise InputError(f"{ckpt}: model has {model.num_classes} classes, dataset {ds.name!r} has {ds.num_classes}")
    return model, ckpt


def vbench_i2v_home() -> Path:
    from vbench_i2v.datasets.base import cache_home

    return cache_home()


def _noise_generator(seed: int, clip_id: str) -> torch.Generator:
    """Per-clip noise: the same clip gets the same z whatever the batch size or resume point."""
    g = torch.Generator()
    g.manual_seed(int(protocol.rng_for(seed, "noise", clip_id).integers(1 << 62)))
    return g


def _generate_clips(model, ds, refs, run_dir: Path, seed: int, batch_size: int, say) -> int:
    """Write real/, fake/ and cond/ for every clip not yet written; returns how many were new."""
    from PIL import Image
    from tqdm.auto import tqdm

    from vbench_i2v.files import atomic_write_bytes
    from vbench_i2v.tensors import video_from_model
    from vbench_i2v.video_io import write_video

    refs = distributed.shard(refs, key=lambda r: r.clip_id)  # this rank's clips (all of them in 1 process)
    todo = [r for r in refs if not (run_dir / "fake" / f"{r.clip_id}.npz").exists()]
    if len(todo) < len(refs):
        say(f"resuming: {len(refs) - len(todo)} of {len(refs)} clips already generated"
            + (f" (rank 0's share of {distributed.world_size()})" if distributed.is_distributed() else ""))
    bar = tqdm(total=len(todo), desc=f"generate {model.name}", unit="clip",
               disable=None if distributed.is_main() else True)
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        reals = np.stack([ds.load_clip(r) for r in chunk])
        labels = None if model.num_classes == 0 else [r.record.label for r in chunk]
        zs = [model.sample_z(1, _noise_generator(seed, r.clip_id)) for r in chunk]
        z = None if zs[0] is None else torch.cat(zs)
        fake = model.generate(reals[:, 0], labels, z=z)
        if not torch.isfinite(fake).all():
            bad = chunk[int((~torch.isfinite(fake)).flatten(1).any(1).nonzero()[0])].clip_id
            raise InputError(f"{model.name} produced NaN/inf values for clip {bad}")
        fake_u8 = video_from_model(fake)
        for ref, real, fk in zip(chunk, reals, fake_u8):
            write_video(run_dir / "real" / f"{ref.clip_id}.npz", real)
            buf = io.BytesIO()
            Image.fromarray(real[0]).save(buf, format="PNG")
            atomic_write_bytes(run_dir / "cond" / f"{ref.clip_id}.png", buf.getvalue())
            write_video(run_dir / "fake" / f"{ref.clip_id}.npz", fk)  # last: marks the clip done
        bar.update(len(chunk))
    bar.close()
    return len(todo)


def _extractor_info(name: str) -> dict:
    """Name and verified weights hash of a feature extractor (missing weights: the exact command)."""
    from vbench_i2v import weights
    from vbench_i2v.feature_extractors import VIDEO_EXTRACTORS, WEIGHTS_FOR

    if name not in VIDEO_EXTRACTORS:
        raise InputError(f"unknown extractor {name!r} (known: {', '.join(sorted(VIDEO_EXTRACTORS))})")
    return {"name": name, "weights_sha256": weights.require(WEIGHTS_FOR[name]).sha256}


def _score(run_dir: Path, reference_dir: Path, metrics: list[str], extractor: str, seed: int,
           device: str, say) -> dict:
    """Score fake/ against real/; real-clip features are computed once per protocol and reused."""
    from vbench_i2v.metrics.engine import compute_metrics, features_file

    set_level = [m for m in metrics if m in FEATURE_METRICS]
    paired = [m for m in metrics if m not in FEATURE_METRICS]
    scored: dict = {}
    if set_level:
        ref = reference_dir / f"real_features_{extractor}.npz"
        if ref.exists():
            say(f"reusing real-clip features {ref}")
        else:
            features_file(run_dir / "real", extractor, ref, device=device)
        r = compute_metrics(ref, run_dir / "fake", metrics=set_level, extractor=extractor, seed=seed, device=device)
        for m in set_level:
            scored[m] = {**r["metrics"][m], "weights_sha256": r["provenance"]["weights"].get(extractor)}
    if paired:
        r = compute_metrics(run_dir / "real", run_dir / "fake", metrics=paired, extractor=extractor,
                            conditioning=run_dir / "cond", seed=seed, device=device)
        ident = r["provenance"].get("identity_embedder")
        for m in paired:
            extra = {"extractor": ident, "weights_sha256": r["provenance"]["weights"].get(ident)} \
                if m in FACE_METRICS else {"extractor": None, "weights_sha256": None}
            scored[m] = {**r["metrics"][m], **extra}
        if "face_fallback" in r["provenance"]:
            for m in FACE_METRICS:
                if m in scored:
                    scored[m]["face_fallback"] = r["provenance"]["face_fallback"]
    block = {}
    for m in metrics:
        v = scored[m]
        block[m] = {"value": v["value"], "ci95": v["ci95"], "n": v["n"], "extractor": v.get("extractor"),
                    "weights_sha256": v.get("weights_sha256")}
        for key in ("n_real", "face_fallback", "subsets", "subset_size"):
            if key in v:
                block[m][key] = v[key]
    return block


def run_id_for(generator: str, variant: str | None, dataset: str, fingerprint: str,
               checkpoint_sha: str | None, seed: int) -> str:
    import hashlib

    tag = f"{generator}_{dataset}_{fingerprint[:8]}_{(checkpoint_sha or 'none')[:8]}_s{seed}"
    if variant:
        tag += "_" + hashlib.sha256(variant.encode()).hexdigest()[:6]
    return tag


def execute(spec: RunSpec, say=print) -> dict:
    """Do the whole run; returns the results dict (also written to ``results.json``)."""
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.devices import resolve_device
    from vbench_i2v.cli.datasets import write_clips_csv

    t0 = time.perf_counter()
    distributed.init(distributed.local_device(spec.device))  # a no-op without torchrun
    if not distributed.is_main():
        say = lambda msg: None  # noqa: E731 - rank 0 reports for everyone
    if spec.conditioning_per_video < 1:
        raise InputError(f"--conditioning-per-video must be >= 1, got {spec.conditioning_per_video}")
    if spec.max_videos is not None and spec.max_videos < 1:
        raise InputError(f"--max-videos must be >= 1, got {spec.max_videos}")
    device = resolve_device(distributed.local_device(spec.device))
    ds = get_dataset(spec.dataset, data_root=spec.data_root, seed=spec.seed, **spec.dataset_options)
    metrics = spec.metrics or default_metrics(ds)
    extractor = spec.extractor or default_extractor(ds)
    uses_features = any(m in FEATURE_METRICS or m in FACE_METRICS for m in metrics)
    # the data first (a missing dataset is the first thing to fix), then the extractor's weights
    refs = ds.clips("test", per_video=spec.conditioning_per_video, seed=spec.seed, limit=spec.max_videos)
    ext = _extractor_info(extractor) if uses_features else {"name": None, "weights_sha256": None}
    proto = {
        "frames": protocol.CLIP_FRAMES, "size": protocol.SIZE, "frame_step": ds.frame_step,
        "conditioning_per_video": spec.conditioning_per_video, "max_videos": spec.max_videos,
        "seed": spec.seed, "extractor": ext["name"], "extractor_weights_sha256": ext["weights_sha256"],
        "dataset_options": dict(sorted(spec.dataset_options.items())),
    }
    dataset_block = {"name": ds.name, "split": "test", "clip_count": len(refs),
                     "video_count": len({r.record for r in refs})}
    proto["fingerprint"] = protocol_fingerprint({**proto, "dataset": ds.name, "split": "test"})

    # rank 0 first, alone: it trains a missing checkpoint; then the others load what it wrote
    loaded = distributed.on_main(lambda: _load_generator(spec, ds, device, say))
    model, ckpt = distributed.everywhere(lambda: loaded if distributed.is_main()
                                         else _load_generator(spec, ds, device, say))
    ckpt_sha = sha256_file(Path(ckpt) / "model.safetensors") if ckpt else None
    variant = config_variant(model)
    run_id = run_id_for(model.name, variant, ds.name, proto["fingerprint"], ckpt_sha, spec.seed)
    out = Path(spec.out)
    run_dir = out / run_id

    def prepare_run_dir() -> bool:
        """True when the run is already complete; else make the folder (rank 0 decides for all)."""
        if (run_dir / "results.json").exists():
            return True
        if run_dir.exists() and any(run_dir.iterdir()) and not spec.resume:
            raise InputError(f"{run_dir}: an unfinished run is here; pass --resume to continue it")
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (run_dir / "clips.csv").exists():
            write_clips_csv(run_dir / "clips.csv", [ds.clip_row(r) for r in refs])
        return False

    if distributed.on_main(prepare_run_dir, share=True):
        from vbench_i2v.results import load_results

        say(f"{run_dir}: this run is already complete; its results are kept as they are")
        return load_results(run_dir)

    say(f"run {run_id}: {model.name} on {ds.name}/test, {len(refs)} clips from "
        f"{dataset_block['video_count']} videos, device {device}")
    # every rank its share of the clips; everywhere() is also the barrier before scoring reads them all
    distributed.everywhere(lambda: _generate_clips(model, ds, refs, run_dir, spec.seed, spec.batch_size, say))

    metric_block = _score(run_dir, out / "_reference" / proto["fingerprint"], metrics, extractor,
                          spec.seed, str(device), say)
    results = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "generator": {"name": model.name, "config": dataclasses.asdict(model.config),
                      "checkpoint": str(ckpt) if ckpt else None, "checkpoint_sha256": ckpt_sha,
                      "variant": variant, "num_classes": model.num_classes},
        "dataset": dataset_block,
        "protocol": proto,
        "metrics": metric_block,
        "provenance": {
            "package_version": vbench_i2v.__version__, "torch_version": torch.__version__,
            "device": str(device), "wall_time_s": round(time.perf_counter() - t0, 3),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": spec.extra.get("command"),
        },
    }
    distributed.on_main(lambda: write_results(run_dir, results))
    return results
