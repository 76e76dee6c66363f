"""The official parity check (bench/official_parity.py) as part of the test suite.

It rebuilds the official random-weight reference checkpoint in a cache outside the repository (once), runs our
SpexModel with the torch and the ONNX Runtime vision encoders on the reference input, and compares every stage
with the official code's outputs. Skipped only when the script says it cannot run here (no reference, or
torch's random stream on this CPU differs from the one the checkpoint was made with).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "official_parity.py")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_official_parity_torch_and_onnx():
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, cwd=ROOT)
    print(proc.stdout)  # the stage table, shown with -s or on failure
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "PASS: torch, onnx match the official outputs" in proc.stdout
