"""How every selected metric responds to controlled corruptions of a real video set.

The real videos are split (by video, seeded) into halves A and B. Half B is corrupted with each
corruption of :mod:`vbench_i2v.sanity.corruptions` at each strength, giving B', and every metric
scores B' through :func:`vbench_i2v.metrics.engine.compute_metrics`:

- set metrics (FID, KID, ...) compare B' with A: two samples of the same distribution, so the
  clean baseline (B against A) is the metric's floor at this N, and a corruption should move the
  value away from it;
- paired, conditioned and per-video metrics (SSIM, PSNR, LPIPS, ACD ...) need each fake video's
  own real partner, which A does not have, so they compare B' with B itself (the same videos,
  uncorrupted; conditioned metrics take B's first frames). Their clean baseline is B against B:
  identical videos (SSIM 1, PSNR at its 148.13 dB cap).

A FLAG marks a metric that ranks a temporally broken set (a temporal corruption at its strongest
level) better than a mildly spatially degraded one (a spatial corruption at its mildest level):
the content bias Ge et al. (CVPR 2024, "On the Content Bias in Frechet Video Distance") found in
I3D-based FVD, which barely sees motion.

Each condition is one engine call (set metrics against A, the others against B as their
``partners``) through one feature store (:mod:`vbench_i2v.metrics.store`, in a temporary folder
unless ``cache`` names one): every clip's features are extracted once per network for the whole
report, so A's and clean B's are computed once, and the network of the free set metrics is built once.

Why this module is over 400 lines: the report is one pipeline (split, corrupt, score, flag, render tables and plots) over one data structure; the corruptions live in sanity/corruptions.py.
"""

from __future__ import annotations

import io
import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from vbench_i2v.errors import InputError
from vbench_i2v.sanity.corruptions import CORRUPTIONS, Corruption

BASELINE = "none"
MIN_VIDEOS = 4  # two per half: a covariance needs at least two feature vectors


@dataclass
class SanityReport:
    """``rows``: one per metric x condition (the clean baseline has corruption ``none``, level 0);
    ``flags``: see :func:`find_flags`; ``meta``: how the report was made."""

    rows: list[dict]
    flags: list[dict]
    meta: dict = field(default_factory=dict)

    def value(self, metric: str, corruption: str, level: int) -> float:
        for r in self.rows:
            if r["metric"] == metric and r["corruption"] == corruption and r["level"] == level:
                return r["value"]
        raise KeyError((metric, corruption, level))


# ------------------------------------------------------------------------------ selection

def split_halves(names, seed: int) -> tuple[list[str], list[str]]:
    """Seeded split of video names into A (the larger half when odd) and B (``n // 2`` videos)."""
    from vbench_i2v.protocol import rng_for

    names = sorted(names)
    if len(names) < MIN_VIDEOS:
        raise InputError(f"sanity needs at least {MIN_VIDEOS} real videos (two halves of two), got {len(names)}")
    perm = rng_for(seed, "sanity-halves").permutation(len(names))
    b = sorted(names[i] for i in perm[: len(names) // 2])
    a = sorted(set(names) - set(b))
    return a, b


def _extractor_name(extractor) -> str:
    from vbench_i2v.metrics.engine import DEFAULT_EXTRACTOR

    if extractor is None:
        return DEFAULT_EXTRACTOR
    return extractor if isinstance(extractor, str) else getattr(extractor, "name", type(extractor).__name__)


def default_sanity_metrics(extractor=None) -> list[str]:
    """The set metrics that run on ``extractor`` (every set metric that takes ``--extractor``, plus
    those fixed to exactly that network) and the paired and per-video metrics that need no network
    of their own."""
    from vbench_i2v.metrics.registry import all_metrics

    ename = _extractor_name(extractor)
    out = []
    for name, s in all_metrics().items():
        if s.kind == "set" and (not s.extractor_fixed or s.extractor == ename):
            out.append(name)
        elif s.kind in ("paired", "per-video") and s.needs_model is None:
            out.append(name)
    return out


def conditions(strengths: int, corruptions: dict[str, Corruption] | None = None) -> list[dict]:
    """The clean baseline, then every corruption x strength level (levels 1..N, mild to strong)."""
    table = CORRUPTIONS if corruptions is None else corruptions
    out = [{"corruption": BASELINE, "corruption_kind": "clean", "level": 0, "parameter": "", "strength": 0.0}]
    for c in table.values():
        for i, val in enumerate(c.levels(strengths), start=1):
            out.append({"corruption": c.name, "corruption_kind": c.kind, "level": i, "parameter": c.parameter,
                        "strength": val})
    return out


# ------------------------------------------------------------------------------ the flag

def _overlap(a: dict, b: dict) -> bool | None:
    """Whether the two cells' 95% intervals overlap (None where a row has no interval)."""
    try:
        return bool(a["ci95_lo"] <= b["ci95_hi"] and b["ci95_lo"] <= a["ci95_hi"])
    except KeyError:
        return None


def find_flags(rows: list[dict], higher_is_better: dict[str, bool]) -> list[dict]:
    """Every (metric, temporal corruption, spatial corruption) where the temporal corruption at its
    strongest level scores strictly *better* than the spatial one at its mildest level.

    ``rows`` need ``metric``, ``corruption``, ``corruption_kind`` (``spatial``/``temporal``),
    ``level`` and ``value`` (and, if known, ``ci95_lo``/``ci95_hi``: each flag then says whether
    the two cells' intervals overlap, i.e. whether the ranking could be sampling noise at this N);
    ``higher_is_better`` is the registry's direction per metric. A metric that cannot tell a
    shuffled or frozen clip from a barely blurred one gets flagged here.
    """
    flags = []
    for metric in dict.fromkeys(r["metric"] for r in rows):
        mine = [r for r in rows if r["metric"] == metric]
        hib = bool(higher_is_better[metric])

        def ends(kind: str, pick) -> dict[str, dict]:
            by: dict[str, dict] = {}
            for r in mine:
                if r["corruption_kind"] == kind and (r["corruption"] not in by
                                                     or pick(r["level"], by[r["corruption"]]["level"])):
                    by[r["corruption"]] = r
            return by

        strongest_temporal = ends("temporal", lambda a, b: a > b)
        mildest_spatial = ends("spatial", lambda a, b: a < b)
        def known(r: dict) -> bool:  # a NaN at an end level leaves that pair unjudged
            return r["value"] is not None and math.isfinite(r["value"])

        for t in filter(known, strongest_temporal.values()):
            for s in filter(known, mildest_spatial.values()):
                better = t["value"] > s["value"] if hib else t["value"] < s["value"]
                if better:
                    flags.append({"metric": metric, "better": "higher" if hib else "lower",
                                  "temporal": t["corruption"], "temporal_level": t["level"],
                                  "temporal_strength": t.get("strength"), "temporal_value": t["value"],
                                  "spatial": s["corruption"], "spatial_level": s["level"],
                                  "spatial_strength": s.get("strength"), "spatial_value": s["value"],
                                  "intervals_overlap": _overlap(t, s)})
    return flags


# ------------------------------------------------------------------------------ running

def _identity_for(extractor):
    """The identity embedder the report's identity metrics use: the extractor when the catalog also
    lists it as one (a probe giving both), else the catalog's default (the engine's own rule; said
    here because the report hands the engine a built network rather than its name)."""
    from vbench_i2v.catalog import IDENTITY_EMBEDDERS

    return extractor if isinstance(extractor, str) and extractor in IDENTITY_EMBEDDERS else None


def _load_all(real) -> tuple[dict[str, np.ndarray], str]:
    from vbench_i2v.metrics.sources import VideoSet

    vs = VideoSet.from_source(real, "real")
    return dict(vs.iter()), vs.label


def run_sanity(real, metrics=None, extractor=None, strengths: int = 3, seed: int = 0, device: str = "cpu",
               batch_size: int = 8, bootstrap_reps: int = 1000, set_bootstrap_reps: int = 100,
               corruptions: dict[str, Corruption] | None = None,
               progress: Callable[[str], None] | None = None, cache=None) -> SanityReport:
    """Score every corruption x strength of half B with every metric (see the module docstring).

    ``real``: a folder of videos or ``{name: uint8 T x H x W x 3}``. ``metrics``: names or a comma
    list (default :func:`default_sanity_metrics`; a default metric that cannot run on these halves,
    e.g. FID-inf with under 10 videos in B, is skipped with a note). ``extractor``: a registered
    name, a probe folder or an extractor object (default: each metric's own). All videos are held
    in memory. ``cache``: a feature-store folder kept after the report (default: a temporary one);
    either way each clip's features are extracted once per network for the whole report.
    """
    from vbench_i2v import __version__, feature_extractors
    from vbench_i2v.catalog import DEFAULT_EXTRACTOR
    from vbench_i2v.devices import resolve_device
    from vbench_i2v.metrics.engine import compute_metrics
    from vbench_i2v.metrics.plan import ScorePlan
    from vbench_i2v.metrics.registry import get_metric, parse_metrics
    from vbench_i2v.metrics.store import FeatureStore
    from vbench_i2v.protocol import rng_for

    chosen_default = metrics is None
    names = default_sanity_metrics(extractor) if chosen_default else parse_metrics(metrics)
    videos, label = _load_all(real)
    a_names, b_names = split_halves(videos, seed)
    half_a = {n: videos[n] for n in a_names}
    half_b = {n: videos[n] for n in b_names}
    conds = conditions(strengths, corruptions)
    table = CORRUPTIONS if corruptions is None else corruptions
    dev = str(resolve_device(device))
    say = progress or (lambda msg: None)
    collected: list[str] = []
    notes: list[str] = []

    with tempfile.TemporaryDirectory(prefix="vbench-sanity-") as tmp:
        store = FeatureStore(cache if cache is not None else Path(tmp) / "features")
        plan = ScorePlan(extractor=extractor, identity=_identity_for(extractor), partners=half_b, seed=seed,
                         device=dev, batch_size=batch_size, bootstrap_reps=bootstrap_reps,
                         set_bootstrap_reps=set_bootstrap_reps)
        if any(s.reduction == "features" and not s.extractor_fixed for s in map(get_metric, names)):
            # the network the free set metrics share, built once for the whole report
            plan = plan.with_(extractor=feature_extractors.build_video_extractor(
                extractor if extractor is not None else DEFAULT_EXTRACTOR, device=dev, batch_size=batch_size))

        def score(metric_names: list[str], fake: dict) -> dict:
            """One engine call: set metrics compare ``fake`` with A, the others with B (``partners``)."""
            with warnings.catch_warnings():  # the engine records each warning in provenance
                warnings.simplefilter("ignore", UserWarning)
                res = compute_metrics(half_a, fake, plan.with_(metrics=metric_names), store=store)
            for w in res.provenance.get("warnings", []):
                if w not in collected:
                    collected.append(w)
            return res.metrics

        if chosen_default:  # keep the default metrics that can run on halves of this size
            runnable = []
            for m in names:
                try:
                    score([m], half_b)
                    runnable.append(m)
                except InputError as exc:
                    notes.append(f"{m} skipped: {exc}")
            if not runnable:
                raise InputError("none of the default metrics can run here: " + "; ".join(notes))
            names = runnable

        rows: list[dict] = []
        baseline: dict[str, float] = {}
        for cond in conds:
            tag = (f"{cond['corruption']} level {cond['level']} ({cond['parameter']} {cond['strength']:.4g})"
                   if cond["level"] else "clean baseline")
            say(f"scoring {tag}")
            if cond["corruption"] == BASELINE:
                fake = half_b
            else:
                c = table[cond["corruption"]]
                fake = {n: c.apply(v, cond["strength"], rng_for(seed, "sanity", c.name, str(cond["level"]), n))
                        for n, v in half_b.items()}
            result = score(names, fake)
            for m in names:
                r = result[m]
                spec = get_metric(m)
                value = float(r["value"])
                if cond["corruption"] == BASELINE:
                    baseline[m] = value
                rows.append({"metric": m, **cond, "value": value,
                             "ci95_lo": float(r["ci95"][0]), "ci95_hi": float(r["ci95"][1]), "n": int(r["n"]),
                             "delta_vs_clean": value - baseline[m],
                             "compared_with": "A (other half)" if spec.kind == "set" else "B (same videos, clean)"})

    hib = {m: get_metric(m).higher_is_better for m in names}
    from vbench_i2v.sanity.expectations import check_expectations

    expectations = check_expectations(rows, {m: get_metric(m).sanity for m in names if get_metric(m).sanity})
    meta = {"vbench_i2v": __version__, "real": label, "videos": len(videos), "half_a": a_names, "half_b": b_names,
            "seed": seed, "strengths": strengths, "metrics": names, "higher_is_better": hib,
            "extractor": _extractor_name(extractor), "device": dev, "bootstrap_reps": bootstrap_reps,
            "set_bootstrap_reps": set_bootstrap_reps,
            "corruptions": {c.name: {"kind": c.kind, "parameter": c.parameter, "levels": c.levels(strengths),
                                     "description": c.description} for c in table.values()},
            "warnings": collected, "notes": notes, "expectations": expectations,
            "features_extracted": store.written}
    return SanityReport(rows, find_flags(rows, hib), meta)


# ------------------------------------------------------------------------------ outputs

CSV_COLUMNS = ("metric", "corruption", "corruption_kind", "level", "parameter", "strength", "value",
               "ci95_lo", "ci95_hi", "n", "delta_vs_clean", "compared_with")


def _fmt(x: float, decimals: int) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{decimals}f}"


def _decimals(metric: str) -> int:
    from vbench_i2v.metrics.registry import decimals

    d = decimals(metric)
    return 4 if d is None else d


def markdown(report: SanityReport) -> str:
    """Conditions down, metrics across (registry decimals), then the flags."""
    meta = report.meta
    metrics = list(dict.fromkeys(r["metric"] for r in report.rows))
    hib = meta.get("higher_is_better", {})
    head = ["corruption", "kind", "level", "strength"] + [
        f"{m} ({'higher' if hib.get(m, False) else 'lower'} better)" for m in metrics]
    lines = [f"# Metric sanity check: {meta.get('real', '')}", "",
             f"{meta.get('videos', '?')} real videos split by video (seed {meta.get('seed', '?')}) into "
             f"A ({len(meta.get('half_a', []))}) and B ({len(meta.get('half_b', []))}); extractor "
             f"{meta.get('extractor', '?')}. Set metrics: B' against A. Paired metrics: B' against B "
             "(the same videos, clean).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keyed = {(r["metric"], r["corruption"], r["level"]): r for r in report.rows}
    seen = []
    for r in report.rows:
        k = (r["corruption"], r["level"])
        if k not in seen:
            seen.append(k)
    for corr, level in seen:
        first = next(r for r in report.rows if r["corruption"] == corr and r["level"] == level)
        strength = "" if not level else f"{first['parameter']} {first['strength']:.4g}"
        cells = [corr, first["corruption_kind"], str(level), strength]
        for m in metrics:
            row = keyed.get((m, corr, level))
            cells.append("" if row is None else _fmt(row["value"], _decimals(m)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Flags", ""]
    if report.flags:
        lines.append("A metric ranks a temporally broken set (strongest level) better than a mildly spatially "
                     "degraded one (mildest level):")
        lines.append("")
        for f in report.flags:
            d = _decimals(f["metric"])
            lines.append(f"- FLAG {f['metric']} ({f['better']} is better): {f['temporal']} level {f['temporal_level']} "
                         f"= {_fmt(f['temporal_value'], d)} beats {f['spatial']} level {f['spatial_level']} "
                         f"= {_fmt(f['spatial_value'], d)}"
                         + (" (the two 95% intervals overlap)" if f.get("intervals_overlap") else ""))
    else:
        lines.append("None: every metric ranks each strongest temporal corruption worse than each mildest "
                     "spatial one.")
    from vbench_i2v.sanity.expectations import markdown_lines

    lines += markdown_lines(meta.get("expectations", []))
    for title, key in (("Notes", "notes"), ("Warnings", "warnings")):
        if meta.get(key):
            lines += ["", f"## {title}", ""] + [f"- {w}" for w in meta[key]]
    return "\n".join(lines) + "\n"


def metric_figure(report: SanityReport, metric: str):
    """A matplotlib Figure (Agg canvas, no pyplot state): value against strength level (0 = clean),
    one line per corruption; spatial solid, temporal dashed; the clean baseline dotted."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in report.rows if r["metric"] == metric]
    base = next((r["value"] for r in rows if r["corruption"] == BASELINE), None)
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for corr in dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != BASELINE):
        pts = sorted((r["level"], r["value"], r["corruption_kind"], r["parameter"], r["strength"])
                     for r in rows if r["corruption"] == corr)
        kind = pts[0][2]
        xs = ([0] if base is not None else []) + [p[0] for p in pts]
        ys = ([base] if base is not None else []) + [p[1] for p in pts]
        rng = f"{pts[0][3]} {pts[0][4]:.3g}" + (f"..{pts[-1][4]:.3g}" if len(pts) > 1 else "")
        ax.plot(xs, ys, linestyle="-" if kind == "spatial" else "--", marker="o", label=f"{corr} ({rng})")
    if base is not None:
        ax.axhline(base, color="grey", linestyle=":", linewidth=1, label="clean baseline")
    hib = report.meta.get("higher_is_better", {}).get(metric)
    better = "" if hib is None else (" (higher is better)" if hib else " (lower is better)")
    ax.set_title(f"{metric}{better}: spatial solid, temporal dashed")
    ax.set_xlabel("strength level (0 = clean)")
    ax.set_ylabel(metric)
    ax.set_xticks(sorted({r["level"] for r in rows}))
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_metric(report: SanityReport, metric: str) -> bytes:
    """:func:`metric_figure` as PNG bytes."""
    fig = metric_figure(report, metric)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_report(report: SanityReport, out_dir) -> list[Path]:
    """``sanity.md``, ``sanity.csv``, ``sanity.json`` and ``plots/<metric>.png`` under ``out_dir``,
    each written atomically."""
    from vbench_i2v.files import atomic_write_bytes, atomic_write_csv, atomic_write_json, atomic_write_text

    out = Path(out_dir)
    written = [atomic_write_text(out / "sanity.md", markdown(report)),
               atomic_write_csv(out / "sanity.csv", CSV_COLUMNS,
                                [{k: r[k] for k in CSV_COLUMNS} for r in report.rows]),
               atomic_write_json(out / "sanity.json", {"meta": report.meta, "rows": report.rows,
                                                       "flags": report.flags})]
    for m in dict.fromkeys(r["metric"] for r in report.rows):
        written.append(atomic_write_bytes(out / "plots" / f"{m}.png", plot_metric(report, m)))
    return written
