"""Which metrics use a weight file is derived from the metric registry (``catalog.metrics_using``),
never kept by hand. Checked here against what each metric's builders really ask the weights
registry for (a spy on ``weights.require`` that stops at the first file, so nothing is loaded), for
the default network and for every network a plan can choose (``--extractor``, ``--identity``);
``vbench weights list`` shows the derived list.
"""

from __future__ import annotations

import types

import pytest
from click.testing import CliRunner

from vbench_i2v import feature_extractors
from vbench_i2v import weights as W
from vbench_i2v.catalog import (EXTRACTORS, IDENTITY_EMBEDDERS, IMAGE_NETWORKS, RAFT_THINGS, all_weight_specs,
                                metrics_using)
from vbench_i2v.cli import main as vbench
from vbench_i2v.errors import InputError
from vbench_i2v.metrics import registry
from vbench_i2v.metrics.registry import MetricSpec

# Weight files the catalog lists that no metric runs on: LPIPS on VGG16 is a network class
# (feature_extractors/lpips_net.py) that no registered metric builds.
UNUSED = {"lpips-vgg"}


class _Asked(Exception):
    pass


def _first_files_asked(monkeypatch, calls) -> set[str]:
    """The weight file each call asks ``weights.require`` for first (a call that refuses its
    arguments with an InputError before asking for any file asks for none)."""
    asked = []

    def spy(name):
        asked.append(name)
        raise _Asked(name)

    monkeypatch.setattr(W, "require", spy)
    for call in calls:
        try:
            call()
        except (_Asked, InputError):
            pass
    return set(asked)


def _with_extras(names: set[str]) -> set[str]:
    """A network's extra weight files come with its main one (the extractor contract tests check
    that a built network records them)."""
    specs = [*EXTRACTORS.values(), *IDENTITY_EMBEDDERS.values(), *IMAGE_NETWORKS.values(), RAFT_THINGS]
    return names | {x.name for s in specs if s.weights.name in names for x in s.extra_weights}


def _files_used(spec: MetricSpec, monkeypatch) -> set[str]:
    """Every weight file the metric's network (set metrics) or model family (the others) asks for,
    with no choice made and with each catalog network chosen as the plan's extractor or identity."""
    if spec.kind == "set":
        calls = [lambda x=x: feature_extractors.build_video_extractor(spec.network(x), device="cpu")
                 for x in (None, *EXTRACTORS)]
    elif spec.needs_model:
        build = spec.model_builder()
        ctx = types.SimpleNamespace(models={}, batch_size=None, note=lambda *a, **k: None)
        choices = [(None, None), *((x, None) for x in EXTRACTORS), *((None, i) for i in IDENTITY_EMBEDDERS)]
        calls = [lambda x=x, i=i: build(x, i, "cpu", ctx) for x, i in choices]
    else:
        calls = []
    return _with_extras(_first_files_asked(monkeypatch, calls))


def test_derived_users_of_every_weight_file_are_the_metrics_that_ask_for_it(monkeypatch):
    metrics = registry.all_metrics()
    used = {name: _files_used(spec, monkeypatch) for name, spec in metrics.items()}
    monkeypatch.undo()
    assert used["fvd"] == {"i3d-kinetics400"} and used["lpips"] == {"lpips-alex"}  # the spy sees the builders
    assert used["aesthetic-quality"] == {"laion-aesthetic-linear", "clip-vit-l14"}
    for w in all_weight_specs():
        want = tuple(m for m in metrics if w in used[m])
        assert metrics_using(w) == want, w
    assert {w for w in all_weight_specs() if not metrics_using(w)} == UNUSED


def test_a_new_metric_shows_up_among_the_users_of_its_network():
    """A metric declaring its own model family with its catalog network is a user of that file at
    once (no list to update), and stops being one when it is removed."""
    spec = MetricSpec(name="flow-test-metric", kind="per-video", higher_is_better=True, decimals=2,
                      description="test", per_video=lambda item, ctx: 0.0, needs_model="flow-test",
                      provenance={"model_builder": lambda *a: None, "networks": ("raft-things",)})
    registry.all_metrics()
    registry.register(spec)
    try:
        assert metrics_using("raft-things") == ("dynamic-degree", "flow-test-metric")
    finally:
        registry.unregister(spec.name)
    assert metrics_using("raft-things") == ("dynamic-degree",)


def test_weights_list_shows_the_derived_users():
    r = CliRunner().invoke(vbench, ["weights", "list"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split() for line in r.output.splitlines()[2:] if line.strip()}
    assert rows["lpips-alex"][2] == "lpips,lpips-cond"
    assert rows["i3d-kinetics400"][2] == ",".join(metrics_using("i3d-kinetics400"))
    assert rows["lpips-vgg"][2] == "-"


@pytest.mark.parametrize("name", sorted(set(all_weight_specs()) - UNUSED))
def test_every_other_weight_file_has_a_user(name):
    assert metrics_using(name)
