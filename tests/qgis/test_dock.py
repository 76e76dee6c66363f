"""The SPEX panel driven like a user in real QGIS: pick the layer, type, draw, Run, read the result."""

from __future__ import annotations

import os
import time

import pytest
from qgis.core import Qgis, QgsApplication, QgsGeometry, QgsProject, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QCoreApplication, QPoint, Qt
from qgis.PyQt.QtTest import QTest

from spex_qgis import layers, settings
from spex_qgis.dock import SpexDockWidget
from spex_qgis.task import session_temp_dir

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "samples")


def _sample(name: str) -> str:
    path = os.path.abspath(os.path.join(SAMPLES, name))
    if not os.path.isfile(path):
        pytest.skip(f"run `make samples` first: {path} is missing")
    return path


@pytest.fixture
def s2_path(request):
    """The real Sentinel-2 L2A sample (tests/conftest.py's ``s2_sample`` when it exists)."""
    try:
        return str(request.getfixturevalue("s2_sample"))
    except pytest.FixtureLookupError:
        return _sample("sentinel2_l2a_subset.tif")


@pytest.fixture
def scene_path():
    """The real 4-band aerial RGBN sample: fully valid pixels with water and vegetation (the Sentinel-2
    sample is 99.5 % no-data and has no water)."""
    return _sample("aerial_rgbn.tif")


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


def type_prompt(widget: SpexDockWidget, text: str) -> None:
    edit = widget.prompt_combo.lineEdit()
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key_Delete)
    QTest.keyClicks(edit, text)


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


def test_panel_detects_sensor_and_bands(dock, qgis_iface, s2_path):
    aerial = dock.layer_combo.currentLayer()
    assert isinstance(aerial, QgsRasterLayer)  # the only multiband raster is picked without a click
    assert dock.band_mapping() == {"red": 1, "green": 2, "blue": 3, "nir": 4}
    raster = QgsRasterLayer(s2_path, "Sentinel-2 sample")
    QgsProject.instance().addMapLayer(raster)
    single = QgsRasterLayer(s2_path.replace(".tif", ".tif"), "one band")
    assert dock.layer_combo.currentLayer() is aerial  # adding a layer does not steal the choice
    dock.layer_combo.setLayer(raster)
    mapping = dock.band_mapping()
    assert mapping["red"] == 3 and mapping["nir"] == 4 and mapping["swir1"] == 5
    assert "sentinel2" in dock.bands_summary.text()
    assert single.isValid()
    dock.set_band("swir2", 5)  # a user edit is remembered for this sensor
    assert settings.band_mapping("sentinel2_l2a")["swir2"] == 5
    dock._on_layer_changed(raster)  # re-picking the layer restores the remembered mapping
    assert dock.band_mapping()["swir2"] == 5
    dock.reset_bands_button.click()
    assert dock.band_mapping()["swir2"] == 6 and settings.band_mapping("sentinel2_l2a") == {}


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
    assert {f["explain"] for f in layer.getFeatures()} == {result.explanation}
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
    polys.selectAll()
    geometry, crs = dock.current_aoi()
    assert geometry.boundingBox() == inner and crs == raster.crs()
    dock.set_aoi_mode("extent")
    geometry, _crs = dock.current_aoi()
    assert geometry.boundingBox() == qgis_iface.mapCanvas().extent()
    state = dock.panel_state()
    assert state.aoi_mode == "extent" and state.aoi_wkt and state.aoi_crs


def test_spex_engine_reason_shown(dock):
    available, reason = dock._deps_status()
    item = dock.engine_combo.model().item(1)
    assert item.isEnabled() == available
    if not available:
        assert reason in dock.engine_status.text()
    else:
        dock.engine_combo.setCurrentIndex(1)
        assert dock.model_widget.isEnabled()
        assert "model folder" in dock.engine_status.text().lower()


def test_unload_restores_canvas(dock, qgis_iface):
    canvas = qgis_iface.mapCanvas()
    dock.set_aoi_mode("polygon")
    dock.draw_button.click()
    assert canvas.mapTool() is dock.polygon_tool
    dock.unload()
    assert canvas.mapTool() is not dock.polygon_tool
    QgsApplication.processEvents()
