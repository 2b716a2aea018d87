"""`--device auto|cpu|cuda[:N]` means the same for every command; the CUDA numerics one call sets.

CUDA is faked where the logic needs it (``torch.cuda.is_available``, ``device_count``,
``get_device_capability``, ``set_device``): the torch flags themselves can be set without a GPU,
so what a CUDA entry point would switch is checked here on the CPU.
"""

import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v import devices
from vbench_i2v.devices import resolve_device, setup_device
from vbench_i2v.errors import InputError


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine with 2 visible CUDA devices of compute capability 8.0 (as far as the code asks)."""
    state = {"count": 2, "capability": (8, 0), "set_device": []}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: state["count"])
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: state["capability"])
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: state["set_device"].append(str(device)))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    return state


@pytest.fixture
def numerics_restored(monkeypatch):
    """Every global flag setup_device may touch is put back after the test."""
    monkeypatch.delenv(devices.CUBLAS_ENV, raising=False)
    with devices.numerics_applied():
        yield


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_the_suite_is_pinned_to_the_cpu(monkeypatch):
    """conftest sets VBENCH_AUTO_DEVICE=cpu: auto is the CPU here even where CUDA is present."""
    assert os.environ[devices.AUTO_ENV] == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")


def test_auto_is_cuda_when_present_unless_pinned(monkeypatch, fake_cuda):
    monkeypatch.delenv(devices.AUTO_ENV)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setenv(devices.AUTO_ENV, "tpu")
    with pytest.raises(InputError, match="VBENCH_AUTO_DEVICE='tpu': must be cpu or cuda"):
        resolve_device("auto")


def test_cuda_index_is_checked_against_the_visible_devices(fake_cuda):
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    with pytest.raises(InputError) as err:
        resolve_device("cuda:2")
    assert str(err.value) == ("device 'cuda:2': this machine has 2 visible CUDA device(s) (cuda:0 .. cuda:1; "
                              "CUDA_VISIBLE_DEVICES decides which)")
    with pytest.raises(InputError, match="this machine has 2 visible"):
        resolve_device(torch.device("cuda", 5))


def test_a_bad_cuda_index_is_one_error_line_from_the_cli(fake_cuda, tmp_path):
    from vbench_i2v.cli import _Main
    from vbench_i2v.cli.train import commands

    cli = _Main(name="vbench", commands={c.name: c for c in commands})
    for args in (["train", "--generator", "imaginator", "--dataset", "synthetic", "--out", tmp_path / "r"],
                 ["generate", "--checkpoint", tmp_path, "--image", __file__, "--out", tmp_path / "c.gif"]):
        r = CliRunner().invoke(cli, [str(a) for a in args] + ["--device", "cuda:7"])
        assert r.exit_code == 2, r.output
        assert r.output.strip().splitlines() == [
            "Error: device 'cuda:7': this machine has 2 visible CUDA device(s) (cuda:0 .. cuda:1; "
            "CUDA_VISIBLE_DEVICES decides which)"]
    assert not (tmp_path / "r").exists()


def test_an_explicit_index_other_than_local_rank_is_refused_under_torchrun(monkeypatch, fake_cuda,
                                                                           numerics_restored):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(InputError, match="device 'cuda:0': under torchrun each process uses the GPU of its "
                                         r"LOCAL_RANK \(this one: cuda:1\)"):
        setup_device("cuda:0")
    assert setup_device("cuda") == torch.device("cuda", 1) and setup_device("cuda:1") == torch.device("cuda", 1)
    assert fake_cuda["set_device"] == []  # torchrun processes get theirs in distributed.init


def test_setup_device_on_cuda_sets_the_device_and_the_numerics(fake_cuda, numerics_restored):
    torch.backends.cudnn.allow_tf32 = True  # a stock torch build's default for convolutions
    torch.backends.cudnn.benchmark = True
    assert setup_device("cuda:1") == torch.device("cuda", 1)
    assert fake_cuda["set_device"] == ["cuda:1"]  # a single process on cuda:1 makes it current
    assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ[devices.CUBLAS_ENV] == ":4096:8"
    assert devices.numerics() == {"deterministic": True, "tf32": False}
    assert devices.precision_name("cuda:1") == "fp32"

    setup_device("cuda", deterministic=False, tf32=True)
    assert fake_cuda["set_device"] == ["cuda:1"]  # a bare cuda keeps the current device
    assert torch.backends.cudnn.allow_tf32 is True and torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.backends.cudnn.deterministic is False and not torch.are_deterministic_algorithms_enabled()
    assert devices.precision_name("cuda") == "tf32" and devices.precision_name("cuda", bf16=True) == "bf16"
    assert devices.precision_name("cpu") == "fp32"  # TF32 flags mean nothing on the CPU


def test_setup_device_leaves_a_cpu_process_alone(numerics_restored, monkeypatch):
    before = (torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic,
              torch.are_deterministic_algorithms_enabled())
    assert setup_device("cpu", deterministic=True) == torch.device("cpu")
    assert setup_device("auto") == torch.device("cpu")
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cudnn.deterministic,
            torch.are_deterministic_algorithms_enabled()) == before
    assert devices.CUBLAS_ENV not in os.environ
    with pytest.raises(InputError, match="--tf32: device 'cpu' is not a CUDA device"):
        setup_device("cpu", tf32=True)


def test_numerics_applied_restores_every_flag(numerics_restored):
    devices.set_numerics(deterministic=False, tf32=True)
    torch.backends.cudnn.benchmark = True
    with devices.numerics_applied(deterministic=True):
        assert devices.numerics() == {"deterministic": True, "tf32": True}  # tf32 None: kept
        assert torch.backends.cudnn.benchmark is False
    assert devices.numerics() == {"deterministic": False, "tf32": True} and torch.backends.cudnn.benchmark is True


def test_bf16_is_native_from_compute_capability_8(fake_cuda):
    assert devices.bf16_native("cpu") is False
    for capability, native in (((6, 1), False), ((7, 5), False), ((8, 0), True), ((9, 0), True)):
        fake_cuda["capability"] = capability
        assert devices.bf16_native("cuda:0") is native, capability


def test_amp_auto_only_where_bf16_is_native_and_compile_off_unless_asked(fake_cuda):
    from vbench_i2v.generators.training import FastPaths, TrainOptions

    cuda = torch.device("cuda", 0)
    fake_cuda["capability"] = (7, 0)  # V100: bf16 emulated
    fast = FastPaths.resolve(TrainOptions(), cuda, multi=False)
    assert fast.amp is False and fast.compile is False and fast.channels_last is True and fast.workers == 2
    assert FastPaths.resolve(TrainOptions(amp="on"), cuda, multi=False).amp is True  # asked for: on
    fake_cuda["capability"] = (8, 6)
    assert FastPaths.resolve(TrainOptions(), cuda, multi=False).amp is True
    assert FastPaths.resolve(TrainOptions(), torch.device("cpu"), multi=False).amp is False
    assert TrainOptions().compile == "off" and FastPaths.resolve(TrainOptions(compile="on"), cuda, False).compile
    with pytest.raises(InputError, match="compile must be true/false"):
        TrainOptions(compile="auto")  # on only when asked


def test_compile_with_sync_bn_under_ddp_is_refused(fake_cuda):
    from vbench_i2v.generators.training import FastPaths, TrainOptions

    cuda = torch.device("cuda", 0)
    with pytest.raises(InputError, match="compile with sync_bn under torchrun is refused"):
        FastPaths.resolve(TrainOptions(compile="on"), cuda, multi=True)  # sync_bn auto: on for DDP on CUDA
    fast = FastPaths.resolve(TrainOptions(compile="on", sync_bn="off"), cuda, multi=True)
    assert fast.compile and not fast.sync_bn
    assert FastPaths.resolve(TrainOptions(), cuda, multi=True).sync_bn  # the default stays as it was
    with pytest.raises(InputError, match="tf32: device 'cpu' is not a CUDA device"):
        FastPaths.resolve(TrainOptions(tf32=True), torch.device("cpu"), multi=False)


def test_metrics_engine_takes_auto():
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan

    rng = np.random.default_rng(0)
    videos = {f"v{i}": rng.integers(0, 255, size=(4, 16, 16, 3), dtype=np.uint8) for i in range(3)}
    out = compute_metrics(videos, videos, ScorePlan(metrics=("psnr",), device="auto"))
    assert out.provenance["device"] == "cpu" == str(resolve_device("auto"))
    assert out.metrics["psnr"]["n"] == 3
