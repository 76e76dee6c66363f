"""The optional packages, in one list: what each feature needs, pinned as the project tests it.

Read by the QGIS plugin's installer and import check (``spex_qgis/deps.py``, ``spex_qgis/installer.py``),
the spex engine's availability check (``engines/spex_engine.py``), ``spex doctor`` and every "pip install"
hint. ``pyproject.toml``'s ``[project.optional-dependencies]`` and ``scripts/constraints.txt`` cannot import
Python: ``tests/runtime/test_requirements.py`` checks that they say the same.

Features: ``spex`` (the neural engine) and ``batch`` (``spex batch`` on dask). ``required=False`` marks a
package the feature runs without, which the plugin still installs because it helps:

* ``onnxruntime`` and ``onnx`` are **recommended, not required**. The vision encoder runs on ONNX Runtime
  when it is importable (1.15-1.18x faster on the CPU, the CUDA provider on a GPU; ``onnx`` makes the one-off
  export) and in torch otherwise, with a warning; the plugin's readiness check, ``spex doctor`` (a ``warn``
  line) and the engine agree on that. The plugin's installer installs both.
* ``accelerate`` is needed only when the model does not fit in GPU memory (layers offloaded to the CPU).

Standard library only and no relative import: ``installer.py`` runs under QGIS's own Python, which may
lack numpy, and loads this file by its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

TORCH_VERSION = "2.13.0"  # the CPU wheel on the build machines; a GPU machine takes the CUDA build of it


@dataclass(frozen=True)
class Requirement:
    """One optional package: import name, pip distribution name(s), pip specifier, minimum version."""

    module: str  # import name
    dists: Tuple[str, ...]  # distributions that provide ``module`` (first = what is installed)
    spec: str  # pip requirement text, as in pyproject.toml
    min_version: str  # the oldest version accepted when it is already installed (e.g. QGIS's own torch)
    required: bool = True  # False: the feature runs without it (see the module docstring)
    feature: str = "spex"  # "spex" | "batch"


REQUIREMENTS: Tuple[Requirement, ...] = (
    Requirement("torch", ("torch",), f"torch=={TORCH_VERSION}", "2.1"),
    # the ranges bench/official_parity.py passed on (spex/runtime/fidelity.py VERIFIED)
    Requirement("transformers", ("transformers",), "transformers>=4.57.6,<4.58", "4.57.6"),
    Requirement("safetensors", ("safetensors",), "safetensors>=0.4", "0.4"),
    Requirement("tokenizers", ("tokenizers",), "tokenizers>=0.22.2,<0.23", "0.22.2"),
    Requirement(
        "onnxruntime", ("onnxruntime", "onnxruntime-gpu"), "onnxruntime>=1.19", "1.19", required=False
    ),
    Requirement("onnx", ("onnx",), "onnx>=1.16", "1.16", required=False),  # exports the encoder once
    Requirement("accelerate", ("accelerate",), "accelerate>=1.0", "1.0", required=False),
    Requirement("distributed", ("distributed",), "dask[distributed]>=2024.1", "2024.1", feature="batch"),
    Requirement("rich", ("rich",), "rich>=13", "13", feature="batch"),
)

FEATURES = ("spex", "batch")


def feature_requirements(feature: str) -> Tuple[Requirement, ...]:
    """The :data:`REQUIREMENTS` of ``feature`` (``spex`` or ``batch``), in order."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}: use one of {', '.join(FEATURES)}")
    return tuple(r for r in REQUIREMENTS if r.feature == feature)


def requirement(module: str) -> Requirement:
    """The entry of the package imported as ``module``."""
    for req in REQUIREMENTS:
        if req.module == module:
            return req
    raise KeyError(module)


def required_modules(feature: str) -> List[str]:
    """Import names the feature cannot run without."""
    return [r.module for r in feature_requirements(feature) if r.required]


def optional_modules(feature: str) -> List[str]:
    """Import names the feature uses when present."""
    return [r.module for r in feature_requirements(feature) if not r.required]


def pip_install(modules: Sequence[str] = (), feature: str | None = None) -> str:
    """``pip install "spec" ...`` for ``modules`` (import names) or, with ``feature``, for all of it."""
    reqs = list(feature_requirements(feature)) if feature else [requirement(m) for m in modules]
    return "pip install " + " ".join(f'"{r.spec}"' for r in reqs)


def extras() -> Dict[str, List[str]]:
    """``{feature: [spec, ...]}``: what ``pyproject.toml``'s optional dependencies must list."""
    return {feature: [r.spec for r in feature_requirements(feature)] for feature in FEATURES}
