"""The real thing, end to end: the plugin ZIP in a throwaway QGIS profile, its own installer running the real
pip for Debian's ``/usr/bin/python3`` (QGIS's Python, with Debian's sympy 1.11 that breaks torch when it
wins), then ``spex:extract`` with the ``spex`` engine on a tiny checkpoint, in the same QGIS session (no
restart) and in a fresh one; then unload/reload.

Nothing of the repository or the .venv is on the path of those processes. pip's configuration and cache are
the machine's (a warm cache keeps it to about a minute). Deselect with ``-m "not real_install"``.
Measurements are printed (``-s``) as ``METRICS {...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
import zipfile

import pytest

import build_plugin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = [
    pytest.mark.timeout(2700),
    pytest.mark.real_install,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="needs Debian's python3 with QGIS"),
]

# Shared by both QGIS processes: a QGIS application, an iface stand-in, the plugin loaded the way QGIS does.
BOOT = textwrap.dedent(
    r"""
    import gc, json, os, sys, time, weakref
    from qgis.core import QgsApplication
    from qgis.PyQt.QtWidgets import QMainWindow
    from qgis.gui import QgsMapCanvas

    app = QgsApplication([], True)
    app.initQgis()
    report = {}
    plugins_dir = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "plugins")
    sys.path.insert(0, plugins_dir)
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    import matplotlib  # noqa: F401  as on a stock Debian QGIS (Debian's sympy 1.11 is importable)

    class Iface:
        def __init__(self):
            self.window = QMainWindow()
            self.canvas = QgsMapCanvas(self.window)
        def mainWindow(self): return self.window
        def mapCanvas(self): return self.canvas
        def addToolBar(self, name): return self.window.addToolBar(name)
        def addDockWidget(self, area, dock): self.window.addDockWidget(area, dock)
        def removeDockWidget(self, dock): self.window.removeDockWidget(dock)
        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    import qgis.utils
    from processing.core.Processing import Processing
    Processing.initialize()
    qgis.utils.iface = Iface()
    qgis.utils.plugin_paths = [plugins_dir]
    qgis.utils.updateAvailablePlugins()

    def load():
        assert qgis.utils.loadPlugin("spex_qgis") and qgis.utils.startPlugin("spex_qgis")
        return qgis.utils.plugins["spex_qgis"]

    def rss_mb():
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

    def spex_run(out):
        import processing
        t0 = time.perf_counter()
        result = processing.run("spex:extract", {
            "INPUT": RASTER, "PROMPT": "extract the water bodies", "ENGINE": "spex", "MODEL_DIR": MODEL,
            "DEVICE": "cpu", "OUTPUT": out})
        return time.perf_counter() - t0, result

    def origin(name):
        module = sys.modules.get(name)
        return os.path.realpath(module.__file__) if module is not None else None
    """
)

# Process 1: install with the plugin's own installer, then run in the same session; unload; reload.
INSTALL_AND_RUN = textwrap.dedent(
    r"""
    plugin = load()
    from spex_qgis import deps
    report["deps_folder"] = deps.deps_folder()
    report["python"] = deps.find_python()
    plan = deps.install_plan()
    report["plan_notes"] = list(plan.notes)
    log = []
    t0 = time.perf_counter()
    check = deps.run_install(plan, log=log.append)
    report["install_seconds"] = time.perf_counter() - t0
    report["install_log_tail"] = log[-12:]
    report["installed"] = [line for line in log if line.startswith("[2/3]")]
    report["check"] = check
    again = []
    t0 = time.perf_counter()
    deps.run_install(plan, log=again.append)
    report["reinstall_seconds"] = time.perf_counter() - t0
    report["reinstall"] = [line for line in again if line.startswith("[2/3]")]
    report["status"] = deps.spex_engine_status()
    report["status_line"] = deps.engine_status_line()
    seconds, result = spex_run(os.path.join(os.getcwd(), "first.gpkg"))
    report["same_session_seconds"] = seconds
    report["same_session"] = {k: result[k] for k in ("CLASS", "FEATURES", "EXPLANATION")}
    report["torch_file"] = origin("torch")
    report["sympy_file"] = origin("sympy")
    report["numpy_file"] = origin("numpy")
    engine = sys.modules["model_runtime.engines.spex_engine"]
    loaded = next(iter(engine._CACHE.values()))
    report["vision_backend"] = loaded.vision.backend
    model_ref = weakref.ref(loaded.model)
    del loaded, engine
    report["rss_before_unload_mb"] = rss_mb()
    report["unloaded"] = qgis.utils.unloadPlugin("spex_qgis")
    gc.collect()
    report["rss_after_unload_mb"] = rss_mb()
    report["model_alive_after_unload"] = model_ref() is not None
    report["modules_after_unload"] = sorted(
        m for m in sys.modules if m.split(".")[0] in ("model_runtime", "spex_qgis"))
    report["deps_on_path_after_unload"] = report["deps_folder"] in sys.path
    # A reinstalled plugin must run its new code: change the installed runtime, load again.
    init = os.path.join(plugins_dir, "spex_qgis", "model_runtime", "__init__.py")
    with open(init, "a", encoding="utf-8") as handle:
        handle.write("\nRELOAD_MARKER = 'new code'\n")
    load()
    import model_runtime
    report["marker_after_reload"] = getattr(model_runtime, "RELOAD_MARKER", None)
    report["deps_first_after_reload"] = sys.path[0] == report["deps_folder"]
    qgis.utils.unloadPlugin("spex_qgis")
    print("REPORT " + json.dumps(report))
    app.exitQgis()
    """
)

# Process 2: a fresh QGIS session on the installed profile: first and second run.
FRESH_RUNS = textwrap.dedent(
    r"""
    load()
    from spex_qgis import deps
    report["status"] = deps.spex_engine_status()
    report["first_seconds"], first = spex_run(os.path.join(os.getcwd(), "fresh1.gpkg"))
    report["second_seconds"], second = spex_run(os.path.join(os.getcwd(), "fresh2.gpkg"))
    report["first"] = {k: first[k] for k in ("CLASS", "FEATURES", "EXPLANATION", "OUTPUT")}
    report["second_features"] = second["FEATURES"]
    report["torch_file"] = origin("torch")
    report["onnxruntime_file"] = origin("onnxruntime")
    report["deps_folder"] = deps.deps_folder()
    engine = sys.modules["model_runtime.engines.spex_engine"]
    loaded = next(iter(engine._CACHE.values()))
    report["vision_backend"] = loaded.vision.backend
    report["vision_provider"] = loaded.vision.provider
    print("REPORT " + json.dumps(report))
    app.exitQgis()
    """
)


def _run_qgis(script: str, config, work, env, timeout: int):
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(lines[-1][len("REPORT ") :])


def _du_mb(folder: str) -> float:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        total += sum(os.lstat(os.path.join(dirpath, f)).st_size for f in files)
    return total / 2**20


@pytest.fixture(scope="module")
def talking_checkpoint(tmp_path_factory):
    """The tiny random checkpoint (released layout) whose seed-2 LLM produces text and a mask."""
    pytest.importorskip("torch")
    from tests.spex.tools.make_test_checkpoint import write_checkpoint

    return write_checkpoint(str(tmp_path_factory.mktemp("spex") / "tiny2"), tiny=True, seed=2)


def test_plugin_installs_the_spex_engine_and_runs_it_in_qgis(tmp_path, talking_checkpoint, l7_sample):
    # the real Landsat 7 sample (one 512 px tile, water in it): the seed-2 tiny model's mask survives the
    # cleanup there with the released decoder (on the mostly no-data Sentinel-2 subset it leaves nothing)
    config = tmp_path / "qgis_config"
    plugins = config / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(build_plugin.build(str(tmp_path / "dist"))) as archive:
        archive.extractall(plugins)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        QGIS_CUSTOM_CONFIG_PATH=str(config),
        PYTHONDONTWRITEBYTECODE="1",
        SPEX_CACHE_DIR=str(tmp_path / "cache"),
    )
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    head = f"RASTER = {l7_sample!r}\nMODEL = {talking_checkpoint!r}\n" + BOOT

    t0 = time.perf_counter()
    first = _run_qgis(head + INSTALL_AND_RUN, config, work, env, timeout=1500)
    deps = first["deps_folder"]
    assert deps == str(config / "profiles" / "default" / "python" / "spex_deps")
    assert first["python"] == SYSTEM_PYTHON or os.path.realpath(first["python"]) == os.path.realpath(
        SYSTEM_PYTHON
    )
    check = first["check"]
    assert check["ok"], (check, first["install_log_tail"])
    assert check["modules"]["torch"]["in_deps"] and check["modules"]["onnx"]["version"]
    assert not check["numpy"]["in_deps"]  # QGIS's numpy, the one GDAL's bindings are built against
    assert not os.path.isdir(os.path.join(deps, "numpy"))
    assert first["status"][0], first["status"]
    assert first["reinstall"] == [  # idempotent: what the folder has counts as installed
        "[2/3] nothing to install: QGIS's Python and the plugin folder have everything."
    ]
    assert "plugin folder" in first["status_line"] and "ONNX Runtime" in first["status_line"]
    # Same session, no restart: torch and sympy from the plugin folder, numpy from QGIS's.
    assert first["same_session"]["CLASS"] == "water" and first["same_session"]["FEATURES"] > 0
    assert first["torch_file"].startswith(os.path.realpath(deps) + os.sep)
    assert first["sympy_file"].startswith(os.path.realpath(deps) + os.sep)
    assert not first["numpy_file"].startswith(os.path.realpath(deps))
    assert first["vision_backend"] == "onnxruntime"
    assert "ONNX Runtime" in first["same_session"]["EXPLANATION"]
    # Unload frees the model, forgets the plugin's modules and its sys.path entry; reload runs new code.
    assert first["unloaded"] and not first["model_alive_after_unload"]
    assert first["modules_after_unload"] == [] and not first["deps_on_path_after_unload"]
    assert first["marker_after_reload"] == "new code" and first["deps_first_after_reload"]

    second = _run_qgis(head + FRESH_RUNS, config, work, env, timeout=900)
    assert second["status"][0], second["status"]
    assert second["first"]["FEATURES"] > 0 and second["second_features"] == second["first"]["FEATURES"]
    assert second["torch_file"].startswith(os.path.realpath(deps) + os.sep)
    assert second["onnxruntime_file"].startswith(os.path.realpath(deps) + os.sep)
    assert second["vision_backend"] == "onnxruntime" and second["vision_provider"] == "CPUExecutionProvider"
    metrics = {
        "install_seconds": round(first["install_seconds"], 1),
        "installed": first["installed"],
        "plan_notes": first["plan_notes"],
        "reinstall_seconds": round(first["reinstall_seconds"], 1),
        "deps_disk_mb": round(_du_mb(deps)),
        "same_session_run_seconds": round(first["same_session_seconds"], 2),
        "fresh_first_run_seconds": round(second["first_seconds"], 2),
        "fresh_second_run_seconds": round(second["second_seconds"], 2),
        "rss_before_unload_mb": round(first["rss_before_unload_mb"]),
        "rss_after_unload_mb": round(first["rss_after_unload_mb"]),
        "status_line": first["status_line"],
        "whole_test_seconds": round(time.perf_counter() - t0, 1),
    }
    print("METRICS " + json.dumps(metrics))
