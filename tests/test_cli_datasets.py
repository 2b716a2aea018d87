import csv

import numpy as np
from click.testing import CliRunner

from vbench_i2v.cli import main
from vbench_i2v.datasets import dataset_names, get_dataset
from vbench_i2v.video_io import read_video


def test_every_dataset_is_registered():
    assert set(dataset_names()) >= {"mug", "natops", "weizmann", "uva-nemo", "folder", "synthetic"}


def test_datasets_list_shows_presence_and_labels(tmp_path):
    r = CliRunner().invoke(main, ["datasets", "list", "--data-root", str(tmp_path)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    synth = next(l for l in lines if l.startswith("synthetic"))
    assert "present" in synth
    mug = next(l for l in lines if l.startswith("mug"))
    assert "MISSING" in mug and str(tmp_path / "mug") in mug
    assert "happy" in r.output


def test_export_synthetic_writes_clips_and_csv(tmp_path):
    out = tmp_path / "x"
    r = CliRunner().invoke(main, ["datasets", "export", "synthetic", "--split", "test", "--out", str(out),
                                  "--limit", "3", "--format", "npz"])
    assert r.exit_code == 0, r.output
    with open(out / "clips.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["clip", "label", "label_name", "subject", "source", "start_frame"]
    assert len(rows) == 3
    ds = get_dataset("synthetic", seed=0)
    test_subjects = set(ds.subjects()["test"])
    refs = {ref.clip_id: ref for ref in ds.clips("test", limit=3)}
    for row in rows:
        clip = read_video(out / f"{row['clip']}.npz")
        assert clip.shape == (32, 64, 64, 3) and clip.dtype == np.uint8
        assert row["subject"] in test_subjects
        assert ds.labels[int(row["label"])] == row["label_name"]
        np.testing.assert_array_equal(clip, ds.load_clip(refs[row["clip"]]))


def test_export_mp4_default_and_unknown_dataset(tmp_path):
    r = CliRunner().invoke(main, ["datasets", "export", "synthetic", "--out", str(tmp_path), "--limit", "1"])
    assert r.exit_code == 0, r.output
    assert len(list(tmp_path.glob("*.mp4"))) == 1
    r = CliRunner().invoke(main, ["datasets", "export", "nosuch", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "unknown dataset 'nosuch'" in r.output
