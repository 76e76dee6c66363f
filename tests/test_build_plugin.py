"""Build the plugin ZIP, check its content, install it into a fresh QGIS profile and run it there.

The installed plugin runs in a separate, plain Debian ``/usr/bin/python3`` (not the venv, not the repository
on ``sys.path``): the vendored runtime, icon, translations and Processing must work from the ZIP alone.
"""

import configparser
import json
import os
import subprocess
import textwrap
import zipfile

import pytest

import build_plugin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    return build_plugin.build(str(tmp_path_factory.mktemp("dist")))


def _sources(package):
    out = set()
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, package)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py"):
                out.add(os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/"))
    return out


def test_zip_name_and_layout(plugin_zip):
    version = build_plugin.plugin_version()
    assert os.path.basename(plugin_zip) == f"spex_qgis-{version}.zip"
    with zipfile.ZipFile(plugin_zip) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
    assert all(n.startswith("spex_qgis/") for n in names)
    for required in (
        "spex_qgis/__init__.py",
        "spex_qgis/plugin.py",
        "spex_qgis/metadata.txt",
        "spex_qgis/LICENSE",
        "spex_qgis/resources/icons/spex.svg",
        "spex_qgis/i18n/spex_qgis_zh_CN.qm",
        "spex_qgis/model_runtime/__init__.py",
        "spex_qgis/model_runtime/pipeline.py",
        "spex_qgis/model_runtime/spex/loading/pretrained.py",
        "spex_qgis/model_runtime/engines/composite.py",
        "spex_qgis/processing/extract_algorithm.py",
    ):
        assert required in names, required
    # the random test checkpoint writer is a test tool: not in the plugin
    assert [n for n in names if "make_test_checkpoint" in n] == []
    expected = _sources("spex_qgis")
    expected |= {"spex_qgis/" + p for p in _sources("model_runtime")}
    assert expected <= names, sorted(expected - names)[:5]
    bad = [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".ts")) or "/tests/" in n]
    assert bad == []


def test_metadata_is_complete(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as archive:
        text = archive.read("spex_qgis/metadata.txt").decode("utf-8")
        names = set(archive.namelist())
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    meta = parser["general"]
    for key in (
        "name",
        "qgisMinimumVersion",
        "description",
        "about",
        "version",
        "author",
        "email",
        "tags",
        "homepage",
        "tracker",
        "repository",
        "category",
        "icon",
        "experimental",
        "changelog",
    ):
        assert meta.get(key, "").strip(), key
    assert meta["qgisMinimumVersion"] == "3.22" and meta["hasProcessingProvider"] == "yes"
    assert "spex_qgis/" + meta["icon"] in names
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        assert (
            f'\nversion = "{meta["version"]}"\n' in handle.read()
        )  # one version for the package and the plugin


def test_pure_python_qm_writer_builds_too(tmp_path, monkeypatch):
    monkeypatch.setattr(build_plugin, "find_lrelease", lambda: None)
    path = build_plugin.build(str(tmp_path))
    with zipfile.ZipFile(path) as archive:
        qm = archive.read("spex_qgis/i18n/spex_qgis_zh_CN.qm")
    assert qm[:16] == build_plugin._QM_MAGIC and len(qm) > 1000


def test_existing_zip_is_replaced_atomically(tmp_path):
    first = build_plugin.build(str(tmp_path))
    second = build_plugin.build(str(tmp_path))
    assert first == second and zipfile.is_zipfile(second)
    assert [n for n in os.listdir(tmp_path) if not n.endswith(".zip")] == []


RUN_IN_FRESH_QGIS = textwrap.dedent(
    r"""
    import json, os, sys
    import numpy as np
    from osgeo import gdal, osr
    from qgis.core import QgsApplication, QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication
    from qgis.PyQt.QtWidgets import QMainWindow
    from qgis.gui import QgsMapCanvas

    app = QgsApplication([], True)
    app.initQgis()
    report = {"sys_path_has_repo": any(os.path.abspath(p or ".").startswith(REPO) for p in sys.path)}
    settings = QgsSettings()
    settings.setValue("locale/overrideFlag", True)
    settings.setValue("locale/userLocale", "zh-Hans")
    plugins_dir = os.path.join(QgsApplication.qgisSettingsDirPath(), "python", "plugins")
    report["plugins_dir"] = plugins_dir
    sys.path.insert(0, plugins_dir)
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))  # processing, like QGIS

    class Iface:
        def __init__(self):
            self.window = QMainWindow()
            self.canvas = QgsMapCanvas(self.window)
            self.menus = []
        def mainWindow(self): return self.window
        def mapCanvas(self): return self.canvas
        def addToolBar(self, name): return self.window.addToolBar(name)
        def addPluginToRasterMenu(self, menu, action): self.menus.append(action)
        def removePluginRasterMenu(self, menu, action): self.menus.remove(action)
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
    report["available"] = "spex_qgis" in qgis.utils.available_plugins
    report["loaded"] = qgis.utils.loadPlugin("spex_qgis")
    report["started"] = qgis.utils.startPlugin("spex_qgis")
    plugin = qgis.utils.plugins["spex_qgis"]
    import spex_qgis, model_runtime
    report["plugin_file"] = spex_qgis.__file__
    report["runtime_file"] = model_runtime.__file__
    report["heavy_imported"] = [m for m in ("torch", "transformers", "onnxruntime") if m in sys.modules]
    report["menu_actions"] = len(qgis.utils.iface.menus)
    report["action_text"] = plugin.toggle_action.text()
    report["provider"] = QgsApplication.processingRegistry().providerById("spex") is not None
    plugin.toggle_action.setChecked(True)
    report["dock"] = type(plugin.dock).__name__

    path = os.path.join(os.getcwd(), "rgbn.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 40, 40, 4, gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 10, 0, 4600000, 0, -10))
    srs = osr.SpatialReference(); srs.ImportFromEPSG(32633); ds.SetProjection(srs.ExportToWkt())
    for band, (veg, water) in enumerate(((0.04, 0.08), (0.08, 0.07), (0.05, 0.04), (0.35, 0.02))):
        data = np.full((40, 40), veg, np.float32); data[5:25, 10:30] = water
        ds.GetRasterBand(band + 1).WriteArray(data)
    ds = None
    import processing
    out = os.path.join(os.getcwd(), "w.gpkg")
    result = processing.run("spex:extract", {"INPUT": path, "PROMPT": "提取水体",
                            "BANDS": "blue=1,green=2,red=3,nir=4", "OUTPUT": out})
    report["result"] = {k: result[k] for k in ("CLASS", "FEATURES", "AREA_M2")}

    report["unloaded"] = qgis.utils.unloadPlugin("spex_qgis")
    report["provider_after_unload"] = QgsApplication.processingRegistry().providerById("spex") is not None
    report["menu_actions_after_unload"] = len(qgis.utils.iface.menus)
    print("REPORT " + json.dumps(report, ensure_ascii=False))
    app.exitQgis()
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="needs Debian's python3 with QGIS")
def test_zip_installs_and_runs_in_a_fresh_profile(plugin_zip, tmp_path):
    config = tmp_path / "qgis_config"
    plugins = config / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(config), PYTHONDONTWRITEBYTECODE="1")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    script = f"REPO = {ROOT!r}\n" + RUN_IN_FRESH_QGIS
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=240
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT ") :])
    assert report["plugins_dir"] == str(plugins)
    assert not report["sys_path_has_repo"]
    assert report["available"] and report["loaded"] and report["started"]
    assert report["plugin_file"].startswith(str(plugins / "spex_qgis"))
    assert report["runtime_file"].startswith(str(plugins / "spex_qgis" / "model_runtime"))
    assert report["heavy_imported"] == []
    assert report["menu_actions"] == 2 and report["provider"] and report["dock"] == "SpexDockWidget"
    assert report["action_text"] == "SPEX 提取面板"  # the .qm from the ZIP is used
    assert report["result"]["CLASS"] == "water" and report["result"]["FEATURES"] == 1
    assert report["result"]["AREA_M2"] == pytest.approx(20 * 20 * 100, rel=0.05)
    assert report["unloaded"] and not report["provider_after_unload"]
    assert report["menu_actions_after_unload"] == 0
