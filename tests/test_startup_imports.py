"""`--help` of every command, `vbench weights list` and `vbench datasets list` never import torch.

Importing torch costs seconds (more on a busy machine); a user asking for help should not pay
it. Each check runs the command in a fresh interpreter (this process has torch loaded already)
and reports the first invocation after which ``torch`` is in ``sys.modules``. The commands are
walked from the click group, so a new command is covered without editing this file.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from vbench_i2v.cli import COMMANDS, main

# Runs a list of argv's in one interpreter, stopping at the first that leaves torch imported.
_HARNESS = r"""
import json, sys
from vbench_i2v.cli import main
first = None
for argv in json.loads(sys.argv[1]):
    if argv == ["<import torch>"]:  # the harness's own self-check
        import torch  # noqa: F401
    else:
        try:
            main(args=argv, prog_name="vbench", standalone_mode=False)
        except SystemExit:
            pass
    if "torch" in sys.modules:
        first = argv
        break
print(json.dumps({"torch_after": first, "numpy": "numpy" in sys.modules}))
"""


def _paths(cmd: click.Command, prefix: list[str]) -> list[list[str]]:
    out = [prefix]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            out += _paths(cmd.get_command(ctx, name), prefix + [name])
    return out


def _run(argvs: list[list[str]], tmp_path) -> dict:
    env = {"VBENCH_I2V_HOME": str(tmp_path / "home"), "VBENCH_I2V_DATA": str(tmp_path / "data"),
           "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    # cwd outside the repository: the package is found through its installed (editable) finder
    r = subprocess.run([sys.executable, "-c", _HARNESS, json.dumps(argvs)], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _help_argvs(name: str) -> list[list[str]]:
    cmd = main.get_command(click.Context(main), name)
    return [p + ["--help"] for p in _paths(cmd, [name])]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_of_every_command_leaves_torch_unimported(name, tmp_path):
    argvs = [["--help"]] + _help_argvs(name)
    assert len(argvs) >= 2
    assert _run(argvs, tmp_path)["torch_after"] is None


def test_listing_commands_leave_torch_unimported(tmp_path):
    got = _run([["weights", "list"], ["datasets", "list"], ["metrics", "--list"]], tmp_path)
    assert got["torch_after"] is None


def test_top_level_help_imports_neither_torch_nor_numpy(tmp_path):
    got = _run([["--help"], ["--version"], ["weights", "--help"], ["metrics", "--help"]], tmp_path)
    assert got == {"torch_after": None, "numpy": False}


def test_the_check_sees_torch_when_it_is_imported(tmp_path):
    """The harness would notice: importing torch after a help is reported at that step."""
    got = _run([["--help"], ["<import torch>"], ["weights", "--help"]], tmp_path)
    assert got["torch_after"] == ["<import torch>"]
