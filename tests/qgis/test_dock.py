"""The SPEX panel driven like a user in real QGIS: pick the layer, type, draw, Run, read the result."""

from __future__ import annotations

import os
import re
import time

import pytest
from osgeo import gdal, ogr
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsExpression,
    QgsExpressionContext,
    QgsGeometry,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.gui import QgsCollapsibleGroupBox, QgsMessageBar
from qgis.PyQt.QtCore import QCoreApplication, QEvent, QPoint, Qt, QTranslator
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QWidget,
)

import build_plugin
from model_runtime.io.raster import RasterSource
from model_runtime.vector.writers import read_shapefile_text
from spex_qgis import layers, settings
from spex_qgis.dock import SpexDockWidget
from spex_qgis.request_builder import build_request
from spex_qgis.task import session_temp_dir
from spex_qgis.ui.engine_panel import deps_status


@pytest.fixture
def dock(qgis_app, qgis_iface, qgis_new_project, scene_path):
    settings.clear_all()
    qgis_iface.messageBar().clear_messages()
    layer = QgsRasterLayer(scene_path, "aerial RGBN sample")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    canvas = qgis_iface.mapCanvas()
    canvas.resize(700, 700)
    canvas.setDestinationCrs(layer.crs())
    canvas.setLayers([layer])
    canvas.setExtent(layer.extent())
    QTest.qWait(20)  # let the canvas take its size before map <-> pixel conversions
    widget = SpexDockWidget(qgis_iface)
    widget.resize(380, 900)
    widget.show()
    wait_bands(widget)
    yield widget
    if widget.task is not None:
        widget.cancel()
        wait_finished(widget)
    widget.unload()
    widget.close()
    widget.deleteLater()
    settings.clear_all()


def wait_finished(widget: SpexDockWidget, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while widget.task is not None and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert widget.task is None, "the extraction did not finish in time"
    QCoreApplication.processEvents()


def wait_bands(widget: SpexDockWidget, timeout: float = 30.0) -> None:
    """Wait until the background band detection answered (the table then shows the detected roles)."""
    deadline = time.monotonic() + timeout
    while widget.input_panel.detecting() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.005)
    assert not widget.input_panel.detecting(), "the band detection did not answer in time"
    QCoreApplication.processEvents()


def choose_raster(widget: SpexDockWidget, layer) -> None:
    """Pick ``layer`` in the Raster box and wait for its bands."""
    widget.layer_combo.setLayer(layer)
    wait_bands(widget)


def type_prompt(widget: SpexDockWidget, text: str) -> None:
    edit = widget.prompt_combo.lineEdit()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key_Delete)
    if text.isascii():
        QTest.keyClicks(edit, text)
    else:  # QTest only types Latin-1 keys; Chinese arrives committed from the input method
        edit.insert(text)


def drag_rectangle(canvas, start: QPoint, end: QPoint) -> None:
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, start)
    QTest.mouseMove(viewport, QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2))
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, end)


def to_pixel(canvas, x: float, y: float) -> QPoint:
    """Where the map point (canvas CRS) is on the canvas widget."""
    point = canvas.getCoordinateTransform().transform(x, y)
    return QPoint(int(round(point.x())), int(round(point.y())))


def inner_box(extent: QgsRectangle, lo: float, hi: float):
    """Corners at fractions ``lo``/``hi`` of ``extent`` (top-left, bottom-right)."""
    return (
        (extent.xMinimum() + lo * extent.width(), extent.yMaximum() - lo * extent.height()),
        (extent.xMinimum() + hi * extent.width(), extent.yMaximum() - hi * extent.height()),
    )


def messages(iface, level):
    return iface.messageBar().get_messages(level)


def run_prompt(widget: SpexDockWidget, iface, text: str):
    """Type ``text``, click Run, wait; returns (layer, result) of the one result added."""
    results = []
    slot = lambda layer, result: results.append((layer, result))  # noqa: E731
    widget.resultAdded.connect(slot)
    try:
        type_prompt(widget, text)
        QTest.mouseClick(widget.run_button, Qt.LeftButton)
        wait_finished(widget)
    finally:
        widget.resultAdded.disconnect(slot)
    assert len(results) == 1, messages(iface, Qgis.Critical)
    return results[0]


def click_export(widget: SpexDockWidget, timeout: float = 60.0):
    """Click Export… and wait for the background export; returns its ExportReport (None: nothing written)."""
    reports = []
    widget.exportFinished.connect(reports.append)
    try:
        QTest.mouseClick(widget.export_button, Qt.LeftButton)
        deadline = time.monotonic() + timeout
        while widget.export_task is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.01)
        assert widget.export_task is None, "the export did not finish in time"
        QCoreApplication.processEvents()
    finally:
        widget.exportFinished.disconnect(reports.append)
    return reports[-1] if reports else None


class UserAnswers:
    """Stands in for the user in the file dialog and the yes/no question (patched on the Qt classes)."""

    def __init__(self, monkeypatch):
        self.files = []  # (path, chosen filter) answers of QFileDialog.getSaveFileName, in order
        self.replies = []  # QMessageBox.Yes / No answers, in order
        self.questions = []
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self._save_file_name)
        monkeypatch.setattr(QMessageBox, "question", self._question)

    def _save_file_name(self, parent, title, directory, filters, selected, options):
        assert options & QFileDialog.DontConfirmOverwrite  # the panel asks itself, for every Shapefile part
        assert "*.shp" in filters and "*.gpkg" in filters
        # GeoPackage by default: one field holds the whole explanation (a Shapefile must split it)
        assert selected.endswith("(*.gpkg)") and directory.endswith(".gpkg"), (selected, directory)
        return self.files.pop(0)

    def _question(self, parent, title, text, buttons, default):
        assert default == QMessageBox.No  # replacing is never the default
        self.questions.append(text)
        return self.replies.pop(0)


def test_panel_detects_sensor_and_bands(dock, qgis_iface, s2_path, tmp_path):
    aerial = dock.layer_combo.currentLayer()
    assert isinstance(aerial, QgsRasterLayer)  # the only multiband raster is picked without a click
    assert dock.band_mapping() == {"red": 1, "green": 2, "blue": 3, "nir": 4}
    raster = QgsRasterLayer(s2_path, "Sentinel-2 sample")
    QgsProject.instance().addMapLayer(raster)
    assert dock.layer_combo.currentLayer() is aerial  # adding a layer does not steal the choice
    choose_raster(dock, raster)
    mapping = dock.band_mapping()
    assert mapping["red"] == 3 and mapping["nir"] == 4 and mapping["swir1"] == 5
    summary = dock.bands_summary.text().split("<i>")[0]  # the runtime's notes (in italics) may name ids
    assert "Sentinel-2 MSI L2A" in summary and "sentinel2_l2a" not in summary  # a human sensor name
    assert "sentinel2_l2a" not in dock.sensor_combo.itemText(0) + dock.sensor_combo.itemText(1)
    dock.set_band("swir2", 5)  # a user edit is remembered for this file
    assert settings.band_mapping(s2_path)["swir2"] == 5
    dock.input_panel.show_layer(raster)  # re-picking the layer restores the remembered mapping
    wait_bands(dock)
    assert dock.band_mapping()["swir2"] == 5
    # another file of the same sensor starts from its own detection, not from this file's edits
    copy = str(tmp_path / "same_sensor_copy.tif")
    gdal.Translate(copy, s2_path)
    other = QgsRasterLayer(copy, "copy")
    QgsProject.instance().addMapLayer(other)
    choose_raster(dock, other)
    assert dock.band_mapping()["swir2"] == 6
    choose_raster(dock, raster)
    assert dock.band_mapping()["swir2"] == 5
    dock.reset_bands_button.click()
    assert dock.band_mapping()["swir2"] == 6 and settings.band_mapping(s2_path) == {}


def test_band_table_follows_the_project(dock, qgis_iface, s2_path, tmp_path):
    """Removing the chosen raster, renaming it, and a plugin reload: the bands shown are the raster's."""
    aerial = dock.layer_combo.currentLayer()
    rgb_path = str(tmp_path / "rgb_only.tif")
    gdal.Translate(rgb_path, aerial.source(), bandList=[1, 2, 3])
    rgb = QgsRasterLayer(rgb_path, "rgb_only")
    s2 = QgsRasterLayer(s2_path, "Sentinel-2 sample")
    QgsProject.instance().addMapLayers([rgb, s2])
    choose_raster(dock, aerial)
    dock.set_band("nir", 0)  # remembered for aerial_rgbn only
    aerial_id = aerial.id()
    QgsProject.instance().removeMapLayer(aerial_id)
    QCoreApplication.processEvents()
    wait_bands(dock)
    shown = dock.layer_combo.currentLayer()
    assert shown is not None and shown.id() != aerial_id
    assert dock.input_panel.bands_layer_id == shown.id()
    assert all(band <= shown.bandCount() for band in dock.band_mapping().values())
    assert shown.name() in dock.bands_summary.text() and "aerial" not in dock.bands_summary.text()
    type_prompt(dock, "extract the water bodies")
    request = build_request(dock.panel_state())
    assert request.raster == shown.source()
    with RasterSource.open(request.raster, bands=request.bands) as source:  # no stale "nir=4 out of range"
        assert source.roles == {r: b for r, b in dock.band_mapping().items()}
    shown.setName("renamed raster")
    assert "renamed raster" in dock.bands_summary.text()
    choose_raster(dock, s2)
    dock.set_band("swir2", 5)
    reloaded = SpexDockWidget(qgis_iface)  # plugin reload: a new panel reads the remembered edits back
    try:
        choose_raster(reloaded, s2)
        assert reloaded.band_mapping()["swir2"] == 5
    finally:
        reloaded.unload()
        reloaded.deleteLater()


def test_draw_rectangle_run_adds_explained_layer(dock, qgis_iface):
    canvas = qgis_iface.mapCanvas()
    type_prompt(dock, "extract the water bodies")
    dock.set_aoi_mode("rectangle")
    QTest.mouseClick(dock.draw_button, Qt.LeftButton)
    assert canvas.mapTool() is dock.rectangle_tool
    (x0, y0), (x1, y1) = inner_box(dock.layer_combo.currentLayer().extent(), 0.1, 0.8)
    drag_rectangle(canvas, to_pixel(canvas, x0, y0), to_pixel(canvas, x1, y1))
    geometry, crs = dock.current_aoi()
    assert geometry is not None and crs == canvas.mapSettings().destinationCrs()
    assert "km²" in dock.aoi_status.text()
    assert canvas.mapTool() is not dock.rectangle_tool

    results = []
    dock.resultAdded.connect(lambda layer, result: results.append((layer, result)))
    QTest.mouseClick(dock.run_button, Qt.LeftButton)
    assert dock.task is not None and not dock.run_button.isEnabled() and dock.cancel_button.isEnabled()
    wait_finished(dock)
    assert not messages(qgis_iface, Qgis.Critical), messages(qgis_iface, Qgis.Critical)
    assert len(results) == 1
    layer, result = results[0]
    group = QgsProject.instance().layerTreeRoot().children()[0]
    assert group.name() == layers.RESULTS_GROUP and group.children()[0].layerId() == layer.id()
    assert layer.name().startswith("extract the water bodies (")
    assert layer.featureCount() == result.features > 0
    texts = {f["explain"] for f in layer.getFeatures()}  # one text per polygon, about that polygon
    assert len(texts) == result.features and all(t.startswith("Water region ") for t in texts)
    assert result.explanation.split()[0] in dock.explanation.toPlainText()
    assert os.path.dirname(result.output) == session_temp_dir()
    assert dock.prompt_combo.itemText(0) == "extract the water bodies"  # history, most recent first
    # every polygon lies inside the drawn rectangle (tolerance: 1.5 pixel)
    aoi = QgsGeometry(geometry).buffer(1.5 * dock.layer_combo.currentLayer().rasterUnitsPerPixelX(), 1)
    for feature in layer.getFeatures():
        assert aoi.contains(feature.geometry()), feature.id()
    assert any("Added" in m for m in messages(qgis_iface, Qgis.Success))


def test_cancel_leaves_no_layer_and_no_file(dock, qgis_iface):
    type_prompt(dock, "extract the vegetation")
    before = set(os.listdir(session_temp_dir()))
    QTest.mouseClick(dock.run_button, Qt.LeftButton)
    QTest.mouseClick(dock.cancel_button, Qt.LeftButton)
    wait_finished(dock)
    assert QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP) is None
    assert set(os.listdir(session_temp_dir())) == before
    assert any("cancel" in m.lower() for m in messages(qgis_iface, Qgis.Info))
    assert dock.run_button.isEnabled() and not dock.cancel_button.isEnabled()


def test_cancelled_run_replaces_the_previous_result(dock, qgis_iface):
    _layer, result = run_prompt(dock, qgis_iface, "extract the water bodies")
    assert result.explanation.split()[0] in dock.explanation.toPlainText()
    type_prompt(dock, "extract the vegetation")
    QTest.mouseClick(dock.run_button, Qt.LeftButton)
    QTest.mouseClick(dock.cancel_button, Qt.LeftButton)
    wait_finished(dock)
    shown = dock.explanation.toPlainText()
    assert shown.startswith("Cancelled: nothing was written.") and result.explanation.split()[0] not in shown
    assert dock.status_label.text() == "Cancelled: nothing was written." and dock.progress.value() == 0


def test_not_set_band_is_not_used_and_failure_replaces_the_result(dock, qgis_iface):
    layer, result = run_prompt(dock, qgis_iface, "extract the water bodies")  # water from NDWI: green + nir
    assert result.features > 0 and result.details["bands"]["nir"] == 4
    old_text = dock.explanation.toPlainText()
    dock.bands_group.setCollapsed(False)
    dock.set_band("nir", 0)  # "— not set —"
    assert "nir" in dock.excluded_roles() and "nir" not in dock.band_mapping()
    assert dock.panel_state().bands["nir"] == 0
    dock.run_button.click()
    wait_finished(dock)
    status = dock.status_label.text()
    assert status.startswith("Failed: ") and "nir" in status  # nir was left out: the reason
    assert "Band mapping" in status and "--bands" not in status  # the panel's control, not the CLI flag
    shown = dock.explanation.toPlainText()
    assert "failed" in shown and "nir" in shown and old_text not in shown  # no stale explanation


def test_area_outside_the_raster_is_flagged_when_drawn(dock, qgis_iface):
    raster = dock.layer_combo.currentLayer()
    extent = raster.extent()
    dock.set_aoi_mode("rectangle")
    far = QgsRectangle(
        extent.xMaximum() + extent.width(),
        extent.yMinimum(),
        extent.xMaximum() + 2 * extent.width(),
        extent.yMaximum(),
    )
    dock.set_drawn_aoi(QgsGeometry.fromRect(far), raster.crs())
    assert (
        dock.aoi_status.text().startswith("Outside the raster") and "c0392b" in dock.aoi_status.styleSheet()
    )
    half_out = QgsRectangle(extent.center().x(), extent.yMinimum(), far.xMinimum(), extent.yMaximum())
    dock.set_drawn_aoi(QgsGeometry.fromRect(half_out), raster.crs())
    assert "partly outside" in dock.aoi_status.text() and "c0392b" not in dock.aoi_status.styleSheet()
    inside = QgsRectangle(extent.center().x(), extent.center().y(), extent.xMaximum(), extent.yMaximum())
    dock.set_drawn_aoi(QgsGeometry.fromRect(inside), raster.crs())
    assert "km²" in dock.aoi_status.text() and "outside" not in dock.aoi_status.text()


CJK = re.compile(r"[\u4e00-\u9fff]")


def _cut_off(widget: SpexDockWidget) -> list:
    """Visible controls whose right edge is beyond the scroll area's viewport (hidden to the right)."""
    viewport = widget.scroll.viewport()
    width = viewport.width()
    cut = []
    for child in widget.scroll.widget().findChildren(QWidget):
        if child.isVisibleTo(widget) and isinstance(
            child, (QAbstractButton, QComboBox, QLabel, QProgressBar)
        ):
            right = child.mapTo(viewport, QPoint(child.width(), 0)).x()
            if right > width + 1:
                cut.append((type(child).__name__, child.objectName() or child.toolTip()[:30], right, width))
    return cut


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_nothing_is_cut_off_at_a_normal_dock_width(qgis_app, qgis_iface, dock, tmp_path, language):
    translator = None
    if language != "en":
        (qm,) = build_plugin.compile_translations(str(tmp_path), use_lrelease=False)
        translator = QTranslator()
        assert translator.load(qm)
        QCoreApplication.installTranslator(translator)
    widget = SpexDockWidget(qgis_iface)
    try:
        widget.resize(380, 900)
        widget.show()
        for group in widget.findChildren(QgsCollapsibleGroupBox):
            group.setCollapsed(False)
        widget.set_aoi_mode("rectangle")
        widget.status_label.setText("278 " + "polygons, 12.5 km² in 3.2 s " * 3)
        QTest.qWait(50)
        assert widget.scroll.horizontalScrollBarPolicy() == Qt.ScrollBarAlwaysOff
        assert widget.scroll.widget().width() <= widget.scroll.viewport().width()
        assert _cut_off(widget) == []
        assert widget.clear_aoi_button.isVisible() and widget.export_button.isVisible()
        if translator is not None:
            assert widget.run_button.text() != "Run"  # the Chinese UI really is loaded
    finally:
        if translator is not None:
            QCoreApplication.removeTranslator(translator)
        widget.unload()
        widget.deleteLater()


def test_result_layer_is_styled_and_readable(dock, qgis_iface):
    layer, result = run_prompt(dock, qgis_iface, "extract the water bodies")
    group = QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP)
    assert group.isExpanded()
    assert not layer.labelsEnabled()
    with open(layers.style_path("water"), encoding="utf-8") as handle:
        qml = handle.read()
    colour = layer.renderer().symbols(QgsRenderContext())[0].color()
    assert f"{colour.red()},{colour.green()},{colour.blue()}" in qml  # the water style, not a random fill
    feature = next(layer.getFeatures())
    context = QgsExpressionContext()
    context.setFeature(feature)
    tip = QgsExpression.replaceExpressionText(layer.mapTipTemplate(), context)
    assert "width:" in tip  # a readable column, not an 80-px strip
    first_line = feature["explain"].splitlines()[0]
    assert first_line in tip and "\n" not in tip  # the feature's own text, lines as <br>
    name = QgsExpression(layer.displayExpression()).evaluate(context)
    assert name.startswith("water #") and len(name) < 60  # the identify panel lists short names
    assert "Done:" in dock.status_label.text() and str(result.features) in dock.status_label.text()


def wait_preview(widget: SpexDockWidget, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while widget.preview_task is not None and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert widget.preview_task is None, "the preview did not finish in time"


def test_mask_preview_shows_a_temporary_raster_and_no_polygons(dock, qgis_iface):
    type_prompt(dock, "extract the water bodies")
    raster = dock.layer_combo.currentLayer()
    extent = raster.extent()
    dock.set_aoi_mode("rectangle")
    dock.set_drawn_aoi(
        QgsGeometry.fromRect(
            QgsRectangle(extent.xMinimum(), extent.yMinimum(), extent.center().x(), extent.yMaximum())
        ),
        raster.crs(),
    )
    for _ in range(2):  # a second preview replaces the first
        dock.preview_button.click()
        assert dock.preview_task is not None and not dock.run_button.isEnabled()
        wait_preview(dock)
    previews = [
        lyr
        for lyr in QgsProject.instance().mapLayers().values()
        if lyr.customProperty(layers.PREVIEW_PROPERTY)
    ]
    assert len(previews) == 1 and isinstance(previews[0], QgsRasterLayer)
    assert not [lyr for lyr in QgsProject.instance().mapLayers().values() if isinstance(lyr, QgsVectorLayer)]
    preview = previews[0]
    assert preview.width() < raster.width()  # only the drawn area was computed
    assert preview.renderer().type() == "paletted" and "%" in dock.status_label.text()
    assert dock.run_button.isEnabled() and dock.preview_button.isEnabled()


def test_area_check_follows_a_crs_change_of_the_raster(dock, qgis_iface):
    raster = dock.layer_combo.currentLayer()
    extent = raster.extent()
    dock.set_aoi_mode("rectangle")
    inside = QgsRectangle(extent.center().x(), extent.center().y(), extent.xMaximum(), extent.yMaximum())
    dock.set_drawn_aoi(QgsGeometry.fromRect(inside), raster.crs())
    assert "outside" not in dock.aoi_status.text().lower()
    # the user fixes a wrongly declared CRS (Layer Properties > Source): the drawn area no longer overlaps
    raster.setCrs(QgsCoordinateReferenceSystem("EPSG:3035"))
    assert dock.aoi_status.text().startswith("Outside the raster")


def test_failures_replace_each_other_in_the_message_bar(dock, qgis_iface, monkeypatch):
    bar = QgsMessageBar()
    monkeypatch.setattr(qgis_iface, "messageBar", lambda: bar)
    dock.show_error("first problem: fix one")
    dock.show_error("second problem: fix two")
    assert (
        len(bar.items()) == 1 and bar.currentItem().text() == "second problem: fix two"
    )  # no old error queued


def test_every_runtime_option_is_in_the_panel(dock, qgis_iface):
    dock.filters_group.setCollapsed(False)
    dock.threshold_default.setChecked(False)
    dock.threshold_spin.setValue(0.15)
    dock.threshold_method_combo.setCurrentIndex(dock.threshold_method_combo.findData("otsu"))
    dock.min_area_spin.setValue(300)
    dock.simplify_spin.setValue(1.5)
    dock.scaling_combo.setEditText("0.0001,0")
    dock.language_combo.setCurrentIndex(dock.language_combo.findData("zh"))
    type_prompt(dock, "extract the vegetation")
    request = build_request(dock.panel_state())
    assert (request.threshold, request.threshold_method, request.min_area_m2, request.simplify) == (
        0.15,
        "otsu",
        300.0,
        1.5,
    )
    assert request.scaling == "0.0001,0" and request.language == "zh"
    dock.scaling_combo.setCurrentIndex(dock.scaling_combo.findData("none"))
    dock.threshold_default.setChecked(True)
    dock.threshold_method_combo.setCurrentIndex(0)
    layer, result = run_prompt(dock, qgis_iface, "extract the vegetation")
    assert CJK.search(result.explanation)  # an English prompt, explained in Chinese as chosen
    assert all(f["area_m2"] >= 300 for f in layer.getFeatures())  # the minimum area really applied


def test_empty_result_adds_no_layer(dock, qgis_iface):
    run_prompt(dock, qgis_iface, "extract the water bodies")
    qgis_iface.messageBar().clear_messages()
    group = QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP)
    before = len(group.findLayers())
    dock.filters_group.setCollapsed(False)
    dock.threshold_default.setChecked(False)
    dock.threshold_spin.setValue(1.0)  # no index exceeds 1: nothing can be found
    dock.run_button.click()
    wait_finished(dock)
    assert len(group.findLayers()) == before  # no empty layer
    assert not messages(qgis_iface, Qgis.Success) and not messages(qgis_iface, Qgis.Critical)
    assert dock.status_label.text().startswith("Nothing found") and "water" in dock.status_label.text()
    assert "Nothing found" in dock.explanation.toPlainText()


def test_runtime_errors_follow_the_ui_language(dock, qgis_iface, monkeypatch):
    monkeypatch.setattr(dock, "ui_language", lambda: "zh-Hans")
    type_prompt(dock, "extract the unicorns")
    dock.run_button.click()
    wait_finished(dock)
    (shown,) = messages(qgis_iface, Qgis.Critical)
    assert "提示词" in shown and "水体" in shown and "ask for" not in shown
    assert "提示词" in dock.status_label.text() and "提示词" in dock.explanation.toPlainText()


def test_errors_go_to_message_bar(dock, qgis_iface):
    errors = []
    dock.errorOccurred.connect(errors.append)
    # input error, caught before any task: rectangle mode without a rectangle
    type_prompt(dock, "extract the water bodies")
    dock.set_aoi_mode("rectangle")
    dock.run_button.click()
    assert dock.task is None and len(errors) == 1 and "rectangle" in errors[0]
    # runtime error: an unknown target class
    dock.set_aoi_mode("layer")
    type_prompt(dock, "extract the unicorns")
    dock.run_button.click()
    wait_finished(dock)
    assert len(errors) == 2 and "\n" not in errors[1]
    critical = messages(qgis_iface, Qgis.Critical)
    assert len(critical) == 2 and all(m.startswith("SPEX:") for m in critical)
    assert QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP) is None


def test_file_output_asks_before_overwriting(dock, qgis_iface, tmp_path):
    target = tmp_path / "water.gpkg"
    target.write_bytes(b"user data")
    type_prompt(dock, "extract the water bodies")
    dock.file_radio.setChecked(True)
    dock.output_widget.setFilePath(str(target))
    asked = []
    dock.confirm_overwrite = lambda path: asked.append(path) or False  # the user says No
    dock.run_button.click()
    assert asked == [str(target)] and dock.task is None
    assert target.read_bytes() == b"user data"
    dock.confirm_overwrite = lambda path: True  # now Yes
    dock.run_button.click()
    wait_finished(dock)
    assert not messages(qgis_iface, Qgis.Critical), messages(qgis_iface, Qgis.Critical)
    assert target.read_bytes()[:15] == b"SQLite format 3"
    # A Shapefile output whose .dbf alone exists is asked about too.
    (tmp_path / "veg.dbf").write_bytes(b"user table")
    dock.output_widget.setFilePath(str(tmp_path / "veg.shp"))
    dock.confirm_overwrite = lambda path: asked.append(path) or False
    dock.run_button.click()
    assert asked[-1] == str(tmp_path / "veg.dbf") and dock.task is None
    assert (tmp_path / "veg.dbf").read_bytes() == b"user table"


def test_selected_features_and_extent_modes(dock, qgis_iface):
    from qgis.core import QgsFeature, QgsVectorLayer

    raster = dock.layer_combo.currentLayer()
    ext = raster.extent()
    polys = QgsVectorLayer(f"Polygon?crs={raster.crs().authid() or 'EPSG:4326'}", "fields", "memory")
    if not raster.crs().authid():
        polys.setCrs(raster.crs())
    inner = QgsRectangle(ext.xMinimum(), ext.yMinimum(), ext.center().x(), ext.center().y())
    feat = QgsFeature()
    feat.setGeometry(QgsGeometry.fromRect(inner))
    polys.dataProvider().addFeatures([feat])
    QgsProject.instance().addMapLayer(polys)
    dock.set_aoi_mode("features")
    dock.aoi_layer_combo.setLayer(polys)
    assert dock.current_aoi() == (None, None)
    assert dock.aoi_panel.rubber_band.numberOfVertices() == 0 and "Select" in dock.aoi_status.text()
    polys.selectAll()  # with the Select tool: the panel follows the selection
    geometry, crs = dock.current_aoi()
    assert geometry.boundingBox() == inner and crs == raster.crs()
    assert "km²" in dock.aoi_status.text()
    assert dock.aoi_panel.rubber_band.asGeometry().boundingBox() == inner
    polys.removeSelection()
    assert dock.aoi_panel.rubber_band.numberOfVertices() == 0
    polys.selectAll()
    dock.set_aoi_mode("extent")
    geometry, _crs = dock.current_aoi()
    assert geometry.boundingBox() == qgis_iface.mapCanvas().extent()
    state = dock.panel_state()
    assert state.aoi_mode == "extent" and state.aoi_wkt and state.aoi_crs


def test_spex_engine_reason_shown(dock, tmp_path):
    available, reason = deps_status()
    item = dock.engine_combo.model().item(1)
    assert item.isEnabled() == available
    if not available:
        assert reason in dock.engine_status.text()
    else:
        dock.engine_combo.setCurrentIndex(1)
        assert dock.model_widget.isEnabled()
        assert "model folder" in dock.engine_status.text().lower()
        assert not dock.run_button.isEnabled() and "model folder" in dock.run_button.toolTip()
        dock.model_widget.setFilePath(str(tmp_path))  # a folder that is not a checkpoint
        assert "config.json" in dock.engine_status.text() and not dock.run_button.isEnabled()
        (tmp_path / "config.json").write_text("{}", encoding="utf-8")
        QCoreApplication.sendEvent(dock, QEvent(QEvent.Enter))  # the user comes back to the panel
        assert dock.run_button.isEnabled() and settings.model_dir()
        dock.engine_combo.setCurrentIndex(0)
        assert dock.run_button.isEnabled() and not dock.model_widget.isEnabled()


def test_lora_base_model_folder_is_offered_persisted_and_requested(dock, qgis_iface, tmp_path):
    """The base model of a LoRA checkpoint: a field of the Engine group, remembered, sent with the request."""
    assert not dock.model_base_widget.isEnabled()  # the spectral engine has no model
    available, _reason = deps_status()
    if not available:
        pytest.skip("the spex engine's packages are not importable here")
    type_prompt(dock, "extract the water bodies")
    dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spex"))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    base = tmp_path / "base"
    base.mkdir()
    dock.model_widget.setFilePath(str(tmp_path))
    assert dock.model_base_widget.isEnabled()
    assert build_request(dock.panel_state()).model_base_dir is None  # empty: the released merged layout
    dock.model_base_widget.setFilePath(str(base))
    assert build_request(dock.panel_state()).model_base_dir == str(base)
    assert settings.model_base_dir() == str(base)
    other = SpexDockWidget(qgis_iface)  # a new QGIS session shows the remembered folder
    try:
        assert other.model_base_widget.filePath() == str(base)
    finally:
        other.unload()
        other.deleteLater()
        settings.set_model_base_dir("")
        dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spectral"))


def test_precision_choice_is_offered_for_spex_persisted_and_requested(dock, qgis_iface, tmp_path):
    combo = dock.precision_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["auto", "fp32", "int8", "bf16", "fp16"]
    assert combo.currentData() == "auto" and "less exact" in combo.toolTip()
    assert "less exact" in combo.itemText(combo.findData("int8"))
    assert not combo.isEnabled()  # the spectral engine has no model precision
    type_prompt(dock, "extract the water bodies")
    combo.setCurrentIndex(combo.findData("int8"))
    assert settings.precision() == "int8"
    state = dock.panel_state()
    assert state.precision == "int8" and build_request(state).precision == "auto"  # spectral: ignored
    available, _reason = deps_status()
    if available:
        dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spex"))
        assert combo.isEnabled()
        (tmp_path / "config.json").write_text("{}", encoding="utf-8")
        dock.model_widget.setFilePath(str(tmp_path))
        dock.device_combo.setCurrentIndex(dock.device_combo.findData("cpu"))
        request = build_request(dock.panel_state())
        assert request.engine == "spex" and request.device == "cpu" and request.precision == "int8"
        dock.device_combo.setCurrentIndex(dock.device_combo.findData("cuda"))
        errors = []
        dock.errorOccurred.connect(errors.append)
        assert dock.run() is None and dock.task is None  # refused before any work starts
        assert len(errors) == 1 and "int8" in errors[0] and "CPU only" in errors[0] and "\n" not in errors[0]
        dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spectral"))
        assert not combo.isEnabled()
    other = SpexDockWidget(qgis_iface)  # a new QGIS session shows the remembered choice
    try:
        assert other.precision_combo.currentData() == "int8"
    finally:
        other.unload()
        other.deleteLater()


def test_unload_restores_canvas(dock, qgis_iface):
    canvas = qgis_iface.mapCanvas()
    dock.set_aoi_mode("polygon")
    dock.draw_button.click()
    assert canvas.mapTool() is dock.polygon_tool
    dock.unload()
    assert canvas.mapTool() is not dock.polygon_tool
    QgsApplication.processEvents()


def test_export_button_writes_shapefile_and_geopackage_asking_before_replacing(
    dock, qgis_iface, tmp_path, monkeypatch
):
    user = UserAnswers(monkeypatch)
    assert not dock.export_button.isEnabled()  # nothing to export yet
    layer, result = run_prompt(dock, qgis_iface, "extract the water bodies")
    assert dock.export_button.isEnabled() and layer.name() in dock.export_button.toolTip()
    explanation = result.explanation
    assert len(explanation.encode("utf-8")) > 254  # too long for one DBF field: split + sidecar

    user.files.append((str(tmp_path / "water"), "ESRI Shapefile (*.shp)"))  # typed without extension
    report = click_export(dock)
    shp = tmp_path / "water.shp"
    assert report.path == str(shp) and report.features == result.features
    assert shp.is_file() and user.questions == []
    ds = ogr.Open(str(shp))
    out = ds.GetLayer(0)
    assert out.GetFeatureCount() == layer.featureCount() == result.features
    assert out.GetSpatialRef().IsSame(ogr.osr.SpatialReference(layer.crs().toWkt()))
    for feature in out:
        assert read_shapefile_text(feature, "explain").startswith("Water region ")  # that feature's text
        assert feature.GetField("class") == "water"
    ds = None
    assert (tmp_path / "water.explain.txt").read_text(encoding="utf-8") == explanation
    assert any("explain.txt" in m for m in messages(qgis_iface, Qgis.Warning))
    assert any(str(shp) in m for m in messages(qgis_iface, Qgis.Success))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temp leftovers

    # The same name again: the user is asked; "No" leaves every file of the set untouched.
    (tmp_path / "water.dbf").write_bytes(b"not yours")  # a part the user may have changed
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    user.files.append((str(shp), "ESRI Shapefile (*.shp)"))
    user.replies.append(QMessageBox.No)
    assert dock.export_result() is None and dock.export_task is None
    assert len(user.questions) == 1 and "water.shp" in user.questions[0]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert "Not exported" in dock.status_label.text()
    # "Yes" replaces the set.
    user.files.append((str(shp), "ESRI Shapefile (*.shp)"))
    user.replies.append(QMessageBox.Yes)
    assert click_export(dock) is not None
    assert len(user.questions) == 2 and (tmp_path / "water.dbf").read_bytes() != b"not yours"
    assert QgsVectorLayer(str(shp), "back", "ogr").featureCount() == result.features

    # A Shapefile part alone (no .shp) is also protected.
    (tmp_path / "lake.dbf").write_bytes(b"keep")
    user.files.append((str(tmp_path / "lake.shp"), "ESRI Shapefile (*.shp)"))
    user.replies.append(QMessageBox.No)
    assert click_export(dock) is None
    assert "lake.dbf" in user.questions[-1] and not (tmp_path / "lake.shp").exists()

    # GeoPackage: chosen by the filter, full explanation in one field.
    user.files.append((str(tmp_path / "water_gpkg"), "GeoPackage (*.gpkg)"))
    assert click_export(dock).driver == "GPKG"
    gpkg = tmp_path / "water_gpkg.gpkg"
    back = QgsVectorLayer(str(gpkg), "back", "ogr")
    assert back.isValid() and back.featureCount() == result.features
    assert all(f["explain"].startswith("Water region ") for f in back.getFeatures())
    assert settings.last_output_dir() == str(tmp_path)

    # Cancelling the file dialog writes nothing.
    user.files.append(("", ""))
    before = sorted(os.listdir(tmp_path))
    assert dock.export_result() is None and sorted(os.listdir(tmp_path)) == before
    assert not messages(qgis_iface, Qgis.Critical)


def test_export_follows_the_selected_result_layer(dock, qgis_iface, tmp_path, monkeypatch):
    user = UserAnswers(monkeypatch)
    water, _ = run_prompt(dock, qgis_iface, "extract the water bodies")
    veg, veg_result = run_prompt(dock, qgis_iface, "提取植被")
    assert dock.export_target().id() == veg.id()  # the last result by default
    qgis_iface.setActiveLayer(water)  # the user selects the older result in the Layers panel
    assert dock.export_target().id() == water.id()
    dock._on_active_layer_changed(water)  # what QGIS's currentLayerChanged calls (the mock's has no layer)
    assert "water" in dock.explanation.toPlainText() and "植被" not in dock.explanation.toPlainText()
    qgis_iface.setActiveLayer(dock.layer_combo.currentLayer())  # not a result: back to the last one
    assert dock.export_target().id() == veg.id()
    qgis_iface.setActiveLayer(veg)
    dock._on_active_layer_changed(veg)

    user.files.append((str(tmp_path / "植被.gpkg"), "GeoPackage (*.gpkg)"))
    report = click_export(dock)
    assert report is not None and report.features == veg_result.features
    back = QgsVectorLayer(str(tmp_path / "植被.gpkg"), "back", "ogr")
    feature = next(back.getFeatures())
    assert feature["class"] == "vegetation" and feature["explain"].startswith("植被区域 ")
    assert "植被" in veg_result.explanation  # a Chinese prompt gets a Chinese explanation
    assert "植被" in dock.explanation.toPlainText()

    # Onto the file the layer is read from (the user even confirms): refused, one line in the message bar.
    user.files.append((veg_result.output, "GeoPackage (*.gpkg)"))
    user.replies.append(QMessageBox.Yes)
    assert click_export(dock) is None
    critical = messages(qgis_iface, Qgis.Critical)
    assert len(critical) == 1 and "read from" in critical[0] and "\n" not in critical[0]
    assert QgsVectorLayer(veg_result.output, "still", "ogr").featureCount() == veg_result.features
    assert dock.export_button.isEnabled()

    QgsProject.instance().removeMapLayers([water.id(), veg.id()])
    assert not dock.export_button.isEnabled() and dock.export_target() is None
    errors = []
    dock.errorOccurred.connect(errors.append)
    dock.export_result()
    assert len(errors) == 1 and "run an extraction first" in errors[0]


def test_prompt_history_and_choices_persist(dock, qgis_iface):
    dock.device_combo.setCurrentIndex(dock.device_combo.findData("cpu"))
    run_prompt(dock, qgis_iface, "extract the vegetation")
    items = [dock.prompt_combo.itemText(i) for i in range(dock.prompt_combo.count())]
    assert items[0] == "extract the vegetation" and "提取水体" in items and "extract the buildings" in items
    assert items.count("extract the vegetation") == 1  # history and examples are not repeated
    assert settings.prompt_history()[0] == "extract the vegetation"
    other = SpexDockWidget(qgis_iface)  # a new QGIS session reads the history back
    try:
        assert other.prompt_combo.itemText(0) == "extract the vegetation"
        assert other.device_combo.currentData() == "cpu"
        assert other.engine_combo.currentData() == "spectral"
    finally:
        other.unload()
        other.deleteLater()


def test_raster_picker_follows_active_layer_and_skips_single_band(dock, qgis_iface, s2_path, tmp_path):
    single_path = str(tmp_path / "dem.tif")
    ds = gdal.GetDriverByName("GTiff").Create(single_path, 8, 8, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((500000, 10, 0, 4000000, 0, -10))
    ds = None
    single = QgsRasterLayer(single_path, "dem")
    s2 = QgsRasterLayer(s2_path, "Sentinel-2 sample")
    QgsProject.instance().addMapLayers([single, s2])
    excluded = {layer.id() for layer in dock.layer_combo.exceptedLayerList()}
    assert single.id() in excluded and s2.id() not in excluded
    # pytest-qgis's iface declares currentLayerChanged with a canvas argument, so call the slot it feeds.
    dock._on_active_layer_changed(single)  # a one-band raster is not taken
    assert dock.layer_combo.currentLayer().name() == "aerial RGBN sample"
    dock._on_active_layer_changed(s2)
    assert dock.layer_combo.currentLayer().id() == s2.id()
    wait_bands(dock)
    assert "sentinel2" in dock.bands_summary.text()


def test_area_is_shown_as_a_rubber_band(dock, qgis_iface):
    extent = dock.layer_combo.currentLayer().extent()
    inner = QgsRectangle(extent.xMinimum(), extent.yMinimum(), extent.center().x(), extent.center().y())
    dock.set_aoi_mode("rectangle")
    dock.set_drawn_aoi(QgsGeometry.fromRect(inner), dock.canvas.mapSettings().destinationCrs())
    band = dock.aoi_panel.rubber_band
    assert band in dock.canvas.scene().items()
    assert abs(band.asGeometry().area() - inner.area()) < 1e-6 * inner.area()
    dock.set_aoi_mode("layer")  # whole layer: nothing drawn
    assert band.numberOfVertices() == 0
    dock.set_aoi_mode("rectangle")
    dock.clear_aoi_button.click()
    assert band.numberOfVertices() == 0 and "Draw" in dock.aoi_status.text()


def test_progress_and_stage_messages_during_run(dock, qgis_iface):
    values, stages = [], []
    dock.progress.valueChanged.connect(values.append)
    type_prompt(dock, "extract the vegetation")
    QTest.mouseClick(dock.run_button, Qt.LeftButton)
    deadline = time.monotonic() + 120
    while dock.task is not None and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        text = dock.status_label.text()
        if not stages or stages[-1] != text:
            stages.append(text)
        time.sleep(0.005)
    assert dock.task is None
    assert any(0 < v < 100 for v in values), values  # intermediate progress reached the bar
    assert values == sorted(values) and dock.progress.value() == 100
    assert len(stages) >= 2  # "Running: ..." then the runtime's own stage messages
    assert "polygons" in dock.status_label.text()


def test_unload_during_a_run_cancels_and_removes_the_rubber_band(dock, qgis_iface):
    extent = dock.layer_combo.currentLayer().extent()
    dock.set_aoi_mode("rectangle")
    dock.set_drawn_aoi(QgsGeometry.fromRect(extent), dock.canvas.mapSettings().destinationCrs())
    band = dock.aoi_panel.rubber_band
    type_prompt(dock, "extract the vegetation")
    dock.run_button.click()
    task = dock.task
    assert task is not None
    dock.unload()
    wait_finished(dock)
    assert task.was_cancelled or task.isCanceled()
    assert band not in dock.canvas.scene().items()
    assert QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP) is None


def test_export_of_an_edited_result_layer_keeps_the_edits(dock, qgis_iface, tmp_path, monkeypatch):
    user = UserAnswers(monkeypatch)
    veg, result = run_prompt(dock, qgis_iface, "extract the vegetation")
    veg.startEditing()  # the user deletes a polygon and has not saved yet: the export holds what they see
    first = next(veg.getFeatures()).id()
    assert veg.deleteFeature(first)
    user.files.append((str(tmp_path / "edited.gpkg"), "GeoPackage (*.gpkg)"))
    report = click_export(dock)
    assert report is not None and report.features == result.features - 1
    assert QgsVectorLayer(str(tmp_path / "edited.gpkg"), "back", "ogr").featureCount() == result.features - 1
    veg.rollBack()
