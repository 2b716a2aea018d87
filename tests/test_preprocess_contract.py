"""Every network's input is built from its input contract (``vbench_i2v/preprocess.py``), and the
numbers are the ones each network computed before the contract drove it.

The references below are the preprocessing functions as each network module wrote them before
(copied out step by step, so they do not move when the modules do). Where the reference runs the
same float operations as the contract-built input, the tensors must be equal bit for bit
(``torch.equal``); the one place where the operations differ (the I3D routes' value mapping, see
``test_i3d_routes_against_their_previous_recipe``) has its tolerance argued there.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vbench_i2v import catalog, preprocess as P
from vbench_i2v.errors import InputError
from vbench_i2v.specs import Crop, Fit, InputContract, Pixels, Resize

ROOT = Path(__file__).resolve().parents[1]
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)  # G3AN / 3D-ResNets' ActivityNet mean (0..255 scale)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

# (B, T, H, W): square and not, growing and shrinking, exact sizes, odd lengths
CLIPS = [(2, 16, 64, 64), (1, 20, 48, 80), (2, 33, 130, 90), (1, 32, 112, 112), (1, 24, 200, 150),
         (1, 17, 224, 224), (2, 40, 40, 56)]


def _clips(shape, seed=0):
    return np.random.default_rng([seed, *shape]).integers(0, 256, (*shape, 3), dtype=np.uint8)


# --- the previous recipes, written out ---------------------------------------------------------------

def ref_resnext(videos):
    """Central 16 frames (start T//2 - 8); each frame to 112x112 bilinear (plain when only enlarging,
    channels-last; antialiased otherwise), rounded and clamped to 0..255; minus the ActivityNet mean."""
    start = videos.shape[1] // 2 - 8
    v = torch.as_tensor(videos[:, start : start + 16])
    b, t, h, w, _ = v.shape
    x = v.reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float()
    if (h, w) != (112, 112):
        if 112 >= h and 112 >= w:
            x = F.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x.contiguous(), size=(112, 112), mode="bilinear", antialias=True, align_corners=False)
    x = x.round_().clamp_(0, 255).reshape(b, t, 3, 112, 112).permute(0, 2, 1, 3, 4)
    return x - torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1, 1)


def ref_probe_video(videos):
    """Resample to 32 frames (nearest, round(linspace)) unless 32, every 2nd; x / 127.5 - 1; then
    64x64 bilinear antialiased (only when not 64x64)."""
    t = videos.shape[1]
    idx = np.arange(32) if t == 32 else np.round(np.linspace(0, t - 1, 32)).astype(int)
    x = torch.from_numpy(videos[:, idx[::2]]).permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)
    if x.shape[-2:] != (64, 64):
        b, c, t, h, w = x.shape
        x = F.interpolate(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), size=(64, 64), mode="bilinear",
                          antialias=True, align_corners=False).reshape(b, t, c, 64, 64).permute(0, 2, 1, 3, 4)
    return x.contiguous()


def ref_probe_frames(frames):
    """x / 127.5 - 1 on the channels-last view, then 64x64 bilinear antialiased when not 64x64."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    if x.shape[-2:] != (64, 64):
        x = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    return x


def ref_facenet_whole_frames(frames):
    """Frame by frame: 160x160 bilinear antialiased on 0..255 floats, then (x - 127.5) / 128."""
    out = []
    for f in frames:
        x = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=(160, 160), mode="bilinear", antialias=True, align_corners=False)
        out.append((x[0] - 127.5) / 128.0)
    return torch.stack(out)


def ref_i3d(videos, route, scale):
    """The two FVD routes: ``fvd`` every frame, shorter side to 224 (longer side ceil), centre crop at
    floor offsets; ``fvd-styleganv`` the first 16 frames stretched to 224x224. Bilinear without
    antialias on values already mapped to [-1, 1] by ``scale``."""
    v = torch.as_tensor(np.ascontiguousarray(videos if route == "fvd" else videos[:, :16]))
    b, t, h, w, _ = v.shape
    x = scale(v.reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float())
    if route == "fvd":
        s = 224 / min(h, w)
        oh, ow = (224, math.ceil(w * s)) if h < w else (math.ceil(h * s), 224)
    else:
        oh, ow = 224, 224
    if (oh, ow) != (h, w):
        x = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False, antialias=False)
    top, left = (oh - 224) // 2, (ow - 224) // 2
    x = x[:, :, top : top + 224, left : left + 224]
    return x.reshape(b, t, 3, 224, 224).permute(0, 2, 1, 3, 4).contiguous()


def ref_vit_video(videos, mean, std, antialias_when_shrinking):
    """VideoMAE-v2 (cd-fvd) and V-JEPA (JEDi): the first 16 frames, x / 255 (to [0, 1]), 224x224
    bilinear (VideoMAE: never antialiased; V-JEPA: antialiased when a side shrinks), (x - mean) / std."""
    v = torch.as_tensor(np.ascontiguousarray(videos[:, :16]))
    b, t, h, w, _ = v.shape
    x = v.permute(0, 1, 4, 2, 3).reshape(b * t, 3, h, w).float() / 255.0 * (1.0 - 0.0) + 0.0
    if (h, w) != (224, 224):
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False,
                          antialias=antialias_when_shrinking and (h > 224 or w > 224))
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x.reshape(b, t, 3, 224, 224).permute(0, 2, 1, 3, 4).contiguous()


# --- each network's preprocessing, as its module runs it --------------------------------------------

def _resnext(videos):
    from vbench_i2v.feature_extractors.resnext3d import ResNeXtFIDExtractor

    ex = ResNeXtFIDExtractor.__new__(ResNeXtFIDExtractor)  # preprocess reads no weights
    ex.channels_last = True
    return ex.preprocess(videos)


def _i3d(route):
    from vbench_i2v.feature_extractors.i3d import I3DFVDExtractor

    ex = I3DFVDExtractor.__new__(I3DFVDExtractor)
    ex.contract = catalog.EXTRACTORS["i3d-kinetics400" if route == "fvd" else "i3d-kinetics400-styleganv"].contract
    return ex.preprocess


@pytest.mark.parametrize("shape", CLIPS, ids=lambda s: "x".join(map(str, s)))
def test_video_networks_give_their_previous_input_bit_for_bit(shape):
    from vbench_i2v.feature_extractors import synthetic_probe as sp, videomae_v2, vjepa

    videos = _clips(shape)
    got = _resnext(videos)
    assert torch.equal(got, ref_resnext(videos))
    assert got.is_contiguous(memory_format=torch.channels_last_3d)  # the layout the network runs in
    assert torch.equal(sp.video_input(videos), ref_probe_video(videos))
    assert torch.equal(videomae_v2.preprocess(videos), ref_vit_video(videos, (0.0,) * 3, (1.0,) * 3, False))
    assert torch.equal(vjepa.preprocess(videos), ref_vit_video(videos, IMAGENET_MEAN, IMAGENET_STD, True))
    # the same numbers from the contract alone, through the sampling kind's builder
    for name, ref in (("resnext101-kinetics", ref_resnext), ("synthetic-probe", ref_probe_video)):
        assert torch.equal(P.preprocess(catalog.EXTRACTORS[name].contract)(videos), ref(videos))


def test_module_constants_are_the_contracts_numbers():
    """The names the network modules export (training scripts and tests use them) are read from the
    catalog contracts, so the recipe exists once."""
    from vbench_i2v.feature_extractors import face_identity, resnext3d, synthetic_probe as sp

    r = catalog.EXTRACTORS["resnext101-kinetics"].contract
    assert (resnext3d.ACTIVITYNET_MEAN, resnext3d.CLIP_LEN, resnext3d.SIDE) == (r.mean, r.frames, r.size[0])
    assert r.mean == ACTIVITYNET_MEAN and r.sampling == "central" and r.pixels is Pixels.ROUNDED
    p = catalog.EXTRACTORS["synthetic-probe"].contract
    assert (sp.PROBE_FRAMES, sp.SIZE, sp.PROBE_FRAMES * 2) == (p.frames, p.size[0], p.native_frames)
    assert face_identity.CROP == catalog.IDENTITY_EMBEDDERS["facenet-vggface2"].contract.size[0] == 160


@pytest.mark.parametrize("shape", CLIPS[:4], ids=lambda s: "x".join(map(str, s)))
def test_per_frame_networks_give_their_previous_input_bit_for_bit(shape):
    from vbench_i2v.feature_extractors import face_identity, synthetic_probe as sp

    frames = _clips(shape)[0, :6]
    assert torch.equal(sp.frame_input(frames), ref_probe_frames(frames))
    want = ref_facenet_whole_frames(frames)
    assert torch.equal(face_identity._whole_frames(frames), want)  # batched, as crops() calls it
    assert torch.equal(face_identity._whole_frame(frames[1]), want[1])
    assert torch.equal(P.preprocess(catalog.IDENTITY_EMBEDDERS["facenet-vggface2"].contract)(frames), want)


@pytest.mark.parametrize("shape", CLIPS, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("route", ["fvd", "fvd-styleganv"])
def test_i3d_routes_against_their_previous_recipe(shape, route):
    """Bit for bit against the recipe with the project's value mapping (``x / 127.5 - 1``, as
    ``tensors.py``); against the previous ``x * (2/255) - 1`` within 1e-6. Why that bound: the two
    mappings are each correctly rounded float32 results of the same real number, so they differ by
    at most 1 ulp at |x| <= 1 (1.2e-7, measured: 111 of the 256 pixel values differ); bilinear
    interpolation and a crop take convex combinations of such values (weights summing to 1), which
    keeps the difference within 1 ulp plus the interpolation's own rounding, a few 1e-7."""
    videos = _clips(shape)
    got = _i3d(route)(videos)
    assert torch.equal(got, ref_i3d(videos, route, lambda x: x.div(127.5).sub(1.0)))
    previous = ref_i3d(videos, route, lambda x: x * (2.0 / 255.0) + (-1.0))
    torch.testing.assert_close(got, previous, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 48, 80), (2, 130, 90), (2, 224, 224), (1, 300, 256)],
                         ids=lambda s: "x".join(map(str, s)))
def test_frame_recipes_fit_the_same_scheme(shape):
    """A ``FrameRecipe``'s contract carries every number of the recipe: the contract-built input is
    ``image_vit.preprocess_frames``'s (which the VBench dimensions' tests check against torchvision
    and PIL), for every use of every per-frame image network."""
    from vbench_i2v.feature_extractors.image_vit import preprocess_frames

    frames = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    seen = set()
    for spec in catalog.IMAGE_NETWORKS.values():
        for use, recipe in spec.uses:
            c = recipe.contract()
            assert c.resize == Resize.of(recipe.kernel, recipe.antialias) and c.fit is Fit.SHORTER_SIDE
            assert c.short_side == recipe.short_side and c.pixels == recipe.pixels
            if recipe in seen:
                continue
            seen.add(recipe)
            assert torch.equal(P.frames_input(frames, c), preprocess_frames(frames, recipe)), (spec.name, use)
    assert len(seen) >= 4  # DINO's three uses and VBench's CLIP recipe


def test_image_networks_build_their_input_through_preprocess(monkeypatch):
    """``image_vit`` has no recipe code of its own: ``preprocess_frames`` (what ``embed_frames`` feeds
    the network) is ``frames_input(frames, recipe.contract(), device=...)``, and its size and crop
    arithmetic are ``resized_size``/``crop_offsets`` (checked against torchvision's numbers in
    tests/test_vbench_dims_networks.py::test_resize_arithmetic)."""
    from vbench_i2v.feature_extractors import image_vit

    seen = []
    real = P.frames_input

    def spy(frames, contract, what="this network", device=None):
        seen.append((contract, device))
        return real(frames, contract, what, device=device)

    monkeypatch.setattr(P, "frames_input", spy)
    recipe = dict(catalog.IMAGE_NETWORKS["dino-vitb16"].uses)["subject-consistency"]
    frames = _clips((1, 2, 40, 30))[0]
    image_vit.preprocess_frames(frames, recipe, "cpu")
    assert seen == [(recipe.contract(), "cpu")]
    monkeypatch.setattr(P, "resized_size", lambda h, w, c: (h + 1000, c.short_side))
    monkeypatch.setattr(P, "crop_offsets", lambda h, w, c: ("crop", c.size))
    assert image_vit.resized_size(40, 30, 224) == (1040, 224)
    assert image_vit.centre_crop_offsets(256, 300, 224) == ("crop", (224, 224))


# --- the contract's fields are what the code consumes -----------------------------------------------

BASE = InputContract(frames=4, sampling="first", size=(24, 24), resize=Resize.BILINEAR, value_range=(-1.0, 1.0))
CHANGES = {
    "frames": 3, "sampling": "all", "size": (20, 24), "resize": Resize.BICUBIC, "value_range": (0.0, 1.0),
    "mean": (0.1, 0.2, 0.3), "std": (0.5, 0.5, 2.0), "native_frames": 6, "pixels": Pixels.FLOAT,
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_every_field_changes_the_input(field):
    """Change one field and the built input changes: none of them is decoration."""
    videos = _clips((1, 8, 36, 30))
    base = P.videos_input(videos, BASE)
    other = P.videos_input(videos, dataclasses.replace(BASE, **{field: CHANGES[field]}))
    assert other.shape != base.shape or not torch.equal(other, base)


def test_geometry_fields_are_consumed():
    frames = _clips((1, 1, 30, 50))[0]
    stretch = InputContract(frames=None, sampling="per-frame", size=(16, 16), resize=Resize.BILINEAR,
                            value_range=(0.0, 255.0))
    assert P.frames_input(frames, stretch).shape == (1, 3, 16, 16)
    short = dataclasses.replace(stretch, size=None, fit=Fit.SHORTER_SIDE, short_side=20)
    assert P.frames_input(frames, short).shape == (1, 3, 20, 33)  # int(20 * 50 / 30)
    ceil = dataclasses.replace(short, fit=Fit.SHORTER_SIDE_CEIL)
    assert P.resized_size(30, 50, ceil) == (20, 34)  # ceil(50 * 20 / 30)
    crop = dataclasses.replace(short, size=(16, 16), crop=Crop.CENTRE)
    x = P.frames_input(frames, crop)
    assert x.shape == (1, 3, 16, 16)
    full = P.frames_input(frames, short)
    top, left = int(round((20 - 16) / 2)), int(round((33 - 16) / 2))  # torchvision CenterCrop
    assert torch.equal(x, full[:, :, top : top + 16, left : left + 16])
    ceil_crop = dataclasses.replace(crop, fit=Fit.SHORTER_SIDE_CEIL)
    assert P.crop_offsets(20, 34, ceil_crop) == (2, 9)  # VideoGPT: floor((34 - 16) / 2)
    aa = dataclasses.replace(stretch, resize=Resize.BILINEAR_AA)
    assert not torch.equal(P.frames_input(frames, aa), P.frames_input(frames, stretch))  # shrinking: filter widened
    when = dataclasses.replace(stretch, resize=Resize.BILINEAR_AA_SHRINKING)
    assert torch.equal(P.frames_input(frames, when), P.frames_input(frames, aa))
    big = dataclasses.replace(stretch, size=(64, 64))
    assert torch.equal(P.frames_input(frames, dataclasses.replace(big, resize=Resize.BILINEAR_AA_SHRINKING)),
                       P.frames_input(frames, big))  # only enlarging: the plain kernel
    rounded = P.frames_input(frames, dataclasses.replace(stretch, resize=Resize.BICUBIC, pixels=Pixels.ROUNDED))
    assert torch.equal(rounded, rounded.round()) and rounded.min() >= 0 and rounded.max() <= 255


def test_frame_indices_per_sampling_kind():
    def idx(t, **kw):
        return P.frame_indices(t, dataclasses.replace(BASE, **kw)).tolist()

    assert idx(10, sampling="central", frames=4) == [3, 4, 5, 6]  # start 10//2 - 4//2
    assert idx(10, sampling="first", frames=4) == [0, 1, 2, 3]
    assert idx(10, sampling="every-2nd", frames=4) == [0, 2, 4, 6]
    assert idx(10, sampling="all", frames=4) == list(range(10))
    # 5 frames resampled to 6: round(linspace(0, 4, 6)) = 0 1 2 2 3 4, then every 2nd
    assert idx(5, sampling="every-2nd", frames=3, native_frames=6) == [0, 2, 3]
    with pytest.raises(InputError, match="needs at least 7 frames per video .every-2nd sampling., got 6"):
        idx(6, sampling="every-2nd", frames=4)
    per_frame = dataclasses.replace(BASE, frames=None, sampling="per-frame")
    assert P.preprocess(per_frame)(_clips((1, 1, 24, 24))[0]).shape == (1, 3, 24, 24)
    with pytest.raises(ValueError, match="frames_input"):
        P.videos_input(_clips((1, 4, 24, 24)), per_frame)


def test_bad_input_is_one_line():
    with pytest.raises(InputError, match="expected uint8 videos"):
        P.videos_input(np.zeros((4, 24, 24, 3), np.uint8), BASE)
    with pytest.raises(InputError, match="got dtype float32"):
        P.videos_input(np.zeros((1, 4, 24, 24, 3), np.float32), BASE)


# --- the enum is the representation, and recorded contracts keep their bytes ---------------------------

def test_resize_is_an_enum_not_prose():
    c = dataclasses.replace(BASE, resize="bilinear, antialiased")
    assert c.resize is Resize.BILINEAR_AA and c.resize.kernel == "bilinear" and c.resize.antialias == "on"
    when = Resize.BILINEAR_AA_SHRINKING
    assert when.antialias_for(False) is False and when.antialias_for(True) and when.kernel == "bilinear"
    assert json.dumps(c.as_dict()["resize"]) == '"bilinear, antialiased"' and f"{c.resize}" == "bilinear, antialiased"
    for bad in ({"resize": "bilinear (torch interpolate, align_corners=False)"}, {"pixels": "uint8"},
                {"fit": "cover"}, {"crop": "center"}, {"sampling": "random"}):
        with pytest.raises(ValueError, match="InputContract"):
            dataclasses.replace(BASE, **bad)
    for inconsistent in ({"resize": Resize.NONE}, {"crop": Crop.CENTRE}, {"crop": Crop.FACE},
                         {"pixels": Pixels.PIL_UINT8}, {"fit": Fit.SHORTER_SIDE}):
        with pytest.raises(ValueError, match="InputContract"):
            dataclasses.replace(BASE, **inconsistent)
    every = [s.contract for t in (catalog.EXTRACTORS, catalog.IDENTITY_EMBEDDERS, catalog.IMAGE_NETWORKS)
             for s in t.values()] + [catalog.RAFT_THINGS.contract]
    assert all(isinstance(c.resize, Resize) and isinstance(c.pixels, Pixels) for c in every)


def test_added_fields_are_written_only_when_set():
    """Contracts recorded before ``fit``/``short_side``/``pixels``/``face`` existed serialise as before."""
    assert set(BASE.as_dict()) == {"frames", "sampling", "size", "resize", "value_range", "mean", "std", "min_frames",
                                   "max_aspect", "crop", "native_frames", "note"}
    d = catalog.IDENTITY_EMBEDDERS["facenet-vggface2"].contract.as_dict()
    assert d["pixels"] == "float" and d["face"]["thresholds"] == [0.6, 0.7, 0.7] and d["crop"] == "face"
    json.dumps(d)


def test_committed_results_record_todays_contracts():
    """The published boards' results files recorded the synthetic probe's contract when ``resize`` was
    a string: the catalog's contract (an enum now) serialises to exactly what they hold, so every
    stored measurement id still matches its provenance (``validate_results`` recomputes it)."""
    from vbench_i2v.results import measurement_id

    files = glob.glob(str(ROOT / "leaderboards" / "*" / "runs" / "*" / "results.json"))
    if not files:
        pytest.skip("no committed results files")
    want = {k: v for k, v in catalog.EXTRACTORS["synthetic-probe"].contract.as_dict().items() if k != "note"}
    checked = 0
    for f in files:
        for name, m in json.loads(Path(f).read_text())["metrics"].items():
            prov = m.get("provenance") or {}
            # the probe's video contract (FID/KID); ACD's per-frame use of the probe records its own
            if prov.get("extractor") == "synthetic-probe" and (prov.get("contract") or {}).get("sampling") not in (
                    None, "per-frame"):
                assert prov["contract"] == want, (f, name)
                assert measurement_id({**m, "provenance": {**prov, "contract": want}}) == m["measurement"]
                checked += 1
    assert checked > 0


def test_facenet_detector_is_built_from_its_contract():
    pytest.importorskip("facenet_pytorch")
    from vbench_i2v.feature_extractors.face_identity import build_mtcnn

    c = catalog.IDENTITY_EMBEDDERS["facenet-vggface2"].contract
    m = build_mtcnn("cpu")
    face = c.face_settings
    assert (m.image_size, m.margin, m.min_face_size, m.factor) == (c.size[0], face["margin"], face["min_face_size"],
                                                                  face["factor"])
    assert list(m.thresholds) == list(face["thresholds"]) and m.select_largest and m.post_process
    other = dataclasses.replace(c, face=tuple({**face, "margin": 8}.items()))
    assert build_mtcnn("cpu", other).margin == 8
