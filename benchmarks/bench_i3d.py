"""I3D (FVD) feature extraction speed: ours against the straightforward route, in the same run.

Ours: ``I3DFVDExtractor`` defaults (all frames of a batch resized in one call, BN folded into
the convs, the three 1x1x1 branch convs of each Inception module run as one, channels_last_3d,
several clips per forward). Reference: VideoGPT's recipe done plainly (per-frame F.interpolate,
eager fp32 ``InceptionI3D``, one clip per forward). Same random-weight network on both sides
(random weights: speed does not depend on the values; the features' agreement is printed).

The machine may be shared, so the two sides alternate repetition by repetition and each side's
median is reported, with the load average before and after.

Run: python benchmarks/bench_i3d.py [--videos 8] [--frames 16] [--side 64] [--reps 2] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import time


def _pin_library_threads_from_argv() -> None:
    if "--threads" in sys.argv[:-1]:
        n = sys.argv[sys.argv.index("--threads") + 1]
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n


_pin_library_threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def interleaved(fns: dict, reps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median (wall, process CPU) seconds of each callable, alternating within every repetition."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    med = lambda d: {k: float(np.median(v)) for k, v in d.items()}  # noqa: E731
    return med(wall), med(cpu)


def _load() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--side", type=int, default=64, help="input frame side (resized to 224 by both routes)")
    ap.add_argument("--reps", type=int, default=2, help="alternating repetitions (median)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from vbench_i2v.feature_extractors.i3d import I3DFVDExtractor, i3d

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {_load()}")
    torch.manual_seed(0)
    model = i3d().eval()
    for mod in model.modules():  # non-trivial BN statistics, as a trained network has
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (args.videos, args.frames, args.side, args.side, 3), dtype=np.uint8)

    def reference(vids):
        """VideoGPT's recipe, plainly: per frame /255, resize short side, crop, (x-0.5)*2; eager, batch 1."""
        out = []
        with torch.no_grad():
            for v in vids:
                frames = []
                for f in v:
                    x = torch.from_numpy(f).permute(2, 0, 1).float()[None] / 255.0
                    h, w = x.shape[2:]
                    s = 224 / min(h, w)
                    size = (224, math.ceil(w * s)) if h < w else (math.ceil(h * s), 224)
                    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                    t0, l0 = (x.shape[2] - 224) // 2, (x.shape[3] - 224) // 2
                    frames.append((x[0, :, t0 : t0 + 224, l0 : l0 + 224] - 0.5) * 2)
                out.append(model(torch.stack(frames, 1)[None]).double().numpy())
        return np.concatenate(out)

    ours = I3DFVDExtractor.from_model(copy.deepcopy(model))
    reference(videos[:1]), ours.features(videos[:1])  # warm-up
    fr, fo = reference(videos), ours.features(videos)
    t, c = interleaved({"reference": lambda: reference(videos), "ours": lambda: ours.features(videos)}, args.reps)
    rel = np.abs(fo - fr).max() / np.abs(fr).max()
    n = args.videos
    print(f"I3D features ({n} clips x {args.frames} frames, {args.side}x{args.side} -> 224, random weights)")
    print(f"  ours      {n / t['ours']:6.2f} videos/s wall  {n / c['ours']:6.2f} per CPU-s")
    print(f"  reference {n / t['reference']:6.2f} videos/s wall  {n / c['reference']:6.2f} per CPU-s")
    print(f"  speed-up  {t['reference'] / t['ours']:5.2f}x wall, {c['reference'] / c['ours']:5.2f}x CPU; "
          f"features max rel diff {rel:.1e}")
    print(f"load average at the end {_load()}")


if __name__ == "__main__":
    main()
