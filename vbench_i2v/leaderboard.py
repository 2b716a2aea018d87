"""Leaderboards from results.json files: one table per protocol fingerprint, the paper's numbers apart.

Why the shape: a results file carries two identities (:mod:`vbench_i2v.results`). The protocol
fingerprint says which clips were scored, so each fingerprint gets its own table; each metric's
measurement id says how its number was measured (network, contract, weights, precision, paired
frames, bootstrap), so inside a column a cell is compared only with the cells that share its
measurement id: a best is picked among those alone, and a column holding several measurements marks
each group with its own sign and a footnote naming the measurement. The paper's reported numbers
(``leaderboards/paper.csv``) were measured with other tools (OpenFace, their own splits), so they
live in their own section, marked "reported", and never take part in a best.

Data flow: results dicts -> a long pandas frame (one row per run x metric) -> :class:`Board` objects
(one per fingerprint, or per paper table) -> a renderer (markdown, csv, html, latex, json) or a plot.

Why this module is over 400 lines: one data flow from results files to boards to five renderers and a plot, all over the Board type; the renderers are small and share the cell grid.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from vbench_i2v.lazy import LazyModule

pd = LazyModule("pandas")  # imported on first use: `vbench leaderboard --help` stays fast

from vbench_i2v.errors import InputError
from vbench_i2v.files import atomic_write_bytes, atomic_write_text
from vbench_i2v.metrics import registry
from vbench_i2v.results import describe_measurement

FORMATS = ("markdown", "csv", "html", "latex", "json")
LEADERBOARD_FORMAT_VERSION = 1

# +1: higher is better, -1: lower is better. Metrics not listed are shown but never bolded.
# Direction, decimals and column order come from the metric registry (vbench_i2v.metrics.registry).
DEFAULT_LABEL = "full (default config)"

PAPER_CSV = Path(__file__).resolve().parents[1] / "leaderboards" / "paper.csv"
if not PAPER_CSV.is_file():  # an installed wheel: leaderboards/ ships as the data package vbench_i2v.leaderboards
    PAPER_CSV = Path(__file__).resolve().parent / "leaderboards" / "paper.csv"
PAPER_MD = PAPER_CSV.with_name("paper.md")
PAPER_COLUMNS = ("generator", "dataset", "metric", "value", "table", "page", "note")
PAPER_TITLES = {
    1: "VGAN, MoCoGAN and ImaGINator: image quality (SSIM/PSNR) and video quality (FID)",
    2: "Transposed 3D vs transposed (1+2)D convolution on Weizmann: FID and training time per epoch",
    3: "Content consistency on MUG (ACD-C, ACD-I)",
    4: "Subjective analysis: mean rater preference (%), first / second method of each pair",
    5: "Effectiveness of the architecture (ablation of G and D): FID",
    6: "Contribution of the main components of G (ablation): FID",
}


@dataclass
class Board:
    """One table: its rows (long form, one line per row x column) and what to print around it."""

    key: str  # fingerprint, or "paper-table-N"
    title: str
    description: str
    layout: str  # "generators", "ablation" or "reported"
    long: pd.DataFrame  # columns: row, dataset, metric, value, text, ci_low, ci_high, n, best, mark
    rows: list[str]
    columns: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    protocol: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- measured runs

def _fmt(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    decimals = registry.decimals(metric)
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.4g}"


def _metric_key(name: str) -> tuple:
    order = registry.display_order()
    return (order.index(name), name) if name in order else (len(order), name)


def _portable(source) -> str:
    """A results file's path relative to the working folder when it lies inside it, so a board built
    in one checkout is byte-identical to the same board built in another."""
    path = Path(str(source))
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(source)


def measured_frame(runs: list[tuple[str, dict]]) -> pd.DataFrame:
    """Long frame, one line per (run, metric), from ``(source, results)`` pairs already validated."""
    lines = []
    for source, res in runs:
        gen, data, proto = res["generator"], res["dataset"], res["protocol"]
        for metric, m in res["metrics"].items():
            ci = m.get("ci95")
            prov = m.get("provenance") or {}
            lines.append({
                "fingerprint": proto["fingerprint"], "run_id": res["run_id"], "source": _portable(source),
                "generator": gen["name"], "variant": gen.get("variant"),
                "checkpoint_sha256": gen.get("checkpoint_sha256"),
                "dataset": data["name"], "split": data["split"], "metric": metric,
                "value": m["value"], "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                "n": m["n"], "measurement": m["measurement"], "measured_as": describe_measurement(m),
                "interval": m.get("interval"),
                "extractor": prov.get("extractor"), "weights_sha256": prov.get("weights_sha256"),
            })
    return pd.DataFrame(lines, columns=[
        "fingerprint", "run_id", "source", "generator", "variant", "checkpoint_sha256", "dataset",
        "split", "metric", "value", "ci_low", "ci_high", "n", "measurement", "measured_as", "interval",
        "extractor", "weights_sha256"])


def _describe(res: dict) -> str:
    """The clips a table scored (what its fingerprint covers); how each column was measured is in
    the notes (:func:`_measurement_notes`)."""
    p, d = res["protocol"], res["dataset"]
    max_videos = "all" if p["max_videos"] is None else p["max_videos"]
    return (f"dataset {d['name']}, split {d['split']}, {d['clip_count']} clips; "
            f"{p['frames']} frames at {p['size']}x{p['size']}, frame step {p['frame_step']}, "
            f"{p['conditioning_per_video']} conditioning frames per video, max videos {max_videos}, "
            f"seed {p['seed']}; fingerprint {p['fingerprint']}")


def _opt(value):
    """None for missing values (pandas turns None into NaN in mixed columns)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _is_ablation(runs: pd.DataFrame) -> bool:
    """All runs of one backend, differing in their variant (like the paper's Tables 5 and 6)."""
    per_run = runs.drop_duplicates("run_id")
    return (per_run["generator"].nunique() == 1 and len(per_run) > 1
            and per_run["variant"].fillna("\0default").nunique() > 1)


def _row_labels(per_run: pd.DataFrame, ablation: bool) -> dict[str, str]:
    """run_id -> row label; repeated labels get their run id so that rows never merge."""
    def label(r):
        variant = _opt(r["variant"])
        if ablation:
            return variant or DEFAULT_LABEL
        return f"{r['generator']} ({variant})" if variant else r["generator"]
    labels = {r["run_id"]: label(r) for _, r in per_run.iterrows()}
    counts = pd.Series(list(labels.values())).value_counts()
    return {rid: (f"{lab} [{rid}]" if counts[lab] > 1 else lab) for rid, lab in labels.items()}


def _order_runs(per_run: pd.DataFrame, ablation: bool) -> pd.DataFrame:
    if ablation:  # variants alphabetically, the full model last (as in the paper)
        key = per_run["variant"].map(lambda v: (1, "") if _opt(v) is None else (0, v))
    else:
        key = per_run.apply(lambda r: (r["generator"], _opt(r["variant"]) or ""), axis=1)
    return per_run.assign(_k=key).sort_values(["_k", "run_id"]).drop(columns="_k")


def _mark_best(long: pd.DataFrame) -> pd.Series:
    """True where a cell holds the best value among the cells of its column measured the same way
    (same measurement id; ties all bold); never for unknown metrics or a lone cell."""
    best = pd.Series(False, index=long.index)
    for (_, metric, _), col in long.groupby(["dataset", "metric", "measurement"]):
        direction = registry.direction(metric)
        values = pd.to_numeric(col["value"], errors="coerce").dropna()
        if direction is None or values.empty or len(col) < 2:
            continue
        target = values.max() if direction > 0 else values.min()
        best.loc[values.index[values == target]] = True
    return best


def _interval_words(long: pd.DataFrame) -> str:
    """How the board's intervals were made: a bootstrap over videos, except for the metrics whose
    results name another interval (e.g. label-acc's "Wilson score 95%": "Wilson for label-acc")."""
    other: dict[str, list[str]] = {}
    for metric, interval in zip(long["metric"], long["interval"]):
        if isinstance(interval, str) and interval.strip():
            names = other.setdefault(interval.split()[0], [])
            if metric not in names:
                names.append(metric)
    parts = ["bootstrap over videos"]
    for kind, names in other.items():
        names = sorted(names, key=_metric_key)
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"{kind} for {listed}")
    return ", ".join(parts)


def _n_note(long: pd.DataFrame) -> str:
    ns = long.dropna(subset=["value"])
    if ns.empty:
        return "N: no values."
    if ns["n"].nunique() == 1:
        return f"N = {int(ns['n'].iloc[0])} clips in every cell."
    parts = []
    for (dataset, metric), col in ns.groupby(["dataset", "metric"], sort=False):
        if col["n"].nunique() == 1:
            parts.append(f"{dataset}/{metric} {int(col['n'].iloc[0])}")
        else:
            per_row = ", ".join(f"{r} {int(n)}" for r, n in zip(col["row"], col["n"]))
            parts.append(f"{dataset}/{metric} {per_row}")
    return "N (clips) per column: " + "; ".join(parts) + "."


MARKS = ("†", "‡", "§", "¶")


def _mark(i: int) -> str:
    return MARKS[i] if i < len(MARKS) else f"{MARKS[i % len(MARKS)]}{i // len(MARKS) + 1}"


def _measurement_notes(long: pd.DataFrame) -> tuple[list[str], pd.Series]:
    """How the board's numbers were measured: one note per measurement id, naming its metrics; a
    column holding several measurements marks each group of cells with its own sign, and its best
    is picked inside each group only (see :func:`_mark_best`)."""
    notes, mark = [], pd.Series("", index=long.index)
    used: dict[str, tuple[str, list[str]]] = {}
    for (dataset, metric), col in long.groupby(["dataset", "metric"], sort=False):
        for mid, text in dict(zip(col["measurement"], col["measured_as"])).items():
            used.setdefault(mid, (text, []))[1].append(metric)
    notes += [f"Measurement {mid}: {text} ({', '.join(dict.fromkeys(metrics))})."
              for mid, (text, metrics) in used.items()]
    signs = 0
    for (dataset, metric), col in long.groupby(["dataset", "metric"], sort=False):
        groups = list(dict.fromkeys(col["measurement"]))
        if len(groups) < 2:
            continue
        for mid in groups:
            sign = _mark(signs)
            signs += 1
            mark.loc[col.index[col["measurement"] == mid]] = f" {sign}"
            notes.append(f"{sign} {dataset}/{metric} measured as {mid} ({used[mid][0]}): compared only with "
                         f"the cells marked {sign}.")
    return notes, mark


def _ceiling_notes(results: list[dict]) -> list[str]:
    """What a metric reached on the real test clips (e.g. label-acc's probe on real clips): the
    ceiling a generator's number should be read against; one line per metric and table."""
    notes = []
    for metric in registry.display_order():
        ceilings = {json.dumps(r["metrics"][metric]["real_ceiling"], sort_keys=True)
                    for r in results if "real_ceiling" in r["metrics"].get(metric, {})}
        for text in sorted(ceilings):
            c = json.loads(text)
            lo, hi = c.get("ci95") or (None, None)
            interval = f" [{_fmt(metric, lo)}, {_fmt(metric, hi)}]" if lo is not None else ""
            notes.append(f"{metric} on the real test clips (ceiling): {_fmt(metric, c['value'])}{interval}, "
                         f"N = {c['n']}.")
    return notes


def measured_boards(runs: list[tuple[str, dict]]) -> list[Board]:
    """One board per fingerprint, in order of first appearance of each fingerprint."""
    frame = measured_frame(runs)
    by_fp = {res["protocol"]["fingerprint"]: res for _, res in runs}
    boards = []
    for fp in dict.fromkeys(frame["fingerprint"]):
        long = frame[frame["fingerprint"] == fp].copy()
        ablation = _is_ablation(long)
        per_run = _order_runs(long.drop_duplicates("run_id"), ablation)
        labels = _row_labels(per_run, ablation)
        long["row"] = long["run_id"].map(labels)
        long["text"] = [_fmt(m, v) + (f" [{_fmt(m, lo)}, {_fmt(m, hi)}]" if lo is not None and lo == lo else "")
                        for m, v, lo, hi in zip(long["metric"], long["value"], long["ci_low"], long["ci_high"])]
        long["best"] = _mark_best(long)  # inside each measurement of a column
        ex_notes, long["mark"] = _measurement_notes(long)
        columns = sorted({(d, m) for d, m in zip(long["dataset"], long["metric"])},
                         key=lambda c: (c[0], _metric_key(c[1])))
        res = by_fp[fp]
        name = res["dataset"]["name"]
        title = (f"Ablation of {long['generator'].iloc[0]} on {name} (protocol {fp})" if ablation
                 else f"{name} (protocol {fp})")
        notes = [f"Cells: value [95% interval: {_interval_words(long)}]; "
                 "bold = best in its column among the cells of the same measurement."]
        notes += [_n_note(long)] + ex_notes + _ceiling_notes([r for _, r in runs
                                                              if r["protocol"]["fingerprint"] == fp])
        boards.append(Board(key=fp, title=title, description=_describe(res),
                            layout="ablation" if ablation else "generators", long=long,
                            rows=[labels[r] for r in per_run["run_id"]], columns=columns,
                            notes=notes, protocol={**res["protocol"], "dataset": name,
                                                   "split": res["dataset"]["split"]}))
    return boards


# ----------------------------------------------------------------------------- reported numbers

def load_paper_csv(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The paper's reported numbers, values kept as the paper prints them (text) and as floats."""
    path = Path(path) if path is not None else PAPER_CSV
    if not path.is_file():
        raise InputError(f"{path}: reported-numbers file not found")
    from vbench_i2v.tables import read_table

    frame = read_table(path, "reported-numbers file")
    if tuple(frame.columns) != PAPER_COLUMNS:
        raise InputError(f"{path}: columns must be {', '.join(PAPER_COLUMNS)}; got {', '.join(frame.columns)}")
    try:
        frame["number"] = frame["value"].astype(float)
        frame["table"] = frame["table"].astype(int)
    except ValueError as exc:
        raise InputError(f"{path}: bad value or table number ({exc})") from None
    return frame


def reported_boards(paper: pd.DataFrame) -> list[Board]:
    """One board per paper table, rows and columns in the order of the CSV (the paper's order)."""
    boards = []
    for table, rows in paper.groupby("table", sort=True):
        rows = rows.copy()
        rows["row"] = rows["generator"] + " (reported)"
        notes, mark = [], []
        for note in rows["note"]:
            if note:
                if note not in notes:
                    notes.append(note)
                mark.append(f" [note {notes.index(note) + 1}]")
            else:
                mark.append("")
        long = pd.DataFrame({
            "row": rows["row"], "dataset": rows["dataset"], "metric": rows["metric"],
            "value": rows["number"], "text": rows["value"], "ci_low": None, "ci_high": None, "n": None,
            "best": False, "mark": mark, "generator": rows["generator"], "page": rows["page"],
        })
        pages = sorted(set(rows["page"]))
        page = "page " + ", ".join(pages)
        boards.append(Board(
            key=f"paper-table-{table}",
            title=f"Table {table} ({page}): {PAPER_TITLES.get(table, '')}".rstrip(": "),
            description=f"Reported in the ImaGINator paper (WACV 2020), Table {table}, {page}; "
                        "copied, not measured here.",
            layout="reported", long=long, rows=list(dict.fromkeys(long["row"])),
            columns=list(dict.fromkeys(zip(long["dataset"], long["metric"]))),
            notes=[f"[note {i + 1}] {n}" for i, n in enumerate(notes)]))
    return boards


# ----------------------------------------------------------------------------- rendering

def _cell_grid(board: Board, cell) -> list[list[str]]:
    """Rows x columns of rendered cells; ``cell(text, best, mark)`` applies a format's markup."""
    lookup = {(r, d, m): (t, b, k) for r, d, m, t, b, k in zip(
        board.long["row"], board.long["dataset"], board.long["metric"], board.long["text"],
        board.long["best"], board.long["mark"])}
    grid = []
    for row in board.rows:
        line = []
        for d, m in board.columns:
            hit = lookup.get((row, d, m))
            line.append("" if hit is None else cell(*hit))
        grid.append(line)
    return grid


def _flat_headers(board: Board) -> list[str]:
    if len({d for d, _ in board.columns}) == 1:
        return [m for _, m in board.columns]
    return [f"{d}: {m}" for d, m in board.columns]


def _row_header(board: Board) -> str:
    return {"ablation": "variant", "reported": "method"}.get(board.layout, "generator")


def tabulate(*args, **kwargs) -> str:
    from tabulate import tabulate as _tabulate

    return _tabulate(*args, **kwargs)


def _md_table(board: Board) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    grid = _cell_grid(board, lambda t, b, k: esc(f"**{t}**" if b else t) + k)
    return tabulate([[esc(r)] + line for r, line in zip(board.rows, grid)],
                    headers=[_row_header(board)] + [esc(h) for h in _flat_headers(board)],
                    tablefmt="github", disable_numparse=True)


def render_row(results: dict) -> tuple[list[str], str]:
    """One run as a leaderboard row: ``(context lines, markdown table)``; what ``vbench run`` prints
    (what the row measured first, so the output ends with the row itself)."""
    board = measured_boards([(results["run_id"], results)])[0]
    return [board.title, board.description, *board.notes], _md_table(board)


def _md_board(board: Board, level: str) -> str:
    table = _md_table(board)
    notes = "".join(f"\n- {n}" for n in board.notes)
    return f"{level} {board.title}\n\n{board.description}\n\n{table}\n{notes}\n".replace("\n\n\n", "\n\n")


REPORTED_INTRO = ("These numbers are copied from the paper, marked \"reported\", and never compared with "
                  "measured rows: the paper used other tools (OpenFace, its own splits), so they do not "
                  "share a protocol fingerprint with any run.")


def render_markdown(measured: list[Board], reported: list[Board]) -> str:
    parts = ["# vbench leaderboard\n"]
    if measured:
        parts.append("## Measured\n\nOne table per protocol fingerprint; rows from different "
                     "fingerprints are never compared.\n")
        parts += [_md_board(b, "###") for b in measured]
    if reported:
        parts.append(f"## Reported in the paper\n\n{REPORTED_INTRO}\n")
        parts += [_md_board(b, "###") for b in reported]
    return "\n".join(parts)


def render_csv(measured: list[Board], reported: list[Board]) -> str:
    """One tidy CSV: a line per cell, with its section ("measured"/"reported") and board."""
    frames = []
    for section, boards in (("measured", measured), ("reported", reported)):
        for b in boards:
            f = b.long.copy()
            f.insert(0, "section", section)
            f.insert(1, "board", b.key)
            f.insert(2, "layout", b.layout)
            frames.append(f)
    columns = ["section", "board", "layout", "row", "generator", "variant", "run_id", "dataset",
               "metric", "value", "ci_low", "ci_high", "n", "best", "text", "measurement", "extractor",
               "weights_sha256", "checkpoint_sha256", "page", "source"]
    if not frames:
        return ",".join(columns) + "\n"
    out = pd.concat(frames, ignore_index=True).reindex(columns=columns)
    return out.to_csv(index=False, lineterminator="\n")


def _html_board(board: Board) -> str:
    grid = _cell_grid(board, lambda t, b, k: (f"<b>{html.escape(t)}</b>" if b else html.escape(t))
                      + html.escape(k))
    cols = pd.MultiIndex.from_tuples([("", _row_header(board))] + list(board.columns))
    frame = pd.DataFrame([[html.escape(r)] + line for r, line in zip(board.rows, grid)], columns=cols)
    table = frame.to_html(index=False, escape=False, border=1,
                          classes=["vbench-board", f"layout-{board.layout}"])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in board.notes)
    return (f"<section id=\"{html.escape(board.key)}\">\n<h3>{html.escape(board.title)}</h3>\n"
            f"<p>{html.escape(board.description)}</p>\n{table}\n<ul>{notes}</ul>\n</section>\n")


def render_html(measured: list[Board], reported: list[Board]) -> str:
    body = ["<h1>vbench leaderboard</h1>"]
    if measured:
        body.append("<h2>Measured</h2>")
        body += [_html_board(b) for b in measured]
    if reported:
        body.append(f"<h2>Reported in the paper</h2>\n<p>{html.escape(REPORTED_INTRO)}</p>")
        body += [_html_board(b) for b in reported]
    style = ("body{font-family:sans-serif} table{border-collapse:collapse} "
             "td,th{padding:2px 8px;text-align:right} .layout-reported{color:#555}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vbench leaderboard</title>"
            f"<style>{style}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "†": r"$^\dagger$", "‡": r"$^\ddagger$", "§": r"\S{}", "¶": r"\P{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_board(board: Board) -> str:
    grid = _cell_grid(board, lambda t, b, k: (rf"\textbf{{{latex_escape(t)}}}" if b else latex_escape(t))
                      + latex_escape(k))
    cols = pd.MultiIndex.from_tuples([("", _row_header(board))]
                                     + [(latex_escape(d), latex_escape(m)) for d, m in board.columns])
    frame = pd.DataFrame([[latex_escape(r)] + line for r, line in zip(board.rows, grid)], columns=cols)
    tabular = frame.to_latex(index=False, escape=False, multicolumn=True, multicolumn_format="c",
                             column_format="l" + "r" * len(board.columns))
    caption = ". ".join(part.rstrip(".") for part in [board.title, board.description, *board.notes]) + "."
    return ("\\begin{table}[ht]\n\\centering\n"
            f"\\caption{{{latex_escape(caption)}}}\n"
            f"{tabular}\\end{{table}}\n")


def render_latex(measured: list[Board], reported: list[Board]) -> str:
    head = "% vbench leaderboard; needs \\usepackage{booktabs}\n"
    parts = [head] + [_latex_board(b) for b in measured]
    if reported:
        parts.append(f"% Reported in the paper. {REPORTED_INTRO}\n")
        parts += [_latex_board(b) for b in reported]
    return "\n".join(parts)


def _json_board(board: Board) -> dict:
    rows = []
    for label in board.rows:
        cells = board.long[board.long["row"] == label]
        first = cells.iloc[0]
        rows.append({
            "label": label,
            **{k: _plain(first.get(k)) for k in ("generator", "variant", "run_id", "source")
               if k in cells.columns},
            "cells": {f"{d}/{m}": {"value": _plain(v), "ci95": None if lo is None or lo != lo else [lo, hi],
                                   "n": _plain(n), "best": bool(b), "text": t,
                                   **({"measurement": mid} if board.layout != "reported" else {})}
                      for d, m, v, lo, hi, n, b, t, mid in zip(
                          cells["dataset"], cells["metric"], cells["value"], cells["ci_low"], cells["ci_high"],
                          cells["n"], cells["best"], cells["text"],
                          cells["measurement"] if "measurement" in cells.columns else [None] * len(cells))},
        })
    return {"key": board.key, "title": board.title, "description": board.description,
            "layout": board.layout, "protocol": board.protocol,
            "columns": [list(c) for c in board.columns], "rows": rows, "notes": board.notes}


def _plain(value):
    """numpy scalars and NaN -> plain JSON values."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, list, dict)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def render_json(measured: list[Board], reported: list[Board]) -> str:
    return json.dumps({"leaderboard_format_version": LEADERBOARD_FORMAT_VERSION,
                       "measured": [_json_board(b) for b in measured],
                       "reported": [_json_board(b) for b in reported]}, indent=2) + "\n"


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "html": render_html,
             "latex": render_latex, "json": render_json}


def render(measured: list[Board], reported: list[Board], fmt: str = "markdown") -> str:
    if fmt not in RENDERERS:
        raise InputError(f"unknown leaderboard format {fmt!r}; choose from {', '.join(FORMATS)}")
    return RENDERERS[fmt](measured, reported)


# ----------------------------------------------------------------------------- plot

def plot_figure(boards: list[Board]):
    """A matplotlib Figure (Agg canvas, no pyplot state): one bar panel per (board, metric column)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [(b, c) for b in boards for c in b.columns]
    if not panels:
        raise InputError("nothing to plot: no measured results")
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.5 * ncols, 3.6 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, (board, (dataset, metric)) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        col = board.long[(board.long["dataset"] == dataset) & (board.long["metric"] == metric)]
        col = col.set_index("row").reindex([r for r in board.rows if r in set(col["row"])])
        values = pd.to_numeric(col["value"], errors="coerce").to_numpy(dtype=float)
        lo = pd.to_numeric(col["ci_low"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(col["ci_high"], errors="coerce").to_numpy(dtype=float)
        err = [[max(v - l, 0) if l == l else 0 for v, l in zip(values, lo)],
               [max(h - v, 0) if h == h else 0 for v, h in zip(values, hi)]]
        colors = ["tab:orange" if b else "tab:blue" for b in col["best"]]
        ax.bar(range(len(values)), values, yerr=err, capsize=4, color=colors)
        ax.set_xticks(range(len(values)), list(col.index), rotation=30, ha="right", fontsize=7)
        arrow = {1: " (higher is better)", -1: " (lower is better)"}.get(registry.direction(metric), "")
        ax.set_title(f"{dataset} {metric}{arrow}\nprotocol {board.key}", fontsize=8)
    return fig


def plot_boards(boards: list[Board], path: str | os.PathLike) -> Path:
    """Bar chart per (board, metric) with 95% interval error bars; written atomically as PNG."""
    fig = plot_figure(boards)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path = atomic_write_bytes(path, buffer.getvalue())
    return path


# ----------------------------------------------------------------------------- paper.md

def render_paper_markdown(csv_path: str | os.PathLike | None = None) -> str:
    """The committed ``leaderboards/paper.md``: every reported number with its table and page."""
    boards = reported_boards(load_paper_csv(csv_path))
    head = ("# ImaGINator (WACV 2020): numbers reported in the paper\n\n"
            "Generated from `leaderboards/paper.csv` by `vbench_i2v.leaderboard.render_paper_markdown` "
            "(regenerate with `python -m vbench_i2v.leaderboard`); do not edit by hand. "
            "Page numbers are not available in our copy of the paper text (\"page n/a\").\n\n"
            f"{REPORTED_INTRO}\n")
    return "\n".join([head] + [_md_board(b, "##") for b in boards])


def write_paper_markdown(path: str | os.PathLike | None = None,
                         csv_path: str | os.PathLike | None = None) -> Path:
    path = Path(path) if path is not None else PAPER_MD
    atomic_write_text(path, render_paper_markdown(csv_path))
    return path


if __name__ == "__main__":
    print(write_paper_markdown())
