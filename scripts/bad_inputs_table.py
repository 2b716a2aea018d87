"""Regenerate the sweep table of docs/bad-inputs.md from the live commands: every bad value the
sweep in tests/test_bad_inputs.py gives to every option of every command, and the line it prints.

    python scripts/bad_inputs_table.py > /tmp/sweep.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_bad_inputs as sweep  # noqa: E402


def rows() -> list[str]:
    out = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sweep._materialise(tmp)
        for (path, param_name, case_id) in [p.values if hasattr(p, "values") else p for p in sweep._sweep_cases()]:
            cmd = dict(sweep.COMMANDS)[path]
            param = next(p for p in cmd.params if p.name == param_name)
            value = next(v for c, v, _ in sweep._cases_for(param, tmp) if c == case_id)
            if isinstance(param, click.Option):
                args = [*path, param.opts[0], str(value)]
                shown = f"`{param.opts[0]} {value if str(value) else repr('')}`"
            else:
                before = []
                for other in cmd.params:
                    if other is param:
                        break
                    if isinstance(other, click.Argument):
                        t = other.type
                        before.append(tmp / ("a-folder" if isinstance(t, click.Path) and not t.file_okay
                                             else "a-file") if isinstance(t, click.Path) else "x")
                args = [*path, *before, str(value)]
                shown = f"`{value if str(value) else repr('')}`"
            code, o, e = sweep.invoke(args, tmp)
            lines = [ln for ln in e.splitlines() if ln.strip()]
            msg = " / ".join(lines) if lines else f"(exit {code}, nothing on stderr)"
            if code != 2:
                msg = f"**exit {code}**: {msg}"
            msg = msg.replace(str(tmp), "TMP").replace("|", "\\|")
            out.append(f"| `vbench {' '.join(path)}` | {case_id} | {shown.replace(str(tmp), 'TMP')} | {msg} |")
    return out


if __name__ == "__main__":
    print("| command | case | arguments | message |\n|---|---|---|---|")
    print("\n".join(rows()))
