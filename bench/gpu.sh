#!/usr/bin/env bash
# Issue #19's GPU run in one command on the lent GPU machine: install the carried wheels (.whl/, made by
# bench/gpu_wheels.sh), then bench/gpu.py (every stage through torchrun, measured against its baseline).
#   bash bench/gpu.sh [bench/gpu.py options]      ($OUT: where gpu.json, table.md and the logs go)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu-bench}
mkdir -p "$OUT"
t0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl ||
  { echo "wheel install failed"; exit 1; }
echo "wheels installed in $(( $(date +%s) - t0 )) s: $(ls .whl | tr '\n' ' ')"
export PYTHONPATH=/tmp/site:$PWD:$PWD/operator
export TORCH_EXTENSIONS_DIR=/tmp/torch_extensions PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm,clocks.mem,temperature.gpu,driver_version \
  --format=csv,noheader 2>&1 | head -2
exec python3 -m bench.gpu --out "$OUT" "$@"  # -m: bench/operator.py must not shadow the stdlib
