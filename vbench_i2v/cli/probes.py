"""`vbench probes train`: train a probe on a dataset's training split and write a probe folder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from vbench_i2v.cli.datasets import PER_VIDEO, dataset_option, parse_dataset_options
from vbench_i2v.cli.types import (device_option, BATCH_SIZE, POSITIVE_INT, SEED, TEXT, FiniteFloatRange, NonEmptyPath, OutputPath,
                                  int_range)

# Bounds far above any useful probe; past them a job only runs out of memory or never ends.
STEPS = int_range(1, 10_000_000)
IDENTITY_STEPS = int_range(0, 10_000_000)
SUBJECTS = int_range(0, 100_000)
WIDTH = int_range(1, 1024)
THREADS = int_range(1, 1024)
MOTIONLESS = FiniteFloatRange(0.0, 1.0, max_open=True)  # 1 would leave no real clip in a batch


@click.group("probes")
def probes_group() -> None:
    """Train small video networks (probes) on a dataset's own training split."""


@probes_group.command("train")
@click.option("--dataset", "dataset", required=True, type=TEXT, help="Registered dataset name (see `vbench datasets list`).")
@click.option("--data-root", type=NonEmptyPath(file_okay=False), default=None, help="The dataset's root folder.")
@dataset_option
@click.option("--out", "out_dir", type=OutputPath("dir"), required=True,
              help="The probe folder to write (must not exist or be empty).")
@click.option("--steps", type=STEPS, default=600, show_default=True, help="Video-branch training steps.")
@click.option("--identity-steps", type=IDENTITY_STEPS, default=None,
              help="Identity-branch steps (default 800 on face datasets, 0 = no identity branch elsewhere).")
@click.option("--batch", type=BATCH_SIZE, default=16, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds initial weights, batches, augmentation.")
@click.option("--split-seed", type=SEED, default=0, show_default=True,
              help="The dataset's subject-split seed (the protocol's split at 0).")
@click.option("--val-subjects", type=SUBJECTS, default=None,
              help="Training subjects held out for validation (default a fifth; 0 = none).")
@click.option("--clips-per-video", type=PER_VIDEO, default=4, show_default=True,
              help="Seeded 32-frame clips taken from each training video.")
@click.option("--motionless-fraction", type=MOTIONLESS, default=0.0, show_default=True,
              help="Share of each batch made frozen/time-shuffled with a uniform class target (0 = off).")
@click.option("--limit", type=POSITIVE_INT, default=None,
              help="Train on a seeded subset of this many training videos (a quick probe).")
@click.option("--width", type=WIDTH, default=16, show_default=True, help="Channel width of the networks.")
@click.option("--threads", type=THREADS, default=1, show_default=True, help="CPU threads (1 gives the same bytes each run).")
@device_option
def train_cmd(dataset, data_root, options, out_dir, steps, identity_steps, batch, seed, split_seed, val_subjects,
              clips_per_video, motionless_fraction, limit, width, threads, device) -> None:
    """Train a probe on DATASET's training split (test subjects are never read) and write
    model.safetensors, config.json, command and SHA256SUMS to --out."""
    import torch

    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.devices import setup_device
    from vbench_i2v.errors import InputError
    from vbench_i2v.probes import train_probe, write_probe_folder

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not empty (choose another --out or remove it)")
    dev = setup_device(device, deterministic=True)  # on CUDA: deterministic kernels, IEEE fp32 (no TF32)
    torch.set_num_threads(threads)
    t0 = time.time()
    ds = get_dataset(dataset, data_root=data_root, seed=split_seed, **parse_dataset_options(options))
    trained = train_probe(ds, video_steps=steps, identity_steps=identity_steps, batch=batch, seed=seed,
                          val_subjects=val_subjects, per_video=clips_per_video, limit=limit, width=width,
                          motionless_fraction=motionless_fraction, device=dev, log=click.echo)
    config = write_probe_folder(out, trained, _command_line(click.get_current_context()))
    val = config["validation"]
    acc = f"validation accuracy {val['accuracy']:.3f} (n={val['n']})" if val else "no validation accuracy"
    click.echo(f"wrote {out} ({config['name']}, {acc}) in {time.time() - t0:.0f}s")


def _command_line(ctx: click.Context) -> list[str]:
    """The command that trained the probe: ``sys.argv`` when run as ``vbench``, otherwise (the
    Python API, tests) the same command rebuilt from the parsed options."""
    if sys.argv and Path(sys.argv[0]).name == "vbench" and "probes" in sys.argv:
        return ["vbench"] + sys.argv[1:]
    argv = ["vbench", "probes", "train"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value == () or not param.opts:
            continue
        flag = max(param.opts, key=len)
        for v in (value if param.multiple else [value]):
            argv += [flag, str(v)]
    return argv


commands = [probes_group]
