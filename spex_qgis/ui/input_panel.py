"""The Input panel: the raster, its sensor and the band table (which band is red, NIR, SWIR...).

The runtime detects the bands on a worker thread (:mod:`spex_qgis.ui.band_detection`); until it answers
(``detectingChanged``) the table shows the user's remembered edits for this file, and a run started
meanwhile sends only those: the runtime detects the other roles itself.
"""

from __future__ import annotations

import html
from typing import Callable, Dict, List

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import QCoreApplication, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from .. import settings
from .band_detection import BandDetector, Detection
from .common import form_layout, group, icon, multiband_gdal


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


CORE_ROLES = ("blue", "green", "red", "rededge1", "nir", "swir1", "swir2")


def role_label(role: str) -> str:
    """A band role as the user reads it (the runtime's role id in brackets when translated)."""
    labels = {
        "coastal": tr("coastal aerosol"),
        "blue": tr("blue"),
        "green": tr("green"),
        "red": tr("red"),
        "rededge1": tr("red edge 1"),
        "rededge2": tr("red edge 2"),
        "rededge3": tr("red edge 3"),
        "nir": tr("NIR"),
        "nir08": tr("narrow NIR"),
        "watervapour": tr("water vapour"),
        "cirrus": tr("cirrus"),
        "swir1": tr("SWIR 1"),
        "swir2": tr("SWIR 2"),
        "thermal1": tr("thermal 1"),
        "thermal2": tr("thermal 2"),
        "pan": tr("panchromatic"),
    }
    label = labels.get(role, role)
    return label if label.replace(" ", "").lower() == role else f"{label} ({role})"


def _runtime_roles() -> tuple:
    from model_runtime.io.bands import BAND_ROLES  # the runtime ships inside the plugin

    return tuple(BAND_ROLES)


def _sensor_presets() -> dict:
    try:
        from model_runtime.io.bands import SENSOR_PRESETS
    except ImportError:
        return {}
    return SENSOR_PRESETS


class InputPanel(QWidget):
    """Raster picker, sensor preset and band table; ``layerChanged(layer)`` once the table shows it,
    ``rasterCrsChanged()`` when the chosen raster's CRS changes, ``detectingChanged(bool)``,
    ``bandEditsChanged(source, edits)`` when the user changed the table (the controller remembers them)."""

    layerChanged = pyqtSignal(object)
    rasterCrsChanged = pyqtSignal()
    detectingChanged = pyqtSignal(bool)
    bandEditsChanged = pyqtSignal(str, object)  # raster source, {role: band} edits (None: forget them)

    def __init__(self, localize: Callable[[str], str], parent: QWidget | None = None):
        """``localize``: renders a runtime message (a detection note) in the UI language."""
        super().__init__(parent)
        self.localize = localize
        self.detected_roles: Dict[str, int] = {}
        self.detected_sensor: str | None = None
        self.bands_layer_id: str | None = None  # the layer the band table was filled for
        self._table_roles: List[str] = []
        self._loading = False
        self._notes = ""
        self.detector = BandDetector(self)
        self.detector.detected.connect(self._on_detected)
        self._build()
        self.layer_combo.layerChanged.connect(self.show_layer)
        self.sensor_combo.currentIndexChanged.connect(self._on_sensor_changed)
        self.reset_bands_button.clicked.connect(self.reset_bands)

    def _build(self) -> None:
        form = form_layout()
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip(tr("A multispectral raster (3 or more bands) read from a file"))
        form.addRow(tr("Raster"), self.layer_combo)
        self.sensor_combo = QComboBox()
        self.sensor_combo.setToolTip(tr("Sensor preset that decides which band is which"))
        form.addRow(tr("Sensor"), self.sensor_combo)
        self.bands_summary = QLabel()
        self.bands_summary.setWordWrap(True)
        self.bands_summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow(tr("Bands"), self.bands_summary)
        self.band_table = QTableWidget(0, 2)
        self.band_table.setHorizontalHeaderLabels([tr("Role"), tr("Band")])
        self.band_table.verticalHeader().setVisible(False)
        self.band_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.band_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.band_table.setSelectionMode(QTableWidget.NoSelection)
        self.band_table.setMinimumHeight(120)
        self.reset_bands_button = QPushButton(icon("mActionUndo.svg"), tr("Reset to detected"))
        bands_layout = QVBoxLayout()
        bands_layout.addWidget(self.band_table)
        bands_layout.addWidget(self.reset_bands_button, 0, Qt.AlignRight)
        self.bands_group = group(tr("Band mapping"), bands_layout, collapsed=True)
        box = QVBoxLayout()
        box.addLayout(form)
        box.addWidget(self.bands_group)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(group(tr("Input"), box))

    # ----------------------------------------------------------------- layers
    def layer(self):
        """The chosen raster layer (None when none)."""
        return self.layer_combo.currentLayer()

    def detecting(self) -> bool:
        """Whether the band detection of the chosen raster is still running."""
        return self.detector.pending()

    def refresh_filter(self, active_layer=None) -> None:
        """Hide rasters that cannot be read as multispectral input (< 3 bands, not a GDAL file); with no
        raster chosen yet, take ``active_layer`` or the first usable one."""
        layers = QgsProject.instance().mapLayers().values()
        self.layer_combo.setExceptedLayerList(
            [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer) and not multiband_gdal(lyr)]
        )
        if self.layer_combo.currentLayer() is None:
            candidates = [active_layer] if multiband_gdal(active_layer) else []
            candidates += [lyr for lyr in layers if multiband_gdal(lyr)]
            if candidates:
                self.layer_combo.setLayer(candidates[0])

    def sync_with_project(self, active_layer=None) -> None:
        """After layers were added or removed: the band table must describe the raster now shown."""
        self.refresh_filter(active_layer)
        layer = self.layer_combo.currentLayer()
        if (layer.id() if layer is not None else None) != self.bands_layer_id:
            self.show_layer(layer)

    def show_layer(self, layer) -> None:
        """Describe ``layer``: remembered edits at once, the detected bands when the detection answers."""
        self._watch_raster(layer)
        self.detected_roles, self.detected_sensor = {}, None
        if multiband_gdal(layer):
            self.detector.request(layer.id(), layer.source())
        else:
            self.detector.forget()
        self._fill_sensors()
        self._fill_band_table(layer, self._with_saved(layer, {}))
        self._update_summary("")
        self.detectingChanged.emit(self.detecting())
        self.layerChanged.emit(layer)

    def _on_detected(self, detection: Detection) -> None:
        layer = self.layer_combo.currentLayer()
        if layer is None or layer.id() != detection.layer_id or layer.source() != detection.source:
            return  # the raster changed under the same request number (should not happen): never show it
        notes = "; ".join(self.localize(note) for note in detection.notes)
        if detection.error:
            notes = (
                tr("GDAL cannot open this raster")
                if detection.error == "gdal"
                else self.localize(detection.error)
            )
        chosen_sensor = self.sensor_combo.currentData() or None
        if chosen_sensor is None:  # auto-detection: this is what "Reset to detected" goes back to
            self.detected_sensor, self.detected_roles = detection.sensor, dict(detection.roles)
            self._fill_sensors()
        self._fill_band_table(layer, self._with_saved(layer, detection.roles))
        self._update_summary(notes)
        self.detectingChanged.emit(False)

    def _watch_raster(self, layer) -> None:
        """Follow the chosen raster: a rename updates the summary, a new CRS re-checks the area."""
        old = QgsProject.instance().mapLayer(self.bands_layer_id) if self.bands_layer_id else None
        if old is not None:
            for signal, slot in (
                (old.nameChanged, self.refresh_summary),
                (old.crsChanged, self._crs_changed),
            ):
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError):
                    pass
        self.bands_layer_id = layer.id() if layer is not None else None
        if layer is not None:
            layer.nameChanged.connect(self.refresh_summary)
            layer.crsChanged.connect(self._crs_changed)

    def _crs_changed(self) -> None:
        self.rasterCrsChanged.emit()

    def unload(self) -> None:
        """Stop following the project and the raster, and drop a detection still running (QGIS removes
        the layers on exit: an unloaded panel must not react any more)."""
        self.detector.forget()
        for signal, slot in (
            (self.layer_combo.layerChanged, self.show_layer),
            (self.detector.detected, self._on_detected),
        ):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        self._watch_raster(None)

    # ----------------------------------------------------------------- sensor
    def sensor_title(self, name: str | None) -> str:
        """The human name of a sensor preset ("Sentinel-2 MSI L2A, 12 bands ..."), in the UI language."""
        presets = _sensor_presets()
        return self.localize(presets[name].title) if name in presets else (name or "")

    def _fill_sensors(self) -> None:
        self.sensor_combo.blockSignals(True)
        self.sensor_combo.clear()
        detected = self.detected_sensor
        auto = tr("Auto-detect") + (f" ({self.sensor_title(detected)})" if detected else "")
        self.sensor_combo.addItem(auto, "")
        presets = _sensor_presets()
        for name in sorted(presets, key=lambda n: presets[n].title.lower()):
            self.sensor_combo.addItem(self.sensor_title(name), name)
            self.sensor_combo.setItemData(self.sensor_combo.count() - 1, name, Qt.ToolTipRole)
        self.sensor_combo.blockSignals(False)

    def _on_sensor_changed(self) -> None:
        layer = self.layer_combo.currentLayer()
        sensor = self.sensor_combo.currentData() or None
        if not multiband_gdal(layer):
            return
        if sensor:
            self.detector.request(layer.id(), layer.source(), sensor)
            self.detectingChanged.emit(True)
            return
        self.detector.forget()
        self._fill_band_table(layer, self._with_saved(layer, self.detected_roles))
        self._update_summary("")
        self.detectingChanged.emit(False)

    # ------------------------------------------------------------------ bands
    def _with_saved(self, layer, roles: Dict[str, int]) -> Dict[str, int]:
        """``roles`` with the user's remembered edits for this very file (0 = not used) on top."""
        if not multiband_gdal(layer):
            return dict(roles)
        merged = dict(roles)
        for role, band in settings.band_mapping(layer.source()).items():
            if band <= layer.bandCount():  # the file may have been rewritten with fewer bands
                merged[role] = band
        return {role: band for role, band in merged.items() if band}

    def _fill_band_table(self, layer, mapping: Dict[str, int]) -> None:
        self._loading = True
        # The roles the class rules use, then whatever else the raster maps (thermal, pan...).
        roles = [
            r for r in _runtime_roles() if r in CORE_ROLES or mapping.get(r) or self.detected_roles.get(r)
        ]
        self._table_roles = roles
        count = layer.bandCount() if isinstance(layer, QgsRasterLayer) else 0
        self.band_table.setRowCount(len(roles))
        for row, role in enumerate(roles):
            self.band_table.setCellWidget(row, 0, QLabel(f"  {role_label(role)}  "))
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.addItem(tr("— not set —"), 0)
            for band in range(1, count + 1):
                description = layer.bandName(band) if isinstance(layer, QgsRasterLayer) else ""
                combo.addItem(description or tr("Band {}").format(band), band)
            combo.setCurrentIndex(max(combo.findData(int(mapping.get(role, 0) or 0)), 0))
            combo.currentIndexChanged.connect(self._on_band_edited)
            self.band_table.setCellWidget(row, 1, combo)
        self.band_table.resizeRowsToContents()
        self._loading = False

    def table_choices(self) -> Dict[str, int]:
        """Every role of the table with its band (0 = "— not set —": the run leaves the role out)."""
        choices = {}
        for row, role in enumerate(self._table_roles[: self.band_table.rowCount()]):
            combo = self.band_table.cellWidget(row, 1)
            if combo is not None:
                choices[role] = int(combo.currentData() or 0)
        return choices

    def request_bands(self) -> Dict[str, int]:
        """The bands a run uses: the table's choices (0 = leave the role out); while the detection is still
        running only the user's remembered edits, and the runtime detects the rest itself."""
        layer = self.layer_combo.currentLayer()
        if self.detecting() and multiband_gdal(layer):
            saved = settings.band_mapping(layer.source())
            return {role: band for role, band in saved.items() if band <= layer.bandCount()}
        return self.table_choices()

    def band_mapping(self) -> Dict[str, int]:
        """The role -> 1-based band mapping shown in the table (unset roles left out)."""
        return {role: band for role, band in self.table_choices().items() if band}

    def excluded_roles(self) -> List[str]:
        """Roles set to "— not set —" in the table: the run does not use them, even when detected."""
        return [role for role, band in self.table_choices().items() if not band]

    def table_roles(self) -> List[str]:
        """The roles the band table shows, in its row order."""
        return list(self._table_roles)

    def set_band(self, role: str, band: int) -> None:
        """Set the band of ``role`` in the table (as if the user picked it; 0 = not set)."""
        combo = self.band_table.cellWidget(self._table_roles.index(role), 1)
        combo.setCurrentIndex(max(combo.findData(int(band)), 0))

    def _on_band_edited(self) -> None:
        if self._loading:
            return
        layer = self.layer_combo.currentLayer()
        # Remembered for this file only: another file of the same sensor may order its bands otherwise.
        if multiband_gdal(layer):
            choices = self.table_choices()
            edits = {role: band for role, band in choices.items() if band != self.detected_roles.get(role, 0)}
            self.bandEditsChanged.emit(layer.source(), edits or None)
        self._update_summary("")

    def reset_bands(self) -> None:
        """Forget the user's edits for this file and show the detected mapping again."""
        layer = self.layer_combo.currentLayer()
        if multiband_gdal(layer):
            self.bandEditsChanged.emit(layer.source(), None)
        self.sensor_combo.setCurrentIndex(0)
        self._fill_band_table(layer, self.detected_roles)
        self._update_summary("")

    # ---------------------------------------------------------------- summary
    def refresh_summary(self, *_args) -> None:
        """Re-render the summary (the raster was renamed)."""
        self._update_summary(self._notes)

    def _update_summary(self, notes: str) -> None:
        self._notes = notes
        layer = self.layer_combo.currentLayer()
        if not multiband_gdal(layer):
            self.bands_summary.setText(tr("Pick a raster with 3 or more bands."))
            return
        sensor = self.sensor_combo.currentData() or self.detected_sensor
        sensor_text = self.sensor_title(sensor) if sensor else tr("unknown sensor")
        if self.detecting():
            sensor_text = tr("Reading the bands…")
        parts = " ".join(f"{role}={band}" for role, band in self.band_mapping().items()) or tr(
            "none detected"
        )
        text = (
            f"<b>{html.escape(layer.name())}</b> · "
            + tr("{} bands").format(layer.bandCount())
            + f"<br>{html.escape(sensor_text)}<br>{html.escape(parts)}"
        )
        dropped = [role for role in self.excluded_roles() if self.detected_roles.get(role)]
        if dropped:
            text += "<br>" + html.escape(tr("Not used: {}").format(", ".join(dropped)))
        if notes:
            text += f"<br><i>{html.escape(notes)}</i>"
        self.bands_summary.setText(text)
