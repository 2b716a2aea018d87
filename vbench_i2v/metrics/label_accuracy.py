"""Label accuracy: how often a probe's class head recognises the label a clip was generated for.

Per video: the requested (conditioning) label and the probe's prediction. The value is the share
of matches; its 95% interval is the Wilson score interval of that binomial proportion; the
confusion matrix counts requested labels (rows) against predicted labels (columns).
"""

from __future__ import annotations

import numpy as np

from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_csv


def _as_ids(x, name: str, k: int) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise InputError(f"label accuracy: {name} must be a 1-d array of label ids, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise InputError(f"label accuracy: {name} must hold integer label ids, got {a.dtype}")
    a = a.astype(np.int64)
    bad = a[(a < 0) | (a >= k)]
    if bad.size:
        raise InputError(f"label accuracy: {name} has label id {int(bad[0])} outside 0..{k - 1}")
    return a


def wilson_ci95(correct: int, n: int) -> list[float]:
    """95% Wilson score interval of ``correct / n`` (scipy's binomtest)."""
    from scipy.stats import binomtest

    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(ci.low), float(ci.high)]


def label_accuracy(pred, target, labels) -> dict:
    """``pred``/``target``: label ids (indices into ``labels``), one per video.

    Returns ``value`` (share of videos whose prediction is the requested label), ``ci95``
    (Wilson), ``n``, ``correct``, ``confusion`` (K x K counts, rows = requested label, columns =
    predicted label, in ``labels`` order), ``per_label`` (label -> accuracy and n; accuracy is
    None for a label never requested) and ``labels``."""
    labels = [str(x) for x in labels]
    k = len(labels)
    if k < 1:
        raise InputError("label accuracy needs the label names (got none)")
    pred = _as_ids(pred, "pred", k)
    target = _as_ids(target, "target", k)
    if pred.shape != target.shape:
        raise InputError(f"label accuracy: {len(pred)} predictions for {len(target)} requested labels")
    n = len(target)
    if n == 0:
        raise InputError("label accuracy: no videos to score")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (target, pred), 1)
    correct = int(np.trace(confusion))
    per_label = {}
    for i, name in enumerate(labels):
        row = int(confusion[i].sum())
        per_label[name] = {"accuracy": (int(confusion[i, i]) / row) if row else None, "n": row}
    return {"value": correct / n, "ci95": wilson_ci95(correct, n), "n": n, "correct": correct,
            "confusion": confusion.tolist(), "per_label": per_label, "labels": labels}


def write_confusion_csv(path, result: dict) -> None:
    """``confusion.csv``: one row per requested label (``requested``, ``n``, ``accuracy``), one
    column of counts per predicted label; written atomically."""
    labels = result["labels"]
    columns = ["requested", "n", "accuracy"] + [f"predicted:{name}" for name in labels]
    rows = []
    for i, name in enumerate(labels):
        counts = result["confusion"][i]
        acc = result["per_label"][name]["accuracy"]
        rows.append({"requested": name, "n": sum(counts), "accuracy": "" if acc is None else f"{acc:.6f}",
                     **{f"predicted:{p}": c for p, c in zip(labels, counts)}})
    atomic_write_csv(path, columns, rows)
