"""``spex:extract`` through QGIS Processing, on the real Sentinel-2 sample and on small synthetic rasters."""

import os

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeatureSourceDefinition,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)

from spex_qgis.processing.extract_algorithm import SpexExtractAlgorithm
from spex_qgis.processing.parameters import sensor_ids

PIXEL = 10.0
ORIGIN = (500000.0, 4600000.0)
WATER_ROWS, WATER_COLS = (10, 30), (10, 40)  # 20 x 30 pixels of water = 60 000 m²
RGBN = "blue=1,green=2,red=3,nir=4"


def _write_rgbn(path, size=60):
    """4-band float32 reflectance GeoTIFF (UTM 33N, 10 m): vegetation with one rectangular lake."""
    veg = (0.04, 0.08, 0.05, 0.35)
    water = (0.08, 0.07, 0.04, 0.02)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 4, gdal.GDT_Float32)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0, ORIGIN[1], 0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(0)
    for band in range(4):
        data = np.full((size, size), veg[band], np.float32)
        data[WATER_ROWS[0] : WATER_ROWS[1], WATER_COLS[0] : WATER_COLS[1]] = water[band]
        data += rng.normal(0, 0.003, data.shape).astype(np.float32)
        ds.GetRasterBand(band + 1).WriteArray(data)
    ds = None
    return str(path)


def _map_x(col):
    return ORIGIN[0] + col * PIXEL


def _map_y(row):
    return ORIGIN[1] - row * PIXEL


@pytest.fixture()
def rgbn(tmp_path):
    return _write_rgbn(tmp_path / "rgbn.tif")


def _run(params):
    import processing

    return processing.run("spex:extract", params)


def _layer(path):
    layer = QgsVectorLayer(path, "out", "ogr")
    assert layer.isValid(), path
    return layer


def _total_area(layer):
    return sum(f.geometry().area() for f in layer.getFeatures())


def _one_line_error(params, *needles):
    with pytest.raises(QgsProcessingException) as info:
        _run(params)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    for needle in needles:
        assert needle.lower() in message.lower(), message
    return message


# ------------------------------------------------------------------------------------------- metadata


def test_algorithm_metadata(provider):
    alg = QgsApplication.processingRegistry().algorithmById("spex:extract")
    assert alg is not None and isinstance(alg, SpexExtractAlgorithm)
    assert provider.id() == "spex" and provider.name() and not provider.icon().isNull()
    assert alg.name() == "extract" and alg.displayName() and alg.group() and alg.groupId() == "landcover"
    assert "提取水体" in alg.shortHelpString()
    names = [p.name() for p in alg.parameterDefinitions()]
    assert names == [
        "INPUT",
        "PROMPT",
        "EXTENT",
        "AOI",
        "ENGINE",
        "MODEL_DIR",
        "MODEL_BASE_DIR",
        "DEVICE",
        "PRECISION",
        "SENSOR",
        "BANDS",
        "THRESHOLD",
        "THRESHOLD_METHOD",
        "MIN_AREA",
        "SIMPLIFY",
        "SCALING",
        "LANGUAGE",
        "MAX_PIXELS",
        "OUTPUT",
    ]
    optional = {p.name() for p in alg.parameterDefinitions() if p.flags() & p.FlagOptional}
    assert {"EXTENT", "AOI", "MODEL_DIR", "MODEL_BASE_DIR", "BANDS", "THRESHOLD"} <= optional
    advanced = {p.name() for p in alg.parameterDefinitions() if p.flags() & p.FlagAdvanced}
    assert advanced == {
        "MODEL_BASE_DIR",
        "PRECISION",
        "SENSOR",
        "BANDS",
        "THRESHOLD",
        "THRESHOLD_METHOD",
        "MIN_AREA",
        "SIMPLIFY",
        "SCALING",
        "LANGUAGE",
        "MAX_PIXELS",
    }
    labels = [p.description() for p in alg.parameterDefinitions()]
    assert not [label for label in labels if "optional" in label.lower()]  # QGIS adds "[optional]" itself
    assert alg.parameterDefinition("ENGINE").options() == ["spectral", "spex"]
    precision = alg.parameterDefinition("PRECISION")
    assert precision.options() == ["auto", "fp32", "int8", "bf16", "fp16"]
    assert precision.defaultValue() == "auto"
    sensors = alg.parameterDefinition("SENSOR").options()
    assert len(sensors) > 1 and alg.parameterDefinition("SENSOR").defaultValue() == 0  # index 0: detect
    # human names in the dialog, the id in brackets; scripts may pass the index or the id
    label = sensors[sensor_ids().index("sentinel2_l2a")]
    assert "Sentinel-2" in label and label.endswith("(sentinel2_l2a)")
    assert {o.name() for o in alg.outputDefinitions()} == {
        "OUTPUT",
        "CLASS",
        "FEATURES",
        "AREA_M2",
        "EXPLANATION",
    }
    copy = alg.createInstance()
    assert type(copy) is SpexExtractAlgorithm and copy is not alg
    assert provider.supportedOutputVectorLayerExtensions()[0] == "gpkg"


# ----------------------------------------------------------------------------------------- real runs


def test_synthetic_lake_is_extracted(provider, rgbn, tmp_path):
    out = str(tmp_path / "lake.gpkg")
    result = _run({"INPUT": rgbn, "PROMPT": "extract the water bodies", "BANDS": RGBN, "OUTPUT": out})
    assert result["OUTPUT"] == out and result["CLASS"] == "water"
    layer = _layer(out)
    assert layer.featureCount() == result["FEATURES"] == 1
    lake = (WATER_ROWS[1] - WATER_ROWS[0]) * (WATER_COLS[1] - WATER_COLS[0]) * PIXEL**2
    assert result["AREA_M2"] == pytest.approx(lake, rel=0.05)
    assert _total_area(layer) == pytest.approx(result["AREA_M2"], rel=1e-3)
    feature = next(layer.getFeatures())
    # the run-level text is one line (Processing prints outputs as a dict: no literal "\n"); each feature's
    # own explain speaks about that polygon
    assert "\n" not in result["EXPLANATION"] and len(result["EXPLANATION"]) > 20
    assert feature["explain"].startswith("Water region 1 of 1:")
    bbox = layer.extent()
    assert bbox.xMinimum() == pytest.approx(_map_x(WATER_COLS[0]), abs=2 * PIXEL)
    assert bbox.yMaximum() == pytest.approx(_map_y(WATER_ROWS[0]), abs=2 * PIXEL)


def test_extent_limits_the_result(provider, rgbn, tmp_path):
    half = QgsRectangle(
        _map_x(25), _map_y(60), _map_x(60), _map_y(0)
    )  # columns 25..60: 15 of 30 lake columns
    extent = f"{half.xMinimum()},{half.xMaximum()},{half.yMinimum()},{half.yMaximum()} [EPSG:32633]"
    out = str(tmp_path / "half.gpkg")
    result = _run({"INPUT": rgbn, "PROMPT": "extract water", "BANDS": RGBN, "EXTENT": extent, "OUTPUT": out})
    assert result["AREA_M2"] == pytest.approx(20 * 15 * PIXEL**2, rel=0.1)
    assert _layer(out).extent().xMinimum() >= half.xMinimum() - 1e-6


def test_aoi_selected_features_only(provider, rgbn, tmp_path):
    aoi = QgsVectorLayer("Polygon?crs=EPSG:32633", "aoi", "memory")
    left = QgsGeometry.fromRect(QgsRectangle(_map_x(0), _map_y(60), _map_x(20), _map_y(0)))  # 10 lake columns
    right = QgsGeometry.fromRect(QgsRectangle(_map_x(35), _map_y(60), _map_x(60), _map_y(0)))  # 5 columns
    features = []
    for geometry in (left, right):
        feature = QgsFeature()
        feature.setGeometry(geometry)
        features.append(feature)
    aoi.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(aoi)
    try:
        aoi.selectByIds([next(aoi.getFeatures()).id()])  # the left rectangle only
        out = str(tmp_path / "aoi.gpkg")
        source = QgsProcessingFeatureSourceDefinition(aoi.id(), selectedFeaturesOnly=True)
        result = _run({"INPUT": rgbn, "PROMPT": "extract water", "BANDS": RGBN, "AOI": source, "OUTPUT": out})
        assert result["AREA_M2"] == pytest.approx(20 * 10 * PIXEL**2, rel=0.1)
        assert _layer(out).extent().xMaximum() <= _map_x(20) + 1e-6

        aoi.removeSelection()
        with pytest.raises(QgsProcessingException, match="empty selection"):
            _run(
                {
                    "INPUT": rgbn,
                    "PROMPT": "extract water",
                    "BANDS": RGBN,
                    "AOI": source,
                    "OUTPUT": str(tmp_path / "none.gpkg"),
                }
            )
    finally:
        QgsProject.instance().removeMapLayer(aoi.id())


def test_real_sentinel2_english_and_chinese_prompts(provider, s2_sample, tmp_path):
    # The real S2 subset is farmland without open water: vegetation is the class it really contains.
    results = []
    for prompt, name in (("extract the vegetation", "en.gpkg"), ("提取植被", "zh.gpkg")):
        out = str(tmp_path / name)
        result = _run({"INPUT": s2_sample, "PROMPT": prompt, "OUTPUT": out})
        layer = _layer(out)
        assert result["CLASS"] == "vegetation"
        assert layer.featureCount() == result["FEATURES"]
        assert _total_area(layer) == pytest.approx(result["AREA_M2"], rel=1e-3, abs=1.0)
        assert next(layer.getFeatures())["explain"].startswith(("Vegetation region 1 of ", "植被区域 1/"))
        results.append(result)
    assert results[0]["FEATURES"] == results[1]["FEATURES"] and results[0]["FEATURES"] > 0
    assert results[0]["AREA_M2"] == pytest.approx(results[1]["AREA_M2"]) and results[0]["AREA_M2"] > 1e4
    assert results[0]["EXPLANATION"] != results[1]["EXPLANATION"]  # follows the prompt language
    water_out = str(tmp_path / "w.gpkg")
    water = _run({"INPUT": s2_sample, "PROMPT": "extract the water bodies", "OUTPUT": water_out})
    assert water["CLASS"] == "water" and water["AREA_M2"] < results[0]["AREA_M2"]


def test_output_formats(provider, rgbn, tmp_path):
    for name in ("lake.shp", "lake.geojson"):
        out = str(tmp_path / name)
        result = _run({"INPUT": rgbn, "PROMPT": "water", "BANDS": RGBN, "OUTPUT": out})
        assert os.path.isfile(out) and _layer(out).featureCount() == result["FEATURES"] == 1


# ---------------------------------------------------------------------------------------- bad input


def test_bad_inputs_are_one_line_processing_errors(provider, rgbn, tmp_path):
    out = str(tmp_path / "bad.gpkg")
    base = {"INPUT": rgbn, "BANDS": RGBN, "OUTPUT": out}
    _one_line_error({**base, "PROMPT": "   "}, "prompt")
    _one_line_error({**base, "PROMPT": "extract the unicorns"}, "water")  # lists the supported classes
    _one_line_error({**base, "PROMPT": "water", "BANDS": "red=banana"}, "red")
    far = "0,10,0,10 [EPSG:32633]"
    _one_line_error({**base, "PROMPT": "water", "EXTENT": far})
    assert not os.path.exists(out)


def test_missing_band_role_names_the_fix(provider, tmp_path):
    path = str(tmp_path / "gray.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 16, 16, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0, ORIGIN[1], 0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).Fill(50)
    ds = None
    _one_line_error(
        {"INPUT": path, "PROMPT": "extract the water bodies", "OUTPUT": str(tmp_path / "g.gpkg")}, "band"
    )


def test_spex_engine_without_model_is_a_one_line_error(provider, rgbn, tmp_path):
    _one_line_error(
        {
            "INPUT": rgbn,
            "PROMPT": "water",
            "BANDS": RGBN,
            "ENGINE": "spex",
            "MODEL_DIR": str(tmp_path / "no_model"),
            "OUTPUT": str(tmp_path / "m.gpkg"),
        }
    )


def test_request_mapping(provider, rgbn, tmp_path, qgis_processing):
    from qgis.core import QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
    context = QgsProcessingContext()
    params = {
        "INPUT": rgbn,
        "PROMPT": " 提取水体 ",
        "ENGINE": "spex",
        "DEVICE": "cpu",
        "SENSOR": "auto",
        "BANDS": RGBN,
        "THRESHOLD": 0.25,
        "MODEL_DIR": str(tmp_path),
        "OUTPUT": str(tmp_path / "o.gpkg"),
    }
    request = alg.build_request(params, context)
    assert request.prompt == "提取水体" and request.engine == "spex" and request.device == "cpu"
    assert request.sensor is None and request.threshold == 0.25 and request.model_dir == str(tmp_path)
    assert request.bands == {"blue": 1, "green": 2, "red": 3, "nir": 4}
    assert request.aoi is None and request.output == str(tmp_path / "o.gpkg") and request.overwrite
    no_threshold = alg.build_request({**params, "THRESHOLD": None, "ENGINE": "spectral"}, context)
    assert no_threshold.threshold is None and no_threshold.engine == "spectral"


def test_precision_mapping(provider, rgbn, tmp_path, qgis_processing):
    from qgis.core import QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
    context = QgsProcessingContext()
    params = {
        "INPUT": rgbn,
        "PROMPT": "water",
        "ENGINE": "spex",
        "DEVICE": "cpu",
        "MODEL_DIR": str(tmp_path),
        "OUTPUT": str(tmp_path / "o.gpkg"),
    }
    assert alg.build_request(params, context).precision == "auto"  # the default
    assert alg.build_request({**params, "PRECISION": "int8"}, context).precision == "int8"
    cuda_bf16 = alg.build_request({**params, "DEVICE": "cuda", "PRECISION": "bf16"}, context)
    assert cuda_bf16.device == "cuda" and cuda_bf16.precision == "bf16"
    spectral = alg.build_request({**params, "ENGINE": "spectral", "PRECISION": "int8"}, context)
    assert spectral.precision == "auto"


def test_spectral_run_ignores_precision(provider, rgbn, tmp_path):
    out = str(tmp_path / "spectral.gpkg")
    params = {"INPUT": rgbn, "PROMPT": "water", "BANDS": RGBN, "DEVICE": "cuda", "PRECISION": "int8"}
    result = _run({**params, "OUTPUT": out})
    assert result["CLASS"] == "water" and _layer(out).featureCount() == 1


def test_spex_precision_device_mismatch_is_a_one_line_error(provider, rgbn, tmp_path):
    out = str(tmp_path / "spex.gpkg")
    base = {"INPUT": rgbn, "PROMPT": "water", "BANDS": RGBN, "ENGINE": "spex", "MODEL_DIR": str(tmp_path)}
    message = _one_line_error({**base, "DEVICE": "cuda", "PRECISION": "int8", "OUTPUT": out}, "int8", "cpu")
    assert "CPU only" in message
    _one_line_error({**base, "DEVICE": "cpu", "PRECISION": "fp16", "OUTPUT": out}, "fp16", "GPU")
    with pytest.raises(QgsProcessingException, match="PRECISION"):  # not an option: QGIS refuses it
        _run({**base, "DEVICE": "cpu", "PRECISION": "int4", "OUTPUT": out})
    assert not os.path.exists(out)


def test_spex_runtime_device_error_passes_through(provider, rgbn, tmp_path):
    """What the runtime refuses (here: a CUDA device on a machine without one, an environment error) arrives
    as its own line."""
    pytest.importorskip("torch")
    from model_runtime.errors import SpexEnvironmentError
    from model_runtime.spex.loading.device import resolve_precision

    try:
        resolve_precision("cuda", "fp32")
    except SpexEnvironmentError as error:
        expected = " ".join(str(error).split())
    else:
        pytest.skip("a CUDA GPU is visible: the runtime accepts cuda + fp32 here")
    out = str(tmp_path / "spex.gpkg")
    params = {
        "INPUT": rgbn,
        "PROMPT": "water",
        "BANDS": RGBN,
        "ENGINE": "spex",
        "MODEL_DIR": str(tmp_path),
        "DEVICE": "cuda",
        "PRECISION": "fp32",
        "OUTPUT": out,
    }
    message = _one_line_error(params)
    # the runtime's words, the CLI flag named as the Processing parameter
    assert message == expected.replace("--device", "“Device (engine spex)”") and "cuda" in message.lower()
    assert not os.path.exists(out)


def test_every_cli_option_reaches_the_request(provider, rgbn, tmp_path, qgis_processing):
    from qgis.core import QgsProcessingContext

    from spex_qgis import settings

    alg = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
    context = QgsProcessingContext()
    params = {
        "INPUT": rgbn,
        "PROMPT": "extract the water bodies",
        "BANDS": RGBN,
        "THRESHOLD_METHOD": "otsu",
        "MIN_AREA": 250.0,
        "SIMPLIFY": 3.0,
        "SCALING": "0.0001,0",
        "LANGUAGE": "zh",
        "OUTPUT": str(tmp_path / "o.gpkg"),
    }
    request = alg.build_request(params, context)
    assert (request.threshold_method, request.min_area_m2, request.simplify) == ("otsu", 250.0, 3.0)
    assert request.scaling == "0.0001,0" and request.language == "zh"
    defaults = alg.build_request(
        {k: v for k, v in params.items() if k in ("INPUT", "PROMPT", "OUTPUT")}, context
    )
    assert defaults.threshold_method == "fixed" and defaults.min_area_m2 == 0 and defaults.simplify == 0
    assert defaults.scaling is None and defaults.language is None
    # Processing depends on its parameters only: the panel's remembered model folder is not used
    settings.set_model_dir(str(tmp_path))
    try:
        with pytest.raises(QgsProcessingException, match="MODEL_DIR"):
            alg.build_request({**params, "ENGINE": "spex", "DEVICE": "cpu"}, context)
    finally:
        settings.set_model_dir("")


def test_loaded_result_is_styled_in_the_results_group(provider, rgbn, tmp_path):
    import processing

    from spex_qgis import layers

    QgsProject.instance().clear()
    out = str(tmp_path / "loaded.gpkg")
    processing.runAndLoadResults(
        "spex:extract", {"INPUT": rgbn, "PROMPT": "extract the water bodies", "BANDS": RGBN, "OUTPUT": out}
    )
    group = QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP)
    assert group is not None and group.isExpanded()
    (node,) = group.findLayers()
    layer = node.layer()
    assert layer.source().startswith(out) and not layer.labelsEnabled()
    assert layer.customProperty("spex/target_class") == "water" and "width:" in layer.mapTipTemplate()
    assert [n for n in QgsProject.instance().layerTreeRoot().findLayers() if n.layerId() == layer.id()] == [
        node
    ]
    QgsProject.instance().clear()


def test_temporary_output_and_cancel(provider, rgbn, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback

    result = _run({"INPUT": rgbn, "PROMPT": "water", "BANDS": RGBN, "OUTPUT": "TEMPORARY_OUTPUT"})
    assert os.path.isfile(result["OUTPUT"]) and _layer(result["OUTPUT"]).featureCount() == 1

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    out = str(tmp_path / "cancelled.gpkg")
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run(
            "spex:extract",
            {"INPUT": rgbn, "PROMPT": "water", "BANDS": RGBN, "OUTPUT": out},
            feedback=feedback,
        )
    assert not os.path.exists(out)


def test_lora_base_folder_from_parameter_only(provider, rgbn, tmp_path, qgis_processing):
    from qgis.core import QgsProcessingContext

    from spex_qgis import settings

    alg = QgsApplication.processingRegistry().createAlgorithmById("spex:extract")
    context = QgsProcessingContext()
    params = {"INPUT": rgbn, "PROMPT": "water", "ENGINE": "spex", "DEVICE": "cpu", "BANDS": RGBN}
    params.update(MODEL_DIR=str(tmp_path), OUTPUT=str(tmp_path / "o.gpkg"))
    try:
        settings.set_model_base_dir(str(tmp_path / "from_settings"))
        # a Processing run depends only on its parameters, never on what the panel remembered
        assert alg.build_request(params, context).model_base_dir is None
        given = alg.build_request({**params, "MODEL_BASE_DIR": str(tmp_path)}, context)
        assert given.model_base_dir == str(tmp_path)
        assert alg.build_request({**params, "ENGINE": "spectral"}, context).model_base_dir is None
    finally:
        settings.set_model_base_dir("")
