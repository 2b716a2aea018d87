"""Train the synthetic-domain probe shipped as ``feature_extractors/weights/synthetic_probe.safetensors``.

Training uses the synthetic dataset's TRAIN split only (48 identities x 7 expressions x 3 takes
at seed 0); the 12 test identities are only used for the report printed at the end.

- video branch: cross-entropy on the 7 expressions + mean squared error of an auxiliary head
  that predicts how strongly each clip was degraded (Gaussian noise, Gaussian blur, per-frame
  jitter), so the 128-d FID features encode artefacts and not only the expression shown.
  Every clip is also shifted by a few pixels.
- identity branch: per-frame 64-d unit embeddings with a CosFace loss (normalised softmax with
  an additive margin) over the training identities, on frames augmented the same way (milder).

Seeded and single-threaded, so the same command writes the same bytes. Takes about 4.5 minutes
of CPU on one thread (10 minutes wall clock on a shared 2-core machine). Prints the file's
sha256 (put it into ``vbench_i2v/weights.py``).

Usage::

    python scripts/train_synthetic_probe.py [--seed 0] [--out feature_extractors/weights/synthetic_probe.safetensors]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from vbench_i2v import protocol, tensors
from vbench_i2v.datasets import get_dataset
from vbench_i2v.feature_extractors import synthetic_probe as sp

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "feature_extractors" / "weights" / "synthetic_probe.safetensors"

# Degradation ranges; the auxiliary head predicts strength / max in [0, 1] (0 = not applied).
NOISE_MAX = 0.3  # std of Gaussian noise in model units ([-1, 1]), i.e. up to ~38 grey levels
BLUR_MAX = 2.0  # sigma in pixels
JITTER_MAX = 3.0  # std of independent per-frame shifts in pixels
SHIFT = 3  # whole-clip random shift in pixels (always)


# --- augmentation (model-space tensors) ---------------------------------------------------------

def shift_frames(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, pad: int) -> torch.Tensor:
    """Translate each ``N x C x H x W`` frame by integer (dx, dy), replicating the border."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    rows = (torch.arange(h)[None, :] + pad - dy[:, None]).clamp(0, h + 2 * pad - 1)  # N x H
    cols = (torch.arange(w)[None, :] + pad - dx[:, None]).clamp(0, w + 2 * pad - 1)  # N x W
    idx_r = rows[:, None, :, None].expand(n, c, h, w + 2 * pad)
    xp = torch.gather(xp, 2, idx_r)
    return torch.gather(xp, 3, cols[:, None, None, :].expand(n, c, h, w))


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of ``N x C x H x W`` with a per-sample sigma (0 = unchanged)."""
    n, c, h, w = x.shape
    r = 4
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma.clamp_min(1e-3)[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # N x 9 (sigma -> 0 gives a delta)
    kk = k.repeat_interleave(c, 0)  # (N*C) x 9
    y = F.pad(x.reshape(1, n * c, h, w), (r, r, r, r), mode="replicate")
    y = F.conv2d(y, kk[:, None, None, :], groups=n * c)
    y = F.conv2d(y, kk[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


def degrade_clips(x: torch.Tensor, gen: torch.Generator, p: float = 0.6) -> tuple[torch.Tensor, torch.Tensor]:
    """Random shift + (each with prob ``p``) noise, blur, jitter on ``B x 3 x T x H x W``.
    Returns the clips and the B x 3 strengths in [0, 1] (noise, blur, jitter)."""
    b, c, t, h, w = x.shape
    u = lambda *s: torch.rand(*s, generator=gen)
    on = (u(b, 3) < p).float()
    strength = on * u(b, 3)
    frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    # shift: one offset per clip plus a per-frame jitter
    sx = torch.randint(-SHIFT, SHIFT + 1, (b,), generator=gen).repeat_interleave(t)
    sy = torch.randint(-SHIFT, SHIFT + 1, (b,), generator=gen).repeat_interleave(t)
    jit = (strength[:, 2] * JITTER_MAX).repeat_interleave(t)
    jx = torch.round(torch.randn(b * t, generator=gen) * jit).long().clamp(-6, 6)
    jy = torch.round(torch.randn(b * t, generator=gen) * jit).long().clamp(-6, 6)
    frames = shift_frames(frames, sx + jx, sy + jy, pad=SHIFT + 6)
    frames = gaussian_blur(frames, (strength[:, 1] * BLUR_MAX).repeat_interleave(t))
    frames = frames + torch.randn(frames.shape, generator=gen) * (strength[:, 0] * NOISE_MAX).repeat_interleave(t)[:, None, None, None]
    out = frames.clamp(-1, 1).reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()
    return out, strength


def degrade_frames(x: torch.Tensor, gen: torch.Generator, p: float = 0.4, scale: float = 0.5) -> torch.Tensor:
    """Milder per-frame augmentation for the identity branch (shift, noise, blur)."""
    n = x.shape[0]
    u = lambda *s: torch.rand(*s, generator=gen)
    x = shift_frames(x, torch.randint(-SHIFT, SHIFT + 1, (n,), generator=gen),
                     torch.randint(-SHIFT, SHIFT + 1, (n,), generator=gen), pad=SHIFT)
    on = (u(n, 2) < p).float() * u(n, 2) * scale
    x = gaussian_blur(x, on[:, 1] * BLUR_MAX)
    x = x + torch.randn(x.shape, generator=gen) * (on[:, 0] * NOISE_MAX)[:, None, None, None]
    return x.clamp(-1, 1)


# --- data ----------------------------------------------------------------------------------------

def load_split(ds, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """All clips of a split as uint8 ``N x 32 x 64 x 64 x 3``, expression labels, subject ids."""
    recs = ds.split(split)
    subjects = sorted({r.subject for r in recs})
    clips = np.stack([ds.load_video(r) for r in recs])
    labels = np.array([r.label for r in recs])
    subj = np.array([subjects.index(r.subject) for r in recs])
    return clips, labels, subj, subjects


# --- training ----------------------------------------------------------------------------------

def cosine_lr(opt, step: int, total: int, base: float) -> None:
    for g in opt.param_groups:
        g["lr"] = base * 0.5 * (1 + math.cos(math.pi * step / total))


def train_video(model: sp.SyntheticProbe, clips, labels, steps: int, batch: int, seed: int, log_every: int = 50):
    gen = torch.Generator().manual_seed(seed)
    net = model.video.train()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    idx_all = sp.probe_frame_indices(protocol.CLIP_FRAMES)
    t0 = time.time()
    for step in range(steps):
        cosine_lr(opt, step, steps, 3e-3)
        pick = torch.randint(len(clips), (batch,), generator=gen).numpy()
        x = tensors.video_to_model(clips[pick][:, idx_all])
        x, strength = degrade_clips(x, gen)
        y = torch.from_numpy(labels[pick]).long()
        _, logits, deg = net(x)
        loss_e = F.cross_entropy(logits, y)
        loss_d = F.mse_loss(torch.sigmoid(deg), strength)
        loss = loss_e + 2.0 * loss_d
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            acc = (logits.argmax(1) == y).float().mean().item()
            print(f"video step {step:4d}  ce {loss_e.item():.3f}  acc {acc:.2f}  deg-mse {loss_d.item():.4f}  "
                  f"{time.time() - t0:.0f}s", flush=True)
    net.eval()


def train_identity(model: sp.SyntheticProbe, clips, subj, n_ids: int, steps: int, batch: int, seed: int,
                   scale: float = 16.0, margin: float = 0.25, log_every: int = 50):
    gen = torch.Generator().manual_seed(seed + 1)
    net = model.identity.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2)
        centres = torch.nn.Parameter(F.normalize(torch.randn(n_ids, model.config["embed_dim"]), dim=1))
    opt = torch.optim.AdamW(list(net.parameters()) + [centres], lr=3e-3, weight_decay=1e-4)
    t0 = time.time()
    for step in range(steps):
        cosine_lr(opt, step, steps, 3e-3)
        ci = torch.randint(len(clips), (batch,), generator=gen).numpy()
        fi = torch.randint(clips.shape[1], (batch,), generator=gen).numpy()
        x = degrade_frames(tensors.image_to_model(clips[ci, fi]), gen)
        y = torch.from_numpy(subj[ci]).long()
        cos = net(x) @ F.normalize(centres, dim=1).T
        logits = scale * (cos - margin * F.one_hot(y, n_ids))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            acc = (cos.argmax(1) == y).float().mean().item()
            print(f"identity step {step:4d}  loss {loss.item():.3f}  acc {acc:.2f}  {time.time() - t0:.0f}s", flush=True)
    net.eval()


# --- report on held-out identities -------------------------------------------------------------

@torch.inference_mode()
def evaluate(model: sp.SyntheticProbe, clips, labels, subj) -> dict:
    """Expression accuracy and identity distances on clips of identities never trained on."""
    from scipy.spatial.distance import cdist, pdist

    feats, preds = [], []
    for i in range(0, len(clips), 32):
        f, logits, _ = model.video(sp.video_input(clips[i : i + 32]))
        feats.append(f)
        preds.append(logits.argmax(1))
    acc = float((torch.cat(preds).numpy() == labels).mean())
    emb = np.stack([model.identity(sp.frame_input(c)).double().numpy() for c in clips])  # N x T x D
    acd_c = float(np.mean([pdist(e).mean() for e in emb]))
    acd_i = float(np.mean([np.linalg.norm(e - e[0], axis=1).mean() for e in emb]))
    mean_emb = emb.mean(1)
    d = cdist(mean_emb, mean_emb)
    same = subj[:, None] == subj[None, :]
    off = ~np.eye(len(subj), dtype=bool)
    n, t, dim = emb.shape
    to_first = cdist(emb.reshape(n * t, dim), emb[:, 0]).reshape(n, t, n).mean(1)  # clip i vs clip j's frame 0
    return {"expression_accuracy": acc, "acd_c_real": acd_c, "acd_i_real": acd_i,
            "clip_distance_same_identity": float(d[same & off].mean()),
            "clip_distance_other_identity": float(d[~same].mean()),
            "acd_i_other_identity": float(to_first[~same].mean())}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--video-steps", type=int, default=1500)
    ap.add_argument("--identity-steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--identity-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    ds = get_dataset("synthetic", seed=0)  # the dataset's own seed: the standard split
    clips, labels, subj, subjects = load_split(ds, "train")
    print(f"train split: {len(clips)} clips, {len(subjects)} identities, rendered in {time.time() - t0:.0f}s", flush=True)
    model = sp.build_probe(seed=args.seed)
    train_video(model, clips, labels, args.video_steps, args.batch, args.seed)
    train_identity(model, clips, subj, len(subjects), args.identity_steps, args.identity_batch, args.seed)

    test_clips, test_labels, test_subj, test_subjects = load_split(ds, "test")
    report = evaluate(model, test_clips, test_labels, test_subj)
    print(json.dumps(report, indent=2))
    meta = {"trained_by": "scripts/train_synthetic_probe.py", "seed": args.seed,
            "data": f"synthetic seed 0 train split ({len(subjects)} identities, {len(clips)} clips)",
            "steps": {"video": args.video_steps, "identity": args.identity_steps},
            "test_report": {k: round(v, 4) for k, v in report.items()}}
    digest = sp.save_probe(model, args.out, meta)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.time() - t0:.0f}s")
    print(f"sha256 {digest}")


if __name__ == "__main__":
    main()
