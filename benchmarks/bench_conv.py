"""Time per training step of ImaGINator with transposed (1+2)D vs full transposed 3D blocks.

Both generators have (about) the same parameter count (the 3D decoder's outputs are widened to
match). The paper reports 16.7 s vs 11.9 s per Weizmann epoch, a 1.40x speed-up for (1+2)D
(Table 2). Both variants are timed in the same run, interleaved, on random clips.

    python benchmarks/bench_conv.py --width 0.25 --batch-size 8 --steps 5
"""

from __future__ import annotations

import argparse
import time

import torch

from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.imaginator import Imaginator


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 2 warm-up steps)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    models, times = {}, {}
    for conv in ("1+2d", "3d"):
        torch.manual_seed(0)
        m = Imaginator(Imaginator.make_config(width=args.width, overrides={"conv": conv}), num_classes=7,
                       device=args.device)
        m.optimizers = m.configure_optimizers()
        models[conv], times[conv] = m, []
    video = torch.rand(args.batch_size, 3, 32, 64, 64, device=models["3d"].device) * 2 - 1
    batch = Batch(video, torch.arange(args.batch_size, device=video.device) % 7)
    sync = torch.cuda.synchronize if video.is_cuda else (lambda: None)
    for i in range(args.steps + 2):
        for conv, m in models.items():  # interleaved, so machine load affects both alike
            sync()
            t0 = time.perf_counter()
            m.train_step(batch)
            sync()
            if i >= 2:
                times[conv].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"device {args.device}, width {args.width}, batch {args.batch_size}, {args.steps} timed steps each, "
          f"{torch.get_num_threads()} threads")
    for conv, m in models.items():
        print(f"  conv={conv:5s} G {m.parameter_count('G'):>11,} params   median {med[conv]:.3f} s/step")
    print(f"  ratio 3d / (1+2)d = {med['3d'] / med['1+2d']:.2f}x   (paper, Table 2: 16.7 / 11.9 = 1.40x)")


if __name__ == "__main__":
    main()
