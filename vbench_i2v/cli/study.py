"""`vbench study export|score`: prepare a blinded rater study from runs, and score the answers."""

from __future__ import annotations

import sys

import click

from vbench_i2v.cli.types import FPS, FRACTION, SEED, TEXT, InputDir, InputFile, OutputPath, int_range
from vbench_i2v.study.export import DEFAULT_QUESTION, export_study


@click.group("study")
def study_group() -> None:
    """Rater studies: pairwise preference between methods (the paper's Table 4)."""


@study_group.command("export")
@click.argument("runs", nargs=-1, required=True, type=InputDir())
@click.option("--pairs", type=int_range(1, 100_000), required=True, help="Pairs per method pair.")
@click.option("--out", "out_dir", type=OutputPath("dir"), required=True, help="Study folder to write.")
@click.option("--include-real", is_flag=True, help="Add the first run's real clips as a method named 'real'.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds clip choice, sides, order, checks.")
@click.option("--format", "fmt", type=click.Choice(["mp4", "gif"]), default="mp4", show_default=True)
@click.option("--attention-rate", type=FRACTION, default=0.1, show_default=True,
              help="Attention checks per comparison pair (0.1: one per ten, rounded up; 0: none).")
@click.option("--scale", type=int_range(1, 16), default=4, show_default=True,
              help="Nearest-neighbour upscale of the 64 px clips for display (1-16).")
@click.option("--fps", type=FPS, default=8.0, show_default=True)
@click.option("--question", type=TEXT, default=DEFAULT_QUESTION, show_default=True)
@click.option("--allow-tie", is_flag=True, help="Offer a \"can't tell\" answer.")
@click.option("--fixed-order", is_flag=True, help="Show pairs in the same order to every rater "
              "(default: a seeded shuffle per rater name).")
@click.option("--force", is_flag=True, help="Overwrite an existing study in --out.")
def export_cmd(runs, pairs, out_dir, include_real, seed, fmt, attention_rate, scale, fps, question,
               allow_tie, fixed_order, force) -> None:
    """Write blinded side-by-side pairs of RUNS, key.csv, pairs.csv and the rater page index.html."""
    from tqdm import tqdm

    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="rendering pairs", unit="pair", file=sys.stderr, disable=None)
        bar.update(1)

    try:
        info = export_study(runs, out_dir, pairs, include_real=include_real, seed=seed, fmt=fmt,
                            attention_rate=attention_rate, scale=scale, fps=fps, question=question,
                            allow_tie=allow_tie, shuffle_per_rater=not fixed_order, force=force,
                            progress=progress)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"methods: {', '.join(info['methods'])}")
    if not info["shared_protocol"]:
        click.echo("note: the runs do not share a protocol fingerprint, so pairs are matched by label, "
                   "not by conditioning image", err=True)
    click.echo(f"wrote {info['comparisons']} comparison pairs and {info['attention_checks']} attention checks "
               f"to {out_dir}")
    click.echo(f"raters open {out_dir}/index.html; keep {out_dir}/key.csv away from them")


@study_group.command("score")
@click.argument("study_dir", type=InputDir())
@click.argument("responses", nargs=-1, required=True, type=InputFile())
@click.option("--min-attention", type=FRACTION, default=0.8, show_default=True,
              help="Drop raters passing fewer attention checks than this fraction (0 keeps everyone).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json"]), default="markdown",
              show_default=True)
@click.option("--bootstrap", "n_boot", type=int_range(0, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples for the Bradley-Terry intervals (0: no intervals).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the bootstrap.")
def score_cmd(study_dir, responses, min_attention, fmt, n_boot, seed) -> None:
    """Preference per method pair (Wilson 95% CI, binomial test) and a Bradley-Terry ranking."""
    from vbench_i2v.study.score import format_report, score_study  # scipy: only when scoring

    result = score_study(study_dir, responses, min_attention=min_attention, n_boot=n_boot, seed=seed)
    if fmt != "markdown":
        for e in result.excluded:
            click.echo(f"excluded rater {e['rater']}: {e['reason']}", err=True)
    text = format_report(result, fmt)
    click.echo(text, nl=not text.endswith("\n"))


commands = [study_group]
