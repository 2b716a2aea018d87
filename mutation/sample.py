"""A deterministic sample of the targeted mutants, so a run fits in ~30 minutes on 2 shared cores.

    python mutation/sample.py mutation-results.txt mutation/targets.txt > names.txt

Reads `mutmut results --all true` (every generated mutant), keeps those matching the globs of
targets.txt, then keeps a mutant when sha256(name) mod 100 < the module's percentage below
(100 = every mutant). The same names are drawn on every machine, and a mutant keeps its fate
when other mutants are added, so runs are comparable.
"""

from __future__ import annotations

import fnmatch
import hashlib
import sys

PERCENT = {  # module -> share of its mutants run (the rest are skipped, not counted)
    "vbench_i2v.metrics.acd": 100,
    "vbench_i2v.metrics.engine": 60,
    "vbench_i2v.metrics.bootstrap": 40,
    "vbench_i2v.metrics.streaming": 40,
    "vbench_i2v.protocol": 40,
    "vbench_i2v.metrics.frechet": 35,
    "vbench_i2v.results": 35,
    "vbench_i2v.metrics.kid": 25,
    "vbench_i2v.datasets.base": 20,
    "vbench_i2v.metrics.pixel": 12,
}


def sampled(name: str) -> bool:
    module = name.split(".x")[0]
    share = PERCENT.get(module, 100)
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100 < share


def main(results_path: str, targets_path: str) -> None:
    globs = [g.strip() for g in open(targets_path, encoding="utf-8") if g.strip() and not g.lstrip().startswith("#")]
    for line in open(results_path, encoding="utf-8"):
        if ": " not in line:
            continue
        name = line.rsplit(": ", 1)[0].strip()
        if any(fnmatch.fnmatch(name, g) for g in globs) and sampled(name):
            print(name)


if __name__ == "__main__":
    main(*sys.argv[1:3])
