"""`vbench datasets list|export`: what datasets exist, whether their data is here, and protocol clips."""

from __future__ import annotations

from pathlib import Path

import click

from vbench_i2v.cli.types import POSITIVE_INT, SEED, TEXT, InputDir, NonEmptyPath, OutputPath, int_range

# Clips per video: a value above a video's possible starts takes them all; far above any video is a typo.
PER_VIDEO = int_range(1, 10_000)


def parse_dataset_options(pairs, name: str | None = None) -> dict:
    """``--option key=value`` pairs -> loader options.

    With the dataset ``name``: canonical typed values, checked against the dataset's option
    schema (:func:`vbench_i2v.datasets.parse_dataset_options`). Without it (the older call):
    the pairs' syntax is checked and the values stay strings; the dataset's constructor then
    converts and checks them with the same schema before any work.
    """
    if name is not None:
        from vbench_i2v.datasets import parse_dataset_options as parse

        return parse(name, pairs)
    from vbench_i2v.options import split_pairs

    return dict(split_pairs(pairs, "--option"))


dataset_option = click.option(
    "--option", "options", multiple=True, metavar="KEY=VALUE", type=TEXT,
    help="Loader option, repeatable (e.g. pattern=REGEX, frame_step=2, face_crop=true); unknown keys and bad "
         "values are refused. `vbench datasets options NAME` lists a dataset's options.")


@click.group("datasets")
def datasets_group() -> None:
    """List datasets and export the protocol's clips."""


@datasets_group.command("list")
@click.option("--data-root", type=NonEmptyPath(file_okay=False), default=None,
              help="Folder holding one sub-folder per dataset (default $VBENCH_I2V_DATA).")
def list_cmd(data_root) -> None:
    """Every registered dataset, its labels, and whether its data is present."""
    from vbench_i2v.datasets import dataset_names, get_dataset

    for name in dataset_names():
        root = None if data_root is None else Path(data_root) / name
        ds = get_dataset(name, data_root=root)
        st = ds.status()
        labels = ", ".join(ds.labels) if ds.labels else "(no labels)"
        where = "built in" if not ds.user_supplied else st.where
        state = f"present: {st.message}" if st.present else f"MISSING: {st.message}"
        click.echo(f"{name:10s} {state} [{where}]")
        click.echo(f"{'':10s} labels: {labels}")


@datasets_group.command("options")
@click.argument("name", type=TEXT)
def options_cmd(name) -> None:
    """The --option keys a dataset takes: type, allowed values, default."""
    from vbench_i2v.datasets import dataset_option_schema
    from vbench_i2v.options import describe

    click.echo(describe(dataset_option_schema(name)))


@datasets_group.command("export")
@click.argument("name", type=TEXT)
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--out", "out_dir", type=OutputPath("dir"), required=True)
@click.option("--limit", type=POSITIVE_INT, default=None, help="Keep a seeded subset of this many videos.")
@click.option("--per-video", type=PER_VIDEO, default=None,
              help="Clips per video (default: 10 seeded starts on test, one from frame 0 on train).")
@click.option("--format", "fmt", type=click.Choice(["mp4", "gif", "png", "npz"]), default="mp4", show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the subject split and clip starts.")
@click.option("--data-root", type=InputDir(), default=None, help="The dataset's root folder.")
@dataset_option
def export_cmd(name, split, out_dir, limit, per_video, fmt, seed, data_root, options) -> None:
    """Write the protocol's 32-frame 64x64 clips of a split, plus clips.csv."""
    from tqdm import tqdm

    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.video_io import video_file_name, write_video

    ds = get_dataset(name, data_root=data_root, seed=seed, **parse_dataset_options(options, name))
    refs = ds.clips(split, per_video=per_video, seed=seed, limit=limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for ref in tqdm(refs, desc=f"export {name}/{split}", unit="clip", disable=None):
        target = out / video_file_name(ref.clip_id, fmt)
        if not target.exists():  # resumable: clips already written are kept
            write_video(target, ds.load_clip(ref))
        rows.append(ds.clip_row(ref))
    from vbench_i2v.clips_table import write_clips_csv

    write_clips_csv(out / "clips.csv", rows)
    click.echo(f"wrote {len(rows)} clips of {name}/{split} to {out} (clips.csv lists them)")


commands = [datasets_group]
