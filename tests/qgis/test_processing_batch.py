"""``spex:batch`` through QGIS Processing: a folder of rasters in, one merged layer with ``source`` out."""

import os

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsVectorLayer

from model_runtime import ExtractRequest, extract
from tests.runtime.batch_scenes import make_water_scene

PROMPT = "extract the water bodies"


@pytest.fixture(scope="module")
def provider(provider):
    """The plugin's provider (tests/qgis/conftest.py); spex:batch needs dask.distributed."""
    pytest.importorskip("distributed")
    return provider


def test_batch_algorithm_is_registered(provider):
    algorithm = QgsApplication.processingRegistry().algorithmById("spex:batch")
    assert algorithm is not None
    names = {p.name() for p in algorithm.parameterDefinitions()}
    assert {"INPUT_FOLDER", "PROMPT", "OUTPUT_FOLDER", "OUTPUT"} <= names


def test_batch_runs_a_folder_into_one_merged_layer(provider, tmp_path):
    import processing

    folder = tmp_path / "tiles"
    folder.mkdir()
    rasters = [make_water_scene(folder / f"t{i}.tif", width=160, height=140, seed=i) for i in range(2)]
    (folder / "readme.txt").write_text("not a raster, not matched by the pattern")
    merged = str(tmp_path / "merged.gpkg")
    result = processing.run(
        "spex:batch",
        {
            "INPUT_FOLDER": str(folder),
            "PROMPT": PROMPT,
            "WORKERS": 2,
            "OUTPUT_FOLDER": str(tmp_path / "out"),
            "OUTPUT": merged,
        },
    )
    assert result["DONE"] == 2 and result["FAILED"] == 0
    layer = QgsVectorLayer(result["OUTPUT"], "merged", "ogr")
    assert layer.isValid()
    count = layer.featureCount()
    sources = {f["source"] for f in layer.getFeatures()}
    del layer  # a layer that outlives QgsApplication.exitQgis() crashes the interpreter at exit
    expected = sum(
        extract(ExtractRequest(r, PROMPT, str(tmp_path / f"s{i}.gpkg"))).features
        for i, r in enumerate(rasters)
    )
    assert count == expected > 0
    assert sources == {os.path.abspath(r) for r in rasters}
    assert os.path.exists(result["MANIFEST"])


def test_batch_bad_folder_is_a_processing_error(provider, tmp_path):
    import processing

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(QgsProcessingException):
        processing.run(
            "spex:batch",
            {
                "INPUT_FOLDER": str(empty),
                "PROMPT": PROMPT,
                "OUTPUT_FOLDER": str(tmp_path / "o"),
                "OUTPUT": str(tmp_path / "m.gpkg"),
            },
        )
