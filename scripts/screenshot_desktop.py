"""Drive the real QGIS desktop for docs/screenshot.png (run by scripts/screenshot.sh, not by hand).

QGIS executes this file with ``--code`` once its main window is up. The script loads the plugin from the
repository, opens the Sentinel-2 sample with a true-colour stretch, types a prompt in the SPEX panel, runs
the extraction, waits for the result layer, grabs the main window and quits QGIS. Every step is driven by
timers so the Qt event loop keeps painting; a watchdog exits with status 1 if anything hangs.
"""

import os
import sys

REPO = os.environ.get("SPEX_REPO") or os.getcwd()
OUT = os.environ.get("SPEX_SCREENSHOT_OUT") or os.path.join(REPO, "docs", "screenshot.png")
# The aerial RGBN sample by default: the Sentinel-2 sample currently on disk is 99.5 % no-data (black) and
# has no water; set SPEX_SCREENSHOT_RASTER / SPEX_SCREENSHOT_PROMPT to shoot another scene or prompt.
SAMPLE = os.environ.get("SPEX_SCREENSHOT_RASTER") or os.path.join(REPO, "data", "samples", "aerial_rgbn.tif")
PROMPT = os.environ.get("SPEX_SCREENSHOT_PROMPT") or "extract the vegetation"
if REPO not in sys.path:
    sys.path.insert(0, REPO)
# the shared helpers live next to this script (QGIS runs it from the repository root: see the .sh wrapper)
SCRIPTS = os.path.join(REPO, "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

from desktop_helpers import guarded_by, hard_exit, make_log  # noqa: E402
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


log = make_log("screenshot")


def quit_qgis(status: int) -> None:
    """Leave QGIS with ``status`` (the shell wrapper checks the PNG as well)."""
    STATE["status"] = status
    log(f"exit {status}")
    hard_exit(status)


guarded = guarded_by(lambda: quit_qgis(1))  # a failed step ends the run with status 1


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
    size_panels()


def size_panels() -> None:
    """Wide enough for the result layer's full name on the left and unwrapped panel rows on the right."""
    window = iface.mainWindow()
    docks = [window.findChild(QDockWidget, name) for name in ("Layers", "SpexDockWidget")]
    docks = [d for d in docks if d is not None]
    if docks and docks[0].objectName() == "Layers":
        docks[0].setMinimumWidth(330)  # resizeDocks alone is overridden by the saved layout
    window.resizeDocks(docks, [330, 450][: len(docks)], Qt.Horizontal)


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
    dock.errorOccurred.connect(lambda message: log(f"panel error: {message}"))
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
    iface.setActiveLayer(result_layer)  # selected in the Layers panel: the layer Export… writes
    for group_box in dock.findChildren(object):
        if type(group_box).__name__ == "QgsCollapsibleGroupBox" and group_box.title() in (
            dock.tr("Band mapping"),
            dock.tr("Engine"),
            dock.tr("Output"),
        ):
            group_box.setCollapsed(True)
    iface.layerTreeView().expandAll()
    size_panels()  # again: QGIS restores its own dock sizes once the window is shown
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
    QTimer.singleShot(100, step_export)


@guarded
def step_export() -> None:
    """Check Export… in the real desktop too: a Shapefile in a scratch folder, the dialog answered here."""
    import tempfile

    from qgis.PyQt.QtWidgets import QFileDialog

    dock = STATE["dock"]
    folder = tempfile.mkdtemp(prefix="spex-export-check-")
    target = os.path.join(folder, "result.shp")
    QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (target, ""))
    dock.exportFinished.connect(lambda report: step_export_done(report, folder))
    if not dock.export_button.isEnabled():
        log("export check: the Export button is disabled after a run")
        quit_qgis(1)
    dock.export_button.click()


@guarded
def step_export_done(report, folder: str) -> None:
    import shutil

    from osgeo import ogr

    ok = report is not None and os.path.isfile(report.path)
    if ok:
        dataset = ogr.Open(report.path)  # kept in a variable: its layer dies with it
        count = dataset.GetLayer(0).GetFeatureCount()
        dataset = None
        ok = count == report.features > 0
        files = sorted(os.listdir(folder))
        log(f"export check: {count} features to {os.path.basename(report.path)}, files {files}")
    shutil.rmtree(folder, ignore_errors=True)
    if not ok:
        log("export check: FAILED (see the message bar text above)")
    quit_qgis(0 if ok else 1)


QTimer.singleShot(240_000, lambda: (log("watchdog: gave up after 240 s"), quit_qgis(1)))
QTimer.singleShot(2000, step_load)
