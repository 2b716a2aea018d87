"""The `vbench` command line: a click group whose commands load lazily, one module each.

``vbench --help`` lists the commands from :data:`COMMANDS` without importing any command module,
and ``vbench <command> ...`` imports only that command's module; command modules import torch
inside their functions, so ``--help`` never pays for it. Adding a command = its module (defining the
click command or group named here) + one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import warnings

import click

from vbench_i2v import __version__
from vbench_i2v.cli.errors import OneLineErrors

# name -> ("module:attribute", one-line help shown by `vbench --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "datasets": ("vbench_i2v.cli.datasets:datasets_group", "List datasets and export the protocol's clips."),
    "features": ("vbench_i2v.cli.metrics:features_cmd", "Save per-video features and their mean/covariance."),
    "generate": ("vbench_i2v.cli.train:generate_cmd", "Generate clip(s) from one conditioning image and a label."),
    "generators": ("vbench_i2v.cli.train:generators_group", "Generator backends."),
    "leaderboard": ("vbench_i2v.cli.leaderboard:leaderboard", "Build a leaderboard from results.json files."),
    "metrics": ("vbench_i2v.cli.metrics:metrics_cmd", "Score generated videos against real ones."),
    "probes": ("vbench_i2v.cli.probes:probes_group", "Train probe networks on a dataset's training split."),
    "protocol": ("vbench_i2v.cli.protocol:protocol_group", "Export the protocol kit for a generator outside the package."),
    "run": ("vbench_i2v.cli.run:run_cmd", "Generate a dataset's test clips with a generator, score, record."),
    "sanity": ("vbench_i2v.cli.sanity:sanity_cmd", "How every metric responds to controlled corruptions of real videos."),
    "study": ("vbench_i2v.cli.study:study_group", "Rater studies: pairwise preference between methods."),
    "train": ("vbench_i2v.cli.train:train_cmd", "Train a generator on a dataset's training split."),
    "weights": ("vbench_i2v.cli.weights:weights_group", "List, download or import weight files."),
}
COMMAND_MODULES = sorted({target.split(":")[0] for target, _ in COMMANDS.values()})


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings reach the user as one line, without the source line Python adds."""
    return f"Warning: {message}\n"


class _Main(OneLineErrors):
    """Lazy commands; bad input becomes one ``Error:`` line and exit code 2 (see ``cli/errors.py``)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        mod, attr = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(mod), attr)

    def format_commands(self, ctx, formatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        warnings.formatwarning = _one_line_warning
        return super().invoke(ctx)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vbench")
def main() -> None:
    """vbench: train, generate and score image-to-video generators on a common protocol."""
