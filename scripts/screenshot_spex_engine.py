"""Drive the real QGIS desktop for docs/screenshot_spex_engine.png (run by scripts/screenshot_spex_engine.sh).

QGIS runs this with ``--code`` on a throwaway profile that holds the plugin installed from its ZIP and the
SPEX engine's packages installed by the plugin's own installer. The script loads the plugin as QGIS does,
opens the aerial sample, picks the ``spex`` engine on a tiny test checkpoint, runs it from the panel, and
grabs the window once the result is in: the panel's engine line shows the runtime and the device.
"""

import os
import sys

SAMPLE = os.environ["SPEX_SCREENSHOT_RASTER"]
MODEL = os.environ["SPEX_SCREENSHOT_MODEL"]
OUT = os.environ["SPEX_SCREENSHOT_OUT"]
# the shared helpers live next to this script (QGIS runs it from the repository root: see the .sh wrapper)
SCRIPTS = os.path.join(os.environ.get("SPEX_REPO") or os.getcwd(), "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

from desktop_helpers import guarded_by, hard_exit, make_log  # noqa: E402
from qgis.core import QgsProject, QgsRasterLayer  # noqa: E402
from qgis.PyQt.QtCore import Qt, QTimer  # noqa: E402
from qgis.PyQt.QtWidgets import QDockWidget  # noqa: E402
from qgis.utils import iface  # noqa: E402

STATE = {}


log = make_log("screenshot")


def quit_qgis(status: int) -> None:
    """Leave QGIS with ``status``."""
    log(f"exit {status}")
    hard_exit(status)


guarded = guarded_by(lambda: quit_qgis(1))  # a failed step ends the run with status 1


@guarded
def step_load() -> None:
    import qgis.utils

    qgis.utils.updateAvailablePlugins()
    if not (qgis.utils.loadPlugin("spex_qgis") and qgis.utils.startPlugin("spex_qgis")):
        log("the plugin did not load from the profile")
        quit_qgis(1)
    plugin = qgis.utils.plugins["spex_qgis"]
    import spex_qgis

    log(f"plugin from {os.path.dirname(spex_qgis.__file__)}")
    layer = QgsRasterLayer(SAMPLE, "aerial_rgbn")
    if not layer.isValid():
        log("sample raster missing: run `make samples`")
        quit_qgis(1)
    QgsProject.instance().addMapLayer(layer)
    iface.mapCanvas().setDestinationCrs(layer.crs())
    iface.mapCanvas().setExtent(layer.extent())
    plugin.set_panel_visible(True)
    dock = plugin.dock
    STATE["dock"] = dock
    dock.layer_combo.setLayer(layer)
    dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spex"))
    dock.model_widget.setFilePath(MODEL)
    dock.device_combo.setCurrentIndex(dock.device_combo.findData("auto"))
    dock.prompt_combo.setEditText("extract the water bodies")
    window = iface.mainWindow()
    window.setGeometry(0, 0, 1600, 1000)
    for other in window.findChildren(QDockWidget):
        if other.objectName() not in ("Layers", "SpexDockWidget"):
            other.hide()
    window.resizeDocks([dock], [520], Qt.Horizontal)
    log(f"engine line: {dock.engine_status.text()}")
    QTimer.singleShot(1500, step_run)


@guarded
def step_run() -> None:
    dock = STATE["dock"]
    dock.runFinished.connect(lambda: QTimer.singleShot(1000, step_grab))
    dock.errorOccurred.connect(lambda message: (log(f"panel error: {message}"), quit_qgis(1)))
    log("running the spex engine from the panel")
    if dock.run() is None:
        log("the panel refused to run")
        quit_qgis(1)


@guarded
def step_grab() -> None:
    dock = STATE["dock"]
    text = dock.engine_status.text()
    log(f"engine line after the run: {text}")
    engine = sys.modules["model_runtime.engines.spex_engine"]
    loaded = next(iter(engine._CACHE.values()))
    log(f"vision encoder: {loaded.vision.describe()}; torch: {sys.modules['torch'].__file__}")
    if "ONNX Runtime" not in text or loaded.vision.backend != "onnxruntime":
        log("the engine line or the runtime is not ONNX Runtime")
        quit_qgis(1)
    for box in dock.findChildren(object):  # the Engine box open (its line is the point), room made for it
        if type(box).__name__ == "QgsCollapsibleGroupBox":
            keep_open = (dock.tr("Engine"), dock.tr("Explanation"), dock.tr("Prompt"))
            box.setCollapsed(box.title() not in keep_open)
    dock.refresh_engine_status()  # expanding a QgsCollapsibleGroupBox re-shows children hidden before
    iface.layerTreeView().expandAll()
    iface.mapCanvas().refreshAllLayers()
    QTimer.singleShot(2500, lambda: save(iface.mainWindow().grab()))


@guarded
def save(pixmap) -> None:
    tmp = OUT + ".tmp.png"
    if not pixmap.save(tmp, "PNG"):
        log(f"cannot write {OUT}")
        quit_qgis(1)
    os.replace(tmp, OUT)
    log(f"wrote {OUT} ({pixmap.width()}x{pixmap.height()})")
    quit_qgis(0)


QTimer.singleShot(420_000, lambda: (log("watchdog: gave up after 420 s"), quit_qgis(1)))
QTimer.singleShot(2000, step_load)
