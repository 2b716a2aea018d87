"""Networks used only for scoring, found through one registry (``catalog.py``).

Every video feature extractor has ``name``, ``dim``, ``weights_sha256`` and
``features(videos uint8 B x T x H x W x 3) -> float64 B x D``; every identity embedder has ``name``,
``weights_sha256`` and ``embed(frames uint8 N x H x W x 3) -> (N x D float64, fallbacks)``.

:func:`resolve_extractor` takes a registered name, a trained probe folder (``vbench probes
train``) or an already built object with that interface (tests inject small networks this way),
and always returns an object whose ``spec`` says what it is and what it takes. Importing this
package imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

from vbench_i2v.catalog import EXTRACTORS, IDENTITY_EMBEDDERS, IMAGE_NETWORKS
from vbench_i2v.specs import ExtractorSpec, InputContract, WeightSpec

# Loaders of extractor folders (trained probes), "module:function(path, device=)": resolved by
# name so this package never imports the code that trains them.
FOLDER_LOADERS = ["vbench_i2v.probes.folder:load_probe_folder"]


def _table(family: str) -> dict[str, ExtractorSpec]:
    return {"identity": IDENTITY_EMBEDDERS, "image": IMAGE_NETWORKS}.get(family, EXTRACTORS)


def extractor_spec(name: str, family: str = "video") -> ExtractorSpec:
    from vbench_i2v.errors import InputError

    table = _table(family)
    if name not in table:
        what = {"identity": "identity embedder", "image": "image network"}.get(family, "feature extractor")
        raise InputError(f"unknown {what} {name!r} (known: {', '.join(sorted(table))}, or a probe folder)")
    return table[name]


def _no_bf16(name: str):
    from vbench_i2v.errors import InputError

    return InputError(f"{name} has no bf16 mode")


def _takes_bf16(cls) -> bool:
    import inspect

    try:
        return "bf16" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _instantiate(spec: ExtractorSpec, device: str, batch_size: int | None, bf16: bool = False):
    from vbench_i2v import weights

    mod, cls = spec.build.split(":")
    klass = getattr(importlib.import_module(mod), cls)
    if bf16 and not _takes_bf16(klass):  # refused before the weights are checked or loaded
        raise _no_bf16(spec.name)
    wf = weights.require(spec.weights.name)
    kwargs = {"device": device, **dict(spec.build_kwargs)}
    # batch size from the network's size unless given: the catalog's CPU value, 4x on an accelerator
    kwargs["batch_size"] = batch_size or (spec.batch_size_cpu if str(device) == "cpu" else 4 * spec.batch_size_cpu)
    if bf16:
        kwargs["bf16"] = True
    obj = klass(wf.path, **kwargs)
    obj.weights_sha256 = wf.sha256
    obj.extra_weights_sha256 = {w.name: weights.require(w.name).sha256 for w in spec.extra_weights}
    obj.spec = spec
    obj.name = spec.name  # one network class may serve several entries (e.g. FVD routes)
    return obj


def _injected_spec(obj, family: str) -> ExtractorSpec:
    """A spec for an object built outside the registry (a test's small network, a plugin)."""
    name = getattr(obj, "name", type(obj).__name__)
    contract = getattr(obj, "contract", None) or InputContract(
        frames=None, sampling="all", size=None, resize="none", value_range=(0.0, 255.0),
        note="injected extractor: input contract not declared")
    sha = getattr(obj, "weights_sha256", None)
    w = WeightSpec(name=name, file_name="(in memory)", description="injected", loader="", sha256=sha)
    return ExtractorSpec(name=name, family=family, build=f"{type(obj).__module__}:{type(obj).__name__}",
                         weights=w, dim=int(getattr(obj, "dim", 0) or 0), contract=contract,
                         description="injected extractor object")


def resolve_extractor(what, family: str = "video", device: str = "cpu", batch_size: int | None = None,
                      bf16: bool = False):
    """A ready extractor (or identity embedder) with verified weights and its ``spec``.

    ``bf16``: build it in its bf16 mode (opt-in; features a little off fp32's), refused with one
    line for a network without one. An object passed in must already be in bf16 (``obj.bf16``)."""
    if not isinstance(what, (str, Path)):
        if bf16 and not getattr(what, "bf16", False):
            raise _no_bf16(getattr(what, "name", type(what).__name__))
        if getattr(what, "spec", None) is None:
            what.spec = _injected_spec(what, family)
        if not hasattr(what, "weights_sha256"):
            what.weights_sha256 = None
        return what
    text = str(what)
    if text not in _table(family) and Path(text).is_dir():  # e.g. a probe from `vbench probes train`
        mod, fn = FOLDER_LOADERS[0].split(":")
        if family != "video":
            from vbench_i2v.errors import InputError

            raise InputError(f"{text}: a probe folder gives video features, not a {family} embedder")
        if bf16:
            raise _no_bf16(text)
        obj = getattr(importlib.import_module(mod), fn)(Path(text), device=device)
        return resolve_extractor(obj, family)
    return _instantiate(extractor_spec(text, family), device, batch_size, bf16)


def build_video_extractor(name, device: str = "cpu", batch_size: int | None = None, bf16: bool = False):
    """The named video feature extractor with verified weights (``weights_sha256`` set)."""
    return resolve_extractor(name, "video", device, batch_size, bf16)


def build_identity_embedder(name, device: str = "cpu", batch_size: int | None = None):
    """The named per-frame identity embedder with verified weights (``weights_sha256`` set)."""
    return resolve_extractor(name, "identity", device, batch_size)


def with_contract(spec: ExtractorSpec, **changes) -> ExtractorSpec:
    """A copy of ``spec`` whose contract differs in ``changes`` (documented conversions, tests)."""
    return replace(spec, contract=replace(spec.contract, **changes))
