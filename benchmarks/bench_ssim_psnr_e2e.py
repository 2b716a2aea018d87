"""`vbench metrics --metrics ssim,psnr` as a whole command against a plain per-frame skimage loop.

Data: N clip pairs (32 frames, 64x64) written to /tmp with ``vbench_i2v.video_io.write_video``,
as npz and as mp4 (made once, reused). The reference reads each pair with the same reader and
calls skimage's ``structural_similarity`` (Gaussian, sigma 1.5, the paper's settings) and
``peak_signal_noise_ratio`` per frame, over the frames `vbench metrics` scores (1..T-1). It is run
on a seeded subset and extrapolated linearly to N (it is a per-video loop; the printout says so).
Ours is the command itself in a subprocess: start-up, torch import, decoding, scoring, bootstrap,
JSON. Reference and ours alternate repetition by repetition; medians of wall and CPU time (CPU
time counts every thread, so it is the steadier measure on a shared machine). Per-video values
must agree to 1e-5. The peak RSS of the command on N/5 and N pairs shows whether memory grows.

Run: python benchmarks/bench_ssim_psnr_e2e.py [--pairs 1000] [--ref-pairs 100] [--reps 3] [--formats npz,mp4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA_ROOT = Path(tempfile.gettempdir())


def clip_pair(i: int, frames: int = 32, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random pattern drifting over the frames, and a shifted noisy copy of it."""
    rng = np.random.default_rng(i)
    big = np.kron(rng.uniform(0, 255, (12, 12, 3)), np.ones((size // 8, size // 8, 1)))  # 96 x 96
    real = np.empty((frames, size, size, 3), np.uint8)
    fake = np.empty_like(real)
    for t in range(frames):
        o = t % (big.shape[0] - size)
        real[t] = big[o:o + size, o // 2:o // 2 + size]
        s = min(o + 1, big.shape[0] - size)
        fake[t] = np.clip(big[s:s + size, o // 2:o // 2 + size] + rng.normal(0, 12, (size, size, 3)), 0, 255)
    return real, fake


def make_pairs(n: int, fmt: str, root: Path = DATA_ROOT) -> tuple[Path, Path]:
    """``root/vbench_e2e_<fmt>/{real,fake}/clip_XXXX.<fmt>``: N pairs (existing files are kept)."""
    from vbench_i2v.video_io import write_video

    base = root / f"vbench_e2e_{fmt}"
    real_dir, fake_dir = base / "real", base / "fake"
    real_dir.mkdir(parents=True, exist_ok=True)
    fake_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rp, fp = real_dir / f"clip_{i:04d}.{fmt}", fake_dir / f"clip_{i:04d}.{fmt}"
        if not (rp.exists() and fp.exists()):
            real, fake = clip_pair(i)
            write_video(rp, real)
            write_video(fp, fake)
    return real_dir, fake_dir


def subset_dirs(real_dir: Path, fake_dir: Path, n: int, fmt: str) -> tuple[Path, Path]:
    """Folders of symlinks to the first n pairs (so the command sees exactly n)."""
    base = DATA_ROOT / f"vbench_e2e_{fmt}_first{n}"
    out = []
    for side, src in (("real", real_dir), ("fake", fake_dir)):
        d = base / side
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            link = d / f"clip_{i:04d}.{fmt}"
            if not link.exists():
                link.symlink_to(src / link.name)
        out.append(d)
    return out[0], out[1]


def reference(real_dir: Path, fake_dir: Path, names: list[str], fmt: str) -> dict[str, tuple[float, float]]:
    """The plain loop: read both videos, skimage per scored frame (1..T-1), mean per video."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from vbench_i2v.video_io import read_video

    out = {}
    for n in names:
        real, fake = read_video(real_dir / f"{n}.{fmt}"), read_video(fake_dir / f"{n}.{fmt}")
        s, p = [], []
        for t in range(1, real.shape[0]):
            s.append(structural_similarity(fake[t], real[t], gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=255, channel_axis=-1))
            p.append(peak_signal_noise_ratio(real[t], fake[t], data_range=255))
        out[n] = (float(np.mean(s)), float(np.mean(p)))
    return out


def run_command(real_dir: Path, fake_dir: Path, json_out: Path, extra=()) -> tuple[float, float, float]:
    """(wall s, CPU s of the child, peak RSS MiB) of one `vbench metrics` run."""
    exe = Path(sys.executable).with_name("vbench")
    argv = [str(exe) if exe.exists() else sys.executable] + ([] if exe.exists() else ["-m", "vbench_i2v"])
    argv += ["metrics", "--metrics", "ssim,psnr", "--real", str(real_dir), "--fake", str(fake_dir),
             "--json", str(json_out), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # cwd outside the repository, as a user would run it
    r = subprocess.run(argv, capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"vbench metrics failed:\n{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024  # ru_maxrss: the largest child so far, KiB


def peak_rss_mib(real_dir: Path, fake_dir: Path, json_out: Path) -> float:
    """Peak RSS of one command run in a fresh `time`-like wrapper (ru_maxrss of that child alone)."""
    code = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], capture_output=True, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    exe = Path(sys.executable).with_name("vbench")
    r = subprocess.run([sys.executable, "-c", code, str(exe), "metrics", "--metrics", "ssim,psnr", "--real",
                        str(real_dir), "--fake", str(fake_dir), "--json", str(json_out)],
                       capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return int(r.stdout.strip()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--ref-pairs", type=int, default=100, help="reference loop on this many, extrapolated")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--formats", default="npz,mp4")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}")
    for fmt in args.formats.split(","):
        real_dir, fake_dir = make_pairs(args.pairs, fmt)
        names = sorted(p.stem for p in fake_dir.iterdir())[: args.pairs]
        ref_names = [names[i] for i in np.random.default_rng(0).choice(len(names), args.ref_pairs, replace=False)]
        out = DATA_ROOT / f"vbench_e2e_{fmt}.json"
        ref_wall, ref_cpu, our_wall, our_cpu = [], [], [], []
        ref_vals = None
        for rep in range(args.reps):
            c, t = time.process_time(), time.perf_counter()
            ref_vals = reference(real_dir, fake_dir, ref_names, fmt)
            ref_wall.append((time.perf_counter() - t) * len(names) / len(ref_names))
            ref_cpu.append((time.process_time() - c) * len(names) / len(ref_names))
            w, cpu, _ = run_command(real_dir, fake_dir, out)
            our_wall.append(w)
            our_cpu.append(cpu)
            print(f"  {fmt} rep {rep}: reference {ref_wall[-1]:.1f} s wall (extrapolated), ours {w:.2f} s wall, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        res = json.loads(out.read_text())["metrics"]
        err_s = max(abs(res["ssim"]["per_video"][n] - ref_vals[n][0]) for n in ref_names)
        err_p = max(abs(res["psnr"]["per_video"][n] - ref_vals[n][1]) for n in ref_names)
        small = subset_dirs(real_dir, fake_dir, max(1, args.pairs // 5), fmt)
        rss_small = peak_rss_mib(*small, DATA_ROOT / f"vbench_e2e_{fmt}_small.json")
        rss_full = peak_rss_mib(real_dir, fake_dir, out)
        m = statistics.median
        print(f"{fmt}: {len(names)} pairs x 31 scored frames of 64x64")
        print(f"  reference (skimage per frame, incl. loading; {len(ref_names)} pairs x {len(names) / len(ref_names):g}): "
              f"{m(ref_wall):7.2f} s wall {m(ref_cpu):7.2f} s CPU")
        print(f"  vbench metrics --metrics ssim,psnr (whole command):      "
              f"{m(our_wall):7.2f} s wall {m(our_cpu):7.2f} s CPU")
        print(f"  speed-up {m(ref_wall) / m(our_wall):.2f}x wall, {m(ref_cpu) / m(our_cpu):.2f}x CPU (target 20x)")
        print(f"  max |ours - skimage| per video: SSIM {err_s:.2e}, PSNR {err_p:.2e} dB (limit 1e-5)")
        print(f"  peak RSS: {rss_small:.0f} MiB for {max(1, args.pairs // 5)} "
              f"pairs, {rss_full:.0f} MiB for {args.pairs}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
