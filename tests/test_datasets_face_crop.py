"""Face cropping: MTCNN finds the astronaut's face where skimage's LBP cascade (an independent
detector) finds it, one box per video, and clear errors when there is no face."""

import numpy as np
import pytest
import skimage.data
from skimage.feature import Cascade

from vbench_i2v.datasets import face_crop
from vbench_i2v.errors import DatasetError


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / (area(a) + area(b) - inter)


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def cascade_box(astronaut):
    """The face box from skimage's LBP frontal-face cascade, as x0, y0, x1, y1."""
    det = Cascade(skimage.data.lbp_frontal_face_cascade_filename())
    found = det.detect_multi_scale(img=astronaut, scale_factor=1.2, step_ratio=1, min_size=(60, 60), max_size=(200, 200))
    assert len(found) == 1
    f = found[0]
    return np.array([f["c"], f["r"], f["c"] + f["width"], f["r"] + f["height"]], float)


def test_mtcnn_box_matches_independent_detector(astronaut, cascade_box):
    box = face_crop.detect_boxes(astronaut[None])[0]
    assert not np.isnan(box).any()
    assert iou(box, cascade_box) > 0.6
    # and the known face location of the photo (x ~ 170-270, y ~ 20-180)
    assert 160 < box[0] < box[2] < 280 and 20 < box[1] < box[3] < 190


def test_one_stable_box_per_video_contains_the_face(astronaut, cascade_box):
    shifts = [(2 * (i % 3), 3 * (i % 4)) for i in range(12)]  # (dy, dx), a little jitter each frame
    frames = np.stack([np.roll(astronaut, s, axis=(0, 1)) for s in shifts])
    x0, y0, side = face_crop.find_face_box(frames, "astronaut")
    # the square holds the face of every frame (face shifted by at most 4 px down, 9 px right)
    assert x0 <= cascade_box[0] and y0 <= cascade_box[1]
    assert x0 + side >= cascade_box[2] + 9 and y0 + side >= cascade_box[3] + 4
    assert side < 2.5 * (cascade_box[2] - cascade_box[0])  # a face crop, not the whole photo
    clip = face_crop.crop_faces(frames, size=64, source="astronaut")
    assert clip.shape == (12, 64, 64, 3) and clip.dtype == np.uint8
    # one box for the video: the crop equals cutting that box from each frame (no per-frame jitter)
    from vbench_i2v.datasets.frames import resize_frames

    expected = resize_frames(np.ascontiguousarray(frames[:, y0 : y0 + side, x0 : x0 + side]), 64)
    np.testing.assert_array_equal(clip, expected)
    # frames that are identical give identical crops
    np.testing.assert_array_equal(clip[0], clip[np.flatnonzero([s == shifts[0] for s in shifts])[-1]])


def test_cut_square_pads_outside_the_frame():
    frames = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    out = face_crop.cut_square(frames, -1, 2, 4)
    assert out.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(out[:, 0, 1:], frames[:, 2, 0:3])  # inside part
    np.testing.assert_array_equal(out[:, 0, 0], frames[:, 2, 0])  # left pad repeats the edge
    np.testing.assert_array_equal(out[:, 3, 1:], frames[:, 3, 0:3])  # bottom pad repeats the last row


def test_video_box_is_the_median_box_enlarged():
    boxes = np.array([[10, 20, 30, 50], [12, 22, 32, 52], [np.nan] * 4, [100, 100, 140, 160]], float)
    x0, y0, side = face_crop.video_box(boxes, margin=0.5)
    # median of the three detections: (12, 22, 32, 52): centre (22, 37), larger side 30 -> 45
    assert (x0, y0, side) == (round(22 - 22.5), round(37 - 22.5), 45)


def test_no_face_raises_naming_the_source():
    with pytest.raises(DatasetError, match="clip_without_face.mp4: MTCNN found no face"):
        face_crop.crop_faces(np.zeros((8, 96, 96, 3), np.uint8), size=64, source="clip_without_face.mp4")
    with pytest.raises(DatasetError, match="expected uint8"):
        face_crop.crop_faces(np.zeros((8, 96, 96), np.float32), size=64, source="x")


def test_detection_frames_subset():
    assert list(face_crop.detection_frames(10)) == [0, 4, 8]
    idx = face_crop.detection_frames(400)
    assert len(idx) == face_crop.MAX_DETECT_FRAMES and idx[0] == 0 and idx[-1] == 396
