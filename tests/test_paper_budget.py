"""scripts/paper_budget.py: the bookkeeping of the deciding comparison.

Equal steps x batch for every backend, two seeds per final row, the same lr_d grid for every
backend, the ablation arms that decide Tables 2 and 6, a tuned value read from validation scores
only, runs claimed by one worker at a time, and a real (tiny) run end to end that never reads the
test split while training or choosing."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
_spec = importlib.util.spec_from_file_location("paper_budget", ROOT / "scripts" / "paper_budget.py")
pb = importlib.util.module_from_spec(_spec)
sys.modules["paper_budget"] = pb  # its dataclasses look their module up
_spec.loader.exec_module(pb)


def test_every_backend_gets_the_same_budget_grid_and_two_seeds():
    runs = pb.plan()
    final = [r for r in runs if r.stage == "final"]
    assert {(r.steps * pb.BATCH) for r in final} == {pb.FINAL_STEPS * pb.BATCH}
    for backend in pb.BACKENDS:
        assert sorted(r.seed for r in final if r.backend == backend) == [0, 1]
        tune = [r for r in runs if r.stage == "tune" and r.backend == backend]
        assert sorted(r.lr_d for r in tune) == sorted(pb.LR_D_GRID) == [5e-5, 2e-4]
        assert {r.steps for r in tune} == {pb.TUNE_STEPS}
        # a final run waits for its backend's tuning and nothing else
        assert all(set(r.needs()) == {pb.tune_name(backend, lr) for lr in pb.LR_D_GRID}
                   for r in final if r.backend == backend)
    ablation = [r for r in runs if r.stage == "ablation"]
    assert {r.steps for r in ablation} == {pb.FINAL_STEPS} and {r.backend for r in ablation} == {"imaginator"}
    for name, switches in pb.ABLATIONS.items():
        assert sorted(r.seed for r in ablation if r.name.startswith(f"ablation-{name}-")) == [0, 1]
        # each arm is the full model with one switch changed, as equal_budget's claims name it
        assert pb.eb.ablation_name({**pb.eb.FULL, **switches}) == name
    assert {c[0] for c in pb.CLAIMS} == {"Table 2", "Table 6"}
    assert len({r.name for r in runs}) == len(runs)


def _row(lr_d, fid, acc):
    return {"lr_d": lr_d, "val_fid": fid, "val_label_acc": acc}


def test_tuned_lr_d_comes_from_validation_rows_by_the_rule(tmp_path):
    out = tmp_path / "out"

    def write(backend, lr, row):
        d = out / "runs" / pb.tune_name(backend, lr)
        d.mkdir(parents=True)
        (d / "run.json").write_text(json.dumps(row))

    write("vgan", 2e-4, _row(2e-4, 150.0, 0.2))
    assert pb.chosen_lr_d(out, "vgan") is None  # not every trial finished: nothing chosen
    write("vgan", 5e-5, _row(5e-5, 140.0, 0.1))
    assert pb.chosen_lr_d(out, "vgan") == 5e-5  # lowest validation FID
    write("mocogan", 2e-4, _row(2e-4, 140.0, 0.3))
    write("mocogan", 5e-5, _row(5e-5, 140.0, 0.1))
    assert pb.chosen_lr_d(out, "mocogan") == 2e-4  # tie on FID -> higher label-acc


def test_a_run_is_claimed_by_one_worker_and_ready_only_after_its_needs(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    runs = pb.plan(tune_steps=2, final_steps=2)
    first = pb.next_run(runs, work, out)
    assert first.name == runs[0].name
    second = pb.next_run(runs, work, out)
    assert second.name == runs[1].name  # the first is claimed
    pb._release(work, first.name)
    assert pb.next_run(runs, work, out).name == first.name
    finals = [r for r in runs if r.stage == "final"]
    assert pb.next_run(finals, work, out) is None  # no tuning finished yet


@pytest.mark.slow
def test_a_tiny_tune_run_trains_on_the_training_part_and_scores_validation(tmp_path, monkeypatch):
    """Two steps of one tune run end to end: the dataset it trains on refuses the test split, the
    scores are validation clips only, and run.json records the budget."""
    from vbench_i2v.errors import DatasetError

    seen_splits = []
    real_cls = pb.eb._held_out_class()
    orig_split = real_cls.split

    def spy_split(self, split):  # records the splits actually read (a refused request reads nothing)
        records = orig_split(self, split)
        seen_splits.append(split)
        return records

    monkeypatch.setattr(real_cls, "split", spy_split)
    monkeypatch.setattr(pb.eb, "_held_out_class", lambda: real_cls)
    run = pb.Run(pb.tune_name("vgan", 2e-4), "tune", "vgan", 0, 2, 2e-4)
    row = pb.execute(run, tmp_path / "work", tmp_path / "out")
    assert "test" not in seen_splits and "validation" in seen_splits
    saved = json.loads((tmp_path / "out" / "runs" / run.name / "run.json").read_text())
    assert saved == json.loads(json.dumps(row))
    assert (saved["steps"], saved["batch_size"], saved["width"], saved["lr_d"]) == (2, pb.BATCH, pb.WIDTH, 2e-4)
    assert saved["config"]["lr_d"] == 2e-4 and saved["val_clips"] == 168
    with pytest.raises(DatasetError):
        pb.eb.tuning_dataset().split("test")


def _results(fid: float, half: float = 1.0) -> dict:
    return {"metrics": {"fid": {"value": fid, "ci95": [fid - half, fid + half], "n": 252}}}


def test_seed_choice_reads_validation_only_and_claims_follow_the_rule(tmp_path):
    out = tmp_path / "out"

    def put(name, row=None, results=None):
        d = out / "runs" / name
        d.mkdir(parents=True, exist_ok=True)
        if row is not None:
            (d / "run.json").write_text(json.dumps(row))
        if results is not None:
            (d / "results.json").write_text(json.dumps(results))

    # the seed with the lower *validation* FID ships, whatever the test FID says
    put("final-vgan-s0", {"run": "final-vgan-s0", "seed": 0, "val_fid": 90.0}, _results(10.0))
    assert pb.seed_choice(out, "vgan") is None  # one seed missing
    put("final-vgan-s1", {"run": "final-vgan-s1", "seed": 1, "val_fid": 80.0}, _results(99.0))
    assert pb.seed_choice(out, "vgan")["seed"] == 1
    # Table 2: full model (2 seeds) clearly better than 3D; Table 6: gap inside the seed spread
    put("final-imaginator-s0", results=_results(50.0))
    put("final-imaginator-s1", results=_results(54.0))
    put("ablation-conv3d-s0", results=_results(80.0))
    put("ablation-conv3d-s1", results=_results(82.0))
    put("ablation-no-fusion-s0", results=_results(51.0))
    put("ablation-no-fusion-s1", results=_results(56.0))
    rows = {r["paper_worse"]: r for r in pb.claims(out)}
    assert rows["conv3d"]["verdict"] == "reproduced" and rows["conv3d"]["gap"] == pytest.approx(29.0)
    assert rows["no-fusion"]["verdict"] == "within noise"  # |53.5 - 52| = 1.5 <= spread 5
    assert "reproduced" in pb.verdict_sentence(rows["conv3d"])
    assert "seed spread 5.00" in pb.verdict_sentence(rows["no-fusion"])
