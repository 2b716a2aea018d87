import numpy as np
import pytest
import torch

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
