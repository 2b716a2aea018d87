"""Shared fixtures: an isolated cache/data home per test session, and small test videos."""

from __future__ import annotations

import numpy as np
import pytest


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
