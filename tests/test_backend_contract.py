"""The generator-backend contract, checked for every registered backend (timm's way: one test
module parametrised over the registry, not a copy per backend).

Every backend in ``generator_names()`` gets: its parameter counts at the published width pinned
(built on the meta device), generate's shapes and conventions at a tiny width, one training step
that moves every network with finite losses (trainable backends), save -> load -> identical
outputs, and clear ``InputError``s for bad inputs. What differs per backend (pinned numbers, the
config variants worth a training step, the loss names) lives in :data:`EXPECT`; a backend that is
registered without an entry there fails, so a new backend cannot pass by being skipped.
Backend-specific behaviour (ImaGINator's layer table, MoCoGAN's motion codes, VGAN's mask) stays
in that backend's own test file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from generator_fakes import TinyDataset, one_torch_thread  # noqa: F401 - autouse fixture

from vbench_i2v import protocol, tensors
from vbench_i2v.errors import InputError
from vbench_i2v.generators import training
from vbench_i2v.generators.base import Batch, GeneratorConfig
from vbench_i2v.generators.registry import generator_names, get_generator, load_checkpoint

TINY = 1 / 16  # the smallest width every backend builds at; keeps the whole file to seconds
LABELS = ["left", "down"]
T, S = protocol.CLIP_FRAMES, protocol.SIZE


@dataclass(frozen=True)
class Variant:
    """A config worth one training step: preset + overrides, and the loss names it must report."""

    preset: str | None = None
    overrides: dict = field(default_factory=dict)
    losses: frozenset = frozenset()  # must be reported
    absent: frozenset = frozenset()  # must not be reported


@dataclass(frozen=True)
class Expect:
    """What the contract pins per backend.

    ``published``: parameter counts per network at ``published_width`` with ``num_classes``
    classes, from the backend's published layer table (each backend's own test file derives
    them by hand as well). ``variants``: configs that get a training step and a save/load check.
    """

    published: dict[str, int]
    num_classes: int = 7
    variants: dict[str, Variant] = field(default_factory=lambda: {"default": Variant()})


GAN = frozenset({"loss_d", "loss_g"})
EXPECT: dict[str, Expect] = {
    "imaginator": Expect(
        published={"G": 75_406_451, "D_V": 11_088_833, "D_I": 2_764_737}, num_classes=6,
        variants={"released": Variant("released", losses=GAN | {"l1"}),
                  "paper": Variant("paper", losses=GAN | {"l1"}),
                  "aux-classifier": Variant("released", {"d_video": "aux-classifier"}, losses=GAN | {"l1"})}),
    "mocogan": Expect(
        published={"G": 6_474_132, "D_I": 663_296, "D_V": 11_286_272},
        variants={"i2v": Variant(overrides={"mode": "i2v"}, losses=GAN | {"l1", "loss_cls_real", "loss_cls_fake"}),
                  "unconditional": Variant(overrides={"mode": "unconditional"},
                                           losses=GAN | {"loss_cls_real", "loss_cls_fake"},
                                           absent=frozenset({"l1"}))}),
    "vgan": Expect(
        published={"G": 22_452_779, "D": 11_098_817},
        variants={"i2v": Variant(overrides={"mode": "i2v"}, losses=GAN | {"mask_mean", "l1", "l1_first_frame"}),
                  "unconditional": Variant(overrides={"mode": "unconditional"}, losses=GAN | {"mask_mean"},
                                           absent=frozenset({"l1", "l1_first_frame"}))}),
    "copy-first-frame": Expect(published={}),
}

BACKENDS = generator_names()


def expect(name: str) -> Expect:
    if name not in EXPECT:
        pytest.fail(f"generator {name!r} is registered but tests/test_backend_contract.py has no EXPECT entry: "
                    "pin its parameter counts at the published width (from its layer table) and list the "
                    "configs worth a training step")
    return EXPECT[name]


def variant_cases():
    cases = []
    for name in BACKENDS:
        for label in (EXPECT[name].variants if name in EXPECT else {"default": None}):
            cases.append(pytest.param(name, label, id=f"{name}-{label}"))
    return cases


def build(name: str, variant: str | None = None, num_classes: int = 2, label_names=LABELS, seed: int = 0):
    cls = get_generator(name)
    v = expect(name).variants.get(variant or "", Variant())
    torch.manual_seed(seed)
    cfg = cls.make_config(v.preset, width=TINY, overrides=dict(v.overrides))
    return cls(cfg, num_classes, list(label_names) if label_names else None, "contract-test")


def images(b: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, S, S, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def videos(b: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.rand(b, 3, T, S, S, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def fixed_z(model, b: int = 2, seed: int = 5):
    return model.sample_z(b, torch.Generator().manual_seed(seed))


# --- declarations ------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKENDS)
def test_declarations(name):
    cls = get_generator(name)
    assert cls.name == name
    assert cls.description.strip(), f"{name}: give the backend a one-line description"
    assert issubclass(cls.Config, GeneratorConfig) and cls.published_width > 0
    schema = cls.config_schema()  # every field is a typed JSON scalar with a default
    assert {o.name for o in schema.options} == set(cls.config_fields())
    assert cls.make_config().preset == (cls.default_preset or "")
    for preset in cls.presets:  # every preset makes a config that builds
        cls(cls.make_config(preset, width=TINY), num_classes=2)
    with pytest.raises(InputError, match="width must be > 0"):
        cls.make_config(width=0)
    with pytest.raises(InputError, match=f"unknown {name} config key"):
        cls.parse_overrides(["no_such_key=1"])


# --- parameter counts ----------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKENDS)
def test_parameter_counts_at_published_width_are_pinned(name):
    want = expect(name)
    cls = get_generator(name)
    got = cls.count_parameters(width=cls.published_width, num_classes=want.num_classes)  # meta device
    assert got == want.published, f"{name}: parameter counts at width {cls.published_width} changed"
    if not cls.trainable:
        assert sum(got.values()) == 0, f"{name} is not trainable but has parameters"


@pytest.mark.parametrize("name", BACKENDS)
def test_meta_count_equals_a_real_build(name):
    model = build(name)
    assert get_generator(name).count_parameters(width=TINY, num_classes=2) == model.parameter_counts()
    assert model.parameter_count() == sum(model.parameter_counts().values())


# --- generate ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKENDS)
def test_generate_shapes_range_and_conventions(name):
    model = build(name)
    x = images(3)
    z = fixed_z(model, 3)
    out = model.generate(x, [0, 1, 1], z=z)
    assert out.shape == (3, 3, T, S, S) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() <= 1.0
    assert torch.equal(model.generate(x, [0, 1, 1], z=z), out), "generate is not deterministic for a fixed z"
    if z is not None:
        assert tuple(z.shape) == tuple(model.z_shape(3))
        assert not torch.equal(model.generate(x, [0, 1, 1], z=fixed_z(model, 3, seed=6)), out), \
            f"{name} declares noise but ignores it"
    # uint8 H x W x 3 conditioning frames go through vbench_i2v.tensors: same as the float path
    u8 = tensors.image_from_model(x)
    assert torch.equal(model.generate(u8, [0, 1, 1], z=z), model.generate(tensors.image_to_model(u8), [0, 1, 1], z=z))
    # one label (name or id) for the whole batch; networks are put back in train mode afterwards
    model.nets.train()
    z1 = None if z is None else z[:1]
    assert torch.equal(model.generate(x[:1], "down", z=z1), model.generate(x[:1], [1], z=z1))
    assert torch.equal(model.generate(x[:1], 1, z=z1), model.generate(x[:1], torch.tensor([1]), z=z1))
    assert all(m.training for m in model.nets.values())
    assert model.label_id("down") == 1 and model.label_id("1") == 1 and model.label_id(0) == 0
    # a single 3 x H x W image is a batch of one
    assert model.generate(x[0], [0], z=z1).shape == (1, 3, T, S, S)


@pytest.mark.parametrize("name", BACKENDS)
def test_unlabelled_model_generates_without_labels(name):
    model = build(name, num_classes=0, label_names=None)
    out = model.generate(images(2), None, z=fixed_z(model))
    assert out.shape == (2, 3, T, S, S) and torch.isfinite(out).all()
    with pytest.raises(InputError, match="trained without labels"):
        model.generate(images(2), [0, 0])
    with pytest.raises(InputError, match="trained without labels"):
        model.label_id("happy")


BAD_INPUTS = {
    "small-image": (lambda: torch.zeros(2, 3, 32, 32), [0, 1], r"B x 3 x 64 x 64 \(got shape \(2, 3, 32, 32\)\)"),
    "channels-last-float": (lambda: torch.zeros(2, S, S, 3), [0, 1], r"B x 3 x 64 x 64"),
    "small-uint8": (lambda: np.zeros((2, 48, 48, 3), np.uint8), [0, 1], r"B x 3 x 64 x 64"),
    "uint8-not-rgb": (lambda: np.zeros((2, S, S, 4), np.uint8), [0, 1], r"uint8 images must be"),
    "not-an-array": (lambda: [[0.0]], [0, 1], r"images must be a tensor or array"),
    "out-of-range": (lambda: torch.full((2, 3, S, S), 3.0), [0, 1], r"must be in \[-1, 1\]"),
    "nan": (lambda: torch.full((2, 3, S, S), float("nan")), [0, 1], "NaN"),
    "inf": (lambda: torch.full((2, 3, S, S), float("inf")), [0, 1], "infinite"),
    "integer-float-dtype": (lambda: torch.zeros(2, 3, S, S, dtype=torch.int64), [0, 1], "must be float"),
    "label-too-big": (lambda: torch.zeros(2, 3, S, S), [0, 2], r"label id 2 out of range \(0..1\)"),
    "label-negative": (lambda: torch.zeros(2, 3, S, S), [0, -1], r"label id -1 out of range"),
    "unknown-label": (lambda: torch.zeros(2, 3, S, S), ["up", "down"], r"unknown label 'up' \(labels: left, down\)"),
    "no-labels": (lambda: torch.zeros(2, 3, S, S), None, "needs labels"),
    "too-few-labels": (lambda: torch.zeros(2, 3, S, S), [0], "expected 2 labels"),
    "float-labels": (lambda: torch.zeros(2, 3, S, S), torch.tensor([0.0, 1.0]), "integer class ids"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("name", BACKENDS)
def test_bad_inputs_are_clear_input_errors(name, case):
    make, labels, message = BAD_INPUTS[case]
    model = build(name)
    with pytest.raises(InputError, match=message):
        model.generate(make(), labels)


@pytest.mark.parametrize("name", BACKENDS)
def test_bad_noise_is_a_clear_input_error(name):
    model = build(name)
    want = model.z_shape(2)
    if want is None:
        with pytest.raises(InputError, match="takes no noise"):
            model.generate(images(2), [0, 1], z=torch.zeros(2, 7))
    else:
        wrong = torch.zeros(2, int(np.prod(want[1:])) + 3)
        with pytest.raises(InputError, match=rf"z must have shape {tuple(want)}".replace("(", r"\(").replace(")", r"\)")):
            model.generate(images(2), [0, 1], z=wrong)


# --- training --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, variant", variant_cases())
def test_one_training_step_changes_weights_with_finite_losses(name, variant):
    model = build(name, variant, num_classes=3, label_names=None)
    if not model.trainable:
        with pytest.raises(NotImplementedError, match="not trainable"):
            model.configure_optimizers()
        return
    want = expect(name).variants[variant]
    model.optimizers = model.configure_optimizers()
    before = {k: {n: p.detach().clone() for n, p in m.named_parameters()} for k, m in model.nets.items()}
    torch.manual_seed(1)
    losses = model.train_step(Batch(videos(2), torch.tensor([0, 2])))
    assert losses and all(isinstance(v, float) for v in losses.values()), losses
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert want.losses <= set(losses), f"missing losses {sorted(want.losses - set(losses))}"
    assert not want.absent & set(losses), f"unexpected losses {sorted(want.absent & set(losses))}"
    for net, params in before.items():
        changed = [n for n, p in model.nets[net].named_parameters() if not torch.equal(p, params[n])]
        assert changed, f"{name}: {net} did not change in a training step"
    steps = [s["step"] for opt in model.optimizers.values() for s in opt.state_dict()["state"].values()]
    assert steps and all(int(s) == 1 for s in steps), "every optimiser takes exactly one step"


@pytest.mark.parametrize("name", BACKENDS)
def test_unlabelled_training_step(name):
    model = build(name, num_classes=0, label_names=None)
    if not model.trainable:
        with pytest.raises(NotImplementedError, match="not trainable"):
            model.train_step(Batch(videos(2), None))
        return
    model.optimizers = model.configure_optimizers()
    losses = model.train_step(Batch(videos(2), None))
    assert losses and all(np.isfinite(v) for v in losses.values()), losses


# --- save / load -----------------------------------------------------------------------------
@pytest.mark.parametrize("name, variant", variant_cases())
def test_save_load_generate_identical(tmp_path, name, variant):
    model = build(name, variant)
    if model.trainable:  # move weights and BatchNorm running statistics away from their init
        model.optimizers = model.configure_optimizers()
        model.train_step(Batch(videos(2), torch.tensor([0, 1])))
    z = fixed_z(model)
    before = model.generate(images(2), [1, 0], z=z)
    assert before.shape == (2, 3, T, S, S) and torch.isfinite(before).all() and before.abs().max() <= 1.0
    assert before.std() > 0
    model.save(tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["backend"] == name and meta["num_classes"] == 2 and meta["label_names"] == LABELS
    assert meta["dataset"] == "contract-test" and meta["parameters"] == model.parameter_counts()
    loaded = load_checkpoint(tmp_path / "ck")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert (loaded.num_classes, loaded.label_names, loaded.dataset) == (2, LABELS, "contract-test")
    assert torch.equal(loaded.generate(images(2), [1, 0], z=z), before)
    state = loaded.nets.state_dict()
    for key, value in model.nets.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("name", BACKENDS)
def test_loading_another_backends_checkpoint_is_a_clear_error(tmp_path, name):
    build(name).save(tmp_path / name)
    for other in BACKENDS:
        if other != name:
            with pytest.raises(InputError, match=f"checkpoint is for generator '{name}', not '{other}'"):
                get_generator(other).load(tmp_path / name)


@pytest.mark.parametrize("name", BACKENDS)
def test_shared_training_loop_writes_checkpoint_and_samples(tmp_path, name):
    """Every trainable backend runs in the one training loop (checkpoint, sample grid, labels kept)."""
    data = TinyDataset()
    cls = get_generator(name)
    torch.manual_seed(0)
    model = cls(cls.make_config(width=TINY, overrides={"batch_size": 2}), data.num_classes, data.labels, data.name)
    if not model.trainable:
        with pytest.raises(InputError, match="has nothing to train"):
            training.train(model, data, tmp_path / "run", steps=1, progress_bar=False)
        return
    out = training.train(model, data, tmp_path / "run", steps=2, progress_bar=False, sample_every=2)
    assert (out / "model.safetensors").exists() and (out / "samples" / "step_000002.png").exists()
    loaded = load_checkpoint(out)
    assert type(loaded) is cls and loaded.label_names == data.labels and loaded.dataset == data.name
