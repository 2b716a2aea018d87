#!/usr/bin/env bash
# The deciding comparison of scripts/paper_budget.py (equal lr_d tuning on validation identities, two
# training seeds per backend, the Table 2 and Table 6 arms) at the paper's width on one CUDA device,
# written to its own folder (default leaderboards/paper-budget-gpu/), resumable like the CPU plan:
# run it again after an interruption and it goes on where it stopped.
#
#   scripts/paper_budget_gpu.sh                          # width 1.0, batch 64, 400 tune / 2,400 final steps
#   scripts/paper_budget_gpu.sh --final-steps 5000 --commit
#   scripts/paper_budget_gpu.sh --dry-run --out /tmp/pb  # the CPU rehearsal: a few steps of three runs
#
# The budget: the paper gives no number of steps; width 1.0 is its published network and batch 64 the
# released code's. The default steps are the CPU plan's (2,400 final steps), so a GPU run sees 8x the
# clips of the CPU one (about 180 epochs of the 840 training clips). Every run of the plan gets the
# same steps x batch; --tune-steps/--final-steps change it for all alike.
#
# Options: --out DIR, --work DIR (checkpoints; default $PAPER_BUDGET_GPU_WORK or /tmp/paper_budget_gpu),
# --width W, --batch N, --tune-steps N, --final-steps N, --device cuda[:N], --threads N (CPU threads of
# each worker: data, metrics), --workers N (processes sharing the GPU, default 1), --amp auto|on|off
# (bf16 autocast in training; auto = on where bf16 is native), --deterministic, --only RUN,RUN,
# --commit (git-commit each finished run), --dry-run. Nothing is installed: a Python without torch is
# refused; a checkout that is not installed is imported through benchmarks/gpu_check.py's link folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
OUT="leaderboards/paper-budget-gpu"
WORK="${PAPER_BUDGET_GPU_WORK:-/tmp/paper_budget_gpu}"
WIDTH=1.0 BATCH=64 TUNE=400 FINAL=2400 DEVICE=cuda THREADS=8 WORKERS=1 AMP=auto
DRY=0 COMMIT="" DETERMINISTIC="" ONLY="" TEST_MAX=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --out) OUT="$2"; shift ;;
        --work) WORK="$2"; shift ;;
        --width) WIDTH="$2"; shift ;;
        --batch) BATCH="$2"; shift ;;
        --tune-steps) TUNE="$2"; shift ;;
        --final-steps) FINAL="$2"; shift ;;
        --device) DEVICE="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --workers) WORKERS="$2"; shift ;;
        --amp) AMP="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        --commit) COMMIT="--commit" ;;
        --deterministic) DETERMINISTIC="--deterministic" ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "Error: paper_budget_gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$DRY" = 1 ]; then
    # CPU, tiny: both tune runs of one backend (so its lr_d is chosen by the rule), then its first
    # final run with the test run on 2 videos: every kind of step of the plan, in a few minutes.
    DEVICE=cpu WIDTH=0.0625 BATCH=2 TUNE=2 FINAL=2 THREADS=1 WORKERS=1 AMP=off TEST_MAX=2
    ONLY="${ONLY:-tune-vgan-lrd0.0002,tune-vgan-lrd5e-05,final-vgan-s0}"
fi
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "Error: $PY has no torch; this script installs nothing (set PYTHON=/path/to/python3)" >&2
    exit 3
fi
mkdir -p "$WORK" "$OUT"
if ! (cd "$WORK" && "$PY" -c "import vbench_i2v.generators" >/dev/null 2>&1); then
    SHIM=$("$PY" benchmarks/gpu_check.py --make-shim "$WORK/shim")
    export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}" PYTHONSAFEPATH=1
    echo "vbench_i2v is not installed in $PY: importing this checkout through $SHIM (nothing installed)"
fi
if [ "$DEVICE" != cpu ]; then
    "$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('device:', torch.cuda.get_device_name(0) if ok else 'none', '| torch', torch.__version__, '| CUDA', torch.version.cuda); sys.exit(0 if ok else 1)" \
        || { echo "Error: no CUDA device here (--dry-run rehearses on the CPU)" >&2; exit 2; }
fi
COMMON=(--out "$OUT" --work "$WORK" --tune-steps "$TUNE" --final-steps "$FINAL" --width "$WIDTH" --batch "$BATCH")
WORKARGS=(work --device "$DEVICE" --threads "$THREADS" --amp "$AMP")
[ -n "$COMMIT" ] && WORKARGS+=("$COMMIT")
[ -n "$DETERMINISTIC" ] && WORKARGS+=("$DETERMINISTIC")
[ -n "$ONLY" ] && WORKARGS+=(--only "$ONLY")
[ -n "$TEST_MAX" ] && WORKARGS+=(--test-max-videos "$TEST_MAX")
echo "plan: width $WIDTH, batch $BATCH, tune $TUNE / final $FINAL steps, device $DEVICE, $WORKERS worker(s); out $OUT, work $WORK"
"$PY" scripts/paper_budget.py "${COMMON[@]}" plan
pids=()
for i in $(seq 1 "$WORKERS"); do
    "$PY" scripts/paper_budget.py "${COMMON[@]}" "${WORKARGS[@]}" > "$WORK/worker-$i.log" 2>&1 &
    pids+=($!)
    echo "worker $i: pid ${pids[-1]}, log $WORK/worker-$i.log"
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for i in $(seq 1 "$WORKERS"); do tail -n 5 "$WORK/worker-$i.log"; done
"$PY" scripts/paper_budget.py "${COMMON[@]}" plan
if "$PY" scripts/paper_budget.py boards --help >/dev/null 2>&1; then
    "$PY" scripts/paper_budget.py "${COMMON[@]}" boards || status=1
else
    echo "(scripts/paper_budget.py has no 'boards' command yet: the run folders are in $OUT/runs)"
fi
exit $status
