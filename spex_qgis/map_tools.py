"""Map tools that draw an area of interest on the canvas.

Both tools emit ``geometryDrawn(QgsGeometry)`` in the CANVAS CRS (the dock attaches the canvas CRS and the
runtime reprojects) or ``drawingCancelled()``, then hand the canvas back to the tool that was active before.
"""

from __future__ import annotations

from typing import List

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

AOI_STROKE = QColor(255, 140, 0)  # orange: readable over true-colour imagery and the class colours
AOI_FILL = QColor(255, 140, 0, 40)


def make_rubber_band(canvas: QgsMapCanvas, dashed: bool = False) -> QgsRubberBand:
    """A polygon rubber band in the SPEX AOI colours."""
    band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
    band.setStrokeColor(AOI_STROKE)
    band.setFillColor(AOI_FILL)
    band.setWidth(2)
    if dashed:
        band.setLineStyle(Qt.DashLine)
    return band


class _AoiTool(QgsMapTool):
    geometryDrawn = pyqtSignal(QgsGeometry)
    drawingCancelled = pyqtSignal()

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self._canvas = canvas
        self._previous: QgsMapTool | None = None
        self._band: QgsRubberBand | None = None
        self.setCursor(Qt.CrossCursor)

    def start(self) -> None:
        """Make this the canvas's tool, remembering the previous one."""
        current = self._canvas.mapTool()
        if current is not self:
            self._previous = current
        self._canvas.setMapTool(self)

    def restore_previous(self) -> None:
        """Give the canvas back to the tool that was active before :meth:`start`."""
        if self._canvas.mapTool() is self:
            if self._previous is not None:
                self._canvas.setMapTool(self._previous)
            else:
                self._canvas.unsetMapTool(self)
        self._previous = None

    def _reset(self) -> None:
        if self._band is not None:
            self._band.reset(QgsWkbTypes.PolygonGeometry)
            self._canvas.scene().removeItem(self._band)
            self._band = None

    def _finish(self, geometry: QgsGeometry | None) -> None:
        self._reset()
        self.restore_previous()
        if geometry is not None and not geometry.isEmpty() and geometry.area() > 0:
            self.geometryDrawn.emit(geometry)
        else:
            self.drawingCancelled.emit()

    def keyPressEvent(self, event) -> None:
        """Esc cancels the drawing."""
        if event.key() == Qt.Key_Escape:
            event.accept()
            self._finish(None)
        else:
            event.ignore()

    def deactivate(self) -> None:
        """Another tool took over: drop the unfinished shape."""
        self._reset()
        super().deactivate()

    def unload(self) -> None:
        """Plugin unload: leave the canvas without this tool."""
        self._reset()
        if self._canvas.mapTool() is self:
            self._canvas.unsetMapTool(self)
        self._previous = None


class RectangleAoiTool(_AoiTool):
    """Press, drag and release to draw a rectangle."""

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self._origin: QgsPointXY | None = None

    def canvasPressEvent(self, event) -> None:
        """Start the rectangle at the pressed point."""
        if event.button() != Qt.LeftButton:
            return
        self._origin = event.mapPoint()
        self._reset()
        self._band = make_rubber_band(self._canvas, dashed=True)

    def canvasMoveEvent(self, event) -> None:
        """Stretch the rectangle to the cursor."""
        if self._origin is None or self._band is None:
            return
        rect = QgsRectangle(self._origin, event.mapPoint())
        self._band.setToGeometry(QgsGeometry.fromRect(rect), None)

    def canvasReleaseEvent(self, event) -> None:
        """Finish: emit the rectangle (canvas CRS) unless it has no area."""
        if event.button() != Qt.LeftButton or self._origin is None:
            return
        rect = QgsRectangle(self._origin, event.mapPoint())
        self._origin = None
        self._finish(QgsGeometry.fromRect(rect) if rect.width() > 0 and rect.height() > 0 else None)


class PolygonAoiTool(_AoiTool):
    """Left click adds a vertex, Backspace removes the last one, right click finishes, Esc cancels."""

    def __init__(self, canvas: QgsMapCanvas):
        super().__init__(canvas)
        self._points: List[QgsPointXY] = []

    def _update(self, floating: QgsPointXY | None = None) -> None:
        if self._band is None:
            self._band = make_rubber_band(self._canvas, dashed=True)
        points = self._points + ([floating] if floating is not None else [])
        self._band.reset(QgsWkbTypes.PolygonGeometry)
        for i, point in enumerate(points):
            self._band.addPoint(point, i == len(points) - 1)

    def canvasPressEvent(self, event) -> None:
        """Left: add a vertex."""
        if event.button() == Qt.LeftButton:
            self._points.append(event.mapPoint())
            self._update()

    def canvasReleaseEvent(self, event) -> None:
        """Right: close the polygon (needs 3 vertices).

        On release, not press: the canvas hands a right-button release to the previous tool when that one
        is transient (pan), which would switch straight back to this tool.
        """
        if event.button() != Qt.RightButton:
            return
        points, self._points = self._points, []
        geometry = QgsGeometry.fromPolygonXY([points + [points[0]]]) if len(points) >= 3 else None
        if geometry is not None and not geometry.isGeosValid():
            geometry = geometry.makeValid()  # a self-crossing outline still means "this area"
        self._finish(geometry)

    def canvasMoveEvent(self, event) -> None:
        """Show the edge to the cursor."""
        if self._points:
            self._update(event.mapPoint())

    def keyPressEvent(self, event) -> None:
        """Backspace/Delete: remove the last vertex; Esc: cancel."""
        if event.key() in (Qt.Key_Backspace, Qt.Key_Delete) and self._points:
            self._points.pop()
            self._update()
            event.accept()
            return
        if event.key() == Qt.Key_Escape:
            self._points = []
        super().keyPressEvent(event)

    def deactivate(self) -> None:
        """Another tool took over: forget the vertices."""
        self._points = []
        super().deactivate()
