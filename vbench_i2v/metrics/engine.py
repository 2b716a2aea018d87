"""One call that scores a set of fake videos against real ones: ``compute_metrics(real, fake, ...)``.

Used by `vbench metrics` and by `vbench run`. The metrics themselves are declared in
:mod:`vbench_i2v.metrics.registry` (one module each); this module only drives them:

1. set metrics are grouped by extractor; each extractor is built once and each side's features
   are extracted once (sharded under torchrun, gathered to rank 0);
2. per-video metrics (paired, conditioned, per-video) run in one pass over the generated videos,
   each rank over its shard; metrics that share work (SSIM and PSNR, ACD-C and ACD-I) share it
   through the per-video memo;
3. on rank 0 the statistics run over everything gathered, in the global sorted order, so the
   numbers do not depend on the number of processes.

Each metric comes back as ``{"value", "ci95": [lo, hi], "n", ...}`` plus a ``provenance`` block
naming every extractor with its input contract and weights sha256, the seed, the pairing, the
frames the paired metrics scored and every conversion applied to the inputs.

Why this module is over 400 lines: one driver for every metric kind (set, paired, conditioned, per-video) and its single decode pass; the metrics themselves live one per module in metrics/defs/.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import warnings
from dataclasses import dataclass, field

import numpy as np

from vbench_i2v import distributed
from vbench_i2v.devices import resolve_device
from vbench_i2v.errors import InputError
from vbench_i2v.metrics import bootstrap
from vbench_i2v.metrics.features import (FeatureAccumulator, FeatureSet, _announce_cost, extract_features,  # noqa: F401
                                         extract_features_sharded, feature_set, feature_set_from_file,
                                         features_file)
from vbench_i2v.metrics.registry import MetricSpec, default_metrics, get_metric, metric_names, parse_metrics
from vbench_i2v.metrics.sources import FeatureFile, ImageSet, VideoSet, is_features_file

DEFAULT_EXTRACTOR = "resnext101-kinetics"
log = logging.getLogger(__name__)


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
    seed: int = 0
    device: str = "cpu"
    batch_size: int | None = None
    bootstrap_reps: int = bootstrap.DEFAULT_REPS
    set_bootstrap_reps: int = 100
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    include_conditioning_frame: bool = False
    models: dict = field(default_factory=dict)  # family -> object (built by the engine)
    counters: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)  # metric -> video -> what its summary needs
    warnings: list = field(default_factory=list)

    def model(self, family: str):
        if family not in self.models:
            raise InputError(f"no {family} model was prepared for these metrics")
        return self.models[family]

    def record(self, metric: str, name: str, value) -> None:
        """Keep per-video detail for a metric's summary (gathered from every rank like the values)."""
        self.records.setdefault(metric, {})[name] = value

    def count(self, key: str, n: int) -> None:
        self.counters[key] = self.counters.get(key, 0) + int(n)

    def warn(self, msg: str) -> None:
        warnings.warn(msg)
        if msg not in self.warnings:
            self.warnings.append(msg)

    def scored_frames(self, t: int, name: str = "") -> np.ndarray:
        """The frames paired metrics score: the predicted ones (1..T-1), or all of them on request."""
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


def _pairing(real: VideoSet, fake: VideoSet) -> dict:
    fake_only = [n for n in fake.names() if n not in real]
    real_only = [n for n in real.names() if n not in fake]
    if fake_only:
        shown = ", ".join(fake_only[:5]) + (f" (+{len(fake_only) - 5} more)" if len(fake_only) > 5 else "")
        raise InputError(f"paired metrics need a real video for every fake one; no real partner in "
                         f"{real.label} for: {shown}")
    return {"pairs": len(fake), "real_without_fake": real_only}


def _set_names() -> str:
    from vbench_i2v.metrics.registry import all_metrics

    return ", ".join(n for n, s in all_metrics().items() if s.kind == "set")


def _extractor_for(spec: MetricSpec, extractor) -> object:
    if spec.extractor_fixed or extractor is None:
        return spec.extractor or DEFAULT_EXTRACTOR
    return extractor


def _extractor_key(ex) -> str:
    return ex if isinstance(ex, str) else f"obj:{id(ex)}"


def compute_metrics(real, fake, metrics=None, extractor=None, conditioning=None, seed: int = 0,
                    identity=None, device: str = "cpu", batch_size: int | None = None,
                    bootstrap_reps: int = bootstrap.DEFAULT_REPS, set_bootstrap_reps: int = 100,
                    kid_subsets: int = 100, kid_subset_size: int = 1000, labels: dict | None = None,
                    include_conditioning_frame: bool = False, progress: bool = False, bf16: bool = False) -> dict:
    """Score ``fake`` against ``real`` (folders, ``{name: uint8 video}`` dicts, or features .npz).

    ``metrics``: registered names (default: the registry's defaults). ``extractor``: the network for
    set metrics that do not fix their own (a registered name, a probe folder, or an extractor
    object; default: each metric's own, ResNeXt-101 for FID/KID). ``identity``: the ACD embedder
    (name or object; default: the probe with the probe extractor, else facenet). ``conditioning``:
    a folder of images keyed like the fake videos; without it a video's conditioning image is the
    first frame of its real partner (the protocol's definition). ``labels``: ``{name: label}`` the
    videos were conditioned on (label metrics). ``bf16``: feature networks in their bf16 mode
    (opt-in, refused for networks without one; recorded per extractor in provenance); a features
    file must have been made with the same setting.
    """
    from vbench_i2v import __version__, feature_extractors

    names = parse_metrics(metrics if metrics is not None else default_metrics())
    specs = [get_metric(m) for m in names]
    distributed.init(device)  # joins torchrun's process group; a no-op in a single process
    device = resolve_device(distributed.local_device(device))
    progress = progress and distributed.is_main()
    ctx = Context(names, seed=seed, device=str(device), batch_size=batch_size, bootstrap_reps=bootstrap_reps,
                  set_bootstrap_reps=set_bootstrap_reps, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                  include_conditioning_frame=include_conditioning_frame)
    prov: dict = {"vbench_i2v": __version__, "seed": seed, "metrics": names, "device": str(device),
                  "python": platform.python_version(), "weights": {}, "warnings": ctx.warnings,
                  "extractors": {}, "conversions": [],
                  "bootstrap": {"per_video_reps": bootstrap_reps, "set_level_reps": set_bootstrap_reps,
                                "method": "percentile, videos resampled with replacement"}}

    real_ff = FeatureFile.load(real) if is_features_file(real) else None
    fake_ff = FeatureFile.load(fake) if is_features_file(fake) else None
    real_vs = None if real_ff else VideoSet.from_source(real, "real")
    fake_vs = None if fake_ff else VideoSet.from_source(fake, "fake")
    prov["real"] = str(real_ff.path) if real_ff else real_vs.label
    prov["fake"] = str(fake_ff.path) if fake_ff else fake_vs.label
    per_video = [s for s in specs if s.kind != "set"]
    set_specs = [s for s in specs if s.kind == "set"]
    if fake_ff and per_video:
        raise InputError(f"{fake_ff.path}: a features file only gives set metrics ({_set_names()}); "
                         f"{', '.join(s.name for s in per_video)} need the fake videos")
    needs_real = [s.name for s in per_video if "real" in s.needs or ("cond" in s.needs and conditioning is None)]
    if real_ff and needs_real:
        raise InputError(f"{real_ff.path}: a features file only gives set metrics ({_set_names()}); "
                         f"{', '.join(needs_real)} need{'s' if len(needs_real) == 1 else ''} the real videos")
    if needs_real:
        prov["pairing"] = _pairing(real_vs, fake_vs)
        if prov["pairing"]["real_without_fake"]:
            ctx.warnings.append(f"{len(prov['pairing']['real_without_fake'])} real videos have no fake partner "
                                "(ignored by paired metrics)")
    if any(s.kind == "paired" for s in specs):
        prov["paired_frames"] = ctx.frames_note()

    # --- set metrics: one network per distinct extractor; a side given as a features file is read
    feature_nets: dict[str, dict] = {}  # key -> {"want", "ex", "real": FeatureSet|None, "fake": ...}
    for s in set_specs:
        want = _extractor_for(s, extractor)
        key = _extractor_key(want)
        if key in feature_nets:
            continue
        ename = want if isinstance(want, str) else getattr(want, "name", "")
        net = feature_nets[key] = {"want": want, "ex": None, "real": None, "fake": None}
        for side, ff in (("real", real_ff), ("fake", fake_ff)):
            if ff is not None:
                if ff.extractor != ename:
                    raise InputError(f"{ff.path}: features were made with {ff.extractor!r}, not {ename!r}")
                if ff.bf16 != bf16:  # bf16 features are a little off fp32's: never mixed silently
                    hint = "pass --bf16" if ff.bf16 else "drop --bf16"
                    raise InputError(f"{ff.path}: features were made in {ff.precision}, this run computes "
                                     f"{'bf16' if bf16 else 'fp32'} ({hint} or remake them)")
                net[side] = feature_set_from_file(ff)
        if net["real"] is None or net["fake"] is None:
            net["ex"] = feature_extractors.build_video_extractor(  # bf16 passed only when asked for
                want, device=device, batch_size=batch_size, **({"bf16": True} if bf16 else {}))
            _announce_cost(net["ex"], (0 if real_vs is None else len(real_vs)) + (0 if fake_vs is None else len(fake_vs)),
                           device)

    # --- per-video metrics: one pass over the generated videos, each rank its shard ------------
    if any(s.needs_model == "identity" for s in per_video):
        probe_like = isinstance(extractor, str) and extractor == "synthetic-probe"
        ident = identity or ("synthetic-probe" if probe_like else "facenet-vggface2")
        emb = feature_extractors.build_identity_embedder(ident, device=device)
        ctx.models["identity"] = emb
        iname = getattr(emb, "name", ident if isinstance(ident, str) else type(ident).__name__)
        prov["identity_embedder"] = iname
        prov["weights"][iname] = getattr(emb, "weights_sha256", None)
    cond = ImageSet(conditioning) if conditioning is not None else None
    cond_users = [s.name for s in per_video if "cond" in s.needs]
    if cond_users:
        if cond is not None:
            missing = [n for n in fake_vs.names() if n not in cond]
            if missing:
                raise InputError(f"{', '.join(cond_users)}: no "
                                 f"conditioning image in {cond.label} for: " + ", ".join(missing[:5])
                                 + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
            prov["conditioning"] = cond.label
        else:
            prov["conditioning"] = "first frame of the paired real video"
    label_users = [s.name for s in per_video if "label" in s.needs]
    if label_users:
        missing = [n for n in fake_vs.names() if labels is None or n not in labels]
        if missing:
            raise InputError(f"{', '.join(label_users)}: no conditioning label for: " + ", ".join(missing[:5])
                             + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
                             + " (give --labels CSV with columns clip,label)")
    for s in per_video:
        if s.needs_model and s.needs_model != "identity" and s.needs_model not in ctx.models:
            builder = s.provenance.get("model_builder")
            if builder is None:
                raise InputError(f"metric {s.name}: needs a {s.needs_model} model and none can be built")
            model = ctx.models[s.needs_model] = builder(extractor, identity, device, ctx)
            mname = getattr(model, "name", s.needs_model)
            prov["weights"][mname] = getattr(model, "weights_sha256", None)
            contract = getattr(model, "contract", None)
            prov.setdefault("models", {})[s.needs_model] = {
                "name": mname, "contract": contract.as_dict() if hasattr(contract, "as_dict") else None}

    def item_for(name: str, fv: np.ndarray, rv) -> Item:
        if rv is not None:
            real_of = rv
        else:
            real_of = (lambda: real_vs.load(name)) if real_vs is not None and name in real_vs else None
        if cond is not None and name in cond:
            cond_of = lambda: cond.load(name)  # noqa: E731
        elif real_of is not None:
            cond_of = lambda: (real_of if rv is not None else real_vs.load(name))[0]  # noqa: E731
        else:
            cond_of = None
        return Item(name, fv, real_of, cond_of, None if labels is None else labels.get(name))

    accs: dict[tuple[str, str], FeatureAccumulator] = {}

    def scan():
        """This rank's one pass: each generated video (and its real partner) is decoded once and fed
        to every network that needs it and to every per-video metric; then the real videos that
        have no generated partner, for the set metrics."""
        for key, net in feature_nets.items():
            for side, vs in (("real", real_vs), ("fake", fake_vs)):
                if net[side] is None:
                    accs[(key, side)] = FeatureAccumulator(net["ex"], vs.label)
        real_accs = [a for (k, side), a in accs.items() if side == "real"]
        fake_accs = [a for (k, side), a in accs.items() if side == "fake"]
        per = {s.name: {} for s in per_video}
        if fake_vs is not None and (fake_accs or per_video):
            from vbench_i2v.metrics.prefetch import prefetched

            mine = distributed.shard(fake_vs.names())
            wants_real = real_vs is not None and (bool(real_accs) or any(
                "real" in s.needs or ("cond" in s.needs and cond is None) for s in per_video))
            # decoding of the next videos overlaps the scoring of this one (bounded, in order)
            with contextlib.closing(prefetched(
                    lambda n: (fake_vs.load(n), real_vs.load(n) if wants_real and n in real_vs else None), mine)) as it:
                if progress:
                    from tqdm import tqdm

                    it = tqdm(it, total=len(mine), desc=f"scoring {fake_vs.label}", unit="video", disable=None)
                for name, (fv, rv) in it:
                    for a in fake_accs:
                        a.add(name, fv)
                    if rv is not None and real_accs:
                        for a in real_accs:
                            a.add(name, rv)
                    if per_video:
                        item = item_for(name, fv, rv)
                        for s in per_video:
                            per[s.name][name] = s.per_video(item, ctx)
        if real_accs:
            rest = [n for n in real_vs.names() if n not in (fake_vs if fake_vs is not None else ())]
            for name, rv in real_vs.iter(distributed.shard(rest)):
                for a in real_accs:
                    a.add(name, rv)
        feats = {k: a.finish() for k, a in accs.items()}
        return per, dict(ctx.counters), ctx.records, {k: (f[0], f[1], f[3]) for k, f in feats.items()}

    parts = distributed.collect(scan)
    stats = {k: distributed.reduce_stats(a.stats) for k, a in accs.items()}  # every rank: a collective

    def finish() -> dict:
        """The statistics, on rank 0 only, over everything gathered (the same computation as 1 process)."""
        results: dict[str, dict] = {}
        for key, net in feature_nets.items():
            for side, vs in (("real", real_vs), ("fake", fake_vs)):
                if net[side] is None:
                    rows = {n: r for part in parts for n, r in zip(part[3][(key, side)][0], part[3][(key, side)][1])}
                    order = vs.names()
                    try:
                        mu, sigma = stats[(key, side)].compute()
                    except InputError as exc:
                        raise InputError(f"{vs.label}: {exc}") from None
                    conv = sorted({c for part in parts for c in part[3][(key, side)][2]})
                    net[side] = FeatureSet(order, np.stack([rows[n] for n in order]) if order else
                                           np.zeros((0, net["ex"].dim)), mu, sigma,
                                           getattr(net["ex"], "weights_sha256", None), vs.label, conv)
            fr, ff_ = net["real"], net["fake"]
            if fr.weights_sha256 and ff_.weights_sha256 and fr.weights_sha256 != ff_.weights_sha256:
                raise InputError(f"real and fake features come from different {key} weights "
                                 f"({fr.weights_sha256[:12]} vs {ff_.weights_sha256[:12]})")
            ex, want = net["ex"], net["want"]
            ename = ex.name if ex is not None else (want if isinstance(want, str) else want.name)
            espec = getattr(ex, "spec", None) if ex is not None else (
                feature_extractors.EXTRACTORS.get(ename) if isinstance(want, str) else None)
            net["name"] = ename
            prov["weights"][ename] = fr.weights_sha256 or ff_.weights_sha256
            prov["extractors"][ename] = {**(espec.provenance() if espec is not None else {"name": ename}),
                                         "weights_sha256": prov["weights"][ename],
                                         "extra_weights_sha256": getattr(ex, "extra_weights_sha256", {}),
                                         "bf16": bool(bf16)}
            prov["conversions"] += [f"{side}: {c}" for side, fs in (("real", fr), ("fake", ff_))
                                    for c in fs.conversions]
            if espec is None or not espec.comparable_with_published:
                prov["extractor_note"] = (f"features from {ename}: these FID/KID values are not ResNeXt-101 "
                                          "Video FID and are not comparable with published numbers")
        if set_specs:
            prov["extractor"] = feature_nets[_extractor_key(_extractor_for(set_specs[0], extractor))]["name"]
        for s in set_specs:
            net = feature_nets[_extractor_key(_extractor_for(s, extractor))]
            results[s.name] = {**s.set_level(net["real"], net["fake"], ctx), "extractor": net["name"]}
        counters: dict[str, int] = {}
        records: dict[str, dict] = {}
        for _, c, r, _ in parts:
            for k, v in c.items():
                counters[k] = counters.get(k, 0) + v
            for m, per in r.items():
                records.setdefault(m, {}).update(per)
        ctx.counters, ctx.records = counters, records
        for s in per_video:
            merged = {k: v for part in parts for k, v in part[0][s.name].items()}
            values = {n: merged[n] for n in fake_vs.names()}
            summary = s.summarize(values, ctx) if s.summarize else summarize_mean(values, ctx, s.name)
            if s.kind == "paired":
                summary["frames"] = "all" if include_conditioning_frame else "predicted"
                if s.name == "psnr" and counters.get("identical_frames"):
                    summary["identical_frames"] = counters["identical_frames"]
            results[s.name] = summary
        if "frames" in counters:
            prov["face_fallback"] = {"frames_without_face": counters.get("frames_without_face", 0),
                                     "frames": counters["frames"]}
            if counters.get("frames_without_face"):
                ctx.warnings.append(f"no face found in {counters['frames_without_face']} of {counters['frames']} "
                                    "frames: the whole frame was embedded instead")
        return {"metrics": {m: results[m] for m in names}, "provenance": prov}

    return distributed.on_main(finish, share=True)
