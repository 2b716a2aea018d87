"""scripts/equal_budget.py: the validation carve-out never touches the test split, the grid is the
same for every backend, and the selection rule picks the trial it says it picks."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

from vbench_i2v.datasets import get_dataset
from vbench_i2v.errors import DatasetError
from vbench_i2v.generators.registry import get_generator

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("equal_budget", ROOT / "scripts" / "equal_budget.py")
eb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eb)


def test_validation_subjects_come_from_train_and_never_from_test():
    ds = get_dataset("synthetic", seed=0)
    subjects = ds.subjects()
    val = eb.validation_subjects(ds)
    assert len(val) == eb.N_VAL == len(set(val))
    assert set(val) <= set(subjects["train"])
    assert not set(val) & set(subjects["test"])


def test_validation_subjects_are_seeded_and_reproducible():
    ds = get_dataset("synthetic", seed=0)
    assert eb.validation_subjects(ds, 8, seed=0) == eb.validation_subjects(get_dataset("synthetic", seed=0), 8, seed=0)
    assert eb.validation_subjects(ds, 8, seed=0) != eb.validation_subjects(ds, 8, seed=1)
    # the split seed moves the test identities; validation still stays inside the (new) training side
    other = get_dataset("synthetic", seed=3)
    v = eb.validation_subjects(other, 8, seed=0)
    assert set(v) <= set(other.subjects()["train"]) and not set(v) & set(other.subjects()["test"])


@pytest.mark.parametrize("n_val", [0, 48, 100])
def test_validation_size_must_leave_training_identities(n_val):
    with pytest.raises(ValueError):
        eb.validation_subjects(get_dataset("synthetic", seed=0), n_val)


def test_tuning_dataset_hides_validation_from_train_and_refuses_test():
    full = get_dataset("synthetic", seed=0)
    ds = eb.tuning_dataset()
    train = ds.split("train")
    val = ds.split("validation")
    held = set(ds.val_subjects)
    assert {r.subject for r in val} == held
    assert not {r.subject for r in train} & held
    # train + validation is exactly the protocol's training split; nothing else moved
    assert sorted(r.video_id for r in train + val) == sorted(r.video_id for r in full.split("train"))
    assert len(val) == eb.N_VAL * 7 * 3  # identities x expressions x takes
    with pytest.raises(DatasetError):
        ds.split("test")
    with pytest.raises(DatasetError):
        ds.clips("test")
    # the validation clips are reproducible
    a = [c.clip_id for c in ds.clips("validation", per_video=1, seed=0)]
    b = [c.clip_id for c in eb.tuning_dataset().clips("validation", per_video=1, seed=0)]
    assert a == b and len(a) == len(val)


def test_grid_is_the_same_for_every_backend():
    resolved = {b: eb.grid_for(b) for b in eb.BACKENDS}
    shapes = {b: [(t["lr_d"], t["l1_factor"]) for t in g] for b, g in resolved.items()}
    assert len({tuple(s) for s in shapes.values()}) == 1
    assert sorted(shapes["imaginator"]) == sorted([(2e-4, 1.0), (2e-4, 0.1), (5e-5, 1.0), (5e-5, 0.1)])
    for b, grid in resolved.items():
        cls = get_generator(b)
        base = cls.make_config(eb.PRESET, eb.WIDTH, {})
        for t in grid:
            cfg = cls.make_config(eb.PRESET, eb.WIDTH, {"batch_size": eb.BATCH, "lr_d": t["lr_d"],
                                                        eb.L1_FIELD: t[eb.L1_FIELD]})
            assert cfg.lr_d == t["lr_d"]
            assert math.isclose(getattr(cfg, eb.L1_FIELD), getattr(base, eb.L1_FIELD) * t["l1_factor"])
            assert cfg.batch_size == eb.BATCH and cfg.width == eb.WIDTH
            assert cfg.lr_g == base.lr_g  # only the two grid fields move


def _t(trial, fid, acc):
    return {"backend": "x", "trial": trial, "val_fid": fid, "val_label_acc": acc}


def test_selection_rule_on_a_hand_made_table():
    table = [_t(0, 40.0, 0.9), _t(1, 12.5, 0.2), _t(2, 30.0, 0.5), _t(3, 12.6, 0.99)]
    assert eb.select(table)["trial"] == 1  # lowest FID, whatever the accuracy
    tie = [_t(0, 12.5, 0.2), _t(1, 12.5, 0.4), _t(2, 13.0, 1.0)]
    assert eb.select(tie)["trial"] == 1  # FID tie -> higher label-acc
    both = [_t(3, 12.5, 0.4), _t(1, 12.5, 0.4)]
    assert eb.select(both)["trial"] == 1  # then the lower trial id
    unfinished = [_t(0, float("nan"), 0.9), _t(1, None, 0.9), _t(2, 50.0, 0.1)]
    assert eb.select(unfinished)["trial"] == 2
    with pytest.raises(ValueError):
        eb.select([_t(0, None, None)])


def test_collect_writes_every_trial_and_flags_one_winner_per_backend(tmp_path):
    work = tmp_path / "work"
    fids = {("imaginator", 0): 50.0, ("imaginator", 1): 20.0, ("imaginator", 2): 20.0, ("imaginator", 3): 70.0,
            ("vgan", 0): 9.0, ("vgan", 1): 8.0}
    accs = {("imaginator", 1): 0.1, ("imaginator", 2): 0.3}
    for (b, i), fid in fids.items():
        d = work / f"{b}-t{i}"
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(b"w")
        row = {"backend": b, **eb.grid_for(b)[i], "val_fid": fid, "val_label_acc": accs.get((b, i), 0.0),
               "checkpoint": str(d), "command": "c"}
        (d / "trial.json").write_text(json.dumps(row))
    out = tmp_path / "out"
    summary = eb.collect(work, out, tmp_path / "winners")
    assert summary["winners"]["imaginator"]["trial"] == 2 and summary["winners"]["vgan"]["trial"] == 1
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 6
    assert [(r["backend"], r["trial"]) for r in rows if r["selected"] == "True"] == [("imaginator", "2"), ("vgan", "1")]
    assert json.loads((out / "trials.json").read_text())["selection_rule"] == eb.SELECTION_RULE
    assert (tmp_path / "winners" / "imaginator" / "trial.json").exists()


def _run(fid, lo, hi):
    return {"metrics": {"fid": {"value": fid, "ci95": [lo, hi]}}}


def test_ablation_verdicts_follow_the_stated_rule():
    # one seed: disjoint intervals decide the direction, overlapping ones are noise
    assert eb.verdict([_run(10, 8, 12)], [_run(20, 18, 22)])["verdict"] == "reproduced"
    assert eb.verdict([_run(20, 18, 22)], [_run(10, 8, 12)])["verdict"] == "reversed"
    assert eb.verdict([_run(10, 8, 15)], [_run(14, 13, 16)])["verdict"] == "within noise"
    # two seeds: a gap no larger than the seed spread is noise even with tight intervals
    v = eb.verdict([_run(10, 9.9, 10.1), _run(16, 15.9, 16.1)], [_run(15, 14.9, 15.1), _run(15.5, 15.4, 15.6)])
    assert v["seed_spread"] == 6 and v["gap"] == pytest.approx(2.25) and v["verdict"] == "within noise"
    v = eb.verdict([_run(10, 9.9, 10.1), _run(11, 10.9, 11.1)], [_run(20, 19.9, 20.1), _run(21, 20.9, 21.1)])
    assert v["verdict"] == "reproduced" and v["gap"] == pytest.approx(10)


def test_every_claim_names_two_ablation_arms_that_differ_in_switches():
    cfg = dict(eb.FULL)
    assert eb.ablation_name(cfg) == "full"
    assert eb.ablation_name({**cfg, "conv": "3d"}) == "conv3d"
    assert eb.ablation_name({**cfg, "d_video": "aux-classifier", "d_image": False}) == "dv-ac-no-di"
    assert eb.ablation_name({**cfg, "conv": "3d", "fusion": False}) is None
    for _, _, good, bad in eb.CLAIMS:
        assert good in eb.ABLATIONS and bad in eb.ABLATIONS and eb.ABLATIONS[good] != eb.ABLATIONS[bad]
    # the switches are real ImaGINator config fields with these defaults
    base = get_generator("imaginator").make_config(eb.PRESET, eb.WIDTH, {})
    assert {k: getattr(base, k) for k in eb.SWITCHES} == eb.FULL
