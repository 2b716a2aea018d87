"""Which float kernels this process runs: a key for the few bit-exact pins the suite keeps.

Float results of the same seeded computation differ between CPU instruction sets (AVX2 vs AVX-512
kernels sum in other orders and fuse other operations), so a sha256 of float state computed on one
machine is not a fact about the code. The suite tests what such pins guarded by running both sides
on the same machine (a reference loop, the straight run against the resumed one); a literal pin is
kept only as an extra check *keyed by the dispatch that made it*, and is skipped with the reason
everywhere else, never failed.

The key has three parts, each of which changes the kernels: the torch release, ATen's CPU
capability (``ATEN_CPU_CAPABILITY`` lowers it) and oneDNN's instruction set (``ONEDNN_MAX_CPU_ISA``
or ``DNNL_MAX_CPU_ISA`` lower it; oneDNN runs convolutions). The oneDNN level is derived from the
CPU's flags and that variable, the way oneDNN chooses it.
"""

from __future__ import annotations

import os

import pytest

# oneDNN ISA names in increasing order (a prefix of the value names the family).
_ONEDNN_ORDER = ["SSE41", "AVX", "AVX2", "AVX512"]


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def onednn_isa() -> str:
    flags = _cpu_flags()
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        best = "AVX512"
    elif {"avx2", "fma"} <= flags:
        best = "AVX2"
    elif "avx" in flags:
        best = "AVX"
    elif flags:
        best = "SSE41"
    else:
        return "unknown"
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    if cap and cap != "ALL":
        family = next((name for name in reversed(_ONEDNN_ORDER) if cap.startswith(name)), None)
        if family is not None and _ONEDNN_ORDER.index(family) < _ONEDNN_ORDER.index(best):
            best = family
    return best


def dispatch_key() -> str:
    import torch

    return f"torch {torch.__version__} / aten {torch.backends.cpu.get_cpu_capability()} / onednn {onednn_isa()}"


def pinned(table: dict[str, object]):
    """The pinned value for this process's dispatch, or a skip that names the dispatch."""
    key = dispatch_key()
    if key not in table:
        pytest.skip(f"bit-exact pin recorded only for {sorted(table)}; this process runs {key} "
                    "(the same-machine comparisons in this file cover what the pin guards)")
    return table[key]
