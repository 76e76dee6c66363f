"""The bench and setup scripts import runtime names that exist (a module move must update them too).

They run outside the test suite (bench/*.py on demand, scripts/*.py at setup), often with lazy imports inside
functions, so a renamed module shows up only when somebody runs them: `bench/spectral_bench.py` kept loading
``model_runtime.writers`` for a round after it moved to ``model_runtime.vector.writers``.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*REPO.glob("bench/*.py"), *REPO.glob("scripts/*.py")])


def _runtime_imports(path: Path):
    """(module, name or None) for every ``model_runtime`` import in ``path``, at any depth, plus the module
    names given to importlib as ``f"model_runtime.{name}"`` over a literal tuple."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "model_runtime":
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "model_runtime":
                    yield alias.name, None
    for match in re.finditer(r'importlib\.import_module\(f"model_runtime\.\{name\}"\)', path.read_text()):
        loop = re.search(r"for name in \(([^)]*)\)", path.read_text()[: match.start()][-400:])
        for name in re.findall(r'"([\w.]+)"', loop.group(1) if loop else ""):
            yield f"model_runtime.{name}", None


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_imports_resolve(path):
    missing = []
    for module, name in _runtime_imports(path):
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            if "torch" in str(exc) or "onnx" in str(exc):  # optional heavy dependencies
                continue
            missing.append(f"{module} ({exc})")
            continue
        if name and name != "*" and not hasattr(loaded, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert not missing, f"{path.relative_to(REPO)} imports what does not exist: {missing}"
