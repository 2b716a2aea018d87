"""NATOPS loader (gesture<XX>/g<XX>s<YY>.avi + segmentation.txt) and the generic folder loader:
tiny trees made here, subject splits, exact frame sampling, and bad inputs."""

import pytest

from dataset_trees import copy_to, decode_index, index_frames, write_avi
from vbench_i2v.datasets.folder import FolderDataset
from vbench_i2v.datasets.natops import NATOPSDataset, parse_segmentation
from vbench_i2v.errors import DatasetError, VideoError
from vbench_i2v.video_io import write_video

SEGMENTATION = """// NATOPS segmentation (first and last frame of each repetition)
// Subject 1
1,1,2
1:1,40
2:41,50
2,1,2
1:3,12
2:13,44
// Subject 2
1,2,2
1:5,44
2:45,60
2,2,2
1:1,33
2:34,60
"""


@pytest.fixture(scope="module")
def natops_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("natops")
    proto = write_avi(root / "proto.avi", index_frames(60, 240, 320), fps=20)
    for g in (1, 2):
        for s in (1, 2):
            copy_to(proto, root / "data" / f"gesture{g:02d}" / f"g{g:02d}s{s:02d}.avi")
            copy_to(proto, root / "data" / f"gesture{g:02d}" / f"g{g:02d}s{s:02d}d.avi")  # depth: ignored
            copy_to(proto, root / "data" / f"gesture{g:02d}" / f"g{g:02d}S{s:02d}m.avi")  # mask: ignored
    (root / "data" / "segmentation.txt").write_text(SEGMENTATION)
    proto.unlink()
    return root


def test_parse_segmentation(tmp_path):
    (tmp_path / "s.txt").write_text(SEGMENTATION)
    seg = parse_segmentation(tmp_path / "s.txt")
    assert seg == {(1, 1): [(1, 40), (41, 50)], (2, 1): [(3, 12), (13, 44)],
                   (1, 2): [(5, 44), (45, 60)], (2, 2): [(1, 33), (34, 60)]}
    (tmp_path / "bad.txt").write_text("gestures\n")
    with pytest.raises(DatasetError, match="bad.txt: no '// Subject"):
        parse_segmentation(tmp_path / "bad.txt")
    (tmp_path / "bad1.txt").write_text("1:1,40\n")
    with pytest.raises(DatasetError, match="bad1.txt:1: repetition line outside a gesture block"):
        parse_segmentation(tmp_path / "bad1.txt")
    (tmp_path / "bad2.txt").write_text("// Subject 1\n1,1,1\n1:40,10\n")
    with pytest.raises(DatasetError, match=r"bad2.txt:3: repetition ends \(10\) before it starts \(40\)"):
        parse_segmentation(tmp_path / "bad2.txt")


def test_natops_repetitions_are_videos(natops_tree, tmp_path):
    ds = NATOPSDataset(data_root=natops_tree, cache_dir=tmp_path)
    recs = ds.records()
    assert [r.video_id for r in recs] == ["g01s01r01", "g01s01r02", "g01s02r01", "g01s02r02",
                                          "g02s01r01", "g02s01r02", "g02s02r01", "g02s02r02"]
    assert {r.subject for r in recs} == {"s01", "s02"} and ds.num_classes == 24
    assert [ds.labels[r.label] for r in recs[:2]] + [ds.labels[recs[-1].label]] == ["g01", "g01", "g02"]
    rec = next(r for r in recs if r.video_id == "g01s02r01")  # frames 5..44 (1-based)
    assert ds.num_frames(rec) == 40
    video = ds.load_video(rec)
    assert video.shape == (40, 64, 64, 3) and decode_index(video) == list(range(4, 44))
    clip = ds.load_clip(ds.clips("test", per_video=3)[0])
    assert clip.shape == (32, 64, 64, 3)
    whole = NATOPSDataset(data_root=natops_tree, segments=False).records()
    assert [r.video_id for r in whole] == ["g01s01", "g01s02", "g02s01", "g02s02"]


def test_natops_split_15_5(tmp_path):
    proto = write_avi(tmp_path / "p.avi", index_frames(2, 16, 16))
    for s in range(1, 21):
        copy_to(proto, tmp_path / "natops" / "gesture07" / f"g07s{s:02d}.avi")
    ds = NATOPSDataset(data_root=tmp_path / "natops", seed=5)
    subj = ds.subjects()
    assert (len(subj["train"]), len(subj["test"])) == (15, 5) and not set(subj["train"]) & set(subj["test"])
    assert {ds.labels[r.label] for r in ds.records()} == {"g07"}


def test_natops_bad_inputs(natops_tree, tmp_path):
    with pytest.raises(DatasetError, match=r"natops: data folder .* does not exist"):
        NATOPSDataset(data_root=tmp_path / "none").records()
    copy_to(natops_tree / "data" / "gesture01" / "g01s01.avi", tmp_path / "odd" / "clip_01.avi")
    with pytest.raises(DatasetError) as exc:
        NATOPSDataset(data_root=tmp_path / "odd").records()
    assert "none of the 1 video files is named g<XX>s<YY>.avi under" in str(exc.value).splitlines()[0]
    copy_to(natops_tree / "data" / "gesture01" / "g01s01.avi", tmp_path / "g30" / "g30s01.avi")
    with pytest.raises(DatasetError, match="names gesture 30"):
        NATOPSDataset(data_root=tmp_path / "g30").records()
    # a repetition beyond the video's end, and a file the segmentation does not cover
    short = tmp_path / "short"
    write_avi(short / "gesture01" / "g01s01.avi", index_frames(20, 24, 32))
    (short / "segmentation.txt").write_text("// Subject 1\n1,1,1\n1:5,30\n")
    ds = NATOPSDataset(data_root=short, cache_dir=tmp_path / "c")
    with pytest.raises(VideoError, match="g01s01.avi: segmentation.txt gives frames 5..30 but the video has 20"):
        ds.load_video(ds.records()[0])
    write_avi(short / "gesture01" / "g01s02.avi", index_frames(20, 24, 32))
    with pytest.raises(DatasetError, match="no repetitions for g01s02.avi"):
        NATOPSDataset(data_root=short).records()


# --- folder --------------------------------------------------------------------------------
def test_folder_labels_from_subfolders_and_frame_step(tmp_path):
    root = tmp_path / "f"
    for label in ("zebra", "apple"):
        for k in range(3):
            write_video(root / label / f"v{k}.npz", index_frames(40, 32, 48))
    (root / "apple" / "frames_clip").mkdir()
    from PIL import Image

    for i, fr in enumerate(index_frames(35, 32, 32)):
        Image.fromarray(fr).save(root / "apple" / "frames_clip" / f"{i:03d}.png")
    ds = FolderDataset(data_root=root, cache_dir=tmp_path / "c", frame_step=2)
    recs = ds.records()
    assert ds.labels == ["apple", "zebra"] and len(recs) == 7
    assert {r.video_id for r in recs} >= {"apple__frames_clip", "zebra__v0"}
    rec = next(r for r in recs if r.video_id == "zebra__v1")
    assert ds.labels[rec.label] == "zebra"
    video = ds.load_video(rec)
    assert video.shape == (20, 64, 64, 3) and decode_index(video) == list(range(0, 40, 2))
    frames = ds.load_video(next(r for r in recs if r.video_id == "apple__frames_clip"))
    assert decode_index(frames) == list(range(0, 35, 2))
    subj = ds.subjects()
    assert len(subj["test"]) == round(7 / 5) and not set(subj["train"]) & set(subj["test"])
    assert FolderDataset(data_root=root).frame_step == 1 and not FolderDataset(data_root=root).face_crop
    assert FolderDataset(data_root=root, face_crop=True).face_crop


def test_folder_unlabelled_split_file_and_pattern(tmp_path):
    root = tmp_path / "f"
    for name in ("a_1", "a_2", "b_1", "c_1"):
        write_video(root / f"{name}.npz", index_frames(3, 8, 8))
    ds = FolderDataset(data_root=root)
    assert ds.labels is None and all(r.label is None for r in ds.records())
    csv = tmp_path / "split.csv"
    csv.write_text("video,split\na_1.npz,train\na_2,train\nb_1,test\nc_1,train\n")
    ds = FolderDataset(data_root=root, split_file=str(csv))
    assert ds.subjects() == {"train": ["a_1", "a_2", "c_1"], "test": ["b_1"]}
    assert [r.video_id for r in ds.split("test")] == ["b_1"]
    by_person = FolderDataset(data_root=root, pattern=r"^(?P<subject>[a-z])_\d$", seed=0)
    assert sorted({r.subject for r in by_person.records()}) == ["a", "b", "c"]
    split = by_person.subjects()
    assert not set(split["train"]) & set(split["test"])
    assert {r.subject for r in by_person.split("train")} == set(split["train"])


def test_folder_bad_inputs(tmp_path):
    with pytest.raises(DatasetError, match=r"folder: data folder .* does not exist"):
        FolderDataset(data_root=tmp_path / "none").records()
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="folder: no videos found under"):
        FolderDataset(data_root=tmp_path / "empty").records()
    mixed = tmp_path / "mixed"
    write_video(mixed / "loose.npz", index_frames(2, 8, 8))
    write_video(mixed / "cls" / "x.npz", index_frames(2, 8, 8))
    with pytest.raises(DatasetError, match="loose.npz lies directly in"):
        FolderDataset(data_root=mixed).records()
    root = tmp_path / "r"
    write_video(root / "ok.npz", index_frames(2, 8, 8))
    (root / "broken.mp4").write_bytes(b"\x00\x01garbage" * 20)
    (root / "empty.mp4").write_bytes(b"")
    ds = FolderDataset(data_root=root, cache_dir=tmp_path / "c")
    recs = {r.video_id: r for r in ds.records()}
    with pytest.raises(VideoError, match="broken.mp4: cannot decode"):
        ds.load_video(recs["broken"])
    with pytest.raises(VideoError, match="empty.mp4: the file is empty"):
        ds.load_video(recs["empty"])
    csv = tmp_path / "s.csv"
    csv.write_text("video,split\nok,train\nbroken,test\n")
    with pytest.raises(DatasetError, match="s.csv: 1 videos are not listed"):
        FolderDataset(data_root=root, split_file=str(csv)).subjects()
    csv.write_text("video,split\nok,train\nbroken,valid\nempty,test\n")
    with pytest.raises(DatasetError, match="s.csv:3: split must be train or test"):
        FolderDataset(data_root=root, split_file=str(csv)).subjects()
    csv.write_text("video,split\nnope,train\n")
    with pytest.raises(DatasetError, match="s.csv:2: video 'nope' is not under"):
        FolderDataset(data_root=root, split_file=str(csv)).subjects()
    csv.write_text("name,part\n")
    with pytest.raises(DatasetError, match="needs the columns video,split"):
        FolderDataset(data_root=root, split_file=str(csv)).subjects()
    with pytest.raises(DatasetError, match="frame_step must be"):
        FolderDataset(data_root=root, frame_step=0)


def test_folder_of_one_subject_needs_a_split_file(tmp_path):
    """One subject: a subject split is impossible, so the error names the folder and both ways out;
    a split_file works (and a split it leaves empty is refused when clips are asked of it)."""
    root = tmp_path / "one"
    for k in (1, 2):
        write_video(root / f"anna_{k}.npz", index_frames(3, 8, 8))
    ds = FolderDataset(data_root=root, pattern=r"^(?P<subject>[a-z]+)_")
    with pytest.raises(DatasetError) as exc:
        ds.subjects()
    msg = str(exc.value)
    assert msg.startswith(f"folder: all 2 video(s) under {root} come from one subject ('anna')")
    assert "at least two subjects" in msg and "split_file=" in msg and "\n" not in msg
    csv = tmp_path / "split.csv"
    csv.write_text("video,split\nanna_1,train\nanna_2,train\n")
    ds = FolderDataset(data_root=root, pattern=r"^(?P<subject>[a-z]+)_", split_file=str(csv))
    assert ds.subjects() == {"train": ["anna"], "test": []}
    assert [r.record.video_id for r in ds.clips("train")] == ["anna_1", "anna_2"]
    with pytest.raises(DatasetError, match=r"folder: the test split of the videos under .* is empty"):
        ds.clips("test")
