"""Equal-budget tuning of the trainable backends on a validation part of the synthetic training split.

Why: the shipped checkpoints were trained with each backend's defaults except one hand-tuned
setting (MoCoGAN's ``lr_d``). To compare architectures fairly every backend gets the same small
grid, the same step x batch budget at one width, and the same selection rule, decided on held-out
*training* identities; the test split is never read while tuning.

- :func:`validation_subjects` carves ``n_val`` identities (seeded) out of the training subjects.
- :class:`TrainMinusValidation` is the synthetic dataset whose ``"train"`` split drops them, whose
  ``"validation"`` split is them, and whose ``"test"`` split refuses to load.
- :data:`GRID`: ``lr_d`` in {2e-4, 5e-5} x reconstruction-L1 factor in {1, 0.1} (``l1_weight`` =
  the backend's default x factor; all three backends name the term ``l1_weight``).
- :func:`select`: lowest validation FID; ties -> higher label accuracy; then the lower trial id.

Usage::

    python scripts/equal_budget.py tune --backend imaginator --steps 20 --work /tmp/equal_budget/tune
    python scripts/equal_budget.py collect --work /tmp/equal_budget/tune --out leaderboards/synthetic-tuning
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("imaginator", "mocogan", "vgan")
# The grid is the same for every backend: (lr_d, factor on the backend's default l1_weight).
GRID = tuple((lr_d, l1_factor) for lr_d in (2e-4, 5e-5) for l1_factor in (1.0, 0.1))
L1_FIELD = "l1_weight"  # the clip reconstruction term (ImaGINator's), same name in all three configs
PRESET = "released"
WIDTH = 0.125
BATCH = 8
N_VAL = 8  # validation identities out of the 48 training identities
SPLIT_SEED = 0  # the dataset's subject split (the protocol's)
VAL_SEED = 0  # which training identities are held out
VAL_METRICS = ("fid", "ssim", "psnr", "label-acc")
EXTRACTOR = "synthetic-probe"
SELECTION_RULE = "lowest validation FID; ties -> higher validation label-acc; then lower trial id"


# --- the split -------------------------------------------------------------------------------

def validation_subjects(dataset, n_val: int = N_VAL, seed: int = VAL_SEED) -> list[str]:
    """``n_val`` training identities, chosen by a seeded permutation; never a test identity."""
    from vbench_i2v import protocol

    subjects = dataset.subjects()
    train, test = list(subjects["train"]), set(subjects["test"])
    if not 0 < n_val < len(train):
        raise ValueError(f"n_val must be in 1..{len(train) - 1}, got {n_val}")
    order = protocol.rng_for(seed, "equal-budget-validation").permutation(len(train))
    val = sorted(train[i] for i in order[:n_val])
    assert set(val) <= set(train) and not set(val) & test, "validation must come from the training subjects only"
    return val


def _held_out_class():
    from vbench_i2v.datasets.synthetic import SyntheticFaces
    from vbench_i2v.errors import DatasetError

    class TrainMinusValidation(SyntheticFaces):
        """Synthetic faces with ``n_val`` training identities moved to a ``validation`` split.

        ``split("test")`` raises, so nothing run on this object (the training loop's sample sheet
        included) can read a test clip; scores on the test split go through ``vbench run``.
        """

        def __init__(self, *args, n_val: int = N_VAL, val_seed: int = VAL_SEED, **kwargs):
            super().__init__(*args, **kwargs)
            self.val_subjects = validation_subjects(self, n_val, val_seed)

        def split(self, split: str):
            if split == "test":
                raise DatasetError("the test split is not available while tuning")
            if split == "validation":
                keep = set(self.val_subjects)
                return [r for r in super().split("train") if r.subject in keep and not r.flip]
            recs = super().split(split)
            if split == "train":
                held = set(self.val_subjects)
                recs = [r for r in recs if r.subject not in held]
            return recs

    return TrainMinusValidation


def tuning_dataset(seed: int = SPLIT_SEED, n_val: int = N_VAL, val_seed: int = VAL_SEED):
    return _held_out_class()(seed=seed, n_val=n_val, val_seed=val_seed)


# --- the grid and the selection rule ----------------------------------------------------------

def default_l1(backend: str) -> float:
    """The backend's ``l1_weight`` under the preset used here (read from its config, not assumed)."""
    from vbench_i2v.generators.registry import get_generator

    cls = get_generator(backend)
    return float(getattr(cls.make_config(PRESET, WIDTH, {}), L1_FIELD))


def grid_for(backend: str) -> list[dict]:
    """The trials of ``backend``: the shared grid resolved to its own config values."""
    base = default_l1(backend)
    return [{"trial": i, "lr_d": lr_d, "l1_factor": f, L1_FIELD: base * f} for i, (lr_d, f) in enumerate(GRID)]


def select(trials: list[dict]) -> dict:
    """The winner among one backend's finished trials, by :data:`SELECTION_RULE`."""
    done = [t for t in trials if t.get("val_fid") is not None and np.isfinite(t["val_fid"])]
    if not done:
        raise ValueError("no finished trial to select from")
    acc = lambda t: t["val_label_acc"] if t.get("val_label_acc") is not None else -1.0  # noqa: E731
    return min(done, key=lambda t: (float(t["val_fid"]), -acc(t), int(t["trial"])))


# --- one trial ----------------------------------------------------------------------------------

def score_validation(model, dataset, seed: int = 0, batch: int = 32, device: str = "cpu") -> dict:
    """Generate every validation clip from its first frame and label; score against the real clips."""
    import torch

    from vbench_i2v import tensors
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    refs = dataset.clips("validation", per_video=1, seed=seed)
    real = {r.clip_id: dataset.load_clip(r) for r in refs}
    gen = torch.Generator().manual_seed(seed)
    fake = {}
    for i in range(0, len(refs), batch):
        chunk = refs[i : i + batch]
        firsts = np.stack([real[r.clip_id][0] for r in chunk])
        labels = None if model.num_classes == 0 else [r.record.label for r in chunk]
        with torch.no_grad():
            out = tensors.video_from_model(model.generate(firsts, labels, generator=gen))
        fake.update({r.clip_id: v for r, v in zip(chunk, out)})
    plan = ScorePlan(metrics=tuple(VAL_METRICS), extractor=EXTRACTOR, seed=seed,
                     labels={r.clip_id: r.record.label for r in refs}, device=device)
    m = compute_metrics(real, fake, plan).metrics
    row = {"val_clips": len(refs)}
    for name in VAL_METRICS:
        key = "val_" + name.replace("-", "_")
        row[key] = float(m[name]["value"])
        row[key + "_ci95"] = [float(x) for x in m[name]["ci95"]]
    return row


def run_trial(backend: str, trial: dict, steps: int, work: Path, seed: int = 0, device: str = "cpu") -> dict:
    import torch

    from vbench_i2v.generators import training
    from vbench_i2v.generators.train_checkpoint import STATE_FILE
    from vbench_i2v.generators.registry import get_generator, load_checkpoint

    folder = work / f"{backend}-t{trial['trial']}"
    done = folder / "trial.json"
    if done.exists():
        return json.loads(done.read_text())
    ds = tuning_dataset()
    cls = get_generator(backend)
    overrides = {"batch_size": BATCH, "lr_d": trial["lr_d"], L1_FIELD: trial[L1_FIELD]}
    cfg = cls.make_config(PRESET, WIDTH, overrides)
    resume = (folder / STATE_FILE).exists()
    t0 = time.time()
    if resume:
        model = load_checkpoint(folder, device=device)
    else:
        torch.manual_seed(seed)
        model = cls(cfg, ds.num_classes, ds.labels, ds.name, device=device)
    training.train(model, ds, folder, steps=steps, seed=seed, resume=resume, progress_bar=False,
                   sample_every=10**9, checkpoint_every=10**9)
    train_s = time.time() - t0
    model = load_checkpoint(folder, device=device)
    for m in model.nets.values():
        m.eval()
    t1 = time.time()
    row = {"backend": backend, **trial, "preset": PRESET, "width": WIDTH, "batch_size": BATCH, "steps": steps,
           "seed": seed, "train_subjects": len(ds.subjects()["train"]) - len(ds.val_subjects),
           "val_subjects": " ".join(ds.val_subjects), "train_seconds": round(train_s, 1),
           **score_validation(model, ds, seed=0, device=device), "score_seconds": None, "checkpoint": str(folder),
           "command": f"python scripts/equal_budget.py tune --backend {backend} --trials {trial['trial']} "
                      f"--steps {steps} --work {work}" + (f" --device {device}" if device != "cpu" else "")}
    row["score_seconds"] = round(time.time() - t1, 1)
    done.write_text(json.dumps(row, indent=2))
    return row


# --- the ImaGINator ablations (paper Tables 2, 5, 6) at the same budget ---------------------------

SWITCHES = ("conv", "d_video", "d_image", "fusion", "noise")
FULL = {"conv": "1+2d", "d_video": "projection", "d_image": True, "fusion": True, "noise": True}
ABLATIONS = {  # name -> the switches that differ from the full model
    "full": {}, "conv3d": {"conv": "3d"}, "dv-ac": {"d_video": "aux-classifier"}, "no-di": {"d_image": False},
    "dv-ac-no-di": {"d_video": "aux-classifier", "d_image": False}, "no-fusion": {"fusion": False},
    "no-noise": {"noise": False},
}
# (paper table, claim, the arm the paper finds better, the arm it finds worse); compared on FID
CLAIMS = [
    ("Table 2", "(1+2)D beats 3D at equal parameters", "full", "conv3d"),
    ("Table 5", "D_V (label projection) beats D_V(ac), with D_I", "full", "dv-ac"),
    ("Table 5", "D_V (label projection) beats D_V(ac), without D_I", "no-di", "dv-ac-no-di"),
    ("Table 5", "adding D_I helps (with D_V)", "full", "no-di"),
    ("Table 5", "adding D_I helps (with D_V(ac))", "dv-ac", "dv-ac-no-di"),
    ("Table 6", "spatio-temporal fusion helps", "full", "no-fusion"),
    ("Table 6", "noise helps", "full", "no-noise"),
]


def ablation_name(config: dict) -> str | None:
    """The :data:`ABLATIONS` entry a results file's generator config is (None: none of them)."""
    sw = {k: config.get(k) for k in SWITCHES}
    for name, diff in ABLATIONS.items():
        if sw == {**FULL, **diff}:
            return name
    return None


def verdict(better: list[dict], worse: list[dict], metric: str = "fid", lower_is_better: bool = True) -> dict:
    """"reproduced" / "reversed" / "within noise" for one claim from each arm's runs (one per seed).

    Within noise when the two arms' 95% intervals overlap (any seed) or, with two or more seeds,
    when the gap between the arm means is not larger than the larger of the two seed spreads
    (max - min over seeds).
    """
    vb = [r["metrics"][metric]["value"] for r in better]
    vw = [r["metrics"][metric]["value"] for r in worse]
    mb, mw = float(np.mean(vb)), float(np.mean(vw))
    gap = (mw - mb) if lower_is_better else (mb - mw)  # > 0: the paper's direction
    spread = max(max(vb) - min(vb), max(vw) - min(vw))
    overlap = any(max(a["metrics"][metric]["ci95"][0], b["metrics"][metric]["ci95"][0])
                  <= min(a["metrics"][metric]["ci95"][1], b["metrics"][metric]["ci95"][1])
                  for a in better for b in worse)
    seeds = min(len(vb), len(vw))
    noisy = overlap or (seeds >= 2 and abs(gap) <= spread)
    word = "within noise" if noisy else ("reproduced" if gap > 0 else "reversed")
    return {"better_mean": mb, "worse_mean": mw, "gap": gap, "seed_spread": spread if seeds >= 2 else None,
            "ci_overlap": overlap, "seeds": seeds, "verdict": word}


def ablation_claims(runs_dir: Path) -> list[dict]:
    from vbench_i2v.results import collect_results

    arms: dict[str, list[dict]] = {}
    for _, r in collect_results([runs_dir]):
        name = ablation_name(r["generator"]["config"])
        if name is not None:
            arms.setdefault(name, []).append(r)
    out = []
    for table, claim, good, bad in CLAIMS:
        row = {"table": table, "claim": claim, "paper_better": good, "paper_worse": bad}
        if good in arms and bad in arms:
            row.update(verdict(arms[good], arms[bad]))
        else:
            row["verdict"] = "not run"
        out.append(row)
    return out


def claims_markdown(rows: list[dict]) -> str:
    lines = ["| paper | claim (on FID, lower is better) | arm the paper finds better | FID | other arm | FID | "
             "seeds | 95% CIs overlap | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["verdict"] == "not run":
            lines.append(f"| {r['table']} | {r['claim']} | {r['paper_better']} | - | {r['paper_worse']} | - | 0 | - | "
                         "not run |")
            continue
        lines.append(f"| {r['table']} | {r['claim']} | {r['paper_better']} | {r['better_mean']:.2f} | "
                     f"{r['paper_worse']} | {r['worse_mean']:.2f} | {r['seeds']} | "
                     f"{'yes' if r['ci_overlap'] else 'no'} | **{r['verdict']}** |")
    return "\n".join(lines) + "\n"


# --- collecting -----------------------------------------------------------------------------------

CSV_COLUMNS = ["backend", "trial", "lr_d", "l1_factor", L1_FIELD, "preset", "width", "batch_size", "steps", "seed",
               "train_subjects", "val_clips", "val_fid", "val_ssim", "val_psnr", "val_label_acc", "train_seconds",
               "score_seconds", "selected", "command"]


def collect(work: Path, out: Path, winners: Path | None) -> dict:
    rows = [json.loads(p.read_text()) for p in sorted(work.glob("*-t*/trial.json"))]
    rows.sort(key=lambda r: (BACKENDS.index(r["backend"]), r["trial"]))
    picked = {}
    for b in BACKENDS:
        mine = [r for r in rows if r["backend"] == b]
        if mine:
            picked[b] = select(mine)
    for r in rows:
        r["selected"] = picked.get(r["backend"]) is r
    out.mkdir(parents=True, exist_ok=True)
    with (out / "trials.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r.get(k)) for k in CSV_COLUMNS})
    summary = {"selection_rule": SELECTION_RULE, "grid": [{"lr_d": a, "l1_factor": b} for a, b in GRID],
               "l1_field": L1_FIELD, "trials": rows,
               "winners": {b: {"trial": r["trial"], "lr_d": r["lr_d"], L1_FIELD: r[L1_FIELD]} for b, r in picked.items()}}
    (out / "trials.json").write_text(json.dumps(summary, indent=2) + "\n")
    if winners is not None:
        for b, r in picked.items():
            dst = winners / b
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(r["checkpoint"], dst)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tune", help="train and score trials of one backend")
    t.add_argument("--backend", required=True, choices=BACKENDS)
    t.add_argument("--trials", default=",".join(str(i) for i in range(len(GRID))))
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--work", type=Path, default=Path("/tmp/equal_budget/tune"))
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--device", default="cpu",
                   help="auto, cpu or cuda[:N] (default cpu: the published tuning ran there); CUDA runs use "
                        "deterministic kernels and IEEE fp32 (no TF32)")
    c = sub.add_parser("collect", help="trials.csv/json, the winners, and their checkpoints")
    c.add_argument("--work", type=Path, default=Path("/tmp/equal_budget/tune"))
    c.add_argument("--out", type=Path, default=ROOT / "leaderboards" / "synthetic-tuning")
    c.add_argument("--winners", type=Path, default=Path("/tmp/equal_budget/winners"))
    s = sub.add_parser("split", help="print the validation identities")
    a = sub.add_parser("claims", help="the ablation claims table from a folder of results.json files")
    a.add_argument("runs", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "split":
        ds = tuning_dataset()
        print(json.dumps({"validation": ds.val_subjects, "test": ds.subjects()["test"]}, indent=2))
        return 0
    if args.cmd == "claims":
        print(claims_markdown(ablation_claims(args.runs)), end="")
        return 0
    if args.cmd == "collect":
        summary = collect(args.work, args.out, args.winners)
        print(json.dumps(summary["winners"], indent=2))
        return 0
    import torch

    from vbench_i2v.devices import setup_device

    torch.set_num_threads(args.threads)
    device = str(setup_device(args.device, deterministic=True))
    grid = grid_for(args.backend)
    for i in (int(x) for x in args.trials.split(",")):
        row = run_trial(args.backend, grid[i], args.steps, args.work, device=device)
        print(json.dumps({k: row[k] for k in ("backend", "trial", "lr_d", L1_FIELD, "val_fid", "val_label_acc")}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
