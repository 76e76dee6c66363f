"""Architecture rules: the runtime never imports QGIS/Qt, and the spectral path never imports torch."""

import ast
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "model_runtime"


def test_no_qgis_or_qt_import_in_model_runtime():
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("qgis", "PyQt5", "PyQt6")]
    assert offenders == []


def test_spectral_extraction_imports_neither_qgis_nor_torch(aerial_sample, tmp_path):
    output = str(tmp_path / "v.gpkg")
    code = (
        "import sys\n"
        "from model_runtime import extract, ExtractRequest\n"
        f"r = extract(ExtractRequest({str(aerial_sample)!r}, 'extract the vegetation', output={output!r}))\n"
        "assert r.features > 0\n"
        "heavy = ('qgis', 'PyQt5', 'torch', 'onnxruntime', 'transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
