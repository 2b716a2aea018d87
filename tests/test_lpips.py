"""LPIPS: our network equals the `lpips` package (0.1.4) on the same random ImageNet trunk.

The published trunks cannot be downloaded here, so each test builds a randomly initialised
torchvision AlexNet / VGG16, saves it in torchvision's state-dict format, loads it through our
loader, and injects the same weights into ``lpips.LPIPS(pnet_rand=True)`` (whose calibration
layers are the real shipped v0.1 ones). Both sides then score the same 64x64 frames.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

torchvision = pytest.importorskip("torchvision", reason="the reference trunks come from torchvision (test extra)")
lpips = pytest.importorskip("lpips", reason="the reference LPIPS is the `lpips` package (test extra)")

from tests.conftest import smooth_video  # noqa: E402
from vbench_i2v import weights as W  # noqa: E402
from vbench_i2v.errors import InputError, WeightsError  # noqa: E402
from vbench_i2v.feature_extractors import lpips_net  # noqa: E402
from vbench_i2v.feature_extractors.lpips_net import LPIPS, LPIPSAlex, load_backbone, packaged_lin_path  # noqa: E402
from vbench_i2v.metrics.lpips_metric import lpips_paired, lpips_to_conditioning  # noqa: E402
from vbench_i2v.specs import WeightSpec  # noqa: E402

TOL = 1e-5
# lpips 0.1.4 builds its trunks with torchvision's old ``pretrained=`` argument
pytestmark = pytest.mark.filterwarnings("ignore:.*(deprecated since 0.13):UserWarning")


def _reference(net: str, features: torch.nn.Sequential):
    """The lpips package's model with its trunk slices loaded from ``features`` (same indices)."""
    ref = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    copied = 0
    for k in range(1, 6):
        for name, mod in getattr(ref.net, f"slice{k}").named_children():
            mod.load_state_dict(features[int(name)].state_dict())
            copied += sum(1 for _ in mod.parameters())
    assert copied == sum(1 for _ in features.parameters())  # every trunk tensor went across
    return ref.eval()


def _ref_distance(ref, x, y) -> np.ndarray:
    with torch.no_grad():
        return ref(x, y).flatten().double().numpy()


@pytest.fixture(scope="module")
def alex(tmp_path_factory):
    """A random AlexNet: ``full`` saved whole (features + classifier, 233 MB) exactly as torchvision
    saves it; ``path`` the same weights without the classifier (10 MB), quicker to load in most tests."""
    torch.manual_seed(0)
    model = torchvision.models.alexnet()
    folder = tmp_path_factory.mktemp("alex")
    full, path = folder / "alexnet-owt-7be5be79.pth", folder / "alexnet-features.pth"
    torch.save(model.state_dict(), full)
    torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    return SimpleNamespace(path=path, full=full, ref=_reference("alex", model.features))


@pytest.fixture(scope="module")
def vgg(tmp_path_factory):
    """A random VGG16 feature stack in torchvision's key format (the 100M-weight classifier is left out)."""
    torch.manual_seed(1)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])
    path = tmp_path_factory.mktemp("vgg") / "vgg16-397923af.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path, _reference("vgg", features)


def _frames(seed: int, n: int = 6, side: int = 64) -> np.ndarray:
    return smooth_video(t=n, h=side, w=side, seed=seed)


def _model_input(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


# --- the network against the reference ---------------------------------------------------------

def test_alexnet_equals_lpips_package(alex):
    ours = LPIPS("alex", backbone_path=alex.full)  # the whole torchvision file: classifier ignored
    ref = alex.ref
    a = _frames(0)
    noisy = np.clip(a.astype(int) + np.random.default_rng(0).integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    x, y1, y2 = _model_input(a), _model_input(noisy), _model_input(_frames(5))
    for y in (y1, y2):
        want = _ref_distance(ref, x, y)
        got = ours.distance(x, y).double().numpy()
        assert np.abs(got - want).max() < TOL, (got, want)
    # the two pairs really differ in size (the check is not on a constant)
    assert _ref_distance(ref, x, y1).max() < 0.5 * _ref_distance(ref, x, y2).min()


def test_vgg16_equals_lpips_package(vgg):
    path, ref = vgg
    ours = LPIPS("vgg", backbone_path=path)
    x, y = _model_input(_frames(2, n=1)), _model_input(_frames(3, n=1))
    want = _ref_distance(ref, x, y)
    got = ours.distance(x, y).double().numpy()
    assert want[0] > 0.01 and abs(got[0] - want[0]) < TOL, (got, want)


def test_constants_and_calibration_match_the_package(alex):
    path, ref = alex.path, alex.ref
    ours = LPIPS("alex", backbone_path=path)
    assert torch.equal(ref.scaling_layer.shift.flatten(), ours.shift.flatten())
    assert torch.equal(ref.scaling_layer.scale.flatten(), ours.scale.flatten())
    for i, w in enumerate(ours.lins):
        assert torch.equal(ref.lins[i].model[1].weight, w)  # the shipped v0.1 alex.pth lin layers
    assert packaged_lin_path("alex").parts[-3:] == ("weights", "v0.1", "alex.pth")


def test_identical_images_score_zero(alex):
    ours = LPIPS("alex", backbone_path=alex.path)
    x = _model_input(_frames(4))
    assert torch.equal(ours.distance(x, x), torch.zeros(len(x)))


def test_batching_and_one_reference_image_broadcast(alex):
    path, ref = alex.path, alex.ref
    x, y = _model_input(_frames(6, n=7)), _model_input(_frames(7, n=1))
    whole = LPIPS("alex", backbone_path=path).distance(x, y)
    chunked = LPIPS("alex", backbone_path=path, batch_size=3).distance(x, y)
    assert torch.allclose(whole, chunked, atol=1e-6, rtol=0)
    assert np.abs(whole.double().numpy() - _ref_distance(ref, x, y.expand(7, -1, -1, -1))).max() < TOL


# --- input contract ----------------------------------------------------------------------------

def test_input_contract(alex, vgg):
    ours = LPIPS("alex", backbone_path=alex.path)
    c = ours.contract  # the project's InputContract: written into provenance
    assert (c.value_range, c.size, c.sampling) == ((-1.0, 1.0), None, "per-frame")
    assert (c.mean, c.std) == (lpips_net.SHIFT, lpips_net.SCALE)
    assert ours.net.min_side == 31 and LPIPS("vgg", backbone_path=vgg[0]).net.min_side == 16
    c.check_clip((2, 64, 200, 3), "wide clip")  # the spatial average does not care about aspect
    # 31 is the smallest side AlexNet-LPIPS can score; the package itself fails at 30
    ok, small = torch.zeros(1, 3, 31, 31), torch.zeros(1, 3, 30, 30)
    assert abs(float(ours.distance(ok, ok + 0.5)) - _ref_distance(alex.ref, ok, ok + 0.5)[0]) < TOL
    with pytest.raises(RuntimeError):
        alex.ref(small, small)
    with pytest.raises(InputError, match="too small"):
        ours.distance(small, small)
    # VGG16-LPIPS: 16 is the smallest side (four 2x2 pools before relu5_3); the package fails at 15
    v16, v15 = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 15, 15)
    assert abs(float(LPIPS("vgg", backbone_path=vgg[0]).distance(v16, v16 + 0.5))
               - _ref_distance(vgg[1], v16, v16 + 0.5)[0]) < TOL
    with pytest.raises(RuntimeError):
        vgg[1](v15, v15)
    x = torch.zeros(2, 3, 64, 64)
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        ours.distance(x, x + 1.5)  # 0..255 or 0..1 pixels by mistake
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        ours.distance(x, torch.full_like(x, float("nan")))
    with pytest.raises(InputError, match="cannot pair"):
        ours.distance(x, torch.zeros(3, 3, 64, 64))
    with pytest.raises(InputError, match="N >= 1"):
        ours.distance(x[:0], x[:0])


# --- loaders -----------------------------------------------------------------------------------

def test_strict_backbone_keys_name_the_file(alex, vgg, tmp_path):
    with pytest.raises(WeightsError, match="vgg16-397923af.pth") as e:
        load_backbone(vgg[0], "alex")  # the wrong network's file
    assert "missing" in str(e.value)
    sd = torch.load(alex.path, weights_only=True)  # the feature keys
    short = tmp_path / "short.pth"
    torch.save({k: v for k, v in sd.items() if k != "features.10.bias"}, short)
    with pytest.raises(WeightsError, match=r"short\.pth.*missing \['features\.10\.bias'\]"):
        load_backbone(short, "alex")
    extra = tmp_path / "extra.pth"
    torch.save({**sd, "fc.weight": torch.zeros(1)}, extra)
    with pytest.raises(WeightsError, match=r"extra\.pth.*unexpected \['fc\.weight'\]"):
        load_backbone(extra, "alex")
    shape = tmp_path / "shape.pth"
    torch.save({**sd, "features.0.weight": torch.zeros(64, 3, 3, 3)}, shape)
    with pytest.raises(WeightsError, match=r"shape\.pth.*features\.0\.weight"):
        load_backbone(shape, "alex")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"junk\.pth"):
        load_backbone(junk, "alex")
    trunk = load_backbone(alex.full, "alex")  # classifier keys ignored, feature keys all loaded
    assert all(torch.equal(v, sd[k]) for k, v in trunk.state_dict().items())


def test_missing_lpips_package_is_a_clear_error(monkeypatch, alex):
    real = lpips_net.importlib.util.find_spec
    monkeypatch.setattr(lpips_net.importlib.util, "find_spec", lambda n, *a: None if n == "lpips" else real(n, *a))
    with pytest.raises(WeightsError, match="pip install lpips"):
        LPIPS("alex", backbone_path=alex.path)


def test_packaged_calibration_is_lpips_014s(monkeypatch, alex):
    monkeypatch.setitem(lpips_net.LIN_SHA256, "alex", "0" * 64)
    with pytest.raises(WeightsError, match=r"alex\.pth: sha256 df73285e35b2\.\.\. is not lpips 0\.1\.4's"):
        LPIPS("alex", backbone_path=alex.path)


def test_lin_file_keys_are_checked(tmp_path, alex):
    bad = tmp_path / "lin.pth"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, bad)
    with pytest.raises(WeightsError, match=r"lin\.pth.*not LPIPS v0\.1 alex lin weights"):
        LPIPS("alex", backbone_path=alex.path, lin_path=bad)
    with pytest.raises(WeightsError, match=r"vgg\.pth.*shape"):
        LPIPS("alex", backbone_path=alex.path, lin_path=packaged_lin_path("vgg"))


def test_registry_import_then_default_path(tmp_path, monkeypatch, alex):
    """`vbench weights import lpips-alex FILE` validates with our loader; LPIPS() then finds the file."""
    monkeypatch.setenv("VBENCH_I2V_HOME", str(tmp_path / "home"))
    spec = W.WEIGHTS.get("lpips-alex") or WeightSpec(
        name="lpips-alex", file_name="alexnet-owt-7be5be79.pth", description="test",
        loader="vbench_i2v.feature_extractors.lpips_net:load_alexnet_backbone")
    monkeypatch.setitem(W.WEIGHTS, "lpips-alex", dataclasses.replace(spec, sha256=None, size=None))
    with pytest.raises(WeightsError, match="lpips-alex"):
        LPIPS("alex")
    with pytest.raises(WeightsError, match="lpips-alex"):
        LPIPSAlex()
    W.import_file("lpips-alex", alex.path)  # small stand-in: classifier dropped
    x, y = _model_input(_frames(8, n=2)), _model_input(_frames(9, n=2))
    assert np.abs(LPIPS("alex").distance(x, y).double().numpy() - _ref_distance(alex.ref, x, y)).max() < TOL
    wf = W.require("lpips-alex")  # the catalog's way: Class(weights_path, device=, batch_size=)
    # Batch 1 against the default batch: the same float32 convolutions blocked differently (oneDNN
    # picks its algorithm by shape and instruction set), so equal up to summation order: the
    # distances are ~0.2 and a float32 reordering moves them by ~1e-7 (the 1e-6 used for other
    # batch splits in this file).
    torch.testing.assert_close(LPIPSAlex(wf.path, device="cpu", batch_size=1).distance(x, y),
                               LPIPS("alex").distance(x, y), rtol=0, atol=1e-6)
    bad = tmp_path / "vgg_as_alex.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, bad)
    with pytest.raises(WeightsError, match="does not load"):
        W.import_file("lpips-alex", bad)


# --- the metric functions ----------------------------------------------------------------------

def test_paired_per_frame_matches_reference_on_chosen_frames(alex):
    path, ref = alex.path, alex.ref
    model = LPIPS("alex", backbone_path=path, batch_size=4)
    fake, real = _frames(10, n=9), _frames(11, n=9)
    real[0] = fake[0]  # frame 0 is the conditioning frame: identical by construction
    got = lpips_paired(fake, real, model, frames=range(1, 9))
    want = _ref_distance(ref, _model_input(fake[1:]), _model_input(real[1:]))
    assert got.dtype == np.float64 and got.shape == (8,) and np.abs(got - want).max() < TOL
    every = lpips_paired(fake, real, model, frames=slice(None))
    assert every[0] == 0.0 and np.abs(every[1:] - got).max() < 1e-6  # other batch split, same values
    picked = lpips_paired(fake, real, model, frames=[8, 2])
    assert np.abs(picked - got[[7, 1]]).max() < 1e-6


def test_to_conditioning_matches_reference(alex):
    path, ref = alex.path, alex.ref
    model = LPIPS("alex", backbone_path=path)
    fake = _frames(12, n=5)
    cond = fake[0].copy()
    got = lpips_to_conditioning(fake, cond, model, frames=range(5))
    want = _ref_distance(ref, _model_input(fake), _model_input(np.repeat(cond[None], 5, 0)))
    assert got[0] == 0.0 and np.abs(got - want).max() < TOL
    assert np.all(np.diff(got) > 0)  # the pattern drifts away from the first frame


def test_metric_input_errors(alex):
    model = LPIPS("alex", backbone_path=alex.path)
    fake = _frames(13, n=4)
    with pytest.raises(InputError, match="differ in shape"):
        lpips_paired(fake, fake[:3], model, frames=[1])
    with pytest.raises(InputError, match="uint8"):
        lpips_paired(fake.astype(np.float32), fake, model, frames=[1])
    with pytest.raises(InputError, match=r"0\.\.3"):
        lpips_paired(fake, fake, model, frames=[4])
    with pytest.raises(InputError, match="no frames"):
        lpips_paired(fake, fake, model, frames=[])
    with pytest.raises(InputError, match="conditioning image"):
        lpips_to_conditioning(fake, fake[0, :32], model, frames=[1])
    with pytest.raises(TypeError):
        lpips_paired(fake, fake, model)  # the frame policy is always the caller's choice
