"""The responses a metric declares it must show in `vbench sanity` (``MetricSpec.sanity``).

A metric that measures one property should move when exactly that property is broken: frozen
clips must lower dynamic-degree, shuffled frames must lower temporal-flickering's score (more
flicker). Each declared ``(corruption, "lower" | "higher")`` is checked on the report's rows: the
value at the corruption's strongest level against the clean baseline, strictly.
"""

from __future__ import annotations

import math


def check_expectations(rows: list[dict], declared: dict[str, tuple]) -> list[dict]:
    """One entry per declared response of a metric in ``rows``: ``metric``, ``corruption``,
    ``expected`` ("lower"/"higher"), ``clean``, ``corrupted`` (strongest level), ``level`` and
    ``ok`` (None where the report has no such cell, e.g. the corruption was not run)."""
    out = []
    for metric, expected in declared.items():
        mine = [r for r in rows if r["metric"] == metric]
        clean = next((r["value"] for r in mine if r["corruption_kind"] == "clean"), None)
        for corruption, direction in expected:
            cells = [r for r in mine if r["corruption"] == corruption]
            strongest = max(cells, key=lambda r: r["level"]) if cells else None
            ok = None
            if strongest is not None and clean is not None and all(
                    v is not None and math.isfinite(v) for v in (clean, strongest["value"])):
                ok = strongest["value"] < clean if direction == "lower" else strongest["value"] > clean
            out.append({"metric": metric, "corruption": corruption, "expected": direction, "clean": clean,
                        "corrupted": None if strongest is None else strongest["value"],
                        "level": None if strongest is None else strongest["level"], "ok": ok})
    return out


def markdown_lines(checks: list[dict]) -> list[str]:
    """The report's "Expected responses" section (empty when no metric in it declares one)."""
    if not checks:
        return []
    lines = ["", "## Expected responses", ""]
    for c in checks:
        verdict = {True: "ok", False: "FAILED", None: "not run"}[c["ok"]]
        got = ("" if c["corrupted"] is None else
               f": {c['corruption']} level {c['level']} = {c['corrupted']:.6g}, clean = {c['clean']:.6g}")
        lines.append(f"- {verdict}: {c['metric']} must be {c['expected']} under {c['corruption']}{got}")
    return lines
