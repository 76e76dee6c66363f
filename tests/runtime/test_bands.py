"""Band role detection on real GeoTIFFs: presets, names, wavelengths, colour, user mapping, errors."""

import numpy as np
import pytest
from osgeo import gdal

from model_runtime.errors import SpexInputError
from model_runtime.io.bands import SENSOR_PRESETS, detect_band_roles, parse_band_mapping, role_from_name
from tests.conftest import random_bands


def _open(path):
    return gdal.Open(path)


@pytest.mark.parametrize("name", sorted(SENSOR_PRESETS))
def test_every_preset_by_position(make_raster, name):
    preset = SENSOR_PRESETS[name]
    path = make_raster(
        f"{name}.tif",
        random_bands([f"b{i}" for i in range(preset.band_count)], shape=(8, 8)),
        descriptions=[""] * preset.band_count,
    )
    det = detect_band_roles(_open(path), sensor=name)
    expected = {r: i for i, r in enumerate(preset.roles, start=1) if r}
    assert det.roles == expected
    assert det.sensor == name
    assert all("chosen by the user" in s for s in det.source_of_each_role.values())


@pytest.mark.parametrize("name", sorted(SENSOR_PRESETS))
def test_every_preset_by_band_names(make_raster, name):
    """Files whose bands carry the product's band names ("B8A", "SR_B5", "red") need no preset."""
    preset = SENSOR_PRESETS[name]
    meta = {
        "sentinel2": {"SPACECRAFT_NAME": "Sentinel-2A"},
        "landsat89": {"SPACECRAFT_ID": "LANDSAT_8"},
        "landsat57": {"SPACECRAFT_ID": "LANDSAT_7"},
    }.get(preset.family)
    path = make_raster(f"{name}.tif", random_bands(list(preset.band_names), shape=(8, 8)), metadata=meta)
    det = detect_band_roles(_open(path))
    assert det.roles == {r: i for i, r in enumerate(preset.roles, start=1) if r}


@pytest.mark.parametrize(
    "count, dtype, expected",
    [
        (13, "uint16", "sentinel2_l1c"),
        (12, "uint16", "sentinel2_l2a"),
        (11, "uint16", "landsat89_l1"),
        (10, "uint16", "sentinel2_10band"),
        (7, "uint16", "landsat89_l2"),
        (4, "uint8", "aerial_rgbn"),
        (4, "uint16", "sentinel2_4band"),
        (3, "uint8", "rgb"),
        (6, "uint16", "generic_bgrn_swir"),
    ],
)
def test_preset_guessed_from_band_count(make_raster, count, dtype, expected):
    path = make_raster(
        "x.tif",
        random_bands([f"b{i}" for i in range(count)], shape=(4, 4), high=200, dtype=dtype),
        descriptions=[""] * count,
    )
    det = detect_band_roles(_open(path))
    assert det.sensor == expected
    assert "band count" in det.sensor_reason
    assert det.roles["red"] == SENSOR_PRESETS[expected].roles.index("red") + 1


def test_no_roles_for_unknown_layout(make_raster):
    path = make_raster("x.tif", random_bands(list("abcde"), shape=(4, 4)), descriptions=[""] * 5)
    det = detect_band_roles(_open(path))
    assert det.roles == {} and det.sensor is None
    assert any("--bands" in n for n in det.notes)


def test_wavelength_metadata(make_raster):
    # um in the IMAGERY domain, nm in the default domain; two NIR bands -> the longer one is B8A (nir08)
    meta = {
        1: {"IMAGERY:CENTRAL_WAVELENGTH_UM": "0.665"},
        2: {"WAVELENGTH": "842", "WAVELENGTH_UNIT": "nm"},
        3: {"WAVELENGTH": "865", "WAVELENGTH_UNIT": "nanometers"},
        4: {"IMAGERY:CENTRAL_WAVELENGTH_UM": "1.61"},
        5: {"IMAGERY:CENTRAL_WAVELENGTH_UM": "0.59", "IMAGERY:FWHM_UM": "0.17"},
    }
    path = make_raster(
        "w.tif", random_bands(list("abcde"), shape=(4, 4)), band_metadata=meta, descriptions=[""] * 5
    )
    det = detect_band_roles(_open(path))
    assert det.roles == {"red": 1, "nir": 2, "nir08": 3, "swir1": 4, "pan": 5}
    assert det.source_of_each_role["red"].startswith("wavelength 0.665")


def test_colour_interpretation(make_raster):
    path = make_raster(
        "c.tif",
        random_bands(list("abc"), shape=(4, 4), high=255, dtype="uint8"),
        descriptions=[""] * 3,
        color_interp=[gdal.GCI_BlueBand, gdal.GCI_GreenBand, gdal.GCI_RedBand],
    )
    det = detect_band_roles(_open(path))
    assert det.roles == {"blue": 1, "green": 2, "red": 3}


def test_names_beat_preset_and_user_beats_names(make_raster):
    # band names say BGRN although the guessed aerial preset would say RGBN
    path = make_raster(
        "n.tif",
        random_bands(["Blue", "Green", "Red", "Near Infrared"], shape=(4, 4), high=255, dtype="uint8"),
    )
    det = detect_band_roles(_open(path))
    assert det.roles == {"blue": 1, "green": 2, "red": 3, "nir": 4}
    det = detect_band_roles(_open(path), user_bands="nir=1,blue=4")
    assert det.roles["nir"] == 1 and det.roles["blue"] == 4
    assert det.source_of_each_role["nir"] == "user mapping (--bands)"
    assert det.roles["red"] == 3  # untouched roles keep their detection


def test_landsat_codes_depend_on_the_sensor(make_raster):
    bands = random_bands(["B3", "B4", "B5"], shape=(4, 4))
    l8 = detect_band_roles(_open(make_raster("LC08_L1TP_001002_20200101_20200102_02_T1.tif", bands)))
    l7 = detect_band_roles(_open(make_raster("LE07_L1TP_001002_20010101_20200102_02_T1.tif", bands)))
    assert l8.roles == {"green": 1, "red": 2, "nir": 3}
    assert l7.roles == {"red": 1, "nir": 2, "swir1": 3}


@pytest.mark.parametrize(
    "text, role",
    [
        ("B08 nir", "nir"),
        ("B8A", "nir08"),
        ("SR_B5", "nir"),
        ("B05", "rededge1"),
        ("Red Edge", None),
        ("SWIR 1", "swir1"),
        ("swir22", "swir2"),
        ("Coastal aerosol", "coastal"),
        ("B5", None),
        ("red", "red"),
    ],
)
def test_role_from_name(text, role):
    assert role_from_name(text) == role


def test_parse_band_mapping():
    assert parse_band_mapping("red=3, NIR=4") == {"red": 3, "nir": 4}
    assert parse_band_mapping({"swir1": 5}) == {"swir1": 5}
    for bad, word in [
        ("red3", "no '='"),
        ("purple=1", "unknown band role"),
        ("red=x", "not an integer"),
        ("red=0", "start at 1"),
        ("red=1,red=2", "mapped twice"),
    ]:
        with pytest.raises(SpexInputError, match=word) as err:
            parse_band_mapping(bad)
        assert "\n" not in str(err.value)


def test_user_mapping_errors(make_raster):
    path = make_raster("u.tif", random_bands(list("abc"), shape=(4, 4)), descriptions=[""] * 3)
    with pytest.raises(SpexInputError, match=r"--bands nir=7 is out of range: u.tif has 3 band\(s\)"):
        detect_band_roles(_open(path), user_bands={"nir": 7})
    with pytest.raises(SpexInputError, match="give each role its own band"):
        detect_band_roles(_open(path), user_bands="red=1,nir=1")
    with pytest.raises(SpexInputError, match="unknown sensor preset 'sentinel3'"):
        detect_band_roles(_open(path), sensor="sentinel3")
    with pytest.raises(SpexInputError, match="sensor preset sentinel2_l2a has 12 bands but u.tif has 3"):
        detect_band_roles(_open(path), sensor="sentinel2_l2a")


def test_sensor_alias(make_raster):
    path = make_raster(
        "a.tif", random_bands([f"b{i}" for i in range(11)], shape=(4, 4)), descriptions=[""] * 11
    )
    assert detect_band_roles(_open(path), sensor="Landsat8").sensor == "landsat89_l1"
    assert np.all(
        np.isin(list(detect_band_roles(_open(path), sensor="landsat9").roles.values()), range(1, 12))
    )


def test_sr_band_names_say_level_2_whatever_the_file_name(make_raster):
    """A file named after Landsat 8 with SR_B<n> bands is Collection 2 Level-2 (not Level-1 by default)."""
    names = ["SR_B2 blue", "SR_B3 green", "SR_B4 red", "SR_B5 nir", "SR_B6 swir1", "SR_B7 swir2"]
    path = make_raster("landsat8_stack.tif", random_bands(names, shape=(8, 8), low=8000, high=20000))
    detection = detect_band_roles(gdal.Open(path))
    assert detection.sensor == "landsat89_l2", detection
    assert detection.roles["red"] == 3 and detection.roles["swir2"] == 6
