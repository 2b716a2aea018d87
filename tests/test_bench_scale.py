"""benchmarks/bench_scale.py: its per-process measurement, its summary, and a --quick run of the whole
machinery (two `vbench metrics` runs on a few tiny clip pairs) with the JSON keys the README uses."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "bench_scale.py")
bench_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_scale)

ALLOC = "import time; b = bytearray({mib} * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.05)"


def test_peak_rss_is_the_childs_own(tmp_path):
    """wait4 gives each child's own peak: a small child after a big one must not inherit the big
    peak (RUSAGE_CHILDREN's ru_maxrss would: it is the maximum over all children so far)."""
    big = bench_scale.run_command([sys.executable, "-c", ALLOC.format(mib=300)], tmp_path / "big")
    small = bench_scale.run_command([sys.executable, "-c", ALLOC.format(mib=20)], tmp_path / "small")
    # the interpreter itself is ~10-40 MiB: the touched buffer dominates the big child's peak
    assert 300 <= big["peak_rss_mib"] < 300 + 100
    assert 20 <= small["peak_rss_mib"] < 20 + 100 and small["peak_rss_mib"] < big["peak_rss_mib"] - 200
    assert big["wall_s"] > 0.05 and big["cpu_s"] > 0


def test_peak_rss_does_not_count_the_benchmarks_own(tmp_path):
    """Linux keeps in a child's peak RSS the RSS of the address space it replaced at exec (the
    parent's, after fork or vfork): measured straight from a big parent, a small child read as big."""
    ballast = bytearray(400 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # this process now holds 400 MiB more
    small = bench_scale.run_command([sys.executable, "-c", ALLOC.format(mib=20)], tmp_path / "small")
    assert small["peak_rss_mib"] < 20 + 100
    del ballast


def test_failing_command_stops_with_its_error(tmp_path):
    with pytest.raises(SystemExit, match="boom"):
        bench_scale.run_command([sys.executable, "-c", "import sys; sys.exit('boom')"], tmp_path / "f")


def test_summary_by_hand():
    runs = [{"set": "fid", "case": "n", "frames": 32, "size": 64, "pairs": p, "wall_s": w, "cpu_s": c, "peak_rss_mib": m}
            for p, w, c, m in ((1000, 20.0, 10.0, 700.0), (10000, 110.0, 55.0, 840.0), (5000, 60.0, 30.0, 720.0))]
    (row,) = bench_scale.summarise(runs)
    assert row["pairs"] == [1000, 5000, 10000] and row["peak_rss_mib"] == [700.0, 720.0, 840.0]
    assert row["rss_ratio"] == pytest.approx(840 / 700) and row["flat"] is False  # 1.2 > 1.10
    assert row["marginal_wall_ms_per_pair"] == pytest.approx(1000 * 90 / 9000)
    assert row["marginal_cpu_ms_per_pair"] == pytest.approx(1000 * 45 / 9000)


def test_quick_run_writes_runs_summary_and_plot(tmp_path):
    out, png = tmp_path / "scale.json", tmp_path / "scale.png"
    argv = ["--quick", "--cases", "n", "--json", str(out), "--data", str(tmp_path / "clips")]
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    bench_scale.main(argv + (["--plot", str(png)] if has_mpl else []))
    data = json.loads(out.read_text())
    assert data["quick"] is True and set(data["machine"]) >= {"cpu", "cpus", "cpu_flags", "bf16_flags", "torch"}
    runs = data["runs"]
    assert [r["pairs"] for r in runs] == [3, 6]
    for r in runs:
        assert set(r) >= {"set", "case", "frames", "size", "pairs", "wall_s", "cpu_s", "peak_rss_mib", "load_before",
                          "busy_cores_before", "values", "n_scored"}
        assert set(r["values"]) == {"ssim", "psnr", "fid"} and r["n_scored"]["ssim"] == r["pairs"]
        assert r["peak_rss_mib"] > 50 and r["cpu_s"] > 0  # a process that imported torch and scored
    (row,) = data["summary"]
    assert row["rss_ratio"] == pytest.approx(runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"], rel=1e-3)
    assert {"flat", "marginal_wall_ms_per_pair", "marginal_cpu_ms_per_pair"} <= set(row)
    files = list((tmp_path / "clips").rglob("*.npz"))
    assert sum(not f.is_symlink() for f in files) == 2 * 6  # written once; the subsets are links
    assert sum(f.is_symlink() for f in files) == 2 * (3 + 6)
    if has_mpl:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_video_interval_memory_does_not_grow_with_the_videos():
    """What the scale benchmark found: `bootstrap.mean_ci` drew its reps x N count matrix in one piece
    (80 MB at 10,000 videos, 160 MB with its float copy), so the command's peak grew with N. In
    blocks its peak stays small, and the interval is the one-piece draw's (same stream, rounding of
    the dot products aside: rtol 1e-12)."""
    import tracemalloc

    import numpy as np

    from references import bootstrap_means, percentile_interval, seeded_stream
    from vbench_i2v.metrics import bootstrap

    v = np.random.default_rng(0).lognormal(size=3000)  # 1000 reps x 3000: 12 blocks
    want = percentile_interval(bootstrap_means(v, seeded_stream(0, "bootstrap", "mean"), 1000))
    np.testing.assert_allclose(bootstrap.mean_ci(v), want, rtol=1e-12)
    big = np.random.default_rng(1).random(20000)
    tracemalloc.start()
    try:
        bootstrap.mean_ci(big, reps=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one block is MEAN_CI_BLOCK int64 entries (2 MiB) plus its float copy; the whole matrix was 160 MB
    assert peak < 16 * 2**20, peak / 2**20
