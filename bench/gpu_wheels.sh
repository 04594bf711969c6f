#!/usr/bin/env bash
# The Python packages bench/gpu.sh carries to the GPU machine, whose image (Python 3.12, torch 2.11,
# transformers 5.17, accelerate, peft, ...) lacks them: wheels in .whl/ (git-ignored), at the versions
# requirements/lock.txt pins.  deepspeed ships only an sdist: its pure-Python wheel is built here.
#
#   bench/gpu_wheels.sh              # fetch/build into .whl/
#   bench/gpu_wheels.sh check PY     # install them as the GPU machine does into a scratch folder and
#                                    # import every module `pro stage …` needs with PY (a Python 3.12
#                                    # that has the image's torch/transformers/accelerate/peft)
set -euo pipefail
cd "$(dirname "$0")/.."

# what the image lacks (pydantic and its parts, trl, datasets and its dill/multiprocess, deepspeed and
# hjson) plus transformers, because the project pins >=5.20 and the image has 5.17
CARRIED=(transformers trl datasets dill multiprocess hjson pydantic pydantic_core annotated-types
         typing-inspection typing_extensions)
pin() {  # NAME -> NAME==VERSION from the lock (names compared with - and _ alike)
  local want; want=$(echo "$1" | tr '_' '-' | tr 'A-Z' 'a-z')
  grep -iE "^[A-Za-z0-9_.-]+==" requirements/lock.txt |
    awk -F'==' -v w="$want" '{n=tolower($1); gsub("_","-",n); if (n==w) print $1"=="$2}'
}

if [[ "${1:-fetch}" == "fetch" ]]; then
  rm -rf .whl && mkdir -p .whl
  specs=()
  for n in "${CARRIED[@]}"; do
    p=$(pin "$n"); [[ -n "$p" ]] || { echo "no pin for $n in requirements/lock.txt" >&2; exit 1; }
    specs+=("$p")
  done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${specs[@]}"
  python3 -m pip wheel -q --no-deps --no-binary=:all: -w .whl "$(pin deepspeed)"
  ls -l .whl && du -sh .whl
  exit 0
fi

if [[ "$1" == "check" ]]; then
  py=${2:?usage: bench/gpu_wheels.sh check PYTHON3.12}
  site=$(mktemp -d)
  trap 'rm -rf "$site"' EXIT
  # exactly the GPU machine's install line (bench/gpu.sh)
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
  PYTHONPATH="$site:$PWD:$PWD/operator" "$py" - <<'EOF'
import sys
import pro.cli, pro.stages.reward, pro.stages.adapter, pro.stages.align, pro.stages.evaluate, pro.align.wic
import pro.eval.report, pro.weights, pro.store
import trl, deepspeed, datasets, transformers, pydantic, peft, accelerate, torch
from trl import GRPOConfig, GRPOTrainer, RewardConfig, RewardTrainer, RLOOTrainer
print("python", sys.version.split()[0], "| torch", torch.__version__, "| transformers", transformers.__version__,
      "| trl", trl.__version__, "| deepspeed", deepspeed.__version__, "| datasets", datasets.__version__,
      "| pydantic", pydantic.__version__, "| peft", peft.__version__, "| accelerate", accelerate.__version__)
print("loaded but not needed on the file:// path:",
      [m for m in ("boto3", "botocore", "kopf", "kubernetes") if m in sys.modules] or "none")
EOF
  exit 0
fi
echo "usage: bench/gpu_wheels.sh [fetch | check PYTHON]" >&2
exit 2
