"""Weizmann loader: the published <subject>_<action>.avi layout, MoCoGAN's strip layout (tiny
trees made here, and the real MoCoGAN copy of the test data when present), splits, clips and bad inputs."""

import warnings

import numpy as np
import pytest
from PIL import Image

from dataset_trees import SHARED_WEIZMANN, copy_to, decode_index, index_frames, write_avi
from vbench_i2v.datasets.weizmann import WeizmannDataset, read_strip
from vbench_i2v.errors import DatasetError, VideoError

SUBJECTS = ["daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar"]
ACTIONS = ["bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2"]


@pytest.fixture(scope="module")
def weizmann_tree(tmp_path_factory):
    """The full published name set (one zip per action, unpacked into <action>/), tiny videos."""
    root = tmp_path_factory.mktemp("weizmann")
    proto = write_avi(root / "proto.avi", index_frames(40, 144, 180))
    for action in ACTIONS:
        for subject in SUBJECTS:
            if subject == "lena" and action in ("run", "skip", "walk"):
                for take in (1, 2):
                    copy_to(proto, root / action / f"lena_{action}{take}.avi")
            else:
                copy_to(proto, root / action / f"{subject}_{action}.avi")
    proto.unlink()
    return root


def test_original_layout_gives_the_papers_90_videos(weizmann_tree, tmp_path):
    ds = WeizmannDataset(data_root=weizmann_tree, cache_dir=tmp_path)
    recs = ds.records()
    assert len(recs) == 90 and len({r.subject for r in recs}) == 9
    assert sorted({ds.labels[r.label] for r in recs}) == sorted(ACTIONS)
    lena_run = next(r for r in recs if r.video_id == "lena_run")
    assert lena_run.source.endswith("lena_run1.avi") and ds.labels[lena_run.label] == "run"
    assert len(WeizmannDataset(data_root=weizmann_tree, extra_takes=True).records()) == 93


def test_split_6_3_disjoint_and_flip_doubling(weizmann_tree, tmp_path):
    ds = WeizmannDataset(data_root=weizmann_tree, cache_dir=tmp_path, seed=3)
    subj = ds.subjects()
    assert len(subj["train"]) == 6 and len(subj["test"]) == 3
    assert not set(subj["train"]) & set(subj["test"])
    train, test = ds.split("train"), ds.split("test")
    assert len(test) == 30 and len(train) == 2 * 60
    assert sum(r.flip for r in train) == 60 and not any(r.flip for r in test)
    assert {r.subject for r in train} == set(subj["train"])


def test_clip_length_size_and_step_1(weizmann_tree, tmp_path):
    ds = WeizmannDataset(data_root=weizmann_tree, cache_dir=tmp_path)
    rec = ds.records()[0]
    video = ds.load_video(rec)
    assert video.shape == (40, 64, 64, 3) and video.dtype == np.uint8
    assert decode_index(video) == list(range(40))  # step 1 keeps every frame, in order
    clips = ds.clips("test")
    assert all(c.start <= 40 - 32 for c in clips)
    clip = ds.load_clip(clips[0])
    assert clip.shape == (32, 64, 64, 3)
    assert decode_index(clip) == list(range(clips[0].start, clips[0].start + 32))
    # cached: a second dataset object reads the npz, equal frames
    np.testing.assert_array_equal(WeizmannDataset(data_root=weizmann_tree, cache_dir=tmp_path).load_video(rec), video)


def test_flipped_record_is_mirrored(weizmann_tree, tmp_path):
    ds = WeizmannDataset(data_root=weizmann_tree, cache_dir=tmp_path)
    train = ds.split("train")
    plain = next(r for r in train if not r.flip)
    flipped = next(r for r in train if r.flip and r.video_id == plain.video_id)
    np.testing.assert_array_equal(ds.load_video(flipped), ds.load_video(plain)[:, :, ::-1])


def test_pattern_option_reads_other_names(tmp_path):
    root = tmp_path / "w"
    proto = write_avi(tmp_path / "p.avi", index_frames(4, 16, 16))
    for s in ("a1", "b2", "c3"):
        copy_to(proto, root / f"{s}-walk.avi")
    with pytest.raises(DatasetError, match="none of the 3 video files matches"):
        WeizmannDataset(data_root=root).records()
    ds = WeizmannDataset(data_root=root, pattern=r"^(?P<subject>\w\d)-(?P<label>\w+)$")
    assert sorted(r.subject for r in ds.records()) == ["a1", "b2", "c3"]
    with pytest.raises(DatasetError, match="lacks the named group"):
        WeizmannDataset(data_root=root, pattern=r"^(?P<subject>\w+)$").records()


def test_missing_and_wrong_layout_errors(tmp_path):
    with pytest.raises(DatasetError) as exc:
        WeizmannDataset(data_root=tmp_path / "nope").records()
    first, *rest = str(exc.value).splitlines()
    assert str(tmp_path / "nope") in first and "does not exist" in first
    assert any("<subject>_<action>.avi" in line for line in rest)
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"no Weizmann videos .* under .*empty"):
        WeizmannDataset(data_root=tmp_path / "empty").records()


def test_corrupt_and_empty_videos_name_the_file(tmp_path):
    (tmp_path / "daria_bend.avi").write_bytes(b"")
    (tmp_path / "denis_bend.avi").write_bytes(b"this is not a video" * 50)
    ds = WeizmannDataset(data_root=tmp_path, cache_dir=tmp_path / "c")
    recs = {r.video_id: r for r in ds.records()}
    with pytest.raises(VideoError, match="daria_bend.avi: the file is empty"):
        ds.load_video(recs["daria_bend"])
    with pytest.raises(VideoError, match="denis_bend.avi: cannot decode"):
        ds.load_video(recs["denis_bend"])


# --- MoCoGAN's layout --------------------------------------------------------------------------
def write_strip(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(list(frames), axis=1)).save(path, quality=95)


def test_mocogan_strip_cut_into_frames(tmp_path):
    frames = index_frames(5, 64, 64)
    assert decode_index(frames) == [0, 1, 2, 3, 4]
    rgba = np.concatenate([np.concatenate(list(frames), axis=1), np.full((64, 320, 1), 255, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "s.png")
    out = read_strip(tmp_path / "s.png")
    np.testing.assert_array_equal(out, frames)
    Image.fromarray(np.zeros((64, 100, 3), np.uint8)).save(tmp_path / "bad.jpg")
    with pytest.raises(VideoError, match="bad.jpg: a MoCoGAN strip must be H x"):
        read_strip(tmp_path / "bad.jpg")


def test_mocogan_tiny_tree_pairs_blocks_and_labels(tmp_path):
    root = tmp_path / "mocogan"
    classes = ["0", "1"]  # 2 classes: blocks of 4 ids, (2k, 2k+1) mirrored pairs
    rng = np.random.default_rng(0)
    for i in range(12):
        cls = classes[(i // 2) % 2]
        if i % 2 == 0:
            frames = rng.integers(0, 255, (33 + i, 64, 64, 3), dtype=np.uint8)
        write_strip(root / "actions" / cls / f"{i:08d}.jpg", frames if i % 2 == 0 else frames[:, :, ::-1])
    with pytest.warns(UserWarning, match="no subject names"):
        ds = WeizmannDataset(data_root=root, cache_dir=tmp_path / "c", mocogan_classes="0=wave1,1=bend")
        recs = ds.records()
    assert [r.video_id for r in recs] == [f"mocogan_{i:08d}_c{classes[(i // 2) % 2]}" for i in range(0, 12, 2)]
    assert [r.subject for r in recs] == ["block00", "block00", "block01", "block01", "block02", "block02"]
    assert [ds.labels[r.label] for r in recs] == ["wave1", "bend"] * 3
    assert ds.num_frames(recs[1]) == 35 and ds.load_video(recs[1]).shape == (35, 64, 64, 3)
    with pytest.raises(DatasetError, match="class folder.* 1 .*no action name"):
        WeizmannDataset(data_root=root, mocogan_classes="0=wave1").records()


@pytest.mark.skipif(not SHARED_WEIZMANN.is_dir(), reason="real Weizmann data (MoCoGAN layout) not in ../shared/data")
def test_real_weizmann_mocogan_copy(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = WeizmannDataset(data_root=SHARED_WEIZMANN, cache_dir=tmp_path)
        recs = ds.records()
    assert len(recs) == 36  # 72 strips, every odd id the mirror of the even one before it
    counts = {name: sum(ds.labels[r.label] == name for r in recs) for name in ("wave1", "wave2", "jack", "bend")}
    assert counts == {"wave1": 9, "wave2": 9, "jack": 9, "bend": 9}
    assert len({r.subject for r in recs}) == 9
    subj = ds.subjects()
    assert (len(subj["train"]), len(subj["test"])) == (6, 3) and not set(subj["train"]) & set(subj["test"])
    lengths = [ds.num_frames(r) for r in recs]
    assert min(lengths) == 51 and max(lengths) == 146
    # the mirror claim, checked on the pixels: id 2k+1 == id 2k flipped left-right
    rec = recs[0]
    mirror = read_strip(SHARED_WEIZMANN / "actions" / str(dict(rec.extra)["mocogan_class"])
                        / f"{dict(rec.extra)['mocogan_id'] + 1:08d}.jpg")
    np.testing.assert_array_equal(mirror, ds.read_raw(rec)[:, :, ::-1])
    clips = ds.clips("test")
    assert len(clips) == 12 * 10
    clip = ds.load_clip(clips[0])
    assert clip.shape == (32, 64, 64, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(clip, ds.read_raw(clips[0].record)[clips[0].start : clips[0].start + 32])
