"""Walk the real QGIS desktop through what an analyst does with the SPEX panel (run by
scripts/desktop_walkthrough.sh, not by hand).

QGIS executes this file with ``--code`` once its main window is up. Steps: load three rasters (4-band aerial,
a 3-band RGB copy, Sentinel-2), remove the chosen one, draw a rectangle on the canvas with the mouse, run,
preview the mask, cancel a run, fail a run, export. After each step it checks what the panel shows and saves
a screenshot to ``$SPEX_WALK_OUT/NN_step.png``; every check prints ``[walk] PASS|FAIL ...``; the exit status
is 1 when any check failed. A watchdog ends a hung run.
"""

import os
import sys
import tempfile

REPO = os.environ.get("SPEX_REPO") or os.getcwd()
OUT = os.environ.get("SPEX_WALK_OUT") or os.path.join(REPO, "out", "walkthrough")
SAMPLES = os.path.join(REPO, "data", "samples")
CHINESE = os.environ.get("SPEX_WALK_LANG", "en").startswith("zh")
PROMPTS = {
    "water": "提取水体" if CHINESE else "extract the water bodies",
    "vegetation": "提取植被" if CHINESE else "extract the vegetation",
}
if REPO not in sys.path:
    sys.path.insert(0, REPO)
# the shared helpers live next to this script (QGIS runs it from the repository root: see the .sh wrapper)
SCRIPTS = os.path.join(REPO, "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

from desktop_helpers import guarded_by, hard_exit, make_log  # noqa: E402
from osgeo import gdal  # noqa: E402
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer  # noqa: E402
from qgis.PyQt.QtCore import QPoint, Qt, QTimer  # noqa: E402
from qgis.PyQt.QtTest import QTest  # noqa: E402
from qgis.PyQt.QtWidgets import QDockWidget, QFileDialog, QMessageBox, QToolBar  # noqa: E402
from qgis.utils import iface  # noqa: E402

STATE = {"failures": 0, "shot": 0}
SCRATCH = tempfile.mkdtemp(prefix="spex-walk-")


log = make_log("walk")


def check(ok: bool, what: str) -> None:
    """Record one check of what the panel shows."""
    log(("PASS " if ok else "FAIL ") + what)
    if not ok:
        STATE["failures"] += 1


def finish() -> None:
    """Leave QGIS: status 1 when a check failed."""
    status = 1 if STATE["failures"] else 0
    log(f"{STATE['failures']} failed check(s); exit {status}")
    hard_exit(status)


def _step_failed() -> None:
    STATE["failures"] += 1
    finish()


guarded = guarded_by(_step_failed)  # a failed step counts as a failed check and ends the run


def later(ms: int, func) -> None:
    """Run ``func`` after ``ms`` milliseconds of a live event loop."""
    QTimer.singleShot(ms, guarded(func))


def when(condition, func, timeout_ms: int = 120_000, waited: int = 0) -> None:
    """Run ``func`` once ``condition()`` holds (polled every 200 ms); a timeout is a failed check."""
    if condition():
        later(300, func)
    elif waited > timeout_ms:
        check(False, f"timed out waiting before {func.__name__}")
        finish()
    else:
        QTimer.singleShot(200, lambda: when(condition, func, timeout_ms, waited + 200))


def shot(name: str) -> None:
    """Save the main window as ``NN_name.png`` once the canvas has finished drawing."""
    QgsApplication.processEvents()
    STATE["shot"] += 1
    path = os.path.join(OUT, f"{STATE['shot']:02d}_{name}.png")
    pixmap = iface.mainWindow().grab()
    check(pixmap.save(path, "PNG"), f"screenshot {os.path.basename(path)}")


def dock():
    return STATE["dock"]


def tidy_window() -> None:
    """Only the Layers panel on the left and SPEX on the right, at a normal dock width (380 px)."""
    window = iface.mainWindow()
    window.setGeometry(0, 0, 1600, 1000)
    for panel in window.findChildren(QDockWidget):
        if panel.objectName() not in ("Layers", "SpexDockWidget"):
            panel.hide()
    for bar in window.findChildren(QToolBar):
        if bar.objectName() not in ("mFileToolBar", "mMapNavToolBar", "mLayerToolBar"):
            bar.hide()
    panels = [window.findChild(QDockWidget, n) for n in ("Layers", "SpexDockWidget")]
    window.resizeDocks([p for p in panels if p is not None], [300, 380], Qt.Horizontal)


def nothing_cut_off() -> bool:
    """No visible control of the panel lies right of its scroll viewport (hidden behind a scrollbar)."""
    from qgis.PyQt.QtWidgets import QAbstractButton, QComboBox, QLabel

    viewport = dock().scroll.viewport()
    for child in dock().scroll.widget().findChildren((QAbstractButton, QComboBox, QLabel)):
        if (
            child.isVisibleTo(dock())
            and child.mapTo(viewport, QPoint(child.width(), 0)).x() > viewport.width() + 1
        ):
            log(f"cut off: {type(child).__name__} {child.text() if hasattr(child, 'text') else ''}")
            return False
    return True


@guarded
def step_load() -> None:
    import spex_qgis

    plugin = spex_qgis.classFactory(iface)
    plugin.initGui()
    STATE["plugin"] = plugin
    aerial_path = os.path.join(SAMPLES, "aerial_rgbn.tif")
    rgb_path = os.path.join(SCRATCH, "rgb_only.tif")
    gdal.Translate(rgb_path, aerial_path, bandList=[1, 2, 3])
    project = QgsProject.instance()
    layers = [
        QgsRasterLayer(rgb_path, "rgb_only"),
        QgsRasterLayer(os.path.join(SAMPLES, "sentinel2_l2a_subset.tif"), "sentinel2_l2a_subset"),
        QgsRasterLayer(aerial_path, "aerial_rgbn"),
    ]
    for layer in layers:
        check(layer.isValid(), f"loaded {layer.name()}")
    project.addMapLayers(layers)
    STATE["aerial"] = layers[2]
    plugin.set_panel_visible(True)
    STATE["dock"] = plugin.dock
    tidy_window()
    iface.mapCanvas().setDestinationCrs(layers[2].crs())
    iface.mapCanvas().setExtent(layers[2].extent())
    dock().layer_combo.setLayer(layers[2])
    dock().bands_group.setCollapsed(False)
    when(bands_read, step_bands)  # the bands are detected on a worker thread


def bands_read() -> bool:
    """Whether the panel's background band detection has answered."""
    return not dock().input_panel.detecting()


@guarded
def step_bands() -> None:
    check(dock().band_mapping() == {"red": 1, "green": 2, "blue": 3, "nir": 4}, "aerial bands detected")
    later(500, step_zoom)


@guarded
def step_zoom() -> None:
    """Zoom once the window has its final size (an extent set before that is lost)."""
    iface.mapCanvas().setExtent(STATE["aerial"].extent())
    iface.mapCanvas().refresh()
    later(2500, step_remove)


@guarded
def step_remove() -> None:
    shot("loaded")
    aerial_id = STATE["aerial"].id()
    QgsProject.instance().removeMapLayer(aerial_id)
    STATE.pop("aerial")
    when(bands_read, step_removed)


@guarded
def step_removed() -> None:
    shown = dock().layer_combo.currentLayer()
    followed = shown is not None and shown.id() == dock().input_panel.bands_layer_id
    check(followed, "band table follows the raster shown")
    check(
        shown is not None and all(b <= shown.bandCount() for b in dock().band_mapping().values()),
        "no band beyond the shown raster's band count after removing the chosen layer",
    )
    check("aerial_rgbn" not in dock().bands_summary.text(), "the removed raster is not named any more")
    later(1200, step_draw)


@guarded
def step_draw() -> None:
    shot("removed_layer")
    layer = QgsRasterLayer(os.path.join(SAMPLES, "aerial_rgbn.tif"), "aerial_rgbn")
    QgsProject.instance().addMapLayer(layer)
    STATE["aerial"] = layer
    dock().layer_combo.setLayer(layer)
    dock().bands_group.setCollapsed(True)
    canvas = iface.mapCanvas()
    canvas.setExtent(layer.extent())
    canvas.refresh()
    dock().prompt_combo.setEditText(PROMPTS["water"])
    dock().set_aoi_mode("rectangle")
    QTest.mouseClick(dock().draw_button, Qt.LeftButton)
    check(canvas.mapTool() is dock().rectangle_tool, "Draw activates the rectangle tool")
    later(1000, step_drag)


@guarded
def step_drag() -> None:
    canvas = iface.mapCanvas()
    extent = STATE["aerial"].extent()
    to_px = canvas.getCoordinateTransform().transform
    start = to_px(extent.xMinimum() + 0.1 * extent.width(), extent.yMaximum() - 0.1 * extent.height())
    end = to_px(extent.xMinimum() + 0.7 * extent.width(), extent.yMaximum() - 0.8 * extent.height())
    viewport = canvas.viewport()
    a, b = QPoint(int(start.x()), int(start.y())), QPoint(int(end.x()), int(end.y()))
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, a)
    QTest.mouseMove(viewport, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, b)
    geometry, _crs = dock().current_aoi()
    area_text = dock().aoi_status.text()
    check(
        geometry is not None and any(c.isdigit() for c in area_text),
        f"rectangle drawn with the mouse ({area_text})",
    )
    check(nothing_cut_off(), "nothing cut off in the panel with 'Draw a rectangle' chosen")
    later(800, step_run)


@guarded
def step_run() -> None:
    shot("area_drawn")
    STATE["results"] = []
    dock().resultAdded.connect(lambda layer, result: STATE["results"].append((layer, result)))
    check(dock().run() is not None, "Run starts")
    when(lambda: dock().task is None, step_after_run)


@guarded
def step_after_run() -> None:
    results = STATE["results"]
    check(len(results) == 1 and results[0][1].features > 0, "the run added one result layer with polygons")
    if results:
        layer = results[0][0]
        check(not layer.labelsEnabled() and "width:" in layer.mapTipTemplate(), "result styled, map tip set")
        iface.setActiveLayer(layer)
    iface.layerTreeView().expandAll()
    later(2500, step_preview)


@guarded
def step_preview() -> None:
    shot("result")
    check(dock().preview() is not None, "Preview starts")
    when(lambda: dock().preview_task is None, step_after_preview)


@guarded
def step_after_preview() -> None:
    previews = [
        lyr for lyr in QgsProject.instance().mapLayers().values() if lyr.customProperty("spex/mask_preview")
    ]
    check(len(previews) == 1 and "%" in dock().status_label.text(), "mask preview layer shown")
    later(2500, step_cancel)


@guarded
def step_cancel() -> None:
    shot("preview")
    dock().set_aoi_mode("layer")
    dock().prompt_combo.setEditText(PROMPTS["vegetation"])
    STATE["before_cancel"] = len(STATE["results"])
    check(dock().run() is not None, "second run starts")
    dock().cancel_button.click()
    when(lambda: dock().task is None, step_after_cancel)


@guarded
def step_after_cancel() -> None:
    check(len(STATE["results"]) == STATE["before_cancel"], "a cancelled run adds no layer")
    check(dock().run_button.isEnabled(), "Run is available again after a cancel")
    later(1000, step_fail)


@guarded
def step_fail() -> None:
    shot("cancelled")
    STATE["old_explanation"] = dock().explanation.toPlainText()
    dock().prompt_combo.setEditText("extract the unicorns")
    check(dock().run() is not None, "third run starts")
    when(lambda: dock().task is None, step_after_fail)


@guarded
def step_after_fail() -> None:
    text = dock().explanation.toPlainText()
    check(text != STATE["old_explanation"] and "unicorn" in text.lower(), "the failure replaces the result")
    check(nothing_cut_off(), "nothing cut off in the failed state")
    later(1000, step_export)


@guarded
def step_export() -> None:
    shot("failed")
    target = os.path.join(SCRATCH, "exported_water.gpkg")
    QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (target, ""))
    QMessageBox.question = staticmethod(lambda *args, **kwargs: QMessageBox.No)
    layer, _result = STATE["results"][0]
    iface.setActiveLayer(layer)
    STATE["export"] = []
    dock().exportFinished.connect(STATE["export"].append)
    check(dock().export_button.isEnabled(), "Export is available for the result")
    dock().export_button.click()
    when(lambda: bool(STATE["export"]), step_after_export, timeout_ms=60_000)


@guarded
def step_after_export() -> None:
    report = STATE["export"][0]
    check(
        report is not None and report.driver == "GPKG" and os.path.isfile(report.path),
        "exported a GeoPackage",
    )
    later(1000, step_done)


@guarded
def step_done() -> None:
    shot("exported")
    finish()


QTimer.singleShot(300_000, lambda: (log("watchdog: gave up after 300 s"), check(False, "watchdog"), finish()))
os.makedirs(OUT, exist_ok=True)
QTimer.singleShot(2000, step_load)
