"""The metric registry: every metric is one module that declares a :class:`MetricSpec`.

torchmetrics' idea, in the shape this project needs: a metric states its kind, its direction, its
display precision, the extractor family it needs, how its values reduce across processes, and its
compute function. ``vbench metrics``, ``vbench run``, the leaderboard (bolding, decimals, plots)
and the CLI help all read these declarations, so adding a metric is one new module plus one line
in :data:`METRIC_MODULES` (or an entry point in the ``vbench_i2v.metrics`` group).

Metric modules import nothing heavy at import time (the CLI lists them without importing torch);
their compute functions import what they need.

Kinds:

- ``paired``: a value per generated video against its real partner (same name), e.g. SSIM.
  Paired metrics score the *predicted* frames: the conditioning frame (frame 0) is an input, not a
  prediction, and is left out unless the caller asks for it (``include_conditioning_frame``).
- ``conditioned``: a value per generated video against what it was conditioned on (the
  conditioning image, or the requested label), e.g. ACD-I, label accuracy.
- ``per-video``: a value per generated video alone, e.g. ACD-C.
- ``set``: one value from the two sets' features, e.g. FID, KID.

Reductions (``MetricSpec.reduction``, read by the engine to decide what it gathers across torchrun
processes): ``per-video`` metrics are computed on each rank's shard and their values (and
``ctx.record`` details) are gathered to rank 0 in the global sorted order; ``features`` metrics get
their network's per-video features, extracted per shard, gathered, and the statistic runs once on
rank 0. Either way the numbers do not depend on the number of processes. The reduction follows
from the kind (``set`` metrics reduce features, the others per-video values) and is checked
against it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from vbench_i2v.errors import InputError

KINDS = ("paired", "conditioned", "per-video", "set")

# One line per built-in metric module (each calls ``register`` once). Order = display order.
METRIC_MODULES = [
    "vbench_i2v.metrics.defs.ssim",
    "vbench_i2v.metrics.defs.psnr",
    "vbench_i2v.metrics.defs.fid",
    "vbench_i2v.metrics.defs.kid",
    "vbench_i2v.metrics.defs.acd_c",
    "vbench_i2v.metrics.defs.acd_i",
    "vbench_i2v.metrics.defs.lpips",
    "vbench_i2v.metrics.defs.lpips_cond",
    "vbench_i2v.metrics.defs.fid_inf",
    "vbench_i2v.metrics.defs.fvd",
    "vbench_i2v.metrics.defs.fvd_styleganv",
    "vbench_i2v.metrics.defs.kvd",
    "vbench_i2v.metrics.defs.fvd_inf",
    "vbench_i2v.metrics.defs.cd_fvd",
    "vbench_i2v.metrics.defs.jedi",
    "vbench_i2v.metrics.defs.label_acc",
    "vbench_i2v.metrics.defs.temporal_flickering",
    "vbench_i2v.metrics.defs.subject_consistency",
    "vbench_i2v.metrics.defs.background_consistency",
    "vbench_i2v.metrics.defs.i2v_subject",
    "vbench_i2v.metrics.defs.aesthetic_quality",
    "vbench_i2v.metrics.defs.dynamic_degree",
]
ENTRY_POINT_GROUP = "vbench_i2v.metrics"


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is and how to compute it.

    ``per_video(item, ctx) -> float`` for the per-video kinds (``item`` has ``name``, ``fake``,
    and lazily ``real``, ``cond`` and ``label``); ``summarize(values, ctx) -> dict`` turns the
    per-video values into ``{"value", "ci95", "n", ...}`` (default: the mean with a seeded
    percentile bootstrap interval). ``set_level(real, fake, ctx) -> dict`` for ``set`` metrics,
    where ``real``/``fake`` are :class:`vbench_i2v.metrics.features.FeatureSet`.

    ``extractor``: the default network (a name in the extractor catalog) for ``set`` metrics;
    ``extractor_fixed``: the metric is defined on that network only (``--extractor`` does not
    change it). ``needs_model``: the model family a per-video metric needs (a family of
    ``catalog.MODEL_FAMILIES``, built once per call; a plugin's own family is built by
    ``provenance["model_builder"]``). ``artifacts(result, folder) -> [paths]``: files a run writes
    beside results.json from the metric's result (e.g. a confusion table).
    """

    name: str
    kind: str
    higher_is_better: bool
    decimals: int
    description: str
    per_video: Callable | None = None
    set_level: Callable | None = None
    summarize: Callable | None = None
    extractor: str | None = None
    extractor_fixed: bool = False
    needs_model: str | None = None  # per-video metrics: the model family they need ("identity", ...)
    reduction: str | None = None  # "features" (set metrics) or "per-video" (the others); default from the kind
    default: bool = False  # in every default metric list
    default_on_faces: bool = False  # in the default list of face datasets
    needs: tuple[str, ...] | None = None  # of "real", "cond", "label"; default from the kind
    # `vbench sanity` responses it must show: ((corruption, "lower" | "higher"), ...): the value at
    # the corruption's strongest level is below / above the clean baseline (checked in the report)
    sanity: tuple[tuple[str, str], ...] = ()
    provenance: dict = field(default_factory=dict)
    artifacts: Callable | None = None  # (result, run folder) -> written paths, called by `vbench run`
    # ScorePlan fields that change the value itself (not only its interval), e.g. KID's subsets:
    # recorded as the result's provenance "settings", so they enter its measurement id
    value_settings: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "set" and self.set_level is None:
            raise ValueError(f"metric {self.name!r}: a set metric needs set_level")
        if self.kind != "set" and self.per_video is None:
            raise ValueError(f"metric {self.name!r}: a {self.kind} metric needs per_video")
        if self.reduction is None:
            object.__setattr__(self, "reduction", "features" if self.kind == "set" else "per-video")
        if self.reduction != ("features" if self.kind == "set" else "per-video"):
            raise ValueError(f"metric {self.name!r}: reduction must be 'features' for set metrics and "
                             f"'per-video' for the others, got {self.reduction!r}")
        if any(len(e) != 2 or e[1] not in ("lower", "higher") for e in self.sanity):
            raise ValueError(f"metric {self.name!r}: sanity entries are (corruption, 'lower' | 'higher')")
        if self.needs is None:
            object.__setattr__(self, "needs", {"paired": ("real",), "conditioned": ("cond",)}.get(self.kind, ()))

    @property
    def direction(self) -> int:
        return 1 if self.higher_is_better else -1

    def network(self, extractor=None):
        """The network a ``features`` metric runs on, given the plan's ``extractor`` choice (a
        name, a probe folder or an object): its own when fixed or when none is given."""
        if self.extractor_fixed or extractor is None:
            from vbench_i2v.catalog import DEFAULT_EXTRACTOR

            return self.extractor or DEFAULT_EXTRACTOR
        return extractor

    def model_builder(self) -> Callable | None:
        """The function that builds this metric's ``needs_model`` family (catalog first)."""
        if self.needs_model is None:
            return None
        from vbench_i2v.catalog import MODEL_FAMILIES

        fam = MODEL_FAMILIES.get(self.needs_model)
        if fam is None:
            return self.provenance.get("model_builder")
        mod, fn = fam.build.split(":")
        return getattr(importlib.import_module(mod), fn)


_METRICS: dict[str, MetricSpec] = {}
_loaded = False


def register(spec: MetricSpec) -> MetricSpec:
    """Add a metric (the one line a metric module ends with)."""
    if spec.name in _METRICS and _METRICS[spec.name] != spec:
        raise ValueError(f"metric {spec.name!r} is already registered")
    _METRICS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a metric (tests that register a dummy one clean up with this)."""
    _METRICS.pop(name, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in METRIC_MODULES:
        importlib.import_module(mod)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _METRICS:
            obj = ep.load()
            if isinstance(obj, MetricSpec):
                register(obj)


def all_metrics() -> dict[str, MetricSpec]:
    _load()
    return dict(_METRICS)


def metric_names() -> list[str]:
    return list(all_metrics())


def get_metric(name: str) -> MetricSpec:
    table = all_metrics()
    key = name.strip().lower()
    if key not in table:
        raise InputError(f"unknown metric {name!r} (known: {', '.join(table)})")
    return table[key]


def parse_metrics(metrics) -> list[str]:
    """``"fid,SSIM"`` or a list -> known, lower-case, de-duplicated names (case-insensitive)."""
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",")]
    metrics = [m.strip().lower() for m in metrics if m and m.strip()]
    table = all_metrics()
    bad = [m for m in metrics if m not in table]
    if bad or not metrics:
        raise InputError(f"unknown metric(s) {', '.join(bad) or '(none)'} (known: {', '.join(table)})")
    return list(dict.fromkeys(metrics))


def default_metrics(faces: bool = False) -> list[str]:
    return [n for n, s in all_metrics().items() if s.default or (faces and s.default_on_faces)]


def direction(name: str) -> int | None:
    """+1 higher is better, -1 lower is better, None for a name no registered metric has."""
    spec = all_metrics().get(name)
    return None if spec is None else spec.direction


def decimals(name: str) -> int | None:
    spec = all_metrics().get(name)
    return None if spec is None else spec.decimals


def display_order() -> list[str]:
    return metric_names()
