"""MUG and UvA-NEMO loaders: their published layouts (tiny trees made here), subject splits,
face-cropped clips with frame step 2, and bad inputs."""

import numpy as np
import pytest

from dataset_trees import copy_to, face_frames, write_avi, write_frame_folder
from vbench_i2v.datasets.mug import MUGDataset
from vbench_i2v.datasets.uva_nemo import UvANemoDataset
from vbench_i2v.errors import DatasetError, VideoError
from vbench_i2v.video_io import write_video

MUG_FOLDERS = ["happiness", "sadness", "surprise", "anger", "disgust", "fear", "neutral"]


def mug_tree(root, subjects, frames_per_take=1, frames=None):
    """subjects3/<NNN>/<expression>/take000/img_NNNN.jpg (subject 002 also has session folders)."""
    frames = np.zeros((frames_per_take, 32, 32, 3), np.uint8) if frames is None else frames
    for s in range(1, subjects + 1):
        sub = root / "subjects3" / f"{s:03d}"
        expr = MUG_FOLDERS[s % 7]
        take = sub / "session0" / expr / "take000" if s == 2 else sub / expr / "take000"
        write_frame_folder(take, frames)
    return root


def test_mug_layout_labels_and_42_10_split(tmp_path):
    root = mug_tree(tmp_path / "mug", 52)
    ds = MUGDataset(data_root=root, seed=1)
    recs = ds.records()
    assert len(recs) == 52 and len({r.subject for r in recs}) == 52
    by_subject = {r.subject: r for r in recs}
    # folder names map to the 7 labels of docs/models.md (happiness -> happy, ...)
    assert ds.labels[by_subject["007"].label] == "happy" and ds.labels[by_subject["008"].label] == "sad"
    assert ds.labels[by_subject["002"].label] == "surprise"  # found under session0/
    subj = ds.subjects()
    assert (len(subj["train"]), len(subj["test"])) == (42, 10) and not set(subj["train"]) & set(subj["test"])
    assert MUGDataset(data_root=root, seed=1).subjects() == subj  # seeded
    assert MUGDataset(data_root=root, seed=2).subjects() != subj
    # root may be subjects3 itself
    assert len(MUGDataset(data_root=root / "subjects3").records()) == 52


def test_mug_face_crop_and_frame_step_2(tmp_path):
    frames = face_frames(37)
    root = tmp_path / "mug"
    write_frame_folder(root / "subjects3" / "001" / "happiness" / "take000", frames)
    write_frame_folder(root / "subjects3" / "002" / "fear" / "take001", frames[:5])
    ds = MUGDataset(data_root=root, cache_dir=tmp_path / "cache")
    rec = next(r for r in ds.records() if r.subject == "001")
    assert ds.num_frames(rec) == 19  # ceil(37 / 2), answered without decoding
    video = ds.load_video(rec)
    assert video.shape == (19, 64, 64, 3) and video.dtype == np.uint8
    # every other frame, each cut with the same box: kept frames 0, 2, ... follow the source's shifts
    assert np.array_equal(video[0], video[6])  # frames 0 and 12 are the same image (period 12)
    assert not np.array_equal(video[0], video[1])
    # skin tones in the centre: the crop is on the face, not the background
    centre = video[:, 24:40, 24:40].reshape(-1, 3).mean(0)
    assert centre[0] > centre[2] + 20
    clip = ds.load_clip(ds.clips("train" if "001" in ds.subjects()["train"] else "test")[0])
    assert clip.shape == (32, 64, 64, 3)
    assert (tmp_path / "cache" / "mug").is_dir()  # preprocessed clips are cached


def test_mug_bad_inputs(tmp_path):
    with pytest.raises(DatasetError, match=r"mug: data folder .*nothing does not exist"):
        MUGDataset(data_root=tmp_path / "nothing").records()
    (tmp_path / "flat").mkdir()
    write_frame_folder(tmp_path / "flat" / "some_frames", np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(DatasetError) as exc:
        MUGDataset(data_root=tmp_path / "flat").records()
    lines = str(exc.value).splitlines()
    assert "no take folders matching the MUG layout under" in lines[0] and str(tmp_path / "flat") in lines[0]
    assert any("subjects3/<subject>/<expression>/take<NNN>/img_<NNNN>.jpg" in l for l in lines[1:])
    # unknown expression and empty take folders are skipped with a warning
    root = mug_tree(tmp_path / "m", 3)
    (root / "subjects3" / "001" / "boredom" / "take000").mkdir(parents=True)
    write_frame_folder(root / "subjects3" / "001" / "giggles" / "take000", np.zeros((1, 8, 8, 3), np.uint8))
    (root / "subjects3" / "003" / "anger" / "take009").mkdir(parents=True)
    with pytest.warns(UserWarning) as rec:
        assert len(MUGDataset(data_root=root).records()) == 3
    text = " ".join(str(w.message) for w in rec)
    assert "unknown expression" in text and "giggles" in text and "without .jpg/.png frames" in text
    # a corrupt frame names the file
    bad = root / "subjects3" / "001" / MUG_FOLDERS[1] / "take000" / "img_0000.jpg"
    bad.write_bytes(b"garbage")
    ds = MUGDataset(data_root=root, cache_dir=tmp_path / "c")
    with pytest.warns(UserWarning):
        ds.records()
    with pytest.raises(VideoError, match="img_0000.jpg: cannot read frame"):
        ds.load_video(next(r for r in ds.records() if r.subject == "001"))
    with pytest.raises(DatasetError, match="invalid pattern"):
        MUGDataset(data_root=root, pattern="(").records()


def nemo_tree(root, subjects, proto):
    for s in range(1, subjects + 1):
        copy_to(proto, root / "videos" / f"{s:03d}_spontaneous_smile_1.mp4")
        if s % 2:
            copy_to(proto, root / "videos" / f"{s:03d}_spontaneous_smile_2.mp4")
        copy_to(proto, root / "videos" / f"{s:03d}_deliberate_smile_1.mp4")
    return root


def test_uva_nemo_layout_320_80_split_and_options(tmp_path):
    proto = write_video(tmp_path / "p.mp4", np.zeros((2, 16, 16, 3), np.uint8))
    root = nemo_tree(tmp_path / "nemo", 400, proto)
    ds = UvANemoDataset(data_root=root)
    recs = ds.records()
    assert len(recs) == 600 and all(r.label is None for r in recs) and ds.labels is None
    assert len({r.subject for r in recs}) == 400
    subj = ds.subjects()
    assert (len(subj["train"]), len(subj["test"])) == (320, 80) and not set(subj["train"]) & set(subj["test"])
    test_subjects = set(subj["test"])
    assert all(r.subject in test_subjects for r in ds.split("test"))
    assert len(UvANemoDataset(data_root=root, smiles="deliberate").records()) == 400
    assert len(UvANemoDataset(data_root=root, smiles="all").records()) == 1000
    with pytest.raises(DatasetError, match="smiles must be one of"):
        UvANemoDataset(data_root=root, smiles="fake").records()


def test_uva_nemo_face_crop_step_2_and_bad_inputs(tmp_path):
    root = tmp_path / "nemo" / "videos"
    write_avi(root / "001_spontaneous_smile_1.mp4", face_frames(20), fps=25)  # any container PyAV reads
    write_video(root / "002_spontaneous_smile_1.mp4", np.zeros((6, 64, 64, 3), np.uint8))
    (root / "003_spontaneous_smile_1.mp4").write_bytes(b"")
    ds = UvANemoDataset(data_root=tmp_path / "nemo", cache_dir=tmp_path / "c")
    recs = {r.subject: r for r in ds.records()}
    video = ds.load_video(recs["001"])
    assert video.shape == (10, 64, 64, 3)
    with pytest.raises(DatasetError, match="002_spontaneous_smile_1.mp4: MTCNN found no face"):
        ds.load_video(recs["002"])
    with pytest.raises(VideoError, match="003_spontaneous_smile_1.mp4: the file is empty"):
        ds.load_video(recs["003"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no UvA-NEMO videos"):
        UvANemoDataset(data_root=tmp_path / "empty").records()
    copy_to(root / "002_spontaneous_smile_1.mp4", tmp_path / "other" / "smile.mp4")
    with pytest.raises(DatasetError, match="none of the 1 video files is named"):
        UvANemoDataset(data_root=tmp_path / "other").records()
