"""The preprocessed-video cache serves an entry only while its source and preprocessing are unchanged."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from dataset_trees import index_frames, write_frame_folder
from vbench_i2v.datasets import cache as cache_mod
from vbench_i2v.datasets import dataset_fingerprint, get_dataset
from vbench_i2v.datasets.base import VideoRecord
from vbench_i2v.datasets.folder import FolderDataset
from vbench_i2v.datasets.natops import NATOPSDataset
from vbench_i2v.video_io import read_video


def raw_npz(path, frames):
    """An uncompressed npz: two videos of the same shape give files of exactly the same size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, video=frames)
    return path


def video(seed, t=6, size=64):
    return np.random.default_rng(seed).integers(0, 256, (t, size, size, 3), dtype=np.uint8)


def replace_keeping_size_and_mtime(path, write):
    """Replace ``path``'s content by ``write(path)``, then force the old mtime back (os.utime)."""
    before = os.stat(path)
    write(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    return before, after


def test_replaced_source_same_size_same_mtime_serves_new_frames(tmp_path):
    a, b = video(1), video(2)
    src = raw_npz(tmp_path / "data" / "clip.npz", a)
    ds = FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
    rec = ds.records()[0]
    np.testing.assert_array_equal(ds.load_video(rec), a)
    entries = list((tmp_path / "cache").rglob("clip.npz"))
    assert len(entries) == 1
    np.testing.assert_array_equal(FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
                                  .load_video(rec), a)  # a second object is served from the cache

    before, after = replace_keeping_size_and_mtime(src, lambda p: raw_npz(p, b))
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    np.testing.assert_array_equal(ds.load_video(rec), b)  # the same object sees the new content
    fresh = FolderDataset(data_root=tmp_path / "data", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(fresh.load_video(fresh.records()[0]), b)  # and a new process would too
    assert list((tmp_path / "cache").rglob("clip.npz")) == entries  # rebuilt in place ...
    assert not [p for p in (tmp_path / "cache").rglob("*") if "vbench-tmp" in p.name]  # ... atomically


def test_content_hash_decides_even_where_stat_would_not(tmp_path, monkeypatch):
    """On a file system without ctime/inode (simulated) VBENCH_I2V_REHASH=1 still catches a
    same-size, same-mtime replacement, because the key holds the content sha256."""
    monkeypatch.setattr(cache_mod, "_sig", lambda st: [st.st_size, st.st_mtime_ns])
    monkeypatch.setenv("VBENCH_I2V_REHASH", "1")
    a, b = video(3), video(4)
    src = raw_npz(tmp_path / "d" / "v.npz", a)
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    np.testing.assert_array_equal(ds.load_video(rec), a)
    replace_keeping_size_and_mtime(src, lambda p: raw_npz(p, b))
    np.testing.assert_array_equal(ds.load_video(rec), b)


def test_hashes_are_memoised_by_stat_signature(tmp_path, monkeypatch):
    calls = []
    real = cache_mod.sha256_file
    monkeypatch.setattr(cache_mod, "sha256_file", lambda p: calls.append(str(p)) or real(p))
    src = raw_npz(tmp_path / "d" / "v.npz", video(5))
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    ds.load_video(rec)
    n = len(calls)
    assert n >= 1
    FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c").load_video(rec)
    assert len(calls) == n  # unchanged file, new object: memo on disk, no re-read
    st = os.stat(src)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # same times, but the ctime moves
    ds.load_video(rec)
    assert len(calls) > n


def test_frame_folder_source_one_frame_replaced(tmp_path):
    a = video(6, t=4, size=32)
    folder = write_frame_folder(tmp_path / "d" / "take", a, ext=".png")
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    first = ds.load_video(rec)
    frame = folder / "img_0002.png"
    new = a.copy()
    new[2] = 255 - new[2]
    from PIL import Image

    replace_keeping_size_and_mtime(frame, lambda p: Image.fromarray(new[2]).save(p))
    second = ds.load_video(rec)
    assert not np.array_equal(first[2], second[2])
    np.testing.assert_array_equal(first[[0, 1, 3]], second[[0, 1, 3]])


def test_preprocessing_parameters_are_part_of_the_key(tmp_path):
    frames = index_frames(8, 64, 64)
    raw_npz(tmp_path / "d" / "v.npz", frames)
    one = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    two = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c", frame_step=2)
    rec = one.records()[0]
    assert len(one.load_video(rec)) == 8 and len(two.load_video(rec)) == 4 and len(one.load_video(rec)) == 8
    crop = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c", face_crop="yes")
    assert one.cache_key(rec) != crop.cache_key(rec) != two.cache_key(rec)
    assert crop.preprocess_params()["crop"]["margin"] > 0  # the crop's constants are in the key too


def test_record_fields_are_part_of_the_key(tmp_path):
    """A NATOPS repetition is a slice of its file: new bounds (segmentation.txt) are a new entry."""
    (tmp_path / "g.avi").write_bytes(b"x")
    ds = NATOPSDataset(data_root=tmp_path, cache_dir=tmp_path / "c")
    r1 = VideoRecord("g01s01r01", "s01", 0, str(tmp_path / "g.avi"), extra=(("first", 1), ("last", 40)))
    r2 = VideoRecord("g01s01r01", "s01", 0, str(tmp_path / "g.avi"), extra=(("first", 1), ("last", 41)))
    assert ds.cache_key(r1) != ds.cache_key(r2)


def test_corrupt_or_foreign_entries_are_rebuilt(tmp_path):
    a = video(7)
    raw_npz(tmp_path / "d" / "v.npz", a)
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    ds.load_video(rec)
    entry = next((tmp_path / "c").rglob("v.npz"))
    entry.write_bytes(b"truncated")
    np.testing.assert_array_equal(ds.load_video(rec), a)
    with open(entry, "wb") as fh:  # an old-format entry (frames only, no key) is not trusted
        np.savez(fh, video=video(8))
    np.testing.assert_array_equal(ds.load_video(rec), a)
    with np.load(entry) as z:
        assert "key" in z.files and str(z["key"]) == ds.cache_key(rec)


# --- the dataset fingerprint -------------------------------------------------------------------
def test_fingerprint_follows_content_not_location(tmp_path):
    root = tmp_path / "d"
    src = raw_npz(root / "x" / "a.npz", video(1))
    raw_npz(root / "y" / "b.npz", video(2))
    fp = dataset_fingerprint(FolderDataset(data_root=root, cache_dir=tmp_path / "c"))
    assert len(fp) == 64 and fp == FolderDataset(data_root=root, cache_dir=tmp_path / "c").dataset_fingerprint()
    shutil.copytree(root, tmp_path / "moved", copy_function=shutil.copy)
    assert FolderDataset(data_root=tmp_path / "moved", cache_dir=tmp_path / "c").dataset_fingerprint() == fp
    replace_keeping_size_and_mtime(src, lambda p: raw_npz(p, video(3)))
    changed = FolderDataset(data_root=root, cache_dir=tmp_path / "c").dataset_fingerprint()
    assert changed != fp
    raw_npz(root / "y" / "c.npz", video(4))
    added = FolderDataset(data_root=root, cache_dir=tmp_path / "c").dataset_fingerprint()
    assert added != changed
    assert FolderDataset(data_root=root, cache_dir=tmp_path / "c", frame_step=2).dataset_fingerprint() != added
    yes = FolderDataset(data_root=root, cache_dir=tmp_path / "c", face_crop="yes").dataset_fingerprint()
    assert yes == FolderDataset(data_root=root, cache_dir=tmp_path / "c", face_crop=True).dataset_fingerprint()
    prov = FolderDataset(data_root=root, cache_dir=tmp_path / "c").provenance()
    assert prov["fingerprint"] == added and prov["root"] == str(root) and prov["options"]["frame_step"] == 1


def test_fingerprint_of_a_split_file_is_its_content(tmp_path):
    root = tmp_path / "d"
    for n in ("a", "b"):
        raw_npz(root / f"{n}.npz", video(ord(n)))
    csv = tmp_path / "split.csv"
    csv.write_text("video,split\na,train\nb,test\n")
    fp = FolderDataset(data_root=root, cache_dir=tmp_path / "c", split_file=str(csv)).dataset_fingerprint()
    csv.write_text("video,split\na,test\nb,train\n")
    assert FolderDataset(data_root=root, cache_dir=tmp_path / "c", split_file=str(csv)).dataset_fingerprint() != fp


def test_generated_dataset_fingerprint_depends_on_seed_and_options():
    a = get_dataset("synthetic", seed=0, identities=4, takes=1).dataset_fingerprint()
    assert a == get_dataset("synthetic", seed=0, identities="4", takes=1).dataset_fingerprint()
    assert a != get_dataset("synthetic", seed=1, identities=4, takes=1).dataset_fingerprint()
    assert a != get_dataset("synthetic", seed=0, identities=5, takes=1).dataset_fingerprint()


def test_cached_frames_equal_a_fresh_decode(tmp_path):
    """The cache is transparent: served frames equal preprocessing the source directly."""
    frames = index_frames(5, 48, 80)
    raw_npz(tmp_path / "d" / "v.npz", frames)
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    direct = ds.preprocess(read_video(rec.source), rec)
    np.testing.assert_array_equal(ds.load_video(rec), direct)
    np.testing.assert_array_equal(ds.load_video(rec), direct)
    assert direct.shape == (5, 64, 64, 3)


@pytest.mark.parametrize("flip", [False, True])
def test_flips_are_applied_after_the_cache(tmp_path, flip):
    frames = video(9)
    raw_npz(tmp_path / "d" / "v.npz", frames)
    ds = FolderDataset(data_root=tmp_path / "d", cache_dir=tmp_path / "c")
    rec = ds.records()[0]
    ds.load_video(rec)
    got = ds.load_video(VideoRecord(rec.video_id, rec.subject, rec.label, rec.source, flip, rec.extra))
    np.testing.assert_array_equal(got, frames[:, :, ::-1] if flip else frames)
