"""Band detection runs on a worker thread, and an answer for a raster no longer chosen is dropped."""

from __future__ import annotations

import threading
import time

from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QCoreApplication

from model_runtime.io import bands
from spex_qgis import settings
from spex_qgis.ui.band_detection import BandDetector, detect
from spex_qgis.ui.input_panel import InputPanel


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.005)
    assert condition(), "timed out"


def test_detection_is_off_the_gui_thread_and_a_stale_answer_is_ignored(
    qgis_app, qgis_new_project, scene_path, s2_path, monkeypatch
):
    settings.clear_all()
    real = bands.detect_band_roles
    threads, finished = [], []
    release = threading.Event()

    def slow_for_aerial(ds, sensor=None):
        threads.append(threading.get_ident())
        if "aerial" in ds.GetDescription():
            assert release.wait(30)  # a slow disk: the GUI must not wait for it
        try:
            return real(ds, sensor=sensor)
        finally:
            finished.append(ds.GetDescription())

    monkeypatch.setattr(bands, "detect_band_roles", slow_for_aerial)
    aerial = QgsRasterLayer(scene_path, "aerial sample")
    s2 = QgsRasterLayer(s2_path, "Sentinel-2 sample")
    QgsProject.instance().addMapLayers([aerial, s2])
    panel = InputPanel(lambda message: message)
    try:
        panel.layer_combo.setLayer(aerial)
        # back here while the aerial detection is still blocked in its worker: the GUI thread is free
        assert panel.detecting() and not finished
        assert "aerial sample" in panel.bands_summary.text() and panel.band_mapping() == {}
        panel.layer_combo.setLayer(s2)
        _wait(lambda: not panel.detecting())
        s2_mapping = panel.band_mapping()
        assert s2_mapping["swir1"] == 5 and panel.detected_sensor == "sentinel2_l2a"
        release.set()  # the aerial answer arrives now, for a raster no longer chosen
        _wait(lambda: len(finished) == 2)
        for _ in range(20):
            QCoreApplication.processEvents()
            time.sleep(0.005)
        assert panel.band_mapping() == s2_mapping and panel.detected_sensor == "sentinel2_l2a"
        summary = panel.bands_summary.text()
        assert "Sentinel-2 sample" in summary and "aerial" not in summary
        assert threading.main_thread().ident not in threads and len(threads) == 2
    finally:
        release.set()
        panel.unload()
        panel.deleteLater()
        settings.clear_all()


def test_only_the_latest_request_is_delivered(qgis_app, scene_path, s2_path):
    detector = BandDetector()
    answers = []
    detector.detected.connect(answers.append)
    detector.request("a", scene_path)
    detector.request("b", s2_path)
    _wait(lambda: not detector.pending())
    for _ in range(50):  # the first answer, if any, has been delivered (and dropped) by now
        QCoreApplication.processEvents()
        time.sleep(0.005)
    assert [a.layer_id for a in answers] == ["b"] and answers[0].roles["swir1"] == 5
    detector.request("a", scene_path)
    detector.forget()  # no raster chosen any more: nothing is delivered
    time.sleep(0.3)
    QCoreApplication.processEvents()
    assert len(answers) == 1 and not detector.pending()


def test_detect_reports_an_unreadable_file_without_raising(tmp_path):
    broken = tmp_path / "not_a_raster.tif"
    broken.write_text("no raster here", encoding="utf-8")
    found = detect("x", str(broken), None)
    assert found.error == "gdal" and found.roles == {}
