"""The engine is the one owner of scoring: it knows no metric or network by name, decodes each clip
once per `vbench run`, gives every metric a measurement id, and `vbench metrics --json` and a run's
results.json carry the same per-metric objects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dist_fakes import MeanColourEmbedder, MomentsExtractor

import vbench_i2v.feature_extractors as fx
from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS, MODEL_FAMILIES
from vbench_i2v.metrics import engine
from vbench_i2v.metrics.engine import compute_metrics
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.registry import MetricSpec, all_metrics

ENGINE = Path(engine.__file__)


def _names_in(text: str, names) -> list[str]:
    """Each name found in ``text`` as a whole token (case-insensitive; '-' and '_' join tokens)."""
    return [n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE)]


def test_engine_names_no_metric_network_or_model_family():
    text = ENGINE.read_text(encoding="utf-8")
    metric_names = list(all_metrics())
    from vbench_i2v import catalog as cat
    from vbench_i2v.specs import ExtractorSpec, WeightSpec

    networks = set(EXTRACTORS) | set(IDENTITY_EMBEDDERS) | set(cat.all_weight_specs())
    for table in vars(cat).values():  # every table of networks the catalog keeps (image networks, ...)
        if isinstance(table, dict) and table and all(isinstance(v, (ExtractorSpec, WeightSpec)) for v in table.values()):
            networks |= set(table)
    networks = sorted(networks)
    families = sorted(set(MODEL_FAMILIES) | {s.needs_model for s in all_metrics().values() if s.needs_model})
    assert _names_in(text, metric_names) == [], "metric names in engine.py: move that knowledge onto the MetricSpec"
    assert _names_in(text, networks) == [], "network names in engine.py: move that knowledge into the catalog"
    quoted = [f for f in families if re.search(rf"""["']{re.escape(f)}["']""", text)]
    assert quoted == [], "model family literals in engine.py: the catalog's builders own them"
    # the scan is not vacuous: it finds the names where they are declared
    assert _names_in(Path(all_metrics()["fid"].set_level.__code__.co_filename).read_text(), ["fid"]) == ["fid"]
    assert set(_names_in(Path(cat.__file__).read_text(), EXTRACTORS)) == set(EXTRACTORS)


def test_reduction_follows_the_kind_and_is_checked():
    assert all(s.reduction == ("features" if s.kind == "set" else "per-video") for s in all_metrics().values())
    spec = MetricSpec(name="x", kind="paired", higher_is_better=True, decimals=1, description="x",
                      per_video=lambda item, ctx: 0.0)
    assert spec.reduction == "per-video"
    with pytest.raises(ValueError, match="reduction"):
        MetricSpec(name="x", kind="set", higher_is_better=True, decimals=1, description="x",
                   set_level=lambda r, f, c: {}, reduction="per-video")


def test_compute_metrics_takes_a_plan():
    with pytest.raises(TypeError, match="ScorePlan"):
        compute_metrics({}, {}, "ssim")


@pytest.fixture
def fake_nets(monkeypatch):
    monkeypatch.setattr(fx, "build_video_extractor", lambda name, **kw: MomentsExtractor())
    monkeypatch.setattr(fx, "build_identity_embedder", lambda name, **kw: MeanColourEmbedder())


def _videos(n=8, t=5, seed=0):
    rng = np.random.default_rng(seed)
    real = {f"v{i}": rng.integers(0, 256, (t, 16, 16, 3), dtype=np.uint8) for i in range(n)}
    fake = {k: np.clip(v.astype(int) + rng.integers(-25, 26, v.shape), 0, 255).astype(np.uint8)
            for k, v in real.items()}
    return real, fake


def test_measurement_ids_follow_how_each_number_was_measured(fake_nets):
    from vbench_i2v.results import measurement_id

    real, fake = _videos()
    base = ScorePlan(metrics="fid,kid,ssim,acd-c", bootstrap_reps=20, set_bootstrap_reps=5)

    def ids(plan):
        res = compute_metrics(real, fake, plan).metrics
        for m in res.values():  # the stored id is the one recomputed from the stored provenance
            assert m["measurement"] == measurement_id(json.loads(json.dumps(m)))
        return {k: m["measurement"] for k, m in res.items()}

    a = ids(base)
    assert a == ids(base) and len(set(a.values())) == 4
    frames = ids(base.with_(include_conditioning_frame=True))  # ssim scores other frames; fid, kid do not
    assert frames["ssim"] != a["ssim"] and frames["fid"] == a["fid"] and frames["kid"] == a["kid"]
    subsets = ids(base.with_(kid_subsets=7))  # changes KID's value only
    assert subsets["kid"] != a["kid"] and subsets["fid"] == a["fid"] and subsets["ssim"] == a["ssim"]
    reps = ids(base.with_(bootstrap_reps=30))  # every interval's resampling
    assert all(reps[k] != a[k] for k in a)


def test_each_metric_carries_its_network_and_warnings(fake_nets):
    real, fake = _videos(n=4)  # 4 videos, 6-d features: FID warns about its bias
    res = compute_metrics(real, fake, ScorePlan(metrics="fid,ssim,acd-c", bootstrap_reps=10, set_bootstrap_reps=5))
    fid, ssim, acd = (res.metrics[m]["provenance"] for m in ("fid", "ssim", "acd-c"))
    assert (fid["extractor"], fid["weights_sha256"], fid["precision"]) == ("resnext101-kinetics", "f" * 64, "fp32")
    assert fid["contract"] is None or "note" not in fid["contract"]
    assert any("fewer videos than feature dimensions" in w for w in fid["warnings"]) and ssim["warnings"] == []
    assert (ssim["extractor"], ssim["paired_frames"]) == (None, "predicted") and fid["paired_frames"] is None
    assert (acd["extractor"], acd["weights_sha256"]) == ("facenet-vggface2", "e" * 64)
    assert res.metrics["acd-c"]["face_fallback"]["frames"] == 4 * 5


# ----------------------------------------------------------------------------- in a run

def _spy_decoder(monkeypatch) -> dict:
    from vbench_i2v.metrics import sources

    decoded: dict[str, int] = {}
    real_read = sources.read_video

    def spy(path, *a, **kw):
        decoded[str(Path(path).resolve())] = decoded.get(str(Path(path).resolve()), 0) + 1
        return real_read(path, *a, **kw)

    monkeypatch.setattr(sources, "read_video", spy)
    return decoded


def test_one_decode_per_clip_per_run_and_results_equal_vbench_metrics_json(tmp_path, monkeypatch):
    from vbench_i2v.cli import main
    from vbench_i2v.results import load_results
    from vbench_i2v.run import RunSpec, execute

    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    decoded = _spy_decoder(monkeypatch)
    metrics = ["ssim", "psnr", "fid", "kid", "acd-c", "label-acc"]  # pixels, one feature network, two models
    res = execute(RunSpec(generator="copy-first-frame", dataset="synthetic", metrics=metrics,
                          extractor="synthetic-probe", max_videos=3, conditioning_per_video=1,
                          out=str(tmp_path / "runs"), device="cpu", batch_size=2))
    run_dir = tmp_path / "runs" / res["run_id"]
    clips = sorted(p.resolve() for side in ("real", "fake") for p in (run_dir / side).glob("*.npz"))
    assert len(clips) == 6
    assert {Path(k): v for k, v in decoded.items()} == {p: 1 for p in clips}  # every clip decoded exactly once
    store = tmp_path / "runs" / "_features"
    assert len(list(store.rglob("*.npz"))) == 6  # real and fake features of the one network, kept
    assert (run_dir / "confusion.csv").is_file()  # label-acc's artifact

    # a finished run gains a metric from the clips on disk: again one decode each, features from the store
    decoded.clear()
    more = execute(RunSpec(generator="copy-first-frame", dataset="synthetic", metrics=metrics + ["acd-i"],
                           extractor="synthetic-probe", max_videos=3, conditioning_per_video=1,
                           out=str(tmp_path / "runs"), device="cpu", batch_size=2))
    assert more["run_id"] == res["run_id"] and "acd-i" in more["metrics"]
    assert all(v == 1 for v in decoded.values())

    # the same clips through `vbench metrics --json`: the same per-metric objects as results.json
    out = tmp_path / "m.json"
    r = CliRunner().invoke(main, ["metrics", "--real", str(run_dir / "real"), "--fake", str(run_dir / "fake"),
                                  "--conditioning", str(run_dir / "cond"), "--labels", str(run_dir / "clips.csv"),
                                  "--extractor", "synthetic-probe", "--metrics", ",".join(metrics),
                                  "--cache", str(store), "--json", str(out)])
    assert r.exit_code == 0, r.output
    cli = json.loads(out.read_text())["metrics"]
    on_disk = load_results(run_dir)["metrics"]
    for m in metrics:
        assert cli[m] == on_disk[m], m
