"""The "Area of interest" panel: whole layer, map extent, a drawn rectangle or polygon, or the selected
features of a polygon layer; the area is shown as a rubber band and checked against the raster."""

from __future__ import annotations

from typing import Callable

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsDistanceArea,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..map_tools import PolygonAoiTool, RectangleAoiTool, make_rubber_band
from .common import group, icon


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


AOI_MODES = ("layer", "extent", "rectangle", "polygon", "features")
_ICONS = {
    "layer": "mIconRaster.svg",
    "extent": "mActionZoomFullExtent.svg",
    "rectangle": "mActionSelectRectangle.svg",
    "polygon": "mActionSelectPolygon.svg",
    "features": "mIconPolygonLayer.svg",
}


def area_km2(geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> float | None:
    """The ellipsoidal area of ``geometry`` (in ``crs``) in km² (None when it cannot be measured)."""
    calc = QgsDistanceArea()
    calc.setSourceCrs(crs, QgsProject.instance().transformContext())
    calc.setEllipsoid(crs.ellipsoidAcronym() or "EPSG:7030")
    try:
        return calc.measureArea(geometry) / 1e6
    except Exception:  # measuring is informative only
        return None


def raster_overlap(layer, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> str:
    """ "full", "partial" or "none": how the area lies over the raster ``layer`` ("" when unknown)."""
    if not isinstance(layer, QgsRasterLayer) or not crs.isValid() or not layer.crs().isValid():
        return ""
    footprint = QgsGeometry.fromRect(layer.extent())
    try:
        if layer.crs() != crs:
            footprint.transform(
                QgsCoordinateTransform(layer.crs(), crs, QgsProject.instance().transformContext())
            )
    except QgsCsException:
        return ""
    if not footprint.intersects(geometry):
        return "none"
    return "full" if footprint.contains(geometry) else "partial"


class AoiPanel(QWidget):
    """The area mode, the Draw/Clear buttons, the features layer and a status line under them."""

    def __init__(self, canvas, raster_layer: Callable[[], object], parent: QWidget | None = None):
        """``canvas``: the map canvas drawn on; ``raster_layer()``: the raster the area is checked against."""
        super().__init__(parent)
        self.canvas = canvas
        self.raster_layer = raster_layer
        self.geometry: QgsGeometry | None = None  # drawn rectangle/polygon
        self.crs = QgsCoordinateReferenceSystem()
        self.is_rectangle = True
        self.rubber_band = None
        self._watched_layer: QgsVectorLayer | None = None  # its selection is the area ("features" mode)
        self._build()
        self.rectangle_tool = RectangleAoiTool(canvas)
        self.polygon_tool = PolygonAoiTool(canvas)
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.geometryDrawn.connect(self._on_geometry_drawn)
            tool.drawingCancelled.connect(self._on_drawing_cancelled)
        self.aoi_combo.currentIndexChanged.connect(self.on_mode_changed)
        self.draw_button.clicked.connect(self._on_draw_clicked)
        self.clear_aoi_button.clicked.connect(self.clear)
        self.aoi_layer_combo.layerChanged.connect(self.on_mode_changed)
        canvas.destinationCrsChanged.connect(self.show_area)
        canvas.extentsChanged.connect(self._on_extent_changed)

    def _build(self) -> None:
        self.aoi_combo = QComboBox()
        labels = {
            "layer": tr("Whole layer"),
            "extent": tr("Current map extent"),
            "rectangle": tr("Draw a rectangle"),
            "polygon": tr("Draw a polygon"),
            "features": tr("Selected features of a layer"),
        }
        for mode in AOI_MODES:
            self.aoi_combo.addItem(icon(_ICONS[mode]), labels[mode], mode)
        self.draw_button = QToolButton()
        self.draw_button.setIcon(icon("mActionAddPolygon.svg"))
        self.draw_button.setText(tr("Draw"))
        self.draw_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip(tr("Draw the area on the map"))
        self.clear_aoi_button = QToolButton()
        self.clear_aoi_button.setIcon(icon("mActionDeleteSelected.svg"))
        self.clear_aoi_button.setToolTip(tr("Clear the drawn area"))
        row = QHBoxLayout()
        row.addWidget(self.aoi_combo, 1)
        row.addWidget(self.draw_button)
        row.addWidget(self.clear_aoi_button)
        self.aoi_layer_combo = QgsMapLayerComboBox()
        self.aoi_layer_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.aoi_status = QLabel()
        self.aoi_status.setWordWrap(True)
        self.aoi_status.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout()
        layout.addLayout(row)
        layout.addWidget(self.aoi_layer_combo)
        layout.addWidget(self.aoi_status)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(group(tr("Area of interest"), layout))

    # ------------------------------------------------------------------- mode
    def mode(self) -> str:
        """The chosen area mode: layer, extent, rectangle, polygon or features."""
        return self.aoi_combo.currentData() or "layer"

    def set_mode(self, mode: str) -> None:
        """Select an area mode (as the user would in the combo)."""
        self.aoi_combo.setCurrentIndex(self.aoi_combo.findData(mode))

    def on_mode_changed(self, *_args) -> None:
        """Show the controls of the mode, watch the features layer, redraw the area."""
        mode = self.mode()
        drawing = mode in ("rectangle", "polygon")
        self.draw_button.setVisible(drawing)
        self.clear_aoi_button.setVisible(drawing)
        self.aoi_layer_combo.setVisible(mode == "features")
        self._watch_layer(self.aoi_layer_combo.currentLayer() if mode == "features" else None)
        if not drawing:
            self.stop_tools()
        if drawing and self.geometry is not None and (mode == "rectangle") != self.is_rectangle:
            self.geometry = None  # a rectangle is not the polygon asked for, and the other way round
        self.show_area()

    def _watch_layer(self, layer) -> None:
        """Redraw the area when the selection of the "features" layer changes."""
        layer = layer if isinstance(layer, QgsVectorLayer) else None
        if layer is self._watched_layer:
            return
        if self._watched_layer is not None:
            try:
                self._watched_layer.selectionChanged.disconnect(self.show_area)
            except (TypeError, RuntimeError):  # already gone with its layer
                pass
        self._watched_layer = layer
        if layer is not None:
            layer.selectionChanged.connect(self.show_area)

    def _on_extent_changed(self) -> None:
        if self.mode() == "extent":
            self.show_area()

    # ---------------------------------------------------------------- drawing
    def _on_draw_clicked(self, checked: bool) -> None:
        if not checked:
            self.stop_tools()
            return
        tool = self.rectangle_tool if self.mode() == "rectangle" else self.polygon_tool
        tool.start()
        hint = (
            tr("Drag a rectangle on the map (Esc cancels).")
            if tool is self.rectangle_tool
            else tr("Click the vertices, right-click to finish (Backspace undoes, Esc cancels).")
        )
        self.aoi_status.setText(hint)

    def stop_tools(self) -> None:
        """Give the canvas its previous map tool back."""
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.restore_previous()
        self.draw_button.setChecked(False)

    def _on_geometry_drawn(self, geometry: QgsGeometry) -> None:
        self.geometry = QgsGeometry(geometry)
        self.crs = self.canvas.mapSettings().destinationCrs()
        self.is_rectangle = self.sender() is self.rectangle_tool
        self.draw_button.setChecked(False)
        self.show_area()

    def _on_drawing_cancelled(self) -> None:
        self.draw_button.setChecked(False)
        self.show_area()

    def set_drawn(self, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> None:
        """Use ``geometry`` (in ``crs``) as the drawn area, as if drawn with the map tool."""
        self.geometry = QgsGeometry(geometry)
        self.crs = QgsCoordinateReferenceSystem(crs)
        self.is_rectangle = self.mode() != "polygon"
        self.show_area()

    def clear(self) -> None:
        """Forget the drawn area."""
        self.geometry = None
        self.show_area()

    # ------------------------------------------------------------------- area
    def current(self):
        """(geometry, crs) of the area the run would use; (None, None) for the whole layer or nothing yet."""
        mode = self.mode()
        if mode == "extent":
            return QgsGeometry.fromRect(self.canvas.extent()), self.canvas.mapSettings().destinationCrs()
        if mode in ("rectangle", "polygon"):
            return (self.geometry, self.crs) if self.geometry is not None else (None, None)
        if mode == "features":
            layer = self.aoi_layer_combo.currentLayer()
            if not isinstance(layer, QgsVectorLayer) or layer.selectedFeatureCount() == 0:
                return None, None
            parts = [f.geometry() for f in layer.getSelectedFeatures() if f.hasGeometry()]
            geometry = QgsGeometry.unaryUnion(parts) if parts else None
            if geometry is not None and geometry.type() != QgsWkbTypes.PolygonGeometry:
                return None, None
            return geometry, layer.crs()
        return None, None

    def show_area(self, *_args) -> None:
        """Draw the area as a rubber band and say how it lies over the raster (red when outside)."""
        geometry, crs = self.current()
        if self.rubber_band is None:
            self.rubber_band = make_rubber_band(self.canvas)
        self.rubber_band.reset(QgsWkbTypes.PolygonGeometry)
        mode = self.mode()
        if geometry is not None and mode != "extent":
            self.rubber_band.setToGeometry(geometry, crs)
        overlap = raster_overlap(self.raster_layer(), geometry, crs) if geometry is not None else ""
        self.aoi_status.setText(self._text(mode, geometry, crs, overlap))
        outside = overlap == "none" and mode != "layer"
        self.aoi_status.setStyleSheet(
            "color: #c0392b; font-weight: bold;" if outside else "color: palette(mid);"
        )

    def _text(self, mode, geometry, crs, overlap: str) -> str:
        if mode == "layer":
            return tr("The whole raster is processed.")
        if geometry is None:
            if mode == "features":
                return tr("Select polygons in this layer with the Select tool.")
            return tr("Click Draw, then draw on the map.")
        if overlap == "none":
            return tr("Outside the raster: this area does not overlap '{}'. Draw it over the raster.").format(
                self.raster_layer().name()
            )
        area = area_km2(geometry, crs)
        text = tr("Area: {} km²").format(f"{area:,.2f}") if area is not None else ""
        if overlap == "partial":
            text += " " + tr("(partly outside the raster: only the overlap is processed)")
        return text

    # -------------------------------------------------------------- lifecycle
    def hide_area(self) -> None:
        """Hide the rubber band and stop drawing (the panel was closed)."""
        if self.rubber_band is not None:
            self.rubber_band.reset(QgsWkbTypes.PolygonGeometry)
        self.stop_tools()

    def unload(self) -> None:
        """Drop the map tools and the rubber band; stop following the canvas and the features layer."""
        self._watch_layer(None)
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.unload()
        if self.rubber_band is not None:
            self.rubber_band.reset(QgsWkbTypes.PolygonGeometry)
            self.canvas.scene().removeItem(self.rubber_band)
            self.rubber_band = None
        for signal, slot in (
            (self.canvas.destinationCrsChanged, self.show_area),
            (self.canvas.extentsChanged, self._on_extent_changed),
        ):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass
