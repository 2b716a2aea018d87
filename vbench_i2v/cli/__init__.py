"""The `vbench` command line: a click group; each command group lives in its own module here."""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from vbench_i2v import __version__
from vbench_i2v.errors import VBenchError

# One line per command module; each defines ``commands`` (a list of click commands/groups).
COMMAND_MODULES = [
    "vbench_i2v.cli.datasets",
    "vbench_i2v.cli.metrics",
    "vbench_i2v.cli.weights",
    "vbench_i2v.cli.train",
    "vbench_i2v.cli.run",
    "vbench_i2v.cli.leaderboard",
    "vbench_i2v.cli.study",
]


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings reach the user as one line, without the source line Python adds."""
    return f"Warning: {message}\n"


class _Main(click.Group):
    """Turns :class:`VBenchError` into one clear line on stderr and exit code 2."""

    def invoke(self, ctx):
        warnings.formatwarning = _one_line_warning
        try:
            return super().invoke(ctx)
        except VBenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vbench")
def main() -> None:
    """vbench: train, generate and score image-to-video generators on a common protocol."""


def _add_commands() -> None:
    for name in COMMAND_MODULES:
        for cmd in importlib.import_module(name).commands:
            main.add_command(cmd)


_add_commands()
