"""Leaderboards built from results files the tests write: tables per fingerprint, reported rows apart,
bold bests among same-measurement cells, ablation layout, and every output format parsed back by an
independent parser."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from test_results import make_results, make_results_v2, set_provenance
from vbench_i2v.cli import _Main
from vbench_i2v.cli.leaderboard import leaderboard
from vbench_i2v.leaderboard import (PAPER_CSV, PAPER_MD, load_paper_csv, measured_boards, plot_boards,
                                    plot_figure, render, render_paper_markdown, reported_boards)
from vbench_i2v.results import collect_results, write_results

# Two generators on protocol seed 0, one on seed 1 (a different fingerprint).
RUNS = {
    "r-imag": dict(generator="imaginator", seed=0,
                   metrics={"ssim": (0.81, 0.79, 0.83), "psnr": (22.5, 22.0, 23.1), "fid": (30.0, 27.0, 33.5)}),
    "r-vgan": dict(generator="vgan", seed=0,
                   metrics={"ssim": (0.42, 0.40, 0.45), "psnr": (16.0, 15.5, 16.4), "fid": (70.0, 65.0, 76.0)}),
    "r-moco": dict(generator="mocogan", seed=1,
                   metrics={"ssim": (0.60, 0.58, 0.62), "psnr": (18.0, 17.5, 18.6), "fid": (45.0, 41.0, 50.0)}),
}


@pytest.fixture
def runs_dir(tmp_path):
    for run_id, kw in RUNS.items():
        write_results(tmp_path / "runs" / run_id, make_results_v2(run_id=run_id, **kw))
    return tmp_path / "runs"


@pytest.fixture
def boards(runs_dir):
    return measured_boards(collect_results([runs_dir])), reported_boards(load_paper_csv())


def test_two_fingerprints_give_two_tables_never_mixed(boards):
    measured, _ = boards
    assert len(measured) == 2
    fps = {make_results_v2(run_id=r, **kw)["protocol"]["fingerprint"]: r for r, kw in RUNS.items()}
    rows = {b.key: set(b.long["run_id"]) for b in measured}
    assert rows == {k: {r for r, kw in RUNS.items()
                        if make_results_v2(run_id=r, **kw)["protocol"]["fingerprint"] == k} for k in rows}
    assert set(rows) == set(fps)
    for b in measured:
        assert b.key in b.title and b.key in b.description
        assert "seed" in b.description and "synthetic-probe" not in b.description  # the clips only
        # how each column was measured is named once per measurement id, in the notes
        fid_id = b.long.loc[b.long["metric"] == "fid", "measurement"].iloc[0]
        assert any(n.startswith(f"Measurement {fid_id}: synthetic-probe") and "(fid)" in n for n in b.notes)
    md = render(*boards, "markdown")
    measured_md = md.split("## Reported in the paper")[0]
    assert measured_md.count("\n### ") == 2


def test_best_is_per_column_with_metric_direction(boards):
    measured, _ = boards
    seed0 = next(b for b in measured if len(b.rows) == 2)
    best = {(r, m) for r, m, b in zip(seed0.long["row"], seed0.long["metric"], seed0.long["best"]) if b}
    # imaginator: higher ssim/psnr and lower fid than vgan -> best everywhere.
    assert best == {("imaginator", "ssim"), ("imaginator", "psnr"), ("imaginator", "fid")}
    md = render([seed0], [], "markdown")
    assert "**30.00 [27.00, 33.50]**" in md and "70.00 [65.00, 76.00]" in md
    assert "**70.00" not in md
    assert "N = 20 clips in every cell." in md
    # A single-row table has nothing to compare: no bold.
    lone = next(b for b in measured if len(b.rows) == 1)
    assert not lone.long["best"].any()


def test_lower_fid_bold_even_when_ssim_favours_the_other(tmp_path):
    write_results(tmp_path / "a", make_results_v2(run_id="a", generator="a",
                                               metrics={"ssim": (0.9, 0.8, 0.95), "fid": (80.0, 70.0, 90.0)}))
    write_results(tmp_path / "b", make_results_v2(run_id="b", generator="b",
                                               metrics={"ssim": (0.5, 0.4, 0.6), "fid": (20.0, 15.0, 25.0)}))
    (board,) = measured_boards(collect_results([tmp_path]))
    best = dict(zip(zip(board.long["row"], board.long["metric"]), board.long["best"]))
    assert best == {("a", "ssim"): True, ("a", "fid"): False, ("b", "ssim"): False, ("b", "fid"): True}


def test_reported_rows_are_marked_and_never_counted(tmp_path):
    # A measured ImaGINator on MUG with a worse FID than the paper's 24.36 is still the best measured.
    write_results(tmp_path / "m1", make_results_v2(run_id="m1", generator="imaginator", dataset="MUG",
                                                metrics={"fid": (60.0, 55.0, 66.0)}))
    write_results(tmp_path / "m2", make_results_v2(run_id="m2", generator="vgan", dataset="MUG",
                                                metrics={"fid": (90.0, 80.0, 99.0)}))
    measured = measured_boards(collect_results([tmp_path]))
    reported = reported_boards(load_paper_csv())
    (board,) = measured
    assert list(board.long.loc[board.long["best"], "row"]) == ["imaginator"]
    assert not any("reported" in r for r in board.rows)
    for b in reported:
        assert b.layout == "reported" and all(r.endswith("(reported)") for r in b.rows)
        assert not b.long["best"].any()
    js = json.loads(render(measured, reported, "json"))
    assert all("reported" not in row["label"] for t in js["measured"] for row in t["rows"])
    assert {t["key"] for t in js["reported"]} == {f"paper-table-{i}" for i in range(1, 7)}
    md = render(measured, reported, "markdown")
    head, tail = md.split("## Reported in the paper")
    assert "(reported)" not in head and "(reported)" in tail
    csv = pd.read_csv(io.StringIO(render(measured, reported, "csv")))
    assert set(csv.loc[csv["section"] == "reported", "best"]) == {False}
    assert csv.loc[csv["section"] == "reported", "row"].str.endswith("(reported)").all()


def test_paper_csv_holds_the_papers_numbers_with_their_tables():
    paper = load_paper_csv()
    assert set(paper["table"]) == {1, 2, 3, 4, 5, 6}
    assert set(paper["page"]) == {"n/a"}  # our copy of the paper has no page numbers
    pick = lambda g, d, m, t: paper[(paper.generator == g) & (paper.dataset == d)  # noqa: E731
                                    & (paper.metric == m) & (paper.table == t)]["number"].tolist()
    # The paper's own discrepancy: both kept, each citing its table, both notes say so.
    assert pick("ImaGINator", "MUG", "fid", 1) == [29.02]
    assert pick("ImaGINator", "MUG", "fid", 6) == [24.36]
    assert pick("ImaGINator (G (1+2)D; D: D_V, D_I)", "MUG", "fid", 5) == [24.36]
    assert all("29.02" in n or "24.36" in n for n in paper.loc[
        (paper.dataset == "MUG") & (paper.metric == "fid") & paper.generator.str.startswith("ImaGINator")
        & paper.number.isin([29.02, 24.36]), "note"])
    assert pick("VGAN", "NATOPS", "fid", 1) == [167.71]
    assert pick("Reference (real videos)", "MUG", "acd-i", 3) == [0.206]
    assert pick("ImaGINator, w/o ST fusion", "NATOPS", "fid", 6) == [62.89]
    assert len(paper[paper.table == 1]) == 3 * 4 * 3 and len(paper[paper.table == 5]) == 16
    # Each preference pair sums to 100 %.
    t4 = paper[paper.table == 4].groupby("generator")["number"].sum()
    assert (t4.round(2) == 100.0).all() and len(t4) == 4


def test_committed_paper_md_is_generated_from_paper_csv():
    assert PAPER_MD.read_text(encoding="utf-8") == render_paper_markdown(PAPER_CSV)


def test_ablation_layout_for_variants_of_one_backend(tmp_path):
    for run_id, variant, fid in (("full", None, 25.0), ("nofuse", "w/o ST fusion", 46.0),
                                 ("nonoise", "w/o noise", 32.0)):
        write_results(tmp_path / run_id, make_results_v2(run_id=run_id, generator="imaginator", variant=variant,
                                                      metrics={"fid": (fid, fid - 2, fid + 2)}))
    (board,) = measured_boards(collect_results([tmp_path]))
    assert board.layout == "ablation" and board.title.startswith("Ablation of imaginator")
    assert board.rows == ["w/o ST fusion", "w/o noise", "full (default config)"]  # full model last
    assert list(board.long.loc[board.long["best"], "row"]) == ["full (default config)"]
    md = render([board], [], "markdown")
    assert "| variant" in md


def test_generators_layout_labels_variants_and_separates_reruns(tmp_path):
    write_results(tmp_path / "a", make_results_v2(run_id="a", generator="imaginator"))
    write_results(tmp_path / "b", make_results_v2(run_id="b", generator="imaginator"))
    write_results(tmp_path / "c", make_results_v2(run_id="c", generator="vgan", variant="no-mask"))
    (board,) = measured_boards(collect_results([tmp_path]))
    assert board.layout == "generators"
    assert board.rows == ["imaginator [a]", "imaginator [b]", "vgan (no-mask)"]


def test_csv_parses_with_pandas_and_keeps_the_numbers(boards):
    frame = pd.read_csv(io.StringIO(render(*boards, "csv")))
    measured = frame[frame["section"] == "measured"]
    assert len(measured) == sum(len(kw["metrics"]) for kw in RUNS.values())
    for run_id, kw in RUNS.items():
        for metric, (v, lo, hi) in kw["metrics"].items():
            line = measured[(measured["run_id"] == run_id) & (measured["metric"] == metric)].iloc[0]
            assert (line["value"], line["ci_low"], line["ci_high"], line["n"]) == (v, lo, hi, 20)
    assert len(frame[frame["section"] == "reported"]) == len(load_paper_csv())
    assert frame.loc[frame["section"] == "measured", "board"].nunique() == 2


class _Tables(HTMLParser):
    """Collects each <table> as rows of (cell text, colspan, bold)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._bold = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ["", int(dict(attrs).get("colspan", 1)), False]
        elif tag == "b" and self._cell is not None:
            self._cell[2] = True

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(tuple(self._cell))
            self._cell = None


def test_html_parses_into_one_table_per_board_with_consistent_widths(boards):
    measured, reported = boards
    parser = _Tables()
    parser.feed(render(measured, reported, "html"))
    parser.close()
    assert len(parser.tables) == len(measured) + len(reported)
    for table, board in zip(parser.tables, measured + reported):
        widths = {sum(c[1] for c in row) for row in table}
        assert widths == {len(board.columns) + 1}
        body = [row for row in table if row and row[0][0] in board.rows]
        assert [row[0][0] for row in body] == board.rows
    seed0 = parser.tables[[len(b.rows) for b in measured].index(2)]
    bold = [c[0] for row in seed0 for c in row if c[2]]
    assert bold == ["0.810 [0.790, 0.830]", "22.50 [22.00, 23.10]", "30.00 [27.00, 33.50]"]


def _latex_row_width(line: str) -> int:
    """Columns in one tabular row, counting \\multicolumn{k} as k; ignores escaped \\&."""
    line = line.strip().removesuffix("\\\\")
    cells = re.split(r"(?<!\\)&", line)
    width = 0
    for cell in cells:
        m = re.match(r"\s*\\multicolumn\{(\d+)\}", cell)
        width += int(m.group(1)) if m else 1
    return width


def test_latex_tabulars_are_balanced_with_consistent_column_counts(boards):
    measured, reported = boards
    tex = render(measured, reported, "latex")
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") == len(measured) + len(reported)
    assert tex.count("\\begin{table}") == tex.count("\\end{table}")
    for block in re.findall(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", tex, re.S):
        spec, body = block
        ncols = len(re.findall(r"[lrc]", spec))
        rows = [ln for ln in body.splitlines() if ln.strip().endswith("\\\\")]
        assert rows and all(_latex_row_width(r) == ncols for r in rows), (spec, rows)
    # Braces balance (escaped ones excluded) and special characters are escaped.
    unescaped = re.sub(r"\\[{}]", "", tex)
    assert unescaped.count("{") == unescaped.count("}")
    assert "D\\_V(ac)" in tex and "\\textbf{30.00 [27.00, 33.50]}" in tex


def test_json_is_complete(boards):
    js = json.loads(render(*boards, "json"))
    cells = {(row["run_id"], key): cell for t in js["measured"] for row in t["rows"]
             for key, cell in row["cells"].items()}
    moco = make_results_v2(run_id="r-moco", **RUNS["r-moco"])["metrics"]["fid"]["measurement"]
    assert cells[("r-moco", "synthetic/fid")] == {"value": 45.0, "ci95": [41.0, 50.0], "n": 20, "best": False,
                                                  "text": "45.00 [41.00, 50.00]", "measurement": moco}
    assert all(t["protocol"]["fingerprint"] == t["key"] for t in js["measured"])


def test_plot_writes_a_png_with_one_panel_per_metric(boards, tmp_path):
    measured, _ = boards
    out = plot_boards(measured, tmp_path / "plots" / "board.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 400 and im.height > 300
    assert [p.name for p in out.parent.iterdir()] == ["board.png"]


def _cli():
    """A group with the real CLI's error handling (the command is registered by the lead)."""
    group = _Main(name="vbench")
    group.add_command(leaderboard)
    return group


@pytest.mark.parametrize("fmt", ["markdown", "csv", "html", "latex", "json"])
def test_cli_writes_each_format(runs_dir, tmp_path, fmt):
    out = tmp_path / f"board.{fmt}"
    result = CliRunner().invoke(_cli(), ["leaderboard", str(runs_dir), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text == render(measured_boards(collect_results([runs_dir])), reported_boards(load_paper_csv()), fmt)


def test_cli_no_reported_plot_and_errors(runs_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(_cli(), ["leaderboard", str(runs_dir / "r-imag"),
                                 str(runs_dir / "r-vgan" / "results.json"),
                                 "--no-reported", "--plot", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    assert "Reported" not in res.output and "imaginator" in res.output and "vgan" in res.output
    assert (tmp_path / "p.png").stat().st_size > 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text(json.dumps({"schema_version": 9}))
    res = runner.invoke(_cli(), ["leaderboard", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "Error:" in res.output and "schema_version 9" in res.output


def test_plot_bars_and_error_bars_match_values_and_intervals(boards):
    measured, _ = boards
    fig = plot_figure(measured)
    panels = [(b, c) for b in measured for c in b.columns]
    assert len(fig.axes) == len(panels) == 6
    for ax, (board, (_, metric)) in zip(fig.axes, panels):
        bars = [c for c in ax.containers if c.__class__.__name__ == "BarContainer"][0]
        errs = [c for c in ax.containers if c.__class__.__name__ == "ErrorbarContainer"][0]
        segments = errs.lines[2][0].get_segments()
        for rect, seg, row in zip(bars.patches, segments, board.rows):
            run_id = board.long.loc[board.long["row"] == row, "run_id"].iloc[0]
            v, lo, hi = RUNS[run_id]["metrics"][metric]
            assert rect.get_height() == pytest.approx(v)
            assert (seg[0][1], seg[1][1]) == pytest.approx((lo, hi))


def test_a_column_compares_only_cells_of_the_same_measurement(tmp_path):
    # three runs on one protocol; c's FID comes from other weights: a and b compete, c stands alone
    runs = {"a": (30.0, 0.7), "b": (50.0, 0.9), "c": (10.0, 0.8)}
    for run_id, (fid, ssim) in runs.items():
        res = make_results_v2(run_id=run_id, generator=run_id,
                              metrics={"ssim": (ssim, ssim - 0.1, ssim + 0.05), "fid": (fid, fid - 2, fid + 2)})
        if run_id == "c":
            set_provenance(res, "fid", weights_sha256="ef" * 32)
        write_results(tmp_path / run_id, res)
    (board,) = measured_boards(collect_results([tmp_path]))
    cell = {(r, m): (b, k) for r, m, b, k in zip(board.long["row"], board.long["metric"], board.long["best"],
                                                   board.long["mark"])}
    # c's 10.00 is the lowest FID, but it is not comparable: a (30.00) is the best among a and b
    assert cell[("a", "fid")][0] and not cell[("b", "fid")][0] and not cell[("c", "fid")][0]
    assert cell[("a", "fid")][1] == cell[("b", "fid")][1] != cell[("c", "fid")][1] != ""
    # the clean column: one measurement, no marks, the best over all three
    assert [r for r in "abc" if cell[(r, "ssim")][0]] == ["b"] and {cell[(r, "ssim")][1] for r in "abc"} == {""}
    ids = dict(zip(zip(board.long["row"], board.long["metric"]), board.long["measurement"]))
    sign_ab, sign_c = cell[("a", "fid")][1].strip(), cell[("c", "fid")][1].strip()
    for sign, mid in ((sign_ab, ids[("a", "fid")]), (sign_c, ids[("c", "fid")])):
        assert any(n.startswith(f"{sign} synthetic/fid measured as {mid} (") and "compared only" in n
                   for n in board.notes)
    assert any(n.startswith(f"Measurement {ids[('c', 'fid')]}: synthetic-probe (weights efefefefefef") for n in board.notes)
    md = render([board], [], "markdown")
    assert f"**30.00 [28.00, 32.00]** {sign_ab}" in md and f"| 10.00 [8.00, 12.00] {sign_c}" in md
    assert "**0.900 [0.800, 0.950]**" in md
    js = json.loads(render([board], [], "json"))
    cells = {row["label"]: row["cells"] for row in js["measured"][0]["rows"]}
    assert cells["c"]["synthetic/fid"]["measurement"] == ids[("c", "fid")] != cells["a"]["synthetic/fid"]["measurement"]
    tex = render([board], [], "latex")
    assert "$^\\dagger$" in tex and "$^\\ddagger$" in tex


def test_paired_frames_and_precision_are_measurements_too(tmp_path):
    a = make_results_v2(run_id="a", generator="a", metrics={"ssim": (0.8, 0.7, 0.9), "fid": (30.0, 28.0, 32.0)})
    b = make_results_v2(run_id="b", generator="b", metrics={"ssim": (0.9, 0.8, 0.95), "fid": (20.0, 18.0, 22.0)},
                        paired_frames="all")
    set_provenance(b, "fid", precision="bf16")
    assert a["protocol"]["fingerprint"] == b["protocol"]["fingerprint"]  # the same clips: one table
    write_results(tmp_path / "a", a)
    write_results(tmp_path / "b", b)
    (board,) = measured_boards(collect_results([tmp_path]))
    assert not board.long["best"].any() and (board.long["mark"] != "").all()
    assert any("all frames" in n for n in board.notes) and any("bf16" in n for n in board.notes)


def test_a_board_from_v1_files_is_the_board_of_their_migration(tmp_path):
    from vbench_i2v.results import migrate_results

    for run_id, kw in RUNS.items():
        old = make_results(run_id=run_id, **kw)
        (tmp_path / "v1" / run_id).mkdir(parents=True)
        (tmp_path / "v1" / run_id / "results.json").write_text(json.dumps(old))
        write_results(tmp_path / "v2" / run_id, migrate_results(old))
    for fmt in ("markdown", "json"):
        one = render(measured_boards(collect_results([tmp_path / "v1"])), [], fmt)
        two = render(measured_boards(collect_results([tmp_path / "v2"])), [], fmt)
        assert one == two.replace("v2/", "v1/")


def test_null_metric_value_shows_na_and_takes_no_part_in_best(tmp_path):
    a = make_results_v2(run_id="a", generator="a", metrics={"acd-c": (0.2, 0.1, 0.3)})
    b = make_results_v2(run_id="b", generator="b", metrics={"acd-c": (0.1, 0.05, 0.15)})
    b["metrics"]["acd-c"].update(value=None, ci95=None, n=0)  # e.g. no face found
    write_results(tmp_path / "a", a)
    write_results(tmp_path / "b", b)
    (board,) = measured_boards(collect_results([tmp_path]))
    md = render([board], [], "markdown")
    assert re.search(r"\| b\s+\| n/a\s+\|", md) and "**0.200 [0.100, 0.300]**" in md
    js = json.loads(render([board], [], "json"))
    cell = js["measured"][0]["rows"][1]["cells"]["synthetic/acd-c"]
    assert cell["value"] is None and cell["ci95"] is None and cell["best"] is False
    frame = pd.read_csv(io.StringIO(render([board], [], "csv")))
    assert frame["value"].isna().sum() == 1


def test_the_interval_note_names_the_metrics_with_another_interval(tmp_path):
    res = make_results_v2(run_id="a", metrics={"ssim": (0.8, 0.7, 0.9), "label-acc": (0.5, 0.3, 0.7)})
    res["metrics"]["label-acc"]["interval"] = "Wilson score 95%"
    write_results(tmp_path / "a", res)
    write_results(tmp_path / "b", make_results_v2(run_id="b", seed=1, metrics={"ssim": (0.8, 0.7, 0.9)}))
    notes = {b.key: b.notes[0] for b in measured_boards(collect_results([tmp_path]))}
    assert notes[res["protocol"]["fingerprint"]].startswith(
        "Cells: value [95% interval: bootstrap over videos, Wilson for label-acc]; bold = best")
    assert any(n.startswith("Cells: value [95% interval: bootstrap over videos]; ") for n in notes.values())
