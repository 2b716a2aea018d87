"""Input folders: symbolic links followed, loops and broken links reported, npz needs its 'video' array."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dataset_trees import write_frame_folder
from vbench_i2v.datasets.folder import FolderDataset
from vbench_i2v.datasets.layout import walk_files
from vbench_i2v.datasets.mug import MUGDataset
from vbench_i2v.errors import InputError, VideoError
from vbench_i2v.metrics.sources import ImageSet, VideoSet
from vbench_i2v.video_io import list_videos, read_video, write_video


def clip(seed, t=3, size=8):
    return np.random.default_rng(seed).integers(0, 256, (t, size, size, 3), dtype=np.uint8)


@pytest.fixture
def linked_tree(tmp_path):
    """root/own/a.npz, root/own/c.npz -> elsewhere/c.npz, root/shared -> elsewhere (b.npz, c.npz, frames/)"""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    write_video(root / "own" / "a.npz", clip(1))
    write_video(elsewhere / "b.npz", clip(2))
    write_video(elsewhere / "frames", clip(3))
    write_video(elsewhere / "c.npz", clip(4))
    os.symlink(elsewhere, root / "shared", target_is_directory=True)
    os.symlink(elsewhere / "c.npz", root / "own" / "c.npz")
    return root


def test_links_to_folders_and_files_are_followed(linked_tree):
    names = [p.relative_to(linked_tree).as_posix() for p in list_videos(linked_tree)]
    assert names == ["own/a.npz", "own/c.npz", "shared/b.npz", "shared/c.npz", "shared/frames"]
    vs = VideoSet.from_source(linked_tree, "fake")
    assert vs.names() == ["own/a", "own/c", "shared/b", "shared/c", "shared/frames"]
    np.testing.assert_array_equal(vs.load("shared/b"), clip(2))
    np.testing.assert_array_equal(vs.load("own/c"), clip(4))
    images = ImageSet(linked_tree).items  # conditioning images: every image or video file
    assert {"own/a", "own/c", "shared/b", "shared/c", "shared/frames/00000"} <= set(images)
    assert [p.relative_to(linked_tree).as_posix() for p in walk_files(linked_tree, (".npz",))] == \
        ["own/a.npz", "own/c.npz", "shared/b.npz", "shared/c.npz"]


def test_a_folder_dataset_through_a_link(linked_tree, tmp_path):
    ds = FolderDataset(data_root=linked_tree, cache_dir=tmp_path / "cache")
    by_id = {r.video_id: r for r in ds.records()}
    assert sorted(by_id) == ["own__a", "own__c", "shared__b", "shared__c", "shared__frames"]
    assert ds.labels == ["own", "shared"]
    assert ds.load_video(by_id["shared__frames"]).shape == (3, 64, 64, 3)
    assert ds.dataset_fingerprint()  # hashes the link targets' content


def test_a_link_loop_is_an_error_naming_the_link(tmp_path):
    root = tmp_path / "root"
    write_video(root / "sub" / "a.npz", clip(1))
    os.symlink(root, root / "sub" / "back", target_is_directory=True)
    for call in (lambda: list_videos(root), lambda: VideoSet.from_source(root, "real"), lambda: ImageSet(root),
                 lambda: walk_files(root, (".npz",))):
        with pytest.raises(InputError, match=r"sub/back: symbolic link loop \(points to .*a folder that contains"):
            call()
    st = FolderDataset(data_root=root).status()
    assert not st.present and "symbolic link loop" in st.message  # `vbench datasets list` reports it
    with pytest.raises(InputError, match="real .*sub/back: symbolic link loop"):
        VideoSet.from_source(root, "real")


def test_a_self_referencing_link_chain_is_an_error(tmp_path):
    root = tmp_path / "root"
    write_video(root / "a.npz", clip(1))
    os.symlink(root / "y", root / "x")
    os.symlink(root / "x", root / "y")
    with pytest.raises(InputError, match=r"root/x: symbolic link loop"):
        list_videos(root)


def test_a_broken_link_is_an_error_not_a_missing_video(tmp_path):
    root = tmp_path / "root"
    write_video(root / "a.npz", clip(1))
    os.symlink(tmp_path / "gone.npz", root / "b.npz")
    with pytest.raises(InputError, match=r"root/b.npz: broken symbolic link \(points to '.*gone.npz'"):
        list_videos(root)
    with pytest.raises(InputError, match="broken symbolic link"):
        FolderDataset(data_root=root).records()
    os.unlink(root / "b.npz")
    os.symlink(root / "nothing", root / ".hidden")  # hidden entries are skipped, as everywhere
    assert [p.name for p in list_videos(root)] == ["a.npz"]


def test_two_links_to_one_folder_are_not_a_loop(tmp_path):
    root, shared = tmp_path / "root", tmp_path / "shared"
    write_video(shared / "v.npz", clip(1))
    root.mkdir()
    os.symlink(shared, root / "one", target_is_directory=True)
    os.symlink(shared, root / "two", target_is_directory=True)
    assert [p.relative_to(root).as_posix() for p in list_videos(root)] == ["one/v.npz", "two/v.npz"]


def test_mug_take_folders_through_links(tmp_path):
    root, store = tmp_path / "mug", tmp_path / "store"
    write_frame_folder(store / "take000", clip(1, t=4, size=16))
    (root / "subjects3" / "001" / "happiness").mkdir(parents=True)
    os.symlink(store / "take000", root / "subjects3" / "001" / "happiness" / "take000", target_is_directory=True)
    recs = MUGDataset(data_root=root).records()
    assert [r.video_id for r in recs] == ["subjects3_001_happiness_take000"]


# --- npz videos ---------------------------------------------------------------------------------
def test_npz_without_the_video_array_names_the_file_and_keys(tmp_path):
    path = tmp_path / "clip.npz"
    np.savez(path, frames=clip(1), labels=np.arange(3))
    with pytest.raises(VideoError, match=r"clip.npz: an npz video must hold an array named 'video'.*"
                                         r"arrays found: frames, labels"):
        read_video(path)
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(VideoError, match="arrays found: none"):
        read_video(tmp_path / "empty.npz")
    np.savez(tmp_path / "ok.npz", other=clip(2), video=clip(1))
    np.testing.assert_array_equal(read_video(tmp_path / "ok.npz"), clip(1))
