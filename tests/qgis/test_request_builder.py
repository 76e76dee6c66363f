"""Panel state -> ExtractRequest: every user mistake is one SpexInputError line naming the fix."""

from __future__ import annotations

import ast
import os

import pytest

from model_runtime.errors import SpexInputError
from model_runtime.messages import ZH, localize
from spex_qgis import request_builder
from spex_qgis.request_builder import PanelState, build_request, layer_name, temporary_name


@pytest.fixture
def state(tmp_path):
    raster = tmp_path / "scene.tif"
    raster.write_bytes(b"")
    return PanelState(
        raster_source=str(raster),
        raster_name="scene",
        prompt="  extract the   water bodies ",
        temp_dir=str(tmp_path / "session"),
    )


def _error(state) -> str:
    with pytest.raises(SpexInputError) as err:
        build_request(state)
    message = str(err.value)
    assert "\n" not in message and ": " in message  # one line: problem, then fix
    return message


def test_defaults_whole_layer_temporary_output(state):
    request = build_request(state)
    assert request.raster == state.raster_source
    assert request.prompt == "extract the water bodies"
    assert request.aoi is None and request.engine == "spectral" and request.model_dir is None
    assert os.path.dirname(request.output) == state.temp_dir
    assert request.output.endswith(".gpkg") and "water_bodies" in os.path.basename(request.output)
    assert request.overwrite is False and request.sensor is None and request.bands == {}


def test_drawn_area_carries_canvas_crs(state):
    state.aoi_mode = "rectangle"
    state.aoi_wkt = "Polygon ((0 0, 10 0, 10 10, 0 10, 0 0))"
    state.aoi_crs = "EPSG:3857"
    aoi = build_request(state).aoi
    assert aoi.wkt == state.aoi_wkt and aoi.crs == "EPSG:3857" and aoi.bbox is None


@pytest.mark.parametrize(
    "mode, word", [("rectangle", "rectangle"), ("polygon", "polygon"), ("features", "select")]
)
def test_missing_area_geometry(state, mode, word):
    state.aoi_mode = mode
    assert word in _error(state).lower()
    state.aoi_wkt = "POLYGON EMPTY"
    assert word in _error(state).lower()


def test_band_mapping_and_sensor(state):
    state.sensor = "auto"
    state.bands = {"red": 3, "nir": 4, "swir1": 0}
    request = build_request(state)
    # swir1 "not set" is sent as 0 so the runtime leaves it out instead of detecting it
    assert request.sensor is None and request.bands == {"red": 3, "nir": 4, "swir1": 0}
    state.sensor = "sentinel2"
    assert build_request(state).sensor == "sentinel2"


def test_filters_reach_the_request(state):
    assert (build_request(state).threshold, build_request(state).min_area_m2) == (None, 0.0)
    state.threshold, state.threshold_method, state.min_area_m2, state.simplify = 0.25, "otsu", 500.0, 2.0
    request = build_request(state)
    assert (request.threshold, request.threshold_method, request.min_area_m2, request.simplify) == (
        0.25,
        "otsu",
        500.0,
        2.0,
    )
    state.scaling, state.language = "0.0001,-0.1", "zh"
    request = build_request(state)
    assert (request.scaling, request.language) == ("0.0001,-0.1", "zh")
    state.scaling = "auto"
    assert build_request(state).scaling is None
    state.scaling = "bogus"
    assert "scaling 'bogus'" in _error(state)
    state.scaling = ""
    state.min_area_m2 = -1
    assert "negative" in _error(state)
    state.min_area_m2, state.threshold_method = 0, "magic"
    assert "--threshold-method" in _error(state) and "magic" in _error(state)


def test_input_errors(state, tmp_path):
    bad = PanelState(**{**state.__dict__, "raster_source": ""})
    assert "raster" in _error(bad).lower()
    bad = PanelState(**{**state.__dict__, "raster_provider": "wms", "raster_name": "OSM"})
    assert "OSM" in _error(bad) and "GeoTIFF" in _error(bad)
    bad = PanelState(**{**state.__dict__, "prompt": "   "})
    assert "prompt" in _error(bad).lower()


def test_spex_engine_needs_existing_model_folder(state, tmp_path):
    state.engine = "spex"
    assert "model folder" in _error(state).lower()
    state.model_dir = str(tmp_path / "nowhere")
    assert "nowhere" in _error(state)
    (tmp_path / "ckpt").mkdir()
    state.model_dir = str(tmp_path / "ckpt")
    state.device = "cpu"
    request = build_request(state)
    assert request.engine == "spex" and request.model_dir == state.model_dir and request.device == "cpu"


@pytest.fixture
def spex_state(state, tmp_path):
    (tmp_path / "ckpt").mkdir()
    state.engine, state.model_dir = "spex", str(tmp_path / "ckpt")
    return state


@pytest.mark.parametrize(
    "device, precision",
    [
        ("cpu", "int8"),
        ("auto", "int8"),
        ("cpu", "fp32"),
        ("cuda", "bf16"),
        ("cuda:1", "fp16"),
        ("auto", "auto"),
    ],
)
def test_precision_reaches_the_request(spex_state, device, precision):
    spex_state.device, spex_state.precision = device, precision
    request = build_request(spex_state)
    assert request.precision == precision and request.device == device


def test_precision_is_normalised_and_unknown_names_refused(spex_state):
    spex_state.precision = " INT8 "
    assert build_request(spex_state).precision == "int8"
    spex_state.precision = None
    assert build_request(spex_state).precision == "auto"
    spex_state.precision = "int4"
    message = _error(spex_state)
    assert "int4" in message and "fp32" in message and "int8" in message


def test_precision_device_combinations_that_cannot_run(spex_state):
    spex_state.device, spex_state.precision = "cuda", "int8"
    message = _error(spex_state)
    assert "int8" in message and "CPU only" in message and "cpu for int8" in message
    spex_state.device = "cuda:0"
    assert "CPU only" in _error(spex_state)
    spex_state.device, spex_state.precision = "cpu", "fp16"
    message = _error(spex_state)
    assert "fp16" in message and "GPU" in message


def test_spectral_engine_ignores_the_precision(state):
    state.device, state.precision = "cuda", "int8"  # would be refused for the spex engine
    request = build_request(state)
    assert request.engine == "spectral" and request.precision == "auto"


def test_file_output(state, tmp_path):
    state.output_mode = "file"
    assert "output file" in _error(state).lower()
    state.output_path = str(tmp_path / "water")
    assert build_request(state).output == str(tmp_path / "water.gpkg")
    state.output_path = str(tmp_path / "water.SHP")
    assert build_request(state).output == str(tmp_path / "water.SHP")
    state.output_path = str(tmp_path / "water.kml")
    assert ".kml" in _error(state)
    state.output_path = str(tmp_path / "no_such_dir" / "w.gpkg")
    assert "no_such_dir" in _error(state)
    state.output_path = str(tmp_path / "w.geojson")
    state.overwrite = True
    assert build_request(state).overwrite is True


def test_names():
    assert temporary_name("提取水体").startswith("spex_result_")
    assert temporary_name("x") != temporary_name("x")
    name = layer_name("extract " + "very " * 30 + "long", when=0)
    assert "…" in name and name.endswith(")") and len(name) < 60
    assert layer_name("提取水体", when=0).startswith("提取水体 (")


def test_lora_base_folder_reaches_the_request(state, tmp_path):
    (tmp_path / "ckpt").mkdir()
    state.engine, state.model_dir, state.device = "spex", str(tmp_path / "ckpt"), "cpu"
    assert build_request(state).model_base_dir is None
    state.model_base_dir = f" {tmp_path} "
    assert build_request(state).model_base_dir == str(tmp_path)
    state.engine = "spectral"
    assert build_request(state).model_base_dir is None


def test_the_panels_own_errors_have_a_chinese_form():
    """The panel's rules (layer, area, output) speak Chinese like the runtime's (one catalogue)."""
    with open(request_builder.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    templates = list(request_builder.MISSING_AOI.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "SpexInputError":
            arg = node.args[0]
            if isinstance(arg, ast.Constant):
                templates.append(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in arg.values]
                templates.append("".join(parts))
    assert len(templates) > 10
    assert [t for t in templates if t not in ZH] == []
    assert localize(request_builder.MISSING_AOI["rectangle"], "zh").startswith("未绘制矩形")
