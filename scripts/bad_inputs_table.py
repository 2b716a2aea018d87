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
            args = sweep.sweep_args(path, cmd, param, value, tmp)
            shown = " ".join(str(a) if str(a) else repr("") for a in args[len(path):])
            shown = f"`{shown}`"
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
