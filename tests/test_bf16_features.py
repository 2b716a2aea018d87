"""`--bf16` for feature networks: opt-in, close to fp32, recorded, never mixed with fp32 features.

The ResNeXt-101 here is randomly initialised (with non-trivial BatchNorm statistics), saved in the
published checkpoint format and imported with `vbench weights import`, the user's route.
"""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v.cli import main as vbench
from vbench_i2v.errors import InputError
from vbench_i2v.feature_extractors.resnext3d import resnext101, save_published
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.engine import compute_metrics
from vbench_i2v.metrics.features import features_file
from vbench_i2v.metrics.sources import FeatureFile
from vbench_i2v.video_io import write_video

NAME = "resnext101-kinetics"
# bf16 keeps 8 bits of mantissa; through 101 layers of random weights the features were measured
# ~5e-3 relative off fp32 (max abs diff / max |feature|); 3e-2 leaves room for other inputs.
BF16_REL_TOL = 3e-2


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bf16")
    mp = pytest.MonkeyPatch()
    # the home conftest gives every test (set here too: module fixtures run before its autouse one)
    mp.setenv("VBENCH_I2V_HOME", str(tmp_path_factory.getbasetemp() / "vbench_home"))
    torch.manual_seed(0)
    model = resnext101().eval()
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm3d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    save_published(model, root / "resnext-101-kinetics.pth")
    r = CliRunner().invoke(vbench, ["weights", "import", NAME, str(root / "resnext-101-kinetics.pth")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rng = np.random.default_rng(0)
    for side in ("real", "fake"):
        for i in range(2):
            write_video(root / side / f"c{i}.npz", rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8))
    yield root
    mp.undo()


@pytest.mark.slow  # bf16 is emulated on CPUs without native bf16: ~25 s per clip there
def test_bf16_features_close_to_fp32_and_recorded(setup):
    fp = features_file(setup / "real", NAME, setup / "fp32.npz", batch_size=2)
    bf = features_file(setup / "real", NAME, setup / "bf16.npz", batch_size=2, bf16=True)
    assert not fp.bf16 and bf.bf16
    assert FeatureFile.load(setup / "bf16.npz").bf16 and not FeatureFile.load(setup / "fp32.npz").bf16
    rel = np.abs(bf.features - fp.features).max() / np.abs(fp.features).max()
    assert 0 < rel < BF16_REL_TOL, rel  # > 0: the bf16 path really ran


def _saved(path, bf16: bool) -> FeatureFile:
    f = np.random.default_rng(1).normal(size=(3, 64))  # small: FID's sqrtm stays cheap
    ff = FeatureFile(path, f, ["c0", "c1", "c2"], f.mean(0), np.cov(f, rowvar=False), NAME, "", bf16=bf16)
    ff.save()
    return ff


def test_bf16_in_provenance_and_files_not_mixed(setup):
    bf, fp = _saved(setup / "saved_bf16.npz", True), _saved(setup / "saved_fp32.npz", False)
    assert FeatureFile.load(bf.path).bf16 and not FeatureFile.load(fp.path).bf16
    res = compute_metrics(bf.path, bf.path, ScorePlan(metrics=["fid"], bf16=True, set_bootstrap_reps=5))
    assert res.provenance["extractors"][NAME]["bf16"] is True
    res = compute_metrics(fp.path, fp.path, ScorePlan(metrics=["fid"], set_bootstrap_reps=5))
    assert res.provenance["extractors"][NAME]["bf16"] is False
    with pytest.raises(InputError, match="made in bf16.*pass --bf16"):  # refused before any network runs
        compute_metrics(bf.path, setup / "fake", ScorePlan(metrics=["fid"], set_bootstrap_reps=5))
    with pytest.raises(InputError, match="made in fp32.*drop --bf16"):
        compute_metrics(fp.path, setup / "fake", ScorePlan(metrics=["fid"], bf16=True, set_bootstrap_reps=5))


def test_network_without_bf16_mode_is_one_line(setup):
    r = CliRunner().invoke(vbench, ["features", str(setup / "real"), "--extractor", "synthetic-probe", "--bf16",
                                    "--out", str(setup / "x.npz")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: synthetic-probe has no bf16 mode"
