"""`--device auto|cpu|cuda[:N]` means the same for every command, the metrics engine included."""

import numpy as np
import pytest
import torch

from vbench_i2v.devices import resolve_device
from vbench_i2v.errors import InputError
from vbench_i2v.metrics.engine import compute_metrics


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_metrics_engine_takes_auto():
    rng = np.random.default_rng(0)
    videos = {f"v{i}": rng.integers(0, 255, size=(4, 16, 16, 3), dtype=np.uint8) for i in range(3)}
    out = compute_metrics(videos, videos, metrics=["psnr"], device="auto")
    assert out["provenance"]["device"] == str(resolve_device("auto"))
    assert out["metrics"]["psnr"]["n"] == 3
