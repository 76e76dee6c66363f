"""The SPEX panel: pick a raster, type a prompt, choose an area, run, read the explanation.

A thin view: the panels of :mod:`spex_qgis.ui` hold the widgets, :class:`~spex_qgis.controller.SpexController`
runs, previews and exports, :mod:`spex_qgis.result_html` words the results. This class puts them in one
scrollable dock, turns the widgets into a :class:`~spex_qgis.request_builder.PanelState` and shows what the
controller reports.
"""

from __future__ import annotations

from typing import Dict, List

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import QCoreApplication, Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from . import result_html
from .controller import SpexController
from .request_builder import PanelState
from .task import SpexExportTask, SpexExtractTask, SpexPreviewTask, session_temp_dir
from .ui.aoi_panel import AoiPanel
from .ui.common import crs_to_text, fit_narrow, localize, multiband_gdal, ui_language
from .ui.engine_panel import EnginePanel
from .ui.export_dialog import ask_export_path, ask_replace
from .ui.filters_panel import FiltersPanel
from .ui.input_panel import InputPanel
from .ui.output_panel import OutputPanel
from .ui.prompt_panel import PromptPanel
from .ui.result_panel import ResultPanel, RunPanel

# The panels' widgets tests and scripts reach as attributes of the dock (dock.run_button ...).
_WIDGETS = {
    "input_panel": "layer_combo sensor_combo bands_summary band_table reset_bands_button bands_group",
    "prompt_panel": "prompt_combo",
    "aoi_panel": "aoi_combo draw_button clear_aoi_button aoi_layer_combo aoi_status "
    "rectangle_tool polygon_tool",
    "filters_panel": "threshold_default threshold_spin threshold_method_combo min_area_spin simplify_spin "
    "scaling_combo language_combo filters_group",
    "engine_panel": "engine_combo model_widget model_base_widget device_combo precision_combo engine_status "
    "install_button engine_group",
    "output_panel": "temp_radio file_radio output_widget",
    "run_panel": "run_button cancel_button preview_button progress status_label",
    "result_panel": "explanation export_button",
}


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
        self._status_items: List = []  # message bar items this panel pushed (replaced, never queued)
        self._running = ""  # what the controller runs: "run", "preview" or ""
        self.controller = SpexController(self)
        self.setObjectName("SpexDockWidget")
        self.setWindowTitle(self.tr("SPEX — prompt extraction"))
        self._build_ui()
        self._connect()
        self.input_panel.refresh_filter(self._active_layer())
        self.input_panel.show_layer(self.layer_combo.currentLayer())
        self.aoi_panel.on_mode_changed()
        self.refresh_engine_status()

    # ---------------------------------------------------------------- helpers
    def tr(self, text: str) -> str:
        """Translate ``text`` in the context ``SpexDockWidget`` (see i18n/)."""
        return QCoreApplication.translate("SpexDockWidget", text)

    def ui_language(self) -> str:
        """The QGIS UI locale (``zh-Hans``, ``en_US``...): runtime messages are shown in it if translated."""
        return ui_language()

    def localize(self, message: str) -> str:
        """A runtime message (error, progress stage) in the UI language (see model_runtime.messages)."""
        return localize(message, self.ui_language())

    @property
    def task(self) -> SpexExtractTask | None:
        """The running extraction (None when idle)."""
        return self.controller.task

    @property
    def preview_task(self) -> SpexPreviewTask | None:
        """The running preview (None when idle)."""
        return self.controller.preview_task

    @property
    def export_task(self) -> SpexExportTask | None:
        """The running export (None when idle)."""
        return self.controller.export_task

    def _active_layer(self):
        return self.iface.activeLayer() if hasattr(self.iface, "activeLayer") else None

    # --------------------------------------------------------------- building
    def _build_ui(self) -> None:
        content = QWidget()
        main = QVBoxLayout(content)
        main.setContentsMargins(6, 6, 6, 6)
        main.setSpacing(6)
        self.input_panel = InputPanel(self.localize)
        self.prompt_panel = PromptPanel()
        self.aoi_panel = AoiPanel(self.canvas, self.input_panel.layer)
        self.filters_panel = FiltersPanel()
        self.engine_panel = EnginePanel(self.localize)
        self.output_panel = OutputPanel()
        self.run_panel = RunPanel()
        self.result_panel = ResultPanel()
        for name, widgets in _WIDGETS.items():
            panel = getattr(self, name)
            main.addWidget(panel, 1 if panel is self.result_panel else 0)
            for widget in widgets.split():
                setattr(self, widget, getattr(panel, widget))
        fit_narrow(content)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setWidget(content)
        self.setWidget(self.scroll)
        self.setMinimumWidth(300)

    def _connect(self) -> None:
        self.input_panel.layerChanged.connect(self._on_raster_changed)
        self.input_panel.rasterCrsChanged.connect(self.aoi_panel.show_area)
        self.input_panel.bandEditsChanged.connect(self.controller.remember_band_edits)
        self.engine_panel.changed.connect(self._on_engine_changed)
        self.engine_panel.installRequested.connect(self._on_install_clicked)
        self.run_button.clicked.connect(self.run)
        self.preview_button.clicked.connect(self.preview)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.export_result)
        c = self.controller
        c.started.connect(self._on_started)
        c.busyChanged.connect(self._on_busy_changed)
        c.progress.connect(lambda value: self.progress.setValue(int(round(value))))
        c.stage.connect(lambda message: self.status_label.setText(self.localize(message)))
        c.inputRejected.connect(self._on_input_rejected)
        c.overwriteDeclined.connect(self._on_overwrite_declined)
        c.succeeded.connect(self._on_succeeded)
        c.empty.connect(self._on_empty)
        c.failed.connect(self._show_failed)
        c.cancelled.connect(self._on_cancelled)
        c.previewReady.connect(self._on_preview_ready)
        c.exported.connect(self._on_exported)
        c.exportFailed.connect(self._on_export_failed)
        c.exportCancelled.connect(self._on_export_cancelled)
        project = QgsProject.instance()
        project.layersAdded.connect(self._sync_with_project)
        project.layersRemoved.connect(self._sync_with_project)
        project.layersRemoved.connect(self._refresh_export_button)
        signal = getattr(self.iface, "currentLayerChanged", None)
        if signal is not None and hasattr(signal, "connect"):
            signal.connect(self._on_active_layer_changed)

    # ------------------------------------------------------------- the raster
    def _on_active_layer_changed(self, layer) -> None:
        if multiband_gdal(layer) and self.task is None:
            self.layer_combo.setLayer(layer)
        self._refresh_export_button()
        target = self.export_target()
        if target is not None and layer is not None and target.id() == layer.id():
            text = self.controller.explanations.get(target.id())  # the selected result: what Export… writes
            self.explanation.setHtml(text or result_html.saved_layer_html(target.name(), target.abstract()))

    def _sync_with_project(self, *_args) -> None:
        self.input_panel.sync_with_project(self._active_layer())

    def _on_raster_changed(self, _layer) -> None:
        if self.aoi_mode() == "extent":
            self.aoi_panel.on_mode_changed()
        else:
            self.aoi_panel.show_area()
        self._update_run_button()

    def band_mapping(self) -> Dict[str, int]:
        """The role -> 1-based band mapping shown in the table (unset roles left out)."""
        return self.input_panel.band_mapping()

    def excluded_roles(self) -> List[str]:
        """Roles set to "— not set —" in the table: the run does not use them, even when detected."""
        return self.input_panel.excluded_roles()

    def set_band(self, role: str, band: int) -> None:
        """Set the band of ``role`` in the table (as if the user picked it; 0 = not set)."""
        self.input_panel.set_band(role, band)

    # -------------------------------------------------------- area of interest
    def aoi_mode(self) -> str:
        """The chosen area mode: layer, extent, rectangle, polygon or features."""
        return self.aoi_panel.mode()

    def set_aoi_mode(self, mode: str) -> None:
        """Select an area mode (as the user would in the combo)."""
        self.aoi_panel.set_mode(mode)

    def set_drawn_aoi(self, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> None:
        """Use ``geometry`` (in ``crs``) as the drawn area, as if drawn with the map tool."""
        self.aoi_panel.set_drawn(geometry, crs)

    def clear_aoi(self) -> None:
        """Forget the drawn area."""
        self.aoi_panel.clear()

    def current_aoi(self):
        """(geometry, crs) of the area the run would use; (None, None) for the whole layer or nothing yet."""
        return self.aoi_panel.current()

    # ------------------------------------------------------------------ engine
    def refresh_engine_status(self, *_args) -> None:
        """Re-check the SPEX engine (after installing dependencies, or a model copied meanwhile)."""
        self.engine_panel.refresh()

    def _on_engine_changed(self) -> None:
        p = self.engine_panel
        self.controller.remember_engine(
            p.engine(), p.model_dir(), p.model_base_dir(), p.device(), p.precision()
        )
        self._update_run_button()

    def _update_run_button(self, *_args) -> None:
        problem = self.engine_panel.problem
        self.run_panel.set_state(self.controller.busy(), not problem, problem)

    def _on_install_clicked(self) -> None:
        try:
            from .ui.install_dialog import show_install_dialog

            show_install_dialog(self)
        except ImportError as exc:
            self.show_error(self.tr("Dependency installer unavailable: {}").format(exc))
        self.refresh_engine_status()

    # --------------------------------------------------------------------- run
    def panel_state(self) -> PanelState:
        """Read the widgets into a :class:`PanelState`."""
        layer = self.layer_combo.currentLayer()
        geometry, crs = self.current_aoi()
        engine, filters = self.engine_panel, self.filters_panel
        return PanelState(
            raster_source=layer.source() if isinstance(layer, QgsRasterLayer) else "",
            raster_name=layer.name() if layer is not None else "",
            raster_provider=layer.providerType() if layer is not None else "gdal",
            prompt=self.prompt_panel.text(),
            sensor=self.sensor_combo.currentData() or None,
            bands=self.input_panel.request_bands(),  # "not set" travels as 0: the run leaves the role out
            aoi_mode=self.aoi_mode(),
            aoi_wkt=geometry.asWkt() if geometry is not None else None,
            aoi_crs=crs_to_text(crs) if geometry is not None else None,
            engine=engine.engine(),
            model_dir=self.model_widget.filePath(),
            model_base_dir=self.model_base_widget.filePath(),
            device=engine.device(),
            precision=engine.precision(),
            threshold=filters.threshold(),
            threshold_method=self.threshold_method_combo.currentData() or "fixed",
            min_area_m2=self.min_area_spin.value(),
            simplify=self.simplify_spin.value(),
            scaling=filters.scaling_value(),
            language=self.language_combo.currentData() or None,
            output_mode=self.output_panel.mode(),
            output_path=self.output_panel.path(),
            temp_dir=session_temp_dir(),
        )

    def scaling_value(self) -> str:
        """The chosen scaling name, or the GAIN,OFFSET the user typed ("" = detect)."""
        return self.filters_panel.scaling_value()

    def confirm_overwrite(self, path: str) -> bool:
        """Ask whether ``path`` may be replaced (tests replace this method)."""
        return ask_replace(self, path)

    def run(self) -> SpexExtractTask | None:
        """Validate the panel and start the background extraction; returns the task (None on bad input)."""
        return self.controller.run(self.panel_state(), lambda path: self.confirm_overwrite(path))

    def preview(self) -> SpexPreviewTask | None:
        """Compute the mask of the current area in the background and show it as a temporary raster
        layer (no polygons written); returns the task (None on bad input or while busy)."""
        return self.controller.preview(self.panel_state())

    def cancel(self) -> None:
        """Ask the running extraction or preview to stop (it stops at the next block/tile)."""
        if self.controller.busy():  # before cancelling: a task not started yet says "cancelled" at once
            self.status_label.setText(self.tr("Cancelling…"))
        self.controller.cancel()

    # -------------------------------------------------- what the controller says
    def _on_started(self, kind: str, name: str) -> None:
        if kind == "export":
            self.export_button.setEnabled(False)
            self.status_label.setText(self.tr("Exporting '{}'…").format(name))
            return
        self._running = kind
        self.progress.setValue(0)
        text = self.tr("Running: {}") if kind == "run" else self.tr("Previewing: {}")
        self.status_label.setText(text.format(name))

    def _on_busy_changed(self, busy: bool) -> None:
        self._update_run_button()
        if busy:
            return
        finished, self._running = self._running, ""
        if finished == "run":
            self.prompt_panel.fill()
            self.runFinished.emit()

    def _on_input_rejected(self, message: str) -> None:
        self.status_label.setText(self.tr("Not run: {}").format(self.localize(message)))
        self.show_error(message)

    def _on_overwrite_declined(self, kind: str) -> None:
        if kind == "export":
            self.status_label.setText(self.tr("Not exported: the file exists."))
        else:
            self.status_label.setText(self.tr("Not run: the output file exists."))

    def _on_succeeded(self, layer, result) -> None:
        self.progress.setValue(100)
        self.explanation.setHtml(self.controller.explanations[layer.id()])
        self.status_label.setText(result_html.summary_text(result))
        self.notify(
            self.tr("Added '{}' with {} polygons").format(layer.name(), result.features), Qgis.Success
        )
        for warning in result.warnings:
            self.iface.messageBar().pushMessage("SPEX", warning, Qgis.Warning, 8)
        self.canvas.refresh()
        self._refresh_export_button()
        self.resultAdded.emit(layer, result)

    def _on_empty(self, result) -> None:
        """Nothing found: say so in place of the previous result; no empty layer is added."""
        self.progress.setValue(100)
        text = result_html.empty_text(result)
        self.status_label.setText(text)
        self.explanation.setHtml(result_html.empty_html(result))
        self.notify(text, Qgis.Info)

    def _show_failed(self, message: str) -> None:
        """The failed state replaces the previous result in the panel (status and explanation)."""
        self.progress.setValue(0)
        message = self.localize(message)
        self.status_label.setText(self.tr("Failed: {}").format(message))
        self.explanation.setHtml(result_html.failed_html(message))
        self.show_error(message)

    def _on_cancelled(self, kind: str) -> None:
        self.progress.setValue(0)
        self.status_label.setText(self.tr("Cancelled: nothing was written."))
        if kind == "run":
            self.explanation.setHtml(result_html.cancelled_html())
            self.notify(self.tr("Extraction cancelled"), Qgis.Info)

    def _on_preview_ready(self, info: dict) -> None:
        self.progress.setValue(100)
        self.status_label.setText(result_html.preview_text(info))
        self.canvas.refresh()

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

    # ------------------------------------------------------------------ export
    def export_target(self) -> QgsVectorLayer | None:
        """The layer Export writes: the active layer when it is in "SPEX results", else the last result."""
        return self.controller.export_target(self._active_layer())

    def _refresh_export_button(self, removed_ids=None) -> None:
        self.controller.forget_layers(removed_ids if isinstance(removed_ids, list) else [])
        layer = self.export_target()
        self.export_button.setEnabled(layer is not None and self.export_task is None)
        if layer is not None:
            self.export_button.setToolTip(
                self.tr("Save '{}' as a GeoPackage, Shapefile or GeoJSON").format(layer.name())
            )

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
        path = ask_export_path(self, layer.name())
        if not path:
            return None
        return self.controller.export(layer, path, lambda existing: self.confirm_overwrite(existing))

    def _on_exported(self, report) -> None:
        self._refresh_export_button()
        message = self.tr("Exported {} polygons to {}").format(report.features, report.path)
        self.status_label.setText(message)
        self.iface.messageBar().pushMessage("SPEX", message, Qgis.Success, 5)
        for warning in report.warnings:
            self.iface.messageBar().pushMessage("SPEX", warning, Qgis.Warning, 8)
        self.exportFinished.emit(report)

    def _on_export_failed(self, message: str) -> None:
        self._refresh_export_button()
        self.status_label.setText(self.tr("Export failed."))
        self.show_error(message)
        self.exportFinished.emit(None)

    def _on_export_cancelled(self) -> None:
        self._refresh_export_button()
        self.status_label.setText(self.tr("Export cancelled: nothing was written."))
        self.exportFinished.emit(None)

    # ---------------------------------------------------------------- lifecycle
    def unload(self) -> None:
        """Plugin unload: cancel a running job, drop the map tools and the area rubber band."""
        self.cancel()
        self.controller.unload()
        self.input_panel.unload()
        self.aoi_panel.unload()
        project = QgsProject.instance()
        for signal, slot in (
            (project.layersAdded, self._sync_with_project),
            (project.layersRemoved, self._sync_with_project),
            (project.layersRemoved, self._refresh_export_button),
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
            self.refresh_engine_status()
        super().enterEvent(event)

    def closeEvent(self, event) -> None:
        """Hide the drawn area with the panel."""
        self.aoi_panel.hide_area()
        super().closeEvent(event)
