"""label-acc through the engine and through `vbench run`, against a hand computation on the probe's
own logits (the prediction is the arg-max of the expression head, the value the share of matches)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics


def _clips(n=12):
    from vbench_i2v.datasets import get_dataset

    ds = get_dataset("synthetic")
    refs = ds.clips("test", per_video=1, limit=n)
    real = {r.clip_id: ds.load_clip(r) for r in refs}
    return ds, real, {r.clip_id: int(r.record.label) for r in refs}


def _hand_accuracy(videos: dict, labels: dict) -> float:
    from vbench_i2v.feature_extractors import build_video_extractor

    ex = build_video_extractor("synthetic-probe")
    names = sorted(videos)
    logits = ex.expression_logits(np.stack([videos[n] for n in names]))
    hits = [int(np.argmax(row)) == labels[n] for row, n in zip(logits, names)]
    return sum(hits) / len(hits)


def test_label_acc_equals_a_hand_computation_with_wilson_interval_and_ceiling():
    from scipy.stats import binomtest

    _, real, labels = _clips()
    rng = np.random.default_rng(0)
    fake = {k: np.clip(v.astype(int) + rng.integers(-40, 41, v.shape), 0, 255).astype(np.uint8)
            for k, v in real.items()}
    res = compute_metrics(real, fake, ScorePlan(metrics="label-acc", extractor="synthetic-probe", labels=labels))
    m = res.metrics["label-acc"]
    want = _hand_accuracy(fake, labels)
    assert m["value"] == pytest.approx(want, abs=1e-12)
    assert m["value"] == pytest.approx(np.mean(list(m["per_video"].values())), abs=1e-12)
    k = round(want * len(fake))
    ci = binomtest(k, len(fake)).proportion_ci(method="wilson")
    assert m["ci95"] == pytest.approx([ci.low, ci.high], abs=1e-12) and m["n"] == len(fake)
    assert m["real_ceiling"]["value"] == pytest.approx(_hand_accuracy(real, labels), abs=1e-12)
    assert np.trace(np.array(m["confusion"])) == k and np.array(m["confusion"]).sum() == len(fake)


def test_label_acc_needs_labels_and_a_classifier():
    _, real, labels = _clips(4)
    with pytest.raises(InputError, match="no conditioning label"):
        compute_metrics(real, real, ScorePlan(metrics="label-acc", extractor="synthetic-probe"))
    with pytest.raises(InputError, match="needs a probe with a class head"):
        compute_metrics(real, real, ScorePlan(metrics="label-acc", labels=labels))


@pytest.mark.slow
def test_run_records_label_acc_and_writes_the_confusion_matrix(tmp_path):
    from vbench_i2v.results import load_results
    from vbench_i2v.run import RunSpec, execute
    from vbench_i2v.video_io import read_video

    res = execute(RunSpec(generator="copy-first-frame", dataset="synthetic", metrics=["label-acc", "ssim"],
                          max_videos=4, conditioning_per_video=2, out=str(tmp_path / "runs"), device="cpu"))
    run_dir = tmp_path / "runs" / res["run_id"]
    with open(run_dir / "clips.csv", newline="") as fh:
        labels = {row["clip"]: int(row["label"]) for row in csv.DictReader(fh)}
    fake = {p.stem: read_video(p) for p in sorted((run_dir / "fake").glob("*.npz"))}
    real = {p.stem: read_video(p) for p in sorted((run_dir / "real").glob("*.npz"))}
    on_disk = load_results(run_dir)["metrics"]["label-acc"]
    assert on_disk["value"] == pytest.approx(_hand_accuracy(fake, labels), abs=1e-12)
    assert on_disk["real_ceiling"]["value"] == pytest.approx(_hand_accuracy(real, labels), abs=1e-12)
    rows = list(csv.DictReader(open(run_dir / "confusion.csv", newline="")))
    assert sum(int(r["n"]) for r in rows) == len(fake) == res["dataset"]["clip_count"]
    # a finished run asked for a metric it lacks adds it from the clips on disk
    again = execute(RunSpec(generator="copy-first-frame", dataset="synthetic", metrics=["label-acc", "ssim", "psnr"],
                            max_videos=4, conditioning_per_video=2, out=str(tmp_path / "runs"), device="cpu"))
    assert again["run_id"] == res["run_id"] and set(again["metrics"]) >= {"label-acc", "ssim", "psnr"}
    assert load_results(run_dir)["metrics"]["label-acc"]["value"] == on_disk["value"]
    from vbench_i2v.leaderboard import render_row

    context, table = render_row(load_results(run_dir))
    assert any("label-acc on the real test clips (ceiling)" in line for line in context)
