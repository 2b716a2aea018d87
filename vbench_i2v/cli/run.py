"""`vbench run`: the headline job - generate the protocol's test clips, score them, record a row."""

from __future__ import annotations

import sys

import click

from vbench_i2v import protocol
from vbench_i2v.cli.datasets import dataset_option
from vbench_i2v.cli.help import metric_help, metric_list_type
from vbench_i2v.cli.metrics import ExtractorName
from vbench_i2v.cli.datasets import PER_VIDEO
from vbench_i2v.cli.types import device_option, BATCH_SIZE, POSITIVE_INT, SEED, TEXT, InputDir, OutputPath


@click.command("run")
@click.option("--generator", type=TEXT, default=None,
              help="Backend name (see `vbench generators list`), or module.path:callable (or file.py:callable), a "
                   "function (images uint8 BxHxWx3, labels, seeds) -> uint8 BxTxHxWx3 clips.")
@click.option("--videos", type=InputDir(), default=None,
              help="Score a folder of submitted clips instead (one per clip of the kit from `vbench protocol export`).")
@click.option("--name", type=TEXT, default=None, help="The submission's (or callable's) name on the board.")
@click.option("--variant", type=TEXT, default=None, help="Free text telling this submission's variant apart.")
@click.option("--dataset", required=True, type=TEXT, help="Dataset name (see `vbench datasets list`).")
@click.option("--checkpoint", type=InputDir(), default=None,
              help="Checkpoint folder (default: the one shipped for this generator and dataset).")
@click.option("--train-if-missing", is_flag=True, help="Train a checkpoint with the default budget when none exists.")
@click.option("--metrics", type=metric_list_type(), default=None,
              help=metric_help("Comma-separated (default: per dataset)"))
@click.option("--extractor", type=ExtractorName(), default=None,
              help="Feature network for set metrics that do not fix their own, and for ACD: a registered name "
                   "(`vbench metrics --list`) or a probe folder from `vbench probes train` (default: per dataset).")
@click.option("--identity", type=ExtractorName("identity"), default=None,
              help="ACD's identity embedder: facenet-vggface2, dlib-resnet (no weights to import; pip install "
                   "\"vbench-i2v[dlib]\") or synthetic-probe (default: the extractor when it is also an identity "
                   "embedder, else facenet-vggface2). Part of ACD's measurement, not of the clips' run id.")
@click.option("--include-conditioning-frame", is_flag=True,
              help="Paired metrics also score frame 0 (the conditioning frame itself); default: frames 1..T-1.")
@click.option("--conditioning-per-video", type=PER_VIDEO, default=protocol.CONDITIONING_PER_VIDEO, show_default=True)
@click.option("--max-videos", type=POSITIVE_INT, default=None, help="Seeded subset of test videos (part of the protocol).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@device_option
@click.option("--batch-size", type=BATCH_SIZE, default=16, show_default=True, help="Clips generated per forward pass.")
@click.option("--data-root", type=InputDir(), default=None, help="The dataset's root folder.")
@dataset_option
@click.option("--out", default="runs", show_default=True, type=OutputPath("dir"))
@click.option("--resume", is_flag=True, help="Continue an interrupted run in its folder.")
@click.option("--deterministic/--no-deterministic", default=True, show_default=True,
              help="On CUDA: deterministic cuDNN/cuBLAS kernels for training, generation and scoring, so a run "
                   "repeats its numbers on the same GPU type and software (costs speed: no cuDNN autotuning, "
                   "slower deterministic kernels). CPU runs are deterministic either way.")
@click.option("--tf32", is_flag=True,
              help="On CUDA: the scoring networks may use TF32 (opt-in, faster on Ampere and later, ~1e-3 relative "
                   "error; recorded as precision tf32 in each metric's measurement; refused on the CPU). Clips "
                   "are generated in IEEE fp32 either way.")
def run_cmd(generator, videos, name, variant, dataset, checkpoint, train_if_missing, metrics, extractor, identity,
            include_conditioning_frame, conditioning_per_video, max_videos, seed, device, batch_size, data_root,
            options, out, resume, deterministic, tf32) -> None:
    """Generate the test clips of DATASET with GENERATOR (or take them from --videos), score them, write
    results.json and print the row."""
    from vbench_i2v import distributed
    from vbench_i2v.cli.datasets import parse_dataset_options
    from vbench_i2v.devices import check_tf32, setup_device
    from vbench_i2v.leaderboard import render_row
    from vbench_i2v.run import RunSpec, execute

    if generator is not None and videos is not None:
        raise click.UsageError(f"--generator {generator} and --videos {videos}: give one of them (a generator "
                               "that makes the clips, or a folder of submitted clips)")
    if generator is None and videos is None:
        raise click.UsageError("give --generator NAME (or module.path:callable), or --videos DIR with --name NAME")
    if videos is not None and (checkpoint or train_if_missing):
        raise click.UsageError(f"--videos {videos}: submitted clips need no --checkpoint or --train-if-missing")
    dev = setup_device(device, deterministic=deterministic)  # CUDA numerics for the whole run (IEEE fp32: no TF32)
    check_tf32(dev, tf32)  # --tf32: for the scoring networks only, and only on CUDA

    spec = RunSpec(generator=generator, dataset=dataset, checkpoint=checkpoint, train_if_missing=train_if_missing,
                   metrics=metrics, extractor=extractor, identity=identity, tf32=tf32,
                   conditioning_per_video=conditioning_per_video,
                   max_videos=max_videos, seed=seed, device=device, out=str(out), resume=resume, data_root=data_root,
                   batch_size=batch_size, dataset_options=parse_dataset_options(options, dataset),
                   include_conditioning_frame=include_conditioning_frame,
                   extra={"command": " ".join(["vbench"] + sys.argv[1:])},
                   videos=None if videos is None else str(videos), name=name, variant=variant)
    results = execute(spec)
    if not distributed.is_main():
        return
    click.echo(f"results: {out}/{results['run_id']}/results.json")
    context, table = render_row(results)
    for line in context:  # what the row measured (protocol, N, extractor) first ...
        click.echo(line)
    click.echo(table)  # ... so the output ends with the leaderboard row


commands = [run_cmd]
