"""`vbench leaderboard`: tables (and a plot) from results.json files (schema 2, or 1 migrated on
reading), one table per protocol fingerprint, bests only among cells of one measurement id."""

from __future__ import annotations

from pathlib import Path

import click

from vbench_i2v.cli.types import InputFile, NonEmptyPath, OutputPath
from vbench_i2v.errors import InputError
from vbench_i2v.leaderboard import (FORMATS, PAPER_CSV, load_paper_csv, measured_boards, plot_boards,
                                    render, reported_boards)
from vbench_i2v.files import atomic_write_text
from vbench_i2v.results import collect_results

DEFAULT_RUNS = Path("runs")


@click.command("leaderboard")
@click.argument("runs", nargs=-1, type=NonEmptyPath())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="Output format.")
@click.option("--out", type=OutputPath("file"),
              help="Write here (atomically) instead of printing.")
@click.option("--plot", type=OutputPath("file", suffixes=(".png",)),
              help="Also draw bar charts with 95% intervals to this PNG.")
@click.option("--reported/--no-reported", default=True, show_default=True,
              help="Append the paper's reported numbers, in their own section.")
@click.option("--paper-csv", type=InputFile(), default=None,
              help=f"Reported numbers file (default: {PAPER_CSV.name} in the repo's leaderboards/).")
def leaderboard(runs, fmt, out, plot, reported, paper_csv):
    """Build a leaderboard from RUNS: run dirs, results.json files, or folders holding run dirs
    (default: ./runs if it exists). Rows with different protocol fingerprints (other clips) are
    never compared; inside a column only cells of the same measurement id are."""
    if not runs and DEFAULT_RUNS.is_dir():
        runs = (DEFAULT_RUNS,)
    measured = measured_boards(collect_results(runs)) if runs else []
    paper = []
    if reported:
        if paper_csv is None and not PAPER_CSV.is_file():
            click.echo(f"note: {PAPER_CSV} not found; reported numbers left out", err=True)
        else:
            paper = reported_boards(load_paper_csv(paper_csv))
    if not measured and not paper:
        raise InputError("nothing to show: give run dirs or results.json files (or use --reported)")
    text = render(measured, paper, fmt)
    if plot is not None:
        plot_boards(measured, plot)
    if out is not None:
        atomic_write_text(out, text)
        click.echo(f"wrote {out} ({len(measured)} measured table(s), {len(paper)} reported)", err=True)
    else:
        click.echo(text, nl=False)


commands = [leaderboard]
