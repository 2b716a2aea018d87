"""Native bf16 detection and the one-line hint that `--bf16` would be faster here.

The hint must appear once where a network with a bf16 mode runs in fp32 on a device with native bf16
(AVX512-BF16/AMX-BF16/Arm BF16 CPUs, CUDA compute capability 8.0+), and never where bf16 would be
emulated (there it is slower: 27x for ResNeXt-101 on an AVX2 CPU). The native flag is faked on and
off, so these tests check the same on every CPU.
"""

import logging

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vbench_i2v import devices
from vbench_i2v.cli import main as vbench
from vbench_i2v.metrics.engine import compute_metrics
from vbench_i2v.metrics.features import features_file
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.video_io import write_video

X86_AVX2 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2
"""
X86_BF16 = X86_AVX2.replace("bmi2", "bmi2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx512_vbmi2")
X86_AVX512_NO_BF16 = X86_AVX2.replace("bmi2", "bmi2 avx512f avx512bw avx512vl avx512dq avx512_vnni")
X86_AMX = X86_AVX2.replace("bmi2", "bmi2 avx512f amx_bf16 amx_tile amx_int8")
ARM_BF16 = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd evtstrm aes sve i8mm bf16 svebf16\n"
ARM_OLD = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"


def test_cpuinfo_flags_name_only_bf16_arithmetic():
    assert devices.cpuinfo_bf16_flags(X86_BF16) == ("avx512_bf16",)
    assert devices.cpuinfo_bf16_flags(X86_AMX) == ("amx_bf16",)
    assert devices.cpuinfo_bf16_flags(ARM_BF16) == ("bf16",)  # "svebf16" is a different word
    # AVX-512 without its BF16 extension (Skylake, Ice Lake) emulates bf16 like AVX2 does
    for text in (X86_AVX2, X86_AVX512_NO_BF16, ARM_OLD, ""):
        assert devices.cpuinfo_bf16_flags(text) == ()


def test_cpu_flags_fall_back_to_proc_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)  # an older torch
    info = tmp_path / "cpuinfo"
    monkeypatch.setattr(devices, "_CPUINFO", info)
    info.write_text(X86_BF16)
    assert devices.cpu_bf16_flags() == ("avx512_bf16",) and devices.has_native_bf16("cpu")
    info.write_text(X86_AVX2)
    assert devices.cpu_bf16_flags() == () and not devices.has_native_bf16("cpu")
    info.unlink()  # no /proc (macOS, Windows): not native, never an error
    assert devices.cpu_bf16_flags() == ()


def test_cpu_flags_from_torch_capabilities(monkeypatch):
    caps = {"avx2": True, "avx512_f": True, "avx512_bf16": False, "amx_bf16": True, "architecture": "x86_64"}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps, raising=False)
    assert devices.cpu_bf16_flags() == ("amx_bf16",)
    caps["amx_bf16"] = False
    assert not devices.has_native_bf16("cpu")


def test_cuda_follows_bf16_native(monkeypatch):
    monkeypatch.setattr(devices, "cpu_bf16_flags", lambda: ("avx512_bf16",))
    for native in (True, False):
        monkeypatch.setattr(devices, "bf16_native", lambda dev, native=native: native)
        assert devices.has_native_bf16("cuda:0") is native
    assert devices.has_native_bf16("cpu")  # the CPU answer does not depend on a GPU's


# --- the hint ---------------------------------------------------------------------------------------

class _Net:
    """A tiny video network with a bf16 mode (as ResNeXt-101's extractor has): mean colour tracks."""

    name = "tiny-bf16-net"
    dim = 6

    def __init__(self, bf16: bool = False):
        self.bf16 = bf16

    def features(self, videos):
        v = np.asarray(videos, np.float64)[:, :2].mean(axis=(2, 3)).reshape(len(videos), -1) / 255
        return v + np.arange(self.dim) * 1e-3


class _NoBf16Mode:
    name = "tiny-fp32-only"
    dim = 6

    def features(self, videos):
        return _Net().features(videos)


@pytest.fixture
def hints(monkeypatch):
    """Messages logged by the hint (through the package logger at INFO, as the CLI sets it up)."""
    monkeypatch.setattr(devices, "_BF16_HINTED", set())  # a fresh process
    logger = logging.getLogger("vbench_i2v")
    got: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: got.append(rec.getMessage())
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield got
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _native(monkeypatch, on: bool):
    monkeypatch.setattr(devices, "cpu_bf16_flags", lambda: ("avx512_bf16",) if on else ())


def _bf16_hints(msgs):
    return [m for m in msgs if "--bf16" in m]


def _videos(n, seed, size=8):
    rng = np.random.default_rng(seed)
    return {f"v{i}": rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8) for i in range(n)}


def test_hint_once_through_the_engine_when_native(hints, monkeypatch):
    _native(monkeypatch, True)
    plan = ScorePlan(metrics=["fid"], extractor=_Net(), set_bootstrap_reps=5)
    compute_metrics(_videos(8, 0), _videos(8, 1), plan)
    got = _bf16_hints(hints)
    assert len(got) == 1, hints  # one network, two sides: one line
    assert "tiny-bf16-net runs in fp32" in got[0] and "avx512_bf16" in got[0] and "\n" not in got[0]
    compute_metrics(_videos(8, 2), _videos(8, 3), ScorePlan(metrics=["fid"], extractor=_Net(), set_bootstrap_reps=5))
    assert len(_bf16_hints(hints)) == 1  # once per network in a process (e.g. `vbench run` over generators)


def test_never_without_native_bf16(hints, monkeypatch, tmp_path):
    _native(monkeypatch, False)
    compute_metrics(_videos(8, 0), _videos(8, 1), ScorePlan(metrics=["fid"], extractor=_Net(), set_bootstrap_reps=5))
    features_file(_videos(4, 2), _Net(), tmp_path / "f.npz")
    assert _bf16_hints(hints) == []
    monkeypatch.setattr(devices, "bf16_native", lambda dev: False)  # a GPU without bf16 units
    assert devices.hint_bf16(_Net(), "cuda") is False and _bf16_hints(hints) == []


def test_never_when_already_bf16_or_without_a_bf16_mode(hints, monkeypatch, tmp_path):
    _native(monkeypatch, True)
    compute_metrics(_videos(8, 0), _videos(8, 1),
                    ScorePlan(metrics=["fid"], extractor=_Net(bf16=True), bf16=True, set_bootstrap_reps=5))
    compute_metrics(_videos(8, 0), _videos(8, 1),
                    ScorePlan(metrics=["fid"], extractor=_NoBf16Mode(), set_bootstrap_reps=5))
    compute_metrics(_videos(2, 0, 16), _videos(2, 1, 16), ScorePlan(metrics=["ssim", "psnr"]))  # no network
    assert _bf16_hints(hints) == []


def test_hint_once_through_vbench_features(hints, monkeypatch, tmp_path):
    _native(monkeypatch, True)
    features_file(_videos(4, 0), _Net(), tmp_path / "a.npz")
    features_file(_videos(4, 1), _Net(), tmp_path / "b.npz")
    assert len(_bf16_hints(hints)) == 1


def test_hint_on_a_cuda_device_with_bf16_units(hints, monkeypatch):
    monkeypatch.setattr(devices, "bf16_native", lambda dev: True)
    assert devices.hint_bf16(_Net(), "cuda:0") is True
    assert len(_bf16_hints(hints)) == 1 and "cuda:0 has native bf16" in hints[0]


def test_resnext_extractor_in_fp32_is_hinted(hints, monkeypatch):
    """The real FID extractor class exposes its bf16 mode as the hint reads it (tiny stand-in model)."""
    from vbench_i2v.feature_extractors.resnext3d import ResNeXtFIDExtractor

    _native(monkeypatch, True)
    model = torch.nn.Conv3d(3, 2, 1)
    assert devices.hint_bf16(ResNeXtFIDExtractor.from_model(model, bf16=True), "cpu") is False
    assert devices.hint_bf16(ResNeXtFIDExtractor.from_model(model), "cpu") is True
    assert "resnext101-kinetics runs in fp32" in _bf16_hints(hints)[0]


def test_cli_features_prints_nothing_for_a_network_without_bf16_mode(hints, monkeypatch, tmp_path):
    _native(monkeypatch, True)
    rng = np.random.default_rng(0)
    for i in range(2):
        write_video(tmp_path / "v" / f"c{i}.npz", rng.integers(0, 256, (32, 64, 64, 3), dtype=np.uint8))
    r = CliRunner().invoke(vbench, ["features", str(tmp_path / "v"), "--extractor", "synthetic-probe",
                                    "--out", str(tmp_path / "f.npz")])
    assert r.exit_code == 0, r.output
    assert _bf16_hints(hints) == [] and "--bf16" not in r.output
