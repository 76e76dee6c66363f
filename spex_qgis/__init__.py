"""SPEX for QGIS: prompt-driven land-cover extraction from multispectral rasters.

QGIS imports this package and calls :func:`classFactory`. Importing it must stay cheap: no torch, no
transformers, no GDAL work, only making the runtime package importable.
"""

import importlib.util
import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
RUNTIME_PACKAGE = "model_runtime"


def ensure_runtime_importable() -> str:
    """Make ``import model_runtime`` work and return the folder it is imported from.

    In the plugin ZIP the runtime is vendored as ``spex_qgis/model_runtime/``: it is registered under its
    top-level name so the plugin and the runtime share one copy, without putting the plugin folder on
    ``sys.path`` (its ``processing`` sub-package would shadow QGIS's own ``processing``). In a source
    checkout (no vendored copy) the regular ``model_runtime`` next to the plugin is used.
    """
    loaded = sys.modules.get(RUNTIME_PACKAGE)
    if loaded is not None:
        return os.path.dirname(os.path.abspath(loaded.__file__))
    vendored = os.path.join(PLUGIN_DIR, RUNTIME_PACKAGE)
    init_file = os.path.join(vendored, "__init__.py")
    if os.path.isfile(init_file):
        spec = importlib.util.spec_from_file_location(
            RUNTIME_PACKAGE, init_file, submodule_search_locations=[vendored]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[RUNTIME_PACKAGE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[RUNTIME_PACKAGE]
            raise
        return vendored
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(
            "SPEX: the model_runtime package is missing: reinstall the plugin from its ZIP "
            "(or run 'pip install -e .' in a source checkout)"
        )
    return os.path.dirname(spec.origin)


def resource_path(*parts: str) -> str:
    """Path of a plugin resource (``resources/...``, ``i18n/...``, ``metadata.txt``).

    Inside the installed plugin they sit in the plugin folder; in a source checkout at the repository root.
    Returns the first existing candidate, else the in-plugin path.
    """
    inside = os.path.join(PLUGIN_DIR, *parts)
    if os.path.exists(inside):
        return inside
    in_repo = os.path.join(os.path.dirname(PLUGIN_DIR), *parts)
    return in_repo if os.path.exists(in_repo) else inside


# At import time: the plugin's modules import ``model_runtime`` at their top.
RUNTIME_DIR = ensure_runtime_importable()


def classFactory(iface):
    """QGIS plugin entry point: return the plugin instance for ``iface``."""
    from .deps import add_deps_to_sys_path

    add_deps_to_sys_path()
    from .plugin import SpexPlugin

    return SpexPlugin(iface)
