"""The content-keyed feature store (vbench_i2v/metrics/store.py): an entry is reused only for the
same network identity (name, weights, contract, precision) and the same clip content; damaged or
misplaced entries are recomputed; two processes writing one store at once leave it whole."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from vbench_i2v.feature_extractors import with_contract
from vbench_i2v.metrics.features import FeatureAccumulator
from vbench_i2v.metrics.plan import network_identity
from vbench_i2v.metrics.store import FeatureStore, clip_hash
from vbench_i2v.specs import ExtractorSpec, InputContract, WeightSpec

CONTRACT = InputContract(frames=None, sampling="all", size=None, resize="none", value_range=(0.0, 255.0))
SPEC = ExtractorSpec(name="spy-net", family="video", build="tests:Spy", dim=3, contract=CONTRACT,
                     description="test network", weights=WeightSpec(name="spy-net", file_name="-", description="-",
                                                                    loader=""))


class Spy:
    """A network whose features are the channel means times ``scale`` (so features made by another
    "weights" differ, and a wrongly reused entry shows in the numbers); counts the clips it sees."""

    name, dim, batch_size = "spy-net", 3, 2

    def __init__(self, scale=1.0, sha="a" * 64, spec=SPEC):
        self.scale, self.weights_sha256, self.spec, self.seen = scale, sha, spec, 0

    def features(self, videos):
        self.seen += len(videos)
        return np.asarray(videos, np.float64).mean(axis=(1, 2, 3)) * self.scale


def _clips(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return {f"c{i}": rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8) for i in range(n)}


def _extract(store, net, clips, bf16=False):
    acc = FeatureAccumulator(net, "clips", store=store.network(network_identity(net, bf16)))
    for name, v in clips.items():
        acc.add(name, v)
    return acc.finish()[1]


def test_second_pass_reads_every_clip_from_the_store_with_the_same_numbers(tmp_path):
    store, clips = FeatureStore(tmp_path), _clips()
    net = Spy()
    first = _extract(store, net, clips)
    np.testing.assert_array_equal(first, Spy().features(np.stack(list(clips.values()))))
    assert net.seen == 5 and store.written == 5
    again = Spy()
    np.testing.assert_array_equal(_extract(FeatureStore(tmp_path), again, clips), first)
    assert again.seen == 0
    # a changed clip (one pixel) is new content: only it is extracted
    clips["c2"] = clips["c2"].copy()
    clips["c2"][0, 0, 0, 0] ^= 1
    third = Spy()
    got = _extract(FeatureStore(tmp_path), third, clips)
    assert third.seen == 1
    np.testing.assert_array_equal(np.delete(got, 2, 0), np.delete(first, 2, 0))


@pytest.mark.parametrize("other", ["weights", "contract", "precision", "name"])
def test_an_entry_made_under_another_identity_is_never_reused(tmp_path, other):
    store, clips = FeatureStore(tmp_path), _clips()
    _extract(store, Spy(), clips)
    if other == "weights":  # other weights compute other features (scale 2)
        net, bf16 = Spy(scale=2.0, sha="b" * 64), False
    elif other == "contract":
        net, bf16 = Spy(scale=2.0, spec=with_contract(SPEC, size=(4, 4), resize="bilinear")), False
    elif other == "precision":
        net, bf16 = Spy(scale=2.0), True
    else:
        net, bf16 = Spy(scale=2.0), False
        net.name = "other-net"
    got = _extract(FeatureStore(tmp_path), net, clips, bf16=bf16)
    assert net.seen == len(clips)  # nothing read back ...
    np.testing.assert_array_equal(got, 2.0 * Spy().features(np.stack(list(clips.values()))))  # ... its own numbers


def test_a_misplaced_or_damaged_entry_is_recomputed(tmp_path):
    store, clips = FeatureStore(tmp_path), _clips(2)
    _extract(store, Spy(), clips)
    h = clip_hash(clips["c0"])
    mine = store.network(network_identity(Spy()))
    theirs = store.network(network_identity(Spy(sha="b" * 64)))
    # an entry copied into another network's folder: its stored key names the first network
    theirs.path(h).parent.mkdir(parents=True)
    theirs.path(h).write_bytes(mine.path(h).read_bytes())
    assert theirs.get(h) is None and mine.get(h) is not None
    # a truncated entry is not trusted
    data = mine.path(h).read_bytes()
    mine.path(h).write_bytes(data[: len(data) // 2])
    net = Spy()
    _extract(FeatureStore(tmp_path), net, clips)
    assert net.seen == 1 and mine.get(h) is not None  # recomputed and written back whole


def test_networks_without_weights_sha_are_not_stored(tmp_path):
    store = FeatureStore(tmp_path)
    assert store.network(network_identity(Spy(sha=None))) is None


def _writer(root: str, seed: int, rounds: int) -> None:
    """One process: write every entry of the shared key set, in its own order, several times."""
    ident = {"name": "shared-net", "weights_sha256": "c" * 64, "extra_weights_sha256": {}, "contract": None,
             "precision": "fp32"}
    net = FeatureStore(root).network(ident)
    order = np.random.default_rng(seed).permutation(40)
    for _ in range(rounds):
        for i in order:
            net.put(f"{i:064x}", np.full(256, float(i)), [f"conversion {i}"])


def test_two_processes_writing_the_same_entries_leave_the_store_whole(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), seed, 3)) for seed in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    ident = {"name": "shared-net", "weights_sha256": "c" * 64, "extra_weights_sha256": {}, "contract": None,
             "precision": "fp32"}
    net = FeatureStore(tmp_path).network(ident)
    for i in range(40):
        feats, conv = net.get(f"{i:064x}")
        np.testing.assert_array_equal(feats, np.full(256, float(i)))
        assert conv == [f"conversion {i}"]
    leftovers = [p for p in Path(tmp_path).rglob("*") if p.is_file() and p.suffix != ".npz" and p.name != "network.json"]
    assert leftovers == []  # no temp file left behind by either writer
