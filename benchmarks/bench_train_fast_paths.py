"""Seconds per ImaGINator training step with each GPU fast path switched on alone, against plain fp32.

Variants (interleaved step by step, so machine load hits all alike; same weights and batch):
``fp32`` (reference), ``channels_last`` (weights and clips in channels_last_3d / channels_last),
``bf16`` (autocast; on CPU this forces ``torch.autocast("cpu")``, which the backends' ``autocast()``
does not do on their own), and with ``--compile`` also ``compile`` (``module.compile()`` per network,
its compile time reported separately). Also times decoding batches of the synthetic dataset in the
main process against DataLoader worker processes.

    python benchmarks/bench_train_fast_paths.py --width 0.25 --batch-size 8 --steps 5 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from vbench_i2v.generators import train_data, training
from vbench_i2v.generators.base import Batch
from vbench_i2v.generators.imaginator import Imaginator


def build(args, variant):
    torch.manual_seed(0)
    m = Imaginator(Imaginator.make_config(width=args.width), num_classes=7, device=args.device)
    m.optimizers = m.configure_optimizers()
    if variant == "channels_last":
        training.to_channels_last(m.nets)
    if variant == "bf16":
        m.amp = True
        if m.device.type == "cpu":
            m.autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    return m


def time_steps(args) -> None:
    variants = ["fp32", "channels_last", "bf16"] + (["compile"] if args.compile else [])
    models = {v: build(args, v) for v in variants}
    video = torch.rand(args.batch_size, 3, 32, 64, 64, device=args.device) * 2 - 1
    labels = torch.arange(args.batch_size, device=video.device) % 7
    batches = {v: Batch(video.contiguous(memory_format=torch.channels_last_3d) if v == "channels_last" else video,
                        labels) for v in variants}
    sync = torch.cuda.synchronize if video.is_cuda else (lambda: None)
    if args.compile:
        t0 = time.perf_counter()
        models["compile"].compile()
        models["compile"].train_step(batches["compile"])
        models["compile"].train_step(batches["compile"])
        sync()
        print(f"compile: first two steps (compilation) took {time.perf_counter() - t0:.1f} s")
    times = {v: [] for v in variants}
    for i in range(args.steps + 1):
        for v, m in models.items():
            sync()
            t0 = time.perf_counter()
            m.train_step(batches[v])
            sync()
            if i >= 1:
                times[v].append(time.perf_counter() - t0)
    med = {v: sorted(t)[len(t) // 2] for v, t in times.items()}
    print(f"ImaGINator train step, device {args.device}, width {args.width}, batch {args.batch_size}, "
          f"{args.steps} timed steps each, {torch.get_num_threads()} threads")
    for v in variants:
        print(f"  {v:14s} median {med[v]:.3f} s/step   {med['fp32'] / med[v]:.2f}x fp32")


def time_loading(args) -> None:
    from vbench_i2v.datasets import get_dataset

    ds = get_dataset("synthetic", seed=0)
    data = train_data.TrainWindows(ds, args.batch_size, seed=0)
    n = args.load_batches
    for workers in (0, 2):
        data._cache.clear()  # decode from scratch (the first epoch's cost; later epochs hit the cache)
        data._cached = 0
        t0 = time.perf_counter()
        for _ in train_data.step_batches(data, train_data.Progress(), n, 0, 1, workers,
                                         pin=torch.cuda.is_available()):
            pass
        dt = time.perf_counter() - t0
        print(f"  data: {n} batches of {args.batch_size} synthetic clips (first epoch, decoding), "
              f"workers={workers}: {dt / n * 1000:.1f} ms/batch")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per variant (after 1 warm-up step)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--compile", action="store_true", help="also time module.compile() (slow to compile)")
    ap.add_argument("--load-batches", type=int, default=20)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    time_steps(args)
    time_loading(args)


if __name__ == "__main__":
    main()
