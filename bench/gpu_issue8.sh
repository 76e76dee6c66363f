#!/usr/bin/env bash
# Issue 8, item 6 on a GPU machine (prepared; NOT run on the CPU-only build machine):
#   1. the GPU tests (CUDA-graph decode, GPU paths),
#   2. the official parity check on the GPU: fp32 model, ONNX Runtime CUDA provider, CUDA-graph decode,
#   3. a whole 10980 x 10980 Sentinel-2-like scene end to end (tiles/s, peak GPU memory), bf16 (auto).
# Needs torch (CUDA build), transformers 4.57.x, onnxruntime-gpu and ../shared/spex_official_ref:
#     PYTHON=.venv/bin/python bash bench/gpu_issue8.sh out/gpu8
set -u
out=${1:-out/gpu8}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
$py -m pytest -q -rs -p no:cacheprovider --confcutdir tests/spex \
    tests/spex/test_static_decode.py tests/spex/test_gpu_paths.py 2>&1 | tee "$out/gpu_tests.log" | tail -15
SPEX_DECODE=graph $py bench/official_parity.py --device cuda 2>&1 | tee "$out/parity_cuda.log" | tail -45
$py bench/gpu_scene.py --model "${SPEX_PARITY_CACHE:-$HOME/.cache/spex-for-qgis}/official-ref-ckpt" \
    --device cuda --json "$out/scene.json" --workdir "$out/scene" 2>&1 | tee "$out/scene.log" | tail -30
