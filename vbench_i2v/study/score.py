"""Scoring a rater study: preference per method pair (the paper's Table 4) and a ranking.

Answers (``rater,pair_id,choice``) are joined with the study's ``key.csv``. Raters who fail the
attention checks are dropped. For every method pair we report the preference for the first
method with a Wilson 95% interval and an exact two-sided binomial test against 50%; "can't tell"
answers are counted but left out of both (they say nothing about which is better). With three or
more methods, a Bradley-Terry model (fitted by Hunter's MM iterations) ranks them, with
percentile intervals from a seeded bootstrap over raters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from vbench_i2v.errors import InputError
from vbench_i2v.files import read_json_object
from vbench_i2v.protocol import rng_for
from vbench_i2v.study.export import CHECK_REAL
from vbench_i2v.tables import read_table

CHOICES = ("left", "right", "tie")


# ---------------------------------------------------------------- statistics

def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (stays inside [0, 1], sane at small n): scipy's."""
    if n == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def binomial_p_value(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n against p = 0.5."""
    if n == 0:
        return float("nan")
    return float(stats.binomtest(k, n, 0.5, alternative="two-sided").pvalue)


def bradley_terry(wins: np.ndarray, prior: float = 0.5, tol: float = 1e-10,
                  max_iter: int = 100_000) -> np.ndarray:
    """Bradley-Terry strengths from win counts by Hunter's (2004) MM iterations.

    ``wins[..., i, j]`` = times i beat j; leading axes are independent problems (bootstrap
    replicates are fitted together). ``prior`` adds that many wins each way to every pair that
    was compared, so a method that won every comparison still gets a finite strength (the plain
    maximum-likelihood estimate exists only when the win graph is strongly connected). Strengths
    are normalised to sum to 1: strength_i / (strength_i + strength_j) = P(i beats j).
    """
    w = np.asarray(wins, dtype=np.float64)
    m = w.shape[-1]
    games = w + np.swapaxes(w, -1, -2)
    w = w + prior * (games > 0)
    games = w + np.swapaxes(w, -1, -2)
    total_wins = w.sum(-1)
    p = np.full(w.shape[:-1], 1.0 / m)
    for _ in range(max_iter):
        denom = (games / (p[..., :, None] + p[..., None, :])).sum(-1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1), p)
        new = new / new.sum(-1, keepdims=True)
        if np.max(np.abs(new - p)) < tol:
            return new
        p = new
    return p


# ---------------------------------------------------------------- inputs

def _first_bad(mask: pd.Series) -> int:
    """The file line (header = line 1) of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 2


def load_key(study_dir) -> pd.DataFrame:
    path = Path(study_dir) / "key.csv"
    if not path.is_file():
        raise InputError(f"{study_dir}: no key.csv (not a study folder written by `vbench study export`)")
    key = read_table(path, "study key")
    need = {"pair_id", "left_run", "right_run", "attention_check"}
    if not need <= set(key.columns):
        raise InputError(f"{path}: missing columns {sorted(need - set(key.columns))}")
    if key.empty:
        raise InputError(f"{path}: no pairs listed")
    for col in ("pair_id", "left_run", "right_run"):
        empty = key[col].str.strip() == ""
        if empty.any():
            raise InputError(f"{path}, line {_first_bad(empty)}: field {col} is empty")
    flags = key["attention_check"].str.strip()
    bad = ~flags.isin(["0", "1"])
    if bad.any():
        raise InputError(f"{path}, line {_first_bad(bad)}: field attention_check must be 0 or 1, "
                         f"got {key['attention_check'][bad].iloc[0]!r}")
    dup = key["pair_id"].duplicated()
    if dup.any():
        raise InputError(f"{path}, line {_first_bad(dup)}: pair_id {key['pair_id'][dup].iloc[0]!r} repeats")
    key["attention_check"] = flags == "1"
    return key


def method_order(study_dir, key: pd.DataFrame) -> list[str]:
    """Methods in the order given to ``export`` (study.json), else by first appearance."""
    info = Path(study_dir) / "study.json"
    if info.is_file():
        data = read_json_object(info, "study file")
        methods = data.get("methods")
        if methods is not None and not (isinstance(methods, list) and all(isinstance(m, str) and m
                                                                           for m in methods)):
            raise InputError(f"{info}: field methods must be a list of method names, got {methods!r:.60}")
        if methods:
            return list(methods)
    comp = key[~key["attention_check"]]
    seen: list[str] = []
    for a, b in zip(comp["left_run"], comp["right_run"]):
        for m in (a, b):
            if m not in seen:
                seen.append(m)
    return seen


def load_responses(paths) -> pd.DataFrame:
    """All answer files stacked; a rater answering a pair twice keeps the last answer."""
    frames = []
    for p in paths:
        p = Path(p)
        if not p.is_file() and not p.is_dir():
            raise InputError(f"{p}: no such responses file")
        df = read_table(p, "responses file")
        if not {"rater", "pair_id", "choice"} <= set(df.columns):
            raise InputError(f"{p}: needs columns rater,pair_id,choice, found {','.join(df.columns)}")
        bad = ~df["choice"].isin(CHOICES)
        if bad.any():
            raise InputError(f"{p}, line {_first_bad(bad)}: field choice must be left|right|tie, "
                             f"found {df['choice'][bad].iloc[0]!r}")
        for col in ("rater", "pair_id"):
            empty = df[col].str.strip() == ""
            if empty.any():
                raise InputError(f"{p}, line {_first_bad(empty)}: field {col} is empty")
        frames.append(df[["rater", "pair_id", "choice"]])
    if not frames:
        raise InputError("no responses files given")
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates(["rater", "pair_id"], keep="last").reset_index(drop=True)


# ---------------------------------------------------------------- the report

@dataclass
class StudyScore:
    comparisons: list[dict]
    ranking: list[dict] | None
    raters: list[dict]
    excluded: list[dict]
    min_attention: float
    methods: list[str]

    def to_json(self) -> dict:
        """Plain JSON types; undefined values (NaN, e.g. a pair answered only "can't tell") as null."""
        return _no_nan({"comparisons": self.comparisons, "bradley_terry": self.ranking,
                "raters": {"included": [r["rater"] for r in self.raters if not r["excluded"]],
                           "excluded": self.excluded, "per_rater": self.raters},
                "min_attention": self.min_attention, "methods": self.methods})


def _no_nan(value):
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if value != value else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def attention_table(joined: pd.DataFrame, has_checks: bool, min_attention: float) -> pd.DataFrame:
    """Per rater: attention checks answered, passed, fraction, and whether they are dropped."""
    rows = []
    for rater, df in joined.groupby("rater", sort=True):
        checks = df[df["attention_check"]]
        chosen = np.where(checks["choice"] == "left", checks["left_run"],
                          np.where(checks["choice"] == "right", checks["right_run"], ""))
        passed = int((chosen == CHECK_REAL).sum())
        n = len(checks)
        frac = passed / n if n else float("nan")
        if min_attention <= 0 or not has_checks:
            excluded, reason = False, ""
        elif n == 0:
            excluded, reason = True, "answered no attention checks"
        elif frac < min_attention:
            excluded, reason = True, f"passed {passed}/{n} attention checks ({100 * frac:.0f}%)"
        else:
            excluded, reason = False, ""
        rows.append({"rater": rater, "judgements": int((~df["attention_check"]).sum()),
                     "attention_checks": n, "attention_passed": passed,
                     "attention": None if n == 0 else round(frac, 4),
                     "excluded": excluded, "reason": reason})
    return pd.DataFrame(rows, columns=["rater", "judgements", "attention_checks", "attention_passed",
                                       "attention", "excluded", "reason"])


def _judgements(joined: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Comparison answers as (rater, a, b, outcome) with a before b in method order;
    outcome 1 = a preferred, 0 = b preferred, NaN = can't tell. Methods the key names but
    ``methods`` lacks are appended to it (in place)."""
    rank = {m: i for i, m in enumerate(methods)}
    comp = joined[~joined["attention_check"]].copy()
    unknown = (set(comp["left_run"]) | set(comp["right_run"])) - set(rank)
    for m in sorted(unknown):
        rank[m] = len(rank)
        methods.append(m)
    left_first = comp["left_run"].map(rank) < comp["right_run"].map(rank)
    comp["a"] = np.where(left_first, comp["left_run"], comp["right_run"])
    comp["b"] = np.where(left_first, comp["right_run"], comp["left_run"])
    a_side = np.where(left_first, "left", "right")
    comp["outcome"] = np.where(comp["choice"] == "tie", np.nan, (comp["choice"] == a_side).astype(float))
    return comp[["rater", "pair_id", "a", "b", "outcome"]]


def compare(judgements: pd.DataFrame, methods: list[str], confidence: float = 0.95) -> list[dict]:
    rows = []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            df = judgements[(judgements["a"] == a) & (judgements["b"] == b)]
            if df.empty:
                continue
            decided = df.dropna(subset=["outcome"])
            k, n = int(decided["outcome"].sum()), len(decided)
            lo, hi = wilson_interval(k, n, confidence)
            rows.append({
                "a": a, "b": b,
                "a_preferred": 100 * k / n if n else float("nan"),
                "b_preferred": 100 * (n - k) / n if n else float("nan"),
                "ci95": [100 * lo, 100 * hi],
                "p_value": binomial_p_value(k, n),
                "n": n, "a_wins": k, "b_wins": n - k,
                "ties": int(df["outcome"].isna().sum()),
                "raters": int(df["rater"].nunique()),
            })
    return rows


def _win_matrix(judgements: pd.DataFrame, methods: list[str]) -> np.ndarray:
    idx = {m: i for i, m in enumerate(methods)}
    w = np.zeros((len(methods), len(methods)))
    d = judgements.dropna(subset=["outcome"])
    ai, bi = d["a"].map(idx).to_numpy(dtype=np.int64), d["b"].map(idx).to_numpy(dtype=np.int64)
    o = d["outcome"].to_numpy(dtype=np.float64)
    np.add.at(w, (ai, bi), o)
    np.add.at(w, (bi, ai), 1 - o)
    return w


def rank_methods(judgements: pd.DataFrame, methods: list[str], n_boot: int, seed: int,
                 confidence: float = 0.95, prior: float = 0.5) -> list[dict]:
    """Bradley-Terry strengths with percentile intervals from a bootstrap over raters (over
    single judgements when there is only one rater)."""
    strengths = bradley_terry(_win_matrix(judgements, methods), prior=prior)
    raters = sorted(judgements["rater"].unique())
    rng = rng_for(seed, "study-bootstrap")
    if n_boot > 0:
        if len(raters) > 1:
            per_rater = np.stack([_win_matrix(judgements[judgements["rater"] == r], methods) for r in raters])
            counts = rng.multinomial(len(raters), np.full(len(raters), 1 / len(raters)), size=n_boot)
            boot = np.einsum("br,rij->bij", counts, per_rater)
            unit = "raters"
        else:
            d = judgements.dropna(subset=["outcome"]).reset_index(drop=True)
            mats = np.stack([_win_matrix(d.iloc[[i]], methods) for i in range(len(d))]) if len(d) else \
                np.zeros((1, len(methods), len(methods)))
            counts = rng.multinomial(len(mats), np.full(len(mats), 1 / len(mats)), size=n_boot)
            boot = np.einsum("br,rij->bij", counts, mats)
            unit = "judgements"
        boot_strengths = bradley_terry(boot, prior=prior)
        alpha = (1 - confidence) / 2
        lo, hi = np.quantile(boot_strengths, [alpha, 1 - alpha], axis=0)
        boot_ranks = (-boot_strengths).argsort(-1).argsort(-1) + 1
    order = np.argsort(-strengths, kind="stable")
    out = []
    for rank, i in enumerate(order, start=1):
        row = {"rank": rank, "method": methods[i], "strength": float(strengths[i])}
        if n_boot > 0:
            row["ci95"] = [float(lo[i]), float(hi[i])]
            row["rank_ci95"] = [int(np.quantile(boot_ranks[:, i], alpha, method="lower")),
                                int(np.quantile(boot_ranks[:, i], 1 - alpha, method="higher"))]
            row["bootstrap"] = f"{n_boot} resamples of {unit}"
        out.append(row)
    return out


def score_study(study_dir, responses, min_attention: float = 0.8, n_boot: int = 1000,
                seed: int = 0, confidence: float = 0.95) -> StudyScore:
    """Join answers with the key, drop inattentive raters, compare and rank the methods."""
    if not 0 <= min_attention <= 1:
        raise InputError(f"--min-attention must lie in [0, 1], got {min_attention}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise InputError(f"--bootstrap must be a non-negative integer, got {n_boot!r}")
    key = load_key(study_dir)
    answers = load_responses(responses)
    unknown = sorted(set(answers["pair_id"]) - set(key["pair_id"]))
    if unknown:
        raise InputError(f"responses name pair ids not in {Path(study_dir) / 'key.csv'}: {', '.join(unknown[:5])}"
                         " (answers from another study?)")
    joined = answers.merge(key, on="pair_id", how="inner")
    methods = method_order(study_dir, key)
    has_checks = bool(key["attention_check"].any())
    table = attention_table(joined, has_checks, min_attention)
    dropped = set(table.loc[table["excluded"], "rater"])
    kept = joined[~joined["rater"].isin(dropped)]
    if kept.empty:
        raise InputError(f"no rater is left after the attention checks (--min-attention {min_attention}); "
                         f"{len(dropped)} excluded")
    judgements = _judgements(kept, methods)
    comparisons = compare(judgements, methods, confidence)
    ranking = None
    decided = judgements.dropna(subset=["outcome"])
    present = [m for m in methods if ((decided["a"] == m) | (decided["b"] == m)).any()]
    if len(present) >= 3:
        ranking = rank_methods(judgements[judgements["a"].isin(present) & judgements["b"].isin(present)],
                               present, n_boot, seed, confidence)
    per_rater = table.to_dict("records")
    excluded = [{"rater": r["rater"], "reason": r["reason"]} for r in per_rater if r["excluded"]]
    return StudyScore(comparisons=comparisons, ranking=ranking, raters=per_rater, excluded=excluded,
                      min_attention=min_attention, methods=methods)


# ---------------------------------------------------------------- output

def _p_text(p: float) -> str:
    if p != p:
        return "-"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def comparison_frame(result: StudyScore) -> pd.DataFrame:
    rows = []
    for c in result.comparisons:
        rows.append({
            "Methods": f"{c['a']} / {c['b']}",
            "Rater preference (%)": f"{c['a_preferred']:.2f} / {c['b_preferred']:.2f}",
            "95% CI of first (%)": f"[{c['ci95'][0]:.1f}, {c['ci95'][1]:.1f}]",
            "p (vs 50%)": _p_text(c["p_value"]),
            "raters": c["raters"], "judgements": c["n"], "can't tell": c["ties"],
        })
    return pd.DataFrame(rows)


def format_report(result: StudyScore, fmt: str = "markdown") -> str:
    """The Table-4-like report as markdown, csv or json."""
    if fmt == "json":
        return json.dumps(result.to_json(), indent=2, allow_nan=False)
    if fmt == "csv":
        cols = ["a", "b", "a_preferred", "b_preferred", "ci95_low", "ci95_high", "p_value", "n",
                "a_wins", "b_wins", "ties", "raters"]
        rows = [{**c, "ci95_low": c["ci95"][0], "ci95_high": c["ci95"][1]} for c in result.comparisons]
        text = pd.DataFrame(rows, columns=cols).to_csv(index=False)
        if result.ranking:
            bt = pd.DataFrame([{"rank": r["rank"], "method": r["method"], "strength": r["strength"],
                                "ci95_low": r.get("ci95", [None, None])[0],
                                "ci95_high": r.get("ci95", [None, None])[1]} for r in result.ranking])
            text += "\n" + bt.to_csv(index=False)
        return text
    if fmt != "markdown":
        raise InputError(f"--format must be markdown, csv or json, got {fmt!r}")
    from tabulate import tabulate

    n_kept = sum(not r["excluded"] for r in result.raters)
    parts = ["Rater preference: the first method's share of decided judgements, Wilson 95% interval, "
             "exact two-sided binomial test against 50%.", "",
             tabulate(comparison_frame(result), headers="keys", tablefmt="github", showindex=False,
                      disable_numparse=True)]
    if result.ranking:
        rows = [{"rank": r["rank"], "method": r["method"], "strength": f"{r['strength']:.3f}",
                 "95% CI": f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]" if "ci95" in r else "-",
                 "rank range": (f"{r['rank_ci95'][0]}-{r['rank_ci95'][1]}" if "rank_ci95" in r else "-")}
                for r in result.ranking]
        boot = result.ranking[0].get("bootstrap", "no bootstrap")
        parts += ["", f"Bradley-Terry ranking (strengths sum to 1; {boot}):", "",
                  tabulate(pd.DataFrame(rows), headers="keys", tablefmt="github", showindex=False,
                           disable_numparse=True)]
    parts += ["", f"Raters: {n_kept} included, {len(result.excluded)} excluded "
                  f"(attention checks, --min-attention {result.min_attention:g})."]
    parts += [f"- excluded {e['rater']}: {e['reason']}" for e in result.excluded]
    return "\n".join(parts) + "\n"
