"""The SPEX panel: pick a raster, type a prompt, choose an area, run, read the explanation.

The widgets only collect values; :mod:`spex_qgis.request_builder` validates them into an ExtractRequest,
:mod:`spex_qgis.task` runs it in the background and :mod:`spex_qgis.layers` adds the result.
"""

from __future__ import annotations

import html
import os
from typing import Dict, List

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsMapLayerProxyModel,
    QgsMessageLog,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsCollapsibleGroupBox, QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QCoreApplication, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from model_runtime.errors import SpexError, SpexInputError
from model_runtime.options import FORMATS

from . import layers as result_layers
from . import settings
from .map_tools import PolygonAoiTool, RectangleAoiTool, make_rubber_band
from .request_builder import PanelState, build_request, layer_name, temporary_name
from .task import LOG_TAG, SpexExportTask, SpexExtractTask, SpexPreviewTask, session_temp_dir

EXAMPLE_PROMPTS = (
    "extract the water bodies",
    "extract the vegetation",
    "extract the buildings",
    "extract the bare soil",
    "提取水体",
    "提取植被",
)
AOI_MODES = ("layer", "extent", "rectangle", "polygon", "features")
# Export formats: (OGR driver, extension); the file dialog offers them in this order, the first by default
# (GeoPackage keeps the explanation in one field; a Shapefile has to split it).
EXPORT_FORMATS = tuple((fmt.driver, fmt.extensions[0]) for fmt in FORMATS)  # model_runtime.options
CORE_ROLES = ("blue", "green", "red", "rededge1", "nir", "swir1", "swir2")


def crs_to_text(crs: QgsCoordinateReferenceSystem) -> str:
    """A CRS string OSR understands: the EPSG code when there is one, else WKT."""
    authid = crs.authid()
    if authid.upper().startswith("EPSG:"):
        return authid
    return crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL)


def _multiband_gdal(layer) -> bool:
    return isinstance(layer, QgsRasterLayer) and layer.providerType() == "gdal" and layer.bandCount() >= 3


class SpexDockWidget(QgsDockWidget):
    """The SPEX panel; emits ``resultAdded(layer, result)``, ``errorOccurred(msg)``, ``runFinished()``,
    ``exportFinished(report or None)``."""

    resultAdded = pyqtSignal(object, object)  # QgsVectorLayer, ExtractResult
    errorOccurred = pyqtSignal(str)
    runFinished = pyqtSignal()
    exportFinished = pyqtSignal(object)  # ExportReport, or None when the export failed or was cancelled

    def __init__(self, iface, parent: QWidget | None = None):
        """``iface``: the QgisInterface; the panel is added to the main window by the plugin."""
        super().__init__(parent)
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.task: SpexExtractTask | None = None
        self._aoi_geometry: QgsGeometry | None = None  # drawn rectangle/polygon
        self._aoi_crs = QgsCoordinateReferenceSystem()
        self._aoi_band = None
        self._detected_roles: Dict[str, int] = {}
        self._detected_sensor: str | None = None
        self._bands_layer_id: str | None = None  # the layer the band table was filled for
        self._status_items: List = []  # message bar items this panel pushed (replaced, never queued)
        self._loading_bands = False
        self._table_roles: List[str] = []
        self._last_result_id: str | None = None  # the layer Export writes when no result layer is selected
        self.export_task: SpexExportTask | None = None
        self.preview_task: SpexPreviewTask | None = None
        self._explanations: Dict[str, str] = {}  # result layer id -> explanation HTML shown for it
        self._watched_aoi_layer: QgsVectorLayer | None = None  # its selection is the area ("features" mode)
        self.setObjectName("SpexDockWidget")
        self.setWindowTitle(self.tr("SPEX — prompt extraction"))
        self._build_ui()
        self.rectangle_tool = RectangleAoiTool(self.canvas)
        self.polygon_tool = PolygonAoiTool(self.canvas)
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.geometryDrawn.connect(self._on_geometry_drawn)
            tool.drawingCancelled.connect(self._on_drawing_cancelled)
        self._connect()
        self._refresh_layer_filter()
        self._on_layer_changed(self.layer_combo.currentLayer())
        self._on_aoi_mode_changed()
        self._refresh_engine_status()
        self._on_output_mode_changed()

    # ---------------------------------------------------------------- helpers
    def tr(self, text: str) -> str:
        """Translate ``text`` in the context ``SpexDockWidget`` (see i18n/)."""
        return QCoreApplication.translate("SpexDockWidget", text)

    def ui_language(self) -> str:
        """The QGIS UI locale (``zh-Hans``, ``en_US``...): runtime messages are shown in it if translated."""
        try:
            from .plugin import qgis_locale

            return qgis_locale()
        except ImportError:
            return "en"

    def localize(self, message: str) -> str:
        """A runtime message (error, progress stage) in the UI language (see model_runtime.messages)."""
        from model_runtime.messages import localize

        from .request_builder import option_labels  # CLI flags left in a message: the panel's labels

        return localize(message, self.ui_language(), panel=True, labels=option_labels())

    @staticmethod
    def _icon(name: str):
        return QgsApplication.getThemeIcon(name)

    def _group(self, title: str, layout, collapsed: bool = False) -> QgsCollapsibleGroupBox:
        box = QgsCollapsibleGroupBox(title)
        box.setLayout(layout)
        box.setCollapsed(collapsed)
        return box

    # --------------------------------------------------------------- building
    def _build_ui(self) -> None:
        content = QWidget()
        main = QVBoxLayout(content)
        main.setContentsMargins(6, 6, 6, 6)
        main.setSpacing(6)

        # Input raster + bands
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.layer_combo = QgsMapLayerComboBox()
        self.layer_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.layer_combo.setAllowEmptyLayer(True)
        self.layer_combo.setToolTip(self.tr("A multispectral raster (3 or more bands) read from a file"))
        form.addRow(self.tr("Raster"), self.layer_combo)
        self.sensor_combo = QComboBox()
        self.sensor_combo.setToolTip(self.tr("Sensor preset that decides which band is which"))
        form.addRow(self.tr("Sensor"), self.sensor_combo)
        self.bands_summary = QLabel()
        self.bands_summary.setWordWrap(True)
        self.bands_summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow(self.tr("Bands"), self.bands_summary)
        input_box = QVBoxLayout()
        input_box.addLayout(form)
        self.band_table = QTableWidget(0, 2)
        self.band_table.setHorizontalHeaderLabels([self.tr("Role"), self.tr("Band")])
        self.band_table.verticalHeader().setVisible(False)
        self.band_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.band_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.band_table.setSelectionMode(QTableWidget.NoSelection)
        self.band_table.setMinimumHeight(120)
        self.reset_bands_button = QPushButton(self._icon("mActionUndo.svg"), self.tr("Reset to detected"))
        bands_layout = QVBoxLayout()
        bands_layout.addWidget(self.band_table)
        bands_layout.addWidget(self.reset_bands_button, 0, Qt.AlignRight)
        self.bands_group = self._group(self.tr("Band mapping"), bands_layout, collapsed=True)
        input_box.addWidget(self.bands_group)
        main.addWidget(self._group(self.tr("Input"), input_box))

        # Prompt
        self.prompt_combo = QComboBox()
        self.prompt_combo.setEditable(True)
        self.prompt_combo.setInsertPolicy(QComboBox.NoInsert)
        self.prompt_combo.lineEdit().setPlaceholderText(self.tr("e.g. extract the water bodies / 提取水体"))
        self.prompt_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self._fill_prompts()
        prompt_layout = QVBoxLayout()
        prompt_layout.addWidget(self.prompt_combo)
        main.addWidget(self._group(self.tr("Prompt"), prompt_layout))

        # Area of interest
        self.aoi_combo = QComboBox()
        labels = {
            "layer": self.tr("Whole layer"),
            "extent": self.tr("Current map extent"),
            "rectangle": self.tr("Draw a rectangle"),
            "polygon": self.tr("Draw a polygon"),
            "features": self.tr("Selected features of a layer"),
        }
        icons = {
            "layer": "mIconRaster.svg",
            "extent": "mActionZoomFullExtent.svg",
            "rectangle": "mActionSelectRectangle.svg",
            "polygon": "mActionSelectPolygon.svg",
            "features": "mIconPolygonLayer.svg",
        }
        for mode in AOI_MODES:
            self.aoi_combo.addItem(self._icon(icons[mode]), labels[mode], mode)
        self.draw_button = QToolButton()
        self.draw_button.setIcon(self._icon("mActionAddPolygon.svg"))
        self.draw_button.setText(self.tr("Draw"))
        self.draw_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip(self.tr("Draw the area on the map"))
        self.clear_aoi_button = QToolButton()
        self.clear_aoi_button.setIcon(self._icon("mActionDeleteSelected.svg"))
        self.clear_aoi_button.setToolTip(self.tr("Clear the drawn area"))
        aoi_row = QHBoxLayout()
        aoi_row.addWidget(self.aoi_combo, 1)
        aoi_row.addWidget(self.draw_button)
        aoi_row.addWidget(self.clear_aoi_button)
        self.aoi_layer_combo = QgsMapLayerComboBox()
        self.aoi_layer_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.aoi_status = QLabel()
        self.aoi_status.setWordWrap(True)
        self.aoi_status.setStyleSheet("color: palette(mid);")
        aoi_layout = QVBoxLayout()
        aoi_layout.addLayout(aoi_row)
        aoi_layout.addWidget(self.aoi_layer_combo)
        aoi_layout.addWidget(self.aoi_status)
        main.addWidget(self._group(self.tr("Area of interest"), aoi_layout))

        self._build_filters(main)

        # Engine
        self.engine_combo = QComboBox()
        self.engine_combo.addItem(
            self._icon("mIconRasterLayer.svg"), self.tr("Spectral indices (no model)"), "spectral"
        )
        self.engine_combo.addItem(self._icon("mIconAi.svg"), self.tr("SPEX vision-language model"), "spex")
        self.model_widget = QgsFileWidget()
        self.model_widget.setStorageMode(QgsFileWidget.GetDirectory)
        self.model_widget.setDialogTitle(self.tr("SPEX model folder"))
        self.model_widget.setFilePath(settings.model_dir())
        self.model_base_widget = QgsFileWidget()
        self.model_base_widget.setStorageMode(QgsFileWidget.GetDirectory)
        self.model_base_widget.setDialogTitle(self.tr("Base model folder (LoRA checkpoints only)"))
        self.model_base_widget.setFilePath(settings.model_base_dir())
        self.model_base_widget.setToolTip(
            self.tr(
                "Only for a LoRA checkpoint (non_lora_trainables.bin + adapter): the folder of the base "
                "model it was trained from. Leave empty for the released (merged) SPEX folder."
            )
        )
        self.device_combo = QComboBox()
        for device in settings.DEVICES:
            self.device_combo.addItem(device, device)
        index = self.device_combo.findData(settings.device())
        self.device_combo.setCurrentIndex(max(index, 0))
        self.precision_combo = QComboBox()
        precision_labels = {
            "auto": self.tr("Auto (fp32 on CPU, bf16/fp16 on GPU)"),
            "fp32": self.tr("fp32 — exact"),
            "int8": self.tr("int8 — faster on CPU, less exact"),
            "bf16": self.tr("bf16 — GPU"),
            "fp16": self.tr("fp16 — GPU"),
        }
        for precision in settings.PRECISIONS:
            self.precision_combo.addItem(precision_labels[precision], precision)
        self.precision_combo.setCurrentIndex(max(self.precision_combo.findData(settings.precision()), 0))
        self.precision_combo.setToolTip(
            self.tr(
                "Numeric precision of the SPEX model. Auto: exact fp32 on the CPU, bf16/fp16 on a GPU. "
                "int8 (CPU only) is about twice as fast but less exact; fp16 and bf16 are for GPUs."
            )
        )
        self.engine_status = QLabel()
        self.engine_status.setWordWrap(True)
        self.install_button = QPushButton(
            self._icon("mActionShowPluginManager.svg"), self.tr("Install dependencies…")
        )
        engine_form = QFormLayout()
        engine_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        engine_form.addRow(self.tr("Engine"), self.engine_combo)
        engine_form.addRow(self.tr("Model folder"), self.model_widget)
        engine_form.addRow(self.tr("Base model (LoRA)"), self.model_base_widget)
        engine_form.addRow(self.tr("Device"), self.device_combo)
        engine_form.addRow(self.tr("Precision"), self.precision_combo)
        engine_form.addRow(self.engine_status)
        engine_form.addRow(self.install_button)
        self.engine_group = self._group(self.tr("Engine"), engine_form, collapsed=True)
        main.addWidget(self.engine_group)

        # Output
        self.temp_radio = QRadioButton(self.tr("Temporary layer"))
        self.file_radio = QRadioButton(self.tr("Save to file"))
        self.temp_radio.setChecked(True)
        radio_row = QHBoxLayout()
        radio_row.addWidget(self.temp_radio)
        radio_row.addWidget(self.file_radio)
        radio_row.addStretch(1)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.SaveFile)
        self.output_widget.setFilter(
            self.tr("GeoPackage (*.gpkg);;ESRI Shapefile (*.shp);;GeoJSON (*.geojson)")
        )
        self.output_widget.setDialogTitle(self.tr("Save the extracted polygons"))
        if settings.last_output_dir():
            self.output_widget.setDefaultRoot(settings.last_output_dir())
        out_layout = QVBoxLayout()
        out_layout.addLayout(radio_row)
        out_layout.addWidget(self.output_widget)
        main.addWidget(self._group(self.tr("Output"), out_layout, collapsed=True))

        # Run
        self.run_button = QPushButton(self._icon("mActionStart.svg"), self.tr("Run"))
        self.run_button.setDefault(True)
        self.run_button.setMinimumHeight(30)
        self.cancel_button = QPushButton(self._icon("mTaskCancel.svg"), self.tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.preview_button = QPushButton(self._icon("mActionShowRasterCalculator.svg"), self.tr("Preview"))
        self.preview_button.setToolTip(
            self.tr(
                "Show the mask of the current area as a temporary raster layer, without writing polygons "
                "(quick threshold tuning on large scenes)"
            )
        )
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 2)
        run_row.addWidget(self.preview_button, 1)
        run_row.addWidget(self.cancel_button, 1)
        main.addLayout(run_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        main.addWidget(self.progress)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        main.addWidget(self.status_label)

        # Explanation
        self.explanation = QTextBrowser()
        self.explanation.setReadOnly(True)
        self.explanation.setOpenExternalLinks(False)
        self.explanation.setMinimumHeight(160)
        self.explanation.setPlaceholderText(self.tr("The explanation of the last result appears here."))
        self.export_button = QPushButton(self._icon("mActionFileSaveAs.svg"), self.tr("Export…"))
        self.export_button.setToolTip(
            self.tr("Save the result as a GeoPackage, Shapefile or GeoJSON (run an extraction first)")
        )
        self.export_button.setEnabled(False)
        exp_layout = QVBoxLayout()
        exp_layout.addWidget(self.explanation)
        exp_layout.addWidget(self.export_button, 0, Qt.AlignRight)
        main.addWidget(self._group(self.tr("Explanation"), exp_layout), 1)

        # A narrow dock must never hide a control behind a horizontal scrollbar: combos shrink to a short
        # width (their popups still show the whole text) and texts wrap; only vertical scrolling remains.
        for combo in content.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        for form_layout in content.findChildren(QFormLayout):
            form_layout.setRowWrapPolicy(QFormLayout.WrapLongRows)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setWidget(content)
        self.setWidget(self.scroll)
        self.setMinimumWidth(300)

    def _build_filters(self, main: QVBoxLayout) -> None:
        """Threshold, minimum area and simplification: what decides which polygons come out."""
        self.threshold_default = QCheckBox(self.tr("Class default"))
        self.threshold_default.setChecked(True)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(-1.0, 1.0)
        self.threshold_spin.setDecimals(3)
        self.threshold_spin.setSingleStep(0.02)
        self.threshold_spin.setValue(0.0)
        self.threshold_spin.setEnabled(False)
        self.threshold_spin.setToolTip(
            self.tr(
                "Threshold of the class's main spectral index (e.g. NDWI for water, NDVI for vegetation). "
                "Lower: more sensitive, more polygons; higher: stricter."
            )
        )
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_default)
        threshold_row.addWidget(self.threshold_spin, 1)
        self.threshold_method_combo = QComboBox()
        self.threshold_method_combo.addItem(self.tr("Fixed (class default or the value above)"), "fixed")
        self.threshold_method_combo.addItem(self.tr("Automatic from this scene (Otsu)"), "otsu")
        self.min_area_spin = QDoubleSpinBox()
        self.min_area_spin.setRange(0.0, 1e9)
        self.min_area_spin.setDecimals(0)
        self.min_area_spin.setSingleStep(100.0)
        self.min_area_spin.setSuffix(" m²")
        self.min_area_spin.setToolTip(self.tr("Polygons smaller than this are dropped (0: keep all)"))
        self.simplify_spin = QDoubleSpinBox()
        self.simplify_spin.setRange(0.0, 1e6)
        self.simplify_spin.setDecimals(2)
        self.simplify_spin.setToolTip(
            self.tr("Simplification tolerance in map units of the raster (0: exact pixel outlines)")
        )
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        form.addRow(self.tr("Threshold"), threshold_row)
        form.addRow(self.tr("Method"), self.threshold_method_combo)
        form.addRow(self.tr("Minimum area"), self.min_area_spin)
        form.addRow(self.tr("Simplify"), self.simplify_spin)
        self.scaling_combo = QComboBox()
        self.scaling_combo.setEditable(True)
        self.scaling_combo.setInsertPolicy(QComboBox.NoInsert)
        self.scaling_combo.addItem(self.tr("Auto-detect"), "")
        try:
            from model_runtime.scaling import NAMED_SCALINGS
        except ImportError:
            NAMED_SCALINGS = {}
        for name, (_gain, _offset, reason) in NAMED_SCALINGS.items():
            self.scaling_combo.addItem(name, name)
            self.scaling_combo.setItemData(self.scaling_combo.count() - 1, reason, Qt.ToolTipRole)
        self.scaling_combo.setToolTip(
            self.tr("How pixel values become reflectance; type GAIN,OFFSET (e.g. 0.0001,-0.1) for your own")
        )
        self.language_combo = QComboBox()
        self.language_combo.addItem(self.tr("Same as the prompt"), "")
        self.language_combo.addItem(self.tr("English"), "en")
        self.language_combo.addItem(self.tr("Chinese"), "zh")
        form.addRow(self.tr("Reflectance scaling"), self.scaling_combo)
        form.addRow(self.tr("Explanation language"), self.language_combo)
        self.filters_group = self._group(self.tr("Threshold and filters"), form, collapsed=True)
        main.addWidget(self.filters_group)
        self.threshold_default.toggled.connect(lambda on: self.threshold_spin.setEnabled(not on))

    def _fill_prompts(self) -> None:
        current = self.prompt_combo.currentText()
        self.prompt_combo.blockSignals(True)
        self.prompt_combo.clear()
        seen = set()
        for prompt in list(settings.prompt_history()) + list(EXAMPLE_PROMPTS):
            if prompt not in seen:
                seen.add(prompt)
                self.prompt_combo.addItem(prompt)
        self.prompt_combo.setEditText(current)
        self.prompt_combo.blockSignals(False)

    def _connect(self) -> None:
        self.layer_combo.layerChanged.connect(self._on_layer_changed)
        self.sensor_combo.currentIndexChanged.connect(self._on_sensor_changed)
        self.reset_bands_button.clicked.connect(self._reset_bands)
        self.aoi_combo.currentIndexChanged.connect(self._on_aoi_mode_changed)
        self.draw_button.clicked.connect(self._on_draw_clicked)
        self.clear_aoi_button.clicked.connect(self.clear_aoi)
        self.aoi_layer_combo.layerChanged.connect(self._on_aoi_mode_changed)
        self.engine_combo.currentIndexChanged.connect(self._refresh_engine_status)
        self.model_widget.fileChanged.connect(self._refresh_engine_status)
        self.model_base_widget.fileChanged.connect(self._refresh_engine_status)
        self.device_combo.currentIndexChanged.connect(self._on_device_changed)
        self.precision_combo.currentIndexChanged.connect(self._on_precision_changed)
        self.install_button.clicked.connect(self._on_install_clicked)
        self.temp_radio.toggled.connect(self._on_output_mode_changed)
        self.run_button.clicked.connect(self.run)
        self.preview_button.clicked.connect(self.preview)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.export_result)
        project = QgsProject.instance()
        project.layersAdded.connect(self._sync_with_project)
        project.layersRemoved.connect(self._sync_with_project)
        project.layersRemoved.connect(self._refresh_export_button)
        self.canvas.destinationCrsChanged.connect(self._show_aoi)
        self.canvas.extentsChanged.connect(self._on_extent_changed)
        signal = getattr(self.iface, "currentLayerChanged", None)
        if signal is not None and hasattr(signal, "connect"):
            signal.connect(self._on_active_layer_changed)
        engine = settings.engine()
        self.engine_combo.setCurrentIndex(max(self.engine_combo.findData(engine), 0))

    # ------------------------------------------------------------- the raster
    def _refresh_layer_filter(self, *_args) -> None:
        """Hide rasters that cannot be read as multispectral input (< 3 bands, not a GDAL file)."""
        excluded = [
            layer
            for layer in QgsProject.instance().mapLayers().values()
            if isinstance(layer, QgsRasterLayer) and not _multiband_gdal(layer)
        ]
        self.layer_combo.setExceptedLayerList(excluded)
        if self.layer_combo.currentLayer() is None:
            active = self.iface.activeLayer() if hasattr(self.iface, "activeLayer") else None
            candidates = [active] if _multiband_gdal(active) else []
            candidates += [lyr for lyr in QgsProject.instance().mapLayers().values() if _multiband_gdal(lyr)]
            if candidates:
                self.layer_combo.setLayer(candidates[0])

    def _on_active_layer_changed(self, layer) -> None:
        if _multiband_gdal(layer) and self.task is None:
            self.layer_combo.setLayer(layer)
        self._refresh_export_button()
        target = self.export_target()
        if target is not None and layer is not None and target.id() == layer.id():
            self._show_layer_explanation(target)  # the selected result: what Export… writes

    def _show_layer_explanation(self, layer: QgsVectorLayer) -> None:
        text = self._explanations.get(layer.id())
        if text is None:  # a result from a saved project: its abstract holds the explanation
            body = html.escape(layer.abstract() or "").replace("\n", "<br>")
            text = f"<p><b>{html.escape(layer.name())}</b></p><p>{body}</p>"
        self.explanation.setHtml(text)

    def _on_layer_changed(self, layer) -> None:
        self._watch_raster(layer)
        self._detected_roles, self._detected_sensor, notes = {}, None, ""
        if _multiband_gdal(layer):
            self._detected_sensor, self._detected_roles, notes = self._detect(layer.source(), None)
        self._fill_sensors()
        self._fill_band_table(layer, self._with_saved(layer, self._detected_roles))
        self._update_bands_summary(notes)
        if self.aoi_mode() == "extent":
            self._on_aoi_mode_changed()
        else:
            self._show_aoi()

    def _watch_raster(self, layer) -> None:
        """Follow the chosen raster: a rename updates the summary, a new CRS re-checks the area."""
        old = QgsProject.instance().mapLayer(self._bands_layer_id) if self._bands_layer_id else None
        if old is not None:
            for signal, slot in ((old.nameChanged, self._refresh_summary), (old.crsChanged, self._show_aoi)):
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError):
                    pass
        self._bands_layer_id = layer.id() if layer is not None else None
        if layer is not None:
            layer.nameChanged.connect(self._refresh_summary)
            layer.crsChanged.connect(self._show_aoi)

    def _sync_with_project(self, *_args) -> None:
        """After layers were added or removed: the band table must describe the raster now shown."""
        self._refresh_layer_filter()
        layer = self.layer_combo.currentLayer()
        if (layer.id() if layer is not None else None) != self._bands_layer_id:
            self._on_layer_changed(layer)

    def _with_saved(self, layer, roles: Dict[str, int]) -> Dict[str, int]:
        """``roles`` with the user's remembered edits for this very file (0 = not used) on top."""
        if not _multiband_gdal(layer):
            return dict(roles)
        saved = settings.band_mapping(layer.source())
        merged = dict(roles)
        for role, band in saved.items():
            if band <= layer.bandCount():  # the file may have been rewritten with fewer bands
                merged[role] = band
        return {role: band for role, band in merged.items() if band}

    def _detect(self, source: str, sensor: str | None):
        """(sensor, roles, notes) from the runtime's band detection; empty when it cannot tell."""
        try:
            from osgeo import gdal

            from model_runtime.bands import detect_band_roles

            ds = gdal.Open(source)
            if ds is None:
                return None, {}, self.tr("GDAL cannot open this raster")
            try:
                detection = detect_band_roles(ds, sensor=sensor)
            finally:
                ds = None
            notes = [detection.notes] if isinstance(detection.notes, str) else list(detection.notes or [])
            notes = "; ".join(self.localize(note) for note in notes)
            return detection.sensor, dict(detection.roles), notes
        except SpexError as exc:
            return sensor, {}, self.localize(str(exc))
        except ImportError as exc:  # runtime not installed/complete: mapping stays manual
            QgsMessageLog.logMessage(f"Band detection unavailable: {exc}", LOG_TAG, Qgis.Warning)
            return sensor, {}, ""

    def _roles(self):
        from model_runtime.bands import BAND_ROLES  # the runtime ships inside the plugin

        return tuple(BAND_ROLES)

    def _sensor_title(self, name: str | None) -> str:
        """The human name of a sensor preset ("Sentinel-2 MSI L2A, 12 bands ..."), in the UI language."""
        try:
            from model_runtime.bands import SENSOR_PRESETS

            return self.localize(SENSOR_PRESETS[name].title) if name in SENSOR_PRESETS else (name or "")
        except ImportError:
            return name or ""

    def _role_label(self, role: str) -> str:
        """A band role as the user reads it (the runtime's role id in brackets when translated)."""
        labels = {
            "coastal": self.tr("coastal aerosol"),
            "blue": self.tr("blue"),
            "green": self.tr("green"),
            "red": self.tr("red"),
            "rededge1": self.tr("red edge 1"),
            "rededge2": self.tr("red edge 2"),
            "rededge3": self.tr("red edge 3"),
            "nir": self.tr("NIR"),
            "nir08": self.tr("narrow NIR"),
            "watervapour": self.tr("water vapour"),
            "cirrus": self.tr("cirrus"),
            "swir1": self.tr("SWIR 1"),
            "swir2": self.tr("SWIR 2"),
            "thermal1": self.tr("thermal 1"),
            "thermal2": self.tr("thermal 2"),
            "pan": self.tr("panchromatic"),
        }
        label = labels.get(role, role)
        return label if label.replace(" ", "").lower() == role else f"{label} ({role})"

    def _fill_sensors(self) -> None:
        self.sensor_combo.blockSignals(True)
        self.sensor_combo.clear()
        detected = self._detected_sensor
        auto = self.tr("Auto-detect") + (f" ({self._sensor_title(detected)})" if detected else "")
        self.sensor_combo.addItem(auto, "")
        try:
            from model_runtime.bands import SENSOR_PRESETS

            names = sorted(SENSOR_PRESETS, key=lambda n: SENSOR_PRESETS[n].title.lower())
        except ImportError:
            names = []
        for name in names:
            self.sensor_combo.addItem(self._sensor_title(name), name)
            self.sensor_combo.setItemData(self.sensor_combo.count() - 1, name, Qt.ToolTipRole)
        self.sensor_combo.blockSignals(False)

    def _on_sensor_changed(self) -> None:
        layer = self.layer_combo.currentLayer()
        sensor = self.sensor_combo.currentData() or None
        if not _multiband_gdal(layer):
            return
        if sensor:
            _sensor, roles, notes = self._detect(layer.source(), sensor)
        else:
            roles, notes = self._detected_roles, ""
        self._fill_band_table(layer, self._with_saved(layer, roles))
        self._update_bands_summary(notes)

    def _fill_band_table(self, layer, mapping: Dict[str, int]) -> None:
        self._loading_bands = True
        # The roles the class rules use, then whatever else the raster maps (thermal, pan...).
        roles = [r for r in self._roles() if r in CORE_ROLES or mapping.get(r) or self._detected_roles.get(r)]
        self._table_roles = roles
        count = layer.bandCount() if isinstance(layer, QgsRasterLayer) else 0
        self.band_table.setRowCount(len(roles))
        for row, role in enumerate(roles):
            self.band_table.setCellWidget(row, 0, QLabel(f"  {self._role_label(role)}  "))
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.addItem(self.tr("— not set —"), 0)
            for band in range(1, count + 1):
                description = layer.bandName(band) if isinstance(layer, QgsRasterLayer) else ""
                combo.addItem(description or self.tr("Band {}").format(band), band)
            combo.setCurrentIndex(max(combo.findData(int(mapping.get(role, 0) or 0)), 0))
            combo.currentIndexChanged.connect(self._on_band_edited)
            self.band_table.setCellWidget(row, 1, combo)
        self.band_table.resizeRowsToContents()
        self._loading_bands = False

    def band_mapping(self) -> Dict[str, int]:
        """The role -> 1-based band mapping shown in the table (unset roles left out)."""
        return {role: band for role, band in self._table_choices().items() if band}

    def excluded_roles(self) -> List[str]:
        """Roles set to "— not set —" in the table: the run does not use them, even when detected."""
        return [role for role, band in self._table_choices().items() if not band]

    def _table_choices(self) -> Dict[str, int]:
        choices = {}
        for row, role in enumerate(self._table_roles[: self.band_table.rowCount()]):
            combo = self.band_table.cellWidget(row, 1)
            if combo is not None:
                choices[role] = int(combo.currentData() or 0)
        return choices

    def set_band(self, role: str, band: int) -> None:
        """Set the band of ``role`` in the table (as if the user picked it; 0 = not set)."""
        row = self._table_roles.index(role)
        combo = self.band_table.cellWidget(row, 1)
        combo.setCurrentIndex(max(combo.findData(int(band)), 0))

    def _on_band_edited(self) -> None:
        if self._loading_bands:
            return
        layer = self.layer_combo.currentLayer()
        # Remembered for this file only: another file of the same sensor may order its bands otherwise.
        if _multiband_gdal(layer):
            choices = self._table_choices()
            detected = {role: self._detected_roles.get(role, 0) for role in choices}
            edits = {role: band for role, band in choices.items() if band != detected[role]}
            settings.set_band_mapping(layer.source(), edits or None)
        self._update_bands_summary("")

    def _reset_bands(self) -> None:
        layer = self.layer_combo.currentLayer()
        if _multiband_gdal(layer):
            settings.set_band_mapping(layer.source(), None)
        self.sensor_combo.setCurrentIndex(0)
        self._fill_band_table(layer, self._detected_roles)
        self._update_bands_summary("")

    def _refresh_summary(self, *_args) -> None:
        self._update_bands_summary(self._summary_notes)

    _summary_notes = ""

    def _update_bands_summary(self, notes: str) -> None:
        self._summary_notes = notes
        layer = self.layer_combo.currentLayer()
        if not _multiband_gdal(layer):
            self.bands_summary.setText(self.tr("Pick a raster with 3 or more bands."))
            return
        mapping = self.band_mapping()
        sensor = self.sensor_combo.currentData() or self._detected_sensor
        sensor_text = self._sensor_title(sensor) if sensor else self.tr("unknown sensor")
        parts = " ".join(f"{role}={band}" for role, band in mapping.items()) or self.tr("none detected")
        text = (
            f"<b>{html.escape(layer.name())}</b> · "
            + self.tr("{} bands").format(layer.bandCount())
            + f"<br>{html.escape(sensor_text)}<br>{html.escape(parts)}"
        )
        dropped = [role for role in self.excluded_roles() if self._detected_roles.get(role)]
        if dropped:
            text += "<br>" + html.escape(self.tr("Not used: {}").format(", ".join(dropped)))
        if notes:
            text += f"<br><i>{html.escape(notes)}</i>"
        self.bands_summary.setText(text)

    # -------------------------------------------------------- area of interest
    def aoi_mode(self) -> str:
        """The chosen area mode: layer, extent, rectangle, polygon or features."""
        return self.aoi_combo.currentData() or "layer"

    def set_aoi_mode(self, mode: str) -> None:
        """Select an area mode (as the user would in the combo)."""
        self.aoi_combo.setCurrentIndex(self.aoi_combo.findData(mode))

    def _on_aoi_mode_changed(self, *_args) -> None:
        mode = self.aoi_mode()
        drawing = mode in ("rectangle", "polygon")
        self.draw_button.setVisible(drawing)
        self.clear_aoi_button.setVisible(drawing)
        self.aoi_layer_combo.setVisible(mode == "features")
        self._watch_aoi_layer(self.aoi_layer_combo.currentLayer() if mode == "features" else None)
        if not drawing:
            self._stop_tools()
        if drawing and self._aoi_geometry is not None:
            kind_ok = (mode == "rectangle") == self._aoi_is_rectangle
            if not kind_ok:
                self._aoi_geometry = None
        self._show_aoi()

    def _watch_aoi_layer(self, layer) -> None:
        """Redraw the area when the selection of the "features" layer changes."""
        layer = layer if isinstance(layer, QgsVectorLayer) else None
        if layer is self._watched_aoi_layer:
            return
        if self._watched_aoi_layer is not None:
            try:
                self._watched_aoi_layer.selectionChanged.disconnect(self._show_aoi)
            except (TypeError, RuntimeError):  # already gone with its layer
                pass
        self._watched_aoi_layer = layer
        if layer is not None:
            layer.selectionChanged.connect(self._show_aoi)

    def _on_extent_changed(self) -> None:
        if self.aoi_mode() == "extent":
            self._show_aoi()

    def _on_draw_clicked(self, checked: bool) -> None:
        if not checked:
            self._stop_tools()
            return
        tool = self.rectangle_tool if self.aoi_mode() == "rectangle" else self.polygon_tool
        tool.start()
        hint = (
            self.tr("Drag a rectangle on the map (Esc cancels).")
            if tool is self.rectangle_tool
            else self.tr("Click the vertices, right-click to finish (Backspace undoes, Esc cancels).")
        )
        self.aoi_status.setText(hint)

    def _stop_tools(self) -> None:
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.restore_previous()
        self.draw_button.setChecked(False)

    def _on_geometry_drawn(self, geometry: QgsGeometry) -> None:
        self._aoi_geometry = QgsGeometry(geometry)
        self._aoi_crs = self.canvas.mapSettings().destinationCrs()
        self._aoi_is_rectangle = self.sender() is self.rectangle_tool
        self.draw_button.setChecked(False)
        self._show_aoi()

    def _on_drawing_cancelled(self) -> None:
        self.draw_button.setChecked(False)
        self._show_aoi()

    _aoi_is_rectangle = True

    def set_drawn_aoi(self, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> None:
        """Use ``geometry`` (in ``crs``) as the drawn area, as if drawn with the map tool."""
        self._aoi_geometry = QgsGeometry(geometry)
        self._aoi_crs = QgsCoordinateReferenceSystem(crs)
        self._aoi_is_rectangle = self.aoi_mode() != "polygon"
        self._show_aoi()

    def clear_aoi(self) -> None:
        """Forget the drawn area."""
        self._aoi_geometry = None
        self._show_aoi()

    def current_aoi(self):
        """(geometry, crs) of the area the run would use; (None, None) for the whole layer or nothing yet."""
        mode = self.aoi_mode()
        if mode == "extent":
            return QgsGeometry.fromRect(self.canvas.extent()), self.canvas.mapSettings().destinationCrs()
        if mode in ("rectangle", "polygon"):
            return (self._aoi_geometry, self._aoi_crs) if self._aoi_geometry is not None else (None, None)
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

    def _show_aoi(self, *_args) -> None:
        geometry, crs = self.current_aoi()
        if self._aoi_band is None:
            self._aoi_band = make_rubber_band(self.canvas)
        self._aoi_band.reset(QgsWkbTypes.PolygonGeometry)
        mode = self.aoi_mode()
        if geometry is not None and mode != "extent":
            self._aoi_band.setToGeometry(geometry, crs)
        self.aoi_status.setText(self._aoi_text(mode, geometry, crs))
        outside = geometry is not None and mode != "layer" and self._raster_overlap(geometry, crs) == "none"
        self.aoi_status.setStyleSheet(
            "color: #c0392b; font-weight: bold;" if outside else "color: palette(mid);"
        )

    def _aoi_text(self, mode, geometry, crs) -> str:
        if mode == "layer":
            return self.tr("The whole raster is processed.")
        if geometry is None:
            if mode == "features":
                return self.tr("Select polygons in this layer with the Select tool.")
            return self.tr("Click Draw, then draw on the map.")
        area = self._area_km2(geometry, crs)
        text = self.tr("Area: {} km²").format(f"{area:,.2f}") if area is not None else ""
        overlap = self._raster_overlap(geometry, crs)
        if overlap == "none":
            return self.tr(
                "Outside the raster: this area does not overlap '{}'. Draw it over the raster."
            ).format(self.layer_combo.currentLayer().name())
        if overlap == "partial":
            text += " " + self.tr("(partly outside the raster: only the overlap is processed)")
        return text

    def _raster_overlap(self, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> str:
        """ "full", "partial" or "none": how the area lies over the chosen raster ("" when unknown)."""
        layer = self.layer_combo.currentLayer()
        if not isinstance(layer, QgsRasterLayer) or not crs.isValid() or not layer.crs().isValid():
            return ""
        from qgis.core import QgsCoordinateTransform, QgsCsException

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

    @staticmethod
    def _area_km2(geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> float | None:
        from qgis.core import QgsDistanceArea

        calc = QgsDistanceArea()
        calc.setSourceCrs(crs, QgsProject.instance().transformContext())
        calc.setEllipsoid(crs.ellipsoidAcronym() or "EPSG:7030")
        try:
            return calc.measureArea(geometry) / 1e6
        except Exception:  # measuring is informative only
            return None

    # ------------------------------------------------------------------ engine
    def _refresh_engine_status(self, *_args) -> None:
        available, reason = self._deps_status()
        item = self.engine_combo.model().item(1)
        if item is not None:
            item.setEnabled(available)
            item.setToolTip("" if available else reason)
        if not available and self.engine_combo.currentData() == "spex":
            self.engine_combo.setCurrentIndex(0)
        spex = self.engine_combo.currentData() == "spex"
        self.model_widget.setEnabled(spex)
        self.model_base_widget.setEnabled(spex)
        self.device_combo.setEnabled(spex)
        self.precision_combo.setEnabled(spex)
        self.install_button.setVisible(not available)
        model_dir = self.model_widget.filePath().strip()
        self._engine_problem = ""  # why Run is off: the spex engine without a usable model folder
        if not available:
            # deps.spex_engine_status() says it in a whole translated sentence ("SPEX engine unavailable ...")
            text = self.localize(reason)
        elif spex and not model_dir:
            text = self._engine_problem = self.tr("Pick the SPEX model folder (config.json + *.safetensors).")
        elif spex and not os.path.isfile(os.path.join(model_dir, "config.json")):
            text = self._engine_problem = self.tr(
                "No config.json in this folder: pick the SPEX checkpoint folder."
            )
        elif spex:
            from .deps import engine_status_line  # the runtime and device the import check found

            text = self.tr("SPEX model ready.") + " " + engine_status_line()
        else:
            text = self.tr("Spectral indices: fast, no model needed.")
        self.engine_status.setText(text)
        engine = self.engine_combo.currentData()
        if engine and engine != settings.engine():  # also runs on every pointer entry: write changes only
            settings.set_engine(engine)
        if spex and model_dir and model_dir != settings.model_dir():
            settings.set_model_dir(model_dir)
        base_dir = self.model_base_widget.filePath().strip()
        if spex and base_dir != settings.model_base_dir():
            settings.set_model_base_dir(base_dir)
        self._update_run_button()

    _engine_problem = ""

    def _update_run_button(self) -> None:
        running = self.task is not None or self.preview_task is not None
        self.run_button.setEnabled(not running and not self._engine_problem)
        if hasattr(self, "preview_button"):
            self.preview_button.setEnabled(self.run_button.isEnabled())
        self.run_button.setToolTip(self._engine_problem or self.tr("Start the extraction in the background"))

    @staticmethod
    def _deps_status():
        try:
            from .deps import spex_engine_status

            return spex_engine_status()
        except ImportError as exc:
            return False, str(exc)

    def _on_device_changed(self) -> None:
        settings.set_device(self.device_combo.currentData() or "auto")

    def _on_precision_changed(self) -> None:
        settings.set_precision(self.precision_combo.currentData() or "auto")

    def _on_install_clicked(self) -> None:
        try:
            from .deps import show_install_dialog

            show_install_dialog(self)
        except ImportError as exc:
            self.show_error(self.tr("Dependency installer unavailable: {}").format(exc))
        self._refresh_engine_status()

    # ------------------------------------------------------------------ output
    def _on_output_mode_changed(self, *_args) -> None:
        self.output_widget.setEnabled(self.file_radio.isChecked())

    # --------------------------------------------------------------------- run
    def panel_state(self) -> PanelState:
        """Read the widgets into a :class:`PanelState`."""
        layer = self.layer_combo.currentLayer()
        geometry, crs = self.current_aoi()
        return PanelState(
            raster_source=layer.source() if isinstance(layer, QgsRasterLayer) else "",
            raster_name=layer.name() if layer is not None else "",
            raster_provider=layer.providerType() if layer is not None else "gdal",
            prompt=self.prompt_combo.currentText(),
            sensor=self.sensor_combo.currentData() or None,
            bands=self._table_choices(),  # "not set" travels as 0: the run then leaves the role out
            aoi_mode=self.aoi_mode(),
            aoi_wkt=geometry.asWkt() if geometry is not None else None,
            aoi_crs=crs_to_text(crs) if geometry is not None else None,
            engine=self.engine_combo.currentData() or "spectral",
            model_dir=self.model_widget.filePath(),
            model_base_dir=self.model_base_widget.filePath(),
            device=self.device_combo.currentData() or "auto",
            precision=self.precision_combo.currentData() or "auto",
            threshold=None if self.threshold_default.isChecked() else self.threshold_spin.value(),
            threshold_method=self.threshold_method_combo.currentData() or "fixed",
            min_area_m2=self.min_area_spin.value(),
            simplify=self.simplify_spin.value(),
            scaling=self.scaling_value(),
            language=self.language_combo.currentData() or None,
            output_mode="file" if self.file_radio.isChecked() else "temporary",
            output_path=self.output_widget.filePath(),
            temp_dir=session_temp_dir(),
        )

    def scaling_value(self) -> str:
        """The chosen scaling name, or the GAIN,OFFSET the user typed ("" = detect)."""
        text = self.scaling_combo.currentText().strip()
        index = self.scaling_combo.findText(text)
        return (self.scaling_combo.itemData(index) or "") if index >= 0 else text

    def confirm_overwrite(self, path: str) -> bool:
        """Ask whether ``path`` may be replaced (tests replace this method)."""
        answer = QMessageBox.question(
            self,
            self.tr("Replace file?"),
            self.tr("'{}' already exists. Replace it?").format(path),
            QMessageBox.Yes | QMessageBox.No,
            QMessageBox.No,
        )
        return answer == QMessageBox.Yes

    def run(self) -> SpexExtractTask | None:
        """Validate the panel and start the background extraction; returns the task (None on bad input)."""
        if self.task is not None:
            return self.task
        state = self.panel_state()
        try:
            request = build_request(state)
        except SpexInputError as exc:
            self.status_label.setText(self.tr("Not run: {}").format(self.localize(str(exc))))
            self.show_error(str(exc))
            return None
        existing = result_layers.existing_files(request.output) if state.output_mode == "file" else []
        if existing:  # for a Shapefile any part of the set counts, and its .explain.txt
            if not self.confirm_overwrite(existing[0]):
                self.status_label.setText(self.tr("Not run: the output file exists."))
                return None
            request.overwrite = True
        temporary = state.output_mode == "temporary"
        if not temporary:
            settings.set_last_output_dir(os.path.dirname(os.path.abspath(request.output)))
        self._history = settings.add_prompt(request.prompt)
        task = SpexExtractTask(request, temporary_output=temporary)
        # QgsTask emits progressChanged on the worker thread: queue it to the GUI thread.
        task.progressChanged.connect(self._on_progress, Qt.QueuedConnection)
        task.progressMessage.connect(self._on_progress_message, Qt.QueuedConnection)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        self.task = task
        self._set_running(True)
        self.status_label.setText(self.tr("Running: {}").format(request.prompt))
        QgsApplication.taskManager().addTask(task)
        return task

    def preview(self) -> SpexPreviewTask | None:
        """Compute the mask of the current area in the background and show it as a temporary raster
        layer (no polygons written); returns the task (None on bad input or while busy)."""
        if self.task is not None or self.preview_task is not None:
            return None
        try:
            request = build_request(self.panel_state())
        except SpexInputError as exc:
            self.status_label.setText(self.tr("Not run: {}").format(self.localize(str(exc))))
            self.show_error(str(exc))
            return None
        mask_path = os.path.splitext(request.output)[0] + "_preview.tif"
        if self.file_radio.isChecked():  # never next to the user's file: previews are session scratch
            mask_path = os.path.join(session_temp_dir(), temporary_name(request.prompt)[:-5] + "_preview.tif")
        task = SpexPreviewTask(request, mask_path)
        task.progressChanged.connect(self._on_progress, Qt.QueuedConnection)
        task.succeeded.connect(self._on_preview_ready)
        task.failed.connect(self._on_preview_failed)
        task.cancelled.connect(self._on_preview_cancelled)
        self.preview_task = task
        self._set_running(True)
        self.status_label.setText(self.tr("Previewing: {}").format(request.prompt))
        QgsApplication.taskManager().addTask(task)
        return task

    def _preview_done(self) -> None:
        self.preview_task = None
        self._set_running(False)

    def _on_preview_ready(self, info: dict) -> None:
        mask_path = self.preview_task.mask_path
        prompt = self.preview_task.request.prompt
        self._preview_done()
        valid = info["target_px"] + info["background_px"]
        share = 100.0 * info["target_px"] / valid if valid else 0.0
        try:
            result_layers.add_mask_preview(
                mask_path, self.tr("Preview: {}").format(prompt), info["target_class"]
            )
        except SpexError as exc:
            self._show_failed(str(exc))
            return
        self.progress.setValue(100)
        self.status_label.setText(
            self.tr(
                "Preview: {} covers {:.1f} % of the valid pixels ({:.1f} s). Run writes the polygons."
            ).format(self._class_label(info["target_class"]), share, info["seconds"])
        )
        self.canvas.refresh()

    def _on_preview_failed(self, message: str) -> None:
        self._preview_done()
        self._show_failed(message)

    def _on_preview_cancelled(self) -> None:
        self._preview_done()
        self.progress.setValue(0)
        self.status_label.setText(self.tr("Cancelled: nothing was written."))

    def _on_progress_message(self, message: str) -> None:
        if self.task is not None:  # a late queued stage must not overwrite the final state
            self.status_label.setText(self.localize(message))

    def _on_progress(self, value: float) -> None:
        if (
            self.task is not None or self.preview_task is not None
        ):  # a late queued update must not overwrite the final state
            self.progress.setValue(int(round(value)))

    def cancel(self) -> None:
        """Ask the running extraction to stop (it stops at the next block/tile)."""
        for task in (self.task, self.preview_task):
            if task is not None:
                self.status_label.setText(self.tr("Cancelling…"))
                task.cancel()

    def _set_running(self, running: bool) -> None:
        self._update_run_button()
        self.preview_button.setEnabled(self.run_button.isEnabled())
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)

    def _done(self) -> None:
        self.task = None
        self._set_running(False)
        self._fill_prompts()
        self.runFinished.emit()

    def _on_succeeded(self, result) -> None:
        if not result.features:
            self._on_empty(result)
            return
        try:
            layer = result_layers.add_result_layer(result, layer_name(result.prompt))
        except SpexError as exc:
            self._done()
            self._show_failed(str(exc))
            return
        self.progress.setValue(100)
        self._explanations[layer.id()] = self._explanation_html(result)
        self.explanation.setHtml(self._explanations[layer.id()])
        self.status_label.setText(self._summary_text(result))
        self.notify(
            self.tr("Added '{}' with {} polygons").format(layer.name(), result.features), Qgis.Success
        )
        for warning in result.warnings:
            self.iface.messageBar().pushMessage("SPEX", warning, Qgis.Warning, 8)
        self.canvas.refresh()
        self._last_result_id = layer.id()
        self._done()
        self._refresh_export_button()
        self.resultAdded.emit(layer, result)

    def _summary_text(self, result) -> str:
        return self.tr("Done: {} polygons, {} in {:.1f} s").format(
            result.features, _area_text(result.area_m2), result.seconds
        )

    def _on_empty(self, result) -> None:
        """Nothing found: say so in place of the previous result; no empty layer is added."""
        if self.task is not None and self.task.temporary_output:
            from .task import remove_output

            remove_output(result.output)
        self._done()
        self.progress.setValue(100)
        text = self.tr("Nothing found: no {} in this area ({:.1f} s).").format(
            self._class_label(result.target_class), result.seconds
        )
        self.status_label.setText(text)
        hint = self.tr(
            "Try a larger area, a lower threshold (Threshold and filters), or a smaller minimum area."
        )
        body = html.escape(result.explanation or "").replace("\n", "<br>")
        self.explanation.setHtml(f"<p><b>{html.escape(text)}</b></p><p>{html.escape(hint)}</p><p>{body}</p>")
        self.notify(text, Qgis.Info)

    def _on_failed(self, message: str) -> None:
        self._done()
        self._show_failed(message)

    def _show_failed(self, message: str) -> None:
        """The failed state replaces the previous result in the panel (status and explanation)."""
        self.progress.setValue(0)
        message = self.localize(message)
        self.status_label.setText(self.tr("Failed: {}").format(message))
        self.explanation.setHtml(
            f"<p><b>{html.escape(self.tr('The extraction failed.'))}</b></p><p>{html.escape(message)}</p>"
        )
        self.show_error(message)

    def _on_cancelled(self) -> None:
        self._done()
        self.progress.setValue(0)
        self.status_label.setText(self.tr("Cancelled: nothing was written."))
        self.notify(self.tr("Extraction cancelled"), Qgis.Info)

    def notify(self, message: str, level=Qgis.Info, duration: int = 6) -> None:
        """Show ``message`` in the message bar in place of this panel's previous message (never queued
        behind it, so an old error cannot come back later)."""
        bar = self.iface.messageBar()
        for item in self._status_items:
            try:
                bar.popWidget(item)
            except (RuntimeError, TypeError):  # already closed by the user or timed out
                pass
        self._status_items = []
        bar.pushMessage("SPEX", message, level, duration)
        current = bar.currentItem() if hasattr(bar, "currentItem") else None
        if current is not None:
            self._status_items.append(current)

    def show_error(self, message: str) -> None:
        """One-line error in the QGIS message bar (and the errorOccurred signal), in the UI language."""
        message = self.localize(message)
        self.notify(message, Qgis.Critical, 10)
        self.errorOccurred.emit(message)

    def _class_label(self, target_class: str) -> str:
        """The class name in the UI language (unknown classes as written by the runtime)."""
        labels = {
            "water": self.tr("water"),
            "vegetation": self.tr("vegetation"),
            "building": self.tr("buildings"),
            "bare_soil": self.tr("bare soil"),
            "cloud": self.tr("clouds"),
            "snow": self.tr("snow"),
        }
        return labels.get(target_class, target_class.replace("_", " "))

    def _explanation_html(self, result) -> str:
        head = self.tr("{cls}: {n} polygons, {area} · engine {engine} · {secs:.1f} s").format(
            cls=self._class_label(result.target_class),
            n=result.features,
            area=_area_text(result.area_m2),
            engine=result.engine,
            secs=result.seconds,
        )
        body = html.escape(result.explanation or "").replace("\n", "<br>")
        parts = [f"<p><b>{html.escape(head)}</b></p>", f"<p>{body}</p>"]
        if result.warnings:
            items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
            parts.append(f"<p><i>{html.escape(self.tr('Notes'))}</i></p><ul>{items}</ul>")
        return "".join(parts)

    # ------------------------------------------------------------------ export
    def export_target(self) -> QgsVectorLayer | None:
        """The layer Export writes: the active layer when it is in "SPEX results", else the last result."""
        project = QgsProject.instance()
        group = result_layers.find_results_group(project)
        active = self.iface.activeLayer() if hasattr(self.iface, "activeLayer") else None
        if isinstance(active, QgsVectorLayer) and group is not None and group.findLayer(active.id()):
            return active
        layer = project.mapLayer(self._last_result_id) if self._last_result_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    def _refresh_export_button(self, removed_ids=None) -> None:
        for layer_id in removed_ids if isinstance(removed_ids, list) else []:
            self._explanations.pop(layer_id, None)
        layer = self.export_target()
        self.export_button.setEnabled(layer is not None and self.export_task is None)
        if layer is not None:
            self.export_button.setToolTip(
                self.tr("Save '{}' as a GeoPackage, Shapefile or GeoJSON").format(layer.name())
            )

    def ask_export_path(self, layer: QgsVectorLayer) -> str:
        """Ask where to export ``layer``; "" when cancelled. A missing extension follows the chosen format."""
        labels = {
            "ESRI Shapefile": self.tr("ESRI Shapefile (*.shp)"),
            "GPKG": self.tr("GeoPackage (*.gpkg)"),
            "GeoJSON": self.tr("GeoJSON (*.geojson)"),
        }
        folder = settings.last_output_dir() or os.path.expanduser("~")
        default_driver, default_ext = EXPORT_FORMATS[0]
        suggested = os.path.join(folder, layer_name_to_file(layer.name()) + default_ext)
        # Qt's own overwrite question is off: export_result asks, for every part of a Shapefile set.
        path, chosen = QFileDialog.getSaveFileName(
            self,
            self.tr("Export the SPEX result"),
            suggested,
            ";;".join(labels[driver] for driver, _ext in EXPORT_FORMATS),
            labels[default_driver],
            QFileDialog.DontConfirmOverwrite,
        )
        if not path:
            return ""
        ext = os.path.splitext(path)[1].lower()
        if ext not in {e for _d, e in EXPORT_FORMATS}:
            driver = next((d for d, label in labels.items() if label == chosen), default_driver)
            path += dict(EXPORT_FORMATS)[driver]
        return path

    def export_result(self) -> SpexExportTask | None:
        """Export the result layer (:meth:`export_target`) to a file the user picks; asks before replacing.

        The file is written in the background; returns the started task (None when nothing was started).
        ``exportFinished`` carries the :class:`~spex_qgis.layers.ExportReport`, or None on error/cancel.
        """
        if self.export_task is not None:
            return None
        layer = self.export_target()
        if layer is None:
            self.show_error(
                self.tr("No result to export: run an extraction first, or select a SPEX result layer.")
            )
            return None
        path = self.ask_export_path(layer)
        if not path:
            return None
        existing = result_layers.existing_files(path)
        if existing and not self.confirm_overwrite(existing[0]):
            self.status_label.setText(self.tr("Not exported: the file exists."))
            return None
        if layer.providerType() != "ogr" or layer.isModified():
            # A memory layer or unsaved edits exist only in this layer object: write it here.
            self._export_now(layer, path, bool(existing))
            return None
        task = SpexExportTask(
            layer.source(), layer.name(), path, bool(existing), QgsProject.instance().transformContext()
        )
        task.succeeded.connect(self._on_exported)
        task.failed.connect(self._on_export_failed)
        task.cancelled.connect(self._on_export_cancelled)
        self.export_task = task
        self.export_button.setEnabled(False)
        self.status_label.setText(self.tr("Exporting '{}'…").format(layer.name()))
        QgsApplication.taskManager().addTask(task)
        return task

    def _export_now(self, layer: QgsVectorLayer, path: str, overwrite: bool) -> None:
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            report = result_layers.export_layer(layer, path, overwrite=overwrite)
        except SpexError as exc:
            QApplication.restoreOverrideCursor()
            self._on_export_failed(str(exc))
            return
        QApplication.restoreOverrideCursor()
        self._on_exported(report)

    def _export_done(self) -> None:
        self.export_task = None
        self._refresh_export_button()

    def _on_exported(self, report) -> None:
        self._export_done()
        settings.set_last_output_dir(os.path.dirname(os.path.abspath(report.path)))
        message = self.tr("Exported {} polygons to {}").format(report.features, report.path)
        self.status_label.setText(message)
        self.iface.messageBar().pushMessage("SPEX", message, Qgis.Success, 5)
        for warning in report.warnings:
            self.iface.messageBar().pushMessage("SPEX", warning, Qgis.Warning, 8)
        self.exportFinished.emit(report)

    def _on_export_failed(self, message: str) -> None:
        self._export_done()
        self.status_label.setText(self.tr("Export failed."))
        self.show_error(message)
        self.exportFinished.emit(None)

    def _on_export_cancelled(self) -> None:
        self._export_done()
        self.status_label.setText(self.tr("Export cancelled: nothing was written."))
        self.exportFinished.emit(None)

    # ---------------------------------------------------------------- lifecycle
    def unload(self) -> None:
        """Plugin unload: cancel a running job, drop the map tools and the area rubber band."""
        self.cancel()
        if self.export_task is not None:
            self.export_task.cancel()
        self._watch_aoi_layer(None)
        self._watch_raster(None)
        for tool in (self.rectangle_tool, self.polygon_tool):
            tool.unload()
        if self._aoi_band is not None:
            self._aoi_band.reset(QgsWkbTypes.PolygonGeometry)
            self.canvas.scene().removeItem(self._aoi_band)
            self._aoi_band = None
        project = QgsProject.instance()
        for signal, slot in (
            (project.layersAdded, self._sync_with_project),
            (project.layersRemoved, self._sync_with_project),
            (project.layersRemoved, self._refresh_export_button),
            (self.canvas.destinationCrsChanged, self._show_aoi),
            (self.canvas.extentsChanged, self._on_extent_changed),
        ):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass
        signal = getattr(self.iface, "currentLayerChanged", None)
        if signal is not None and hasattr(signal, "disconnect"):
            try:
                signal.disconnect(self._on_active_layer_changed)
            except (TypeError, RuntimeError):
                pass

    def enterEvent(self, event) -> None:
        """Re-check the engine when the pointer comes back: a model may have been copied meanwhile."""
        if self.task is None:
            self._refresh_engine_status()
        super().enterEvent(event)

    def closeEvent(self, event) -> None:
        """Hide the drawn area with the panel."""
        if self._aoi_band is not None:
            self._aoi_band.reset(QgsWkbTypes.PolygonGeometry)
        self._stop_tools()
        super().closeEvent(event)


def layer_name_to_file(name: str) -> str:
    """A file name (no extension) from a layer name: keeps letters of any script, digits, - and _."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    return cleaned[:80] or "spex_result"


def _area_text(area_m2: float) -> str:
    if area_m2 >= 1e6:
        return f"{area_m2 / 1e6:,.2f} km²"
    if area_m2 >= 1e4:
        return f"{area_m2 / 1e4:,.2f} ha"
    return f"{area_m2:,.0f} m²"
