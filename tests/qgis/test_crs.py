"""A raster in EPSG:32633, the canvas in EPSG:3857, an AOI drawn with the mouse: features land in place."""

from __future__ import annotations

import os
import time

import pytest
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QPoint, Qt
from qgis.PyQt.QtTest import QTest

import model_runtime
from model_runtime.request import ExtractRequest
from spex_qgis import settings
from spex_qgis.dock import SpexDockWidget

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "data", "samples")
UTM33 = QgsCoordinateReferenceSystem("EPSG:32633")
WEB_MERCATOR = QgsCoordinateReferenceSystem("EPSG:3857")


@pytest.fixture
def utm33_raster(tmp_path):
    """The real aerial RGBN sample, its grid declared in EPSG:32633 (pixels and band roles unchanged)."""
    src = os.path.abspath(os.path.join(SAMPLES, "aerial_rgbn.tif"))
    if not os.path.isfile(src):
        pytest.skip(f"run `make samples` first: {src} is missing")
    out = str(tmp_path / "aerial_utm33.tif")
    gdal.Translate(out, src, outputSRS="EPSG:32633")
    return out


def _pixel(canvas, point) -> QPoint:
    p = canvas.getCoordinateTransform().transform(point)
    return QPoint(int(round(p.x())), int(round(p.y())))


def _union(layer: QgsVectorLayer) -> QgsGeometry:
    return QgsGeometry.unaryUnion([f.geometry() for f in layer.getFeatures()])


def test_aoi_drawn_in_web_mercator_on_utm33_raster(
    qgis_app, qgis_iface, qgis_new_project, utm33_raster, tmp_path
):
    settings.clear_all()
    raster = QgsRasterLayer(utm33_raster, "aerial (EPSG:32633)")
    assert raster.isValid() and raster.crs() == UTM33
    QgsProject.instance().addMapLayer(raster)
    canvas = qgis_iface.mapCanvas()
    canvas.resize(700, 700)
    canvas.setDestinationCrs(WEB_MERCATOR)
    to_canvas = QgsCoordinateTransform(UTM33, WEB_MERCATOR, QgsProject.instance())
    canvas.setExtent(to_canvas.transformBoundingBox(raster.extent()))
    QTest.qWait(20)

    dock = SpexDockWidget(qgis_iface)
    try:
        dock.prompt_combo.setEditText("extract the water bodies")
        dock.set_aoi_mode("rectangle")
        dock.draw_button.click()
        # drag over the middle of the raster: corners taken in the raster CRS, shown where the canvas has them
        ext = raster.extent()
        a = to_canvas.transform(ext.xMinimum() + 0.25 * ext.width(), ext.yMaximum() - 0.2 * ext.height())
        b = to_canvas.transform(ext.xMinimum() + 0.85 * ext.width(), ext.yMaximum() - 0.75 * ext.height())
        viewport = canvas.viewport()
        QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, _pixel(canvas, a))
        QTest.mouseMove(viewport, _pixel(canvas, b))
        QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, _pixel(canvas, b))
        drawn, drawn_crs = dock.current_aoi()
        assert drawn_crs == WEB_MERCATOR
        assert dock.panel_state().aoi_crs == "EPSG:3857"

        results = []
        dock.resultAdded.connect(lambda layer, result: results.append((layer, result)))
        assert dock.run() is not None
        deadline = time.monotonic() + 120
        while dock.task is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.01)
        assert results, qgis_iface.messageBar().get_messages(2)
        layer, result = results[0]
    finally:
        dock.unload()
        dock.deleteLater()

    assert layer.crs() == UTM33  # the file's CRS: the raster's, not the canvas's
    assert result.features > 0
    # The drawn rectangle, back in the raster CRS (densified: a 3857 rectangle is not a UTM rectangle).
    aoi = QgsGeometry(drawn).densifyByCount(50)
    aoi.transform(QgsCoordinateTransform(WEB_MERCATOR, UTM33, QgsProject.instance()))
    pixel = raster.rasterUnitsPerPixelX()
    tolerance = aoi.buffer(1.5 * pixel, 1)
    for feature in layer.getFeatures():
        assert tolerance.contains(feature.geometry()), feature.id()

    # Same place as the whole-raster result clipped to the AOI (a shifted/flipped AOI would not match).
    whole = model_runtime.extract(
        ExtractRequest(
            raster=utm33_raster, prompt="extract the water bodies", output=str(tmp_path / "whole.gpkg")
        )
    )
    whole_layer = QgsVectorLayer(f"{whole.output}|layername={whole.layer}", "whole", "ogr")
    inner = aoi.buffer(-2 * pixel, 1)  # away from the edge, where clipping may cut regions differently
    expected = _union(whole_layer).intersection(inner)
    got = _union(layer).intersection(inner)
    assert expected.area() > 0
    overlap = got.intersection(expected).area() / got.combine(expected).area()
    assert overlap > 0.9, overlap
