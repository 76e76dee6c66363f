#!/usr/bin/env bash
# The SPEX engine's GPU checks and figures in one go: the CUDA tests, then the per-tile benchmark
# (real-size random checkpoint, 64 new tokens, 2 rounds). Needs a Python with torch (CUDA build),
# transformers<5 and onnxruntime-gpu:
#     PYTHON=.venv/bin/python bash bench/gpu_check.sh out/gpu      (ROUNDS=1 for a quicker run)
set -u
out=${1:-out/gpu}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
$py -c "import torch, transformers, onnxruntime as o; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'onnxruntime', o.__version__, o.get_available_providers())" | tee -a "$out/gpu.txt"
$py -m pytest -q -rs -p no:cacheprovider --confcutdir tests/spex \
    tests/spex/test_static_decode.py tests/spex/test_gpu_paths.py 2>&1 | tee "$out/gpu_tests.log" | tail -25
$py bench/spex_bench.py --device cuda --new-tokens 64 --rounds "${ROUNDS:-2}" --json "$out/gpu_bench.json" 2>&1 \
    | tee "$out/gpu_bench.log"
