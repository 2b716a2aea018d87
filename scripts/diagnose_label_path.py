"""Why does the shipped ImaGINator barely follow its label? Measurements behind docs/imaginator-label-path.md.

Subcommands (every number lands in ``leaderboards/diagnostics/imaginator-label-path/``)::

    python scripts/diagnose_label_path.py shipped     # the shipped checkpoint: label sensitivity,
                                                      # per-level label ablations, checkerboard index
    python scripts/diagnose_label_path.py reference   # what the data itself allows (conditional mean/median)
    python scripts/diagnose_label_path.py train --name l1-only --steps 300 --seed 0 --set adv_weight=0

Label sensitivity (the number in each checkpoint's ``eval.json``): for one conditioning image and
one fixed z, generate the clip under every label; the mean absolute difference of the last frame
(uint8, 0-255 grey levels) over all label pairs. :func:`label_pair_mad` is that computation.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "leaderboards" / "diagnostics" / "imaginator-label-path"
SHIPPED = ROOT / "generators" / "checkpoints"


# --- the metric ----------------------------------------------------------------------------
def label_pair_mad(frames) -> float:
    """K frames (K x H x W x C, one per label, same image and z) -> mean over the K(K-1)/2 label
    pairs of the mean absolute pixel difference, in the frames' units (grey levels for uint8)."""
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim < 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 frames, got shape {f.shape}")
    return float(np.mean([np.abs(f[a] - f[b]).mean() for a, b in itertools.combinations(range(f.shape[0]), 2)]))


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """Model clips B x 3 x T x H x W in [-1, 1] -> uint8 B x T x H x W x 3 (the package's conversion)."""
    from vbench_i2v import tensors

    return tensors.video_from_model(video)


def test_images(dataset, n: int) -> tuple[list[str], np.ndarray]:
    """First frame of each of the first ``n`` test identities' first video (the eval.json protocol)."""
    test = dataset.split("test")
    subjects = sorted({r.subject for r in test})[:n]
    images = []
    for s in subjects:
        recs = {r.label: r for r in test if r.subject == s}
        images.append(dataset.load_video(recs[min(recs)])[0])
    return subjects, np.stack(images)


def label_sensitivity(generate, images: np.ndarray, num_classes: int, z_for_seed, seeds=(0,)) -> dict:
    """``generate(images_uint8 K x H x W x 3, labels list, z) -> uint8 clips``; one label_pair_mad
    per (image, seed) on the last frame, and their mean."""
    per = []
    for seed in seeds:
        z = z_for_seed(seed, num_classes)
        for img in images:
            clips = generate(np.repeat(img[None], num_classes, 0), list(range(num_classes)), z)
            per.append(label_pair_mad(clips[:, -1]))
    return {"mean": float(np.mean(per)), "min": float(np.min(per)), "max": float(np.max(per)), "values": per}


def backend_sensitivity(model, images, seeds=(0,)) -> dict:
    def z_for_seed(seed, k):
        z = model.sample_z(1, torch.Generator().manual_seed(seed))
        return None if z is None else z.expand(k, *z.shape[1:])

    def generate(imgs, labels, z):
        return to_uint8(model.generate(imgs, labels, z=z))

    return label_sensitivity(generate, images, model.num_classes, z_for_seed, seeds)


# --- the decoder, level by level ------------------------------------------------------------
def decoder_forward(G, image: torch.Tensor, labels: list, z: torch.Tensor | None, record=None) -> torch.Tensor:
    """G's forward with a label (B ints, or None = zero one-hot) chosen per level.

    ``labels[0]`` enters the 1x1x1 input code, ``labels[i]`` (i = 1..4) is fused after decoder
    block i-1. With one label everywhere this is exactly ``G(image, label, z)`` (tested).
    ``record(level, x)``: called with each block's input volume.
    """
    from vbench_i2v.generators.imaginator.model import fuse

    b = image.shape[0]
    *maps, p = G.encoder(image)
    ys = [G.label_code(lab, b, image) if lab is not None else image.new_zeros(b, G.label_channels)
          for lab in labels]
    code = [z] if G.dim_z else []
    x = torch.cat(code + [ys[0], p.flatten(1)], dim=1)[:, :, None, None, None]
    for i, block in enumerate(G.blocks):
        if record is not None:
            record(i, x)
        x = block(x)
        if i < len(G.blocks) - 1:
            x = fuse(x, maps[-1 - i], ys[i + 1]) if G.fusion else fuse(x, ys[i + 1])
    return x


def input_parts(G, level: int) -> dict[str, slice]:
    """Channel ranges of decoder block ``level``'s input: z/label/appearance, or features/skip/label."""
    k = G.label_channels
    if level == 0:
        return {"z": slice(0, G.dim_z), "label": slice(G.dim_z, G.dim_z + k), "appearance": slice(G.dim_z + k, None)}
    cin = G.blocks[level].temporal[0].in_channels if hasattr(G.blocks[level], "temporal") else G.blocks[level].conv.in_channels
    feat = G.blocks[level - 1].spatial[0].out_channels if hasattr(G.blocks[level - 1], "spatial") else G.blocks[level - 1].conv.out_channels
    return {"features": slice(0, feat), "skip": slice(feat, cin - k), "label": slice(cin - k, cin)}


def first_conv(block):
    return block.temporal[0] if hasattr(block, "temporal") else block.conv


@torch.no_grad()
def level_contributions(G, image, label, z) -> list[dict]:
    """Per decoder block: RMS of each input part, and RMS of its contribution to the block's first
    (linear) transposed conv (weights of that part only, no bias) -- how loud the label is next to
    the features where it enters. ``label_change`` is the RMS of the label part's contribution
    minus its mean over the K labels: the part that actually distinguishes the labels."""
    inputs = {}
    decoder_forward(G, image, [label] * 5, z, record=lambda i, x: inputs.__setitem__(i, x))
    k, b = G.num_classes, image.shape[0]
    rows = []
    for i, block in enumerate(G.blocks):
        conv, x = first_conv(block), inputs[i]
        row = {"level": i, "in_shape": list(x.shape[1:])}
        for name, sl in input_parts(G, i).items():
            part = torch.zeros_like(x)
            part[:, sl] = x[:, sl]
            out = torch.nn.functional.conv_transpose3d(part, conv.weight, None, conv.stride, conv.padding)
            row[f"{name}_channels"] = int(x[:, sl].shape[1])
            row[f"{name}_input_rms"] = float(x[:, sl].pow(2).mean().sqrt())
            row[f"{name}_contribution_rms"] = float(out.pow(2).mean().sqrt())
        # The label part under every label (same positions): its spread across labels.
        outs = []
        for c in range(k):
            part = torch.zeros_like(x)
            part[:, input_parts(G, i)["label"]] = G.label_code(torch.full((b,), c), b, image)[:, :, None, None, None]
            outs.append(torch.nn.functional.conv_transpose3d(part, conv.weight, None, conv.stride, conv.padding))
        outs = torch.stack(outs)
        row["label_change_rms"] = float((outs - outs.mean(0, keepdim=True)).pow(2).mean().sqrt())
        feat = "z" if i == 0 else "features"
        row["label_to_feature_contribution_ratio"] = row["label_contribution_rms"] / row[f"{feat}_contribution_rms"]
        row["label_change_to_feature_ratio"] = row["label_change_rms"] / row[f"{feat}_contribution_rms"]
        rows.append(row)
    return rows


@torch.no_grad()
def level_ablations(G, images_uint8: np.ndarray, z: torch.Tensor | None) -> list[dict]:
    """Per level, on the last frame (uint8 grey levels):

    - ``zero_mad``: change of the output when the one-hot is zeroed at that level only (averaged
      over the K labels);
    - ``swap_mad``: change when only that level gets another label (mean over ordered pairs a != b);
    - ``only_here_pair_mad``: label sensitivity when the label varies at that level only (the other
      levels get a zero one-hot).
    """
    from vbench_i2v import tensors

    k = G.num_classes
    rows = [{"level": i, "zero_mad": [], "swap_mad": [], "only_here_pair_mad": []} for i in range(len(G.blocks))]
    for img in images_uint8:
        image = tensors.image_to_model(np.repeat(img[None], k, 0))
        zk = None if z is None else z.expand(k, *z.shape[1:])
        labels = torch.arange(k)
        base = to_uint8(decoder_forward(G, image, [labels] * 5, zk))[:, -1].astype(np.float64)
        for i in range(len(G.blocks)):
            lv = [labels] * 5
            lv[i] = None
            zero = to_uint8(decoder_forward(G, image, lv, zk))[:, -1].astype(np.float64)
            rows[i]["zero_mad"].append(float(np.abs(zero - base).mean()))
            for shift in range(1, k):
                lv = [labels] * 5
                lv[i] = (labels + shift) % k
                sw = to_uint8(decoder_forward(G, image, lv, zk))[:, -1].astype(np.float64)
                rows[i]["swap_mad"].append(float(np.abs(sw - base).mean()))
            lv = [None] * 5
            lv[i] = labels
            only = to_uint8(decoder_forward(G, image, lv, zk))[:, -1]
            rows[i]["only_here_pair_mad"].append(label_pair_mad(only))
    for r in rows:
        for key in ("zero_mad", "swap_mad", "only_here_pair_mad"):
            r[key] = float(np.mean(r[key]))
    return rows


def label_grad_norms(G, image, label, z) -> list[dict]:
    """|d(output)/d(one-hot at level i)| vs |d(output)/d(features at level i)| per channel (RMS),
    for the scalar output mean(last frame): where a unit change of the label input matters most."""
    k, b = G.num_classes, image.shape[0]
    grads = {}

    def record(i, x):
        x.retain_grad()
        grads[i] = x

    G.zero_grad(set_to_none=True)
    out = decoder_forward(G, image, [label] * 5, z, record=record)
    out[:, :, -1].abs().mean().backward()
    rows = []
    for i in range(len(G.blocks)):
        g = grads[i].grad
        parts = input_parts(G, i)
        row = {"level": i}
        for name, sl in parts.items():
            row[f"{name}_grad_rms_per_channel"] = float(g[:, sl].pow(2).mean().sqrt())
        rows.append(row)
    G.zero_grad(set_to_none=True)
    return rows


# --- checkerboard ---------------------------------------------------------------------------
def checkerboard_index(frames) -> float:
    """Frames N x H x W x 3 (uint8) -> spectral power on the Nyquist lines (period-2 patterns along
    x or y, what uneven transposed-conv overlap or untrained stride-2 phases print) divided by the
    power on the adjacent frequency lines. Smooth natural or rendered images give about 1 or less;
    a checkerboard gives much more."""
    f = np.asarray(frames, dtype=np.float64).mean(-1)  # grey
    f = f - f.mean(axis=(1, 2), keepdims=True)
    p = np.abs(np.fft.fft2(f)) ** 2
    h, w = p.shape[1:]
    ny, nx = h // 2, w // 2
    on = np.zeros((h, w), bool)
    on[ny, :] = True
    on[:, nx] = True
    near = np.zeros((h, w), bool)
    for d in (-1, 1):
        near[ny + d, :] = True
        near[:, nx + d] = True
    near &= ~on
    return float(p[:, on].mean() / p[:, near].mean())


# --- the data's own label signal -----------------------------------------------------------
def conditional_reference(dataset, subjects: list[str], takes: int = 32, seed: int = 1234) -> dict:
    """Per test identity, render ``takes`` fresh takes of every expression; the label-pair MAD of the
    per-label mean and per-label median last frame. An L1-trained G regresses the conditional
    median, so its label sensitivity is bounded near the median figure unless the adversarial
    terms push it to commit to single takes (whose figure is ``single_take``)."""
    from vbench_i2v.datasets.synthetic import EXPRESSIONS, render_clip

    rng = np.random.default_rng(seed)
    mean_mad, median_mad, single = [], [], []
    for s in subjects:
        idt = dataset.identity(s)
        lasts = np.stack([[render_clip(idt, e, rng)[-1] for _ in range(takes)] for e in EXPRESSIONS]).astype(np.float64)
        mean_mad.append(label_pair_mad(lasts.mean(1)))
        median_mad.append(label_pair_mad(np.round(np.median(lasts, 1))))
        single.append(float(np.mean([label_pair_mad(lasts[:, t]) for t in range(takes)])))
    return {"subjects": subjects, "takes": takes, "conditional_mean_pair_mad": float(np.mean(mean_mad)),
            "conditional_median_pair_mad": float(np.mean(median_mad)), "single_take_pair_mad": float(np.mean(single))}


def label_direction_corr(generated, reference) -> float:
    """K x ... last frames of one image under each label, and the data's K per-label median last
    frames of that identity: Pearson correlation of their label deviations (each frame minus the
    mean over labels). 1 = the label moves the output the way the label moves the data, 0 = the
    label changes the output in ways unrelated to the expression."""
    g = np.asarray(generated, np.float64)
    r = np.asarray(reference, np.float64)
    g, r = (g - g.mean(0)).ravel(), (r - r.mean(0)).ravel()
    return float(g @ r / np.sqrt((g @ g) * (r @ r)))


def reference_medians(dataset, subjects, takes: int = 12, seed: int = 1234) -> np.ndarray:
    """N x K x H x W x 3: per identity and expression, the median last frame over fresh takes."""
    from vbench_i2v.datasets.synthetic import EXPRESSIONS, render_clip

    rng = np.random.default_rng(seed)
    return np.stack([[np.median([render_clip(dataset.identity(s), e, rng)[-1] for _ in range(takes)], 0)
                      for e in EXPRESSIONS] for s in subjects])


def direction_scores(model, dataset, subjects, images, takes: int = 12) -> dict:
    meds = reference_medians(dataset, subjects, takes)
    k = model.num_classes
    z = model.sample_z(1, torch.Generator().manual_seed(0))
    z = None if z is None else z.expand(k, *z.shape[1:])
    corr = []
    for img, med in zip(images, meds):
        last = to_uint8(model.generate(np.repeat(img[None], k, 0), list(range(k)), z=z))[:, -1]
        corr.append(label_direction_corr(last, med))
    return {"label_direction_corr": float(np.mean(corr)), "values": corr, "takes": takes}


# --- short training runs --------------------------------------------------------------------
def short_train(overrides: dict, steps: int, seed: int, width: float, batch_size: int, dataset, log=None):
    """Train a fresh ImaGINator for ``steps`` steps on the synthetic training split (same data
    order for every config at a given seed) and return it with its loss rows."""
    from vbench_i2v import tensors
    from vbench_i2v.generators.base import Batch
    from vbench_i2v.generators.registry import get_generator

    cls = get_generator("imaginator")
    cfg = cls.make_config(None, width, {"batch_size": batch_size, **overrides})
    torch.manual_seed(seed)
    model = cls(cfg, dataset.num_classes, dataset.labels, dataset.name)
    model.optimizers = model.configure_optimizers()
    for net in model.nets.values():
        net.train()
    refs = dataset.clips("train")
    order = np.random.default_rng(seed)
    rows = []
    for step in range(1, steps + 1):
        idx = order.integers(0, len(refs), batch_size)
        clips = np.stack([dataset.load_clip(refs[i]) for i in idx])
        batch = Batch(video=tensors.video_to_model(clips), label=torch.tensor([refs[i].record.label for i in idx]))
        losses = model.train_step(batch)
        rows.append({"step": step, **losses})
        if log and step % 50 == 0:
            log(f"step {step}: " + " ".join(f"{k}={v:.4g}" for k, v in losses.items()))
    return model, rows


# --- commands -------------------------------------------------------------------------------
def write_json(name: str, data) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def write_csv(name: str, rows: list[dict]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        w.writerows(rows)
    return path


def cmd_shipped(args) -> dict:
    from vbench_i2v import tensors
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.generators.registry import load_checkpoint

    dataset = get_dataset("synthetic", seed=0)
    model = load_checkpoint(SHIPPED / "imaginator-synthetic")
    G = model.nets["G"].eval()
    subjects, images = test_images(dataset, args.images)
    out = {"checkpoint": "generators/checkpoints/imaginator-synthetic", "subjects": subjects}
    # eval.json protocol (4 images, z seed 0), then more images and z seeds.
    out["label_sensitivity_eval_protocol"] = backend_sensitivity(model, images[:4], seeds=(0,))
    out["label_sensitivity"] = backend_sensitivity(model, images, seeds=tuple(range(args.seeds)))
    z = model.sample_z(1, torch.Generator().manual_seed(0))
    out["level_ablations"] = level_ablations(G, images[:4], z)
    image = tensors.image_to_model(np.repeat(images[:1], 7, 0))
    zk = z.expand(7, -1)
    out["level_contributions"] = level_contributions(G, image, torch.arange(7), zk)
    out["label_grad_norms"] = label_grad_norms(G, image, torch.arange(7), zk)
    # checkerboard: generated frames vs real frames of the same test clips, and the other backends
    real = np.stack([dataset.load_video(r)[::8] for r in dataset.split("test")[:14]]).reshape(-1, 64, 64, 3)
    cb = {"real": checkerboard_index(real)}
    for name in ("imaginator", "mocogan", "vgan"):
        m = load_checkpoint(SHIPPED / f"{name}-synthetic")
        imgs = np.stack([dataset.load_video(r)[0] for r in dataset.split("test")[:14]])
        labels = [r.record.label if hasattr(r, "record") else r.label for r in dataset.split("test")[:14]]
        clips = to_uint8(m.generate(imgs, labels, generator=torch.Generator().manual_seed(0)))
        cb[name] = checkerboard_index(clips[:, ::8].reshape(-1, 64, 64, 3))
    out["checkerboard_index"] = cb
    write_json("shipped.json", out)
    write_csv("shipped_levels.csv", [{**a, **c, **g} for a, c, g in zip(out["level_ablations"], out["level_contributions"],
                                                                         out["label_grad_norms"])])
    return out


def cmd_reference(args) -> dict:
    from vbench_i2v.datasets import get_dataset

    dataset = get_dataset("synthetic", seed=0)
    subjects, _ = test_images(dataset, args.images)
    out = conditional_reference(dataset, subjects, takes=args.takes)
    write_json("data_reference.json", out)
    return out


def cmd_direction(args) -> dict:
    """label_direction_corr of every shipped checkpoint (and label sensitivity on the same images)."""
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.generators.registry import load_checkpoint

    dataset = get_dataset("synthetic", seed=0)
    subjects, images = test_images(dataset, args.images)
    out = {"subjects": subjects}
    for name in ("imaginator", "mocogan", "vgan"):
        model = load_checkpoint(SHIPPED / f"{name}-synthetic")
        out[name] = {**direction_scores(model, dataset, subjects, images, args.takes),
                     "label_sensitivity": backend_sensitivity(model, images)["mean"]}
    write_json("shipped_direction.json", out)
    return out


def cmd_train(args) -> dict:
    from vbench_i2v.datasets import get_dataset
    from vbench_i2v.generators.registry import get_generator

    dataset = get_dataset("synthetic", seed=0)
    overrides = get_generator("imaginator").parse_overrides(args.overrides)
    t0, c0 = time.time(), time.process_time()
    model, rows = short_train(overrides, args.steps, args.seed, args.width, args.batch_size, dataset,
                              log=lambda s: print(s, flush=True))
    minutes, cpu_minutes = (time.time() - t0) / 60, (time.process_time() - c0) / 60
    subjects, images = test_images(dataset, args.images)
    G = model.nets["G"].eval()
    Path("/tmp/ilp/models").mkdir(parents=True, exist_ok=True)
    torch.save(model.nets.state_dict(), f"/tmp/ilp/models/{args.name}_s{args.seed}.pt")
    z = model.sample_z(1, torch.Generator().manual_seed(0))
    res = {
        "name": args.name, "overrides": overrides, "steps": args.steps, "seed": args.seed, "width": args.width,
        "batch_size": args.batch_size, "train_cpu_minutes": round(cpu_minutes, 2),
        "train_wall_minutes": round(minutes, 2), "torch_threads": torch.get_num_threads(),
        "label_sensitivity": backend_sensitivity(model, images, seeds=(0,)),
        "level_ablations": level_ablations(G, images[:1], z),
        "direction": direction_scores(model, dataset, subjects, images),
        "final_losses_mean_last50": {k: float(np.mean([r[k] for r in rows[-50:]])) for k in rows[-1] if k != "step"},
    }
    clips = to_uint8(model.generate(images, [0] * len(images), generator=torch.Generator().manual_seed(0)))
    res["checkerboard_index"] = checkerboard_index(clips[:, ::8].reshape(-1, 64, 64, 3))
    tag = f"train_{args.name}_s{args.seed}"
    write_json(f"{tag}.json", res)
    write_csv(f"{tag}_losses.csv", rows)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("shipped")
    a.add_argument("--images", type=int, default=12)
    a.add_argument("--seeds", type=int, default=3)
    r = sub.add_parser("reference")
    r.add_argument("--images", type=int, default=12)
    r.add_argument("--takes", type=int, default=32)
    d = sub.add_parser("direction")
    d.add_argument("--images", type=int, default=4)
    d.add_argument("--takes", type=int, default=12)
    t = sub.add_parser("train")
    t.add_argument("--name", required=True)
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--width", type=float, default=0.0625)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--images", type=int, default=4)
    t.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = {"shipped": cmd_shipped, "reference": cmd_reference, "train": cmd_train,
           "direction": cmd_direction}[args.cmd](args)
    print(json.dumps({k: v for k, v in out.items() if k not in ("values",)}, indent=1, default=str)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
