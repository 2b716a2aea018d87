"""The training loop's numbers are pinned: a seeded 3-step run gives the same weights, bit for bit.

The sha256 literals below were computed with the training loop as it stood before the ``Trainer``
refactor (generators/training.py with 18 keyword arguments), on this repository's CPU torch build.
They hash every tensor of the saved state dict (key, dtype, shape, bytes), every optimiser state
tensor and the logged losses. A refactor that moves state around must leave them unchanged; a
change that is meant to alter the numbers must say so and update them.

(Float kernels can differ between CPU instruction sets; if the hash moves on another machine
while the other tests here pass, recompute it with the old code on that machine first.)
"""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
import torch

from generator_fakes import TinyDataset, TinyUnlabelled, one_torch_thread  # noqa: F401
from vbench_i2v.generators import training
from vbench_i2v.generators.registry import get_generator, load_checkpoint

TINY = 1 / 16
SEED = 11

# backend -> (weights sha256, optimiser-state sha256, losses sha256) after 3 steps, batch 2, seed 11.
PINNED = {
    "imaginator": ("804f5dfad3478fd7797cf56f56889d383c8534c814ef072ee0a9c8e9dbf3cf62",
                   "06f628471cab1766b869e537be471922663cda564a015c5ccfc266b0699e1860",
                   "5774dc6d298435d17e310ad701eb17e1d878d6eb912e3929b78c58599af625f2"),
    "mocogan": ("d1f55cb024796d824d5b335d4d27ae4c7e73e3a01c778b169dc04003e430dfd1",
                "64df4d7452751ee6b66135de2bf5e0679f28fb21bbc0e03bd245692da1633592",
                "9845283b5dd51f6a8a8ac80e9131cef271c6a726a9415a9721cf09e2c997c168"),
    "vgan": ("924b239e5062c07511f337aecc6397f245c950320e0f7cc08f5ed73187d1afce",
             "a491084de4081e7d602e0c68a3d7875e478a79310b42c9399eb511c696856b13",
             "da3eca14f4150ab3f3e0797ec8996a4eb5bea82ac3639412df5b5ccdb2ab3063"),
}


def state_hash(state: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def optimizer_hash(path) -> str:
    """Every tensor and number of every optimiser state in ``training_state.pt``."""
    state = torch.load(path, map_location="cpu", weights_only=True)["optimizers"]
    flat = {}
    for name in sorted(state):
        for index, slots in state[name]["state"].items():
            for slot, value in slots.items():
                flat[f"{name}.{index}.{slot}"] = torch.as_tensor(value)
    return state_hash(flat)


def loss_hash(path) -> str:
    """The loss columns of losses.csv (wall-clock seconds left out)."""
    with open(path) as f:
        rows = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def tiny_model(name: str, dataset):
    cls = get_generator(name)
    torch.manual_seed(SEED)
    return cls(cls.make_config(width=TINY, overrides={"batch_size": 2}), dataset.num_classes, dataset.labels,
               dataset.name)


def run_hashes(name: str, out) -> tuple[str, str, str]:
    ds = TinyDataset()
    model = tiny_model(name, ds)
    training.train(model, ds, out, steps=3, seed=SEED, progress_bar=False, sample_every=100, checkpoint_every=100,
                   sample_inputs=1)
    saved = load_checkpoint(out).nets.state_dict()
    assert state_hash(saved) == state_hash(model.nets.state_dict())
    return state_hash(saved), optimizer_hash(out / training.STATE_FILE), loss_hash(out / training.LOSS_FILE)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_seeded_run_is_bit_identical_to_the_pinned_numbers(tmp_path, name):
    assert run_hashes(name, tmp_path / name) == PINNED[name]


def test_unlabelled_seeded_run_is_bit_identical_to_the_pinned_numbers(tmp_path):
    ds = TinyUnlabelled()
    model = tiny_model("vgan", ds)
    out = tmp_path / "run"
    training.train(model, ds, out, steps=3, seed=SEED, progress_bar=False, sample_every=100, checkpoint_every=100,
                   sample_inputs=1)
    assert (state_hash(model.nets.state_dict()), optimizer_hash(out / training.STATE_FILE),
            loss_hash(out / training.LOSS_FILE)) == (
        "3260fa7738d0c69c5e3cda9af8d35877e0b7c823869b320a0f3bd4dc434d18bb",
        "e0016d3076042f1c3d834dc46751ca3309aad0f4c7751d1c13bae21cd412148d",
        "6e56c8e41617e8514e4a575bbc2fae2ff4fa3fe12acbca14f3484933b1f0a716")


def test_resumed_run_lands_on_the_pinned_weights(tmp_path):
    """2 steps, a resume to 3 (with the global RNGs disturbed in between) = the pinned straight run."""
    ds = TinyDataset()
    out = tmp_path / "run"
    training.train(tiny_model("imaginator", ds), ds, out, steps=2, seed=SEED, progress_bar=False, sample_every=100,
                   checkpoint_every=100, sample_inputs=1)
    torch.manual_seed(999)
    np.random.seed(5)
    resumed = load_checkpoint(out)
    training.train(resumed, ds, out, steps=3, seed=SEED, resume=True, progress_bar=False, sample_every=100,
                   checkpoint_every=100, sample_inputs=1)
    assert (state_hash(resumed.nets.state_dict()), optimizer_hash(out / training.STATE_FILE),
            loss_hash(out / training.LOSS_FILE)) == PINNED["imaginator"]
