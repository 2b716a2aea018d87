#!/usr/bin/env bash
# Produces the published synthetic board from real runs of every backend on this machine's CPU.
# Each backend uses the checkpoint shipped in the package (trained by
# scripts/train_shipped_checkpoints.py with the budget stated in leaderboards/synthetic/README.md).
# The run folders (with every generated clip) go to a scratch folder; only their results.json files
# are kept here, and the board is built from those files alone.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/tmp/vbench-synthetic-board}
SEED=${SEED:-0}
for g in imaginator mocogan vgan copy-first-frame; do
  vbench run --generator "$g" --dataset synthetic --seed "$SEED" --out "$RUNS"
done
rm -rf leaderboards/synthetic/runs  # the board holds exactly this protocol's runs
for d in "$RUNS"/*/; do
  if [ -f "$d/results.json" ]; then
    mkdir -p "leaderboards/synthetic/runs/$(basename "$d")"
    cp "$d/results.json" "leaderboards/synthetic/runs/$(basename "$d")/results.json"
  fi
done
vbench leaderboard leaderboards/synthetic/runs --no-reported --format markdown --out leaderboards/synthetic/board.md \
  --plot leaderboards/synthetic/board.png
vbench leaderboard leaderboards/synthetic/runs --no-reported --format csv --out leaderboards/synthetic/board.csv
vbench leaderboard leaderboards/synthetic/runs --no-reported --format json --out leaderboards/synthetic/board.json
