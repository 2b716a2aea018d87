"""``--device auto|cpu|cuda[:N]`` -> a torch device, the same way for every command."""

from __future__ import annotations

import torch

from vbench_i2v.errors import InputError


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> cuda when present, else cpu; a missing CUDA device is a clear error."""
    if isinstance(device, torch.device):
        return device
    device = (device or "auto").strip()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r} (use auto, cpu or cuda[:N])") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but CUDA is not available here")
    return dev
