"""Kill rate per module from `mutmut results --all true`, restricted to the targeted functions.

    python mutation/summary.py mutation-results.txt mutation/targets.txt
"""

from __future__ import annotations

import fnmatch
import sys
from collections import Counter, defaultdict


def main(results_path: str, targets_path: str) -> None:
    globs = [g.strip() for g in open(targets_path, encoding="utf-8") if g.strip() and not g.lstrip().startswith("#")]
    per_module: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for line in open(results_path, encoding="utf-8"):
        if ": " not in line:
            continue
        name, status = (s.strip() for s in line.rsplit(": ", 1))
        if not any(fnmatch.fnmatch(name, g) for g in globs):
            continue
        module = name.split(".x")[0].split(".xǁ")[0]
        per_module[module][status] += 1
        if status not in ("killed", "caught by type check"):
            survivors.append((name, status))
    total = Counter()
    print(f"{'module':38s} {'mutants':>8s} {'killed':>7s} {'survived':>9s} {'no tests':>9s} {'timeout':>8s}  rate")
    for module in sorted(per_module):
        c = per_module[module]
        total += c
        n = sum(c.values())
        print(f"{module:38s} {n:8d} {c['killed']:7d} {c['survived']:9d} {c['no tests']:9d} {c['timeout']:8d}  "
              f"{c['killed'] / n:.1%}")
    n = sum(total.values())
    if n:
        print(f"{'total':38s} {n:8d} {total['killed']:7d} {total['survived']:9d} {total['no tests']:9d} "
              f"{total['timeout']:8d}  {total['killed'] / n:.1%}")
    print("\nnot killed:")
    for name, status in survivors:
        print(f"  {status:10s} {name}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
