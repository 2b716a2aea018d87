"""The README's probe workflow on the real Weizmann clips: `vbench probes train` then
`vbench run --extractor PROBE_DIR --metrics label-acc,fid` works on the first run and on every
later one (it once failed with "features were made with 'probe:<sha>', not 'probe'"). The probe is
trained for a few steps only: the test is about the workflow, not the probe's accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "weizmann-mocogan"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DATA / "actions").is_dir(),
                       reason=f"real Weizmann clips (MoCoGAN's data/actions copy) not present at {DATA}"),
    pytest.mark.filterwarnings("ignore::UserWarning"),  # the layout's "no subject names", FID at small N
]


def _vbench(*args):
    from vbench_i2v.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_run_with_a_probe_folder_works_first_and_every_later_time(tmp_path, monkeypatch):
    from vbench_i2v.probes.folder import probe_name
    from vbench_i2v.results import load_results

    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    r = _vbench("probes", "train", "--dataset", "weizmann", "--data-root", DATA, "--out", "probe",
                "--steps", 2, "--batch", 2, "--clips-per-video", 1, "--width", 4, "--val-subjects", 0)
    assert r.exit_code == 0, r.output
    sha = json.loads((tmp_path / "probe" / "config.json").read_text())["model_sha256"]

    def run(metrics):
        return _vbench("run", "--generator", "copy-first-frame", "--dataset", "weizmann", "--data-root", DATA,
                       "--extractor", "probe", "--metrics", metrics, "--conditioning-per-video", 2,
                       "--out", "runs")

    first = run("label-acc,fid")
    assert first.exit_code == 0, first.output
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_")]
    res = load_results(run_dir)
    fid = res["metrics"]["fid"]
    assert fid["provenance"]["extractor"] == probe_name(sha) and fid["provenance"]["weights_sha256"] == sha
    assert res["metrics"]["label-acc"]["provenance"]["extractor"] == probe_name(sha)
    stored = sorted((tmp_path / "runs" / "_features").rglob("*.npz"))
    assert len(stored) == 2 * fid["n"]  # each real and fake clip's probe features, kept

    again = run("label-acc,fid")  # the finished run is found and kept
    assert again.exit_code == 0, again.output
    assert load_results(run_dir)["metrics"]["fid"] == fid

    more = run("label-acc,fid,kid")  # a later run adds a metric on the same probe from the stored features
    assert more.exit_code == 0, more.output
    res = load_results(run_dir)
    assert res["metrics"]["fid"] == fid and res["metrics"]["kid"]["provenance"]["extractor"] == probe_name(sha)
    assert sorted((tmp_path / "runs" / "_features").rglob("*.npz")) == stored
