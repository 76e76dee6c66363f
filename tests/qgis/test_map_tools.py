"""Area-of-interest map tools driven with real mouse/key events on a QgsMapCanvas."""

from __future__ import annotations

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsPointXY, QgsRectangle
from qgis.gui import QgsMapToolPan
from qgis.PyQt.QtCore import QPoint, Qt
from qgis.PyQt.QtTest import QTest

from spex_qgis.map_tools import PolygonAoiTool, RectangleAoiTool


@pytest.fixture
def canvas(qgis_canvas):
    qgis_canvas.resize(600, 400)
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    qgis_canvas.setExtent(QgsRectangle(0, 0, 6000, 4000))
    qgis_canvas.refresh()
    QTest.qWait(10)
    pan = QgsMapToolPan(qgis_canvas)
    qgis_canvas.setMapTool(pan)
    yield qgis_canvas
    qgis_canvas.unsetMapTool(pan)


def _map(canvas, x, y) -> QgsPointXY:
    return canvas.getCoordinateTransform().toMapCoordinates(x, y)


def _collect(tool):
    drawn, cancelled = [], []
    tool.geometryDrawn.connect(drawn.append)
    tool.drawingCancelled.connect(lambda: cancelled.append(True))
    return drawn, cancelled


def test_rectangle_tool_emits_canvas_crs_rectangle_and_restores_previous_tool(canvas):
    previous = canvas.mapTool()
    tool = RectangleAoiTool(canvas)
    drawn, cancelled = _collect(tool)
    tool.start()
    assert canvas.mapTool() is tool
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(100, 100))
    QTest.mouseMove(viewport, QPoint(200, 150))
    QTest.mouseMove(viewport, QPoint(300, 250))
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(300, 250))
    assert not cancelled and len(drawn) == 1
    box = drawn[0].boundingBox()
    a, b = _map(canvas, 100, 100), _map(canvas, 300, 250)
    assert box.xMinimum() == pytest.approx(min(a.x(), b.x()))
    assert box.xMaximum() == pytest.approx(max(a.x(), b.x()))
    assert box.yMinimum() == pytest.approx(min(a.y(), b.y()))
    assert box.yMaximum() == pytest.approx(max(a.y(), b.y()))
    assert drawn[0].area() == pytest.approx(box.area())
    assert canvas.mapTool() is previous


def test_rectangle_click_without_drag_is_cancelled(canvas):
    tool = RectangleAoiTool(canvas)
    drawn, cancelled = _collect(tool)
    tool.start()
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(50, 50))
    assert drawn == [] and cancelled == [True]


def test_polygon_tool_clicks_and_right_click_finish(canvas):
    previous = canvas.mapTool()
    tool = PolygonAoiTool(canvas)
    drawn, cancelled = _collect(tool)
    tool.start()
    viewport = canvas.viewport()
    pixels = [(100, 100), (400, 120), (350, 300), (120, 280)]
    for x, y in pixels:
        QTest.mouseMove(viewport, QPoint(x, y))
        QTest.mouseClick(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(x, y))
    QTest.mouseClick(viewport, Qt.RightButton, Qt.NoModifier, QPoint(120, 280))
    assert not cancelled and len(drawn) == 1
    ring = drawn[0].asPolygon()[0]
    expected = [_map(canvas, x, y) for x, y in pixels]
    assert len(ring) == 5
    for got, want in zip(ring[:4], expected):
        assert got.x() == pytest.approx(want.x()) and got.y() == pytest.approx(want.y())
    assert canvas.mapTool() is previous


def test_polygon_backspace_escape_and_too_few_vertices(canvas):
    tool = PolygonAoiTool(canvas)
    drawn, cancelled = _collect(tool)
    tool.start()
    viewport = canvas.viewport()
    for x, y in [(100, 100), (300, 100), (300, 300)]:
        QTest.mouseClick(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(x, y))
    QTest.keyClick(viewport, Qt.Key_Backspace)  # back to two vertices: not a polygon
    QTest.mouseClick(viewport, Qt.RightButton, Qt.NoModifier, QPoint(300, 300))
    assert drawn == [] and cancelled == [True]

    tool.start()
    QTest.mouseClick(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(100, 100))
    QTest.mouseClick(viewport, Qt.LeftButton, Qt.NoModifier, QPoint(200, 100))
    QTest.keyClick(viewport, Qt.Key_Escape)
    assert drawn == [] and cancelled == [True, True]
    assert canvas.mapTool() is not tool


def test_unload_leaves_no_tool(canvas):
    tool = PolygonAoiTool(canvas)
    tool.start()
    QTest.mouseClick(canvas.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(100, 100))
    tool.unload()
    assert canvas.mapTool() is not tool
