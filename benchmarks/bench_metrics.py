"""Metric speed against straightforward references, measured in the same run.

1. FID feature extraction, videos/s: ours (``ResNeXtFIDExtractor`` defaults: batched torch resize,
   several clips per forward, channels_last_3d, BN folded into oneDNN convs) against the G3AN recipe
   done plainly (PIL resize per frame, eager fp32 ``model.features``, batch 1, default layout), same
   random-weight ResNeXt-101, with the features' agreement. Target >= 2x.
2. Frechet distance at 2048-d: ours (eigvalsh route) against scipy.linalg.sqrtm. Target >= 10x, 1e-6 rel.
3. SSIM+PSNR per 32x64x64 video pair: ours (batched torch) against skimage's per-frame loop.
   Target >= 20x, 1e-5 per frame.

The machine may be shared, so ours and the reference alternate repetition by repetition and each
side's median is reported; the load average is printed with the results.

Run: python benchmarks/bench_metrics.py [--videos 8] [--pairs 16] [--reps 3] [--threads N] [--bf16]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time


def _pin_library_threads_from_argv() -> None:
    """``--threads N`` must reach numpy/scipy's BLAS too, and they read it only when first loaded."""
    if "--threads" in sys.argv[:-1]:
        n = sys.argv[sys.argv.index("--threads") + 1]
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n


_pin_library_threads_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402


def interleaved(fns: dict, reps: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median (wall, process CPU) seconds of each callable, alternating within every repetition.

    CPU time is the steadier measure on a shared machine (it leaves out time spent waiting for a
    core) as long as torch runs one thread; with more, it also counts threads' spin-waiting.
    """
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


def speedup_text(wall: dict, cpu: dict, ours: str = "ours") -> str:
    return f"speed-up {wall['reference'] / wall[ours]:5.2f}x wall, {cpu['reference'] / cpu[ours]:5.2f}x CPU"


def bench_fid_features(n_videos: int, reps: int, bf16: bool) -> None:
    from PIL import Image

    from vbench_i2v.feature_extractors.resnext3d import ACTIVITYNET_MEAN, ResNeXtFIDExtractor, resnext101

    torch.manual_seed(0)
    model = resnext101().eval()
    for mod in model.modules():  # non-trivial BN statistics, as a trained network has
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (n_videos, 32, 64, 64, 3), dtype=np.uint8)
    mean = torch.tensor(ACTIVITYNET_MEAN).view(3, 1, 1, 1)

    def reference(vids):
        """The G3AN recipe, straightforwardly: PIL per frame, eager fp32, one clip per forward."""
        out = []
        with torch.no_grad():
            for v in vids:
                s = len(v) // 2 - 8
                frames = [np.asarray(Image.fromarray(f).resize((112, 112), Image.BILINEAR)) for f in v[s : s + 16]]
                x = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).float() - mean
                out.append(model.features(x[None]).double().numpy())
        return np.concatenate(out)

    ours = ResNeXtFIDExtractor.from_model(copy.deepcopy(model))  # the defaults users get
    fns = {"reference": lambda: reference(videos), "ours": lambda: ours.features(videos)}
    if bf16:
        fast = ResNeXtFIDExtractor.from_model(copy.deepcopy(model), bf16=True)
        fns["ours bf16 (opt-in)"] = lambda: fast.features(videos)
    fr, fo = reference(videos[:2]), ours.features(videos[:2])  # warm-up (oneDNN primitives, packing)
    fr, fo = reference(videos), ours.features(videos)
    t, c = interleaved(fns, reps)
    rel = np.abs(fo - fr).max() / np.abs(fr).max()
    with torch.inference_mode():  # the network alone, on identical input: the fast path's own error
        x = ours.preprocess(videos[:2]).contiguous(memory_format=torch.channels_last_3d)
        same = ours._forward(x).double().numpy()
        plain = model.features(x.contiguous()).double().numpy()
    rel_net = np.abs(same - plain).max() / np.abs(plain).max()
    grey = _resize_vs_pil(videos[0])
    gflop = 19.13 * n_videos
    print(f"FID features   ours {n_videos / t['ours']:7.2f} videos/s   "
          f"reference {n_videos / t['reference']:7.2f} videos/s   {speedup_text(t, c)} (target 2x)")
    print(f"               features max rel diff: {rel:.1e} end to end, {rel_net:.1e} network alone on the "
          f"same input; resize vs PIL: max {grey[0]:.0f} grey level, {100 * grey[1]:.1f}% of values differ")
    print(f"               GFLOP/s at 19.13 GFLOP/clip: ours {gflop / t['ours']:6.1f} wall "
          f"{gflop / c['ours']:6.1f} per CPU-s, reference {gflop / t['reference']:6.1f} wall "
          f"{gflop / c['reference']:6.1f} per CPU-s")
    if bf16:
        fb = fast.features(videos)
        key = "ours bf16 (opt-in)"
        print(f"               bf16 autocast (opt-in, not reported): {n_videos / t[key]:7.2f} videos/s, "
              f"{speedup_text(t, c, key)}, max rel diff {np.abs(fb - fr).max() / np.abs(fr).max():.1e}")


def _resize_vs_pil(video) -> tuple[float, float]:
    """(max |ours - PIL| in grey levels, fraction of values that differ) on the central 16 frames."""
    from PIL import Image

    from vbench_i2v.feature_extractors.resnext3d import central_frames, resize_like_pil

    frames = central_frames(video)
    ref = np.stack([np.asarray(Image.fromarray(f).resize((112, 112), Image.BILINEAR)) for f in frames])
    ours = resize_like_pil(torch.from_numpy(np.ascontiguousarray(frames))).permute(0, 2, 3, 1).numpy()
    d = np.abs(ours - ref.astype(np.float32))
    return float(d.max()), float((d > 0).mean())


def bench_frechet(reps: int, dim: int = 2048, n: int = 4096) -> None:
    import scipy.linalg

    from vbench_i2v.metrics.frechet import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, dim)).astype(np.float64)
    b = a @ (np.eye(dim) + 0.02 * rng.standard_normal((dim, dim))) + 0.1
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)

    def scipy_route():
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))

    out = {}
    t, c = interleaved({"reference": lambda: out.__setitem__("ref", scipy_route()),
                     "ours": lambda: out.__setitem__("ours", frechet_distance(m1, s1, m2, s2))}, reps)
    print(f"Frechet {dim}-d  ours {t['ours']:7.3f} s          scipy sqrtm {t['reference']:7.3f} s          "
          f"{speedup_text(t, c)} (target 10x)  rel diff {abs(out['ours'] - out['ref']) / abs(out['ref']):.1e}")


def bench_ssim_psnr(pairs: int, reps: int) -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from vbench_i2v.metrics.pixel import ssim_psnr_frames

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (pairs, 32, 64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)

    def reference():
        rs = [[structural_similarity(a[i, k], b[i, k], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=-1) for k in range(32)] for i in range(pairs)]
        rp = [[peak_signal_noise_ratio(b[i, k], a[i, k], data_range=255) for k in range(32)] for i in range(pairs)]
        return np.array(rs), np.array(rp)

    ssim_psnr_frames(a[:1], b[:1])  # warm-up
    t, c = interleaved({"reference": reference, "ours": lambda: ssim_psnr_frames(a, b)}, reps)
    (rs, rp), (s, p) = reference(), ssim_psnr_frames(a, b)
    err = max(np.abs(s.numpy() - rs).max(), np.abs(p.numpy() - rp).max())
    print(f"SSIM+PSNR      ours {1000 * t['ours'] / pairs:7.2f} ms/pair       "
          f"skimage {1000 * t['reference'] / pairs:7.2f} ms/pair      {speedup_text(t, c)} (target 20x)  "
          f"max abs diff {err:.1e} per frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8, help="videos for the FID feature benchmark")
    ap.add_argument("--pairs", type=int, default=16, help="32x64x64 video pairs for SSIM/PSNR")
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions per benchmark (median)")
    ap.add_argument("--frechet-reps", type=int, default=2, help="repetitions for Frechet (scipy sqrtm is slow)")
    ap.add_argument("--threads", type=int, default=None, help="threads for torch and numpy/scipy BLAS, both sides (default: theirs)")
    ap.add_argument("--bf16", action="store_true", help="also time the opt-in bf16 feature mode")
    ap.add_argument("--only", choices=["fid", "frechet", "ssim"], default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.only in (None, "fid"):
        bench_fid_features(args.videos, args.reps, args.bf16)
    if args.only in (None, "frechet"):
        bench_frechet(args.frechet_reps)
    if args.only in (None, "ssim"):
        bench_ssim_psnr(args.pairs, args.reps)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
