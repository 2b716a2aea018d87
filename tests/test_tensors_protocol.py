"""The tensor convention at the edges (``vbench_i2v.tensors``) and the protocol's seeded choices
(``vbench_i2v.protocol``: streams, subject split, clip starts, padding), the latter against an
independent replay of the documented derivation (``references.seeded_stream``)."""

import numpy as np
import pytest
import torch

from references import seeded_stream
from vbench_i2v import protocol
from vbench_i2v.tensors import image_from_model, image_to_model, video_from_model, video_to_model


def test_video_round_trip_and_range(video):
    x = video_to_model(video)
    assert x.shape == (1, 3, 32, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert float(x[0, 1, 3, 5, 7]) == pytest.approx(video[3, 5, 7, 1] / 127.5 - 1, abs=1e-6)
    np.testing.assert_array_equal(video_from_model(x)[0], video)


def test_image_round_trip(video):
    x = image_to_model(video[:2])
    assert x.shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(image_from_model(x), video[:2])


def test_wrong_dtype_and_shape_are_refused(video):
    with pytest.raises(TypeError):
        video_to_model(video.astype(np.float32))
    with pytest.raises(ValueError):
        video_to_model(video[..., :2])


def test_subject_split_is_seeded_disjoint_and_sized():
    subj = [f"s{i:02d}" for i in range(52)]
    a = protocol.subject_split(subj, 42, 10, seed=0)
    assert len(a["train"]) == 42 and len(a["test"]) == 10
    assert not set(a["train"]) & set(a["test"])
    assert a == protocol.subject_split(list(reversed(subj)), 42, 10, seed=0)
    assert a != protocol.subject_split(subj, 42, 10, seed=1)
    small = protocol.subject_split(subj[:9], 42, 10, seed=0)  # partial copy keeps the ratio
    assert len(small["test"]) == 2 and len(small["train"]) == 7


def test_clip_starts_and_padding():
    rng = protocol.rng_for(0, "x")
    starts = protocol.clip_starts(100, 10, rng)
    assert len(starts) == 10 and len(set(starts)) == 10 and max(starts) <= 68
    assert protocol.clip_starts(40, 10, rng) == sorted(set(protocol.clip_starts(40, 10, protocol.rng_for(0, "x"))))
    assert len(protocol.clip_starts(35, 10, rng)) == 4
    assert protocol.clip_starts(20, 10, rng) == [0]
    frames = np.arange(20)[:, None, None, None].repeat(2, 1).astype(np.uint8)
    clip = protocol.take_clip(frames, 0)
    assert len(clip) == 32 and clip[-1, 0, 0, 0] == 19 and clip[19, 0, 0, 0] == 19


def test_rng_for_separates_purposes():
    a = protocol.rng_for(3, "a").integers(1 << 30)
    assert a == protocol.rng_for(3, "a").integers(1 << 30)
    assert a != protocol.rng_for(3, "b").integers(1 << 30)


# The tests below were written to kill mutants that survived mutation testing (docs/mutation-testing.md):
# each compares with hashlib + numpy's generator (``references.seeded_stream``) or pins a boundary.

def test_rng_for_is_the_documented_sha256_derivation():
    for seed, keys in ((0, ("a",)), (3, ("noise", "clip_f0001")), (17, ("x", "y", "z"))):
        np.testing.assert_array_equal(protocol.rng_for(seed, *keys).integers(1 << 62, size=4),
                                      seeded_stream(seed, *keys).integers(1 << 62, size=4))
    assert protocol.rng_for(0, "a").integers(1 << 62) != protocol.rng_for(1, "a").integers(1 << 62)


@pytest.mark.parametrize("n,n_train,n_test,want_test", [(60, 48, 12, 12), (10, 48, 12, 2), (2, 48, 12, 1),
                                                         (3, 1, 2, 2), (5, 4, 1, 1), (7, 1, 6, 6), (4, 1, 9, 3),
                                                         (3, 48, 12, 1), (6, 50, 1, 1)])
def test_subject_split_sizes_and_draw(n, n_train, n_test, want_test):
    subjects = [f"p{i:02d}" for i in range(n)][::-1] + ["p00"]  # unsorted, with a duplicate
    got = protocol.subject_split(subjects, n_train, n_test, seed=5)
    uniq = sorted(set(subjects))
    order = seeded_stream(5, "subject-split").permutation(n)
    assert got["test"] == sorted(uniq[i] for i in order[:want_test])
    assert got["train"] == sorted(uniq[i] for i in order[want_test:])
    assert len(got["test"]) == want_test and not set(got["test"]) & set(got["train"])


def test_subject_split_needs_two_subjects():
    from vbench_i2v.errors import InputError

    with pytest.raises(InputError, match="at least 2"):
        protocol.subject_split(["a", "a"], 1, 1, seed=0)
    assert protocol.subject_split(["a", "b"], 1, 1, seed=0)["test"] in (["a"], ["b"])


@pytest.mark.parametrize("n,per", [(32, 10), (20, 3), (33, 10), (34, 2), (80, 10), (40, 9), (41, 10)])
def test_clip_starts_are_a_seeded_draw_without_replacement(n, per):
    got = protocol.clip_starts(n, per, seeded_stream(9, "clips"))
    last = n - protocol.CLIP_FRAMES
    if last <= 0:
        assert got == [0]
        return
    k = min(per, last + 1)
    assert got == sorted(int(s) for s in seeded_stream(9, "clips").choice(last + 1, size=k, replace=False))
    assert len(set(got)) == k and all(isinstance(s, int) for s in got) and max(got) <= last


def test_take_clip_pads_with_the_last_frame():
    frames = np.arange(40)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    np.testing.assert_array_equal(protocol.take_clip(frames, 5)[:, 0, 0, 0], np.arange(5, 37))
    short = protocol.take_clip(frames[:20], 0)[:, 0, 0, 0]
    np.testing.assert_array_equal(short, np.r_[np.arange(20), np.full(12, 19)])
    np.testing.assert_array_equal(protocol.take_clip(frames, 30)[:, 0, 0, 0], np.r_[np.arange(30, 40), np.full(22, 39)])
