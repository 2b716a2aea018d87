"""The weights registry: import/fetch with sha256 checks, recorded hashes, the exact command when missing."""

import dataclasses
import hashlib

import pytest
import torch
from click.testing import CliRunner

from vbench_i2v import weights as W
from vbench_i2v.cli.weights import weights_group
from vbench_i2v.errors import WeightsError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def facenet_file(tmp_path_factory):
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    m = InceptionResnetV1(pretrained=None, classify=False)
    m.logits = torch.nn.Linear(512, 8631)  # as in the published vggface2 file
    path = tmp_path_factory.mktemp("src") / "20180402-114759-vggface2.pt"
    torch.save(m.state_dict(), path)
    return path


def test_missing_weights_name_the_exact_command(home):
    with pytest.raises(WeightsError) as e:
        W.require("resnext101-kinetics")
    assert "vbench weights import resnext101-kinetics PATH/TO/resnext-101-kinetics.pth" in str(e.value)
    with pytest.raises(WeightsError) as e:
        W.require("facenet-vggface2")
    assert "`vbench weights fetch facenet-vggface2`" in str(e.value)


def test_import_records_and_checks_sha256(home, facenet_file):
    wf = W.import_file("facenet-vggface2", facenet_file)
    digest = hashlib.sha256(facenet_file.read_bytes()).hexdigest()
    assert wf.sha256 == digest and wf.path == home / "weights" / "20180402-114759-vggface2.pt"
    assert W.require("facenet-vggface2").sha256 == digest
    with open(wf.path, "ab") as fh:  # a replaced/corrupted file is caught on use
        fh.write(b"x")
    with pytest.raises(WeightsError, match="corrupt or replaced"):
        W.require("facenet-vggface2")


def test_checksum_mismatch_is_refused(home, facenet_file, monkeypatch):
    spec = dataclasses.replace(W.WEIGHTS["facenet-vggface2"], sha256="0" * 64)
    monkeypatch.setitem(W.WEIGHTS, "facenet-vggface2", spec)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        W.import_file("facenet-vggface2", facenet_file)
    assert not (home / "weights" / spec.file_name).exists()


def test_file_that_does_not_load_is_refused(home, tmp_path):
    junk = tmp_path / "junk.pth"
    torch.save({"something": torch.zeros(1)}, junk)
    with pytest.raises(WeightsError, match="does not load"):
        W.import_file("resnext101-kinetics", junk)


def test_fetch_verifies_download(home, facenet_file, monkeypatch):
    digest = hashlib.sha256(facenet_file.read_bytes()).hexdigest()
    spec = dataclasses.replace(W.WEIGHTS["facenet-vggface2"], urls=(facenet_file.as_uri(),), sha256=digest)
    monkeypatch.setitem(W.WEIGHTS, "facenet-vggface2", spec)
    assert W.fetch("facenet-vggface2").sha256 == digest
    monkeypatch.setitem(W.WEIGHTS, "facenet-vggface2", dataclasses.replace(spec, sha256="1" * 64))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        W.fetch("facenet-vggface2")


def test_cli_list_import(home, facenet_file):
    r = CliRunner().invoke(weights_group, ["import", "facenet-vggface2", str(facenet_file)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(weights_group, ["list"])
    assert r.exit_code == 0 and "facenet-vggface2" in r.output and "resnext101-kinetics" in r.output
    r = CliRunner().invoke(weights_group, ["import", "nope", str(facenet_file)])
    assert isinstance(r.exception, WeightsError) and "unknown weights" in str(r.exception)


def test_face_embedder_through_registry(home, facenet_file):
    import numpy as np

    from vbench_i2v.feature_extractors import build_identity_embedder

    W.import_file("facenet-vggface2", facenet_file)
    emb = build_identity_embedder("facenet-vggface2")
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    e, fallback = emb.embed(frames)
    assert e.shape == (3, 512) and fallback == 3  # noise has no face: whole frames embedded, counted
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert emb.weights_sha256 == hashlib.sha256(facenet_file.read_bytes()).hexdigest()
