"""How `vbench metrics` grows with the number of clip pairs and with clip size: wall time, CPU time
and peak memory of the whole command.

Each point is one run of the command in a fresh process (start-up, torch import, decoding, scoring,
bootstrap, JSON), on npz clip pairs this script writes into a temporary folder
(``bench_ssim_psnr_e2e.clip_pair``: a smooth pattern drifting over the frames and a shifted noisy
copy). Peak memory is the peak resident set size of that process (``os.wait4``'s ``ru_maxrss``, per
child, not the cumulative ``RUSAGE_CHILDREN`` maximum, measured from a small launcher process so the
RSS of this script is not counted in); CPU time counts every thread.

Metric sets (``--sets``, one command per set and point): ``ssim,psnr`` and ``fid`` on the synthetic
probe (``--extractor synthetic-probe``, the shipped weights). Cases (``--cases``):

| case | clip | pairs (default) |
|---|---|---|
| ``n`` | 32 x 64 x 64 | 1,000, 5,000, 10,000 |
| ``px256`` | 32 x 256 x 256 | 100, 400 |
| ``f1200`` | 1,200 x 64 x 64 | 10, 40 |

Memory must stay flat in the number of clips: the summary gives, per set and case, the peak RSS at the
largest count over that at the smallest (limit 1.10) and the marginal cost per additional pair
(wall and CPU ms). The machine (CPU, its vector/bf16 flags, torch), the load average and the cores
other processes kept busy (``/proc/stat``) are printed before each run.

Disk: about 0.33 MB per 64-px pair, 5 MB per 256-px pair, 12 MB per 1,200-frame pair (the noisy
copies compress badly): about 6 GB at the defaults, removed afterwards unless ``--keep-data``.

Run (on a quiet machine, OMP_NUM_THREADS unset so the thread policy decides; about 15-30 min on 2
cores, see benchmarks/README.md):
    env -u OMP_NUM_THREADS python benchmarks/bench_scale.py --json benchmarks/scale.json --plot benchmarks/scale.png
Quick check of the machinery (seconds of work; tests/test_bench_scale.py runs it):
    python benchmarks/bench_scale.py --quick --json /tmp/scale_quick.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SETS = {"ssim,psnr": ["--metrics", "ssim,psnr"],
        "fid": ["--metrics", "fid", "--extractor", "synthetic-probe"],
        "ssim,psnr,fid": ["--metrics", "ssim,psnr,fid", "--extractor", "synthetic-probe"]}
# case -> (frames, size, pair counts)
CASES = {"n": (32, 64, (1000, 5000, 10000)), "px256": (32, 256, (100, 400)), "f1200": (1200, 64, (10, 40))}
QUICK_CASES = {"n": (32, 64, (3, 6)), "px256": (32, 128, (3,)), "f1200": (64, 64, (3,))}
QUICK_SETS = ("ssim,psnr,fid",)
FLAT_LIMIT = 1.10  # the target: peak memory within 10% from the smallest to the largest count


def _write_pair(args) -> None:
    from bench_ssim_psnr_e2e import clip_pair

    from vbench_i2v.video_io import write_video

    i, frames, size, real_dir, fake_dir = args
    rp, fp = Path(real_dir) / f"clip_{i:05d}.npz", Path(fake_dir) / f"clip_{i:05d}.npz"
    if not (rp.exists() and fp.exists()):
        real, fake = clip_pair(i, frames=frames, size=size)
        write_video(rp, real)
        write_video(fp, fake)


def make_case(root: Path, frames: int, size: int, counts, jobs: int) -> dict[int, Path]:
    """``{count: folder with real/ and fake/}``: the largest count written once, the smaller ones as
    folders of symbolic links to its first files."""
    base = root / f"f{frames}_s{size}"
    real_dir, fake_dir = base / "all" / "real", base / "all" / "fake"
    real_dir.mkdir(parents=True, exist_ok=True)
    fake_dir.mkdir(parents=True, exist_ok=True)
    work = [(i, frames, size, str(real_dir), str(fake_dir)) for i in range(max(counts))]
    if jobs > 1 and len(work) > 8:
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_write_pair, work, chunksize=16))
    else:
        for w in work:
            _write_pair(w)
    out = {}
    for n in counts:
        d = base / f"first{n}"
        for side, src in (("real", real_dir), ("fake", fake_dir)):
            (d / side).mkdir(parents=True, exist_ok=True)
            for p in sorted(src.iterdir())[:n]:
                if not (d / side / p.name).exists():
                    (d / side / p.name).symlink_to(p)
        out[n] = d
    return out


def busy_cores() -> float | None:
    from vbench_i2v import threads

    return threads.measured_busy_cores(0.5)


def machine() -> dict:
    import torch

    from vbench_i2v import devices

    caps = dict(getattr(torch.cpu, "get_capabilities", dict)())
    flags = sorted(k for k, v in caps.items() if v is True and k.startswith(("avx", "amx", "sve", "bf16", "fma")))
    cpu = platform.processor()
    with_info = Path("/proc/cpuinfo")
    if with_info.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in with_info.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return {"cpu": cpu, "cpus": os.cpu_count(), "cpu_flags": flags, "bf16_flags": list(devices.cpu_bf16_flags()),
            "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "python": platform.python_version(),
            "threads_env": {k: os.environ[k] for k in ("VBENCH_THREADS", "OMP_NUM_THREADS") if k in os.environ}}


# Measures one command from a small process of its own: Linux keeps, in a process's peak RSS, the
# RSS of the address space it replaced at exec; a child forked (or vforked) straight from this
# script, which has imported torch and numpy, would report at least this script's RSS.
LAUNCHER = r"""
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t
rss = ru.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux
with open(out, "w") as fh:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
               "peak_rss_mib": rss}, fh)
"""


def run_command(argv: list[str], out_dir: Path) -> dict:
    """Run ``argv`` in a fresh process; its own wall s, CPU s and peak RSS (MiB, from ``wait4``: that
    process alone, not the maximum over all children as ``RUSAGE_CHILDREN`` gives)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    res_file = out_dir / "rusage.json"
    with open(out_dir / "stdout.txt", "wb") as so, open(out_dir / "stderr.txt", "wb") as se:
        subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCHER, str(res_file), *argv], stdout=so, stderr=se,
                       check=True)
    res = json.loads(res_file.read_text())
    if res.pop("rc") != 0:
        tail = (out_dir / "stderr.txt").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(argv)} failed:\n{tail}")
    return res


def score(set_name: str, folder: Path, n: int, work: Path) -> dict:
    vbench = str(Path(sys.executable).with_name("vbench"))
    out_json = work / "scores.json"
    argv = [vbench, "metrics", "--real", str(folder / "real"), "--fake", str(folder / "fake"),
            *SETS[set_name], "--json", str(out_json)]
    res = run_command(argv, work)
    got = json.loads(out_json.read_text())["metrics"]
    res["values"] = {m: got[m]["value"] for m in got}
    res["n_scored"] = {m: got[m].get("n") for m in got}
    for m, k in res["n_scored"].items():  # a run that scored fewer clips would make the curve wrong
        if k is not None and k != n:
            raise SystemExit(f"{set_name} on {n} pairs: {m} scored {k} clips")
    return res


def summarise(runs: list[dict]) -> list[dict]:
    """Per set and case: memory ratio largest/smallest count, marginal wall and CPU ms per pair."""
    out = []
    for key in sorted({(r["set"], r["case"]) for r in runs}):
        pts = sorted((r for r in runs if (r["set"], r["case"]) == key), key=lambda r: r["pairs"])
        lo, hi = pts[0], pts[-1]
        row = {"set": key[0], "case": key[1], "frames": lo["frames"], "size": lo["size"],
               "pairs": [r["pairs"] for r in pts], "peak_rss_mib": [round(r["peak_rss_mib"], 1) for r in pts],
               "wall_s": [round(r["wall_s"], 2) for r in pts], "cpu_s": [round(r["cpu_s"], 2) for r in pts]}
        if hi["pairs"] > lo["pairs"]:
            ratio = hi["peak_rss_mib"] / lo["peak_rss_mib"]
            dn = hi["pairs"] - lo["pairs"]
            row.update(rss_ratio=round(ratio, 4), flat=ratio <= FLAT_LIMIT,
                       marginal_wall_ms_per_pair=round(1000 * (hi["wall_s"] - lo["wall_s"]) / dn, 3),
                       marginal_cpu_ms_per_pair=round(1000 * (hi["cpu_s"] - lo["cpu_s"]) / dn, 3))
        out.append(row)
    return out


def plot(runs: list[dict], info: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for key in sorted({(r["set"], r["case"]) for r in runs}):
        pts = sorted((r for r in runs if (r["set"], r["case"]) == key), key=lambda r: r["pairs"])
        x = [r["pairs"] for r in pts]
        label = f"{key[0]}, {pts[0]['frames']}x{pts[0]['size']}x{pts[0]['size']}"
        axes[0].plot(x, [r["wall_s"] for r in pts], "o-", label=label)
        axes[1].plot(x, [r["cpu_s"] for r in pts], "o-", label=label)
        axes[2].plot(x, [r["peak_rss_mib"] for r in pts], "o-", label=label)
    from matplotlib.ticker import ScalarFormatter

    for ax, what in zip(axes, ("wall time (s)", "CPU time (s)", "peak RSS (MiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("clip pairs")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_formatter(ScalarFormatter())
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
    axes[2].set_ylim(bottom=0)
    axes[2].legend(fontsize=8)
    loads = [r["load_before"][0] for r in runs]
    fig.suptitle(f"vbench metrics, whole command: {info['cpu']} ({info['cpus']} CPUs, {info['capability']}), "
                 f"torch {info['torch']}, load average {min(loads):.1f}-{max(loads):.1f}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one combined metric set: checks the machinery")
    ap.add_argument("--sets", default=None, help=f"comma-free metric sets separated by ';' (known: {'; '.join(SETS)})")
    ap.add_argument("--cases", default=None, help="comma list of n, px256, f1200 (default: all)")
    ap.add_argument("--counts", default=None, help="pair counts of case n, comma list (default 1000,5000,10000)")
    ap.add_argument("--data", type=Path, default=None, help="folder for the clips (default: a new temp folder)")
    ap.add_argument("--keep-data", action="store_true", help="keep the clips (reused by a later run with --data)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes writing the clips")
    ap.add_argument("--json", type=Path, default=None, help="write runs + summary here")
    ap.add_argument("--plot", type=Path, default=None, help="write the curves here (PNG, needs matplotlib)")
    args = ap.parse_args(argv)

    cases = dict(QUICK_CASES if args.quick else CASES)
    if args.counts:
        f, s, _ = cases["n"]
        cases["n"] = (f, s, tuple(int(c) for c in args.counts.split(",")))
    if args.cases:
        unknown = set(args.cases.split(",")) - set(cases)
        if unknown:
            raise SystemExit(f"--cases: unknown {', '.join(sorted(unknown))} (known: {', '.join(cases)})")
        cases = {k: cases[k] for k in args.cases.split(",")}
    default_sets = QUICK_SETS if args.quick else ("ssim,psnr", "fid")
    sets = tuple(s.strip() for s in args.sets.split(";")) if args.sets else default_sets
    for s in sets:
        if s not in SETS:
            raise SystemExit(f"--sets: unknown {s!r} (known: {'; '.join(SETS)})")

    info = machine()
    print(f"{info['cpu']}, {info['cpus']} CPUs, torch {info['torch']} ({info['capability']}), python "
          f"{info['python']}; bf16 flags: {', '.join(info['bf16_flags']) or 'none'}; {info['threads_env'] or 'thread policy'}")
    print("CPU flags: " + " ".join(info["cpu_flags"]), flush=True)
    root = args.data or Path(tempfile.mkdtemp(prefix="vbench_scale_"))
    work = Path(tempfile.mkdtemp(prefix="vbench_scale_runs_"))
    runs = []
    try:
        for case, (frames, size, counts) in cases.items():
            t = time.perf_counter()
            folders = make_case(root, frames, size, counts, args.jobs)
            print(f"case {case}: {max(counts)} pairs of {frames}x{size}x{size} ready in {time.perf_counter() - t:.1f} s",
                  flush=True)
            for n in counts:
                for s in sets:
                    load, busy = os.getloadavg(), busy_cores()
                    r = score(s, folders[n], n, work / f"{case}_{n}_{s.replace(',', '-')}")
                    r.update(set=s, case=case, frames=frames, size=size, pairs=n, load_before=list(load),
                             busy_cores_before=busy)
                    runs.append(r)
                    print(f"{s:>14} {case:>6} {frames}x{size}x{size} {n:>6} pairs: {r['wall_s']:8.2f} s wall "
                          f"{r['cpu_s']:8.2f} s CPU {r['peak_rss_mib']:7.1f} MiB peak | load {load[0]:.2f}, "
                          f"busy cores {busy if busy is None else round(busy, 2)} | "
                          + ", ".join(f"{m} {v:.4g}" for m, v in r["values"].items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_data and args.data is None:
            shutil.rmtree(root, ignore_errors=True)
    summary = summarise(runs)
    for row in summary:
        if "rss_ratio" in row:
            rss = row["peak_rss_mib"]
            print(f"{row['set']:>14} {row['case']:>6}: peak RSS {rss[0]} -> {rss[-1]} MiB ({row['rss_ratio']:.3f}x, "
                  f"{'flat' if row['flat'] else 'NOT flat'} within {FLAT_LIMIT:.2f}); per additional pair "
                  f"{row['marginal_wall_ms_per_pair']:.2f} ms wall, {row['marginal_cpu_ms_per_pair']:.2f} ms CPU")
    out = {"quick": args.quick, "machine": info, "runs": runs, "summary": summary, "flat_limit": FLAT_LIMIT}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if args.plot:
        plot(runs, info, args.plot)
        print(f"plot: {args.plot}")
    return out


if __name__ == "__main__":
    main()
