"""FVD routes, KVD and FID-inf/FVD-inf through the metric engine, against independent computations.

A randomly initialised I3D saved in the published key format is imported with the registry
(``vbench weights import i3d-kinetics400``); the engine's FVD must equal scipy's sqrtm-based
Frechet distance on features computed here from the same network, with each route's covariance
normaliser, and FVD of a set against itself is 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from references import frechet_of, mmd2_unbiased
from vbench_i2v import weights
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics


def _videos(seed, n, t=16, size=48):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1, size, size, 3))
    drift = rng.integers(-20, 21, (n, t, 1, 1, 3))
    return {f"v{i:02d}": np.clip(base[i] + drift[i], 0, 255).astype(np.uint8) for i in range(n)}


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory):
    from vbench_i2v.feature_extractors.i3d import i3d, save_published

    home = tmp_path_factory.mktemp("i3d")
    torch.manual_seed(0)
    model = i3d().eval()
    with torch.no_grad():  # non-trivial BN statistics so the test sees their use
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = home / "i3d_pretrained_400.pt"
    save_published(model, path)
    return model, path


@pytest.fixture
def i3d_home(i3d_file):
    """The random I3D imported into this test's cache (conftest gives each test its own home)."""
    model, path = i3d_file
    weights.import_file("i3d-kinetics400", path)
    return model


@pytest.mark.slow
def test_fvd_routes_equal_scipy_frechet_on_independent_features(i3d_home):
    from vbench_i2v.feature_extractors.i3d import I3DFVDExtractor

    real, fake = _videos(1, 5), _videos(2, 5)
    res = compute_metrics(real, fake, ScorePlan(metrics="fvd,fvd-styleganv,kvd", seed=0, kid_subset_size=1000,
                          set_bootstrap_reps=5, bootstrap_reps=5))
    m = res.metrics
    for route, name, ddof in (("fvd", "fvd", 1), ("fvd-styleganv", "fvd-styleganv", 0)):
        ex = I3DFVDExtractor.from_model(i3d_home, route=route, fast=False)
        fr = ex.features(np.stack([real[k] for k in sorted(real)]))
        ff = ex.features(np.stack([fake[k] for k in sorted(fake)]))
        assert m[name]["value"] == pytest.approx(frechet_of(fr, ff, ddof), rel=1e-6, abs=1e-6)
        assert m[name]["provenance"]["extractor"] == ("i3d-kinetics400" if route == "fvd" else "i3d-kinetics400-styleganv")
    # KVD: one subset holding every video = the full unbiased MMD^2 with k(x,y) = (x.y/d + 1)^3
    ex = I3DFVDExtractor.from_model(i3d_home, route="fvd", fast=False)
    x = ex.features(np.stack([real[k] for k in sorted(real)]))
    y = ex.features(np.stack([fake[k] for k in sorted(fake)]))
    assert m["kvd"]["value"] == pytest.approx(mmd2_unbiased(x, y), rel=1e-6, abs=1e-9)
    assert m["kvd"]["subset_size"] == 5
    prov = res.provenance["extractors"]
    assert prov["i3d-kinetics400"]["contract"]["size"] == [224, 224]
    assert prov["i3d-kinetics400-styleganv"]["contract"]["frames"] == 16
    assert any("fewer videos than feature dimensions" in w for w in res.provenance["warnings"])


@pytest.mark.slow
def test_fvd_of_a_set_against_itself_is_zero_and_short_clips_are_refused(i3d_home):
    from vbench_i2v.errors import InputError

    real = _videos(3, 4, t=10)
    res = compute_metrics(real, dict(real), ScorePlan(metrics="fvd", set_bootstrap_reps=5))
    assert res.metrics["fvd"]["value"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(InputError, match="needs at least 9"):
        compute_metrics(_videos(4, 3, t=8), _videos(5, 3, t=8), ScorePlan(metrics="fvd"))


class _Linear:
    """A tiny extractor object: fixed random projection of the mean colour track."""

    name = "linear-probe-test"
    dim = 5

    def __init__(self):
        self.w = np.random.default_rng(0).normal(size=(3 * 8, 5))

    def features(self, videos):
        v = np.asarray(videos, np.float64)[:, :8].mean(axis=(2, 3)).reshape(len(videos), -1) / 255
        return v @ self.w


def test_fid_inf_is_the_intercept_of_its_reported_points():
    real, fake = _videos(6, 30, t=8, size=16), _videos(7, 30, t=8, size=16)
    res = compute_metrics(real, fake, ScorePlan(metrics="fid-inf,fid", extractor=_Linear(), set_bootstrap_reps=5))
    r = res.metrics["fid-inf"]
    pts = np.array(r["points"], float)
    fit = scipy.stats.linregress(1.0 / pts[:, 0], pts[:, 1])
    assert r["value"] == pytest.approx(fit.intercept, rel=1e-9, abs=1e-12)
    assert r["ns"][-1] == 30 and r["ns"][0] == 6 and len(r["ns"]) == 10
    ex = _Linear()
    fr = ex.features(np.stack([real[k] for k in sorted(real)]))
    ff = ex.features(np.stack([fake[k] for k in sorted(fake)]))
    full = [p for p in r["points"] if p[0] == 30]
    assert full[0][1] == pytest.approx(frechet_of(ff, fr, 1), rel=1e-6)
    assert res.metrics["fid"]["value"] == pytest.approx(frechet_of(fr, ff, 1), rel=1e-6)
    assert "not ResNeXt-101" in res.provenance["extractor_note"]
