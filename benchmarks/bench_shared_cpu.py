"""Metric commands with and without a competing CPU-bound process, and with each thread setting.

A shared machine is the normal case here: this runs `vbench metrics --metrics ssim,psnr` on
paired clips (from ``bench_ssim_psnr_e2e.make_pairs``) alone and next to one busy-looping
``python -c "while True: pass"`` process, alternating the two, for each thread setting:

* ``policy``: the command's own policy (``vbench_i2v.threads``: passive OpenMP wait, 1 torch
  thread for the small SSIM kernel, loader threads decoding ahead);
* ``threads=N``: ``VBENCH_THREADS=N`` forcing N torch threads (N = the CPU count shows what an
  unpinned torch does when another process holds a core).

With ``--command features`` it times ``vbench features`` (ResNeXt-101, random weights imported
by ``bench_features_e2e``) on ``--clips`` clips instead.

Prints the median wall time of each and the slowdown ratio with/without the competitor
(target: at most 2x), plus the load average. Run:
python benchmarks/bench_shared_cpu.py [--command metrics|features] [--pairs 200] [--clips 4] [--reps 3]
[--fmt npz] [--settings policy,threads=2,threads=1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ssim_psnr_e2e import make_pairs, subset_dirs  # noqa: E402


def run(argv, env_extra: dict) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "VBENCH_THREADS")}
    env.update(env_extra)
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=tempfile.gettempdir())
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fmt", default="npz")
    ap.add_argument("--command", choices=["metrics", "features"], default="metrics")
    ap.add_argument("--clips", type=int, default=4, help="clips for --command features")
    ap.add_argument("--settings", default=None, help="comma-separated subset of policy,threads=N (default: all)")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("vbench"))
    base_env: dict = {}
    if args.command == "metrics":
        real, fake = make_pairs(args.pairs, args.fmt)
        real, fake = subset_dirs(real, fake, args.pairs, args.fmt)
        argv = [exe, "metrics", "--metrics", "ssim,psnr", "--real", str(real), "--fake", str(fake),
                "--bootstrap-reps", "200"]
        what = f"vbench metrics --metrics ssim,psnr, {args.pairs} {args.fmt} pairs"
    else:
        import bench_features_e2e as fe

        fe.ROOT.mkdir(exist_ok=True)
        clips = fe.subset(fe.make_clips(args.clips, 64), args.clips)
        fe.weights()
        base_env = {"VBENCH_I2V_HOME": str(fe.ROOT / "home")}
        argv = [exe, "features", str(clips), "--out", str(fe.ROOT / "shared_cpu.npz")]
        what = f"vbench features (ResNeXt-101), {args.clips} clips of 32x64x64"
    cpus = os.cpu_count() or 1
    settings = {"policy": {}, f"threads={cpus}": {"VBENCH_THREADS": str(cpus)}}
    if cpus > 1:
        settings["threads=1"] = {"VBENCH_THREADS": "1"}
    if args.settings:
        settings = {k: v for k, v in settings.items() if k in args.settings.split(",")}
    settings = {k: {**base_env, **v} for k, v in settings.items()}
    times = {(s, c): [] for s in settings for c in (False, True)}
    print(f"load average at start: {os.getloadavg()}, {cpus} CPUs, {what}")
    for _ in range(args.reps):
        for s, env in settings.items():
            for competing in (False, True):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if competing else None
                try:
                    times[(s, competing)].append(run(argv, env))
                    print(f"  {s} {'+busy' if competing else 'alone'}: {times[(s, competing)][-1]:.2f} s, "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
                finally:
                    if hog is not None:
                        hog.kill()
                        hog.wait()
    m = statistics.median
    print(f"{'setting':12s} {'alone s':>8s} {'+1 busy process s':>18s} {'slowdown':>9s}")
    for s in settings:
        a, b = m(times[(s, False)]), m(times[(s, True)])
        print(f"{s:12s} {a:8.2f} {b:18.2f} {b / a:8.2f}x")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
