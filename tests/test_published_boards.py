"""The committed synthetic board is what its committed results files give."""

from pathlib import Path

from click.testing import CliRunner

from vbench_i2v.cli import main
from vbench_i2v.results import collect_results

BOARD = Path(__file__).resolve().parents[1] / "leaderboards" / "synthetic"


def test_synthetic_board_is_built_from_its_results_files(tmp_path):
    runs = collect_results([BOARD / "runs"])  # validates every file and its fingerprint
    assert {r["generator"]["name"] for _, r in runs} == {"imaginator", "mocogan", "vgan", "copy-first-frame"}
    assert len({r["protocol"]["fingerprint"] for _, r in runs}) == 1
    out = tmp_path / "board.md"
    r = CliRunner().invoke(main, ["leaderboard", str(BOARD / "runs"), "--no-reported", "--format", "markdown",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == (BOARD / "board.md").read_text()
