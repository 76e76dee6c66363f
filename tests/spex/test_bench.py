"""bench/spex_bench.py runs end to end on a tiny checkpoint (child processes, table, JSON)."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_tiny_exact_and_int8(tiny_checkpoint, tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, os.path.join(ROOT, "bench", "spex_bench.py"), "--model", tiny_checkpoint]
    cmd += ["--configs", "exact,int8", "--new-tokens", "3", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "END TO END (one tile)" in proc.stdout and "int8 vs fp32" in proc.stdout
    data = json.loads(out.read_text())
    for name in ("exact", "int8"):
        r = data[name]
        assert r["peak_rss_gib"] > 0 and r["total"] >= r["prefill"] > 0
        assert r["torch_vision_encoder_loaded"] is False and "ONNX Runtime" in r["vision_runtime"]
    fid = data["int8"]["fidelity"]
    assert 0 <= fid["mask_iou_free_run"] <= 1 and fid["reference_tokens"] == len(data["exact"]["tokens"])
