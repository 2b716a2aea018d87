#!/usr/bin/env bash
# Mutation testing (mutmut 3) of the metric core, results.json validation, the protocol and
# dataset splitting, in a scratch copy of the repository (the working tree is never touched).
#
#   mutation/run.sh [SCRATCH_DIR] [MUTANT_GLOB ...]
#
# Default globs: mutation/targets.txt. Needs `pip install mutmut` in the active environment.
# Afterwards: `cd SCRATCH_DIR && mutmut results` (survivors), `mutmut show NAME` (a diff),
# `python mutation/summary.py` (kill rate per module).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-/tmp/vbench-mutation}
shift || true
rm -rf "$scratch"
mkdir -p "$scratch"
tar -C "$repo" --exclude=.venv --exclude=.git --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=mutants -cf - . | tar -xf - -C "$scratch"
# pyproject.toml maps these folders under vbench_i2v (package-dir); mutmut copies the package
# folder into mutants/, so give it the same layout.
for d in generators feature_extractors leaderboards; do ln -s "../$d" "$scratch/vbench_i2v/$d"; done
cp "$repo/mutation/setup.cfg" "$scratch/setup.cfg"
cd "$scratch"
if [ $# -eq 0 ]; then
    mapfile -t globs < <(grep -v '^\s*#' "$repo/mutation/targets.txt" | grep -v '^\s*$')
else
    globs=("$@")
fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "${globs[@]}" || true
mutmut results --all true > mutation-results.txt 2>&1 || true
python "$repo/mutation/summary.py" mutation-results.txt "$repo/mutation/targets.txt"
