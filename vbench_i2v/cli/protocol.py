"""`vbench protocol export`: the kit an outside generator needs to make a dataset's test clips."""

from __future__ import annotations

import click

from vbench_i2v import protocol
from vbench_i2v.cli.datasets import PER_VIDEO, dataset_option
from vbench_i2v.cli.types import POSITIVE_INT, SEED, TEXT, InputDir, OutputPath


@click.group("protocol")
def protocol_group() -> None:
    """The evaluation protocol, for generators that live outside this package."""


@protocol_group.command("export")
@click.option("--dataset", required=True, type=TEXT, help="Dataset name (see `vbench datasets list`).")
@click.option("--data-root", type=InputDir(), default=None, help="The dataset's root folder.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="The protocol's seed (split, clips, noise).")
@click.option("--max-videos", type=POSITIVE_INT, default=None, help="Seeded subset of test videos (part of the protocol).")
@click.option("--conditioning-per-video", type=PER_VIDEO, default=protocol.CONDITIONING_PER_VIDEO, show_default=True)
@dataset_option
@click.option("--out", "out_dir", type=OutputPath("dir"), required=True, help="Kit folder to write.")
def export_cmd(dataset, data_root, seed, max_videos, conditioning_per_video, options, out_dir) -> None:
    """Write the protocol kit: cond/<clip>.png, clips.csv (labels, noise seeds), protocol.json, README.md.

    The real test clips are not in it. Generate one clip per row anywhere, then score the folder
    with the `vbench run ... --videos DIR --name NAME` line the kit's README gives.
    """
    from vbench_i2v.cli.datasets import parse_dataset_options
    from vbench_i2v.kit import export_kit

    meta = export_kit(dataset, out_dir, data_root=data_root, seed=seed, max_videos=max_videos,
                      conditioning_per_video=conditioning_per_video,
                      dataset_options=parse_dataset_options(options, dataset), progress=True)
    click.echo(f"wrote the kit of {meta['dataset']}/test ({meta['clip_count']} clips, protocol "
               f"{meta['fingerprint']}) to {out_dir}")
    click.echo(f"score a folder of generated clips with: {meta['submit']}")


commands = [protocol_group]
