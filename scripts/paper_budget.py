"""The paper's claims at a budget that decides: equal tuning, two seeds per backend, Tables 2 and 6.

A resumable plan of training runs on the synthetic dataset, made for a 2-core CPU (one torch thread
per run, at most two runs at a time) and for one CUDA device (``scripts/paper_budget_gpu.sh``):

1. **tune**: every backend gets the same grid, the discriminator learning rate ``lr_d`` in
   {2e-4, 5e-5} (everything else the ``released`` preset), at a short budget, seed 0, trained on
   the training split minus 8 validation identities and scored on those (``equal_budget.py``'s
   split and selection rule: lowest validation FID, ties -> higher label-acc). The test split is
   never read while tuning or choosing.
2. **final**: each backend at its chosen ``lr_d`` with two training seeds at the shipped budget
   (``FINAL_STEPS`` steps of batch 8 at width 0.125), on the same training part, scored on
   validation (to pick the seed that ships) and then on the test protocol with ``vbench run``.
3. **ablation**: ImaGINator's Table 2 arm (3D decoder at equal parameters) and Table 6 arm
   (without spatio-temporal fusion) at the same budget, seeds and ``lr_d`` as the full model.

Every run writes ``WORK/<run>/`` (checkpoints every ``CHECKPOINT_EVERY`` steps, so an interrupted
run resumes where it stopped) and, when finished, ``OUT/runs/<run>/`` (``run.json`` with the
validation scores, the weights, config and losses; final and ablation runs also the test run's
``results.json``). A run whose ``run.json`` exists is never run again; ``--commit`` commits each
finished run's folder at once, so an interruption loses at most the runs in progress.

Usage::

    python scripts/paper_budget.py plan                       # the runs, their state and order
    python scripts/paper_budget.py work --commit &            # two workers, one thread each
    python scripts/paper_budget.py work --commit &
    python scripts/paper_budget.py boards                     # the boards and the verdicts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import equal_budget as eb  # noqa: E402  (the split, the selection rule, the verdicts)

BACKENDS = eb.BACKENDS
LR_D_GRID = (2e-4, 5e-5)
SEEDS = (0, 1)
TUNE_STEPS = 400
FINAL_STEPS = 2400  # the shipped checkpoints' budget (2,358 steps of batch 8 at width 0.125)
CHECKPOINT_EVERY = 200
WIDTH, BATCH, PRESET = eb.WIDTH, eb.BATCH, eb.PRESET
ABLATIONS = {"conv3d": {"conv": "3d"}, "no-fusion": {"fusion": False}}  # Table 2, Table 6
CLAIMS = [c for c in eb.CLAIMS if c[3] in ABLATIONS]
WORK = Path(os.environ.get("PAPER_BUDGET_WORK", "/tmp/paper_budget"))
OUT = ROOT / "leaderboards" / "paper-budget"


@dataclass(frozen=True)
class Run:
    name: str
    stage: str  # tune | final | ablation
    backend: str
    seed: int
    steps: int
    lr_d: float | None = None  # None: the backend's tuned value (known once its tune runs finish)
    overrides: dict = field(default_factory=dict, hash=False, compare=False)

    def needs(self) -> list[str]:
        """Runs that must be finished first: a run without its own lr_d waits for its tuning."""
        if self.lr_d is not None:
            return []
        return [tune_name(self.backend, lr) for lr in LR_D_GRID]


def tune_name(backend: str, lr_d: float) -> str:
    return f"tune-{backend}-lrd{lr_d:g}"


def plan(tune_steps: int = TUNE_STEPS, final_steps: int = FINAL_STEPS) -> list[Run]:
    runs = [Run(tune_name(b, lr), "tune", b, 0, tune_steps, lr) for b in BACKENDS for lr in LR_D_GRID]
    runs += [Run(f"final-{b}-s{s}", "final", b, s, final_steps) for s in SEEDS for b in BACKENDS]
    runs += [Run(f"ablation-{a}-s{s}", "ablation", "imaginator", s, final_steps, overrides=o)
             for s in SEEDS for a, o in ABLATIONS.items()]
    return runs


def finished(out: Path, name: str) -> dict | None:
    p = out / "runs" / name / "run.json"
    return json.loads(p.read_text()) if p.exists() else None


def chosen_lr_d(out: Path, backend: str) -> float | None:
    """The tuned lr_d of ``backend`` by the selection rule, once all its tune runs are finished."""
    rows = [finished(out, tune_name(backend, lr)) for lr in LR_D_GRID]
    if any(r is None for r in rows):
        return None
    trials = [{**r, "trial": i} for i, r in enumerate(rows)]
    return float(eb.select(trials)["lr_d"])


def _claim(work: Path, name: str) -> bool:
    """Atomically claim a run for this worker (a lock folder; stale after 6 hours)."""
    lock = work / "locks" / name
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.mkdir()
    except FileExistsError:
        if time.time() - lock.stat().st_mtime > 6 * 3600:
            shutil.rmtree(lock, ignore_errors=True)
            return _claim(work, name)
        return False
    (lock / "pid").write_text(str(os.getpid()))
    return True


def _release(work: Path, name: str) -> None:
    shutil.rmtree(work / "locks" / name, ignore_errors=True)


def train_and_validate(run: Run, lr_d: float, work: Path, device: str = "cpu", width: float = WIDTH,
                       batch: int = BATCH, amp: str | None = None) -> dict:
    """Train ``run`` (resuming a partial one) on the training part and score it on validation.

    ``width``/``batch``: the model's channel multiplier and the clips per step (the CPU plan's
    WIDTH/BATCH unless given: ``scripts/paper_budget_gpu.sh`` runs the plan at the paper's width);
    ``amp``: the Trainer's bf16 autocast switch (None: its default, ``auto``)."""
    import torch

    from vbench_i2v.generators import training
    from vbench_i2v.generators.registry import get_generator, load_checkpoint
    from vbench_i2v.generators.train_checkpoint import STATE_FILE

    folder = work / run.name
    ds = eb.tuning_dataset()
    cls = get_generator(run.backend)
    cfg = cls.make_config(PRESET, width, {"batch_size": batch, "lr_d": lr_d, **run.overrides})
    resume = (folder / STATE_FILE).exists()
    t0 = time.time()
    if resume:
        model = load_checkpoint(folder, device=device)
    else:
        torch.manual_seed(run.seed)
        model = cls(cfg, ds.num_classes, ds.labels, ds.name, device=device)
    training.train(model, ds, folder, steps=run.steps, seed=run.seed, resume=resume, progress_bar=False,
                   sample_every=10**9, checkpoint_every=CHECKPOINT_EVERY, **({"amp": amp} if amp else {}))
    train_s = time.time() - t0
    model = load_checkpoint(folder, device=device)
    for m in model.nets.values():
        m.eval()
    t1 = time.time()
    row = {"run": run.name, "stage": run.stage, "backend": run.backend, "seed": run.seed, "steps": run.steps,
           "batch_size": batch, "width": width, "preset": PRESET, "lr_d": lr_d, "overrides": run.overrides,
           "config": asdict(model.config), "train_subjects": len(ds.subjects()["train"]) - len(ds.val_subjects),
           "val_subjects": ds.val_subjects, "device": device, "torch_threads": torch.get_num_threads(),
           "train_seconds": round(train_s, 1), "seconds_per_step": None,
           **eb.score_validation(model, ds, seed=0, device=device)}
    row["score_seconds"] = round(time.time() - t1, 1)
    if str(device) != "cpu":  # how a GPU run computed (CPU rows keep their fields as they were)
        from vbench_i2v import devices

        row["train_amp_bf16"] = amp == "on" or (amp in (None, "auto") and devices.bf16_native(device))
        row["numerics"] = devices.numerics()
    steps_here = run.steps if not resume else None
    if steps_here:
        row["seconds_per_step"] = round(train_s / steps_here, 4)
    return row


def test_run(run: Run, work: Path, out_dir: Path, device: str = "cpu", max_videos: int | None = None) -> Path:
    """``vbench run`` on the test protocol with the run's checkpoint; returns its results.json.
    ``max_videos``: a seeded subset of the test videos (dry runs only; None: the whole protocol)."""
    runs = work / "test-runs"
    cmd = [sys.executable, "-m", "vbench_i2v", "run", "--generator", run.backend, "--dataset", "synthetic",
           "--checkpoint", str(work / run.name), "--seed", "0", "--out", str(runs), "--device", device]
    if max_videos:
        cmd += ["--max-videos", str(max_videos)]
    subprocess.run(cmd, check=True, cwd=work)  # not the repository: its source folder would shadow the install
    found = [p for p in runs.glob("*/results.json")
             if json.loads(p.read_text())["generator"].get("checkpoint_sha256") == _sha256(work / run.name / "model.safetensors")]
    if not found:
        raise RuntimeError(f"{run.name}: vbench run wrote no results.json for this checkpoint")
    dst = out_dir / "results.json"
    shutil.copyfile(found[0], dst)
    return dst


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def execute(run: Run, work: Path, out: Path, device: str = "cpu", width: float = WIDTH, batch: int = BATCH,
            amp: str | None = None, test_max_videos: int | None = None) -> dict:
    lr_d = run.lr_d if run.lr_d is not None else chosen_lr_d(out, run.backend)
    row = train_and_validate(run, lr_d, work, device, width=width, batch=batch, amp=amp)
    dst = out / "runs" / run.name
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if run.stage != "tune":  # the weights that decide the claims ship with the board
        for f in ("model.safetensors", "config.json", "losses.csv"):
            shutil.copyfile(work / run.name / f, tmp / f)
        test_run(run, work, tmp, device, max_videos=test_max_videos)
    (tmp / "run.json").write_text(json.dumps(row, indent=2) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return row


def _commit(paths: list[Path], message: str) -> None:
    """Commit ``paths`` in the repository that holds them (the workers may run from a snapshot of
    the code in another work tree while the results land in the main one)."""
    repo = paths[0] if paths[0].is_dir() else paths[0].parent
    for attempt in range(30):
        add = subprocess.run(["git", "add", "--", *map(str, paths)], cwd=repo, capture_output=True, text=True)
        if add.returncode == 0:
            r = subprocess.run(["git", "commit", "-q", "-m", message, "--", *map(str, paths)], cwd=repo,
                               capture_output=True, text=True)
            if r.returncode == 0 or "nothing" in r.stdout + r.stderr:
                return
        time.sleep(2 + attempt)  # another process holds the index lock
    print(f"warning: could not commit {paths}", file=sys.stderr)


def next_run(runs: list[Run], work: Path, out: Path, only: set[str] | None = None) -> Run | None:
    for run in runs:
        if only and run.name not in only:
            continue
        if finished(out, run.name) is not None:
            continue
        if any(finished(out, n) is None for n in run.needs()):
            continue
        if _claim(work, run.name):
            return run
    return None


def work_loop(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    if args.device != "cpu":  # CUDA: the device made current, IEEE fp32 (TF32 off), kernels as asked
        from vbench_i2v.devices import setup_device

        args.device = str(setup_device(args.device, deterministic=args.deterministic))
    runs = plan(args.tune_steps, args.final_steps)
    failures: dict[str, int] = {}
    while True:
        only = set(args.only.split(",")) if args.only else None
        run = next_run(runs, args.work, args.out, only)
        if run is None:
            pending = [r.name for r in runs if finished(args.out, r.name) is None
                       and (not args.only or r.name in args.only.split(","))]
            if not pending:
                print("every run is finished")
                return 0
            if args.once:
                return 0
            time.sleep(30)  # waiting for another worker's runs this one depends on
            continue
        print(f"{time.strftime('%H:%M:%S')} start {run.name}", flush=True)
        try:
            row = execute(run, args.work, args.out, args.device, width=args.width, batch=args.batch, amp=args.amp,
                          test_max_videos=args.test_max_videos)
        except Exception:  # noqa: BLE001 - a failed run is retried (it resumes from its checkpoint)
            import traceback

            traceback.print_exc()
            failures[run.name] = failures.get(run.name, 0) + 1
            if failures[run.name] >= 3:
                print(f"{run.name} failed 3 times; leaving it", file=sys.stderr)
                runs = [r for r in runs if r.name != run.name]
            time.sleep(60)
            continue
        finally:
            _release(args.work, run.name)
        print(f"{time.strftime('%H:%M:%S')} done {run.name}: val FID {row['val_fid']:.2f}", flush=True)
        if args.commit:
            _commit([args.out / "runs" / run.name], f"paper-budget: {run.name} finished ({run.steps} steps, "
                    f"val FID {row['val_fid']:.2f})")
        if args.once:
            return 0


# --- boards and verdicts ---------------------------------------------------------------------------

BOARD_METRICS = ("fid", "kid", "ssim", "psnr", "acd-i", "label-acc")


def _leaderboard(files: list[Path], dest: Path) -> None:
    """``vbench leaderboard`` (the real command) over ``files`` into ``dest``/board.{md,csv,json,png}."""
    dest.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "vbench_i2v", "leaderboard", *map(str, files), "--no-reported"]
    for fmt, name in (("markdown", "board.md"), ("csv", "board.csv"), ("json", "board.json")):
        extra = ["--plot", str(dest / "board.png")] if fmt == "markdown" else []
        subprocess.run(base + ["--format", fmt, "--out", str(dest / name), *extra], check=True, cwd=dest)


def seed_choice(out: Path, backend: str) -> dict | None:
    """The seed whose checkpoint ships: lowest *validation* FID among the backend's final runs (the
    test scores are never consulted); None until both seeds are finished."""
    rows = [finished(out, f"final-{backend}-s{s}") for s in SEEDS]
    if any(r is None for r in rows):
        return None
    best = min(rows, key=lambda r: (r["val_fid"], r["seed"]))
    return {"backend": backend, "seed": best["seed"], "run": best["run"], "val_fid": best["val_fid"],
            "other_val_fid": [r["val_fid"] for r in rows if r is not best][0]}


def claims(out: Path) -> list[dict]:
    """Each Table 2 / Table 6 claim on test FID: the full model's final runs against the ablation
    arm's, per seed, with equal_budget's verdict rule (intervals and seed spread)."""
    def results(prefix: str) -> list[dict]:
        found = [out / "runs" / f"{prefix}-s{s}" / "results.json" for s in SEEDS]
        return [json.loads(p.read_text()) for p in found if p.exists()]

    rows = []
    for table, claim, good, bad in CLAIMS:
        better, worse = results("final-imaginator"), results(f"ablation-{bad}")
        row = {"table": table, "claim": claim, "paper_better": good, "paper_worse": bad,
               "seeds_better": len(better), "seeds_worse": len(worse)}
        row.update(eb.verdict(better, worse) if better and worse else {"verdict": "not run"})
        rows.append(row)
    return rows


def verdict_sentence(row: dict) -> str:
    if row["verdict"] == "not run":
        return f"{row['table']} ({row['claim']}): not decided yet, runs missing."
    spread = f", seed spread {row['seed_spread']:.2f}" if row.get("seed_spread") is not None else ""
    word = {"reproduced": "reproduced", "reversed": "reversed",
            "within noise": "within the seed spread / intervals"}[row["verdict"]]
    return (f"{row['table']} ({row['claim']}): {word} at this budget: test FID {row['better_mean']:.2f} "
            f"({row['paper_better']}) vs {row['worse_mean']:.2f} ({row['paper_worse']}), "
            f"{row['seeds']} seed(s){spread}.")


def boards(args) -> int:
    out = args.out
    finals = [out / "runs" / f"final-{b}-s{s}" / "results.json" for b in BACKENDS for s in SEEDS]
    finals = [p for p in finals if p.exists()]
    abl = [out / "runs" / f"final-imaginator-s{s}" / "results.json" for s in SEEDS]
    abl += [out / "runs" / f"ablation-{a}-s{s}" / "results.json" for a in ABLATIONS for s in SEEDS]
    abl = [p for p in abl if p.exists()]
    if finals:
        _leaderboard(finals, out / "final")
    if abl:
        _leaderboard(abl, out / "ablations")
    summary = {"plan": [{"run": r.name, "stage": r.stage, "finished": finished(out, r.name) is not None}
                        for r in plan(args.tune_steps, args.final_steps)],
               "tuned_lr_d": {b: chosen_lr_d(out, b) for b in BACKENDS},
               "seed_choice": {b: seed_choice(out, b) for b in BACKENDS},
               "claims": claims(out)}
    summary["verdicts"] = [verdict_sentence(r) for r in summary["claims"]]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(summary["verdicts"]))
    return 0


def print_plan(args) -> int:
    for run in plan(args.tune_steps, args.final_steps):
        state = "finished" if finished(args.out, run.name) else (
            "waiting" if any(finished(args.out, n) is None for n in run.needs()) else "ready")
        lr = run.lr_d if run.lr_d is not None else chosen_lr_d(args.out, run.backend)
        print(f"{run.name:28s} {run.stage:9s} seed {run.seed} steps {run.steps:5d} lr_d {lr} {state}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--tune-steps", type=int, default=TUNE_STEPS)
    ap.add_argument("--final-steps", type=int, default=FINAL_STEPS)
    ap.add_argument("--width", type=float, default=WIDTH, help=f"channel multiplier of every run (default {WIDTH}; "
                    "1.0 = the published widths, scripts/paper_budget_gpu.sh)")
    ap.add_argument("--batch", type=int, default=BATCH, help=f"clips per step of every run (default {BATCH})")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("plan", help="every run, its stage and state")
    sub.add_parser("boards", help="the final and ablation boards, the seed that ships, the verdicts")
    w = sub.add_parser("work", help="run the next ready runs until the plan is done")
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--device", default="cpu")
    w.add_argument("--commit", action="store_true", help="git-commit each finished run's folder")
    w.add_argument("--once", action="store_true", help="one run, then stop")
    w.add_argument("--only", default="", help="comma-separated run names (default: the whole plan)")
    w.add_argument("--amp", choices=("auto", "on", "off"), default=None,
                   help="bf16 autocast in training (default: the Trainer's auto, on for CUDA devices with native bf16)")
    w.add_argument("--deterministic", action="store_true", help="CUDA: deterministic cuDNN/cuBLAS kernels (slower)")
    w.add_argument("--test-max-videos", type=int, default=None,
                   help="test runs on a seeded subset of test videos (dry runs; default: the whole protocol)")
    args = ap.parse_args(argv)
    if args.cmd == "plan":
        return print_plan(args)
    if args.cmd == "boards":
        return boards(args)
    return work_loop(args)


if __name__ == "__main__":
    sys.exit(main())
