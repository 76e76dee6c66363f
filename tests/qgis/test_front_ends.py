"""The same options through the three front ends (``spex extract`` arguments, the SPEX panel's widgets and
the ``spex:extract`` Processing parameters) give the same ExtractRequest; Processing depends on its
parameters only."""

from __future__ import annotations

import dataclasses

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProject, QgsRasterLayer
from test_dock import wait_bands  # tests/qgis is on sys.path (rootdir-less test folders)

from model_runtime.cli import build_parser, extract_values
from model_runtime.errors import SpexInputError
from model_runtime.request_builder import build_request as runtime_build_request
from spex_qgis import settings
from spex_qgis.dock import SpexDockWidget
from spex_qgis.request_builder import build_request as panel_build_request

PROMPT = "extract the water bodies"
USED_BANDS = {"blue": 1, "green": 2, "red": 3, "nir": 4}


@pytest.fixture
def dock(qgis_app, qgis_iface, qgis_new_project, scene_path):
    settings.clear_all()
    layer = QgsRasterLayer(scene_path, "aerial RGBN sample")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    widget = SpexDockWidget(qgis_iface)
    widget.layer_combo.setLayer(layer)
    wait_bands(widget)
    yield widget
    widget.unload()
    widget.close()
    widget.deleteLater()
    settings.clear_all()


def _options(dock, tmp_path, engine):
    """One set of choices, every option away from its default. Bands: every role of the panel's table,
    the unused ones as 0 (the panel always sends its whole table)."""
    bands = {role: USED_BANDS.get(role, 0) for role in dock.input_panel.table_roles()}
    return {
        "output": str(tmp_path / "water.gpkg"),
        "engine": engine,
        "model_dir": str(tmp_path),
        "device": "cpu",
        "precision": "int8",
        "sensor": "aerial_rgbn",
        "bands": bands,
        "scaling": "0.0001,0",
        "threshold": 0.25,
        "threshold_method": "fixed",
        "min_area_m2": 500.0,
        "simplify": 2.5,
        "language": "zh",
    }


def _cli_request(raster, o):
    bands = ",".join(f"{role}={band}" for role, band in o["bands"].items())
    argv = ["extract", raster, "-p", PROMPT, "-o", o["output"], "--engine", o["engine"]]
    argv += ["--model", o["model_dir"], "--device", o["device"], "--precision", o["precision"]]
    argv += ["--sensor", o["sensor"], "--bands", bands, "--scaling", o["scaling"]]
    argv += ["--threshold", str(o["threshold"]), "--threshold-method", o["threshold_method"]]
    argv += ["--min-area", str(o["min_area_m2"]), "--simplify", str(o["simplify"])]
    argv += ["--language", o["language"]]
    return runtime_build_request(extract_values(build_parser().parse_args(argv)))


def _panel_request(dock, o):
    """Set the widgets as a user would, then build the panel's request."""
    dock.prompt_combo.setEditText(PROMPT)
    dock.sensor_combo.setCurrentIndex(dock.sensor_combo.findData(o["sensor"]))
    wait_bands(dock)  # a new sensor re-detects the bands; the user edits the table it then shows
    for role, band in o["bands"].items():
        dock.set_band(role, band)
    dock.engine_combo.setCurrentIndex(dock.engine_combo.findData(o["engine"]))
    dock.model_widget.setFilePath(o["model_dir"])
    dock.device_combo.setCurrentIndex(dock.device_combo.findData(o["device"]))
    dock.precision_combo.setCurrentIndex(dock.precision_combo.findData(o["precision"]))
    dock.scaling_combo.setEditText(o["scaling"])
    dock.threshold_default.setChecked(False)
    dock.threshold_spin.setValue(o["threshold"])
    dock.threshold_method_combo.setCurrentIndex(dock.threshold_method_combo.findData(o["threshold_method"]))
    dock.min_area_spin.setValue(o["min_area_m2"])
    dock.simplify_spin.setValue(o["simplify"])
    dock.language_combo.setCurrentIndex(dock.language_combo.findData(o["language"]))
    dock.file_radio.setChecked(True)
    dock.output_widget.setFilePath(o["output"])
    return panel_build_request(dock.panel_state())


def _processing_request(raster, o):
    alg = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
    params = {
        "INPUT": raster,
        "PROMPT": PROMPT,
        "ENGINE": o["engine"],
        "MODEL_DIR": o["model_dir"],
        "DEVICE": o["device"],
        "PRECISION": o["precision"],
        "SENSOR": o["sensor"],
        "BANDS": ",".join(f"{role}={band}" for role, band in o["bands"].items()),
        "SCALING": o["scaling"],
        "THRESHOLD": o["threshold"],
        "THRESHOLD_METHOD": o["threshold_method"],
        "MIN_AREA": o["min_area_m2"],
        "SIMPLIFY": o["simplify"],
        "LANGUAGE": o["language"],
        "OUTPUT": o["output"],
    }
    ok, message = alg.checkParameterValues(params, QgsProcessingContext())
    assert ok, message
    return alg.build_request(params, QgsProcessingContext())


@pytest.mark.parametrize("engine", ["spectral", "spex"])
def test_the_same_options_give_the_same_request_everywhere(provider, dock, scene_path, tmp_path, engine):
    if engine == "spex" and not dock.engine_combo.model().item(1).isEnabled():
        pytest.skip("the spex engine's packages are not importable here: the panel does not offer it")
    options = _options(dock, tmp_path, engine)
    cli = _cli_request(scene_path, options)
    panel = _panel_request(dock, options)
    processing = _processing_request(scene_path, options)
    # Processing replaces its destination (its dialog asked); the CLI and the panel only when told to
    assert processing.overwrite and not cli.overwrite and not panel.overwrite
    processing = dataclasses.replace(processing, overwrite=False)
    assert cli == panel == processing
    assert cli.threshold == 0.25 and cli.bands["nir"] == 4 and cli.language == "zh"  # not the defaults
    assert (cli.precision == "int8") is (engine == "spex")


def test_processing_ignores_the_panels_model_folder(provider, scene_path, tmp_path):
    settings.set_model_dir(str(tmp_path))
    settings.set_model_base_dir(str(tmp_path))
    try:
        extract = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
        params = {"INPUT": scene_path, "PROMPT": PROMPT, "OUTPUT": str(tmp_path / "o.gpkg")}
        request = extract.build_request(params, QgsProcessingContext())
        assert request.model_dir is None and request.model_base_dir is None
        batch = QgsApplication.processingRegistry().createAlgorithmById("spex:batch")
        if batch is None:
            return
        batch_params = {
            "INPUT_FOLDER": str(tmp_path),
            "PROMPT": PROMPT,
            "ENGINE": "spex",
            "OUTPUT_FOLDER": str(tmp_path / "out"),
            "OUTPUT": str(tmp_path / "merged.gpkg"),
        }
        with pytest.raises(SpexInputError) as info:  # before: the panel's folder was used
            batch.build_request(batch_params, QgsProcessingContext())
        assert info.value.option == "model_dir"
    finally:
        settings.clear_all()


def test_batch_passes_every_shared_option_to_its_items(provider, tmp_path):
    batch = QgsApplication.processingRegistry().createAlgorithmById("spex:batch")
    if batch is None:
        pytest.skip("spex:batch is not registered (dask missing)")
    params = {
        "INPUT_FOLDER": str(tmp_path),
        "PROMPT": PROMPT,
        "SENSOR": "aerial_rgbn",
        "BANDS": "red=3,nir=4",
        "SCALING": "s2",
        "THRESHOLD": 0.3,
        "THRESHOLD_METHOD": "fixed",
        "MIN_AREA": 100.0,
        "SIMPLIFY": 1.5,
        "LANGUAGE": "en",
        "OUTPUT_FOLDER": str(tmp_path / "out"),
        "OUTPUT": str(tmp_path / "merged.gpkg"),
    }
    request = batch.build_request(params, QgsProcessingContext())
    item = request.item_request("a.tif", PROMPT, "a.gpkg")
    assert (item.sensor, item.bands, item.scaling) == ("aerial_rgbn", {"red": 3, "nir": 4}, "s2")
    assert (item.threshold, item.min_area_m2, item.simplify, item.language) == (0.3, 100.0, 1.5, "en")


def test_each_front_end_names_the_option_in_its_own_words(provider, dock, scene_path, tmp_path, capsys):
    """One runtime message; the CLI shows the flag, Processing its parameter's label, the panel its field."""
    import processing
    from qgis.core import QgsProcessingException

    from model_runtime.cli import main

    with pytest.raises(SpexInputError) as info:
        runtime_build_request({"raster": scene_path, "prompt": PROMPT, "threshold": "high"})
    assert info.value.option == "threshold" and str(info.value).startswith("--threshold must be a number")
    out = str(tmp_path / "o.gpkg")
    assert main(["extract", scene_path, "-p", PROMPT, "-o", out, "--threshold", "x"]) == 2
    assert capsys.readouterr().err.startswith("spex: error: --threshold must be a number, got 'x'")
    with pytest.raises(QgsProcessingException) as failed:
        processing.run(
            "spex:extract",
            {"INPUT": scene_path, "PROMPT": PROMPT, "BANDS": "nir=x", "OUTPUT": str(tmp_path / "p.gpkg")},
        )
    assert str(failed.value).startswith("Band mapping (e.g. red=3,nir=4): band number 'x'")
    shown = dock.localize(str(info.value))
    assert shown.startswith("“Threshold” must be a number") and "--" not in shown
