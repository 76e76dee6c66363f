"""Drive the real QGIS desktop for docs/screenshot.png (run by scripts/screenshot.sh, not by hand).

QGIS executes this file with ``--code`` once its main window is up. The script loads the plugin from the
repository, opens the Sentinel-2 sample with a true-colour stretch, types a prompt in the SPEX panel, runs
the extraction, waits for the result layer, grabs the main window and quits QGIS. Every step is driven by
timers so the Qt event loop keeps painting; a watchdog exits with status 1 if anything hangs.
"""

import os
import sys
import traceback

REPO = os.environ.get("SPEX_REPO") or os.getcwd()
OUT = os.environ.get("SPEX_SCREENSHOT_OUT") or os.path.join(REPO, "docs", "screenshot.png")
# The aerial RGBN sample by default: the Sentinel-2 sample currently on disk is 99.5 % no-data (black) and
# has no water; set SPEX_SCREENSHOT_RASTER / SPEX_SCREENSHOT_PROMPT to shoot another scene or prompt.
SAMPLE = os.environ.get("SPEX_SCREENSHOT_RASTER") or os.path.join(REPO, "data", "samples", "aerial_rgbn.tif")
PROMPT = os.environ.get("SPEX_SCREENSHOT_PROMPT") or "extract the vegetation"
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsProject,
    QgsRasterLayer,
    QgsRasterMinMaxOrigin,
)
from qgis.PyQt.QtCore import Qt, QTimer  # noqa: E402
from qgis.PyQt.QtWidgets import QDockWidget, QToolBar  # noqa: E402
from qgis.utils import iface  # noqa: E402

STATE = {"plugin": None, "dock": None, "status": 1}


def log(message: str) -> None:
    """Progress on stderr (xvfb-run passes it through)."""
    sys.stderr.write(f"[screenshot] {message}\n")
    sys.stderr.flush()


def quit_qgis(status: int) -> None:
    """Leave QGIS with ``status`` (the shell wrapper checks the PNG as well)."""
    STATE["status"] = status
    log(f"exit {status}")
    os._exit(status)  # QGIS's own exit path can hang under Xvfb while plugins unload


def guarded(func):
    """Run a timer step; any exception ends the run with a traceback instead of a hung desktop."""

    def wrapper(*args):
        try:
            func(*args)
        except Exception:
            traceback.print_exc()
            quit_qgis(1)

    return wrapper


def true_colour(layer: QgsRasterLayer, roles) -> None:
    """Red/green/blue bands with a 2-98 % cumulative-cut stretch."""
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), roles["red"], roles["green"], roles["blue"])
    layer.setRenderer(renderer)
    layer.setContrastEnhancement(
        QgsContrastEnhancement.StretchToMinimumMaximum, QgsRasterMinMaxOrigin.CumulativeCut
    )
    layer.triggerRepaint()


def tidy_window() -> None:
    """A clean desktop: only the Layers panel on the left, SPEX on the right, no tips/welcome page."""
    window = iface.mainWindow()
    screen = window.screen().geometry() if hasattr(window, "screen") else None
    window.setGeometry(0, 0, screen.width() if screen else 1600, screen.height() if screen else 1000)
    for dock in window.findChildren(QDockWidget):
        name = dock.objectName()
        if name not in ("Layers", "SpexDockWidget"):
            dock.hide()
    for name in ("mWebToolBar", "mDatabaseToolBar", "mVectorToolBar", "mMeshToolBar",
                 "mSnappingToolBar", "mShapeDigitizeToolBar", "mAdvancedDigitizeToolBar", "mLabelToolBar",
                 "mAnnotationsToolBar", "mDigitizeToolBar", "mSelectionToolBar"):  # fmt: skip
        bar = window.findChild(QToolBar, name)
        if bar is not None:
            bar.hide()


@guarded
def step_load() -> None:
    log(f"loading {SAMPLE}")
    import spex_qgis

    plugin = spex_qgis.classFactory(iface)
    plugin.initGui()
    STATE["plugin"] = plugin
    layer = QgsRasterLayer(SAMPLE, os.path.splitext(os.path.basename(SAMPLE))[0])
    if not layer.isValid():
        log("sample raster missing: run `make samples`")
        quit_qgis(1)
    QgsProject.instance().addMapLayer(layer)
    iface.mapCanvas().setDestinationCrs(layer.crs())
    plugin.set_panel_visible(True)
    dock = plugin.dock
    STATE["dock"] = dock
    iface.mainWindow().resizeDocks([dock], [430], Qt.Horizontal)
    dock.layer_combo.setLayer(layer)
    roles = dock.band_mapping()
    true_colour(
        layer, {"red": roles.get("red", 3), "green": roles.get("green", 2), "blue": roles.get("blue", 1)}
    )
    tidy_window()
    iface.setActiveLayer(layer)
    iface.mapCanvas().setExtent(layer.extent())
    iface.mapCanvas().refresh()
    QTimer.singleShot(1500, step_run)


@guarded
def step_run() -> None:
    dock = STATE["dock"]
    dock.prompt_combo.setEditText(PROMPT)
    dock.runFinished.connect(lambda: QTimer.singleShot(500, step_after_run))
    log(f"running '{PROMPT}'")
    if dock.run() is None:
        log("the panel refused to run (see the message bar)")
        quit_qgis(1)


@guarded
def step_after_run() -> None:
    dock = STATE["dock"]
    group = QgsProject.instance().layerTreeRoot().findGroup("SPEX results")
    if group is None or not group.children():
        log("no result layer was added")
        quit_qgis(1)
    result_layer = group.children()[0].layer()
    log(f"result: {result_layer.name()} with {result_layer.featureCount()} features")
    for group_box in dock.findChildren(object):
        if type(group_box).__name__ == "QgsCollapsibleGroupBox" and group_box.title() in (
            dock.tr("Band mapping"),
            dock.tr("Engine"),
            dock.tr("Output"),
        ):
            group_box.setCollapsed(True)
    iface.layerTreeView().expandAll()
    iface.mapCanvas().refreshAllLayers()
    QTimer.singleShot(3000, step_grab)


@guarded
def step_grab() -> None:
    canvas = iface.mapCanvas()
    if canvas.isDrawing():
        QTimer.singleShot(500, step_grab)
        return
    QgsApplication.processEvents()
    pixmap = iface.mainWindow().grab()
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    tmp = OUT + ".tmp.png"
    if not pixmap.save(tmp, "PNG"):
        log(f"cannot write {OUT}")
        quit_qgis(1)
    os.replace(tmp, OUT)
    log(f"wrote {OUT} ({pixmap.width()}x{pixmap.height()})")
    quit_qgis(0)


QTimer.singleShot(240_000, lambda: (log("watchdog: gave up after 240 s"), quit_qgis(1)))
QTimer.singleShot(2000, step_load)
