"""Per-video metrics scored on several compute workers (clips split across the cores) give exactly
what one worker gives: the same per-video values, the same set values and intervals, the same
counters, records, notes and warnings in the same order, whatever order the workers finish in;
a failing clip raises the same one-line error at its own position; look-ahead and decoded clips in
memory stay bounded by the worker count."""

from __future__ import annotations

import threading
import time
import weakref

import numpy as np
import pytest
from click.testing import CliRunner
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vbench_i2v.errors import InputError, VBenchError
from vbench_i2v.metrics import engine, prefetch, sources
from vbench_i2v.metrics.engine import compute_metrics, summarize_mean
from vbench_i2v.metrics.plan import ScorePlan
from vbench_i2v.metrics.registry import MetricSpec, register, unregister
from vbench_i2v.video_io import write_video

PROBE = "parallel-probe"  # a model-free test metric that uses every part of the context


def _probe_per_video(item, ctx) -> float:
    """Sleeps longer for earlier clips (so workers finish out of order), and counts, records,
    notes and warns per clip, the way registered metrics do."""
    i = int(item.name[1:])
    time.sleep(0.004 * ((7 - i) % 4))
    frames = ctx.scored_frames(item.fake.shape[0], item.name)
    ctx.count("probe_frames", len(frames))
    ctx.record(PROBE, item.name, {"i": i, "thread": threading.current_thread().name})
    ctx.note("probe_note", "seen")
    if i % 3 == 1:
        ctx.warn(f"probe: clip {item.name} is odd")  # a different message per clip: the order shows
    if i % 5 == 0:
        ctx.warn("probe: a repeated message")
    import torch

    with ctx_lock:
        finish_order.append(item.name)
        torch_threads_seen.add(torch.get_num_threads())
    return float(np.asarray(item.fake, np.float64).mean() - np.asarray(item.real, np.float64).mean())


def _probe_summarize(values, ctx) -> dict:
    out = summarize_mean(values, ctx, PROBE)
    out["records"] = {k: v["i"] for k, v in ctx.records[PROBE].items()}
    out["frames_counted"] = ctx.counters["probe_frames"]
    return out


ctx_lock = threading.Lock()
finish_order: list[str] = []
torch_threads_seen: set[int] = set()


@pytest.fixture
def probe_metric():
    register(MetricSpec(name=PROBE, kind="paired", higher_is_better=True, decimals=3, description="test probe",
                        per_video=_probe_per_video, summarize=_probe_summarize))
    finish_order.clear()
    torch_threads_seen.clear()
    yield PROBE
    unregister(PROBE)


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """`vbench metrics` applies the thread policy to this process: restore torch's setting after."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _pairs(n=14, t=6, size=24, seed=0, identical=(4,)):
    rng = np.random.default_rng(seed)
    real = {f"v{i:02d}": rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8) for i in range(n)}
    fake = {k: np.clip(v.astype(int) + rng.integers(-30, 31, v.shape), 0, 255).astype(np.uint8)
            for k, v in real.items()}
    for i in identical:  # identical frames: PSNR's cap and its counter
        fake[f"v{i:02d}"] = real[f"v{i:02d}"].copy()
    return real, fake


def _score(monkeypatch, workers: int, real, fake, metrics: str):
    monkeypatch.setenv("VBENCH_THREADS", str(workers))
    return compute_metrics(real, fake, ScorePlan(metrics=metrics, bootstrap_reps=50))


def _spy_loads(monkeypatch) -> dict:
    """Every decode: which thread, whether it ran as a compute worker, and how many decoded clips
    are alive at once (each load returns a fresh copy whose release is watched)."""
    spy = {"threads": set(), "in_worker": set(), "live": 0, "max_live": 0, "started": 0, "merged": 0,
           "max_ahead": 0}
    lock = threading.Lock()
    original = sources.VideoSet.load

    def gone():
        with lock:
            spy["live"] -= 1

    def load(self, name):
        with lock:
            if "fake" in self.label:  # one per clip (the partner is decoded in the same job)
                spy["started"] += 1
                spy["max_ahead"] = max(spy["max_ahead"], spy["started"] - spy["merged"])
            spy["threads"].add(threading.current_thread().name)
            spy["in_worker"].add(prefetch.in_compute_worker())
        v = original(self, name).copy()
        with lock:
            spy["live"] += 1
            spy["max_live"] = max(spy["max_live"], spy["live"])
        weakref.finalize(v, gone)
        return v

    monkeypatch.setattr(sources.VideoSet, "load", load)
    merge = engine._merge_clip_context

    def merged(ctx, local):
        merge(ctx, local)
        with lock:
            spy["merged"] += 1

    monkeypatch.setattr(engine, "_merge_clip_context", merged)
    return spy


@pytest.mark.filterwarnings("ignore:probe:UserWarning")
def test_parallel_workers_give_exactly_the_one_worker_results(monkeypatch, probe_metric):
    real, fake = _pairs()
    metrics = f"ssim,psnr,temporal-flickering,{PROBE}"
    one = _score(monkeypatch, 1, real, fake, metrics)
    order_one = list(finish_order)
    finish_order.clear()
    torch_threads_seen.clear()
    spy = _spy_loads(monkeypatch)
    import torch

    torch.set_num_threads(2)  # the caller's setting (restored by the fixture): workers still use one each
    par = _score(monkeypatch, 3, real, fake, metrics)
    assert torch_threads_seen == {1} and torch.get_num_threads() == 2

    # the parallel path really ran: clips decoded and scored on several compute-worker threads
    assert len(spy["threads"]) > 1 and spy["in_worker"] == {True}, spy
    assert order_one == sorted(real) and finish_order != sorted(real)  # workers finished out of order
    # bit for bit: values, intervals, per-video dicts (in sorted order), counters, records, warnings
    assert par.metrics == one.metrics
    assert par.provenance == one.provenance
    assert list(par.metrics["ssim"]["per_video"]) == sorted(real)
    p = par.metrics[PROBE]
    assert p["frames_counted"] == 14 * 5 and list(p["records"]) == sorted(real)
    odd = [f"probe: clip v{i:02d} is odd" for i in range(14) if i % 3 == 1]
    # first occurrences in clip order (v00 says the repeated one first), not in finishing order
    assert p["provenance"]["warnings"] == ["probe: a repeated message"] + odd
    assert par.metrics["psnr"]["identical_frames"] == 5 and par.provenance["probe_note"] == "seen"

    # and the values are skimage's (independent reference), per video over the predicted frames 1..T-1
    for name in ("v00", "v04", "v09"):
        f, r = fake[name], real[name]
        s = np.mean([structural_similarity(f[t], r[t], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                           data_range=255, channel_axis=-1) for t in range(1, len(f))])
        assert abs(par.metrics["ssim"]["per_video"][name] - s) < 1e-5  # float32 maps: ~1e-7 per frame
        if name != "v04":  # v04 is identical: skimage says inf, we cap (tested in test_metrics_pixel)
            ps = np.mean([peak_signal_noise_ratio(r[t], f[t], data_range=255) for t in range(1, len(f))])
            assert abs(par.metrics["psnr"]["per_video"][name] - ps) < 1e-9  # exact integer SSE, float64


def test_worker_count_follows_the_thread_policy(monkeypatch):
    from vbench_i2v import threads

    spec = MetricSpec(name="x", kind="paired", higher_is_better=True, decimals=1, description="x",
                      per_video=lambda item, ctx: 0.0)
    with_model = MetricSpec(name="y", kind="paired", higher_is_better=True, decimals=1, description="y",
                            per_video=lambda item, ctx: 0.0, needs_model="lpips")
    monkeypatch.delenv("VBENCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "idle_cores", lambda: 5)
    assert engine._clip_workers([spec]) == 5  # the idle cores
    assert engine._clip_workers([spec, with_model]) == 1  # a network spreads over the cores itself
    monkeypatch.setenv("VBENCH_THREADS", "2")
    assert engine._clip_workers([spec]) == 2  # the override


def test_a_failing_clip_raises_the_same_error_at_its_position(monkeypatch):
    real, fake = _pairs()
    fake["v03"] = fake["v03"][:4]  # frame counts differ: the pair cannot be scored
    fake["v09"] = fake["v09"][:3]  # a later failure must not win, even when it fails first

    def slow_v03(self, name, original=sources.VideoSet.load):
        if name == "v03":
            time.sleep(0.05)
        return original(self, name)

    monkeypatch.setattr(sources.VideoSet, "load", slow_v03)
    errors = []
    for workers in (1, 3):
        with pytest.raises(InputError) as exc:
            _score(monkeypatch, workers, real, fake, "ssim,psnr")
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "v03" in errors[0] and "v09" not in errors[0]


def test_a_broken_file_is_one_line_naming_it(tmp_path, monkeypatch):
    from vbench_i2v.cli import main

    real, fake = _pairs(n=8, identical=())
    for side, vids in (("real", real), ("fake", fake)):
        for k, v in vids.items():
            write_video(tmp_path / side / f"{k}.npz", v)
    (tmp_path / "fake" / "v05.npz").write_bytes(b"not a zip file")
    outs = []
    for workers in ("1", "3"):
        monkeypatch.setenv("VBENCH_THREADS", workers)
        r = CliRunner().invoke(main, ["metrics", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                                      "--metrics", "ssim,psnr"])
        assert r.exit_code == 2, r.output
        outs.append(r.output.strip())
    assert outs[0] == outs[1] and outs[0].startswith("Error:") and "v05.npz" in outs[0]
    assert len(outs[0].splitlines()) == 1 and "Traceback" not in outs[0]


def test_look_ahead_and_decoded_clips_are_bounded(monkeypatch):
    real, fake = _pairs(n=40, identical=())
    spy = _spy_loads(monkeypatch)
    workers = 3
    _score(monkeypatch, workers, real, fake, "ssim,psnr")
    assert spy["merged"] == 40 and spy["started"] == 40  # each clip decoded once
    # a clip's job starts at most 2 x workers clips ahead of the last one merged (+1: the next one
    # is submitted before the current one is handed out)
    assert spy["max_ahead"] <= 2 * workers + 1, spy
    # only running jobs hold decoded videos: at most one pair per worker (not the 80 videos)
    assert spy["max_live"] <= 2 * workers, spy


def test_one_worker_scores_in_the_calling_thread(monkeypatch):
    real, fake = _pairs(n=5, identical=())
    spy = _spy_loads(monkeypatch)
    _score(monkeypatch, 1, real, fake, "ssim")
    assert spy["in_worker"] == {False} and spy["merged"] == 0  # the sequential loop, decode prefetched


def test_feature_pass_decodes_ahead_with_the_same_features(tmp_path, monkeypatch):
    """`vbench features`' pass decodes on loader threads while the network runs: same rows, in order."""
    from dist_fakes import MomentsExtractor

    from vbench_i2v.metrics.features import extract_features
    from vbench_i2v.metrics.sources import VideoSet

    real, _ = _pairs(n=9, identical=())
    for k, v in real.items():
        write_video(tmp_path / f"{k}.npz", v)
    threads_seen = set()
    original = sources.VideoSet.load

    def load(self, name):
        threads_seen.add(threading.current_thread().name)
        return original(self, name)

    monkeypatch.setattr(sources.VideoSet, "load", load)
    monkeypatch.setenv("VBENCH_THREADS", "2")
    names, feats, _ = extract_features(VideoSet.from_source(tmp_path, "videos"), MomentsExtractor())
    assert names == sorted(real) and all(t.startswith("vbench-load") for t in threads_seen)
    want = np.stack([MomentsExtractor().features(real[n][None])[0] for n in names])  # one clip at a time
    np.testing.assert_allclose(feats, want, rtol=1e-12, atol=0)  # float64 means/stds; batching may reorder sums
    (tmp_path / "v02.npz").write_bytes(b"broken")
    with pytest.raises(VBenchError, match="v02.npz"):  # the same error the plain loop raises
        extract_features(VideoSet.from_source(tmp_path, "videos"), MomentsExtractor())


def test_kernel_in_a_compute_worker_uses_one_torch_thread(monkeypatch):
    from vbench_i2v import threads
    from vbench_i2v.metrics.pixel import ssim_psnr_frames

    asked = []
    original = threads.torch_threads

    def spy(n):
        asked.append(n)
        return original(n)

    monkeypatch.setattr(threads, "torch_threads", spy)
    monkeypatch.setenv("VBENCH_THREADS", "4")
    real, fake = _pairs(n=1, identical=())
    a = ssim_psnr_frames(fake["v00"], real["v00"])
    with prefetch.compute_worker():
        assert prefetch.in_compute_worker()
        b = ssim_psnr_frames(fake["v00"], real["v00"])
    assert not prefetch.in_compute_worker()
    assert asked == [4, 1]  # outside: the policy (here the override); in a worker: one thread
    assert all(np.allclose(x.numpy(), y.numpy(), rtol=1e-12, atol=0) for x, y in zip(a, b))
