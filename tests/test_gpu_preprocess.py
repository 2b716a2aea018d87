"""Network input built on the network's device (``vbench_i2v/preprocess.py``, ``device=``): the same
code resizes and normalises wherever the frames are; on CUDA the picked uint8 frames travel through
pinned host memory with a ``non_blocking`` copy.

* On the CPU the device path is today's path, bit for bit, for every contract the project declares,
  and equal to the earlier recipes written out in ``tests/test_preprocess_contract.py``.
* The CUDA control flow (pinned memory, ``non_blocking``, only uint8 frames cross, each network's
  feature pass asks for its own device) is checked with the two calls faked: numbers are never
  checked through a fake.
* ``@pytest.mark.cuda`` tests compare CUDA preprocessing with the CPU's on a real device, with the
  tolerance argued at :func:`_tolerance`.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch

from vbench_i2v import catalog, preprocess as P
from vbench_i2v.specs import Pixels

# (B, T, H, W): growing, shrinking (antialiased filters widen), an odd aspect ratio
SHAPES = [(2, 16, 48, 64), (1, 16, 150, 120), (1, 16, 61, 37)]


def _clips(shape, seed=0):
    return np.random.default_rng([seed, *shape]).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _every_contract() -> dict:
    """Every input contract the project declares: catalog networks, each image network's uses, RAFT,
    LPIPS and a probe folder's video and per-frame contracts."""
    from vbench_i2v.feature_extractors.lpips_net import NETS
    from vbench_i2v.probes import folder

    out = {}
    for table in (catalog.EXTRACTORS, catalog.IDENTITY_EMBEDDERS, catalog.IMAGE_NETWORKS):
        for name, spec in table.items():
            out[f"{spec.family}:{name}"] = spec.contract
            for use, recipe in spec.uses:
                out[f"{name}:{use}"] = recipe.contract()
    out["raft-things"] = catalog.RAFT_THINGS.contract
    out["lpips"] = NETS["alex"].contract
    out["probe-folder"] = folder.VIDEO_CONTRACT
    out["probe-folder-frames"] = folder.frame_contract(folder.INPUT_CONTRACT)
    return out


CONTRACTS = _every_contract()


def _build(contract, videos, **kw):
    """The contract's input of these clips (per-frame contracts: the first clip's frames)."""
    if contract.sampling == "per-frame":
        return P.frames_input(videos[0], contract, **kw)
    return P.videos_input(videos, contract, **kw)


# --- on the CPU: the device path is today's path ----------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_cpu_device_path_is_todays_path_bit_for_bit(shape):
    videos = _clips(shape)
    pil = 0
    for name, c in CONTRACTS.items():
        today = _build(c, videos)
        for src in (videos, torch.from_numpy(videos)):  # numpy clips (the decoder's) and tensors
            got = _build(c, src, device="cpu")
            assert got.device.type == "cpu" and got.dtype == torch.float32, name
            assert torch.equal(got, today), name
            assert got.stride() == today.stride(), name  # the same layout the network gets today
        assert torch.equal(_build(c, videos, device=torch.device("cpu")), today), name
        pil += c.pixels is Pixels.PIL_UINT8
    assert pil >= 1  # the PIL route (resized on the host before any copy) is among them
    # and the earlier recipes, written out independently (test_preprocess_contract.py)
    from test_preprocess_contract import ref_probe_video, ref_resnext

    assert torch.equal(P.videos_input(videos, catalog.EXTRACTORS["resnext101-kinetics"].contract, device="cpu"),
                       ref_resnext(videos))
    assert torch.equal(P.preprocess(catalog.EXTRACTORS["synthetic-probe"].contract, device="cpu")(videos),
                       ref_probe_video(videos))


def test_to_device_on_the_cpu_copies_nothing_it_need_not():
    t = torch.from_numpy(_clips((1, 2, 8, 8)))
    assert P.to_device(t, "cpu") is t and P.to_device(t) is t
    strided = _clips((2, 6, 8, 8))[:, 1:4]  # a numpy view of picked frames
    got = P.to_device(strided, "cpu")
    assert got.is_contiguous() and np.array_equal(got.numpy(), strided)


# --- CUDA's control flow, faked (never its numbers) -------------------------------------------------

def _fake_cuda(monkeypatch):
    """``torch.empty(..., pin_memory=True)`` and ``Tensor.to(<cuda>)`` recorded instead of run (this
    host has no GPU): the pinned buffer is a plain one and a move to CUDA leaves the tensor where
    it is, so the rest of the path runs on the host and only what was asked for is checked."""
    calls = types.SimpleNamespace(pinned=[], moved=[])
    real_empty, real_to = torch.empty, torch.Tensor.to

    def empty(*args, pin_memory=False, **kwargs):
        t = real_empty(*args, **kwargs)
        if pin_memory:
            calls.pinned.append(t)
        return t

    def to(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("device")
        if isinstance(target, (str, torch.device)) and torch.device(target).type == "cuda":
            calls.moved.append((self, torch.device(target), bool(kwargs.get("non_blocking", False))))
            return self
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch, "empty", empty)
    monkeypatch.setattr(torch.Tensor, "to", to)
    return calls


@pytest.fixture
def fake_cuda(monkeypatch):
    return _fake_cuda(monkeypatch)


def _only_pinned_uint8_crossed(calls, shapes):
    """Every move to CUDA was a pinned uint8 buffer, non-blocking, of the given shapes in order."""
    assert [tuple(t.shape) for t, _, _ in calls.moved] == [tuple(s) for s in shapes]
    for t, dev, non_blocking in calls.moved:
        assert t.dtype == torch.uint8 and non_blocking and dev.type == "cuda"
        assert any(t is p for p in calls.pinned)  # the buffer allocated with pin_memory=True


def test_cuda_path_pins_and_copies_only_the_picked_uint8_frames(fake_cuda):
    videos = _clips((2, 40, 48, 64))
    c = catalog.EXTRACTORS["resnext101-kinetics"].contract  # the central 16 of 40 frames
    want = P.videos_input(videos, c)
    assert not fake_cuda.moved and not fake_cuda.pinned  # the host path asks for nothing
    got = P.videos_input(videos, c, device="cuda")
    _only_pinned_uint8_crossed(fake_cuda, [(2, 16, 48, 64, 3)])
    assert torch.equal(got, want)  # control flow: the fake ran the same steps on the host
    # a pinned copy is taken synchronously: the caller may reuse its array at once
    assert np.array_equal(fake_cuda.pinned[0].numpy(), videos[:, 12:28])


def test_cuda_path_for_pil_contracts_copies_the_resized_frames(fake_cuda):
    use = next((n, r) for s in catalog.IMAGE_NETWORKS.values() for n, r in s.uses if r.pixels == "pil-uint8")
    c = use[1].contract()
    frames = _clips((1, 3, 90, 120))[0]
    got = P.frames_input(frames, c, device="cuda:0")
    h, w = P.resized_size(90, 120, c)
    _only_pinned_uint8_crossed(fake_cuda, [(3, h, w, 3)])  # PIL resized on the host, then one copy
    assert torch.equal(got, P.frames_input(frames, c))


def test_cuda_path_from_a_torch_tensor_and_per_frame(fake_cuda):
    frames = torch.from_numpy(_clips((1, 5, 32, 48))[0])
    c = catalog.IDENTITY_EMBEDDERS["synthetic-probe"].contract
    got = P.preprocess(c, device="cuda")(frames)
    _only_pinned_uint8_crossed(fake_cuda, [(5, 32, 48, 3)])
    assert torch.equal(got, P.frames_input(frames, c))


def _tiny_probe_folder(tmp_path):
    from vbench_i2v.feature_extractors import synthetic_probe as sp
    from vbench_i2v.probes import write_probe_folder

    trained = types.SimpleNamespace(model=sp.build_probe(seed=0, video_width=4, identity_width=4, num_classes=2),
                                    fingerprint={"name": "test"}, training={"seed": 0}, labels=["a", "b"],
                                    head_labels=[0, 1], validation=None)
    out = tmp_path / "probe"
    write_probe_folder(out, trained, "vbench probes train")
    return out


def _stub_networks(tmp_path):
    """Each network's feature pass with its network replaced by a cheap stand-in (the pass, not the
    network, is under test): name -> (extractor, its frames shape at the copy, how to run it)."""
    from vbench_i2v.feature_extractors import i3d, resnext3d, synthetic_probe as sp, videomae_v2, vjepa
    from vbench_i2v.feature_extractors.image_vit import ImageEmbedder
    from vbench_i2v.probes import load_probe_folder

    pool = types.SimpleNamespace(features=lambda x: x.flatten(2).mean(2))
    out = {}
    r = resnext3d.ResNeXtFIDExtractor.__new__(resnext3d.ResNeXtFIDExtractor)
    r.batch_size, r.channels_last, r.bf16, r.fast, r.model, r.dim = 2, True, False, False, pool, 3
    out["resnext"] = (r, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))
    i = i3d.I3DFVDExtractor.__new__(i3d.I3DFVDExtractor)
    i.contract, i.batch_size, i.fast, i.dim = catalog.EXTRACTORS["i3d-kinetics400-styleganv"].contract, 2, False, 3
    i.model = lambda x: x.flatten(2).mean(2)
    out["i3d"] = (i, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))
    m = videomae_v2.VideoMAEv2Extractor.__new__(videomae_v2.VideoMAEv2Extractor)
    m.batch_size, m.dim, m.model = 2, 3, pool
    out["videomae"] = (m, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))
    j = vjepa.VJEPAExtractor.__new__(vjepa.VJEPAExtractor)
    j.batch_size, j.dim, j.encoder, j.pooler = 2, 3, pool, lambda f: f[:, None]
    out["vjepa"] = (j, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))
    p = sp.ProbeVideoExtractor.__new__(sp.ProbeVideoExtractor)
    p.model, p.batch_size, p.dim = sp.build_probe(seed=0, video_width=4, identity_width=4), 2, 128
    out["synthetic-probe"] = (p, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))
    f = load_probe_folder(_tiny_probe_folder(tmp_path), batch_size=2)
    out["probe-folder"] = (f, (2, 16, 48, 64, 3), lambda ex, v: ex.features(v))

    class Image(ImageEmbedder):
        spec, dim = catalog.IMAGE_NETWORKS["dino-vitb16"], 3

        def _forward(self, x):
            return x.mean((2, 3))

    e = Image()
    e._setup_device("cpu", 4)
    out["image"] = (e, (4, 48, 64, 3), lambda ex, v: ex.embed_frames(v[0, :4], "subject-consistency"))
    return out


@pytest.mark.parametrize("net", ["resnext", "i3d", "videomae", "vjepa", "synthetic-probe", "probe-folder", "image"])
def test_each_feature_pass_builds_its_input_on_its_device(net, tmp_path, monkeypatch):
    """Every network's feature pass hands its own device to the preprocessing: on CUDA its frames
    go through pinned memory, non-blocking, and are resized there (no float tensor is moved)."""
    ex, shape, run = _stub_networks(tmp_path)[net]
    videos = _clips((2, 32, 48, 64))
    ex.device = torch.device("cpu")
    on_cpu = run(ex, videos)
    calls = _fake_cuda(monkeypatch)  # after the CPU run and the stand-ins' construction
    ex.device = torch.device("cuda")
    got = run(ex, videos)
    _only_pinned_uint8_crossed(calls, [shape])
    np.testing.assert_array_equal(got, on_cpu)  # control flow only: the fake computed on the host


def test_probe_folder_records_and_builds_its_real_contract(tmp_path):
    """A probe folder's contract is read from its config (not an injected ``resize: none``): it is
    what provenance and the feature store's key record, and the input is built from it."""
    from vbench_i2v import feature_extractors
    from vbench_i2v.feature_extractors import synthetic_probe as sp
    from vbench_i2v.metrics.plan import network_identity
    from vbench_i2v.probes import INPUT_CONTRACT, folder

    ex = feature_extractors.build_video_extractor(str(_tiny_probe_folder(tmp_path)))
    c = ex.spec.contract
    assert c == ex.contract == folder.VIDEO_CONTRACT
    assert (c.frames, c.sampling, c.size, c.value_range, c.native_frames) == (
        INPUT_CONTRACT["frames"], "every-2nd", (INPUT_CONTRACT["size"],) * 2, tuple(INPUT_CONTRACT["value_range"]),
        INPUT_CONTRACT["clip_frames"])
    assert c.resize.kernel == "bilinear" and c.resize.antialias == "on"
    ident = network_identity(ex)
    assert ident["contract"]["resize"] == "bilinear, antialiased" and ident["contract"]["size"] == [64, 64]
    assert network_identity(feature_extractors.build_video_extractor(ex.folder)) == ident  # a function of the config
    # the numbers the shipped probe's input gives (the same recipe, read from the folder's config)
    shipped = catalog.EXTRACTORS["synthetic-probe"].contract
    assert dataclasses.replace(c, note="", min_frames=1) == dataclasses.replace(shipped, note="", min_frames=1)
    videos = _clips((2, 32, 48, 64))
    assert torch.equal(P.videos_input(videos, c), sp.video_input(videos))
    assert torch.equal(P.frames_input(videos[0], ex.frame_contract), sp.frame_input(videos[0]))
    # an unreadable config is one line
    from vbench_i2v.errors import WeightsError

    with pytest.raises(WeightsError, match="probe input contract"):
        folder.video_contract({**INPUT_CONTRACT, "frame_stride": 3})
    with pytest.raises(WeightsError, match="probe input contract"):
        folder.video_contract({k: v for k, v in INPUT_CONTRACT.items() if k != "size"})


# --- on a real CUDA device ----------------------------------------------------------------------------

def _tolerance(c) -> float:
    """Largest |CUDA - CPU| allowed for contract ``c``, in its output units.

    Both devices evaluate the same formula in float32: each resampled value is a weighted sum of
    at most a few dozen source pixels here (bilinear: 2 taps per axis; bicubic: 4; antialiased
    filters widened by the shrink factor, <= 3 in these shapes, so <= ~13 per axis), with weights
    whose absolute sum is <= ~1.3 (bicubic's negative lobes; 1 for bilinear), of values of
    magnitude <= 255 (0..255 pixels; ``scaled`` contracts resample values already mapped to their
    range, smaller). The implementations differ only in the order of the float operations and in
    how the weights are rounded, so each result is within ~(taps + 2) * 2**-24 * 1.3 * 255 of the
    exact value: per axis pass <= ~3e-4 grey levels, two passes ~6e-4. We allow 4e-3 grey levels
    (6x that bound), mapped to output units (``(hi - lo) / 255`` per grey level, divided by the
    smallest std). A real mismatch (another kernel, antialias on/off, align_corners, a crop one
    pixel off, channels swapped) moves values of random frames by whole grey levels, >= 250x more.
    The mapping to the value range and (x - mean) / std are single IEEE operations on both
    devices (correctly rounded: equal)."""
    lo, hi = c.value_range
    return 4e-3 * (hi - lo) / 255.0 / min(c.std)


@pytest.mark.cuda
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_cuda_preprocessing_equals_the_cpus(shape):
    videos = _clips(shape)
    for name, c in CONTRACTS.items():
        cpu = _build(c, videos)
        got = _build(c, videos, device="cuda")
        assert got.device.type == "cuda" and got.shape == cpu.shape and got.dtype == cpu.dtype, name
        diff = (got.cpu() - cpu).abs()
        tol = _tolerance(c)
        if c.pixels is Pixels.ROUNDED:
            # values within ~1e-3 grey levels of k + 0.5 may round the other way on one device: such a
            # value is off by exactly one grey level; they are rare (far under 1 in 1000 values)
            grey = (c.value_range[1] - c.value_range[0]) / 255.0 / min(c.std)
            flipped = (diff - grey).abs() <= tol
            assert bool(((diff <= tol) | flipped).all()), (name, float(diff.max()))
            assert float(flipped.float().mean()) < 1e-3, name
        else:
            assert float(diff.max()) <= tol, (name, float(diff.max()), tol)


@pytest.mark.cuda
def test_cuda_copy_is_pinned_non_blocking_and_ordered():
    """The pinned, non-blocking copy lands before the resize reads it, and the caller's array may
    be overwritten at once (the pinned copy was taken before the call returned)."""
    videos = _clips((4, 16, 96, 128))
    c = catalog.EXTRACTORS["synthetic-probe"].contract
    want = P.videos_input(videos, c)
    moved = P.to_device(videos, "cuda")
    assert moved.device.type == "cuda" and torch.equal(moved.cpu(), torch.from_numpy(videos))
    got = P.videos_input(videos, c, device="cuda")
    videos[:] = 0  # the host array changes while the GPU may still be working
    torch.testing.assert_close(got.cpu(), want, rtol=0, atol=_tolerance(c))
    on_gpu = torch.from_numpy(_clips((1, 16, 48, 64))).cuda()
    assert P.to_device(on_gpu, on_gpu.device) is on_gpu  # already there: no copy
