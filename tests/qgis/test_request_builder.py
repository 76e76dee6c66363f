"""Panel state -> ExtractRequest: every user mistake is one SpexInputError line naming the fix."""

from __future__ import annotations

import os

import pytest

from model_runtime.errors import SpexInputError
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
    assert request.sensor is None and request.bands == {"red": 3, "nir": 4}
    state.sensor = "sentinel2"
    assert build_request(state).sensor == "sentinel2"


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
