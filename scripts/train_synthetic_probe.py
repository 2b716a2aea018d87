"""Train the synthetic-domain probe shipped as ``feature_extractors/weights/synthetic_probe.safetensors``.

Training (the code of ``vbench probes train``, :mod:`vbench_i2v.probes.train`) uses the
synthetic dataset's TRAIN split only (48 identities x 7 expressions x 3 takes
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
import time
from pathlib import Path

import numpy as np
import torch

from vbench_i2v.datasets import get_dataset
from vbench_i2v.feature_extractors import synthetic_probe as sp
from vbench_i2v.probes.train import load_training_clips, train_probe

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "feature_extractors" / "weights" / "synthetic_probe.safetensors"


def load_split(ds, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """All clips of a split as uint8 ``N x 32 x 64 x 64 x 3``, expression labels, subject ids."""
    recs = ds.split(split)
    subjects = sorted({r.subject for r in recs})
    clips = np.stack([ds.load_video(r) for r in recs])
    labels = np.array([r.label for r in recs])
    subj = np.array([subjects.index(r.subject) for r in recs])
    return clips, labels, subj, subjects


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
    log = lambda line: print(line, flush=True)
    # The same training as `vbench probes train --dataset synthetic --steps 1500 --identity-steps 800
    # --val-subjects 0 --clips-per-video 1`: the whole training split, one clip per (32-frame)
    # video, no validation hold-out, no motionless clips.
    data = load_training_clips(ds, per_video=1, log=log)
    trained = train_probe(ds, video_steps=args.video_steps, identity_steps=args.identity_steps, batch=args.batch,
                          identity_batch=args.identity_batch, seed=args.seed, val_subjects=0, per_video=1,
                          motionless_fraction=0.0, log=log, data=data)
    model = trained.model
    clips, subjects = data.clips, trained.train_subjects

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
