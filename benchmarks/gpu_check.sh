#!/usr/bin/env bash
# The GPU check for one CUDA device, under 10 minutes (benchmarks/gpu_check.py does the work and
# documents every stage). This wrapper picks the Python, says what it lacks, and installs nothing.
#
#   benchmarks/gpu_check.sh                       # on the GPU; results in benchmarks/gpu_check_out/
#   benchmarks/gpu_check.sh --out "$OUT/gpu"      # where a lent machine brings files back
#   benchmarks/gpu_check.sh --dry-run             # the CPU rehearsal, tiny sizes
#   PYTHON=/path/to/python3 benchmarks/gpu_check.sh ...
#
# Exit status: 0 every stage ran and every check passed; 1 something failed (see summary.md);
# 2 bad arguments or no CUDA device; 3 the Python lacks a module the check needs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if command -v python3 >/dev/null 2>&1; then PY=python3; else PY=python; fi
fi
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "gpu_check: no Python found (tried ${PY}); set PYTHON=/path/to/python3" >&2
    exit 3
fi
missing=$("$PY" - <<'PYEOF'
import importlib.util
need = ("torch", "numpy", "scipy", "click", "safetensors", "PIL", "pandas", "tabulate", "tqdm", "pytest")
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PYEOF
) || { echo "gpu_check: $PY does not run" >&2; exit 3; }
if [ -n "$missing" ]; then
    echo "gpu_check: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])')) lacks: $missing" >&2
    echo "gpu_check: nothing is installed by this script; install those (pip install -e \".[test]\" where pip" \
         "reaches a registry, or carry wheels to an offline machine) or point PYTHON at a Python that has them" >&2
    exit 3
fi
export PYTHONUNBUFFERED=1
exec "$PY" benchmarks/gpu_check.py "$@"
