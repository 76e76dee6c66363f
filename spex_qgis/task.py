"""Run one extraction in the background with QGIS's task manager.

``run()`` executes on a worker thread and must not touch widgets or the project; ``finished()`` runs on
the GUI thread and is the only place results are announced (and layers then added by the dock).
"""

from __future__ import annotations

import glob
import os
import traceback

from qgis.core import Qgis, QgsFeedback, QgsMessageLog, QgsProcessingUtils, QgsTask
from qgis.PyQt.QtCore import QCoreApplication, Qt, pyqtSignal

from model_runtime.errors import DependencyMissingError, ExtractionCancelled, SpexEnvironmentError, SpexError
from model_runtime.messages import one_line

LOG_TAG = "SPEX"
_session_dir: str | None = None


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexTask`` context (see i18n/)."""
    return QCoreApplication.translate("SpexTask", text)


def session_temp_dir() -> str:
    """A per-session folder for temporary results (inside QGIS's own temp folder, removed when QGIS exits)."""
    global _session_dir
    if _session_dir is None or not os.path.isdir(_session_dir):
        _session_dir = os.path.join(QgsProcessingUtils.tempFolder(), "spex")
        os.makedirs(_session_dir, exist_ok=True)
    return _session_dir


def remove_output(path: str | None) -> None:
    """Delete a (possibly partial) result and its sidecars; used for temporary outputs on cancel/error."""
    if not path:
        return
    root, ext = os.path.splitext(path)
    candidates = [path, path + "-wal", path + "-shm", path + "-journal"]
    if ext.lower() == ".shp":
        candidates += glob.glob(glob.escape(root) + ".*")
    for candidate in candidates:
        if os.path.isfile(candidate):
            try:
                os.remove(candidate)
            except OSError:
                pass


class SpexExtractTask(QgsTask):
    """Background extraction. Emits exactly one of ``succeeded``, ``failed`` or ``cancelled`` when done."""

    succeeded = pyqtSignal(object)  # ExtractResult
    failed = pyqtSignal(str)  # one-line message for the message bar
    cancelled = pyqtSignal()
    progressMessage = pyqtSignal(str)  # the runtime's stage message (emitted from the worker thread)

    def __init__(self, request, description: str | None = None, temporary_output: bool = False):
        """``request``: an ExtractRequest; ``temporary_output``: delete ``request.output`` on cancel/error."""
        super().__init__(description or f"SPEX: {request.prompt}", QgsTask.CanCancel)
        self.request = request
        self.temporary_output = temporary_output
        self.result = None
        self.error: str | None = None
        self.error_traceback: str | None = None
        self.was_cancelled = False

    def _progress(self, fraction: float, message: str) -> None:
        self.setProgress(max(0.0, min(100.0, 100.0 * float(fraction))))
        if message:
            self.progressMessage.emit(message)

    def run(self) -> bool:
        """Worker thread: call the runtime; never raises (QgsTask would swallow it)."""
        try:
            import model_runtime  # imported here so a broken runtime install is reported, not a plugin crash

            self.result = model_runtime.extract(
                self.request, progress=self._progress, is_cancelled=self.isCanceled
            )
            return True
        except ExtractionCancelled:
            # A cancel the user asked for is not a failure: returning True keeps QGIS from also
            # announcing "Task failed"; finished() reports it as cancelled.
            self.was_cancelled = True
            return True
        except Exception as exc:  # a SpexError: its message; anything else: a bug, traceback to the log
            return _record_error(self, exc, tr("Unexpected error ({}: {}); details in the SPEX log panel"))

    def finished(self, ok: bool) -> None:
        """GUI thread: announce the outcome; clean up a temporary output that did not complete."""
        if ok and self.result is not None and not self.was_cancelled:
            # a cancel that arrives after the last write changes nothing
            for warning in self.result.warnings:
                QgsMessageLog.logMessage(warning, LOG_TAG, Qgis.Warning)
            self.succeeded.emit(self.result)
            return
        if self.temporary_output:
            remove_output(self.request.output)
        if self.was_cancelled or self.isCanceled():
            QgsMessageLog.logMessage(f"Cancelled: {self.request.prompt}", LOG_TAG, Qgis.Info)
            self.cancelled.emit()
            return
        if self.error_traceback:
            QgsMessageLog.logMessage(self.error_traceback, LOG_TAG, Qgis.Critical)
        message = self.error or tr("The extraction stopped without a result; details in the SPEX log panel")
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.Critical)
        self.failed.emit(message)


INSTALLER_MENU = "Install SPEX engine dependencies"


def environment_message(exc: SpexEnvironmentError, panel: bool = True, labels=None) -> str:
    """One line for a :class:`SpexEnvironmentError`, in the UI language: what this machine lacks and what
    to install or set; a missing package also names the plugin's installer (QGIS's Python is not the
    ``pip`` of a terminal). ``panel``: fixes name the panel's controls rather than CLI flags; ``labels``
    (option -> words): how this front end names an option the message gives as a CLI flag."""
    from model_runtime.messages import localize

    from .plugin import qgis_locale

    text = one_line(exc)
    if panel and labels is None:
        from .request_builder import option_labels

        labels = option_labels()
    localized = localize(text, qgis_locale(), panel=panel, labels=labels)
    if isinstance(exc, DependencyMissingError) and INSTALLER_MENU not in text:
        localized = tr("{message}; in QGIS use Raster > SPEX > Install SPEX engine dependencies…").format(
            message=localized
        )
    return localized


def _record_error(task, exc: Exception, unexpected: str) -> bool:
    """Inside a task's ``except``: store ``exc`` as ``task.error`` (one line) and return False for run().

    A :class:`SpexError` is the user's to fix: its own message (an environment error also says how to
    install from QGIS, see :func:`environment_message`). Anything else is a bug: its traceback goes to
    ``task.error_traceback`` (for the log) and ``unexpected`` (``{}`` for the type, ``{}`` for the
    exception) is the message.
    """
    if isinstance(exc, SpexEnvironmentError):
        task.error = environment_message(exc)
    elif isinstance(exc, SpexError):
        task.error = one_line(exc)
    else:
        task.error_traceback = traceback.format_exc()
        task.error = one_line(unexpected.format(type(exc).__name__, exc))
    return False


class SpexExportTask(QgsTask):
    """Export a result layer in the background (a big Shapefile takes a while). Emits exactly one of
    ``succeeded(ExportReport)``, ``failed(message)`` or ``cancelled()``.

    The worker opens its own copy of the layer from ``uri``: a layer of the project must not be read
    outside the GUI thread.
    """

    succeeded = pyqtSignal(object)  # spex_qgis.layers.ExportReport
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, uri: str, name: str, path: str, overwrite: bool, transform_context):
        """``uri``: the layer's OGR source; ``transform_context``: the project's, read on the GUI thread."""
        super().__init__(f"SPEX: export {name}", QgsTask.CanCancel)
        self.uri, self.name, self.path, self.overwrite = uri, name, path, overwrite
        self.transform_context = transform_context
        self.feedback = QgsFeedback()
        # Emitted by the writer on the worker thread: report it from there, as run() would.
        self.feedback.progressChanged.connect(self.setProgress, Qt.DirectConnection)
        self.report = None
        self.error: str | None = None
        self.error_traceback: str | None = None

    def cancel(self) -> None:
        """Stop at the next feature; nothing is left behind."""
        self.feedback.cancel()
        super().cancel()

    def run(self) -> bool:
        """Worker thread: write the file; never raises."""
        try:
            from qgis.core import QgsVectorLayer

            from .layers import export_layer

            layer = QgsVectorLayer(self.uri, self.name, "ogr")
            if not layer.isValid():
                self.error = tr(
                    "Cannot read the layer '{}' to export it: check that its file still exists."
                ).format(self.name)
                return False
            self.report = export_layer(
                layer,
                self.path,
                overwrite=self.overwrite,
                transform_context=self.transform_context,
                feedback=self.feedback,
            )
            return True
        except ExtractionCancelled:
            self.report = None
            return True  # cancelled on request: not a "Task failed"; finished() emits cancelled
        except Exception as exc:  # a SpexError: its message; anything else: a bug, traceback to the log
            return _record_error(self, exc, tr("Export failed ({}: {}); details in the SPEX log panel"))

    def finished(self, ok: bool) -> None:
        """GUI thread: announce the outcome."""
        if ok and self.report is not None:
            self.succeeded.emit(self.report)
        elif self.error:
            if self.error_traceback:
                QgsMessageLog.logMessage(self.error_traceback, LOG_TAG, Qgis.Critical)
            self.failed.emit(self.error)
        else:
            self.cancelled.emit()


class SpexPreviewTask(QgsTask):
    """Compute the mask of a request's area into ``mask_path`` (no polygons). Emits exactly one of
    ``succeeded(info dict)``, ``failed(message)`` or ``cancelled()``."""

    succeeded = pyqtSignal(object)  # model_runtime.preview.preview_mask's dict
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, request, mask_path: str):
        """``request``: the ExtractRequest Run would use; ``mask_path``: a new GeoTIFF (session folder)."""
        super().__init__(f"SPEX: preview {request.prompt}", QgsTask.CanCancel)
        self.request, self.mask_path = request, mask_path
        self.info = None
        self.error: str | None = None
        self.error_traceback: str | None = None
        self.was_cancelled = False

    def run(self) -> bool:
        """Worker thread: compute the mask; never raises."""
        try:
            from model_runtime.preview import preview_mask

            self.info = preview_mask(
                self.request,
                self.mask_path,
                progress=lambda fraction, _message: self.setProgress(100.0 * fraction),
                is_cancelled=self.isCanceled,
            )
            return True
        except ExtractionCancelled:
            self.was_cancelled = True
            return True
        except Exception as exc:  # a SpexError: its message; anything else: a bug, traceback to the log
            return _record_error(self, exc, tr("Unexpected error ({}: {}); details in the SPEX log panel"))

    def finished(self, ok: bool) -> None:
        """GUI thread: announce the outcome."""
        if ok and self.info is not None and not self.was_cancelled:
            self.succeeded.emit(self.info)
        elif self.was_cancelled or self.isCanceled():
            remove_output(self.mask_path)
            self.cancelled.emit()
        else:
            if self.error_traceback:
                QgsMessageLog.logMessage(self.error_traceback, LOG_TAG, Qgis.Critical)
            self.failed.emit(self.error or tr("The preview stopped without a result"))
