"""FID with bf16 features against fp32, on N real/fake pairs (``bench_ssim_psnr_e2e.make_pairs`` npz
clips, random-weight ResNeXt-101 from ``bench_features_e2e.weights``).

On a CPU without native bf16, autocast bf16 is emulated by PyTorch (about 25 s per clip here), so
the N-clip FID uses *simulated* bf16: every convolution's input, weight, bias and output rounded to
bf16, fp32 accumulation. The simulation is checked against true autocast bf16 on the first VAL
clips (printed: both differ from fp32 by the same order). FID cross-checked against scipy's sqrtm.
Run: python benchmarks/bench_bf16_fid.py [N=40] [VAL=2]
"""
import sys, time, types
from pathlib import Path

import numpy as np, scipy.linalg, torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_features_e2e as fe  # noqa: E402
from bench_ssim_psnr_e2e import make_pairs  # noqa: E402

import vbench_i2v.feature_extractors.resnext3d as rx  # noqa: E402
from vbench_i2v.feature_extractors.resnext3d import ResNeXtFIDExtractor  # noqa: E402
from vbench_i2v.metrics.frechet import frechet_from_features  # noqa: E402
from vbench_i2v.video_io import read_video  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
VAL = int(sys.argv[2]) if len(sys.argv) > 2 else 2
fe.ROOT.mkdir(exist_ok=True)
real_dir, fake_dir = make_pairs(N, "npz")
model = rx.load_published(fe.weights())
real = np.stack([read_video(real_dir / f"clip_{i:04d}.npz") for i in range(N)])
fake = np.stack([read_video(fake_dir / f"clip_{i:04d}.npz") for i in range(N)])
fp = ResNeXtFIDExtractor.from_model(model, batch_size=4)
r = lambda t: t.bfloat16().float()
def emu_conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return r(F.conv3d(r(x), r(w), None if b is None else r(b), stride, padding, dilation, groups))
def emulated(ex, v):
    old_F, old_mode = rx.F, rx._onednn_mode
    rx.F = types.SimpleNamespace(conv3d=emu_conv3d, interpolate=F.interpolate)
    rx._onednn_mode = lambda: "torch"
    try:
        return ex.features(v)
    finally:
        rx.F, rx._onednn_mode = old_F, old_mode
t = time.perf_counter()
fr, ff = fp.features(real), fp.features(fake)
print(f"fp32 features {2*N} clips: {time.perf_counter()-t:.1f} s", flush=True)
t = time.perf_counter()
er, ef = emulated(fp, real), emulated(fp, fake)
print(f"emulated bf16 features: {time.perf_counter()-t:.1f} s", flush=True)
if VAL:
    bf = ResNeXtFIDExtractor.from_model(model, batch_size=VAL, bf16=True)
    t = time.perf_counter(); tb = bf.features(real[:VAL]); print(f"true bf16 {VAL} clips: {time.perf_counter()-t:.1f} s")
    s = np.abs(fr[:VAL]).max()
    print(f"rel max diff: true bf16 vs fp32 {np.abs(tb-fr[:VAL]).max()/s:.2e}, emulated vs fp32 "
          f"{np.abs(er[:VAL]-fr[:VAL]).max()/s:.2e}, emulated vs true bf16 {np.abs(er[:VAL]-tb).max()/s:.2e}")
f32 = frechet_from_features(fr, ff); f16 = frechet_from_features(er, ef)
def ref_fid(a, b):  # independent: scipy sqrtm
    m1, m2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    c = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1-m2)**2).sum() + np.trace(s1 + s2 - 2*c))
print(f"load average {__import__('os').getloadavg()}")
print(f"FID fp32 {f32:.6g} (scipy {ref_fid(fr, ff):.6g}), bf16-emulated {f16:.6g}; relative change {(f16-f32)/f32:+.3e}")
