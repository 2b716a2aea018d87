"""The shared training loop: seeded data windows, outputs, and exact resume."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from generator_fakes import TinyDataset, TinyUnlabelled, one_torch_thread, tiny_video  # noqa: F401
from vbench_i2v import protocol
from vbench_i2v.errors import InputError
from vbench_i2v.generators import train_checkpoint, train_data, training
from vbench_i2v.generators.registry import get_generator, load_checkpoint

TINY = 1 / 16


def make_model(dataset, seed=0, **overrides):
    cls = get_generator("imaginator")
    torch.manual_seed(seed)
    cfg = cls.make_config(width=TINY, overrides={"batch_size": 2, **overrides})
    return cls(cfg, dataset.num_classes, dataset.labels, dataset.name)


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_train_windows_are_seeded_random_clips_of_train_videos():
    ds = TinyDataset()
    data = train_data.TrainWindows(ds, batch_size=2, seed=3)
    assert len(data.records) == 10 and data.batches_per_epoch == 5
    clips, labels = data.batch(epoch=1, index=2)
    again, labels2 = train_data.TrainWindows(ds, batch_size=2, seed=3).batch(1, 2)
    assert np.array_equal(clips, again) and labels == labels2
    assert clips.shape == (2, 32, 64, 64, 3) and clips.dtype == np.uint8
    # Each sample is take_clip(video, start) for some start in 0..8 of the right video.
    order = data.order(1)
    for s, clip in zip((4, 5), clips):
        rec = data.records[order[s]]
        full = tiny_video(int(rec.subject[1:]), rec.label)
        starts = [st for st in range(len(full) - 31) if np.array_equal(protocol.take_clip(full, st), clip)]
        assert starts and rec.label == labels[s - 4]
    # Every epoch visits every video once; epochs differ in order; starts vary across samples.
    assert sorted(order) == list(range(10)) and not np.array_equal(order, data.order(0))
    starts = {int(protocol.rng_for(3, "train-window", "0", str(i)).integers(0, 9)) for i in range(10)}
    assert len(starts) > 1


def test_training_writes_checkpoint_losses_and_samples(tmp_path):
    ds = TinyDataset()
    model = make_model(ds)
    training.train(model, ds, tmp_path, steps=3, sample_every=2, checkpoint_every=2, progress_bar=False,
                   sample_inputs=1)
    log = rows(tmp_path / "losses.csv")
    assert [int(r["step"]) for r in log] == [1, 2, 3]
    assert {"loss_d", "loss_g", "l1", "seconds", "epoch"} <= set(log[0])
    assert all(np.isfinite(float(r["loss_g"])) for r in log)
    for step in (2, 3):
        assert (tmp_path / "samples" / f"step_{step:06d}.png").stat().st_size > 0
        assert (tmp_path / "samples" / f"step_{step:06d}.gif").stat().st_size > 0
    from PIL import Image

    with Image.open(tmp_path / "samples" / "step_000003.png") as im:  # 1 input x 2 labels rows; input + 8 frames
        assert im.size == (9 * 66 + 2, 2 * 66 + 2)
    loaded = load_checkpoint(tmp_path)
    assert loaded.label_names == ["left", "down"] and loaded.dataset == "tiny-test"
    for k, v in model.nets.state_dict().items():
        assert torch.equal(v, loaded.nets.state_dict()[k])


def test_resume_continues_exactly(tmp_path):
    ds = TinyDataset()
    quiet = dict(checkpoint_every=100, sample_every=100, progress_bar=False, sample_inputs=1)
    straight = make_model(ds)
    one_go = training.Trainer(straight, ds, tmp_path / "a", training.TrainOptions(steps=4, **quiet))
    one_go.fit()

    first = make_model(ds)
    training.Trainer(first, ds, tmp_path / "b", training.TrainOptions(steps=2, **quiet)).fit()
    torch.manual_seed(123)  # whatever happens between the runs must not matter
    np.random.seed(7)
    resumed = load_checkpoint(tmp_path / "b")
    again = training.Trainer(resumed, ds, tmp_path / "b", training.TrainOptions(steps=4, resume=True, **quiet))
    again.fit()

    for k, v in straight.nets.state_dict().items():
        assert torch.equal(v, resumed.nets.state_dict()[k]), k
    assert set(one_go.optimizers) == set(again.optimizers) == {"G", "D"}
    for name, opt in one_go.optimizers.items():
        a, b = opt.state_dict()["state"], again.optimizers[name].state_dict()["state"]
        assert a and a.keys() == b.keys()
        assert all(torch.equal(a[i]["exp_avg"], b[i]["exp_avg"]) and a[i]["step"] == b[i]["step"] == 4 for i in a)
    la, lb = rows(tmp_path / "a" / "losses.csv"), rows(tmp_path / "b" / "losses.csv")
    assert [int(r["step"]) for r in lb] == [1, 2, 3, 4]
    assert [(r["loss_d"], r["loss_g"]) for r in la] == [(r["loss_d"], r["loss_g"]) for r in lb]
    state = torch.load(tmp_path / "b" / train_checkpoint.STATE_FILE, weights_only=True)
    assert state["step"] == 4 and state["epoch"] == 0 and state["batch_in_epoch"] == 4


def test_training_refuses_to_overwrite_or_resume_the_wrong_thing(tmp_path):
    ds = TinyDataset()
    training.train(make_model(ds), ds, tmp_path, steps=1, progress_bar=False)
    with pytest.raises(InputError, match="already holds a training run; pass --resume"):
        training.train(make_model(ds), ds, tmp_path, steps=2, progress_bar=False)
    with pytest.raises(InputError, match="model has 2 classes, dataset 'tiny-test-unlabelled' has 0"):
        training.train(make_model(ds), TinyUnlabelled(), tmp_path / "x", steps=1, progress_bar=False)
    copy = get_generator("copy-first-frame")(num_classes=2)
    with pytest.raises(InputError, match="nothing to train"):
        training.train(copy, ds, tmp_path / "y", steps=1, progress_bar=False)
    other = make_model(ds)
    other.name = "other"  # a different backend pointed at this run
    with pytest.raises(InputError, match="checkpoint is for generator 'imaginator', not 'other'"):
        train_checkpoint.load_training_state(other, other.configure_optimizers(), tmp_path)


def test_unlabelled_dataset_and_time_budget(tmp_path):
    ds = TinyUnlabelled()
    model = make_model(ds)
    training.train(model, ds, tmp_path, steps=50, max_seconds=0.0, progress_bar=False)
    assert [int(r["step"]) for r in rows(tmp_path / "losses.csv")] == [1]  # stopped after one step, saved
    assert load_checkpoint(tmp_path).num_classes == 0
    assert (tmp_path / "samples" / "step_000001.gif").exists()


def test_rng_state_round_trips():
    train_checkpoint.seed_everything(5)
    state = train_checkpoint.rng_state()
    a = (torch.rand(3), np.random.rand(3), __import__("random").random())
    train_checkpoint.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), __import__("random").random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
