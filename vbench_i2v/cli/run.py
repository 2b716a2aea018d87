"""`vbench run`: the headline job - generate the protocol's test clips, score them, record a row."""

from __future__ import annotations

import sys

import click

from vbench_i2v import protocol
from vbench_i2v.cli.datasets import dataset_option, parse_dataset_options


@click.command("run")
@click.option("--generator", required=True, help="Backend name (see `vbench generators list`).")
@click.option("--dataset", required=True, help="Dataset name (see `vbench datasets list`).")
@click.option("--checkpoint", type=click.Path(file_okay=False), default=None,
              help="Checkpoint folder (default: the one shipped for this generator and dataset).")
@click.option("--train-if-missing", is_flag=True, help="Train a checkpoint with the default budget when none exists.")
@click.option("--metrics", default=None, help="Comma-separated: ssim,psnr,fid,kid,acd-c,acd-i (default: per dataset).")
@click.option("--extractor", default=None, help="Feature network for fid/kid/acd (default: per dataset).")
@click.option("--conditioning-per-video", type=int, default=protocol.CONDITIONING_PER_VIDEO, show_default=True)
@click.option("--max-videos", type=int, default=None, help="Seeded subset of test videos (part of the protocol).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Clips generated per forward pass.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="The dataset's root folder.")
@dataset_option
@click.option("--out", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Continue an interrupted run in its folder.")
def run_cmd(generator, dataset, checkpoint, train_if_missing, metrics, extractor, conditioning_per_video,
            max_videos, seed, device, batch_size, data_root, options, out, resume) -> None:
    """Generate the test clips of DATASET with GENERATOR, score them, write results.json and print the row."""
    from vbench_i2v.leaderboard import measured_boards, render
    from vbench_i2v.run import RunSpec, execute

    spec = RunSpec(generator=generator, dataset=dataset, checkpoint=checkpoint, train_if_missing=train_if_missing,
                   metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
                   extractor=extractor, conditioning_per_video=conditioning_per_video, max_videos=max_videos,
                   seed=seed, device=device, out=out, resume=resume, data_root=data_root, batch_size=batch_size,
                   dataset_options=parse_dataset_options(options),
                   extra={"command": " ".join(["vbench"] + sys.argv[1:])})
    results = execute(spec, say=lambda msg: click.echo(msg, err=True))
    from vbench_i2v import distributed

    if not distributed.is_main():
        return
    click.echo(f"results: {out}/{results['run_id']}/results.json")
    lines = render(measured_boards([(results["run_id"], results)]), [], "markdown").splitlines()
    table = [line for line in lines if line.startswith("|")]
    for line in lines:  # what the table measured (protocol, N, extractor) first ...
        if line.strip() and not line.startswith(("|", "#")) and "One table per protocol" not in line:
            click.echo(line)
    click.echo("\n".join(table))  # ... so the output ends with the leaderboard row


commands = [run_cmd]
