"""The one owner of scoring: ``compute_metrics(real, fake, plan, store=None) -> Scores``.

Used by `vbench metrics`, `vbench run` and `vbench sanity`. The metrics are declared in
:mod:`vbench_i2v.metrics.registry` (one module each), their networks and model families in
:mod:`vbench_i2v.catalog`; this module only drives them and knows none of them by name:

1. metrics that reduce ``features`` are grouped by the network they run on
   (``MetricSpec.network``); each network is built once and each side's features are extracted
   once, through the feature store when one is given (:mod:`vbench_i2v.metrics.store`), sharded
   under torchrun and gathered to rank 0;
2. each model family a ``per-video`` metric needs (``MetricSpec.needs_model``) is built once by
   its catalog builder;
3. one pass over the generated videos, each rank over its shard: every generated video (and its
   real partner) is decoded once and fed to every network and every per-video metric; metrics
   that share work share it through the per-video memo;
4. on rank 0 the statistics run over everything gathered, in the global sorted order, so the
   numbers do not depend on the number of processes.

Each metric comes back as one JSON-ready object (:mod:`vbench_i2v.metrics.plan`): ``value``,
``ci95``, ``n``, what the metric adds, ``extractor`` and ``weights_sha256`` of its network, its
``measurement`` id and its own ``provenance`` (network, contract, weights, precision, conversions,
warnings); the call's provenance names every network, the seed, the pairing and the frames scored.
"""

from __future__ import annotations

import contextlib
import platform
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.catalog import DEFAULT_EXTRACTOR  # noqa: F401  (re-exported: the network of set metrics by default)
from vbench_i2v.devices import resolve_device, scoring_numerics
from vbench_i2v.errors import InputError
from vbench_i2v.metrics import bootstrap
from vbench_i2v.metrics.features import FeatureAccumulator, FeatureSet, _announce_cost, feature_set_from_file, gaussian
from vbench_i2v.metrics.plan import ScorePlan, Scores, network_identity
from vbench_i2v.metrics.registry import all_metrics, default_metrics, metric_names
from vbench_i2v.metrics.sources import FeatureFile, ImageSet, VideoSet, conversion_lines, is_features_file
from vbench_i2v.metrics.store import open_store


def __getattr__(name):  # the old constants, now derived from the registry
    if name == "METRIC_NAMES":
        return tuple(metric_names())
    if name == "DEFAULT_METRICS":
        return tuple(default_metrics())
    raise AttributeError(name)


@dataclass
class Item:
    """One generated video with lazy access to what per-video metrics compare it with."""

    name: str
    fake: np.ndarray
    _real: object = None
    _cond: object = None
    label: object = None
    _memo: dict = field(default_factory=dict)
    _fps: object = None  # the fake video's declared frame rate (lazy); None when its file has none

    @property
    def fps(self) -> float | None:
        if callable(self._fps):
            self._fps = self._fps()
        return self._fps

    @property
    def real(self) -> np.ndarray:
        if callable(self._real):
            self._real = self._real()
        if self._real is None:
            raise InputError(f"{self.name}: no real partner video")
        return self._real

    @property
    def cond(self) -> np.ndarray:
        if callable(self._cond):
            self._cond = self._cond()
        return self._cond

    def memo(self, key: str, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


@dataclass
class Context:
    """What every metric's compute function may read: settings, shared models, counters, warnings."""

    metric_names: list[str]
    plan: ScorePlan = field(default_factory=ScorePlan)  # the call's settings, read through the properties below
    device: str = "cpu"  # the resolved device
    models: dict = field(default_factory=dict)  # family -> object (built by the engine)
    counters: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)  # metric -> video -> what its summary needs
    warnings: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # key -> value for the call's provenance (ctx.note)
    metric_warnings: dict = field(default_factory=dict)  # metric -> its own warnings
    current: str | None = None  # the metric being computed (its warnings are recorded under it)
    frames_read: set = field(default_factory=set)  # metrics that asked which frames to score

    # The plan's settings a metric may read (one copy of them: the plan's).
    seed = property(lambda self: self.plan.seed)
    batch_size = property(lambda self: self.plan.batch_size)
    bootstrap_reps = property(lambda self: self.plan.bootstrap_reps)
    set_bootstrap_reps = property(lambda self: self.plan.set_bootstrap_reps)
    kid_subsets = property(lambda self: self.plan.kid_subsets)
    kid_subset_size = property(lambda self: self.plan.kid_subset_size)
    include_conditioning_frame = property(lambda self: self.plan.include_conditioning_frame)

    def model(self, family: str):
        if family not in self.models:
            raise InputError(f"no {family} model was prepared for these metrics")
        return self.models[family]

    def record(self, metric: str, name: str, value) -> None:
        """Keep per-video detail for a metric's summary (gathered from every rank like the values)."""
        self.records.setdefault(metric, {})[name] = value

    def count(self, key: str, n: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + int(n)

    def note(self, key: str, value) -> None:
        """Put ``key: value`` into the call's provenance (e.g. which embedder was used)."""
        self.notes[key] = value

    def warn(self, msg: str) -> None:
        warnings.warn(msg)
        if msg not in self.warnings:
            self.warnings.append(msg)
        if self.current is not None:
            mine = self.metric_warnings.setdefault(self.current, [])
            if msg not in mine:
                mine.append(msg)

    def scored_frames(self, t: int, name: str = "") -> np.ndarray:
        """The frames paired metrics score: the predicted ones (1..T-1), or all of them on request."""
        if self.current is not None:
            self.frames_read.add(self.current)  # the choice is then part of its measurement
        if self.include_conditioning_frame or t == 1:
            return np.arange(t)
        return np.arange(1, t)

    def frames_note(self) -> str:
        return ("all frames (the conditioning frame 0 included)" if self.include_conditioning_frame
                else "predicted frames 1..T-1 (the conditioning frame 0 is an input and is left out)")


def summarize_mean(values: dict[str, float], ctx: Context, key: str) -> dict:
    """The default reduction: the mean of the per-video values with a seeded bootstrap interval."""
    v = np.array(list(values.values()), np.float64)
    return {"value": float(v.mean()), "ci95": bootstrap.mean_ci(v, seed=ctx.seed, reps=ctx.bootstrap_reps, key=key),
            "n": int(len(v)), "per_video": {k: float(x) for k, x in values.items()}}


def _clip_workers(value_specs) -> int:
    """Compute workers for a pass of per-video metrics alone: the cores idle now
    (:func:`vbench_i2v.threads.compute_threads`, ``VBENCH_THREADS`` overrides), each scoring whole
    clips on one torch thread. 1 (clips in order on this thread) when a metric needs a model: a
    network's forward already spreads over the cores inside each op."""
    if not value_specs or any(s.needs_model for s in value_specs):
        return 1
    from vbench_i2v.threads import compute_threads

    return compute_threads(large=True)


def _clip_context(ctx: Context) -> Context:
    """A context for one clip's per-video metrics on a compute worker: the call's settings and
    models, and empty counters, records, notes and warnings of its own."""
    return replace(ctx, counters={}, records={}, warnings=[], notes={}, metric_warnings={}, current=None,
                   frames_read=set())


def _merge_clip_context(ctx: Context, local: Context) -> None:
    """Fold one clip's context into the call's, in clip order: the same counters, records, notes,
    warnings (first occurrence first) and frame choices as scoring the clips in turn on one thread."""
    for k, n in local.counters.items():
        ctx.count(k, n)
    for m, rec in local.records.items():
        ctx.records.setdefault(m, {}).update(rec)
    ctx.notes.update(local.notes)
    ctx.warnings.extend(w for w in local.warnings if w not in ctx.warnings)  # in place: provenance holds it
    for m, ws in local.metric_warnings.items():
        mine = ctx.metric_warnings.setdefault(m, [])
        mine.extend(w for w in ws if w not in mine)
    ctx.frames_read |= local.frames_read


def _listed(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def _pairing(partners: VideoSet, fake: VideoSet) -> dict:
    fake_only = [n for n in fake.names() if n not in partners]
    real_only = [n for n in partners.names() if n not in fake]
    if fake_only:
        raise InputError(f"paired metrics need a real video for every fake one; no real partner in "
                         f"{partners.label} for: {_listed(fake_only)}")
    return {"pairs": len(fake), "real_without_fake": real_only}


def _feature_metric_names() -> str:
    return ", ".join(n for n, s in all_metrics().items() if s.reduction == "features")


@dataclass
class _Network:
    """One network of the call's feature metrics: what was asked for, the built object (None when
    both sides come from features files), each side's file and features, and its identity."""

    want: object
    metrics: list = field(default_factory=list)
    ex: object = None
    files: dict = field(default_factory=dict)  # side -> FeatureFile or None
    sets: dict = field(default_factory=dict)  # side -> FeatureSet
    identity: dict | None = None
    store: object = None  # NetworkStore or None
    conversions: list = field(default_factory=list)  # "side: conversion" lines (filled on rank 0)

    @property
    def name(self) -> str:
        return self.identity["name"]


def _precision_hint(made: str, wanted: str) -> str:
    if made == "bf16" or wanted == "bf16":
        return "pass --bf16" if made == "bf16" else "drop --bf16"
    return "pass --tf32 on a CUDA device" if made == "tf32" else "drop --tf32"


def _check_file(ff: FeatureFile, name: str, sha: str | None, precision: str, device: str) -> None:
    """A features file matches the network, its weights, the precision and the device type of
    this call: bf16 and TF32 features are a little off fp32's, and a GPU's kernels give other
    low bits than a CPU's, so none of them is ever mixed with another silently."""
    if ff.extractor != name:
        raise InputError(f"{ff.path}: features were made with {ff.extractor!r}, not {name!r}")
    if sha and ff.weights_sha256 and ff.weights_sha256 != sha:
        raise InputError(f"{ff.path}: features were made with other {name} weights "
                         f"({ff.weights_sha256[:12]}, this network has {sha[:12]})")
    if ff.precision != precision:
        raise InputError(f"{ff.path}: features were made in {ff.precision}, this run computes "
                         f"{precision} ({_precision_hint(ff.precision, precision)} or remake them)")
    if ff.device != device:
        raise InputError(f"{ff.path}: features were made on a {ff.device} device, this run computes on {device} "
                         f"(score with --device {ff.device} or remake them on {device})")


def _prepare_network(net: _Network, files: dict, plan: ScorePlan, device, store, n_videos: int) -> None:
    """Build the network when a side needs extracting or a file must be matched against it, and
    settle its identity (name, weights, contract, precision)."""
    from vbench_i2v import feature_extractors
    from vbench_i2v.catalog import EXTRACTORS

    net.files = dict(files)
    given = [ff for ff in files.values() if ff is not None]
    needs_build = len(given) < 2 or any(ff.extractor != net.want for ff in given)
    if needs_build:
        net.ex = feature_extractors.build_video_extractor(  # bf16 passed only when asked for
            net.want, device=device, batch_size=plan.batch_size, **({"bf16": True} if plan.bf16 else {}))
        net.identity = network_identity(net.ex, plan.bf16, device)
        if len(given) < 2:
            _announce_cost(net.ex, n_videos, device)
    else:  # both sides are files: nothing is computed, the files' precision and device are the measurement's
        ff = given[0]
        espec = EXTRACTORS.get(ff.extractor)
        made = "bf16" if plan.bf16 else "tf32" if (plan.tf32 or ff.precision == "tf32") else "fp32"
        net.identity = network_identity({"name": ff.extractor, "weights_sha256": ff.weights_sha256 or None,
                                         "extra_weights_sha256": ff.extra_weights_sha256,
                                         "contract": espec.contract if espec is not None else None,
                                         "precision": made, "device": ff.device}, plan.bf16, device)
    for ff in given:
        _check_file(ff, net.identity["name"], net.identity["weights_sha256"], net.identity["precision"],
                    net.identity.get("device", "cpu"))
    for side, ff in files.items():
        if ff is not None:
            net.sets[side] = feature_set_from_file(ff)
    if net.ex is not None and store is not None:
        net.store = store.network(net.identity)


def compute_metrics(real, fake, plan: ScorePlan, store=None) -> Scores:
    """Score ``fake`` against ``real`` (folders, ``{name: uint8 video}`` dicts, or features .npz)
    as ``plan`` says (:class:`vbench_i2v.metrics.plan.ScorePlan`).

    ``real`` may be None when every metric needs the fake videos alone (per-video metrics, and
    conditioned ones given ``plan.conditioning``). ``store``: a feature store (a folder or a
    :class:`vbench_i2v.metrics.store.FeatureStore`); each clip's features are then read from it
    when present and written to it when computed. A features file must have been made by the
    network the metric runs on, with the same weights and precision, on the same device type.

    The networks compute in IEEE fp32 on a CUDA device unless ``plan.tf32`` (TF32, refused off
    CUDA) or ``plan.bf16`` says otherwise; the process's TF32 flags are restored afterwards.
    """
    if not isinstance(plan, ScorePlan):
        raise TypeError(f"compute_metrics(real, fake, plan): plan must be a ScorePlan, got {type(plan).__name__}")
    distributed.init(plan.device)  # joins torchrun's process group; a no-op in a single process
    device = resolve_device(distributed.local_device(plan.device))
    with scoring_numerics(device, plan.tf32):  # what precision_name records is what the networks compute in
        return _compute_metrics(real, fake, plan, store, device)


def _compute_metrics(real, fake, plan: ScorePlan, store, device) -> Scores:
    from vbench_i2v import __version__

    names = plan.names()
    specs = plan.specs()
    store = open_store(store)
    progress = plan.progress and distributed.is_main()
    boot = plan.bootstrap_settings()
    ctx = Context(names, plan=plan, device=str(device))
    prov: dict = {"vbench_i2v": __version__, "seed": plan.seed, "metrics": names, "device": str(device),
                  "python": platform.python_version(), "weights": {}, "warnings": ctx.warnings,
                  "extractors": {}, "conversions": [],
                  "bootstrap": {"per_video_reps": plan.bootstrap_reps, "set_level_reps": plan.set_bootstrap_reps,
                                "method": "percentile, videos resampled with replacement"}}

    feature_specs = [s for s in specs if s.reduction == "features"]
    value_specs = [s for s in specs if s.reduction == "per-video"]
    conditioning = plan.conditioning
    own_partners = plan.partners is not None  # paired metrics compare with other videos than the set ones
    needs_partner = [s.name for s in value_specs if "real" in s.needs or ("cond" in s.needs and conditioning is None)]
    if real is None:  # fine for metrics on the fake videos alone (and their conditioning images)
        wants = [s.name for s in feature_specs] + ([] if own_partners else needs_partner)
        if wants:
            from vbench_i2v.metrics.registry import get_metric

            raise InputError(f"{', '.join(wants)} need{'s' if len(wants) == 1 else ''} the real videos (give --real"
                             + (", or --conditioning for the conditioning images)" if any(
                                 "cond" in get_metric(w).needs for w in wants) else ")"))
    real_ff = FeatureFile.load(real) if real is not None and is_features_file(real) else None
    fake_ff = FeatureFile.load(fake) if is_features_file(fake) else None
    real_vs = None if real_ff or real is None else VideoSet.from_source(real, "real")
    fake_vs = None if fake_ff else VideoSet.from_source(fake, "fake")
    partner_vs = VideoSet.from_source(plan.partners, "real") if own_partners else real_vs
    prov["real"] = str(real_ff.path) if real_ff else (real_vs.label if real_vs is not None else None)
    prov["fake"] = str(fake_ff.path) if fake_ff else fake_vs.label
    if own_partners:
        prov["partners"] = partner_vs.label
    if fake_ff and value_specs:
        raise InputError(f"{fake_ff.path}: a features file only gives set metrics ({_feature_metric_names()}); "
                         f"{', '.join(s.name for s in value_specs)} need the fake videos")
    if real_ff and needs_partner and not own_partners:
        raise InputError(f"{real_ff.path}: a features file only gives set metrics ({_feature_metric_names()}); "
                         f"{', '.join(needs_partner)} need{'s' if len(needs_partner) == 1 else ''} the real videos")
    if needs_partner:
        prov["pairing"] = _pairing(partner_vs, fake_vs)
        if prov["pairing"]["real_without_fake"]:
            ctx.warnings.append(f"{len(prov['pairing']['real_without_fake'])} real videos have no fake partner "
                                "(ignored by paired metrics)")
    if any(s.kind == "paired" for s in specs):
        prov["paired_frames"] = ctx.frames_note()

    # --- feature metrics: one network per distinct choice; a side given as a features file is read
    nets: dict[str, _Network] = {}
    for s in feature_specs:
        want = s.network(plan.extractor)
        key = want if isinstance(want, str) else f"obj:{id(want)}"
        nets.setdefault(key, _Network(want)).metrics.append(s.name)
    n_videos = (0 if real_vs is None else len(real_vs)) + (0 if fake_vs is None else len(fake_vs))
    for net in nets.values():
        _prepare_network(net, {"real": real_ff, "fake": fake_ff}, plan, device, store, n_videos)

    # --- per-video metrics: each model family built once (its builder comes from the catalog)
    model_ids: dict[str, dict] = {}
    for s in value_specs:
        family = s.needs_model
        if family and family not in ctx.models:
            builder = s.model_builder()
            if builder is None:
                raise InputError(f"metric {s.name}: needs a {family} model and none can be built")
            model = ctx.models[family] = builder(plan.extractor, plan.identity, device, ctx)
            model_ids[family] = network_identity(model, device=device)
            mname = model_ids[family]["name"]
            prov["weights"][mname] = model_ids[family]["weights_sha256"]
            prov.setdefault("models", {})[family] = {"name": mname, "contract": model_ids[family]["contract"]}
    cond = ImageSet(conditioning) if conditioning is not None else None
    cond_users = [s.name for s in value_specs if "cond" in s.needs]
    if cond_users:
        if cond is not None:
            missing = [n for n in fake_vs.names() if n not in cond]
            if missing:
                raise InputError(f"{', '.join(cond_users)}: no conditioning image in {cond.label} for: "
                                 + _listed(missing))
            prov["conditioning"] = cond.label
        else:
            prov["conditioning"] = "first frame of the paired real video"
    label_users = [s.name for s in value_specs if "label" in s.needs]
    if label_users:
        missing = [n for n in fake_vs.names() if plan.labels is None or n not in plan.labels]
        if missing:
            raise InputError(f"{', '.join(label_users)}: no conditioning label for: " + _listed(missing)
                             + " (give --labels CSV with columns clip,label)")

    def item_for(name: str, fv: np.ndarray, pv) -> Item:
        if pv is not None:
            real_of = pv
        else:
            real_of = (lambda: partner_vs.load(name)) if partner_vs is not None and name in partner_vs else None
        if cond is not None and name in cond:
            cond_of = lambda: cond.load(name)  # noqa: E731
        elif real_of is not None:
            cond_of = lambda: (real_of if pv is not None else partner_vs.load(name))[0]  # noqa: E731
        else:
            cond_of = None
        return Item(name, fv, real_of, cond_of, None if plan.labels is None else plan.labels.get(name),
                    _fps=lambda: fake_vs.fps(name))

    # what the reader converted (16-bit frames, greyscale, ...) is recorded per side, with clip counts
    sources = {side: src for side, src in (("real", real_vs), ("fake", fake_vs),
                                           ("partners", partner_vs if own_partners else None),
                                           ("conditioning", cond)) if src is not None}
    partner_side = "partners" if own_partners else "real"

    def scan():
        """This rank's one pass: each generated video (and its real partner) is decoded once and fed
        to every network that needs it and to every per-video metric; then the real videos not
        fed in that pass, for the feature metrics."""
        accs: dict[tuple[str, str], FeatureAccumulator] = {}
        for key, net in nets.items():
            for side, vs in (("real", real_vs), ("fake", fake_vs)):
                if side not in net.sets:
                    accs[(key, side)] = FeatureAccumulator(net.ex, vs.label, store=net.store)
        real_accs = [a for (_, side), a in accs.items() if side == "real"]
        fake_accs = [a for (_, side), a in accs.items() if side == "fake"]
        per = {s.name: {} for s in value_specs}
        fed = set()  # real videos already given to the real-side networks
        if fake_vs is not None and (fake_accs or value_specs):
            from vbench_i2v.metrics.prefetch import prefetched

            mine = distributed.shard(fake_vs.names())
            share_real = bool(real_accs) and not own_partners  # the partner is also the set's real video
            wants_partner = partner_vs is not None and (bool(needs_partner) or share_real)

            def load(n):
                return fake_vs.load(n), partner_vs.load(n) if wants_partner and n in partner_vs else None

            def score(n):
                """One clip's job on a compute worker: decode the pair, run every per-video metric
                with a context of its own (merged in clip order on this thread)."""
                fv, pv = load(n)
                local = _clip_context(ctx)
                item = item_for(n, fv, pv)
                values = {}
                for s in value_specs:
                    local.current = s.name
                    values[s.name] = s.per_video(item, local)
                return values, local

            workers = _clip_workers(value_specs) if not (fake_accs or share_real) else 1
            if workers > 1:
                # clips split across the cores: each worker decodes and scores whole clips on one torch
                # thread; results come back in clip order (at most 2 x workers jobs submitted ahead)
                from vbench_i2v.metrics.prefetch import ordered_map
                from vbench_i2v.threads import torch_threads

                with torch_threads(1), contextlib.closing(ordered_map(score, mine, workers)) as it:
                    if progress:
                        from tqdm import tqdm

                        it = tqdm(it, total=len(mine), desc=f"scoring {fake_vs.label}", unit="video", disable=None)
                    for name, (values, local) in it:
                        for s in value_specs:
                            per[s.name][name] = values[s.name]
                        _merge_clip_context(ctx, local)
            else:
                # decoding of the next videos overlaps the scoring of this one (bounded, in order)
                with contextlib.closing(prefetched(load, mine)) as it:
                    if progress:
                        from tqdm import tqdm

                        it = tqdm(it, total=len(mine), desc=f"scoring {fake_vs.label}", unit="video", disable=None)
                    for name, (fv, pv) in it:
                        for a in fake_accs:
                            a.add(name, fv)
                        if share_real and pv is not None:
                            for a in real_accs:
                                a.add(name, pv)
                            fed.add(name)
                        if value_specs:
                            item = item_for(name, fv, pv)
                            for s in value_specs:
                                ctx.current = s.name
                                per[s.name][name] = s.per_video(item, ctx)
                            ctx.current = None
        if real_accs:
            in_pass = set(fake_vs.names()) & set(real_vs.names()) if (fake_vs is not None and not own_partners) else set()
            rest = [n for n in real_vs.names() if n not in in_pass]
            from vbench_i2v.metrics.prefetch import prefetched

            with contextlib.closing(prefetched(real_vs.load, distributed.shard(rest))) as it:  # decode ahead
                for name, rv in it:
                    for a in real_accs:
                        a.add(name, rv)
        feats = {k: a.finish() for k, a in accs.items()}
        return (per, dict(ctx.counters), ctx.records, feats, list(ctx.warnings), ctx.metric_warnings,
                ctx.frames_read, {side: dict(src.read_conversions) for side, src in sources.items()})

    parts = distributed.collect(scan)

    def result(s, summary: dict, identity: dict | None, conversions: list[str]) -> dict:
        """The metric's JSON object: value, ci95, n, its measurement id, what the metric adds, and
        its provenance (how it was measured, then what happened to its inputs)."""
        from vbench_i2v.results import measurement_id

        ident = identity or {}
        frames = plan.paired_frames if (s.kind == "paired" or s.name in ctx.frames_read) else None
        settings = {k: getattr(plan, k) for k in s.value_settings} or None
        prov_m = {"extractor": ident.get("name"), "contract": ident.get("contract"),
                  "weights_sha256": ident.get("weights_sha256"),
                  "extra_weights_sha256": ident.get("extra_weights_sha256") or None,
                  "precision": ident.get("precision"),
                  "device": ident.get("device", "cpu") if ident.get("name") else None,
                  "paired_frames": frames, "bootstrap": dict(boot),
                  "settings": settings, "conversions": list(conversions),
                  "warnings": list(ctx.metric_warnings.get(s.name, []))}
        head = {k: summary[k] for k in ("value", "ci95", "n")}
        out = {**head, "measurement": measurement_id({"provenance": prov_m}),
               **{k: v for k, v in summary.items() if k not in head and k != "provenance"}}
        out["provenance"] = prov_m
        return out

    def finish() -> Scores:
        """The statistics, on rank 0 only, over everything gathered (the same computation as 1 process)."""
        from vbench_i2v.catalog import EXTRACTORS, UNPUBLISHED_NOTE

        for part in parts:  # every rank's warnings, in rank order
            for w in part[4]:
                if w not in ctx.warnings:
                    ctx.warnings.append(w)
            for m, ws in part[5].items():
                mine = ctx.metric_warnings.setdefault(m, [])
                mine += [w for w in ws if w not in mine]
            ctx.frames_read |= part[6]
        read = {side: conversion_lines(side, {n: c for part in parts for n, c in part[7][side].items()}, len(src),
                                       "conditioning image" if src is cond else "clip")
                for side, src in sources.items()}
        prov["conversions"] += [line for lines in read.values() for line in lines]
        results: dict[str, dict] = {}
        for key, net in nets.items():
            for side, vs in (("real", real_vs), ("fake", fake_vs)):
                if side not in net.sets:
                    rows = {n: r for part in parts for n, r in zip(part[3][(key, side)][0], part[3][(key, side)][1])}
                    order = vs.names()
                    feats = np.stack([rows[n] for n in order]) if order else np.zeros((0, int(net.ex.dim)))
                    mu, sigma = gaussian(feats, vs.label)
                    conv = sorted({c for part in parts for c in part[3][(key, side)][2]})
                    net.sets[side] = FeatureSet(order, feats, mu, sigma, net.identity["weights_sha256"], vs.label, conv)
            fr, fk = net.sets["real"], net.sets["fake"]
            if fr.weights_sha256 and fk.weights_sha256 and fr.weights_sha256 != fk.weights_sha256:
                raise InputError(f"real and fake features come from different {net.name} weights "
                                 f"({fr.weights_sha256[:12]} vs {fk.weights_sha256[:12]})")
            espec = getattr(net.ex, "spec", None) if net.ex is not None else EXTRACTORS.get(net.name)
            prov["weights"][net.name] = net.identity["weights_sha256"]
            prov["extractors"][net.name] = {**(espec.provenance() if espec is not None else {"name": net.name}),
                                            "weights_sha256": net.identity["weights_sha256"],
                                            "extra_weights_sha256": net.identity["extra_weights_sha256"],
                                            "bf16": bool(plan.bf16)}
            net.conversions = [f"{side}: {c}" for side, fs in (("real", fr), ("fake", fk)) for c in fs.conversions]
            prov["conversions"] += net.conversions
            if espec is None or not espec.comparable_with_published:
                prov["extractor_note"] = UNPUBLISHED_NOTE.format(name=net.name)
        for s in feature_specs:
            net = next(n for n in nets.values() if s.name in n.metrics)
            prov.setdefault("extractor", net.name)
            ctx.current = s.name
            summary = s.set_level(net.sets["real"], net.sets["fake"], ctx)
            ctx.current = None
            results[s.name] = result(s, summary, net.identity,
                                     read.get("real", []) + read.get("fake", []) + net.conversions)
        counters: dict[str, int] = {}
        records: dict[str, dict] = {}
        for part in parts:
            for k, v in part[1].items():
                counters[k] = counters.get(k, 0) + v
            for m, per in part[2].items():
                records.setdefault(m, {}).update(per)
        ctx.counters, ctx.records = counters, records
        for s in value_specs:
            merged = {k: v for part in parts for k, v in part[0][s.name].items()}
            values = {n: merged[n] for n in fake_vs.names()}
            ctx.current = s.name
            summary = s.summarize(values, ctx) if s.summarize else summarize_mean(values, ctx, s.name)
            ctx.current = None
            if s.kind == "paired":
                summary["frames"] = plan.paired_frames
            inputs = ["fake"] + ([partner_side] if "real" in s.needs or ("cond" in s.needs and cond is None) else [])
            inputs += ["conditioning"] if "cond" in s.needs and cond is not None else []
            results[s.name] = result(s, summary, model_ids.get(s.needs_model),
                                     [line for side in inputs for line in read.get(side, [])])
        prov.update(ctx.notes)
        return Scores({m: results[m] for m in names}, prov)

    return distributed.on_main(finish, share=True)


def networks(plan: ScorePlan) -> dict[str, dict]:
    """``{name: identity}`` of the networks the plan's feature metrics run on, weights verified
    (a missing file fails here, with the command that gets it, before any long work)."""
    from vbench_i2v import feature_extractors, weights
    from vbench_i2v.catalog import EXTRACTORS

    out = {}
    for s in plan.specs():
        if s.reduction != "features":
            continue
        want = s.network(plan.extractor)
        if isinstance(want, str) and want in EXTRACTORS:
            espec = EXTRACTORS[want]
            ident = network_identity({"name": want, "weights_sha256": weights.require(espec.weights.name).sha256,
                                      "extra_weights_sha256": {w.name: weights.require(w.name).sha256
                                                               for w in espec.extra_weights},
                                      "contract": espec.contract}, plan.bf16)
        else:  # a probe folder or an object: loading it verifies it
            ident = network_identity(feature_extractors.build_video_extractor(want), plan.bf16)
        out[ident["name"]] = ident
    return out
