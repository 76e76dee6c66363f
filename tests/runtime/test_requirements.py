"""One list of optional packages (model_runtime.requirements): the files that cannot import it agree with it,
and the places that name a package read it."""

from __future__ import annotations

import os

import pytest

from model_runtime import requirements
from model_runtime.requirements import REQUIREMENTS, TORCH_VERSION, pip_install, requirement

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pyproject_extras_are_the_list():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    features = {name: specs for name, specs in extras.items() if name != "dev"}
    assert features == requirements.extras()
    assert set(extras["dev"]) >= {f"spex-qgis[{','.join(requirements.FEATURES)}]"}


def test_constraints_pin_the_same_torch():
    with open(os.path.join(ROOT, "scripts", "constraints.txt"), encoding="utf-8") as handle:
        pins = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    torch = [p for p in pins if p.startswith("torch")]
    assert torch == [requirement("torch").spec] == [f"torch=={TORCH_VERSION}"]


def test_parity_ranges_are_the_pins():
    from model_runtime.spex.runtime import fidelity

    for dist, (low, high) in fidelity.VERIFIED.items():
        spec = requirement(dist).spec
        if dist == "torch":
            assert spec == f"torch=={low}", spec
        else:
            assert spec == f"{dist}>={low},<{high}", spec


def test_hints_and_checks_read_the_list():
    from model_runtime.batching import cluster
    from model_runtime.engines import spex_engine
    from model_runtime.spex.loading import device

    assert pip_install(["torch"]) == 'pip install "torch==2.13.0"' == device.TORCH_PIP
    assert cluster.PIP_BATCH == 'pip install "dask[distributed]>=2024.1" "rich>=13"'
    assert spex_engine.PIP_SPEX == pip_install(feature="spex")
    assert requirements.required_modules("spex") == ["torch", "transformers", "safetensors", "tokenizers"]
    assert requirements.optional_modules("spex") == ["onnxruntime", "onnx", "accelerate"]
    assert len({r.module for r in REQUIREMENTS}) == len(REQUIREMENTS)


def test_loads_by_path_without_the_package():
    """The plugin's installer runs under QGIS's own Python and loads the file by path: stdlib only."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('r', {requirements.__file__!r}); "
        "m = importlib.util.module_from_spec(spec); sys.modules['r'] = m; spec.loader.exec_module(m); "
        "print(m.required_modules('spex'), 'numpy' in sys.modules, 'model_runtime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['torch', 'transformers', 'safetensors', 'tokenizers'] False False"
