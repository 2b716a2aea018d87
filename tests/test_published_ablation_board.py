"""The committed ImaGINator ablation board (and the tuning board) is what its committed results files give."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from vbench_i2v.cli import main
from vbench_i2v.results import collect_results

BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
ABLATIONS = BOARDS / "synthetic-ablations"
TUNING_FINAL = BOARDS / "synthetic-tuning" / "final"


def _rebuilt(runs: Path, fmt: str, out: Path) -> str:
    r = CliRunner().invoke(main, ["leaderboard", str(runs), "--no-reported", "--format", fmt, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_text()


def test_ablation_runs_are_one_protocol_of_imaginator_variants():
    runs = collect_results([ABLATIONS / "runs"])  # validates every file and its fingerprint
    assert len(runs) >= 2
    assert {r["generator"]["name"] for _, r in runs} == {"imaginator"}
    assert len({r["protocol"]["fingerprint"] for _, r in runs}) == 1
    variants = [r["generator"].get("variant") or "" for _, r in runs]
    assert any("conv=3d" in v for v in variants)  # Table 2's arm is on the board


@pytest.mark.parametrize("fmt,name", [("markdown", "board.md"), ("csv", "board.csv"), ("json", "board.json")])
def test_ablation_board_is_built_from_its_results_files(tmp_path, fmt, name):
    assert _rebuilt(ABLATIONS / "runs", fmt, tmp_path / name) == (ABLATIONS / name).read_text()


@pytest.mark.skipif(not (TUNING_FINAL / "runs").is_dir(), reason="no tuned-winner runs committed")
def test_tuning_final_board_is_built_from_its_results_files(tmp_path):
    runs = collect_results([TUNING_FINAL / "runs"])
    assert len({r["protocol"]["fingerprint"] for _, r in runs}) == 1
    assert _rebuilt(TUNING_FINAL / "runs", "markdown", tmp_path / "board.md") == (TUNING_FINAL / "board.md").read_text()
