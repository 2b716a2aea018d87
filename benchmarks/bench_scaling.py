"""Sharded scoring: videos/s and peak memory per process for 1 and 2 CPU processes, same input.

Each setting scores the same folders (``--videos`` real/fake pairs of 32x64x64 clips) with
``compute_metrics`` (SSIM, PSNR, FID, KID on a seeded random-weight 3D ResNeXt-101, the real
FID network's shape and cost) in fresh processes started by ``torch.multiprocessing`` with
torchrun's environment (gloo on 127.0.0.1). The CPU cores are split between the processes
(2 cores: 1 process x 2 threads, then 2 processes x 1 thread), so the comparison is fair on a
fixed machine. Reported: videos/s (pairs scored per second of the slowest rank, extractor
construction excluded), the speed-up over 1 process, each process's peak RSS
(``resource.getrusage``), and the largest relative difference between the two settings' numbers.

Run: python benchmarks/bench_scaling.py [--videos 16] [--procs 1,2] [--metrics ssim,psnr,fid,kid]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import tempfile
import time
from pathlib import Path

import numpy as np


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_resnext_extractor(batch_size: int = 8):
    """The FID extractor with seeded random ResNeXt-101 weights (no weight file needed)."""
    import torch

    from vbench_i2v.feature_extractors.resnext3d import ACTIVITYNET_MEAN, ResNeXtFIDExtractor, resnext101

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = resnext101().eval()
    ex = ResNeXtFIDExtractor.__new__(ResNeXtFIDExtractor)
    ex.device, ex.channels_last, ex.batch_size, ex.bf16 = torch.device("cpu"), True, batch_size, False
    ex.model = model.to(memory_format=torch.channels_last_3d)
    ex.mean = torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1, 1)
    ex.weights_sha256 = "random-weights-seed-0"
    return ex


def _worker(rank: int, world: int, port: int, threads: int, root: str, metrics: str, out_dir: str) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    import warnings

    import torch

    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", message="FID with fewer videos")  # expected at benchmark sizes
    import vbench_i2v.feature_extractors as fx
    from vbench_i2v import distributed
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    ex = random_resnext_extractor()
    fx.build_video_extractor = lambda name, **kw: ex
    distributed.init("cpu")
    distributed.barrier()
    t = time.perf_counter()
    res = compute_metrics(Path(root) / "real", Path(root) / "fake", ScorePlan(metrics=metrics, seed=0,
                          bootstrap_reps=200, set_bootstrap_reps=10))
    elapsed = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(
        {"elapsed": elapsed, "peak_mb": peak_mb, "metrics": {k: v["value"] for k, v in res.metrics.items()}}))
    distributed.teardown()


def run_setting(nproc: int, root: Path, metrics: str, cores: int) -> dict:
    import torch.multiprocessing as mp

    threads = max(1, cores // nproc)
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(_worker, args=(nproc, _free_port(), threads, str(root), metrics, out), nprocs=nproc, join=True)
        ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(nproc)]
    return {"nproc": nproc, "threads": threads, "elapsed": max(r["elapsed"] for r in ranks),
            "peak_mb": [r["peak_mb"] for r in ranks], "metrics": ranks[0]["metrics"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=16, help="real/fake pairs")
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--metrics", default="ssim,psnr,fid,kid")
    ap.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()

    from vbench_i2v.video_io import write_video

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.videos):
            r = rng.integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
            f = np.clip(r.astype(int) + rng.integers(-40, 41, r.shape), 0, 255).astype(np.uint8)
            write_video(root / "real" / f"v{i:04d}.npz", r)
            write_video(root / "fake" / f"v{i:04d}.npz", f)
        rows = [run_setting(int(n), root, args.metrics, args.cores) for n in args.procs.split(",")]

    base = rows[0]
    print(f"{args.videos} real/fake pairs of 32x64x64, metrics {args.metrics} (FID/KID on random-weight "
          f"ResNeXt-101), {args.cores} CPU cores, gloo")
    print(f"{'processes':>9} {'threads/proc':>12} {'videos/s':>9} {'speed-up':>8}   peak RSS per process (MB)   "
          f"max rel diff vs {base['nproc']} proc")
    for row in rows:
        diff = max(abs(row["metrics"][k] - base["metrics"][k]) / max(abs(base["metrics"][k]), 1e-300)
                   for k in base["metrics"])
        rss = ", ".join(f"{m:.0f}" for m in row["peak_mb"])
        print(f"{row['nproc']:>9} {row['threads']:>12} {args.videos / row['elapsed']:>9.2f} "
              f"{base['elapsed'] / row['elapsed']:>7.2f}x   {rss:<27} {diff:.1e}")
    print("timings are wall-clock on whatever else the machine runs; repeat on an idle machine before quoting them")


if __name__ == "__main__":
    main()
