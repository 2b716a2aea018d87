"""Metric speed against straightforward references, measured in the same run.

1. FID feature extraction, videos/s: ours (batched torch resize, channels_last_3d) against the G3AN
   recipe done plainly (PIL resize per frame, eager fp32, default layout), same random-weight
   ResNeXt-101, with the features' agreement.
2. Frechet distance at 2048-d: ours (Cholesky/eigvalsh) against scipy.linalg.sqrtm, with agreement.
3. SSIM+PSNR per video pair: ours (batched) against skimage's per-frame loop, with agreement.

Run: python benchmarks/bench_metrics.py [--videos 8] [--pairs 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def bench_fid_features(n_videos: int) -> None:
    from PIL import Image

    from vbench_i2v.feature_extractors.resnext3d import ACTIVITYNET_MEAN, ResNeXtFIDExtractor, resnext101

    torch.manual_seed(0)
    model = resnext101().eval()
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (n_videos, 32, 64, 64, 3), dtype=np.uint8)

    def reference(vids):
        out = []
        mean = torch.tensor(ACTIVITYNET_MEAN).view(3, 1, 1, 1)
        with torch.no_grad():
            for v in vids:
                s = len(v) // 2 - 8
                frames = [np.asarray(Image.fromarray(f).resize((112, 112), Image.BILINEAR)) for f in v[s : s + 16]]
                x = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).float() - mean
                out.append(model.features(x[None]).double().numpy())
        return np.concatenate(out)

    ours_ex = ResNeXtFIDExtractor.__new__(ResNeXtFIDExtractor)  # same weights, no file round-trip
    ours_ex.device, ours_ex.channels_last, ours_ex.batch_size, ours_ex.bf16 = torch.device("cpu"), True, 8, False
    ours_ex.model = model.to(memory_format=torch.channels_last_3d)
    ours_ex.mean = torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1, 1)

    ours_ex.features(videos[:1])  # warm-up
    t = time.perf_counter(); fo = ours_ex.features(videos); t_ours = time.perf_counter() - t
    model.to(memory_format=torch.contiguous_format)
    reference(videos[:1])
    t = time.perf_counter(); fr = reference(videos); t_ref = time.perf_counter() - t
    rel = np.abs(fo - fr).max() / np.abs(fr).max()
    print(f"FID features   ours {n_videos / t_ours:7.2f} videos/s   reference {n_videos / t_ref:7.2f} videos/s   "
          f"speed-up {t_ref / t_ours:5.2f}x   max rel diff {rel:.1e} (resize within 1 grey level of PIL)")


def bench_frechet(dim: int = 2048, n: int = 4096) -> None:
    import scipy.linalg

    from vbench_i2v.metrics.frechet import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, dim)).astype(np.float64)
    b = a @ (np.eye(dim) + 0.02 * rng.standard_normal((dim, dim))) + 0.1
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    t = time.perf_counter(); ours = frechet_distance(m1, s1, m2, s2); t_ours = time.perf_counter() - t
    t = time.perf_counter()
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    t_ref = time.perf_counter() - t
    print(f"Frechet {dim}-d  ours {t_ours:7.3f} s          scipy sqrtm {t_ref:7.3f} s          "
          f"speed-up {t_ref / t_ours:5.2f}x   rel diff {abs(ours - ref) / abs(ref):.1e}")


def bench_ssim_psnr(pairs: int) -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from vbench_i2v.metrics.pixel import psnr_frames, ssim_frames

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (pairs, 32, 64, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    ssim_frames(a[:1], b[:1])
    t = time.perf_counter(); s = ssim_frames(a, b).numpy(); p = psnr_frames(a, b).numpy(); t_ours = time.perf_counter() - t
    t = time.perf_counter()
    rs = np.array([[structural_similarity(a[i, k], b[i, k], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=255, channel_axis=-1) for k in range(32)] for i in range(pairs)])
    rp = np.array([[peak_signal_noise_ratio(b[i, k], a[i, k], data_range=255) for k in range(32)] for i in range(pairs)])
    t_ref = time.perf_counter() - t
    err = max(np.abs(s - rs).max(), np.abs(p - rp).max())
    print(f"SSIM+PSNR      ours {1000 * t_ours / pairs:7.2f} ms/pair       skimage {1000 * t_ref / pairs:7.2f} ms/pair      "
          f"speed-up {t_ref / t_ours:5.2f}x   max abs diff {err:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8, help="videos for the FID feature benchmark")
    ap.add_argument("--pairs", type=int, default=32, help="32x64x64 video pairs for SSIM/PSNR")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_fid_features(args.videos)
    bench_frechet()
    bench_ssim_psnr(args.pairs)


if __name__ == "__main__":
    main()
