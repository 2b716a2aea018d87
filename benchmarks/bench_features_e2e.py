"""`vbench features DIR --extractor resnext101-kinetics` as a whole command against a plain script.

The plain script is the straightforward route, written from the recipe (G3AN's Video FID): per
video, read it, take the central 16 frames, resize each with PIL (bilinear) to 112x112, subtract
the ActivityNet mean, and run the eager fp32 model (``resnext3d.load_published`` then
``model.features``) one clip at a time. Both run as subprocesses (start-up and torch import
included) on the same files with ``OMP_NUM_THREADS`` as given here, alternating repetition by
repetition; the load average is printed with each. The features must agree (max abs and relative
difference printed; limit 1e-4 relative). With ``--bf16-clips N`` the command is also run with
``--bf16`` on the first N clips (bf16 is emulated, so very slow, on CPUs without native bf16).

The network is a randomly initialised ResNeXt-101 (non-trivial BatchNorm statistics) saved in the
published format and imported with `vbench weights import` into a private VBENCH_I2V_HOME.
Run: python benchmarks/bench_features_e2e.py [--clips 8] [--reps 2] [--size 64] [--bf16-clips 0]
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

import numpy as np

ROOT = Path(tempfile.gettempdir()) / "vbench_features_e2e"

PLAIN = r'''
import sys, numpy as np, torch
from PIL import Image
from vbench_i2v.feature_extractors.resnext3d import load_published
from vbench_i2v.video_io import read_video
weights, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
model = load_published(weights)
mean = torch.tensor([114.7748, 107.7354, 99.4750]).view(1, 3, 1, 1, 1)
rows = []
with torch.no_grad():
    for p in paths:
        v = read_video(p)
        s = v.shape[0] // 2 - 8
        frames = [np.asarray(Image.fromarray(f).resize((112, 112), Image.BILINEAR)) for f in v[s:s + 16]]
        x = torch.from_numpy(np.stack(frames)).float().permute(3, 0, 1, 2).unsqueeze(0) - mean
        rows.append(model.features(x)[0].double().numpy())
np.save(out, np.stack(rows))
'''


def make_clips(n: int, size: int, frames: int = 32) -> Path:
    from vbench_i2v.video_io import write_video

    d = ROOT / f"clips_{size}"
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = d / f"clip_{i:03d}.npz"
        if not p.exists():
            rng = np.random.default_rng(i)
            big = np.kron(rng.uniform(0, 255, (12, 12, 3)), np.ones((size // 6, size // 6, 1)))
            v = np.stack([np.roll(big, (t, t // 2), (0, 1))[:size, :size] for t in range(frames)])
            write_video(p, np.clip(v + rng.normal(0, 8, v.shape), 0, 255).astype(np.uint8))
    return d


def subset(src: Path, n: int) -> Path:
    d = ROOT / f"{src.name}_first{n}"
    d.mkdir(exist_ok=True)
    for p in sorted(src.iterdir())[:n]:
        if not (d / p.name).exists():
            (d / p.name).symlink_to(p)
    return d


def env() -> dict:
    e = dict(os.environ)
    e["VBENCH_I2V_HOME"] = str(ROOT / "home")
    return e


def weights() -> Path:
    """A random published-format ResNeXt-101, imported as the user would (`vbench weights import`)."""
    import torch

    from vbench_i2v.feature_extractors.resnext3d import resnext101, save_published

    ckpt = ROOT / "resnext-101-kinetics.pth"
    if not ckpt.exists():
        torch.manual_seed(0)
        model = resnext101().eval()
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
        save_published(model, ckpt)
    subprocess.run([str(Path(sys.executable).with_name("vbench")), "weights", "import", "resnext101-kinetics",
                    str(ckpt)], check=True, capture_output=True, env=env())
    return ckpt


def timed(argv) -> tuple[float, float]:
    """(wall s, CPU s of the child): CPU time is the steadier figure on a shared machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env(), cwd=tempfile.gettempdir())
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed:\n{r.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--size", type=int, default=64, help="clip side in pixels (64: enlarged to 112)")
    ap.add_argument("--bf16-clips", type=int, default=0, help="also time --bf16 on this many clips")
    args = ap.parse_args()
    ROOT.mkdir(exist_ok=True)
    clips = subset(make_clips(args.clips, args.size), args.clips)
    ckpt = weights()
    paths = [str(p) for p in sorted(clips.iterdir())]
    script = ROOT / "plain_features.py"
    script.write_text(PLAIN)
    vb = str(Path(sys.executable).with_name("vbench"))
    ours_out, ref_out = ROOT / "ours.npz", ROOT / "plain.npy"
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, {args.clips} clips of 32x{args.size}x{args.size}")
    ref_t, our_t = [], []
    for rep in range(args.reps):
        ref_t.append(timed([sys.executable, str(script), str(ckpt), str(ref_out), *paths]))
        our_t.append(timed([vb, "features", str(clips), "--extractor", "resnext101-kinetics", "--out", str(ours_out)]))
        print(f"  rep {rep}: plain {ref_t[-1][0]:.2f} s ({ref_t[-1][1]:.2f} CPU), vbench features "
              f"{our_t[-1][0]:.2f} s ({our_t[-1][1]:.2f} CPU), "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    from vbench_i2v.metrics.sources import FeatureFile

    ours, ref = FeatureFile.load(ours_out), np.load(ref_out)
    assert ours.names == [Path(p).stem for p in paths]
    diff = np.abs(ours.features - ref).max()
    rel = diff / np.abs(ref).max()
    def m(ts, i):
        return statistics.median(t[i] for t in ts)

    print(f"plain script (PIL resize, eager fp32, batch 1): {m(ref_t, 0):.2f} s wall, {m(ref_t, 1):.2f} s CPU")
    print(f"vbench features (whole command):               {m(our_t, 0):.2f} s wall, {m(our_t, 1):.2f} s CPU")
    print(f"speed-up {m(ref_t, 0) / m(our_t, 0):.2f}x wall, {m(ref_t, 1) / m(our_t, 1):.2f}x CPU (target 3x); "
          f"features max abs diff {diff:.2e}, "
          f"relative {rel:.2e} (limit 1e-4: {'ok' if rel <= 1e-4 else 'EXCEEDED'})")
    if args.bf16_clips:
        few = subset(clips, args.bf16_clips)
        bf_out = ROOT / "ours_bf16.npz"
        t_fp = timed([vb, "features", str(few), "--out", str(ROOT / "ours_few.npz")])
        t_bf = timed([vb, "features", str(few), "--bf16", "--out", str(bf_out)])
        a, b = FeatureFile.load(ROOT / "ours_few.npz").features, FeatureFile.load(bf_out)
        print(f"--bf16 on {args.bf16_clips} clips: {t_bf[0]:.2f} s wall ({t_bf[1]:.2f} CPU) against {t_fp[0]:.2f} s "
              f"({t_fp[1]:.2f} CPU) fp32: {t_fp[1] / t_bf[1]:.2f}x CPU, "
              f"file bf16={b.bf16}, features relative diff {np.abs(b.features - a).max() / np.abs(a).max():.2e}, "
              f"load {os.getloadavg()[0]:.1f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
