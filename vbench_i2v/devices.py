"""Devices and their numerics: ``--device auto|cpu|cuda[:N]`` -> a torch device the same way for every
command, and the one call that fixes what a CUDA run computes with.

- :func:`resolve_device`: ``auto`` is cuda when present, else cpu (``VBENCH_AUTO_DEVICE=cpu`` pins it to
  the CPU: the test suite sets it, so ``pytest`` on a GPU host runs on the CPU unless a test asks for
  ``cuda`` itself); ``cuda:N`` is checked against the visible device count (one ``Error:`` line).
- :func:`setup_device`: what every CLI entry point that computes calls once, after resolving its device.
  On CUDA it makes the device current (``torch.cuda.set_device``; torchrun processes get theirs in
  :func:`vbench_i2v.distributed.init`), turns TF32 off unless asked (``tf32=True``: TF32 is on for cuDNN
  convolutions in a stock torch build, so an "fp32" network would run in TF32), and with
  ``deterministic`` selects deterministic cuDNN/cuBLAS kernels (``cudnn.deterministic``, no cuDNN
  autotuning, ``torch.use_deterministic_algorithms`` and ``CUBLAS_WORKSPACE_CONFIG``). On the CPU
  nothing is changed: its kernels already give the same numbers run after run for a fixed thread
  count, and TF32 does not exist there (``tf32=True`` is refused).
- :func:`precision_name`: ``fp32``, ``tf32`` or ``bf16``: what a network on this device computes in
  now, for provenance and measurement identities.
- :func:`bf16_native`: whether the device has bf16 units (``amp=auto`` turns bf16 on only there).

Determinism costs speed on CUDA: cuDNN no longer autotunes, some kernels (ConvTranspose3d backward,
scatter-adds) take slower deterministic paths. An operation that has no deterministic CUDA kernel
gives torch's warning instead of stopping the run (``warn_only``), so a result is never lost to it.
"""

from __future__ import annotations

import contextlib
import os

import torch

from vbench_i2v.errors import InputError

AUTO_ENV = "VBENCH_AUTO_DEVICE"  # what --device auto means: unset (cuda when present), cpu, or cuda
CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC = ":4096:8"  # one of the two settings cuBLAS documents as reproducible
PRECISIONS = ("fp32", "tf32", "bf16")


def auto_device_type() -> str:
    """``cuda`` or ``cpu``: what ``--device auto`` means here (``VBENCH_AUTO_DEVICE`` decides when set)."""
    forced = os.environ.get(AUTO_ENV, "").strip().lower()
    if forced in ("cpu", "cuda"):
        return forced
    if forced:
        raise InputError(f"{AUTO_ENV}={forced!r}: must be cpu or cuda (or unset: cuda when available)")
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto`` -> :func:`auto_device_type`; a missing CUDA device or index is one clear error."""
    if isinstance(device, torch.device):
        dev, text = device, str(device)
    else:
        text = (device or "auto").strip()
        if text == "auto":
            text = auto_device_type()
        try:
            dev = torch.device(text)
        except RuntimeError:
            raise InputError(f"unknown device {text!r} (use auto, cpu or cuda[:N])") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {text!r} asked for, but CUDA is not available here")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise InputError(f"device {text!r}: this machine has {count} visible CUDA device(s) "
                             f"(cuda:0 .. cuda:{count - 1}; CUDA_VISIBLE_DEVICES decides which)")
    return dev


def setup_device(device: str | torch.device | None, *, deterministic: bool = True, tf32: bool = False
                 ) -> torch.device:
    """Resolve ``device`` and fix its numerics (see the module doc); returns the resolved device."""
    from vbench_i2v import distributed

    dev = resolve_device(distributed.local_device(device) if not isinstance(device, torch.device) else device)
    if dev.type != "cuda":
        if tf32:
            raise InputError(f"--tf32: device {str(dev)!r} is not a CUDA device (TF32 is a CUDA matmul and "
                             "convolution mode)")
        return dev
    use_device(dev)
    set_numerics(deterministic=deterministic, tf32=tf32)
    return dev


def use_device(device: torch.device) -> None:
    """Make a CUDA ``device`` with an index the current one in a single process (kernels, cuBLAS
    handles and ``current_device()`` then use the GPU asked for); torchrun processes already have
    theirs (:func:`vbench_i2v.distributed.init`). Nothing to do for the CPU or a bare ``cuda``."""
    from vbench_i2v import distributed

    if device.type == "cuda" and device.index is not None and not distributed.launched():
        torch.cuda.set_device(device)


def set_numerics(*, deterministic: bool, tf32: bool) -> None:
    """Process-wide CUDA numerics: TF32 for matmuls and convolutions, deterministic kernels."""
    torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    torch.backends.cudnn.allow_tf32 = bool(tf32)
    if deterministic:
        # cuBLAS reads it when it creates a handle: set before the first CUDA matmul of the process.
        os.environ.setdefault(CUBLAS_ENV, CUBLAS_DETERMINISTIC)
        torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = bool(deterministic)
    torch.use_deterministic_algorithms(bool(deterministic), warn_only=True)


def numerics() -> dict[str, bool]:
    """The process's current CUDA numerics (``deterministic``, ``tf32``) as :func:`set_numerics` takes them."""
    return {"deterministic": bool(torch.backends.cudnn.deterministic and torch.are_deterministic_algorithms_enabled()),
            "tf32": bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)}


@contextlib.contextmanager
def numerics_applied(deterministic: bool | None = None, tf32: bool | None = None):
    """Inside the block: the given numerics (None keeps the process's); afterwards every flag as before."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    current = numerics()
    try:
        if deterministic is not None or tf32 is not None:
            set_numerics(deterministic=current["deterministic"] if deterministic is None else deterministic,
                         tf32=current["tf32"] if tf32 is None else tf32)
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
         torch.backends.cudnn.deterministic) = saved[:4]
        torch.use_deterministic_algorithms(saved[4], warn_only=saved[5])


def precision_name(device: str | torch.device, bf16: bool = False) -> str:
    """``bf16`` when bf16 autocast is on, ``tf32`` when a CUDA device may use TF32 now, else ``fp32``.

    This is the number format a network on ``device`` computes in at this moment (after
    :func:`setup_device`): the value for a result's provenance and a measurement's identity.
    """
    if bf16:
        return "bf16"
    if torch.device(device).type == "cuda" and numerics()["tf32"]:
        return "tf32"
    return "fp32"


def bf16_native(device: str | torch.device) -> bool:
    """True on a CUDA device with bf16 units (compute capability 8.0, Ampere, or later); False on the
    CPU and on older GPUs, where torch emulates bf16 (slower than fp32, so ``amp=auto`` stays off)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return False
    if torch.version.hip:  # as torch.cuda.is_bf16_supported: bf16 counts as native on ROCm
        return True
    major, _ = torch.cuda.get_device_capability(dev)  # is_bf16_supported(including_emulation=False), per device
    return major >= 8
