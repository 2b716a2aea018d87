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


# --- every refusal of `vbench weights import NAME FILE` names FILE and why (issue 19) -------------

@pytest.fixture(scope="module")
def alexnet_features(tmp_path_factory):
    """torchvision's AlexNet feature stack in the published key format (``features.*``), random
    weights: what lpips-alex reads from alexnet-owt-7be5be79.pth (the classifier keys are optional)."""
    from torchvision.models import alexnet

    torch.manual_seed(0)
    sd = {k: v for k, v in alexnet(weights=None).state_dict().items() if k.startswith("features.")}
    path = tmp_path_factory.mktemp("alex") / "alexnet-features.pth"
    torch.save(sd, path)
    return path, sd


def _cli(args, cwd):
    """`vbench ARGS` through the real entry group (one-line errors): (exit code, stderr lines)."""
    import os

    from vbench_i2v.cli import main

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2: stderr is always separate
        runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = runner.invoke(main, [str(a) for a in args], prog_name="vbench")
    finally:
        os.chdir(old)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, [line for line in r.stderr.splitlines() if line.strip()], r.stdout


def _cache_files(home):
    folder = home / "weights"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _refusal_cases(tmp, alex_sd):
    """(weights name, FILE as the user types it, words the line must hold): one per way a file can fail."""
    other = tmp / "alexnet-as-resnext.pth"
    torch.save(alex_sd, other)  # another network's weights
    wrong = tmp / "wrong-shape.pth"
    torch.save({**alex_sd, "features.0.weight": torch.zeros(64, 3, 11, 10)}, wrong)  # one tensor misshapen
    garbage = tmp / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint\n" * 40)
    truncated = tmp / "truncated.pth"
    full = tmp / "full.pth"
    torch.save(alex_sd, full)
    truncated.write_bytes(full.read_bytes()[:5000])  # a zip cut short: right container, unreadable
    empty = tmp / "empty.pth"
    empty.write_bytes(b"")
    folder = tmp / "a-folder.pth"
    folder.mkdir()
    return [
        ("resnext101-kinetics", other, ("does not load as 'resnext101-kinetics' weights", "3D-ResNets checkpoint")),
        ("facenet-vggface2", other, ("does not load as 'facenet-vggface2'", "no 'last_linear.weight'")),
        ("lpips-alex", wrong, ("does not load as 'lpips-alex'", "features.0.weight has shape (64, 3, 11, 10)",
                               "expected (64, 3, 11, 11)")),
        ("lpips-alex", garbage, ("not a PyTorch checkpoint or safetensors file", "74 68 69 73")),  # "this"
        ("lpips-alex", truncated, ("does not load as 'lpips-alex'", "a truncated or damaged zip checkpoint")),
        ("lpips-alex", empty, ("the file is empty (0 bytes)",)),
        ("lpips-alex", tmp / "missing.pth", ("does not exist",)),
        ("lpips-alex", folder, ("is a directory",)),
        ("no-such-weights", other, ("unknown weights 'no-such-weights'",)),
        ("synthetic-probe", other, ("ship with the package",)),
    ]


def test_cli_import_refusals_name_the_file_and_leave_the_cache_clean(home, tmp_path, alexnet_features):
    _, alex_sd = alexnet_features
    for name, file, words in _refusal_cases(tmp_path, alex_sd):
        code, lines, _ = _cli(["weights", "import", name, file.name], tmp_path)  # FILE relative, as typed
        assert code == 2 and len(lines) == 1 and lines[0].startswith("Error: "), (name, file, lines)
        line = lines[0]
        assert file.name in line and "vbench-tmp" not in line and str(home) not in line, line
        for w in words:
            assert w in line, (w, line)
        assert _cache_files(home) == [], (name, file, _cache_files(home))  # no temp, no partial file


def test_cli_import_checks_the_published_sha256_and_size_naming_the_file(home, tmp_path, alexnet_features,
                                                                         monkeypatch):
    path, _ = alexnet_features
    good = dataclasses.replace(W.WEIGHTS["lpips-alex"])
    monkeypatch.setitem(W.WEIGHTS, "lpips-alex", dataclasses.replace(good, sha256="0" * 64))
    code, lines, _ = _cli(["weights", "import", "lpips-alex", path], tmp_path)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"Error: {path}: sha256 mismatch"), lines
    monkeypatch.setitem(W.WEIGHTS, "lpips-alex", dataclasses.replace(good, size=123))
    code, lines, _ = _cli(["weights", "import", "lpips-alex", path], tmp_path)
    assert code == 2 and lines == [f"Error: {path}: {path.stat().st_size} bytes, but 'lpips-alex' weights "
                                   f"(alexnet-owt-7be5be79.pth) are 123 bytes; refusing the file"], lines
    assert _cache_files(home) == []


def test_a_refused_import_keeps_the_installed_file(home, tmp_path, alexnet_features):
    path, _ = alexnet_features
    code, _, out = _cli(["weights", "import", "lpips-alex", path], tmp_path)
    assert code == 0 and "imported" in out
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert _cache_files(home) == ["alexnet-owt-7be5be79.pth", "alexnet-owt-7be5be79.pth.sha256"]
    (tmp_path / "garbage.pth").write_bytes(b"\x00" * 64)
    code, lines, _ = _cli(["weights", "import", "lpips-alex", "garbage.pth"], tmp_path)
    assert code == 2 and lines[0].startswith("Error: garbage.pth: ")
    assert _cache_files(home) == ["alexnet-owt-7be5be79.pth", "alexnet-owt-7be5be79.pth.sha256"]
    assert W.require("lpips-alex").sha256 == digest  # untouched, still verifies


def test_fetch_refusals_name_the_url(home, tmp_path, monkeypatch):
    bad = tmp_path / "download.pth"
    bad.write_bytes(b"<html>not found</html>")
    spec = dataclasses.replace(W.WEIGHTS["lpips-alex"], urls=(bad.as_uri(),))
    monkeypatch.setitem(W.WEIGHTS, "lpips-alex", spec)
    with pytest.raises(WeightsError) as info:
        W.fetch("lpips-alex")
    msg = str(info.value)
    assert msg.startswith(f"{bad.as_uri()}: does not load as 'lpips-alex'") and "vbench-tmp" not in msg, msg
    assert _cache_files(home) == []
