"""SpexExtractTask through QGIS's real task manager and the real runtime on the Sentinel-2 sample."""

from __future__ import annotations

import os
import time

import pytest
from qgis.core import QgsApplication, QgsFeedback, QgsProcessingUtils, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication

import model_runtime
from model_runtime.errors import DependencyMissingError, ExtractionCancelled, SpexEnvironmentError
from model_runtime.request import ExtractRequest
from spex_qgis import layers
from spex_qgis.task import SpexExportTask, SpexExtractTask, session_temp_dir


def run_task(task: SpexExtractTask, timeout: float = 120.0):
    """Start ``task`` in the task manager and pump events until it announced its outcome."""
    outcome = []
    task.succeeded.connect(lambda result: outcome.append(("ok", result)))
    task.failed.connect(lambda message: outcome.append(("failed", message)))
    task.cancelled.connect(lambda: outcome.append(("cancelled", None)))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + timeout
    while not outcome and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert outcome, f"task did not finish within {timeout} s"
    assert len(outcome) == 1
    return outcome[0]


class CancelOnFirstProgress(SpexExtractTask):
    """Cancels itself (through QgsTask.cancel) as soon as the runtime reports progress."""

    def _progress(self, fraction, message):
        super()._progress(fraction, message)
        if fraction > 0 and not self.isCanceled():
            self.cancel()


def test_success_temporary_gpkg(qgis_app, scene_path):
    output = os.path.join(session_temp_dir(), "task_success.gpkg")
    request = ExtractRequest(raster=scene_path, prompt="extract the water bodies", output=output)
    task = SpexExtractTask(request, temporary_output=True)
    progress = []
    task.progressChanged.connect(progress.append)
    kind, result = run_task(task)
    assert kind == "ok", result
    assert result.target_class == "water" and result.features > 0 and result.explanation
    assert os.path.isfile(result.output)
    layer = QgsVectorLayer(f"{result.output}|layername={result.layer}", "r", "ogr")
    assert layer.isValid() and layer.featureCount() == result.features
    assert next(layer.getFeatures())["explain"].startswith("Water region 1 of ")  # about that polygon
    assert progress and max(progress) == pytest.approx(100.0)
    assert os.path.dirname(session_temp_dir()) == QgsProcessingUtils.tempFolder()  # never the user's folder


@pytest.mark.parametrize("temporary", [True, False])
def test_cancel_leaves_no_file(qgis_app, scene_path, tmp_path, temporary):
    folder = session_temp_dir() if temporary else str(tmp_path)
    output = os.path.join(folder, f"task_cancel_{temporary}.gpkg")
    request = ExtractRequest(raster=scene_path, prompt="extract the vegetation", output=output)
    task = CancelOnFirstProgress(request, temporary_output=temporary)
    ends = []
    task.taskCompleted.connect(lambda: ends.append("completed"))
    task.taskTerminated.connect(lambda: ends.append("terminated"))  # what QGIS shows as "Task failed"
    kind, _ = run_task(task)
    assert kind == "cancelled"
    QCoreApplication.processEvents()
    assert ends == ["completed"]  # a cancel the user asked for is not reported as a failure
    assert not [n for n in os.listdir(folder) if n.startswith(f"task_cancel_{temporary}")]
    if not temporary:
        assert os.listdir(tmp_path) == []  # not even a hidden temp file


def test_user_error_is_one_line_and_no_file(qgis_app, s2_path, tmp_path):
    output = str(tmp_path / "unicorns.gpkg")
    request = ExtractRequest(raster=s2_path, prompt="extract the unicorns", output=output)
    kind, message = run_task(SpexExtractTask(request))
    assert kind == "failed"
    assert "\n" not in message and "water" in message  # names the supported classes
    assert os.listdir(tmp_path) == []


def test_unexpected_exception_is_logged_with_traceback(qgis_app, tmp_path, monkeypatch):
    def broken(request, progress=None, is_cancelled=None):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(model_runtime, "extract", broken)
    logged = []

    def on_log(message, tag, level):
        if tag == "SPEX":
            logged.append(message)

    QgsApplication.messageLog().messageReceived.connect(on_log)
    try:
        request = ExtractRequest(raster=str(tmp_path / "x.tif"), prompt="extract the water bodies")
        task = SpexExtractTask(request)
        kind, message = run_task(task)
    finally:
        QgsApplication.messageLog().messageReceived.disconnect(on_log)
    assert kind == "failed"
    assert "\n" not in message and "ZeroDivisionError" in message and "boom" in message
    assert any("Traceback" in entry and "boom" in entry for entry in logged)


@pytest.mark.parametrize(
    "error, hint",
    [
        (DependencyMissingError('the SPEX engine needs torch, not installed: run pip install "torch"'), True),
        (SpexEnvironmentError("SPEX_DECODE='fast' is not understood: use auto, eager or graph"), False),
    ],
)
def test_environment_error_names_the_installer(qgis_app, tmp_path, monkeypatch, error, hint):
    """A missing package: one line with the pip command AND the plugin's installer (QGIS's Python is not a
    terminal's); another environment problem: its own line. Neither is logged as a bug."""

    def missing(request, progress=None, is_cancelled=None):
        raise error

    monkeypatch.setattr(model_runtime, "extract", missing)
    request = ExtractRequest(raster=str(tmp_path / "x.tif"), prompt="extract the water bodies")
    task = SpexExtractTask(request)
    kind, message = run_task(task)
    assert kind == "failed" and "\n" not in message and task.error_traceback is None
    assert message.startswith(str(error))
    assert ("Install SPEX engine dependencies" in message) == hint, message


@pytest.fixture(scope="module")
def vegetation_gpkg(tmp_path_factory, aerial_sample):
    """A real result of the runtime (vegetation on the aerial sample), written once for these tests."""
    out = str(tmp_path_factory.mktemp("veg") / "veg.gpkg")
    request = ExtractRequest(raster=aerial_sample, prompt="extract the vegetation", output=out)
    result = model_runtime.extract(request)
    assert result.features > 100
    return out, result


def test_export_task_writes_shapefile_in_background(qgis_app, vegetation_gpkg, tmp_path):
    source, result = vegetation_gpkg
    out = str(tmp_path / "veg.shp")
    task = SpexExportTask(source, "veg", out, False, QgsProject.instance().transformContext())
    kind, report = run_task(task)
    assert kind == "ok" and report.features == result.features and report.path == out
    back = QgsVectorLayer(out, "back", "ogr")
    assert back.featureCount() == result.features
    with open(str(tmp_path / "veg.explain.txt"), encoding="utf-8") as handle:
        assert handle.read() == result.explanation
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["veg.shp", "veg.shx", "veg.dbf", "veg.prj", "veg.cpg", "veg.explain.txt"]
    )


def test_export_task_errors_are_one_line(qgis_app, vegetation_gpkg, tmp_path):
    source, _result = vegetation_gpkg
    task = SpexExportTask(str(tmp_path / "gone.gpkg"), "gone", str(tmp_path / "x.shp"), False, None)
    kind, message = run_task(task)
    assert kind == "failed" and "\n" not in message and "gone" in message
    (tmp_path / "taken.gpkg").write_bytes(b"user data")
    task = SpexExportTask(source, "veg", str(tmp_path / "taken.gpkg"), False, None)
    kind, message = run_task(task)
    assert kind == "failed" and "already exists" in message
    assert (tmp_path / "taken.gpkg").read_bytes() == b"user data"


@pytest.mark.parametrize("ext", [".shp", ".gpkg"])
def test_cancelled_export_leaves_nothing(qgis_app, vegetation_gpkg, tmp_path, ext):
    source, _result = vegetation_gpkg
    layer = QgsVectorLayer(source, "veg", "ogr")
    feedback = QgsFeedback()
    feedback.cancel()
    with pytest.raises(ExtractionCancelled):
        layers.export_layer(layer, str(tmp_path / ("veg" + ext)), feedback=feedback)
    assert os.listdir(tmp_path) == []
