"""`vbench metrics` / `vbench features` and compute_metrics on folders, with clear errors on bad input."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from skimage.metrics import peak_signal_noise_ratio

import vbench_i2v.feature_extractors as fx
from vbench_i2v.cli.metrics import features_cmd, metrics_cmd
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics
from vbench_i2v.video_io import write_video

from dist_fakes import MomentsExtractor as MeanStdExtractor  # the 6-d mean/std stand-in
from references import frechet_of


class MeanColourEmbedder:
    name = "facenet-vggface2"
    weights_name = "facenet-vggface2"
    weights_sha256 = "e" * 64

    def embed(self, frames):
        return np.asarray(frames, np.float64).mean(axis=(1, 2)) / 255.0, 1


@pytest.fixture
def fake_nets(monkeypatch):
    monkeypatch.setattr(fx, "build_video_extractor", lambda name, **kw: MeanStdExtractor())
    monkeypatch.setattr(fx, "build_identity_embedder", lambda name, **kw: MeanColourEmbedder())


def _folders(tmp_path, n=12, t=8, seed=0):
    rng = np.random.default_rng(seed)
    real, fake = tmp_path / "real", tmp_path / "fake"
    vids = {}
    for i in range(n):
        r = rng.integers(0, 256, (t, 24, 24, 3), dtype=np.uint8)
        f = np.clip(r.astype(int) + rng.integers(-30, 31, r.shape), 0, 255).astype(np.uint8)
        sub = "a/" if i % 2 else ""
        write_video(real / f"{sub}v{i:02d}.npz", r)
        write_video(fake / f"{sub}v{i:02d}.npz", f)
        vids[f"{sub}v{i:02d}"] = (r, f)
    return real, fake, vids


def test_metrics_cli_json(tmp_path, fake_nets):
    real, fake, vids = _folders(tmp_path)
    out = tmp_path / "res.json"
    r = CliRunner().invoke(metrics_cmd, ["--real", str(real), "--fake", str(fake), "--metrics",
                                         "fid,kid,ssim,psnr,acd-c,acd-i", "--json", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    m = res["metrics"]
    assert list(m) == ["fid", "kid", "ssim", "psnr", "acd-c", "acd-i"]
    for name, v in m.items():
        assert v["n"] == 12 and v["ci95"][0] <= v["ci95"][1]
    psnr_a = np.mean([peak_signal_noise_ratio(vids["a/v01"][0][k], vids["a/v01"][1][k], data_range=255)
                      for k in range(1, 8)])  # frame 0 is the conditioning frame: left out
    assert m["psnr"]["per_video"]["a/v01"] == pytest.approx(psnr_a, abs=1e-5)
    ex = MeanStdExtractor()
    fr = ex.features(np.stack([vids[k][0] for k in sorted(vids)]))
    ff = ex.features(np.stack([vids[k][1] for k in sorted(vids)]))
    ref = frechet_of(fr, ff)  # scipy's sqrtm (12 videos > 6 dims)
    assert m["fid"]["value"] == pytest.approx(ref, rel=1e-9)
    e = MeanColourEmbedder().embed(vids["v00"][1])[0]
    c = MeanColourEmbedder().embed(vids["v00"][0][:1])[0][0]
    assert m["acd-i"]["per_video"]["v00"] == pytest.approx(np.linalg.norm(e - c, axis=1).mean())
    prov = res["provenance"]
    assert prov["weights"] == {"resnext101-kinetics": "f" * 64, "facenet-vggface2": "e" * 64}
    assert prov["face_fallback"]["frames_without_face"] > 0
    assert not any("fewer videos than feature dimensions" in w for w in prov["warnings"])  # 12 > 6 dims


def test_same_set_fid_is_zero_and_seeded(tmp_path, fake_nets):
    real, _, _ = _folders(tmp_path)
    a = compute_metrics(real, real, ScorePlan(metrics="fid,kid,ssim", seed=3))
    b = compute_metrics(real, real, ScorePlan(metrics="fid,kid,ssim", seed=3))
    assert a.metrics["fid"]["value"] < 1e-9 and a == b
    assert a.metrics["ssim"]["value"] == pytest.approx(1.0)


def test_features_npz_in_place_of_folder(tmp_path, fake_nets):
    real, fake, _ = _folders(tmp_path)
    npz = tmp_path / "real_feats.npz"
    r = CliRunner().invoke(features_cmd, [str(real), "--out", str(npz)])
    assert r.exit_code == 0, r.output
    with np.load(npz) as z:
        assert z["features"].shape == (12, 6) and list(z["names"])[:2] == ["a/v01", "a/v03"]
        assert {"mu", "sigma"} <= set(z.files)
    via_npz = compute_metrics(npz, fake, ScorePlan(metrics="fid,kid"))
    via_dir = compute_metrics(real, fake, ScorePlan(metrics="fid,kid"))
    assert via_npz.metrics["fid"]["value"] == pytest.approx(via_dir.metrics["fid"]["value"], rel=1e-12)
    with pytest.raises(InputError, match="features file only gives set metrics \\(fid, kid"):
        compute_metrics(npz, fake, ScorePlan(metrics="ssim"))


def test_bad_inputs_give_clear_errors(tmp_path, fake_nets):
    real, fake, vids = _folders(tmp_path, n=3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no videos found"):
        compute_metrics(real, empty, ScorePlan(metrics="ssim"))
    write_video(fake / "extra.npz", vids["v00"][1])
    with pytest.raises(InputError, match="no real partner .* extra"):
        compute_metrics(real, fake, ScorePlan(metrics="psnr"))
    (fake / "extra.npz").unlink()
    write_video(fake / "v00.npz", vids["v00"][1][:5])
    with pytest.raises(InputError, match="v00: .*equal frame counts"):
        compute_metrics(real, fake, ScorePlan(metrics="ssim"))
    with pytest.raises(InputError, match="unknown metric"):
        compute_metrics(real, fake, ScorePlan(metrics="fvd-typo"))


def test_nan_features_are_refused(tmp_path, monkeypatch):
    class NaNExtractor(MeanStdExtractor):
        def features(self, videos):
            f = super().features(videos)
            f[0, 0] = np.nan
            return f

    monkeypatch.setattr(fx, "build_video_extractor", lambda name, **kw: NaNExtractor())
    real, fake, _ = _folders(tmp_path, n=3)
    with pytest.raises(InputError, match="NaN"):
        compute_metrics(real, fake, ScorePlan(metrics="fid"))


def test_cli_error_is_one_line(tmp_path, fake_nets):
    from vbench_i2v.cli import main

    real, _, _ = _folders(tmp_path, n=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    if "metrics" not in main.commands:
        main.add_command(metrics_cmd)
    r = CliRunner().invoke(main, ["metrics", "--real", str(real), "--fake", str(empty), "--metrics", "ssim"])
    assert r.exit_code == 2 and "Error:" in r.output and "no videos found" in r.output
