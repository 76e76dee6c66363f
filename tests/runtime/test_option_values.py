"""model_runtime.request_builder: plain values -> one checked ExtractRequest; errors name the option."""

from __future__ import annotations

import pytest

from model_runtime import options
from model_runtime.cli import build_parser, extract_values
from model_runtime.errors import SpexInputError
from model_runtime.messages import localize, render_options
from model_runtime.request import AreaOfInterest, ExtractRequest
from model_runtime.request_builder import build_options, build_request

BASE = {"raster": "scene.tif", "prompt": "  extract the   water bodies "}


def _error(**values) -> SpexInputError:
    with pytest.raises(SpexInputError) as info:
        build_request({**BASE, **values})
    message = str(info.value)
    assert "\n" not in message and ": " in message  # one line: the problem, then the fix
    return info.value


def test_defaults_are_the_request_defaults():
    request = build_request(BASE)
    assert request == ExtractRequest(raster="scene.tif", prompt="extract the water bodies")


def test_every_option_is_parsed_from_plain_text(tmp_path):
    request = build_request(
        {
            **BASE,
            "output": f" {tmp_path / 'o.gpkg'} ",
            "aoi": "500000,4000000,500600,4000600",
            "aoi_crs": "EPSG:32633",
            "engine": "SPEX",
            "model_dir": str(tmp_path),
            "model_base_dir": "",
            "device": "CUDA:1",
            "precision": " BF16 ",
            "sensor": "sentinel2",
            "bands": "red=3; nir=4, swir1=0",
            "scaling": "0.0001,-0.1",
            "threshold": "0.25",
            "threshold_method": "fixed",
            "min_area_m2": "500",
            "simplify": 2,
            "language": "ZH",
            "overwrite": True,
            "max_new_tokens": "32",
            "max_pixels": "1_000_000",
            "allow_network": True,
        }
    )
    assert request == ExtractRequest(
        raster="scene.tif",
        prompt="extract the water bodies",
        output=str(tmp_path / "o.gpkg"),
        aoi=AreaOfInterest(bbox=(500000.0, 4000000.0, 500600.0, 4000600.0), crs="EPSG:32633"),
        engine="spex",
        model_dir=str(tmp_path),
        device="cuda:1",
        precision="bf16",
        sensor="sentinel2",
        bands={"red": 3, "nir": 4, "swir1": 0},
        scaling="0.0001,-0.1",
        threshold=0.25,
        min_area_m2=500.0,
        simplify=2.0,
        language="zh",
        overwrite=True,
        max_new_tokens=32,
        max_pixels=1_000_000,
        allow_network=True,
    )


def test_auto_and_empty_mean_detect_or_default():
    request = build_request({**BASE, "sensor": "auto", "scaling": "AUTO", "language": "auto", "bands": ""})
    assert (request.sensor, request.scaling, request.language, request.bands) == (None, None, None, {})
    request = build_request({**BASE, "threshold": "", "min_area_m2": None, "max_pixels": None})
    assert (request.threshold, request.min_area_m2, request.max_pixels) == (None, 0.0, None)


def test_the_spectral_engine_drops_the_spex_options(tmp_path):
    request = build_request(
        {**BASE, "model_dir": str(tmp_path), "device": "cuda", "precision": "int8", "max_new_tokens": 9}
    )
    assert (request.model_dir, request.device, request.precision, request.max_new_tokens) == (
        None,
        "auto",
        "auto",
        options.DEFAULT_MAX_NEW_TOKENS,
    )


def test_a_wkt_and_an_area_of_interest_object_are_taken_as_they_are():
    wkt = "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"
    assert build_request({**BASE, "aoi": wkt, "aoi_crs": "EPSG:3857"}).aoi == AreaOfInterest(
        wkt=wkt, crs="EPSG:3857"
    )
    aoi = AreaOfInterest(wkt=wkt)
    assert build_request({**BASE, "aoi": aoi}).aoi is aoi


@pytest.mark.parametrize(
    "values, option, needles",
    [
        ({"raster": " "}, "raster", ["no raster"]),
        ({"prompt": "   "}, "prompt", ["empty prompt"]),
        ({"engine": "magic"}, "engine", ["--engine", "magic", "spectral, spex"]),
        ({"engine": "spex"}, "model_dir", ["--model DIR"]),
        ({"engine": "spex", "model_dir": "/no/such/folder"}, "model_dir", ["/no/such/folder"]),
        ({"sensor": "hubble"}, "sensor", ["hubble"]),
        ({"bands": "nir=x"}, "bands", ["'x'"]),
        ({"bands": "nir"}, "bands", ["role=band"]),
        ({"bands": {"unicorn": 1}}, "bands", ["unicorn"]),
        ({"bands": "red=1,red=2"}, "bands", ["twice"]),
        ({"scaling": "bogus"}, "scaling", ["bogus"]),
        ({"threshold": "high"}, "threshold", ["--threshold", "number", "high"]),
        ({"threshold": "nan"}, "threshold", ["finite"]),
        ({"threshold_method": "magic"}, "threshold_method", ["--threshold-method", "fixed, otsu"]),
        ({"min_area_m2": -1}, "min_area_m2", ["--min-area", "negative"]),
        ({"simplify": "-0.5"}, "simplify", ["--simplify", "negative"]),
        ({"language": "fr"}, "language", ["--language", "en, zh"]),
        ({"max_pixels": "-3"}, "max_pixels", ["--max-pixels"]),
        ({"max_pixels": "1.5"}, "max_pixels", ["whole number"]),
        ({"aoi": "1,2,three"}, "aoi", ["--aoi"]),
        ({"aoi_crs": "EPSG:4326"}, "aoi", ["--aoi-crs"]),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_option(values, option, needles):
    error = _error(**values)
    assert error.option == option
    for needle in needles:
        assert needle in str(error)


@pytest.fixture
def spex_values(tmp_path):
    return {**BASE, "engine": "spex", "model_dir": str(tmp_path)}


@pytest.mark.parametrize(
    "device, precision", [("cuda", "int8"), ("cuda:0", "int8"), ("cpu", "fp16"), ("gpu", "auto")]
)
def test_devices_and_precisions_that_can_never_run_are_refused(spex_values, device, precision):
    with pytest.raises(SpexInputError) as info:
        build_request({**spex_values, "device": device, "precision": precision})
    assert info.value.option == ("device" if device == "gpu" else "precision")


def test_unknown_option_names_are_a_front_end_bug():
    with pytest.raises(ValueError, match="threshhold"):
        build_request({**BASE, "threshhold": 0.2})


def test_batch_options_are_the_request_options():
    values = {"engine": "spectral", "bands": "red=3,nir=4", "threshold": "0.3", "language": "en"}
    request = build_request({**BASE, **values})
    built = build_options(values)
    assert {name: getattr(request, name) for name in built} == built


def test_cli_arguments_give_the_same_request_as_the_values(tmp_path):
    out = str(tmp_path / "o.shp")
    args = build_parser().parse_args(
        ["extract", "scene.tif", "-p", "water", "-o", out, "--bands", "red=3,nir=4", "--threshold", "0.2"]
        + ["--min-area", "100", "--simplify", "1.5", "--language", "zh", "--max-pixels", "10"]
    )
    assert build_request(extract_values(args)) == build_request(
        {
            "raster": "scene.tif",
            "prompt": "water",
            "output": out,
            "bands": {"red": 3, "nir": 4},
            "threshold": 0.2,
            "min_area_m2": 100,
            "simplify": 1.5,
            "language": "zh",
            "max_pixels": 10,
        }
    )


def test_choices_come_from_one_place():
    parser = build_parser()
    extract = parser._subparsers._group_actions[0].choices["extract"]
    actions = {a.dest: a for a in extract._actions}
    assert tuple(actions["engine"].choices) == options.ENGINES
    assert tuple(actions["precision"].choices) == options.PRECISIONS
    assert tuple(actions["threshold_method"].choices) == options.THRESHOLD_METHODS
    assert tuple(actions["language"].choices) == options.LANGUAGES


def test_output_files_of_each_format():
    assert options.output_files("a/b.gpkg") == ("a/b.gpkg",)
    assert options.output_files("b.GeoJSON") == ("b.GeoJSON",)
    shapefile = options.output_files("x/Water.SHP")
    assert shapefile[:5] == ("x/Water.SHP", "x/Water.shx", "x/Water.dbf", "x/Water.prj", "x/Water.cpg")
    assert "x/Water.explain.txt" in shapefile and "x/Water.qix" in shapefile


def test_front_ends_render_the_option_in_their_own_words():
    message = str(_error(threshold="high"))
    assert message.startswith("--threshold must be a number")  # the CLI's words
    labels = {"threshold": "Index threshold"}
    assert render_options(message, labels).startswith("“Index threshold” must be a number")
    assert localize(message, "en", labels=labels) == render_options(message, labels)
    chinese = localize(message, "zh_CN", labels={"threshold": "阈值"})
    assert chinese.startswith("“阈值” 必须是数字") and "--" not in chinese
    # a flag that merely starts like an option's is left alone
    assert render_options("pass --thresholds", labels) == "pass --thresholds"
