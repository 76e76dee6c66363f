"""Reflectance scaling: overrides, GDAL scale/offset, Sentinel-2 offset rules, Landsat, 8-bit, floats."""

import math

import numpy as np
import pytest
from osgeo import gdal

from model_runtime.errors import SpexInputError
from model_runtime.scaling import ReflectanceScaling, detect_scaling, parse_scaling
from tests.conftest import random_bands


@pytest.mark.parametrize(
    "text, gain, offset",
    [
        ("none", 1, 0),
        ("s2", 1e-4, 0),
        ("S2-offset", 1e-4, -0.1),
        ("landsat_c2_l2", 2.75e-5, -0.2),
        ("0.001,-0.5", 1e-3, -0.5),
        ("2.5e-5", 2.5e-5, 0),
    ],
)
def test_parse_scaling(text, gain, offset):
    s = parse_scaling(text)
    assert s.gain == pytest.approx(gain) and s.offset == pytest.approx(offset)


@pytest.mark.parametrize("bad", ["s3", "1,2,3", "0,1", "nan,0", "gain,offset"])
def test_parse_scaling_errors(bad):
    with pytest.raises(SpexInputError, match="not understood: use auto"):
        parse_scaling(bad)
    assert parse_scaling("auto") is None and parse_scaling(None) is None


def test_apply_per_band():
    s = ReflectanceScaling("x", 0.5, 1.0, band_factors={2: (2.0, 0.0)})
    assert s.apply(np.array([2], dtype=np.uint16)).dtype == np.float32
    assert s.apply(np.array([2]), band=1)[0] == 2.0 and s.apply(np.array([2]), band=2)[0] == 4.0


def _s2(make_raster, dn_low, metadata):
    bands = random_bands(["B02", "B03", "B04", "B08"], shape=(32, 32), low=dn_low, high=dn_low + 3000)
    path = make_raster("s2.tif", bands, metadata={"SPACECRAFT_NAME": "Sentinel-2A", **metadata})
    return detect_scaling(gdal.Open(path), "sentinel2_4band", roles={"blue": 1, "green": 2})


def test_sentinel2_offset_rules(make_raster):
    assert _s2(make_raster, 200, {"ACQUISITION_DATE": "2021-06-01"}).offset == 0.0
    new = _s2(make_raster, 1100, {"ACQUISITION_DATE": "2023-06-01"})
    assert new.name == "s2-offset" and new.offset == pytest.approx(-0.1)
    harmonised = _s2(make_raster, 200, {"ACQUISITION_DATE": "2023-06-01"})  # values say the offset is gone
    assert harmonised.offset == 0.0 and "harmonised" in harmonised.reason
    assert _s2(make_raster, 1100, {}).offset == pytest.approx(-0.1)  # no date: dark DNs >= 1000
    assert _s2(make_raster, 200, {}).offset == 0.0
    assert _s2(make_raster, 200, {"BOA_ADD_OFFSET": "-1000"}).offset == pytest.approx(-0.1)  # metadata wins
    assert _s2(make_raster, 1100, {"PROCESSING_BASELINE": "03.01"}).offset == 0.0


def test_gdal_scale_offset_wins(make_raster):
    path = make_raster(
        "g.tif",
        random_bands(["red", "nir"], shape=(8, 8)),
        metadata={"SPACECRAFT_NAME": "Sentinel-2B"},
        scale_offset={1: (0.001, 0.0), 2: (0.001, 0.0)},
    )
    s = detect_scaling(gdal.Open(path), "sentinel2_l2a")
    assert s.name == "gdal-scale-offset" and s.gain == 0.001 and not s.band_factors
    assert detect_scaling(gdal.Open(path), "sentinel2_l2a", override="none").gain == 1.0  # user wins


def test_landsat_rules(make_raster, tmp_path):
    bands = random_bands([f"B{i}" for i in range(1, 12)], shape=(8, 8), low=7000, high=20000)
    name = "LC08_L1TP_195025_20130707_20170503_01_T1"
    path = make_raster(f"{name}_stack.tif", bands)
    no_mtl = detect_scaling(gdal.Open(path), "landsat89_l1")
    assert no_mtl.name == "landsat-c2-l1" and no_mtl.gain == 2e-5
    (tmp_path / f"{name}_MTL.txt").write_text(
        "GROUP = X\n  SUN_ELEVATION = 30.0\n"
        + "".join(
            f"  REFLECTANCE_MULT_BAND_{n} = 2.0E-05\n  REFLECTANCE_ADD_BAND_{n} = -0.100000\n"
            for n in range(1, 10)
        )
    )
    with_mtl = detect_scaling(gdal.Open(path), "landsat89_l1")
    assert with_mtl.name == "landsat-l1-mtl"
    assert with_mtl.factors(4) == pytest.approx((2e-5 / math.sin(math.radians(30)), -0.1 / 0.5))
    assert with_mtl.factors(10) == (1.0, 0.0)  # thermal: no reflectance factors
    l2 = detect_scaling(gdal.Open(path), "landsat89_l2")
    assert (l2.gain, l2.offset) == (2.75e-5, -0.2)


def test_values_without_sensor(make_raster):
    byte = make_raster("b.tif", random_bands(list("rgb"), shape=(8, 8), high=255, dtype="uint8"))
    assert detect_scaling(gdal.Open(byte), None).name == "brightness8"
    rng = np.random.default_rng(1)
    floats = make_raster(
        "f.tif", {"a": rng.random((8, 8), dtype=np.float32), "b": rng.random((8, 8), dtype=np.float32)}
    )
    assert detect_scaling(gdal.Open(floats), None).name == "none"
    ints = make_raster("i.tif", random_bands(list("ab"), shape=(8, 8)))
    s = detect_scaling(gdal.Open(ints), None)
    assert s.gain == 1e-4 and "override with --scaling" in s.reason
