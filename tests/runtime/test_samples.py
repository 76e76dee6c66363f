"""The real sample scenes: detected sensor, band roles, scaling, no-data and georeferencing."""

import numpy as np
import pytest

from model_runtime.io.raster import RasterSource


def test_sentinel2_sample(s2_sample):
    with RasterSource.open(s2_sample) as src:
        assert (src.width, src.height) == (668, 668)
        assert src.sensor == "sentinel2_l2a"
        assert src.roles == {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5, "swir2": 6}
        assert all(s.startswith("band description") for s in src.detection.source_of_each_role.values())
        assert src.scaling.name == "s2" and src.scaling.gain == pytest.approx(1e-4)
        assert src.scaling.offset == 0.0  # acquired 2021-03-19: before baseline 04.00
        assert src.pixel_size_m == pytest.approx((30.0, 30.0))
        assert "Equal Earth" in src.describe()["crs"]["name"]
        bands, valid = src.read(["red", "nir"], src.full_window)
        # the subset is mostly no-data (32768): 2106 valid pixels of a vegetated patch
        assert valid.sum() == 2106
        ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
        assert 0.4 < float(np.nanmedian(ndvi[valid])) < 0.95
        assert np.isnan(bands["red"][~valid]).all()


def test_landsat8_sample(l8_sample):
    with RasterSource.open(l8_sample) as src:
        assert src.sensor == "landsat89_l1"
        assert src.band_count == 11
        assert src.roles["nir"] == 5 and src.roles["swir1"] == 6 and src.roles["pan"] == 8
        assert src.roles["thermal1"] == 10
        assert src.scaling.name == "gdal-scale-offset"
        gain, offset = src.scaling.factors(4)
        sin_e = np.sin(np.radians(58.99675180))  # SUN_ELEVATION of the MTL
        assert gain == pytest.approx(2e-5 / sin_e) and offset == pytest.approx(-0.1 / sin_e)
        bands, valid = src.read(["red", "nir"], src.full_window)
        assert valid.all()
        assert 0.0 < float(np.nanmin(bands["red"])) and float(np.nanmax(bands["nir"])) < 1.0


def test_aerial_sample(aerial_sample):
    with RasterSource.open(aerial_sample) as src:
        assert src.sensor == "aerial_rgbn"
        assert src.roles == {"blue": 3, "green": 2, "red": 1, "nir": 4}
        assert src.detection.source_of_each_role["red"].startswith("colour interpretation")
        assert src.detection.source_of_each_role["nir"].startswith("preset aerial_rgbn")
        assert src.scaling.name == "brightness8" and "brightness" in src.scaling.reason
        bands, valid = src.read(["nir"], src.full_window)
        assert float(np.nanmax(bands["nir"])) <= 1.0
