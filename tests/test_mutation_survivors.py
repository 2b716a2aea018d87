"""Tests written for mutants that survived the second mutation run (docs/mutation-testing.md):
float32 inputs must be accumulated in float64, KID with unequal set sizes and two real videos,
labels of flipped training copies, the seeded choices of clips() pinned (split, per-video, the
keys of every random stream) and clips.csv's label names. Each compares with numpy or a literal."""

from __future__ import annotations

import numpy as np
import pytest

from vbench_i2v import protocol
from vbench_i2v.datasets.base import VideoDataset, VideoRecord
from vbench_i2v.metrics.kid import KernelMatrices
from vbench_i2v.metrics.streaming import StreamingStats


def _unbiased_mmd2(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_streaming_stats_accumulate_float32_features_in_float64():
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.normal(size=(4000, 3))).astype(np.float32)  # large mean: float32 sums lose digits
    s = StreamingStats(3)
    for chunk in np.array_split(x, 7):
        s.update(chunk)
    mu, sigma = s.compute()
    x64 = x.astype(np.float64)
    # Tolerances from the error bound of float64 summation, not from one machine's result (BLAS
    # sums in an order that depends on the CPU's instruction set). n = 4000 rows, |x| <= ~1004,
    # u = 1.1e-16: the column sums err by at most n*u*sum|x| = 4000 * 1.1e-16 * 4.0e6 = 1.8e-6,
    # so mu by 4.4e-10 (4.4e-13 relative); the products' sum (sum|x_i x_j| = 4.0e9) by
    # n*u*4.0e9 = 1.8e-3, and n*mu*mu^T by 2*n*mu*4.4e-10 = 3.5e-3: sigma errs by at most
    # (1.8e-3 + 3.5e-3) / 3999 = 1.3e-6. Accumulating in float32 (u = 6e-8) errs by ~1e-1 or more.
    np.testing.assert_allclose(mu, x64.mean(0), rtol=5e-13, atol=0)
    np.testing.assert_allclose(sigma, np.cov(x64, rowvar=False), rtol=0, atol=2e-6)
    # The test can fail: the same sums accumulated in float32 are far outside the bound.
    s32, o32 = np.zeros(3, np.float32), np.zeros((3, 3), np.float32)
    for chunk in np.array_split(x, 7):
        s32 += chunk.sum(0, dtype=np.float32)
        o32 += chunk.T @ chunk
    mu32 = s32.astype(np.float64) / len(x)
    sigma32 = (o32.astype(np.float64) - len(x) * np.outer(mu32, mu32)) / (len(x) - 1)
    assert np.abs(sigma32 - np.cov(x64, rowvar=False)).max() > 1e-3


def test_kid_kernels_of_float32_features_are_float64():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, size=(25, 4)).astype(np.float32)
    y = rng.normal(3.2, 1.0, size=(25, 4)).astype(np.float32)
    km = KernelMatrices(x, y)
    assert km.kxx.dtype == km.kyy.dtype == km.kxy.dtype == np.float64
    want = _unbiased_mmd2(x.astype(np.float64), y.astype(np.float64))
    assert km.subset_kid(1, 1000, np.random.default_rng(0)) == pytest.approx(want, rel=1e-12)


def test_kid_with_fewer_fake_than_real_videos_and_only_two_real_ones():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.5, 1.0, size=(4, 3))
    # every subset holds min(real, fake, max size) = 4 videos on each side
    km = KernelMatrices(x, y)
    vals = [km.subset_kid(1, 1000, np.random.default_rng(s)) for s in range(5)]
    assert all(np.isfinite(vals))
    x2 = rng.normal(size=(2, 3))
    km2 = KernelMatrices(x2, y[:2])  # two videos per side is the smallest set KID is defined on
    assert km2.subset_kid(1, 1000, np.random.default_rng(0)) == pytest.approx(_unbiased_mmd2(x2, y[:2]), rel=1e-12)


class _Toy(VideoDataset):
    """Four subjects x two labels, videos of 80 sampled frames; training copies flipped."""

    name = "mutation-toy"
    labels = ["left", "right"]
    split_subjects = (2, 2)
    flip_train = True
    user_supplied = False

    def discover(self):
        return [VideoRecord(f"s{s}_l{lab}", f"s{s}", lab, f"toy:{s}/{lab}") for s in range(4) for lab in (0, 1)]

    def num_frames(self, record) -> int:
        return 80


@pytest.fixture
def toy(tmp_path):
    return _Toy(cache_dir=tmp_path, seed=0)


def test_flipped_training_copies_keep_their_labels(toy):
    train = toy.split("train")
    flips = [r for r in train if r.flip]
    assert len(flips) == len(train) // 2 > 0
    by_id = {r.video_id: r.label for r in train if not r.flip}
    assert all(r.label == by_id[r.video_id] for r in flips)


def test_clip_starts_follow_the_documented_streams(toy):
    """Each video's starts come from rng_for(seed, dataset, split, video id, flip): recomputed here
    with numpy from that documented key, they must match (so no key part can be dropped)."""
    for split in ("train", "test"):
        refs = toy.clips(split, per_video=3, seed=5)
        for rec in toy.split(split):
            rng = protocol.rng_for(5, toy.name, split, rec.video_id, str(rec.flip))
            last = 80 - protocol.CLIP_FRAMES
            want = sorted(int(s) for s in rng.choice(last + 1, size=3, replace=False))
            got = [r.start for r in refs if r.record == rec]
            assert got == want, (split, rec)
    # and the streams really differ: equal-length videos, flipped copies and splits get their own starts
    starts = {(r.record.video_id, r.record.flip): r.start for r in toy.clips("train", per_video=1, seed=5)}
    assert set(starts.values()) == {0}  # training clips start at frame 0 unless per_video says otherwise
    test_starts = [tuple(r.start for r in toy.clips("test", per_video=3, seed=5) if r.record == rec)
                   for rec in toy.split("test")]
    assert len(set(test_starts)) == len(test_starts)
    one = [r.start for r in toy.clips("test", per_video=1, seed=5)]
    assert any(s > 0 for s in one)  # one seeded start per test video, not frame 0


def test_video_subset_follows_the_documented_stream(toy):
    recs = toy.split("test")
    pick = protocol.rng_for(3, toy.name, "test", "subset").choice(len(recs), size=2, replace=False)
    want = [recs[i].video_id for i in sorted(pick)]
    got = list(dict.fromkeys(r.record.video_id for r in toy.clips("test", per_video=1, seed=3, limit=2)))
    assert got == want


def test_clip_row_names_the_label(toy):
    ref = toy.clips("test", per_video=1)[0]
    row = toy.clip_row(ref)
    assert row["label_name"] == toy.labels[ref.record.label] and row["label"] == ref.record.label
