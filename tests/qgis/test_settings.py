"""The plugin's QgsSettings wrapper: typed values, defaults for missing/garbage keys, bounded history."""

import pytest
from qgis.core import QgsSettings

from spex_qgis import settings


@pytest.fixture(autouse=True)
def clean(qgis_app):
    settings.clear_all()
    yield
    settings.clear_all()


def test_defaults():
    assert settings.model_dir() == "" and settings.device() == "auto" and settings.engine() == "spectral"
    assert settings.precision() == "auto"
    assert (
        settings.prompt_history() == []
        and settings.band_mappings() == {}
        and settings.last_output_dir() == ""
    )


def test_round_trips_under_the_plugin_prefix(tmp_path):
    settings.set_model_dir(str(tmp_path))
    settings.set_device("cuda:1")
    settings.set_engine("spex")
    settings.set_last_output_dir(str(tmp_path / "out"))
    assert settings.model_dir() == str(tmp_path) and settings.device() == "cuda:1"
    assert settings.engine() == "spex" and settings.last_output_dir() == str(tmp_path / "out")
    assert QgsSettings().value("spex_qgis/device") == "cuda:1"
    with pytest.raises(ValueError):
        settings.set_device("tpu")
    with pytest.raises(ValueError):
        settings.set_engine("magic")


def test_precision_round_trips_and_refuses_unknown_names():
    for value in settings.PRECISIONS:
        settings.set_precision(value)
        assert settings.precision() == value
    settings.set_precision(" INT8 ")
    assert settings.precision() == "int8" and QgsSettings().value("spex_qgis/precision") == "int8"
    with pytest.raises(ValueError):
        settings.set_precision("int4")
    assert settings.precision() == "int8"  # a refused value leaves the stored one alone


def test_prompt_history_is_most_recent_first_unique_and_bounded():
    for i in range(25):
        settings.add_prompt(f"prompt {i}")
    settings.add_prompt("  prompt 10 ")
    settings.add_prompt("提取水体")
    settings.add_prompt("")
    history = settings.prompt_history()
    assert len(history) == settings.PROMPT_HISTORY_MAX
    assert history[:3] == ["提取水体", "prompt 10", "prompt 24"] and history.count("prompt 10") == 1


def test_band_mappings_per_file(tmp_path):
    a, b = str(tmp_path / "a.tif"), str(tmp_path / "sub" / ".." / "b.tif")
    settings.set_band_mapping(a, {"red": 4, "nir": 8, "swir1": 0})  # 0: the user set "not set"
    settings.set_band_mapping(b, {"nir": 4})
    assert settings.band_mapping(a) == {"red": 4, "nir": 8, "swir1": 0}
    assert settings.band_mapping(str(tmp_path / "b.tif")) == {"nir": 4}  # the same file, another spelling
    assert settings.band_mapping(str(tmp_path / "c.tif")) == {}  # another file of the same sensor: nothing
    assert settings.band_mapping(a + "|option:x") == settings.band_mapping(a)
    settings.set_band_mapping(a, None)
    assert settings.band_mapping(a) == {} and settings.band_mapping(b) == {"nir": 4}


def test_garbage_values_fall_back_to_defaults():
    s = QgsSettings()
    s.setValue("spex_qgis/device", "quantum")
    s.setValue("spex_qgis/engine", "nope")
    s.setValue("spex_qgis/precision", "fp64")
    s.setValue("spex_qgis/prompt_history", "{not json")
    s.setValue("spex_qgis/band_mappings_by_file", '{"/a.tif": {"red": "x", "nir": -1}, "/b.tif": [1]}')
    assert settings.device() == "auto" and settings.engine() == "spectral" and settings.precision() == "auto"
    assert settings.prompt_history() == [] and settings.band_mappings() == {}
