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
- :func:`has_native_bf16`: the same question for any device, the CPU included (its AVX512-BF16 or
  AMX-BF16 instructions, Arm's BF16); :func:`hint_bf16` prints once per network that ``--bf16`` would
  be faster where a large network with a bf16 mode runs in fp32 on such a device. fp32 stays the
  default for reported numbers: the hint only says what the user may choose.

Determinism costs speed on CUDA: cuDNN no longer autotunes, some kernels (ConvTranspose3d backward,
scatter-adds) take slower deterministic paths. An operation that has no deterministic CUDA kernel
gives torch's warning instead of stopping the run (``warn_only``), so a result is never lost to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

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
        check_tf32(dev, tf32)
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


def check_tf32(device: str | torch.device, tf32: bool) -> None:
    """``--tf32`` is a CUDA mode: asked for on another device it is one ``Error:`` line."""
    dev = torch.device(device)
    if tf32 and dev.type != "cuda":
        raise InputError(f"--tf32: device {str(dev)!r} is not a CUDA device (TF32 is a CUDA matmul and "
                         "convolution mode)")


@contextlib.contextmanager
def scoring_numerics(device: str | torch.device, tf32: bool = False):
    """The numerics of one scoring call (``ScorePlan.tf32``, ``vbench features --tf32``): TF32 refused
    off CUDA; on CUDA, TF32 on or off as asked inside the block (the process's flags come back after
    it), so :func:`precision_name` inside says what the networks compute in. Nothing changes on the CPU."""
    check_tf32(device, tf32)
    if torch.device(device).type != "cuda":
        yield
        return
    with numerics_applied(tf32=bool(tf32)):
        yield


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


# Instruction sets with bf16 arithmetic (dot products into fp32), as torch.cpu.get_capabilities() and
# /proc/cpuinfo name them: x86 AVX512-BF16 (Cooper Lake, AMD Zen 4 and later) and AMX-BF16 (Sapphire
# Rapids and later); Arm's BF16 extension (Armv8.6: Neoverse V1/V2, Graviton 3). Without one of them
# torch converts bf16 to fp32 around every operation: measured 27x slower than fp32 for ResNeXt-101 on
# an AVX2-only EPYC. (oneDNN's own `_is_mkldnn_bf16_supported` is True on any AVX-512 core, where its
# bf16 kernels still emulate the dot products, so it is not the test for "faster".)
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
_CPUINFO = Path("/proc/cpuinfo")


def cpuinfo_bf16_flags(text: str) -> tuple[str, ...]:
    """The :data:`CPU_BF16_FLAGS` named on the first ``flags`` (x86) or ``Features`` (Arm) line of a
    /proc/cpuinfo text."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            have = set(value.split())
            return tuple(f for f in CPU_BF16_FLAGS if f in have)
    return ()


def cpu_bf16_flags() -> tuple[str, ...]:
    """This CPU's bf16 instruction sets (empty when it has none): torch's cpuinfo-based
    ``torch.cpu.get_capabilities()`` where this torch has it, else /proc/cpuinfo (Linux)."""
    get = getattr(getattr(torch, "cpu", None), "get_capabilities", None)
    if get is not None:
        try:
            caps = dict(get())
        except RuntimeError:
            caps = None
        if caps is not None:
            return tuple(f for f in CPU_BF16_FLAGS if caps.get(f) is True)
    try:
        return cpuinfo_bf16_flags(_CPUINFO.read_text(errors="replace"))
    except OSError:
        return ()


def has_native_bf16(device: str | torch.device) -> bool:
    """Whether bf16 runs on hardware units on ``device``: a CUDA device per :func:`bf16_native`, a
    CPU per :func:`cpu_bf16_flags`. Where this is False, bf16 is emulated and slower than fp32."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return bf16_native(dev)
    if dev.type == "cpu":
        return bool(cpu_bf16_flags())
    return False


_BF16_HINTED: set[str] = set()  # networks already hinted in this process (one line per network)


def hint_bf16(ex, device: str | torch.device) -> bool:
    """Log one line (``vbench_i2v`` logger, INFO) when network ``ex`` runs in fp32 but has a bf16 mode
    (``ex.bf16`` is False: only large networks have one) and ``device`` has native bf16, where
    ``--bf16`` is faster. Never on devices that would emulate bf16; once per network per process.
    Returns whether it logged."""
    if getattr(ex, "bf16", None) is not False:  # already bf16, or a network without a bf16 mode
        return False
    name = str(getattr(ex, "name", type(ex).__name__))
    if name in _BF16_HINTED or not has_native_bf16(device):
        return False
    _BF16_HINTED.add(name)
    dev = torch.device(device)
    where = (f"this CPU has native bf16 ({', '.join(cpu_bf16_flags())})" if dev.type == "cpu"
             else f"{dev} has native bf16")
    logging.getLogger(__name__).info(
        "hint: %s runs in fp32; %s, so --bf16 would be faster here (features a little off fp32's and "
        "recorded as bf16; reported numbers stay fp32 unless asked)", name, where)
    return True
