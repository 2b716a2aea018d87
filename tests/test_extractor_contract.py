"""The extractor-catalog contract, checked for every entry of ``EXTRACTORS`` and ``IDENTITY_EMBEDDERS``.

Each entry's spec must be complete (a buildable class, a weights spec whose loader resolves as
``module:function`` and that the weights registry knows, a usable input contract, dim > 0), and
each must have a recipe in :data:`RECIPES` that shows its published weight format works through
the registry: a random network saved in the published format, ``vbench weights import``-ed, built
by name, gives the same outputs as the network it came from. Where the real size is too big for
a test (ViT-g, ViT-H), the recipe builds it on the meta device and checks the published parameter
count and feature size instead. A catalog entry without a recipe fails, so a new network has to
bring one. The network-level checks against independent forwards live in each network's own test
file (tests/test_resnext.py, tests/test_i3d.py, ...); their helpers are reused here.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v import weights as W
from vbench_i2v.catalog import metrics_using
from vbench_i2v.cli import main as vbench
from vbench_i2v.feature_extractors import EXTRACTORS, IDENTITY_EMBEDDERS, resolve_extractor
from vbench_i2v.files import sha256_file
from vbench_i2v.specs import SAMPLINGS, Resize

ENTRIES = [(f, n) for f, table in (("video", EXTRACTORS), ("identity", IDENTITY_EMBEDDERS)) for n in table]


def spec_of(family, name):
    return (IDENTITY_EMBEDDERS if family == "identity" else EXTRACTORS)[name]


def resolve(target: str):
    mod, _, attr = target.partition(":")
    assert mod and attr, f"{target!r} is not 'module:attribute'"
    return getattr(importlib.import_module(mod), attr)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def import_weights(name: str, path) -> None:
    """``vbench weights import NAME PATH``, the user's route for a file downloaded by hand."""
    r = CliRunner().invoke(vbench, ["weights", "import", name, str(path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output


def built(family, name, path, weights_name=None):
    """Import ``path`` as the entry's weights and build the entry by name; checks what the build records."""
    spec = spec_of(family, name)
    import_weights(weights_name or spec.weights.name, path)
    obj = resolve_extractor(name, family)
    assert obj.spec is spec and obj.name == name
    assert obj.weights_sha256 == sha256_file(path)
    return obj


def _video(t=16, h=32, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (1, t, h, w, 3), dtype=np.uint8)


# --- recipes ---------------------------------------------------------------------------------
def resnext_round_trip(family, name, tmp_path, monkeypatch):
    from test_resnext import _model_with_bn_statistics

    from vbench_i2v.feature_extractors.resnext3d import ResNeXtFIDExtractor, save_published

    model = _model_with_bn_statistics(0)
    path = tmp_path / "resnext-101-kinetics.pth"
    save_published(model, path)
    ex = built(family, name, path)
    v = _video()
    want = ResNeXtFIDExtractor.from_model(copy.deepcopy(model)).features(v)
    got = ex.features(v)
    assert got.shape == (1, spec_of(family, name).dim)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def probe_round_trip(family, name, tmp_path, monkeypatch):
    """The probe ships with the package; a differently seeded probe is imported in its place."""
    from vbench_i2v.feature_extractors.synthetic_probe import (ProbeIdentityEmbedder, ProbeVideoExtractor,
                                                               build_probe, save_probe)

    spec = spec_of(family, name)
    monkeypatch.setitem(W.WEIGHTS, spec.weights.name,
                        dataclasses.replace(W.WEIGHTS[spec.weights.name], packaged=None, sha256=None))
    model = build_probe(seed=1).eval()
    path = tmp_path / "probe.safetensors"
    save_probe(model, path)
    ex = built(family, name, path)
    cls = ProbeIdentityEmbedder if family == "identity" else ProbeVideoExtractor
    ref = cls.__new__(cls)  # the same class around the in-memory network
    ref.device, ref.model, ref.batch_size = torch.device("cpu"), copy.deepcopy(model), 4
    ref.dim = model.config["embed_dim" if family == "identity" else "feature_dim"]
    if family == "identity":
        frames = _video(t=3, h=64, w=64)[0]
        got, want = ex.embed(frames), ref.embed(frames)
        assert got[0].shape == (3, spec.dim) and got[1] == want[1]
        np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-6)
    else:
        v = _video(t=32, h=64, w=64)
        got, want = ex.features(v), ref.features(v)
        assert got.shape == (1, spec.dim)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def facenet_round_trip(family, name, tmp_path, monkeypatch):
    from facenet_pytorch import InceptionResnetV1

    from vbench_i2v.feature_extractors.face_identity import _whole_frame

    torch.manual_seed(0)
    m = InceptionResnetV1(pretrained=None, classify=False)
    m.logits = torch.nn.Linear(512, 8631)  # as in the published vggface2 file
    path = tmp_path / "20180402-114759-vggface2.pt"
    torch.save(m.state_dict(), path)
    ex = built(family, name, path)
    frames = _video(t=3, h=64, w=64)[0]  # noise: no face, so every frame is embedded whole
    e, fallbacks = ex.embed(frames)
    assert e.shape == (3, spec_of(family, name).dim) and fallbacks == 3
    with torch.no_grad():
        want = m.eval()(torch.stack([_whole_frame(f) for f in frames])).double().numpy()
    np.testing.assert_allclose(e, want, rtol=0, atol=1e-5)


def i3d_round_trip(family, name, tmp_path, monkeypatch):
    """One weight file serves both FVD routes; each entry builds the network with its own route."""
    from test_i3d import _model

    from vbench_i2v.feature_extractors.i3d import CONTRACTS, I3DFVDExtractor, save_published

    spec = spec_of(family, name)
    model = _model()
    path = tmp_path / "i3d_pretrained_400.pt"
    save_published(model, path)
    ex = built(family, name, path)
    route = dict(spec.build_kwargs)["route"]
    assert ex.contract == CONTRACTS[route]
    assert spec.contract.frames == (CONTRACTS[route].frames or CONTRACTS[route].min_frames)
    state = model.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in ex.model.state_dict().items())
    v = _video(t=16, h=40, w=48)
    got = ex.features(v)
    want = I3DFVDExtractor.from_model(copy.deepcopy(model), route=route).features(v)
    assert got.shape == (1, spec.dim)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def videomae_on_meta(family, name, tmp_path, monkeypatch):
    """ViT-g/14 (1.0 G parameters, 4 GB): the published size on the meta device."""
    from vbench_i2v.feature_extractors import videomae_v2 as V
    from vbench_i2v.feature_extractors.vit_video import num_parameters

    with torch.device("meta"):
        m = V.videomae_v2_giant()
    assert num_parameters(m) == 1_011_855_918  # pinned by hand count in tests/test_videomae_v2.py
    assert V.CONFIG.embed_dim == spec_of(family, name).dim == V.DIM
    assert spec_of(family, name).contract == V.CONTRACT


def vjepa_on_meta(family, name, tmp_path, monkeypatch):
    """ViT-H/16 encoder + SSv2 attentive probe (2.6 GB): published sizes on the meta device."""
    from vbench_i2v.feature_extractors import vjepa as J
    from vbench_i2v.feature_extractors.vit_video import num_parameters

    spec = spec_of(family, name)
    with torch.device("meta"):
        enc, probe = J.vjepa_vith16(), J.AttentiveClassifier()
    assert num_parameters(enc) == 633_655_040 and num_parameters(probe) == 19_901_614  # tests/test_vjepa.py
    assert probe.pooler.query_tokens.shape[-1] == spec.dim == 1280
    assert [w.name for w in spec.extra_weights] == [J.PROBE_NAME]
    assert spec.contract == J.CONTRACT


def dlib_installed(family, name, tmp_path, monkeypatch):
    """dlib-resnet's files ship inside face-recognition-models (the `dlib` extra), never imported: built
    by name from the installed package with the catalog's sha256, and frames without a face give
    dlib's own descriptor of the whole frame as a 150x150 chip (real faces: tests/test_dlib_identity.py)."""
    import importlib.util

    if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip('the optional dlib extra is not installed (pip install "vbench-i2v[dlib]")')
    import dlib
    from PIL import Image

    spec = spec_of(family, name)
    ex = resolve_extractor(name, family)
    assert ex.spec is spec and ex.weights_sha256 == spec.weights.sha256
    assert ex.extra_weights_sha256 == {w.name: w.sha256 for w in spec.extra_weights}
    frames = _video(t=3, h=64, w=64)[0]  # noise: no face
    e, fallbacks = ex.embed(frames)
    assert e.shape == (3, spec.dim) and fallbacks == 3
    rec = dlib.face_recognition_model_v1(str(W.require(spec.weights.name).path))
    want = [rec.compute_face_descriptor(np.asarray(Image.fromarray(f).resize((150, 150), Image.Resampling.BILINEAR)))
            for f in frames]
    np.testing.assert_allclose(e, np.asarray(want, np.float64), rtol=0, atol=1e-5)  # same dlib arithmetic


# (family, name) -> (what the recipe shows, function)
RECIPES = {
    ("video", "resnext101-kinetics"): ("round-trip", resnext_round_trip),
    ("video", "synthetic-probe"): ("round-trip", probe_round_trip),
    ("identity", "synthetic-probe"): ("round-trip", probe_round_trip),
    ("identity", "facenet-vggface2"): ("round-trip", facenet_round_trip),
    ("identity", "dlib-resnet"): ("installed", dlib_installed),
    ("video", "i3d-kinetics400"): ("round-trip", i3d_round_trip),
    ("video", "i3d-kinetics400-styleganv"): ("round-trip", i3d_round_trip),
    ("video", "videomae-v2-g-ssv2"): ("meta", videomae_on_meta),
    ("video", "vjepa-h16-ssv2"): ("meta", vjepa_on_meta),
}


# --- tests -----------------------------------------------------------------------------------
def _check_weight_spec(w, owner: str):
    assert w.name in W.WEIGHTS and W.WEIGHTS[w.name] == w, f"{owner}: weights {w.name!r} not in the weights registry"
    assert w.file_name and w.description.strip()
    assert callable(resolve(w.loader)), f"{owner}: loader {w.loader!r}"
    assert w.urls or w.source_page or w.packaged, f"{owner}: {w.name} says nowhere how to get the file"
    assert w.sha256 is None or (len(w.sha256) == 64 and int(w.sha256, 16) >= 0)
    assert metrics_using(w.name), f"{owner}: no registered metric runs on {w.name}"


@pytest.mark.parametrize("family, name", ENTRIES, ids=[f"{f}:{n}" for f, n in ENTRIES])
def test_spec_is_complete(family, name):
    spec = spec_of(family, name)
    assert spec.name == name and spec.family == family
    assert spec.description.strip() and spec.dim > 0 and spec.batch_size_cpu >= 1
    cls = resolve(spec.build)
    assert callable(getattr(cls, "embed" if family == "identity" else "features", None)), spec.build
    for w in (spec.weights, *spec.extra_weights):
        _check_weight_spec(w, name)
    c = spec.contract
    assert c.sampling in SAMPLINGS and isinstance(c.resize, Resize)  # an enum vbench_i2v/preprocess.py consumes
    assert c.frames is None or c.frames > 0
    assert c.size is None or (len(c.size) == 2 and min(c.size) > 0)
    assert c.value_range[0] < c.value_range[1] and len(c.mean) == len(c.std) == 3 and min(c.std) > 0
    assert c.min_frames >= 1 and c.max_aspect >= 1.0
    if c.sampling == "per-frame":
        assert family == "identity" or c.frames is None
    json.dumps(spec.provenance())  # goes into results.json as it is
    assert spec.provenance()["contract"] == c.as_dict()


@pytest.mark.parametrize("family, name", ENTRIES, ids=[f"{f}:{n}" for f, n in ENTRIES])
def test_published_format_round_trip(family, name, home, tmp_path, monkeypatch):
    if (family, name) not in RECIPES:
        pytest.fail(f"catalog entry {family}:{name} has no recipe in RECIPES in tests/test_extractor_contract.py: "
                    "save a random network in the published format, `vbench weights import` it and compare the "
                    "registry-built extractor's outputs with the network's (or, for networks too big for a test, "
                    "pin the published parameter count on the meta device)")
    _, recipe = RECIPES[(family, name)]
    recipe(family, name, tmp_path, monkeypatch)


@pytest.mark.parametrize("family, name", [e for e in ENTRIES if spec_of(*e).weights.packaged],
                         ids=[f"{f}:{n}" for f, n in ENTRIES if spec_of(f, n).weights.packaged])
def test_shipped_weights_verify_and_give_the_declared_size(family, name):
    """Weights that ship with the package match the catalog's sha256 and give ``dim`` outputs."""
    spec = spec_of(family, name)
    ex = resolve_extractor(name, family)
    assert ex.weights_sha256 == spec.weights.sha256
    if family == "identity":
        assert ex.embed(_video(t=2, h=64, w=64)[0])[0].shape == (2, spec.dim)
    else:
        assert ex.features(_video(t=32, h=64, w=64)).shape == (1, spec.dim)


def test_every_recipe_names_a_catalog_entry():
    """A recipe for a removed or renamed entry is dead weight that would hide the missing one."""
    assert set(RECIPES) <= set(ENTRIES), sorted(set(RECIPES) - set(ENTRIES))
