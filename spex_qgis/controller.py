"""What happens when the user runs, previews or exports: the background tasks and their outcomes, the
result layers, and the settings remembered between sessions. No widget here: the dock gives plain values
(:class:`~spex_qgis.request_builder.PanelState`) and shows what the signals say.

One run ends in exactly one of ``succeeded(layer, result)``, ``empty(result)``, ``failed(message)`` or
``cancelled("run")``; each replaces the previous result in the panel. Messages are the runtime's own
(the view renders them in the UI language).
"""

from __future__ import annotations

import os
from typing import Callable, Dict

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QObject, Qt, pyqtSignal

from model_runtime.errors import SpexError, SpexInputError

from . import layers as result_layers
from . import result_html, settings
from .request_builder import PanelState, build_request, layer_name, temporary_name
from .task import SpexExportTask, SpexExtractTask, SpexPreviewTask, remove_output, session_temp_dir

Confirm = Callable[[str], bool]  # "may this existing file be replaced?"


class SpexController(QObject):
    """Owns the extraction, preview and export tasks of one panel and what their results become."""

    started = pyqtSignal(str, str)  # kind ("run", "preview", "export"), the prompt or the layer name
    busyChanged = pyqtSignal(bool)  # a run or a preview is (not) running
    progress = pyqtSignal(float)  # 0..100
    stage = pyqtSignal(str)  # the runtime's stage message
    inputRejected = pyqtSignal(str)  # the request is invalid: nothing started
    overwriteDeclined = pyqtSignal(str)  # kind: the user kept the existing file
    succeeded = pyqtSignal(object, object)  # the result layer added, the ExtractResult
    empty = pyqtSignal(object)  # ExtractResult with no polygon: no layer was added
    failed = pyqtSignal(str)  # a run, preview or result layer failed
    cancelled = pyqtSignal(str)  # kind
    previewReady = pyqtSignal(object)  # model_runtime.preview's dict, the mask layer is on the map
    exported = pyqtSignal(object)  # ExportReport
    exportFailed = pyqtSignal(str)
    exportCancelled = pyqtSignal()

    def __init__(self, parent: QObject | None = None):
        """Nothing running, no result yet."""
        super().__init__(parent)
        self.task: SpexExtractTask | None = None
        self.preview_task: SpexPreviewTask | None = None
        self.export_task: SpexExportTask | None = None
        self.last_result_id: str | None = None  # the layer Export writes when no result layer is selected
        self.explanations: Dict[str, str] = {}  # result layer id -> explanation HTML shown for it

    def busy(self) -> bool:
        """Whether a run or a preview is running."""
        return self.task is not None or self.preview_task is not None

    def _request(self, state: PanelState):
        try:
            return build_request(state)
        except SpexInputError as exc:
            self.inputRejected.emit(str(exc))
            return None

    # -------------------------------------------------------------------- run
    def run(self, state: PanelState, confirm_overwrite: Confirm) -> SpexExtractTask | None:
        """Validate ``state`` and start the background extraction; returns the task (None when nothing
        started: bad input, or the user kept an existing output file)."""
        if self.task is not None:
            return self.task
        request = self._request(state)
        if request is None:
            return None
        existing = result_layers.existing_files(request.output) if state.output_mode == "file" else []
        if existing:  # for a Shapefile any part of the set counts, and its .explain.txt
            if not confirm_overwrite(existing[0]):
                self.overwriteDeclined.emit("run")
                return None
            request.overwrite = True
        temporary = state.output_mode == "temporary"
        if not temporary:
            settings.set_last_output_dir(os.path.dirname(os.path.abspath(request.output)))
        settings.add_prompt(request.prompt)
        task = SpexExtractTask(request, temporary_output=temporary)
        # QgsTask emits progressChanged on the worker thread: queue it to the GUI thread.
        task.progressChanged.connect(self._on_progress, Qt.QueuedConnection)
        task.progressMessage.connect(self._on_stage, Qt.QueuedConnection)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: self._on_cancelled("run"))
        self.task = task
        self.busyChanged.emit(True)
        self.started.emit("run", request.prompt)
        QgsApplication.taskManager().addTask(task)
        return task

    def preview(self, state: PanelState) -> SpexPreviewTask | None:
        """Compute the mask of the area in the background and add it as a temporary raster layer (no
        polygons written); returns the task (None on bad input or while busy)."""
        if self.busy():
            return None
        request = self._request(state)
        if request is None:
            return None
        mask_path = os.path.splitext(request.output)[0] + "_preview.tif"
        if state.output_mode == "file":  # never next to the user's file: previews are session scratch
            mask_path = os.path.join(session_temp_dir(), temporary_name(request.prompt)[:-5] + "_preview.tif")
        task = SpexPreviewTask(request, mask_path)
        task.progressChanged.connect(self._on_progress, Qt.QueuedConnection)
        task.succeeded.connect(self._on_preview_ready)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: self._on_cancelled("preview"))
        self.preview_task = task
        self.busyChanged.emit(True)
        self.started.emit("preview", request.prompt)
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel(self) -> bool:
        """Ask the running extraction or preview to stop (at the next block/tile); False when none runs."""
        running = [task for task in (self.task, self.preview_task) if task is not None]
        for task in running:
            task.cancel()
        return bool(running)

    def _finish(self) -> None:
        self.task = None
        self.preview_task = None
        self.busyChanged.emit(False)

    def _on_progress(self, value: float) -> None:
        if self.busy():  # a late queued update must not overwrite the final state
            self.progress.emit(value)

    def _on_stage(self, message: str) -> None:
        if self.task is not None:
            self.stage.emit(message)

    def _on_succeeded(self, result) -> None:
        temporary = self.task is not None and self.task.temporary_output
        self._finish()
        if not result.features:
            if temporary:
                remove_output(result.output)
            self.empty.emit(result)
            return
        try:
            layer = result_layers.add_result_layer(result, layer_name(result.prompt))
        except SpexError as exc:
            self.failed.emit(str(exc))
            return
        self.explanations[layer.id()] = result_html.explanation_html(result)
        self.last_result_id = layer.id()
        self.succeeded.emit(layer, result)

    def _on_preview_ready(self, info: dict) -> None:
        task = self.preview_task
        self._finish()
        try:
            result_layers.add_mask_preview(
                task.mask_path, result_html.preview_layer_name(task.request.prompt), info["target_class"]
            )
        except SpexError as exc:
            self.failed.emit(str(exc))
            return
        self.previewReady.emit(info)

    def _on_failed(self, message: str) -> None:
        self._finish()
        self.failed.emit(message)

    def _on_cancelled(self, kind: str) -> None:
        self._finish()
        self.cancelled.emit(kind)

    # ----------------------------------------------------------------- export
    def export_target(self, active_layer=None) -> QgsVectorLayer | None:
        """The layer Export writes: ``active_layer`` when it is in "SPEX results", else the last result."""
        project = QgsProject.instance()
        group = result_layers.find_results_group(project)
        if (
            isinstance(active_layer, QgsVectorLayer)
            and group is not None
            and group.findLayer(active_layer.id())
        ):
            return active_layer
        layer = project.mapLayer(self.last_result_id) if self.last_result_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    def forget_layers(self, layer_ids) -> None:
        """Layers removed from the project: their explanations go too."""
        for layer_id in layer_ids or []:
            self.explanations.pop(layer_id, None)

    def export(self, layer: QgsVectorLayer, path: str, confirm_overwrite: Confirm) -> SpexExportTask | None:
        """Write ``layer`` to ``path``, asking before replacing; a file layer is written in the background
        (the task is returned), a memory layer or unsaved edits at once (None is returned)."""
        if self.export_task is not None:
            return None
        existing = result_layers.existing_files(path)
        if existing and not confirm_overwrite(existing[0]):
            self.overwriteDeclined.emit("export")
            return None
        if layer.providerType() != "ogr" or layer.isModified():
            # A memory layer or unsaved edits exist only in this layer object: write it here.
            try:
                report = result_layers.export_layer(layer, path, overwrite=bool(existing))
            except SpexError as exc:
                self.exportFailed.emit(str(exc))
                return None
            self._on_exported(report)
            return None
        task = SpexExportTask(
            layer.source(), layer.name(), path, bool(existing), QgsProject.instance().transformContext()
        )
        task.succeeded.connect(self._on_exported)
        task.failed.connect(self._on_export_failed)
        task.cancelled.connect(self._on_export_cancelled)
        self.export_task = task
        self.started.emit("export", layer.name())
        QgsApplication.taskManager().addTask(task)
        return task

    def _on_exported(self, report) -> None:
        self.export_task = None
        settings.set_last_output_dir(os.path.dirname(os.path.abspath(report.path)))
        self.exported.emit(report)

    def _on_export_failed(self, message: str) -> None:
        self.export_task = None
        self.exportFailed.emit(message)

    def _on_export_cancelled(self) -> None:
        self.export_task = None
        self.exportCancelled.emit()

    # --------------------------------------------------------------- settings
    @staticmethod
    def remember_engine(
        engine: str, model_dir: str, model_base_dir: str, device: str, precision: str
    ) -> None:
        """Remember the engine choices (written only when changed: this runs on every pointer entry)."""
        if engine and engine != settings.engine():
            settings.set_engine(engine)
        if engine == "spex":
            if model_dir and model_dir != settings.model_dir():
                settings.set_model_dir(model_dir)
            if model_base_dir != settings.model_base_dir():
                settings.set_model_base_dir(model_base_dir)
        if device != settings.device():
            settings.set_device(device)
        if precision != settings.precision():
            settings.set_precision(precision)

    @staticmethod
    def remember_band_edits(source: str, edits) -> None:
        """Remember the user's band edits for this raster file only (None forgets them): another file
        of the same sensor may order its bands otherwise."""
        settings.set_band_mapping(source, edits)

    def unload(self) -> None:
        """Cancel whatever still runs (plugin unload)."""
        self.cancel()
        if self.export_task is not None:
            self.export_task.cancel()
