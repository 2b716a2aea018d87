"""Shared fixtures: an isolated cache/data home per test session, small test videos, and the CPU pin.

The suite runs on the CPU wherever it runs: ``--device auto`` (and everything that defaults to it)
resolves to cpu here because ``VBENCH_AUTO_DEVICE=cpu`` is set for this process and every process it
starts, so ``pytest`` on a GPU host passes the same tests. A test that needs a GPU says so with
``@pytest.mark.cuda`` and names its device itself (``"cuda"``); without CUDA it is skipped.
``pytest -m cuda`` runs those alone (the GPU check script does).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

# Set at import, before any fixture (module-scoped ones included) resolves a device.
os.environ["VBENCH_AUTO_DEVICE"] = "cpu"


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA device (skipped without one; `pytest -m cuda` runs them)")


def pytest_runtest_setup(item):
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device")


@pytest.fixture(autouse=True)
def _isolated_homes(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.cache or data folders from tests."""
    home = tmp_path_factory.getbasetemp() / "vbench_home"
    monkeypatch.setenv("VBENCH_I2V_HOME", str(home))
    monkeypatch.setenv("VBENCH_I2V_DATA", str(tmp_path_factory.getbasetemp() / "vbench_data"))


def smooth_video(t: int = 32, h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth moving colour pattern (what codecs see in practice), uint8 T x H x W x 3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    frames = []
    for i in range(t):
        chans = [127.5 + 100 * np.sin((xx + 1.5 * i) / 9.0 + phase[c]) * np.cos((yy - i) / 11.0 + c) for c in range(3)]
        frames.append(np.stack(chans, -1))
    return np.clip(np.round(frames), 0, 255).astype(np.uint8)


@pytest.fixture
def video():
    return smooth_video()


# --- the numeric tests: CI runs them a second time with the CPU dispatch forced down a level -------
# Modules whose tests compare float results (training, metrics, networks, pipelines) with a
# reference or with a second run. `.ci/run` reruns `-m numeric` under another ATen capability and
# oneDNN ISA, so an assumption that holds only for one instruction set fails in CI first.
NUMERIC_MODULES = {
    "test_trainer", "test_training", "test_distributed_training", "test_distributed", "test_backend_contract",
    "test_imaginator", "test_mocogan", "test_vgan", "test_imaginator_label_path", "test_equal_budget",
    "test_metric_contract", "test_metrics_frechet", "test_metrics_kid", "test_metrics_pixel",
    "test_metrics_intervals", "test_metrics_acd", "test_pipeline_values", "test_fvd_metrics", "test_jedi",
    "test_lpips", "test_extrapolate", "test_i3d",
    "test_resnext", "test_videomae_v2", "test_vjepa", "test_extractor_contract", "test_synthetic_probe",
    "test_probes", "test_label_accuracy", "test_label_acc_metric", "test_bf16_features", "test_cli_metrics",
    "test_run_e2e", "test_sanity", "test_tensors_protocol", "test_vbench_dims_metrics",
    "test_vbench_dims_networks", "test_raft", "test_frame_depth",
    "test_preprocess_contract", "test_parallel_scoring", "test_gpu_preprocess", "test_scoring_engine",
    "test_device_identity",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in NUMERIC_MODULES:
            item.add_marker(pytest.mark.numeric)
