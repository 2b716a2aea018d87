"""label_accuracy against a hand computation, the Wilson interval against its closed form and
scipy, and confusion.csv."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from vbench_i2v.errors import InputError
from vbench_i2v.metrics.label_accuracy import label_accuracy, wilson_ci95, write_confusion_csv


def wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) score interval written out from its formula."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_hand_computed_example():
    labels = ["bend", "jack", "wave"]
    target = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    pred = [0, 1, 0, 1, 2, 2, 2, 0, 2, 2]
    r = label_accuracy(np.array(pred), np.array(target), labels)
    # correct: bend 2/3, jack 1/2, wave 4/5 -> 7/10
    assert r["n"] == 10 and r["correct"] == 7 and r["value"] == pytest.approx(0.7)
    assert r["confusion"] == [[2, 1, 0],
                              [0, 1, 1],
                              [1, 0, 4]]
    assert r["per_label"] == {"bend": {"accuracy": pytest.approx(2 / 3), "n": 3},
                              "jack": {"accuracy": 0.5, "n": 2},
                              "wave": {"accuracy": 0.8, "n": 5}}
    lo, hi = wilson_closed_form(7, 10)
    assert r["ci95"] == pytest.approx([lo, hi], abs=1e-12)
    assert r["ci95"] == pytest.approx([0.3968, 0.8922], abs=1e-4)  # by hand: centre 0.6445, half-width 0.2477
    assert r["labels"] == labels


@pytest.mark.parametrize("k,n", [(0, 5), (5, 5), (1, 1), (13, 40), (99, 120)])
def test_wilson_matches_closed_form_and_scipy(k, n):
    from scipy.stats import binomtest

    lo, hi = wilson_closed_form(k, n)
    got = wilson_ci95(k, n)
    assert got == pytest.approx([lo, hi], abs=1e-12)
    ref = binomtest(k, n).proportion_ci(method="wilson")
    assert got == pytest.approx([ref.low, ref.high], abs=1e-15)
    assert 0.0 <= got[0] <= k / n <= got[1] <= 1.0


def test_unrequested_label_and_random_arrays():
    labels = [f"c{i}" for i in range(5)]
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, 200)  # label 4 is never requested
    pred = np.where(rng.random(200) < 0.6, target, rng.integers(0, 5, 200))
    r = label_accuracy(pred, target, labels)
    conf = np.array(r["confusion"])
    assert conf.sum() == 200 and conf[4].sum() == 0
    assert r["per_label"]["c4"] == {"accuracy": None, "n": 0}
    assert r["value"] == pytest.approx(np.mean(pred == target))
    for i in range(4):  # each row against a direct count
        assert conf[i].tolist() == [int(np.sum((target == i) & (pred == j))) for j in range(5)]


def test_bad_inputs_are_input_errors():
    with pytest.raises(InputError, match="no videos"):
        label_accuracy([], [], ["a", "b"])
    with pytest.raises(InputError, match="outside"):
        label_accuracy([0, 2], [0, 1], ["a", "b"])
    with pytest.raises(InputError, match="predictions for"):
        label_accuracy([0, 1, 1], [0, 1], ["a", "b"])
    with pytest.raises(InputError, match="integer"):
        label_accuracy([0.5, 1.0], [0, 1], ["a", "b"])
    with pytest.raises(InputError, match="1-d"):
        label_accuracy([[0, 1]], [[0, 1]], ["a", "b"])


def test_confusion_csv(tmp_path):
    r = label_accuracy([0, 1, 0, 1, 1], [0, 0, 0, 1, 1], ["bend", "jack", "wave"])
    path = tmp_path / "run" / "confusion.csv"
    write_confusion_csv(path, r)
    rows = list(csv.DictReader(path.open()))
    assert [row["requested"] for row in rows] == ["bend", "jack", "wave"]
    assert rows[0] == {"requested": "bend", "n": "3", "accuracy": f"{2 / 3:.6f}", "predicted:bend": "2",
                       "predicted:jack": "1", "predicted:wave": "0"}
    assert rows[1]["accuracy"] == "1.000000" and rows[2]["accuracy"] == "" and rows[2]["n"] == "0"
    assert not [p for p in path.parent.iterdir() if p.name != "confusion.csv"]  # no temp files left
