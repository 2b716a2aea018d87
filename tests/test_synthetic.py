"""The built-in synthetic dataset: layout, seeding, identity, expressions, anti-aliasing, speed."""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest

import vbench_i2v.datasets.synthetic as synthetic
from vbench_i2v.datasets import DATASETS
from vbench_i2v.datasets.synthetic import EXPRESSIONS, SyntheticFaces, Take, render_clip, sample_take
from vbench_i2v.errors import DatasetError

MUG_LABELS = ["happy", "sad", "surprise", "anger", "disgust", "fear", "neutral"]


@pytest.fixture(scope="module")
def ds():
    return SyntheticFaces(seed=0)


def record(ds, video_id):
    return next(r for r in ds.records() if r.video_id == video_id)


def still_take(frames=32, intensity=1.0):
    """A take without head motion or blinks, at a fixed expression intensity."""
    z = np.zeros(frames, np.float32)
    return Take(np.full(frames, intensity, np.float32), np.ones(frames, np.float32), z, z, z, (0.0, 0.0))


def signature(frame):
    """Identity colours of a frame: background corner, median skin, shirt patch."""
    f = frame.astype(np.float32)
    return np.concatenate([f[:6, :6].reshape(-1, 3).mean(0), np.median(f[26:40, 22:42].reshape(-1, 3), 0),
                           np.median(f[60:64, 8:16].reshape(-1, 3), 0)])


def test_registered_with_mug_labels():
    assert DATASETS.get("synthetic") is SyntheticFaces
    assert SyntheticFaces.labels == MUG_LABELS == EXPRESSIONS
    assert SyntheticFaces.frame_step == 1 and SyntheticFaces.split_subjects == (48, 12)
    assert not SyntheticFaces.user_supplied and not SyntheticFaces.face_crop


def test_records_layout(ds):
    recs = ds.records()
    assert len(recs) == 60 * 7 * 3 == 1260
    assert len({r.video_id for r in recs}) == 1260
    assert sorted({r.subject for r in recs}) == [f"id{i:03d}" for i in range(60)]
    assert np.bincount([r.label for r in recs]).tolist() == [180] * 7
    r = record(ds, "id017_happy_t1")
    assert (r.subject, r.label, r.source) == ("id017", 0, "synthetic:id017/happy/take1")
    assert ds.status().present and ds.status().videos == 1260


def test_split_48_12_disjoint(ds):
    subj = ds.subjects()
    assert len(subj["train"]) == 48 and len(subj["test"]) == 12
    assert not set(subj["train"]) & set(subj["test"])
    assert len(ds.split("train")) == 48 * 21 and len(ds.split("test")) == 12 * 21
    assert SyntheticFaces(seed=1).subjects() != subj  # the seed picks the split too


def test_sizes_and_num_frames_without_rendering(ds, monkeypatch):
    clip = ds.read_raw(record(ds, "id003_fear_t2"))
    assert clip.shape == (32, 64, 64, 3) and clip.dtype == np.uint8 and clip.flags.c_contiguous
    assert np.array_equal(ds.preprocess(clip, record(ds, "id003_fear_t2")), clip)  # already protocol size

    fresh = SyntheticFaces(seed=0)
    monkeypatch.setattr(fresh, "read_raw", lambda rec: pytest.fail("num_frames rendered a clip"))
    assert fresh.num_frames(fresh.records()[0]) == 32


def test_load_clip_through_test_clips(ds):
    clips = ds.clips("test")
    assert len(clips) == 12 * 21 and all(c.start == 0 for c in clips)  # 32-frame videos: one start each
    clip = ds.load_clip(clips[5])
    assert clip.shape == (32, 64, 64, 3) and clip.dtype == np.uint8
    assert np.array_equal(clip, ds.read_raw(clips[5].record))
    assert clips[5].record.subject in ds.subjects()["test"]


def test_same_seed_same_pixels_other_seed_differs():
    a, b, c = SyntheticFaces(seed=0), SyntheticFaces(seed=0), SyntheticFaces(seed=1)
    for vid in ("id000_neutral_t1", "id031_disgust_t3", "id059_surprise_t2"):
        ra, rb, rc = record(a, vid), record(b, vid), record(c, vid)
        assert np.array_equal(a.read_raw(ra), b.read_raw(rb))
        assert a.identity(ra.subject) == b.identity(rb.subject)
        assert np.abs(a.read_raw(ra).astype(int) - c.read_raw(rc)).mean() > 5
    # The take's timing comes from the seed too: same identity, same expression, other take.
    t1, t2 = a.read_raw(record(a, "id005_happy_t1")), a.read_raw(record(a, "id005_happy_t2"))
    assert not np.array_equal(t1, t2)


def test_unknown_identity_and_expression_are_clear_errors(ds):
    with pytest.raises(DatasetError, match="unknown identity 'id999'"):
        ds.identity("id999")
    with pytest.raises(DatasetError, match="unknown expression 'smile'"):
        render_clip(ds.identity("id000"), "smile", np.random.default_rng(0))


def test_take_timing_goes_from_neutral_to_apex():
    onsets = set()
    for k in range(20):
        take = sample_take(np.random.default_rng(k))
        assert take.intensity[0] == 0 and take.intensity[-1] >= 0.85
        assert np.all(np.diff(take.intensity) >= 0)
        assert np.abs(take.dx).max() <= 2 and np.abs(take.tilt).max() <= np.deg2rad(5)
        onsets.add(int(np.argmax(take.intensity > 0)))
    assert len(onsets) > 5  # per-take timing differs: the future is uncertain from frame 0


def test_identity_stays_fixed_within_clips_and_differs_between(ds):
    refs = {s: signature(ds.read_raw(record(ds, f"{s}_neutral_t1"))[0]) for s in ds.subject_ids()}
    ref = np.stack(list(refs.values()))
    between = np.linalg.norm(ref[:, None] - ref[None], axis=-1)
    np.fill_diagonal(between, np.inf)
    assert len({ds.identity(s) for s in ds.subject_ids()}) == 60

    within = 0.0
    for s in ds.subject_ids()[:10]:
        for expr in EXPRESSIONS:
            clip = ds.read_raw(record(ds, f"{s}_{expr}_t2"))
            assert (clip[:, :6, :6] == clip[0, :6, :6]).all()  # static background
            within = max(within, max(np.linalg.norm(signature(f) - refs[s]) for f in clip))
    print(f"identity colour distance: within a clip <= {within:.1f}, between identities >= {between.min():.1f}")
    assert within < 0.75 * between.min()  # every frame is nearest to its own identity, with room


def test_expressions_visibly_distinct(ds):
    """Apex frames of any two expressions of one identity differ in a visible feature: at least
    25 pixels change by more than 40 levels (measured minimum over all 60 identities: 43)."""
    smallest = (np.inf, None)
    for s in ds.subject_ids()[::3]:
        apex = {e: render_clip(ds.identity(s), e, still_take())[-1].astype(np.int16) for e in EXPRESSIONS}
        neutral0 = render_clip(ds.identity(s), "neutral", still_take(intensity=0.0))[0]
        assert np.array_equal(apex["neutral"], neutral0)  # neutral stays neutral
        for a, b in itertools.combinations(EXPRESSIONS, 2):
            diff = np.abs(apex[a] - apex[b])
            changed = int((diff.max(-1) > 40).sum())
            smallest = min(smallest, (changed, (s, a, b)))
            assert diff.mean() > 0.5, (s, a, b)
    print(f"fewest visibly changed pixels between two apex frames: {smallest}")
    assert smallest[0] >= 25


def test_random_takes_neutral_first_equals_last_without_motion(ds):
    """With the take's own timing but head motion and blinks removed, neutral's last frame is its
    first, and every other expression has moved away from neutral by its last frame."""
    for expr in EXPRESSIONS:
        rec = record(ds, f"id020_{expr}_t3")
        take = sample_take(ds.take_rng(rec))
        z = np.zeros_like(take.dx)
        take = dataclasses.replace(take, dx=z, dy=z, tilt=z, blink=np.ones_like(take.blink))
        clip = render_clip(ds.identity("id020"), expr, take).astype(np.int16)
        mad = np.abs(clip[-1] - clip[0]).mean()
        if expr == "neutral":
            assert mad == 0
        else:
            assert mad > 0.5, expr


def test_anti_aliased_edges_match_supersampled_coverage():
    """Coverage of a small ellipse on the pixel grid vs a 16x16 supersampled reference."""
    n, ss = 32, 16
    centre = np.arange(n, dtype=np.float32) + 0.5
    cov = synthetic._cov(synthetic._ellipse(centre[None, :], centre[:, None], 15.3, 16.7, 9.2, 6.1), 1.0)
    sub = (np.arange(n * ss, dtype=np.float64) + 0.5) / ss
    inside = ((sub[None, :] - 15.3) / 9.2) ** 2 + ((sub[:, None] - 16.7) / 6.1) ** 2 <= 1
    ref = inside.reshape(n, ss, n, ss).mean(axis=(1, 3))
    edge = (ref > 0) & (ref < 1)
    assert edge.sum() > 40
    assert np.abs(cov - ref)[edge].mean() < 0.08 and np.abs(cov - ref).max() < 0.35
    assert np.abs(cov - ref)[~edge].max() < 0.05


def test_rendered_frames_have_intermediate_edge_colours(ds, monkeypatch):
    """Edges blend neighbouring colours: the same frame drawn with hard 0/1 coverage has only the
    flat colours (61 measured), the anti-aliased one several hundred (459 measured)."""
    rec = record(ds, "id010_happy_t1")
    smooth = ds.read_raw(rec)[-1]
    monkeypatch.setattr(synthetic, "_cov", lambda d, px: (d <= 0).astype(np.float32))
    hard = ds.read_raw(rec)[-1]
    n_smooth = len(np.unique(smooth.reshape(-1, 3), axis=0))
    n_hard = len(np.unique(hard.reshape(-1, 3), axis=0))
    assert n_smooth > 150 and n_smooth > 3 * n_hard
    # Anti-aliasing only changes edge pixels: the frames agree on most of the image.
    assert (np.abs(smooth.astype(int) - hard).max(-1) == 0).mean() > 0.6


def test_windowed_drawing_equals_full_grid(ds, monkeypatch):
    """Shapes are drawn only inside their windows for speed; no shape may reach beyond its window."""
    recs = ds.records()[::37]
    windowed = [ds.read_raw(r) for r in recs]
    monkeypatch.setattr(synthetic, "WINDOWED", False)
    for r, w in zip(recs, windowed):
        assert np.array_equal(ds.read_raw(r), w), r.video_id


def test_render_speed_is_printed(ds):
    recs = ds.records()[:40]
    ds.read_raw(recs[0])
    t0 = time.perf_counter()
    for r in recs:
        ds.read_raw(r)
    ms = (time.perf_counter() - t0) / len(recs) * 1e3
    print(f"synthetic render: {ms:.1f} ms per 32-frame clip")
