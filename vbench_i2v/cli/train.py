"""`vbench train`, `vbench generate` and `vbench generators list`: the same code path for every backend.

Every option is parsed by a shared type from :mod:`vbench_i2v.cli.types` (ranges with upper bounds,
no NaN, no empty strings or paths, outputs checked writable), so a bad value fails in one line
before any work; torch, numpy and the datasets are imported inside the command functions, so
``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from vbench_i2v.cli.datasets import dataset_option
from vbench_i2v.cli.types import (device_option,
    BATCH_SIZE, POSITIVE_FLOAT, SEED, TEXT, FiniteFloatRange, InputDir, InputFile, NonEmptyPath, OutputPath,
)
from vbench_i2v.errors import InputError
from vbench_i2v.options import switch_type, workers_type

SWITCH = switch_type(allow_auto=True)  # auto, or on/off in any of the bool spellings (any case)
ON_OFF = switch_type(allow_auto=False)
DATASET_FILE = "dataset.json"  # the dataset (name, root, options) a run trains on; checked on --resume
# Upper bounds: far beyond any run this project makes, low enough that a typo fails at once instead of
# as an out-of-memory crash (width multiplies every channel count: 8 = 64x the published parameters)
# or a job that never ends.
STEPS = click.IntRange(1, 10**9)
WIDTH = FiniteFloatRange(min=0.0, max=8.0, min_open=True)
EPOCHS = FiniteFloatRange(min=0.0, max=1e6, min_open=True)
CLIPS = click.IntRange(1, 1000)  # generated in one batch
NUM_CLASSES = click.IntRange(0, 10_000)


@click.command("train")
@click.option("--generator", "generator_name", type=TEXT, required=True,
              help="Backend name (see `vbench generators list`).")
@click.option("--dataset", "dataset_name", type=TEXT, required=True, help="Dataset name (see `vbench datasets list`).")
@click.option("--data-root", type=NonEmptyPath(file_okay=False), default=None, help="The dataset's root folder.")
@dataset_option
@click.option("--preset", type=TEXT, default=None, help="Training recipe, e.g. paper or released (default: the backend's).")
@click.option("--width", type=WIDTH, default=None, help="Channel multiplier (1.0 = published widths; at most 8).")
@click.option("--steps", type=STEPS, default=None, help="Total optimisation steps.")
@click.option("--epochs", type=EPOCHS, default=None, help="Total epochs (instead of --steps).")
@click.option("--batch-size", type=BATCH_SIZE, default=None, help="Clips per step (per process under torchrun).")
@click.option("--out", "out_dir", type=OutputPath("dir"), default=None,
              help="Run folder (default: runs/train-<generator>-<dataset>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out (weights, optimisers, RNG, data order).")
@device_option
@click.option("--seed", type=SEED, default=None, help="Seed of weights, data order and noise (default 0; "
                                                      "--resume keeps the run's own).")
@click.option("--set", "overrides", type=TEXT, multiple=True, metavar="KEY=VALUE",
              help="Override any config field (repeatable).")
@click.option("--sample-every", type=STEPS, default=200, show_default=True, help="Steps between sample grids.")
@click.option("--checkpoint-every", type=STEPS, default=200, show_default=True, help="Steps between checkpoints.")
@click.option("--amp", type=SWITCH, default="auto", show_default=True,
              help="bf16 autocast (auto: on CUDA devices with native bf16, compute capability 8.0 or later).")
@click.option("--compile", "compile_", type=ON_OFF, default="off", show_default=True,
              help="torch.compile the networks (off unless asked: unmeasured on GPU here; refused with "
                   "SyncBatchNorm under torchrun).")
@click.option("--deterministic", is_flag=True,
              help="On CUDA: deterministic cuDNN/cuBLAS kernels, so the same seed gives the same weights on the "
                   "same GPU type and software (slower: no cuDNN autotuning, slower deterministic backward "
                   "kernels). CPU runs are deterministic already.")
@click.option("--tf32", is_flag=True,
              help="On CUDA: allow TF32 matmuls and convolutions (faster on Ampere and later, ~1e-3 relative "
                   "error); off by default: IEEE fp32.")
@click.option("--max-minutes", type=POSITIVE_FLOAT, default=None, help="Stop (with a checkpoint) after this wall time.")
@click.option("--workers", type=workers_type(), default="auto", show_default=True,
              help="DataLoader processes decoding batches, with pinned memory on CUDA (auto: 2 on CUDA, 0 on CPU).")
@click.option("--channels-last", type=SWITCH, default="auto", show_default=True,
              help="Weights and clips in channels_last_3d memory layout (auto: on CUDA).")
@click.option("--sync-bn", type=SWITCH, default="auto", show_default=True,
              help="Under torchrun: SyncBatchNorm over the global batch (CUDA only; auto: on with CUDA). "
                   "Off: each process normalises with its own batch.")
@click.option("--ddp-find-unused", is_flag=True,
              help="Under torchrun: for backends whose steps leave some parameters without gradients.")
def train_cmd(generator_name, dataset_name, data_root, options, preset, width, steps, epochs, batch_size, out_dir, resume,
              device, seed, overrides, sample_every, checkpoint_every, amp, compile_, deterministic, tf32,
              max_minutes, workers, channels_last, sync_bn, ddp_find_unused) -> None:
    """Train a generator on a dataset's training split; DIR gets checkpoints, losses.csv and samples/.

    Under torchrun (``torchrun --nproc_per_node N -m vbench_i2v train ...``) the run is data-parallel:
    --batch-size is per process, --steps counts global steps, and only rank 0 prints and writes.
    """
    import torch

    from vbench_i2v import distributed, logs
    from vbench_i2v.datasets import get_dataset, parse_dataset_options
    from vbench_i2v.devices import setup_device
    from vbench_i2v.generators import training
    from vbench_i2v.generators.base import read_checkpoint_meta
    from vbench_i2v.generators.registry import get_generator, load_checkpoint

    logs.setup()
    if steps is not None and epochs is not None:
        raise InputError("give --steps or --epochs, not both")
    dataset_options = parse_dataset_options(dataset_name, options)  # refused before any work
    out = Path(out_dir or Path("runs") / f"train-{generator_name}-{dataset_name}")
    distributed.init(distributed.local_device(device))  # joins torchrun's process group; a no-op otherwise
    # once; under torchrun cuda/auto = this rank's GPU; CUDA numerics (TF32, deterministic kernels) set here
    device = setup_device(device, deterministic=deterministic, tf32=tf32)
    if resume:
        meta = read_checkpoint_meta(out)
        if meta["backend"] != generator_name:
            raise InputError(f"{out}: checkpoint is for generator {meta['backend']!r}, not {generator_name!r}")
        if preset or width is not None or batch_size is not None or overrides:
            raise InputError("--resume continues the saved config; drop --preset/--width/--batch-size/--set")
        saved = meta.get("seed", 0)
        if seed is not None and seed != saved:
            raise InputError(f"{out}: --resume keeps the run's seed {saved}; drop --seed {seed}")
        seed = saved
    else:
        seed = 0 if seed is None else seed
        cls = get_generator(generator_name)
        values = cls.parse_overrides(list(overrides))
        if batch_size is not None:
            values["batch_size"] = batch_size
        cfg = cls.make_config(preset, width, values)
    run = training.TrainOptions(
        steps=steps, epochs=epochs, seed=seed, resume=resume, sample_every=sample_every,
        checkpoint_every=checkpoint_every, max_seconds=None if max_minutes is None else max_minutes * 60,
        amp=amp, compile=compile_, channels_last=channels_last, sync_bn=sync_bn, workers=workers,
        ddp_find_unused=ddp_find_unused, deterministic=deterministic, tf32=tf32)
    dataset = get_dataset(dataset_name, data_root=data_root, seed=seed, **dataset_options)
    _check_dataset_record(out, dataset, resume, distributed.is_main())
    if resume:
        model = load_checkpoint(out, device=device)
    else:
        torch.manual_seed(seed)  # the weights' initialisation
        model = cls(cfg, dataset.num_classes, dataset.labels, dataset.name, device=device)
    training.Trainer(model, dataset, out, run).fit()  # looked up at call time (tests wrap it)


def _dataset_record(dataset) -> dict:
    import os

    return {"name": dataset.name, "root": os.path.abspath(dataset.root) if dataset.user_supplied else None,
            "options": {k: v for k, v in sorted(dataset.options.items())}}


def _check_dataset_record(out: Path, dataset, resume: bool, main: bool) -> None:
    """Write ``dataset.json`` for a new run; on --resume refuse a different dataset root or options
    (the saved training state only makes sense with the same data)."""
    import json

    from vbench_i2v.files import atomic_write_json

    record = json.loads(json.dumps(_dataset_record(dataset)))
    path = out / DATASET_FILE
    if resume and path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read ({exc})") from None
        diff = [k for k in ("name", "root", "options") if saved.get(k) != record[k]]
        if diff:
            raise InputError(f"{out}: --resume with another dataset {', '.join(diff)} than the run was started with "
                             f"(was {', '.join(f'{k}={saved.get(k)!r}' for k in diff)}; "
                             f"now {', '.join(f'{k}={record[k]!r}' for k in diff)})")
    elif main and not resume:
        from vbench_i2v.generators.train_checkpoint import STATE_FILE

        if not (out / STATE_FILE).exists():  # else the Trainer refuses the existing run: keep its record
            atomic_write_json(path, record)


@click.command("generate")
@click.option("--checkpoint", type=InputDir(), required=True, help="Folder with model.safetensors + config.json.")
@click.option("--image", type=InputFile(), required=True, help="Conditioning image (64x64, or resized).")
@click.option("--label", type=TEXT, default=None, help="Label name or id (omit for unlabelled models).")
@click.option("--num", type=CLIPS, default=1, show_default=True, help="Clips to generate (different noise).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@device_option
@click.option("--resize/--no-resize", default=False, show_default=True,
              help="Resize (centre square, bilinear) an image that is not 64x64 instead of failing.")
@click.option("--out", "out_path", type=OutputPath("file", suffixes=(".mp4", ".gif")), required=True,
              help="FILE.mp4 or FILE.gif; with --num > 1, FILE_000.mp4 ...")
def generate_cmd(checkpoint, image, label, num, seed, device, resize, out_path) -> None:
    """Generate clip(s) from one conditioning image and a label."""
    import numpy as np
    import torch

    from vbench_i2v import logs, protocol, tensors
    from vbench_i2v.devices import setup_device
    from vbench_i2v.generators.registry import load_checkpoint
    from vbench_i2v.video_io import read_image, write_video

    logs.setup()
    out = Path(out_path)
    device = setup_device(device, deterministic=True)  # on CUDA: IEEE fp32, deterministic kernels
    model = load_checkpoint(checkpoint, device=device)
    frame = read_image(image)
    size = protocol.SIZE
    if frame.shape[:2] != (size, size):
        if not resize:
            raise InputError(f"{image}: image is {frame.shape[1]}x{frame.shape[0]}, the model takes {size}x{size} "
                             "(pass --resize to centre-crop and resize it)")
        from vbench_i2v.datasets.frames import center_square, resize_frames

        frame = resize_frames(center_square(frame[None]), size)[0]
    label_id = model.label_id(label)
    gen = torch.Generator().manual_seed(seed)
    images = np.repeat(frame[None], num, axis=0)
    labels = None if label_id is None else [label_id] * num
    videos = tensors.video_from_model(model.generate(images, labels, generator=gen))
    paths = [out] if num == 1 else [out.with_name(f"{out.stem}_{i:03d}{out.suffix}") for i in range(num)]
    for path, video in zip(paths, videos):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, video)
    name = model.label_names[label_id] if label_id is not None and model.label_names else label_id
    click.echo(f"wrote {len(paths)} clip(s) of {model.name} (label {name}) to {paths[0] if num == 1 else out.parent}")


@click.group("generators")
def generators_group() -> None:
    """Generator backends."""


@generators_group.command("list")
@click.option("--num-classes", type=NUM_CLASSES, default=7, show_default=True, help="Classes for the parameter counts.")
def list_cmd(num_classes) -> None:
    """Each backend with its presets and parameter counts at its default and published widths."""
    from tabulate import tabulate

    from vbench_i2v.generators.registry import generator_names, get_generator

    rows = []
    for name in generator_names():
        cls = get_generator(name)
        default_w = cls.Config().width
        counts = {w: cls.count_parameters(width=w, num_classes=num_classes) for w in (default_w, cls.published_width)}
        fmt = lambda c: ", ".join(f"{k} {v:,}" for k, v in c.items()) or "0"  # noqa: E731
        rows.append([name, ", ".join(sorted(cls.presets)) or "-", f"{default_w:g}: {fmt(counts[default_w])}",
                     f"{cls.published_width:g}: {fmt(counts[cls.published_width])}", cls.description])
    click.echo(tabulate(rows, headers=["generator", "presets", "default width: parameters",
                                       "published width: parameters", "description"]))


commands = [train_cmd, generate_cmd, generators_group]
