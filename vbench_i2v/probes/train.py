"""Training a probe on a dataset's TRAINING split: the code behind ``vbench probes train`` and
``scripts/train_synthetic_probe.py`` (which calls the same functions, so the shipped synthetic
probe is this training run on the synthetic dataset with no validation hold-out).

The network is :class:`vbench_i2v.feature_extractors.synthetic_probe.SyntheticProbe`:

- video branch (3D convs on 16 frames, frame + difference from the first frame as input):
  cross-entropy over the training split's labels plus the mean squared error of an auxiliary
  head that predicts how strongly each clip was degraded (Gaussian noise, Gaussian blur,
  per-frame jitter), so the 128-d features encode artefacts and not only the label shown.
  Every clip is also shifted by a few pixels.
- identity branch (face datasets only): per-frame 64-d unit embeddings with a CosFace loss
  (normalised softmax with an additive margin) over the training subjects.

Some training subjects (seeded, by subject) can be held out for the probe's own validation
accuracy; the test split is never read. Seeded and single-threaded, the same call gives the
same tensors.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from vbench_i2v import protocol, tensors
from vbench_i2v.errors import DatasetError, InputError
from vbench_i2v.feature_extractors import synthetic_probe as sp

# Degradation ranges; the auxiliary head predicts strength / max in [0, 1] (0 = not applied).
NOISE_MAX = 0.3  # std of Gaussian noise in model units ([-1, 1]), i.e. up to ~38 grey levels
BLUR_MAX = 2.0  # sigma in pixels
JITTER_MAX = 3.0  # std of independent per-frame shifts in pixels
SHIFT = 3  # whole-clip random shift in pixels (always)

LR = 3e-3
WEIGHT_DECAY = 1e-4
DEGRADATION_WEIGHT = 2.0
COSFACE_SCALE = 16.0
COSFACE_MARGIN = 0.25


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


# --- optimisation ------------------------------------------------------------------------------

def cosine_lr(opt, step: int, total: int, base: float) -> None:
    for g in opt.param_groups:
        g["lr"] = base * 0.5 * (1 + math.cos(math.pi * step / total))


def motionless(x: torch.Tensor, gen: torch.Generator, fraction: float) -> torch.Tensor:
    """Turn about ``fraction`` of the clips (``B x 3 x T x H x W``) into clips without coherent
    motion, in place: half frozen on their first frame, half shuffled in time. Returns the
    boolean mask of the changed clips."""
    b, t = x.shape[0], x.shape[2]
    neg = torch.rand(b, generator=gen) < fraction
    frozen = torch.rand(b, generator=gen) < 0.5
    order = torch.argsort(torch.rand(b, t, generator=gen), dim=1)
    for i in torch.nonzero(neg).flatten().tolist():
        x[i] = x[i, :, :1].clone().expand_as(x[i]) if frozen[i] else x[i, :, order[i]]
    return neg


def train_video(model: sp.SyntheticProbe, clips, labels, steps: int, batch: int, seed: int, log_every: int = 50,
                device="cpu", log=print, motionless_fraction: float = 0.0) -> None:
    """Video branch: class cross-entropy (``labels`` = head indices, or None: no class head)
    plus the degradation head's MSE. Random numbers come from a CPU generator seeded by ``seed``.

    ``motionless_fraction`` > 0: that share of each batch is made frozen or time-shuffled
    (:func:`motionless`) with a uniform class target (outlier exposure, Hendrycks et al. 2019),
    so a clip that shows no action is not confidently classified as one; 0 draws no extra
    random numbers (the shipped synthetic probe was trained so)."""
    gen = torch.Generator().manual_seed(seed)
    net = model.video.train()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    idx_all = sp.probe_frame_indices(protocol.CLIP_FRAMES)
    t0 = time.time()
    for step in range(steps):
        cosine_lr(opt, step, steps, LR)
        pick = torch.randint(len(clips), (batch,), generator=gen).numpy()
        x = tensors.video_to_model(clips[pick][:, idx_all])
        neg = motionless(x, gen, motionless_fraction) if motionless_fraction > 0 and labels is not None else None
        x, strength = degrade_clips(x, gen)
        x, strength = x.to(device), strength.to(device)
        _, logits, deg = net(x)
        loss_d = F.mse_loss(torch.sigmoid(deg), strength)
        if labels is not None:
            y = torch.from_numpy(labels[pick]).long().to(device)
            if neg is None:
                loss_e = F.cross_entropy(logits, y)
            else:
                k = logits.shape[1]
                target = torch.where(neg.to(device)[:, None], torch.full((batch, k), 1.0 / k, device=device),
                                     F.one_hot(y, k).float())
                loss_e = F.cross_entropy(logits, target)
            loss = loss_e + DEGRADATION_WEIGHT * loss_d
        else:
            loss = DEGRADATION_WEIGHT * loss_d
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            if labels is not None:
                real = slice(None) if neg is None else ~neg.to(device)
                acc = (logits[real].argmax(1) == y[real]).float().mean().item()
                log(f"video step {step:4d}  ce {loss_e.item():.3f}  acc {acc:.2f}  deg-mse {loss_d.item():.4f}  "
                    f"{time.time() - t0:.0f}s")
            else:
                log(f"video step {step:4d}  deg-mse {loss_d.item():.4f}  {time.time() - t0:.0f}s")
    net.eval()


def train_identity(model: sp.SyntheticProbe, clips, subj, n_ids: int, steps: int, batch: int, seed: int,
                   scale: float = COSFACE_SCALE, margin: float = COSFACE_MARGIN, log_every: int = 50,
                   device="cpu", log=print) -> None:
    """Identity branch: CosFace over the training subjects (``subj`` = subject index per clip)."""
    gen = torch.Generator().manual_seed(seed + 1)
    net = model.identity.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 2)
        centres = torch.nn.Parameter(F.normalize(torch.randn(n_ids, model.config["embed_dim"]), dim=1).to(device))
    opt = torch.optim.AdamW(list(net.parameters()) + [centres], lr=LR, weight_decay=WEIGHT_DECAY)
    t0 = time.time()
    for step in range(steps):
        cosine_lr(opt, step, steps, LR)
        ci = torch.randint(len(clips), (batch,), generator=gen).numpy()
        fi = torch.randint(clips.shape[1], (batch,), generator=gen).numpy()
        x = degrade_frames(tensors.image_to_model(clips[ci, fi]), gen).to(device)
        y = torch.from_numpy(subj[ci]).long().to(device)
        cos = net(x) @ F.normalize(centres, dim=1).T
        logits = scale * (cos - margin * F.one_hot(y, n_ids))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            acc = (cos.argmax(1) == y).float().mean().item()
            log(f"identity step {step:4d}  loss {loss.item():.3f}  acc {acc:.2f}  {time.time() - t0:.0f}s")
    net.eval()


# --- data --------------------------------------------------------------------------------------

@dataclass
class TrainingData:
    """The training split's clips (uint8 ``N x 32 x 64 x 64 x 3``) with what the trainer needs."""

    clips: np.ndarray
    labels: np.ndarray | None  # dataset label id per clip (None: the dataset has no labels)
    subjects: np.ndarray  # subject name per clip
    clip_ids: list[str]
    video_ids: list[str]  # the source video of each clip (a flipped copy shares its id)


def load_training_clips(ds, per_video: int = 4, limit: int | None = None, log=print) -> TrainingData:
    """Every training-split clip of ``ds`` (flipped copies included where the protocol doubles
    the split), ``per_video`` seeded starts per video (videos of one clip's length give one);
    ``limit`` keeps a seeded subset of that many training videos (a quick probe)."""
    refs = ds.clips("train", per_video=per_video, limit=limit)
    if not refs:
        raise DatasetError(f"{ds.name}: the training split has no clips")
    t0 = time.time()
    clips = np.stack([ds.load_clip(r) for r in refs])
    labels = None if not ds.labels else np.array([r.record.label for r in refs])
    if labels is not None and any(lab is None for lab in labels):
        raise DatasetError(f"{ds.name}: some training clips have no label")
    log(f"{ds.name} train split: {len(refs)} clips of {len({r.record.video_id for r in refs})} videos, "
        f"{len({r.record.subject for r in refs})} subjects, loaded in {time.time() - t0:.0f}s")
    return TrainingData(clips, None if labels is None else labels.astype(np.int64),
                        np.array([r.record.subject for r in refs]), [r.clip_id for r in refs],
                        [r.record.video_id for r in refs])


def holdout_subjects(subjects, n_val: int, seed: int) -> list[str]:
    """``n_val`` training subjects (seeded, sorted) held out for the probe's own validation."""
    names = sorted(set(subjects))
    if n_val <= 0:
        return []
    if n_val >= len(names):
        raise InputError(f"cannot hold out {n_val} of {len(names)} training subjects for validation "
                         f"(at least one must be left to train on)")
    order = protocol.rng_for(seed, "probe-validation").permutation(len(names))
    return sorted(names[i] for i in order[:n_val])


def default_val_subjects(n_subjects: int) -> int:
    """A fifth of the training subjects (at least one where two or more exist)."""
    return 0 if n_subjects < 2 else max(1, round(n_subjects / 5))


def dataset_fingerprint(ds, clip_ids) -> dict:
    """What the probe was trained on: dataset name, split seed, loader options and a sha256 of
    the sorted training clip ids (with the options), so two probes' data can be compared."""
    ids = sorted(clip_ids)
    options = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in sorted(ds.options.items())}
    payload = json.dumps({"dataset": ds.name, "seed": ds.seed, "options": options, "clips": ids}, sort_keys=True)
    return {"name": ds.name, "split_seed": ds.seed, "options": options, "train_clips": len(ids),
            "train_clip_ids_sha256": hashlib.sha256(payload.encode()).hexdigest()}


# --- the whole run -----------------------------------------------------------------------------

@dataclass
class TrainedProbe:
    model: sp.SyntheticProbe
    labels: list[str] | None  # the dataset's label names
    head_labels: list[int]  # dataset label id of each class-head output
    training: dict
    validation: dict | None
    fingerprint: dict
    train_subjects: list[str] = field(default_factory=list)


@torch.inference_mode()
def head_logits(model: sp.SyntheticProbe, clips, batch: int = 32, device="cpu") -> np.ndarray:
    out = [model.video(sp.video_input(clips[i : i + batch]).to(device))[1].double().cpu().numpy()
           for i in range(0, len(clips), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.config["num_classes"]))


def train_probe(ds, *, video_steps: int = 1500, identity_steps: int | None = None, batch: int = 16,
                identity_batch: int = 64, seed: int = 0, val_subjects: int | None = None, per_video: int = 4,
                limit: int | None = None, width: int = 16, motionless_fraction: float = 0.0, device="cpu", log=print,
                data: TrainingData | None = None) -> TrainedProbe:
    """Train a probe on ``ds``'s training split. ``identity_steps`` defaults to 800 on face
    datasets and 0 (no identity branch) elsewhere; ``val_subjects`` defaults to a fifth of the
    training subjects; ``motionless_fraction`` of each batch are frozen/shuffled clips with a
    uniform class target (see :func:`train_video`). Returns the model in eval mode with its
    provenance."""
    data = data or load_training_clips(ds, per_video=per_video, limit=limit, log=log)
    faces = ds.face_crop if getattr(ds, "faces", None) is None else ds.faces
    if identity_steps is None:
        identity_steps = 800 if faces else 0
    all_subjects = sorted(set(data.subjects.tolist()))
    if val_subjects is None:
        val_subjects = default_val_subjects(len(all_subjects))
    held = holdout_subjects(all_subjects, val_subjects, seed)
    is_val = np.isin(data.subjects, held)
    tr = ~is_val
    train_subjects = [s for s in all_subjects if s not in held]

    head_labels: list[int] = []
    y_head = None
    if data.labels is not None:
        head_labels = sorted(set(data.labels[tr].tolist()))
        if len(head_labels) < 2:
            raise DatasetError(f"{ds.name}: the probe's training clips show {len(head_labels)} label(s); "
                               f"a class head needs at least 2")
        lut = {lab: i for i, lab in enumerate(head_labels)}
        y_head = np.array([lut.get(int(lab), -1) for lab in data.labels], dtype=np.int64)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")  # no class head
        model = sp.build_probe(seed=seed, video_width=width, identity_width=width if identity_steps > 0 else 0,
                               num_classes=len(head_labels))
    model.to(device)
    clips_tr = data.clips[tr]
    subj_names = data.subjects[tr]
    subj_idx = np.array([train_subjects.index(s) for s in subj_names])
    train_video(model, clips_tr, None if y_head is None else y_head[tr], video_steps, batch, seed,
                device=device, log=log, motionless_fraction=motionless_fraction)
    if identity_steps > 0:
        train_identity(model, clips_tr, subj_idx, len(train_subjects), identity_steps, identity_batch, seed,
                       device=device, log=log)
    model.eval()

    validation = None
    if held and y_head is not None:
        pred = head_logits(model, data.clips[is_val], device=device).argmax(1)
        target = y_head[is_val]
        correct = int((pred == target).sum())  # a label never trained on (-1) is never right
        n = int(is_val.sum())
        validation = {"accuracy": correct / n, "correct": correct, "n": n, "subjects": held,
                      "videos": len({vid for vid, v in zip(data.video_ids, is_val) if v})}
        log(f"validation accuracy on held-out training subjects {', '.join(held)}: "
            f"{validation['accuracy']:.3f} ({correct}/{n})")
    training = {"video_steps": video_steps, "identity_steps": identity_steps, "batch": batch,
                "identity_batch": identity_batch, "seed": seed, "clips_per_video": per_video, "video_limit": limit, "width": width,
                "motionless_fraction": motionless_fraction if y_head is not None else 0.0,
                "lr": LR, "weight_decay": WEIGHT_DECAY, "optimizer": "AdamW, cosine schedule",
                "degradation_weight": DEGRADATION_WEIGHT,
                "cosface": {"scale": COSFACE_SCALE, "margin": COSFACE_MARGIN} if identity_steps > 0 else None,
                "train_clips": int(tr.sum()), "train_subjects": len(train_subjects)}
    fp = dataset_fingerprint(ds, data.clip_ids)
    fp["validation_subjects"] = held
    return TrainedProbe(model.cpu().eval(), list(ds.labels) if ds.labels else None, head_labels, training,
                        validation, fp, train_subjects)
