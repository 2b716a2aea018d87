"""Probes: the training pieces, the probe folder (format, sums, atomic write), its loader against
an independent forward pass written with torch.nn.functional, and `vbench probes train`.

Real-data quality checks (Weizmann) are in tests/test_probes_weizmann.py."""

from __future__ import annotations

import json
import types

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch.nn import functional as F

from vbench_i2v.cli import _Main
from vbench_i2v.cli.probes import probes_group
from vbench_i2v.datasets import get_dataset
from vbench_i2v.errors import InputError, WeightsError
from vbench_i2v.feature_extractors import synthetic_probe as sp
from vbench_i2v.files import sha256_file
from vbench_i2v.probes import (INPUT_CONTRACT, is_probe_folder, load_probe_folder, load_training_clips, train_probe,
                               verify_probe_folder, write_probe_folder)
from vbench_i2v.probes import train as pt
from vbench_i2v.probes.train import TrainingData


@pytest.fixture(scope="module")
def synth():
    """A seeded subset of 16 synthetic training videos (fast to render)."""
    ds = get_dataset("synthetic", seed=0)
    return ds, load_training_clips(ds, per_video=1, limit=16, log=lambda s: None)


@pytest.fixture(scope="module")
def folder(synth, tmp_path_factory):
    ds, data = synth
    trained = train_probe(ds, video_steps=3, identity_steps=2, identity_batch=8, batch=4, seed=1,
                          val_subjects=2, data=data, log=lambda s: None)
    out = tmp_path_factory.mktemp("probes") / "p"
    write_probe_folder(out, trained, ["vbench", "probes", "train", "--dataset", "synthetic"])
    return out, trained, data


# --- training pieces --------------------------------------------------------------------------------

def test_holdout_is_seeded_by_subject_and_disjoint():
    subjects = [f"s{i}" for i in range(10)] * 3
    a = pt.holdout_subjects(subjects, 3, seed=0)
    assert a == pt.holdout_subjects(subjects, 3, seed=0) and len(a) == 3 and a == sorted(a)
    assert set(a) <= set(subjects)
    assert any(pt.holdout_subjects(subjects, 3, seed=s) != a for s in range(1, 6))
    assert pt.holdout_subjects(subjects, 0, seed=0) == []
    with pytest.raises(InputError, match="at least one"):
        pt.holdout_subjects(subjects, 10, seed=0)
    assert [pt.default_val_subjects(n) for n in (1, 2, 6, 48)] == [0, 1, 1, 10]


def test_motionless_clips_are_frozen_or_shuffled_frames_of_the_clip():
    x = torch.randn(64, 3, 16, 4, 4)
    orig = x.clone()
    neg = pt.motionless(x, torch.Generator().manual_seed(0), 0.5)
    assert 15 < int(neg.sum()) < 49
    assert torch.equal(x[~neg], orig[~neg])
    kinds = set()
    for i in torch.nonzero(neg).flatten().tolist():
        if torch.equal(x[i], orig[i, :, :1].expand_as(orig[i])):
            kinds.add("frozen")
            continue
        # a permutation of the original frames: each frame matches exactly one original frame
        match = [[j for j in range(16) if torch.equal(x[i, :, t], orig[i, :, j])] for t in range(16)]
        assert sorted(m[0] for m in match) == list(range(16))
        kinds.add("shuffled")
    assert kinds == {"frozen", "shuffled"}


def test_no_motionless_clips_draw_no_random_numbers():
    """fraction 0 leaves the training generator's stream alone (the shipped synthetic probe's
    training is reproduced through this path)."""
    clips = np.random.default_rng(0).integers(0, 256, (6, 32, 64, 64, 3), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 0, 1])
    a, b = (sp.build_probe(seed=0, num_classes=2, identity_width=0) for _ in range(2))
    pt.train_video(a, clips, labels, 2, 3, seed=0, log=lambda s: None)
    pt.train_video(b, clips, labels, 2, 3, seed=0, log=lambda s: None, motionless_fraction=0.0)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_fingerprint_covers_clips_seed_and_options(synth):
    ds, data = synth
    fp = pt.dataset_fingerprint(ds, data.clip_ids)
    assert fp == pt.dataset_fingerprint(ds, list(reversed(data.clip_ids)))  # order-free
    assert fp["name"] == "synthetic" and fp["split_seed"] == 0 and fp["train_clips"] == 16
    assert fp["train_clip_ids_sha256"] != pt.dataset_fingerprint(ds, data.clip_ids[:-1])["train_clip_ids_sha256"]
    other = get_dataset("synthetic", seed=1)
    assert pt.dataset_fingerprint(other, data.clip_ids)["train_clip_ids_sha256"] != fp["train_clip_ids_sha256"]
    opt = get_dataset("synthetic", seed=0, takes=2)
    assert pt.dataset_fingerprint(opt, data.clip_ids)["train_clip_ids_sha256"] != fp["train_clip_ids_sha256"]


def test_training_never_reads_the_test_split(synth, monkeypatch):
    ds = get_dataset("synthetic", seed=0)
    seen = []
    real_clips = type(ds).clips

    def spy(self, split, *a, **k):
        seen.append(split)
        return real_clips(self, split, *a, **k)

    monkeypatch.setattr(type(ds), "clips", spy)
    data = load_training_clips(ds, per_video=1, limit=4, log=lambda s: None)
    test_subjects = set(ds.subjects()["test"])
    assert seen == ["train"] and not test_subjects & set(data.subjects.tolist())


# --- the folder and its loader --------------------------------------------------------------------

def test_folder_format(folder):
    out, trained, data = folder
    assert sorted(p.name for p in out.iterdir()) == ["SHA256SUMS", "command", "config.json", "model.safetensors"]
    assert not [p for p in out.parent.iterdir() if p.name != "p"]  # no temp folder left behind
    cfg = json.loads((out / "config.json").read_text())
    sums = dict(reversed(line.split("  ")) for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums == {f: sha256_file(out / f) for f in ("command", "config.json", "model.safetensors")}
    assert cfg["model_sha256"] == sums["model.safetensors"] and cfg["name"] == f"probe:{cfg['model_sha256'][:12]}"
    assert cfg["input"] == INPUT_CONTRACT and cfg["input"]["frames"] == 16 and cfg["input"]["size"] == 64
    assert cfg["input"]["value_range"] == [-1.0, 1.0]
    assert cfg["labels"] == ["happy", "sad", "surprise", "anger", "disgust", "fear", "neutral"]
    assert cfg["head_labels"] == sorted(set(data.labels[~np.isin(data.subjects, cfg["dataset"]["validation_subjects"])]))
    val = cfg["validation"]
    assert len(val["subjects"]) == 2 and val["n"] == int(np.isin(data.subjects, val["subjects"]).sum())
    assert val["accuracy"] == pytest.approx(val["correct"] / val["n"])
    assert cfg["dataset"]["train_clip_ids_sha256"] == pt.dataset_fingerprint(trained_ds(), data.clip_ids)[
        "train_clip_ids_sha256"]
    assert cfg["training"]["video_steps"] == 3 and cfg["training"]["seed"] == 1
    assert (out / "command").read_text() == "vbench probes train --dataset synthetic\n"
    assert is_probe_folder(out) and not is_probe_folder(out / "config.json")


def trained_ds():
    return get_dataset("synthetic", seed=0)


def _ref_video(sd: dict, videos: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The video branch written out with torch.nn.functional from the published description
    (every 2nd frame, [-1, 1], frame + difference from frame 0, four conv-BN-ReLU blocks, global
    mean, linear + ReLU features, linear class head), reading tensors straight from the file."""
    x = torch.from_numpy(videos[:, ::2].astype(np.float32) / 127.5 - 1.0).permute(0, 4, 1, 2, 3)
    x = torch.cat([x, x - x[:, :, :1]], 1)
    for i, stride in enumerate([(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]):
        x = F.conv3d(x, sd[f"video.trunk.{i}.0.weight"], stride=stride, padding=1)
        g, b = sd[f"video.trunk.{i}.1.weight"], sd[f"video.trunk.{i}.1.bias"]
        m, v = sd[f"video.trunk.{i}.1.running_mean"], sd[f"video.trunk.{i}.1.running_var"]
        x = ((x - m[:, None, None, None]) / torch.sqrt(v[:, None, None, None] + 1e-5)) * g[:, None, None, None] \
            + b[:, None, None, None]
        x = x.clamp_min(0)
    f = (x.mean((2, 3, 4)) @ sd["video.project.weight"].T + sd["video.project.bias"]).clamp_min(0)
    return f, f @ sd["video.expression.weight"].T + sd["video.expression.bias"]


def test_loader_matches_an_independent_forward_pass(folder):
    from safetensors.torch import load_file

    out, trained, data = folder
    ex = load_probe_folder(out)
    sd = load_file(str(out / "model.safetensors"))
    assert ex.name.startswith("probe:") and ex.name not in ("resnext101-kinetics", "i3d")
    assert ex.weights_sha256 == sha256_file(out / "model.safetensors") and ex.weights_name == ex.name
    assert float(sd["video.trunk.0.1.running_var"].std()) > 0  # trained: BN statistics are not the defaults
    videos = data.clips[:5]
    f_ref, logits_ref = _ref_video(sd, videos)
    feats = ex.features(videos)
    assert feats.shape == (5, ex.dim) and feats.dtype == np.float64 and ex.dim == 128
    np.testing.assert_allclose(feats, f_ref.double().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ex.logits(videos), logits_ref.double().numpy(), rtol=1e-4, atol=1e-5)
    head = np.array(ex.head_labels)
    assert ex.predict(videos).tolist() == head[logits_ref.numpy().argmax(1)].tolist()
    assert ex.labels == trained.labels
    emb, fallbacks = ex.embed(videos[0])
    assert emb.shape == (32, 64) and fallbacks == 0
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-6)
    # batches of any size give the same features
    ex2 = load_probe_folder(out, batch_size=2)
    np.testing.assert_allclose(ex2.features(videos), feats, rtol=1e-5, atol=1e-6)


def test_predict_maps_head_outputs_to_dataset_labels(synth, tmp_path):
    """A probe whose training clips show only two labels predicts only those two label ids."""
    ds, data = synth
    vals, counts = np.unique(data.labels, return_counts=True)
    two = sorted(vals[np.argsort(-counts, kind="stable")[:2]].tolist())
    keep = np.isin(data.labels, two)
    sub = TrainingData(data.clips[keep], data.labels[keep], data.subjects[keep],
                       [c for c, k in zip(data.clip_ids, keep) if k], [v for v, k in zip(data.video_ids, keep) if k])
    trained = train_probe(ds, video_steps=2, identity_steps=0, batch=2, val_subjects=0, data=sub, log=lambda s: None)
    assert trained.head_labels == two and trained.model.identity is None
    write_probe_folder(tmp_path / "two", trained, "vbench probes train")
    ex = load_probe_folder(tmp_path / "two")
    assert ex.logits(data.clips[:6]).shape == (6, 2)
    assert set(ex.predict(data.clips).tolist()) <= set(two)
    with pytest.raises(WeightsError, match="no identity branch"):
        ex.embed(data.clips[0])


def test_probe_without_labels_has_features_but_no_class_head(synth, tmp_path):
    ds, data = synth
    unlabelled = types.SimpleNamespace(name="nolabels", labels=None, face_crop=False, faces=False, seed=0, options={})
    d = TrainingData(data.clips, None, data.subjects, data.clip_ids, data.video_ids)
    trained = train_probe(unlabelled, video_steps=2, batch=2, data=d, log=lambda s: None)
    assert trained.head_labels == [] and trained.validation is None
    write_probe_folder(tmp_path / "nl", trained, "x")
    ex = load_probe_folder(tmp_path / "nl")
    assert not ex.has_class_head and ex.features(data.clips[:2]).shape == (2, 128)
    with pytest.raises(WeightsError, match="no class head"):
        ex.predict(data.clips[:2])


def _rewrite_sums(out):
    names = ("command", "config.json", "model.safetensors")
    (out / "SHA256SUMS").write_text("".join(f"{sha256_file(out / n)}  {n}\n" for n in names))


@pytest.mark.parametrize("damage", ["weights-byte", "config-edit", "no-sums", "contract", "not-a-folder"])
def test_loader_refuses_damaged_folders(folder, tmp_path, damage):
    import shutil

    src = folder[0]
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    if damage == "weights-byte":
        data = bytearray((out / "model.safetensors").read_bytes())
        data[-1] ^= 0xFF
        (out / "model.safetensors").write_bytes(bytes(data))
        match = "sha256"
    elif damage == "config-edit":
        cfg = json.loads((out / "config.json").read_text())
        cfg["labels"][0] = "joy"
        (out / "config.json").write_text(json.dumps(cfg))
        match = "sha256"
    elif damage == "no-sums":
        (out / "SHA256SUMS").unlink()
        match = "SHA256SUMS"
    elif damage == "contract":
        cfg = json.loads((out / "config.json").read_text())
        cfg["input"]["frames"] = 32
        (out / "config.json").write_text(json.dumps(cfg))
        _rewrite_sums(out)  # sums fine, contract not what this code implements
        match = "input contract"
    else:
        out = out / "model.safetensors"
        match = "not a probe folder"
    with pytest.raises(WeightsError, match=match):
        load_probe_folder(out)
    with pytest.raises(WeightsError):
        verify_probe_folder(out)


def test_write_refuses_a_non_empty_folder(folder, tmp_path):
    _, trained, _ = folder
    target = tmp_path / "taken"
    target.mkdir()
    (target / "x").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        write_probe_folder(target, trained, "x")
    assert [p.name for p in target.iterdir()] == ["x"]
    (tmp_path / "empty").mkdir()
    write_probe_folder(tmp_path / "empty", trained, "x")  # an empty folder is fine
    assert verify_probe_folder(tmp_path / "empty")["format"] == "vbench-probe/1"


# --- the command ----------------------------------------------------------------------------------

@click.group(cls=_Main)
def cli():
    pass


cli.add_command(probes_group)


def test_cli_train_writes_a_loadable_probe(tmp_path):
    out = tmp_path / "probe"
    r = CliRunner().invoke(cli, ["probes", "train", "--dataset", "synthetic", "--out", str(out), "--steps", "2",
                                 "--identity-steps", "2", "--batch", "2", "--limit", "12", "--clips-per-video", "1",
                                 "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output and "validation accuracy" in r.output
    ex = load_probe_folder(out)
    cfg = ex.config
    assert cfg["training"]["seed"] == 3 and cfg["training"]["video_limit"] == 12
    assert cfg["validation"]["n"] > 0 and ex.name in r.output
    cmd = (out / "command").read_text().split()
    assert cmd[:3] == ["vbench", "probes", "train"] and "--limit" in cmd and cmd[cmd.index("--seed") + 1] == "3"
    # running it again onto the same folder is refused before any training
    r2 = CliRunner().invoke(cli, ["probes", "train", "--dataset", "synthetic", "--out", str(out)])
    assert r2.exit_code == 2 and "Error:" in r2.output and "not empty" in r2.output


def test_cli_bad_options_are_one_line_errors(tmp_path):
    for args in (["--steps", "0"], ["--motionless-fraction", "1.5"], ["--device", "tpu"]):
        r = CliRunner().invoke(cli, ["probes", "train", "--dataset", "synthetic", "--out", str(tmp_path / "o")] + args)
        assert r.exit_code == 2 and r.output.startswith("Error:"), (args, r.output)
    r = CliRunner().invoke(cli, ["probes", "train", "--dataset", "nope", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "nope" in r.output
