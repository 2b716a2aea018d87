"""label-acc: does a generated clip show the label it was conditioned on? A probe classifier trained
on the dataset's training split (``vbench probes train``) predicts each clip's label; the value is
the share of clips whose prediction is the requested label (Wilson 95% interval), and the same
accuracy on the real test clips is reported beside it as the ceiling.
"""

from vbench_i2v.metrics.registry import MetricSpec, register

NAME = "label-acc"


class _ShippedProbeClassifier:
    """The shipped synthetic probe's expression head as a classifier (synthetic labels order)."""

    def __init__(self, device):
        from vbench_i2v import feature_extractors
        from vbench_i2v.datasets import get_dataset

        self.extractor = feature_extractors.build_video_extractor("synthetic-probe", device=device)
        self.name = self.extractor.name
        self.weights_sha256 = self.extractor.weights_sha256
        self.labels = list(get_dataset("synthetic").labels)
        self.has_class_head = True

    def predict(self, videos):
        return self.extractor.expression_logits(videos).argmax(1)


def build_classifier(extractor, identity, device, ctx):
    """The classifier (catalog family ``classifier``): a probe folder or probe object with a class
    head; ``synthetic-probe`` uses the shipped one."""
    from pathlib import Path

    from vbench_i2v.errors import InputError

    if extractor is not None and not isinstance(extractor, (str, Path)) and hasattr(extractor, "predict"):
        model = extractor
    elif isinstance(extractor, (str, Path)) and Path(str(extractor)).is_dir():
        from vbench_i2v.probes import load_probe_folder

        model = load_probe_folder(Path(str(extractor)), device=device)
    elif extractor == "synthetic-probe":
        model = _ShippedProbeClassifier(device)
    else:
        raise InputError(f"{NAME}: needs a probe with a class head: pass --extractor PROBE_DIR (trained by "
                         "`vbench probes train --dataset NAME`), or --extractor synthetic-probe on the synthetic "
                         f"dataset (got {extractor!r})")
    if not getattr(model, "has_class_head", False):
        raise InputError(f"{NAME}: the probe {getattr(model, 'name', extractor)} has no class head "
                         "(its dataset has no labels)")
    return model


def _per_video(item, ctx) -> float:
    import numpy as np

    model = ctx.model("classifier")
    pred = int(model.predict(item.fake[None])[0])
    rec = {"pred": pred, "target": int(item.label)}
    if item._real is not None:
        rec["real_pred"] = int(model.predict(np.asarray(item.real)[None])[0])
    ctx.record(NAME, item.name, rec)
    return float(pred == int(item.label))


def _summarize(values: dict, ctx) -> dict:
    from vbench_i2v.metrics.label_accuracy import label_accuracy

    recs = ctx.records[NAME]
    names = list(values)
    labels = ctx.model("classifier").labels
    targets = [recs[n]["target"] for n in names]
    res = label_accuracy([recs[n]["pred"] for n in names], targets, labels)
    out = {"value": res["value"], "ci95": res["ci95"], "n": res["n"], "per_video": dict(values),
           "interval": "Wilson score 95%", "labels": res["labels"], "confusion": res["confusion"],
           "per_label": res["per_label"]}
    if all("real_pred" in recs[n] for n in names):
        ceil = label_accuracy([recs[n]["real_pred"] for n in names], targets, labels)
        out["real_ceiling"] = {"value": ceil["value"], "ci95": ceil["ci95"], "n": ceil["n"]}
    return out


def _artifacts(result: dict, folder) -> list:
    """``confusion.csv`` beside the run's results (requested label x predicted label)."""
    from pathlib import Path

    from vbench_i2v.metrics.label_accuracy import write_confusion_csv

    if "confusion" not in result:
        return []
    path = Path(folder) / "confusion.csv"
    write_confusion_csv(path, result)
    return [path]


register(MetricSpec(
    name=NAME, kind="conditioned", higher_is_better=True, decimals=3, needs=("label",),
    needs_model="classifier",
    description="share of generated clips a probe trained on the training split classifies as the requested "
                "label (Wilson 95%); the real test clips' accuracy is reported as the ceiling",
    per_video=_per_video, summarize=_summarize, artifacts=_artifacts,
))
