#!/usr/bin/env bash
# The prepared GPU check (issue 20; docs/gpu.md): images/s of ERM, CIS and CIP on the paper
# profile (ResNet-18, 224 px), harness/bare, host reads per step, 1/2/4 folds per GPU, the
# share of time the GPU is busy and one LODO fold's time. Exits 2 with one line without CUDA.
#   benchmarks/gpu.sh                 # from the repository root
#   GPU_DATA=suite GPU_EPOCHS=2 benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
exec "$PY" benchmarks/gpu_bench.py "$@"
