"""`vbench weights list | fetch NAME | import NAME PATH`: the weight files the metrics need."""

from __future__ import annotations

import click

from vbench_i2v import weights as W
from vbench_i2v.cli.types import TEXT, InputFile


@click.group("weights")
def weights_group():
    """List, download or import the weight files used by the metrics."""


@weights_group.command("list")
def list_cmd():
    """Show every known weight file, whether it is present, and its sha256."""
    from tabulate import tabulate

    rows = []
    for name in sorted(W.WEIGHTS):
        st = W.status(name)
        rows.append([name, "yes" if st["present"] else "no", st["used_by"] or "-", (st["sha256"] or "-")[:16],
                     st["path"] if st["present"] else W._how_to_get(W.spec(name)) if not st["packaged"] else "missing"])
    click.echo(tabulate(rows, headers=["name", "present", "used by", "sha256", "path / how to get"]))
    click.echo(f"cache: {W.weights_dir()} (set VBENCH_I2V_HOME to move it)")


@weights_group.command("fetch")
@click.argument("name", type=TEXT)
def fetch_cmd(name):
    """Download NAME from its registered URL and verify it."""
    wf = W.fetch(name)
    click.echo(f"{name}: {wf.path} sha256 {wf.sha256}")


@weights_group.command("import")
@click.argument("name", type=TEXT)
@click.argument("path", type=InputFile())
def import_cmd(name, path):
    """Copy a weight file you already have into the cache (checked and verified)."""
    wf = W.import_file(name, path)
    click.echo(f"{name}: imported {path} -> {wf.path} sha256 {wf.sha256}")


commands = [weights_group]
