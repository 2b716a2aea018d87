"""`vbench study score`: Wilson intervals, exact binomial tests, attention exclusion, Bradley-Terry."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize

from study_helpers import make_run
from vbench_i2v.cli.study import study_group
from vbench_i2v.errors import InputError
from vbench_i2v.study.export import CHECK_CORRUPT, CHECK_REAL, KEY_COLUMNS
from vbench_i2v.study.score import binomial_p_value, bradley_terry, score_study, wilson_interval

A_WINS = {("A", "B"): 8, ("A", "C"): 9, ("B", "C"): 6}  # of 10 pairs, per attentive rater


def test_wilson_matches_textbook_and_quadratic():
    # Textbook value for 8/10 (e.g. Newcombe 1998, Table I style): [0.490, 0.943]
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=5e-4) and hi == pytest.approx(0.9433, abs=5e-4)
    # By hand: the Wilson bounds are the roots p of (phat - p)^2 = z^2 p (1 - p) / n.
    for k, n in ((240, 300), (0, 12), (7, 7), (33, 101)):
        z2, phat = 1.959963984540054 ** 2, k / n
        roots = np.sort(np.roots([1 + z2 / n, -(2 * phat + z2 / n), phat * phat]).real)
        assert wilson_interval(k, n) == pytest.approx(tuple(np.clip(roots, 0, 1)), abs=1e-12)


def test_binomial_p_value_is_exact():
    # two-sided at p=0.5 = 2 * P(X >= k) for k > n/2, from integer counts
    for k, n in ((8, 10), (240, 300), (17, 30), (10, 10)):
        tail = sum(math.comb(n, i) for i in range(k, n + 1))
        assert binomial_p_value(k, n) == pytest.approx(min(1.0, 2 * tail / 2 ** n), rel=1e-9)
    assert binomial_p_value(8, 10) == pytest.approx(112 / 1024, rel=1e-12)
    assert binomial_p_value(5, 10) == 1.0


def _write_study(folder, n_checks=4):
    """key.csv/study.json of a 3-method study: 10 pairs per method pair, sides alternating."""
    folder.mkdir()
    rows, n = [], 0
    for a, b in A_WINS:
        for i in range(10):
            n += 1
            left, right = (a, b) if i % 2 == 0 else (b, a)
            rows.append({"pair_id": f"p{n:03d}", "left_run": left, "right_run": right, "left_file": "",
                         "right_file": "", "attention_check": 0, "left_clip": "c", "right_clip": "c"})
    for i in range(n_checks):
        n += 1
        left, right = (CHECK_REAL, CHECK_CORRUPT) if i % 2 == 0 else (CHECK_CORRUPT, CHECK_REAL)
        rows.append({"pair_id": f"p{n:03d}", "left_run": left, "right_run": right, "left_file": "",
                     "right_file": "", "attention_check": 1, "left_clip": "c", "right_clip": "c"})
    with open(folder / "key.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=KEY_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (folder / "study.json").write_text(json.dumps({"methods": ["A", "B", "C"]}))
    return rows


def _answers(rows, rater, a_wins=A_WINS, checks_passed=4, tie_pairs=()):
    """Rater prefers the first method on a_wins[pair] of its 10 pairs, passes `checks_passed` checks."""
    out, seen, checks = [], {k: 0 for k in a_wins}, 0
    for r in rows:
        if r["attention_check"]:
            want = "left" if r["left_run"] == CHECK_REAL else "right"
            choice = want if checks < checks_passed else ("right" if want == "left" else "left")
            checks += 1
        else:
            pair = tuple(sorted((r["left_run"], r["right_run"])))
            winner = pair[0] if seen[pair] < a_wins[pair] else pair[1]
            seen[pair] += 1
            choice = "tie" if pair in tie_pairs else ("left" if r["left_run"] == winner else "right")
        out.append({"rater": rater, "pair_id": r["pair_id"], "choice": choice})
    return out


@pytest.fixture
def synthetic(tmp_path):
    rows = _write_study(tmp_path / "study")
    answers = []
    for i in range(28):
        answers += _answers(rows, f"r{i:02d}", tie_pairs=[("B", "C")] if i == 27 else ())
    contrary = {k: 0 for k in A_WINS}
    answers += _answers(rows, "sloppy", a_wins=contrary, checks_passed=2)    # 50%: dropped at 0.8
    answers += _answers(rows, "borderline", a_wins=contrary, checks_passed=3)  # 75%: dropped at 0.8
    paths = []
    for chunk, name in ((answers[: len(answers) // 2], "a.csv"), (answers[len(answers) // 2:], "b.csv")):
        with open(tmp_path / name, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["rater", "pair_id", "choice"])
            w.writeheader()
            w.writerows(chunk)
        paths.append(tmp_path / name)
    return tmp_path / "study", paths


def test_preferences_with_attention_exclusion(synthetic):
    study, paths = synthetic
    res = score_study(study, paths, min_attention=0.8, n_boot=200)
    assert sorted(e["rater"] for e in res.excluded) == ["borderline", "sloppy"]
    by = {(c["a"], c["b"]): c for c in res.comparisons}
    ab = by[("A", "B")]
    assert (ab["a_wins"], ab["n"], ab["raters"], ab["ties"]) == (224, 280, 28, 0)
    assert ab["a_preferred"] == pytest.approx(80.0) and ab["b_preferred"] == pytest.approx(20.0)
    lo, hi = wilson_interval(224, 280)
    assert ab["ci95"] == pytest.approx([100 * lo, 100 * hi])
    assert ab["p_value"] == pytest.approx(2 * sum(math.comb(280, i) for i in range(224, 281)) / 2 ** 280, rel=1e-9)
    bc = by[("B", "C")]  # rater r27 said "can't tell" on all ten B/C pairs
    assert (bc["a_wins"], bc["n"], bc["ties"]) == (27 * 6, 270, 10)
    assert by[("A", "C")]["a_preferred"] == pytest.approx(90.0)
    assert [r["method"] for r in res.ranking] == ["A", "B", "C"]

    # 0.7 keeps the 75% rater; 0 keeps everyone (their contrary answers pull A/B down)
    res70 = score_study(study, paths, min_attention=0.7, n_boot=0)
    assert [e["rater"] for e in res70.excluded] == ["sloppy"]
    assert {(c["a"], c["b"]): c for c in res70.comparisons}[("A", "B")]["n"] == 290
    res0 = score_study(study, paths, min_attention=0, n_boot=0)
    ab0 = {(c["a"], c["b"]): c for c in res0.comparisons}[("A", "B")]
    assert res0.excluded == [] and (ab0["a_wins"], ab0["n"], ab0["raters"]) == (224, 300, 30)


def test_bradley_terry_recovers_known_strengths():
    truth = np.array([0.4, 0.3, 0.2, 0.1])
    rng = np.random.default_rng(0)
    wins = np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1, 4):
            k = rng.binomial(3000, truth[i] / (truth[i] + truth[j]))
            wins[i, j], wins[j, i] = k, 3000 - k
    est = bradley_terry(wins, prior=0)
    assert list(np.argsort(-est)) == [0, 1, 2, 3]
    np.testing.assert_allclose(est, truth, atol=0.01)

    # MM agrees with a direct maximum-likelihood fit (scipy) on log-strengths
    def nll(theta):
        d = theta[:, None] - theta[None, :]
        return -(wins * (d - np.logaddexp(0, d))).sum()
    theta = optimize.minimize(nll, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(est, np.exp(theta) / np.exp(theta).sum(), rtol=1e-5)
    # batched problems give the same answer as single ones
    np.testing.assert_allclose(bradley_terry(np.stack([wins, wins.T]), prior=0)[0], est, rtol=1e-9)


def test_bradley_terry_finite_when_one_method_wins_everything():
    wins = np.array([[0, 10, 10], [0, 0, 6], [0, 4, 0]], float)
    est = bradley_terry(wins)  # plain MLE would send method 0 to infinity
    assert np.all(np.isfinite(est)) and list(np.argsort(-est)) == [0, 1, 2]


def test_bootstrap_is_seeded_and_brackets_estimate(synthetic):
    study, paths = synthetic
    r1 = score_study(study, paths, n_boot=300, seed=4).ranking
    r2 = score_study(study, paths, n_boot=300, seed=4).ranking
    r3 = score_study(study, paths, n_boot=300, seed=5).ranking
    assert r1 == r2 and r1 != r3
    for r in r1:
        assert r["ci95"][0] <= r["strength"] <= r["ci95"][1]
        assert "raters" in r["bootstrap"]


def test_all_ties_gives_null_not_nan(synthetic, tmp_path):
    study, _ = synthetic
    key = list(csv.DictReader(open(study / "key.csv")))
    resp = tmp_path / "ties.csv"
    resp.write_text("rater,pair_id,choice\n" + "".join(f"t,{r['pair_id']},tie\n" for r in key
                                                          if r["attention_check"] == "0"))
    res = score_study(study, [resp], min_attention=0, n_boot=20)
    data = json.loads(json.dumps(res.to_json(), allow_nan=False))
    assert data["comparisons"][0]["a_preferred"] is None and data["comparisons"][0]["ties"] == 10
    assert data["comparisons"][0]["n"] == 0 and data["bradley_terry"] is None


def test_bad_responses_are_clear_errors(synthetic, tmp_path):
    study, _ = synthetic
    bad = tmp_path / "bad.csv"
    bad.write_text("rater,pair_id,choice\nx,p001,maybe\n")
    with pytest.raises(InputError, match="left\\|right\\|tie"):
        score_study(study, [bad])
    bad.write_text("rater,pair_id,choice\nx,q999,left\n")
    with pytest.raises(InputError, match="not in .*key.csv"):
        score_study(study, [bad])
    bad.write_text("who,what\n1,2\n")
    with pytest.raises(InputError, match="rater,pair_id,choice"):
        score_study(study, [bad])


def test_cli_score_formats(synthetic):
    study, paths = synthetic
    runner = CliRunner()
    res = runner.invoke(study_group, ["score", str(study), *map(str, paths), "--format", "json", "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    ab = data["comparisons"][0]
    assert {"a", "b", "a_preferred", "ci95", "p_value", "n"} <= set(ab)
    assert (ab["a"], ab["b"], ab["n"]) == ("A", "B", 280) and ab["a_preferred"] == pytest.approx(80)
    assert [r["method"] for r in data["bradley_terry"]] == ["A", "B", "C"]
    assert "excluded rater sloppy" in res.stderr
    md = runner.invoke(study_group, ["score", str(study), *map(str, paths), "--bootstrap", "50"])
    assert md.exit_code == 0 and "| A / B" in md.output and "80.00 / 20.00" in md.output
    assert "2 excluded" in md.output and "nan" not in md.output
    lo, hi = wilson_interval(162, 270)  # B / C: 162 of 270 decided
    assert f"| B / C     | 60.00 / 40.00          | [{100 * lo:.1f}, {100 * hi:.1f}]" in md.output
    csv_out = runner.invoke(study_group, ["score", str(study), *map(str, paths), "--format", "csv", "--min-attention", "0"])
    assert csv_out.output.splitlines()[0].startswith("a,b,a_preferred")


def test_cli_export_then_score_two_methods(tmp_path):
    a = make_run(tmp_path, "run-a", n_clips=4, shift=8)
    b = make_run(tmp_path, "run-b", n_clips=4, shift=24)
    runner = CliRunner()
    res = runner.invoke(study_group, ["export", str(a), str(b), "--pairs", "4", "--out", str(tmp_path / "s"),
                                      "--scale", "1", "--attention-rate", "0.25"])
    assert res.exit_code == 0, res.output
    assert "4 comparison pairs and 1 attention checks" in res.output
    import pandas as pd

    key = pd.read_csv(tmp_path / "s" / "key.csv", dtype=str)
    rows = [{"rater": "solo", "pair_id": r.pair_id,
             "choice": "left" if r.left_run in ("run-a", CHECK_REAL) else "right"} for r in key.itertuples()]
    with open(tmp_path / "resp.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["rater", "pair_id", "choice"])
        w.writeheader()
        w.writerows(rows)
    out = runner.invoke(study_group, ["score", str(tmp_path / "s"), str(tmp_path / "resp.csv"), "--format", "json"])
    data = json.loads(out.stdout)
    assert data["comparisons"][0]["a_preferred"] == 100.0 and data["bradley_terry"] is None
    assert data["comparisons"][0]["p_value"] == pytest.approx(2 / 16)
