"""RasterSource on real GeoTIFFs: windowed reads, validity mask, pixel sizes, errors."""

import numpy as np
import pytest
from osgeo import gdal

from model_runtime.errors import SpexInputError
from model_runtime.io.raster import RasterSource, Window
from tests.conftest import random_bands

ROLES = ["blue", "green", "red", "nir"]


def test_windowed_reads_equal_full_read(make_raster):
    path = make_raster("w.tif", random_bands(ROLES, shape=(150, 170)), block=64)
    with RasterSource.open(path, scaling="s2") as src:
        full, full_valid = src.read(ROLES, src.full_window)
        windows = list(src.iter_windows(Window(10, 5, 150, 140), size=100))
        assert all(w.xoff % 64 == 0 or w.xoff == 10 for w in windows)  # edges on block boundaries
        assert sum(w.xsize * w.ysize for w in windows) == 150 * 140
        for w in windows:
            part, valid = src.read(["nir", "red"], w)
            sl = (slice(w.yoff, w.yoff + w.ysize), slice(w.xoff, w.xoff + w.xsize))
            np.testing.assert_array_equal(part["nir"], full["nir"][sl])
            np.testing.assert_array_equal(valid, full_valid[sl])
        assert full["red"].dtype == np.float32
        ds = gdal.Open(path)  # keep the dataset alive while its band is used
        raw = ds.GetRasterBand(3).ReadAsArray()
        np.testing.assert_allclose(full["red"], raw * 1e-4, rtol=1e-6)


def test_validity_mask_combines_nodata_nan_mask_and_zero_fill(make_raster):
    rng = np.random.default_rng(3)
    data = {r: rng.uniform(0.01, 0.5, (20, 20)).astype(np.float32) for r in ROLES}
    data["red"][0, 0] = -9999  # no-data value
    data["nir"][1, 1] = np.nan  # NaN
    for arr in data.values():
        arr[2, 2] = 0.0  # all-zero fill
    data["blue"][3, 3] = 0.0  # a single zero band is still valid
    mask = np.ones((20, 20), bool)
    mask[4, :] = False  # per-dataset mask band
    path = make_raster("m.tif", data, nodata=-9999, mask=mask)
    with RasterSource.open(path) as src:
        assert src.scaling.name == "none"
        bands, valid = src.read(ROLES, src.full_window)
    assert not valid[0, 0] and not valid[1, 1] and not valid[2, 2] and not valid[4].any()
    assert valid[3, 3] and valid.sum() == 400 - 3 - 20
    assert np.isnan(bands["green"][~valid]).all() and np.isfinite(bands["green"][valid]).all()


def test_pixel_size_projected_geographic_and_feet(make_raster):
    bands = random_bands(ROLES, shape=(10, 10))
    utm = make_raster("utm.tif", bands, epsg=32633, geotransform=(500000, 10, 0, 5e6, 0, -10))
    geo = make_raster("geo.tif", bands, epsg=4326, geotransform=(10.0, 0.0001, 0, 60.0005, 0, -0.0001))
    feet = make_raster("ft.tif", bands, epsg=2229, geotransform=(6.4e6, 10, 0, 1.8e6, 0, -10))  # US ft
    with RasterSource.open(utm) as src:
        assert src.pixel_size_m == (10.0, 10.0) and src.pixel_area_m2 == 100.0
    with RasterSource.open(geo) as src:
        x, y = src.pixel_size_m
        assert x == pytest.approx(11.132 * np.cos(np.radians(60)), rel=5e-3) and y == pytest.approx(
            11.06, rel=5e-3
        )
    with RasterSource.open(feet) as src:
        assert src.pixel_size_m[0] == pytest.approx(3.048, rel=1e-5)


def test_require_names_missing_roles_and_fix(make_raster):
    path = make_raster("r.tif", random_bands(["red", "nir"], shape=(4, 4)))
    with RasterSource.open(path) as src:
        src.require(["red"], "water")
        with pytest.raises(
            SpexInputError, match=r"water needs the green, swir1 band\(s\).*--bands green=N,swir1=N"
        ):
            src.require(["green", "nir", "swir1"], "water")


def test_describe_is_json_ready(make_raster):
    import json

    path = make_raster("d.tif", random_bands(ROLES, shape=(4, 4)), nodata=0)
    with RasterSource.open(path) as src:
        info = json.loads(json.dumps(src.describe()))
    assert info["bands"][3]["role"] == "nir" and info["bands"][0]["nodata"] == 0
    assert info["crs"]["epsg"] == 32633


def test_bad_inputs(tmp_path, make_raster):
    text = tmp_path / "notes.tif"
    text.write_text("hello")
    cases = [
        ("", "no raster given"),
        (str(tmp_path / "missing.tif"), "does not exist"),
        (str(tmp_path), "is a folder"),
        (str(text), "GDAL cannot open .*notes.tif as a raster"),
        (make_raster("one.tif", random_bands(["red"], shape=(4, 4))), "single band"),
        (
            make_raster("nogeo.tif", random_bands(ROLES, shape=(4, 4)), epsg=None, geotransform=None),
            "no georeferencing",
        ),
        (
            make_raster("rot.tif", random_bands(ROLES, shape=(4, 4)), geotransform=(0, 1, 0.5, 0, 0.5, -1)),
            "rotated geotransform",
        ),
    ]
    for path, message in cases:
        with pytest.raises(SpexInputError, match=message) as err:
            RasterSource.open(path)
        assert "\n" not in str(err.value) and ":" in str(err.value)


def test_gdal_exception_mode_untouched(make_raster, tmp_path):
    before = gdal.GetUseExceptions()
    with pytest.raises(SpexInputError):
        RasterSource.open(str(tmp_path / "missing.tif"))
    path = make_raster("ok.tif", random_bands(ROLES, shape=(4, 4)))
    RasterSource.open(path).close()
    assert gdal.GetUseExceptions() == before


def test_read_into_reused_buffer_equals_fresh_read(make_raster):
    data = random_bands(ROLES, shape=(90, 130))
    data["red"][5:9, 5:9] = 0.0
    for arr in data.values():
        arr[0, :] = 0.0  # an all-zero fill row
    path = make_raster("b.tif", data, block=32)
    with RasterSource.open(path, scaling="s2") as src:
        buf = np.full((4, 64, 140), 7.0, np.float32)  # larger than any window, dirty
        for w in src.iter_windows(size=64):
            fresh, fresh_valid = src.read(ROLES, w)
            into, valid = src.read(ROLES, w, out=buf)
            np.testing.assert_array_equal(valid, fresh_valid)
            for role in ROLES:
                np.testing.assert_array_equal(into[role], fresh[role])
                assert np.shares_memory(into[role], buf) and into[role].shape == w.shape
        _, valid = src.read(ROLES, src.full_window, out=np.empty((2, 1, 1), np.float32))  # too small: ignored
        assert not valid[0].any() and valid[1:].all()


def test_iter_strips_cover_region_in_block_rows(make_raster):
    path = make_raster("s.tif", random_bands(ROLES, shape=(300, 200)), block=32)
    with RasterSource.open(path, scaling="s2") as src:
        region = Window(7, 11, 180, 280)
        strips = list(src.iter_strips(region, max_pixels=180 * 70))
        assert all(s.xoff == 7 and s.xsize == 180 for s in strips)  # full width of the region
        assert [s.yoff for s in strips] == sorted(s.yoff for s in strips)
        assert all((s.yoff + s.ysize) % 32 == 0 for s in strips[:-1])  # edges on block rows
        assert max(s.ysize for s in strips) == 64 and sum(s.ysize for s in strips) == 280
        # a region too wide for one block row per strip is cut into block-aligned columns too
        narrow = list(src.iter_strips(region, max_pixels=32 * 40))
        assert sum(s.xsize * s.ysize for s in narrow) == 180 * 280 and min(s.xsize for s in narrow) < 180
