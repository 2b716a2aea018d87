"""Start-up time of the `vbench` commands that need no network, against `python -c "import click"`.

Every command runs in a fresh interpreter (subprocess), the variants interleaved repetition by
repetition so a busy machine slows all alike; each line is the median wall time and its ratio to
the baseline measured in the same run. Target: within 2x of the baseline, and no torch imported
(``tests/test_startup_imports.py`` checks the latter without timing).

Run: python benchmarks/bench_startup.py [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import click


def _vbench() -> list[str]:
    exe = shutil.which("vbench") or os.path.join(os.path.dirname(sys.executable), "vbench")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "vbench_i2v"]


def command_lines() -> dict[str, list[str]]:
    """Every command's and sub-command's --help, plus the listing commands."""
    from vbench_i2v.cli import main

    def walk(cmd, path):
        yield path
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for n in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, n), path + [n])

    v = _vbench()
    lines = {"python -c 'import click'": [sys.executable, "-c", "import click"]}
    for path in walk(main, []):
        lines["vbench " + " ".join(path + ["--help"])] = v + path + ["--help"]
    lines["vbench weights list"] = v + ["weights", "list"]
    lines["vbench datasets list"] = v + ["datasets", "list"]
    lines["vbench metrics --list"] = v + ["metrics", "--list"]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    lines = command_lines()
    home = tempfile.mkdtemp(prefix="vbench-startup-")
    env = {**os.environ, "VBENCH_I2V_HOME": home, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    times: dict[str, list[float]] = {k: [] for k in lines}
    print(f"load average before: {os.getloadavg()}")
    for _ in range(args.reps):
        for name, argv in lines.items():
            t = time.perf_counter()
            r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=home)
            times[name].append(time.perf_counter() - t)
            if r.returncode != 0:
                raise SystemExit(f"{name} failed: {r.stderr.decode()[-500:]}")
    print(f"load average after:  {os.getloadavg()}  ({os.cpu_count()} CPUs, {args.reps} interleaved reps)")
    base = statistics.median(times["python -c 'import click'"])
    worst = 0.0
    print(f"{'command':44s} {'median s':>9s} {'vs import click':>16s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = med / base
        if name.startswith("vbench"):
            worst = max(worst, ratio)
        print(f"{name:44s} {med:9.3f} {ratio:15.2f}x")
    print(f"worst ratio {worst:.2f}x (target <= 2x)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
