"""What would break the first time the CUDA paths run, checked on the CPU with CUDA faked where it
must be, plus the real CUDA smoke tests (``@pytest.mark.cuda``: skipped without a GPU, run by
``pytest -m cuda`` on one).

The faked parts are torch's own functions (``is_available``, ``device_count``, ``set_rng_state``):
the code under test calls them exactly as it would on a GPU host, and the tests check which saved
state reaches which device.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from generator_fakes import TinyDataset, one_torch_thread  # noqa: F401
from vbench_i2v import devices
from vbench_i2v.errors import InputError
from vbench_i2v.generators import train_checkpoint, training
from vbench_i2v.generators.registry import get_generator, load_checkpoint


def tiny_model(ds, device="cpu", seed=0):
    cls = get_generator("imaginator")
    torch.manual_seed(seed)
    return cls(cls.make_config(width=1 / 16, overrides={"batch_size": 2}), ds.num_classes, ds.labels, ds.name,
               device=device)


def quiet(**kw) -> training.TrainOptions:
    return training.TrainOptions(**{"progress_bar": False, "sample_every": 100, "checkpoint_every": 100,
                                    "sample_inputs": 1, **kw})


def cuda_states(n: int) -> list[torch.Tensor]:
    """``n`` distinguishable stand-ins for saved CUDA RNG states (uint8 tensors, as torch saves them)."""
    return [torch.full((16,), 10 + i, dtype=torch.uint8) for i in range(n)]


@pytest.fixture
def fake_gpus(monkeypatch):
    """``visible`` fake CUDA devices; ``calls`` records (device, state marker) per set_rng_state."""
    box = {"visible": 2, "calls": []}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: box["visible"])
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device="cuda": box["calls"].append((int(device), int(state[0]))))
    return box


# --- resume on another number of visible devices ---------------------------------------------------

@pytest.mark.parametrize("saved,visible,expected", [
    (2, 2, [(0, 10), (1, 11)]),           # same machine: every device its own state
    (3, 2, [(0, 10), (1, 11)]),           # fewer devices: the extra saved state is dropped
    (1, 3, [(0, 10), (1, 10), (2, 10)]),  # more devices: the ones without a saved state take state 0
    (4, 1, [(0, 10)]),
])
def test_saved_cuda_rng_states_map_onto_the_visible_devices(fake_gpus, saved, visible, expected):
    """The documented rule (train_checkpoint's module doc): device i <- state i for i < min(saved,
    visible), any other visible device <- state 0. torch's set_rng_state_all raised here before."""
    fake_gpus["visible"] = visible
    state = {"torch": torch.get_rng_state(), "cuda": cuda_states(saved), "python": __import__("random").getstate(),
             "numpy": _numpy_state()}
    train_checkpoint.set_rng_state(state)
    assert fake_gpus["calls"] == expected
    assert [train_checkpoint.cuda_state_for_device(saved, d) for d in range(visible)] == [m - 10 for _, m in expected]


def _numpy_state() -> list:
    s = np.random.get_state()
    return [s[0], s[1].tolist(), int(s[2]), int(s[3]), float(s[4])]


def test_cpu_saved_state_leaves_cuda_alone(fake_gpus):
    state = {"torch": torch.get_rng_state(), "cuda": [], "python": __import__("random").getstate(),
             "numpy": _numpy_state()}
    train_checkpoint.set_rng_state(state)
    assert fake_gpus["calls"] == []


def test_resume_with_another_device_count_restores_the_run(tmp_path, fake_gpus, monkeypatch):
    """A checkpoint written with 4 visible GPUs resumes on a machine with 2: the weights, optimisers and
    position come back and each visible device gets its state by the rule (no 'damaged RNG' error)."""
    ds = TinyDataset()
    out = tmp_path / "run"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # train for real on the CPU first
    training.Trainer(tiny_model(ds), ds, out, quiet(steps=1, seed=5)).fit()
    path = out / train_checkpoint.STATE_FILE
    state = torch.load(path, weights_only=True)
    state["rng"]["cuda"] = cuda_states(4)
    torch.save(state, path)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    fake_gpus["visible"] = 2
    model = load_checkpoint(out)
    optimizers = model.configure_optimizers()
    progress, seed = train_checkpoint.load_training_state(model, optimizers, out)
    assert (progress.step, seed) == (1, 5)
    assert fake_gpus["calls"] == [(0, 10), (1, 11)]
    assert all(opt.state_dict()["state"] for opt in optimizers.values())


def test_a_saved_cuda_field_that_is_not_a_list_is_one_line(tmp_path):
    ds = TinyDataset()
    out = tmp_path / "run"
    training.Trainer(tiny_model(ds), ds, out, quiet(steps=1)).fit()
    path = out / train_checkpoint.STATE_FILE
    state = torch.load(path, weights_only=True)
    state["rng"]["cuda"] = "gpu0"
    torch.save(state, path)
    model = load_checkpoint(out)
    with pytest.raises(InputError) as err:
        train_checkpoint.load_training_state(model, model.configure_optimizers(), out)
    assert str(err.value) == f"{path}: cannot resume, field rng.cuda must be a list of CUDA RNG states (tensors)"


# --- the suite's own pin ----------------------------------------------------------------------------

def test_cuda_marker_is_registered(pytestconfig):
    assert any(line.startswith("cuda:") for line in pytestconfig.getini("markers"))


def test_training_on_cpu_never_touches_the_cuda_numerics(tmp_path):
    """deterministic/tf32 only matter on CUDA; a CPU run leaves the process's flags as they were."""
    ds = TinyDataset()
    with devices.numerics_applied():
        before = devices.numerics()
        training.Trainer(tiny_model(ds), ds, tmp_path / "r", quiet(steps=1, deterministic=True)).fit()
        assert devices.numerics() == before and not torch.are_deterministic_algorithms_enabled()


# --- on a GPU (pytest -m cuda) -------------------------------------------------------------------

@pytest.mark.cuda
def test_cuda_setup_is_ieee_fp32_and_deterministic():
    with devices.numerics_applied():
        dev = devices.setup_device("cuda:0")
        assert torch.cuda.current_device() == 0 and devices.precision_name(dev) == "fp32"
        conv = torch.nn.Conv3d(8, 16, 3, padding=1)
        torch.manual_seed(0)
        x = torch.randn(2, 8, 8, 16, 16)
        ref = conv(x)  # CPU, fp32
        gpu = conv.to(dev)
        a, b = gpu(x.to(dev)), gpu(x.to(dev))
        assert torch.equal(a, b)  # deterministic kernels: the same bits twice
        # IEEE fp32 on both sides; only the summation order of the 8*27 = 216 products differs, so the
        # difference is a few fp32 ulps of the largest partial sums (|x| ~ 1, weights ~ 0.07): 1e-5
        # absolute is ~100x that, while TF32 (10-bit mantissa, ~1e-3 relative) would miss it.
        assert torch.allclose(a.cpu(), ref, rtol=0, atol=1e-5), float((a.cpu() - ref).abs().max())
        assert devices.bf16_native(dev) == (torch.cuda.get_device_capability(dev)[0] >= 8)


@pytest.mark.cuda
def test_two_cuda_training_runs_are_identical_and_resume_is_exact(tmp_path):
    ds = TinyDataset()
    with devices.numerics_applied():
        devices.setup_device("cuda:0", deterministic=True)
        runs = []
        for name in ("a", "b"):
            model = tiny_model(ds, device="cuda:0")
            training.Trainer(model, ds, tmp_path / name, quiet(steps=2, seed=3, amp="off", workers=0)).fit()
            runs.append({k: v.cpu() for k, v in model.nets.state_dict().items()})
        half = tiny_model(ds, device="cuda:0")
        training.Trainer(half, ds, tmp_path / "c", quiet(steps=1, seed=3, amp="off", workers=0)).fit()
        resumed = load_checkpoint(tmp_path / "c", device="cuda:0")
        training.Trainer(resumed, ds, tmp_path / "c", quiet(steps=2, resume=True, amp="off", workers=0)).fit()
    for k, v in runs[0].items():
        assert torch.equal(v, runs[1][k]), k
        assert torch.equal(v, resumed.nets.state_dict()[k].cpu()), k


@pytest.mark.cuda
def test_noise_is_the_same_everywhere_and_pixels_agree_across_devices():
    ds = TinyDataset()
    cpu = tiny_model(ds)
    gpu = copy.deepcopy(cpu).to("cuda:0")
    z_cpu = cpu.sample_z(2, torch.Generator().manual_seed(7))
    z_gpu = gpu.sample_z(2, torch.Generator().manual_seed(7))
    assert torch.equal(z_cpu, z_gpu.cpu())  # seeded on a CPU generator, then moved: identical everywhere
    images = np.stack([ds.load_clip(r)[0] for r in ds.clips("test", per_video=1, seed=0)[:2]])
    with devices.numerics_applied():
        devices.setup_device("cuda:0")
        a = cpu.generate(images, [0, 1], z=z_cpu)
        b = gpu.generate(images, [0, 1], z=z_gpu).cpu()
    # Both IEEE fp32; outputs in [-1, 1] after ~10 layers whose sums run in other orders, each adding
    # ~1e-6 relative: 1e-3 absolute (a quarter of one uint8 level, 2/255 = 7.8e-3) bounds it with margin.
    assert torch.allclose(a, b, rtol=0, atol=1e-3), float((a - b).abs().max())
