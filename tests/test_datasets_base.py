"""The dataset base class (``vbench_i2v.datasets.base.VideoDataset``) on a toy dataset: labels of
flipped training copies, the seeded choices of ``clips()`` (per-video starts, the video subset)
replayed from their documented stream keys, and the label names of clips.csv rows.

Written for mutants that survived the second mutation run (docs/mutation-testing.md); the streams
are replayed with ``references.seeded_stream`` (hashlib + numpy), not with the package's own
``protocol.rng_for``, so no part of a key can be dropped unnoticed.
"""

from __future__ import annotations

import pytest

from references import seeded_stream
from vbench_i2v import protocol
from vbench_i2v.datasets.base import VideoDataset, VideoRecord


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
            rng = seeded_stream(5, toy.name, split, rec.video_id, str(rec.flip))
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
    pick = seeded_stream(3, toy.name, "test", "subset").choice(len(recs), size=2, replace=False)
    want = [recs[i].video_id for i in sorted(pick)]
    got = list(dict.fromkeys(r.record.video_id for r in toy.clips("test", per_video=1, seed=3, limit=2)))
    assert got == want


def test_clip_row_names_the_label(toy):
    ref = toy.clips("test", per_video=1)[0]
    row = toy.clip_row(ref)
    assert row["label_name"] == toy.labels[ref.record.label] and row["label"] == ref.record.label
