"""Train the small checkpoints shipped in the package (``generators/checkpoints/<backend>-synthetic/``).

Each backend is trained on the built-in synthetic dataset at a reduced width for a stated
wall-clock budget on CPU, then checked on the test split:

- identity: PSNR of generated frame 0 against the conditioning image (skimage, uint8, range 255);
- label control: for a few test images, the mean absolute difference (uint8 scale) of the last
  frame between every pair of labels (same image, same z), beside the same number for the real
  clips of those identities.

Usage::

    python scripts/train_shipped_checkpoints.py --backend imaginator --minutes 25 --width 0.125
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vbench_i2v import logs, tensors
from vbench_i2v.datasets import get_dataset
from vbench_i2v.devices import setup_device
from vbench_i2v.files import atomic_write_json
from vbench_i2v.generators import training
from vbench_i2v.generators.registry import get_generator, load_checkpoint
from vbench_i2v.generators.train_checkpoint import STATE_FILE

ROOT = Path(__file__).resolve().parents[1]
SHIP_FILES = ["model.safetensors", "config.json", "losses.csv", "eval.json", "label_grid.png", "label_grid.gif"]


def evaluate(model, dataset, seed: int = 0, pair_images: int = 4, batch: int = 32) -> dict:
    """Frame-0 PSNR on every test clip, and last-frame label-pair differences on a few images."""
    from skimage.metrics import peak_signal_noise_ratio

    refs = dataset.clips("test", per_video=1, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    psnrs = []
    for i in range(0, len(refs), batch):
        chunk = refs[i : i + batch]
        firsts = np.stack([dataset.load_clip(r)[0] for r in chunk])
        labels = None if model.num_classes == 0 else [r.record.label for r in chunk]
        fake = tensors.video_from_model(model.generate(firsts, labels, generator=gen))
        psnrs += [peak_signal_noise_ratio(f, g[0], data_range=255) for f, g in zip(firsts, fake)]
    out = {"test_clips": len(refs), "frame0_psnr_db": float(np.mean(psnrs)), "frame0_psnr_db_min": float(np.min(psnrs))}
    if model.num_classes < 2:
        return out

    # Label control: one take of each expression per test identity, generated from the first
    # frame of that identity's first video with every label and the same z.
    k = model.num_classes
    test = dataset.split("test")
    subjects = sorted({r.subject for r in test})[:pair_images]
    gen_mad, real_mad = [], []
    for s in subjects:
        recs = {r.label: r for r in test if r.subject == s}
        image = dataset.load_video(recs[min(recs)])[0]
        z = model.sample_z(1, torch.Generator().manual_seed(seed))
        z = None if z is None else z.expand(k, *z.shape[1:])
        fake = tensors.video_from_model(model.generate(np.repeat(image[None], k, 0), list(range(k)), z=z))
        last = fake[:, -1].astype(np.float64)
        gen_mad += [np.abs(last[a] - last[b]).mean() for a, b in itertools.combinations(range(k), 2)]
        if len(recs) == k:
            real_last = np.stack([dataset.load_video(recs[c])[-1] for c in range(k)]).astype(np.float64)
            real_mad += [np.abs(real_last[a] - real_last[b]).mean() for a, b in itertools.combinations(range(k), 2)]
    out.update({
        "label_pair_images": len(subjects),
        "label_pair_last_frame_mad": float(np.mean(gen_mad)),
        "label_pair_last_frame_mad_min": float(np.min(gen_mad)),
        "real_label_pair_last_frame_mad": float(np.mean(real_mad)) if real_mad else None,
    })
    return out


def label_grid(model, dataset, stem: Path, seed: int = 0) -> None:
    """README figure: one test image, every label (rows), every 4th frame (columns)."""
    from vbench_i2v.generators.grids import save_sample_grid

    ref = dataset.clips("test", per_video=1, seed=seed)[0]
    image = dataset.load_clip(ref)[0]
    k = max(1, model.num_classes)
    z = model.sample_z(1, torch.Generator().manual_seed(seed))
    z = None if z is None else z.expand(k, *z.shape[1:])
    labels = list(range(k)) if model.num_classes else None
    fake = tensors.video_from_model(model.generate(np.repeat(image[None], k, 0), labels, z=z))
    save_sample_grid(stem, fake, np.repeat(image[None], k, 0), ncols=k)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", required=True)
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-clock training budget")
    ap.add_argument("--steps", type=int, default=10**9,
                    help="step budget (the run stops at whichever of --steps and --minutes comes first)")
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--device", default="cpu",
                    help="auto, cpu or cuda[:N] (default cpu: the shipped checkpoints were trained there)")
    ap.add_argument("--deterministic", action="store_true",
                    help="on CUDA: deterministic cuDNN/cuBLAS kernels (slower; as vbench train --deterministic)")
    ap.add_argument("--work", default=None, help="training folder (default: runs/ship-<backend>)")
    ap.add_argument("--out", default=None, help="default: generators/checkpoints/<backend>-synthetic")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    logs.setup()  # the trainer's messages (model, fast paths, checkpoints) on stderr
    if args.threads:
        torch.set_num_threads(args.threads)
    device = setup_device(args.device, deterministic=args.deterministic)

    cls = get_generator(args.backend)
    dataset = get_dataset("synthetic", seed=args.seed)
    work = Path(args.work or ROOT / "runs" / f"ship-{args.backend}")
    out = Path(args.out or ROOT / "generators" / "checkpoints" / f"{args.backend}-synthetic")
    resume = (work / STATE_FILE).exists()
    if resume:
        model = load_checkpoint(work, device=device)
    else:
        cfg = cls.make_config(args.preset, args.width, {"batch_size": args.batch_size, **cls.parse_overrides(args.overrides)})
        torch.manual_seed(args.seed)
        model = cls(cfg, dataset.num_classes, dataset.labels, dataset.name, device=device)
    t0 = time.time()
    options = training.TrainOptions(steps=args.steps, seed=args.seed, resume=resume, max_seconds=args.minutes * 60,
                                    sample_every=250, checkpoint_every=250)
    training.Trainer(model, dataset, work, options).fit()
    wall = time.time() - t0
    model = load_checkpoint(work, device=device)
    meta = json.loads((work / "config.json").read_text())
    result = {
        "backend": args.backend, "dataset": "synthetic", "width": model.config.width,
        "steps": meta["step"], "batch_size": model.config.batch_size, "train_minutes": round(wall / 60, 2),
        "torch_threads": torch.get_num_threads(), "device": str(device), "command": " ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
        **evaluate(model, dataset, seed=args.seed),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(work / "eval.json", result)
    label_grid(model, dataset, work / "label_grid", seed=args.seed)
    for name in SHIP_FILES:
        shutil.copyfile(work / name, out / name)
    print(json.dumps(result, indent=2))
    size = sum((out / n).stat().st_size for n in SHIP_FILES)
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
