"""Band detection off the GUI thread: the runtime opens the raster with GDAL and guesses the sensor and the
band roles (a slow disk or a network file must not freeze QGIS); the answer comes back as a signal.

Only the answer to the latest request is delivered: a detection that finishes after the user picked
another raster (or another sensor) is dropped, so a stale band table can never come back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt.QtCore import QObject, pyqtSignal

from model_runtime.errors import SpexError

LOG_TAG = "SPEX"


@dataclass
class Detection:
    """What the runtime found for one raster: ``notes`` are runtime messages, not yet localized."""

    layer_id: str
    source: str
    sensor: str | None = None
    roles: Dict[str, int] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    error: str = ""  # a runtime message (SpexError) or "gdal": GDAL cannot open the file


def detect(layer_id: str, source: str, sensor: str | None) -> Detection:
    """Run the runtime's band detection on ``source`` (any thread; never raises)."""
    result = Detection(layer_id, source, sensor)
    try:
        from osgeo import gdal

        from model_runtime.io import bands

        try:
            ds = gdal.Open(source)
        except RuntimeError:  # gdal.UseExceptions() is on
            ds = None
        if ds is None:
            result.error = "gdal"
            return result
        try:
            found = bands.detect_band_roles(ds, sensor=sensor)
        finally:
            ds = None
        result.sensor, result.roles = found.sensor, dict(found.roles)
        result.notes = [found.notes] if isinstance(found.notes, str) else list(found.notes or [])
    except SpexError as exc:
        result.error = str(exc)
    except ImportError as exc:  # runtime not installed/complete: the mapping stays manual
        QgsMessageLog.logMessage(f"Band detection unavailable: {exc}", LOG_TAG, Qgis.Warning)
    return result


class BandDetector(QObject):
    """Starts detections on worker threads; ``detected(Detection)`` carries the latest one only."""

    detected = pyqtSignal(object)  # Detection, on the GUI thread
    _arrived = pyqtSignal(int, object)  # (request number, Detection), emitted from the worker thread

    def __init__(self, parent: QObject | None = None):
        """A detector with no request pending."""
        super().__init__(parent)
        self._latest = 0
        self._answered = 0
        self._arrived.connect(self._deliver)  # queued: the worker thread emits, the GUI thread receives

    def request(self, layer_id: str, source: str, sensor: str | None = None) -> int:
        """Detect the bands of ``source`` in the background; returns the request number."""
        self._latest += 1
        number = self._latest
        worker = threading.Thread(
            target=self._work,
            args=(number, layer_id, source, sensor),
            name="spex-band-detection",
            daemon=True,
        )
        worker.start()
        return number

    def forget(self) -> None:
        """Drop whatever is still running (no raster selected any more, or the panel is unloading)."""
        self._latest += 1
        self._answered = self._latest

    def pending(self) -> bool:
        """Whether the latest request has not answered yet."""
        return self._latest != self._answered

    def _work(self, number: int, layer_id: str, source: str, sensor: str | None) -> None:
        detection = detect(layer_id, source, sensor)
        try:
            self._arrived.emit(number, detection)
        except RuntimeError:  # the panel was deleted meanwhile: nobody is waiting for the answer
            pass

    def _deliver(self, number: int, detection: Detection) -> None:
        if number != self._latest:
            return  # stale: another raster or sensor was chosen since
        self._answered = number
        self.detected.emit(detection)
