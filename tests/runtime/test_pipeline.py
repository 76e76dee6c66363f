"""extract() end to end on small synthetic Sentinel-2-like GeoTIFFs written with GDAL."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from model_runtime import AreaOfInterest, ExtractionCancelled, ExtractRequest, SpexInputError, extract

gdal.UseExceptions()

# blue, green, red, nir, swir1, swir2 reflectance
WATER = (0.06, 0.05, 0.03, 0.02, 0.01, 0.006)
VEGETATION = (0.03, 0.07, 0.04, 0.34, 0.18, 0.09)
ORIGIN = (600000.0, 5000000.0)
SQUARES = [(20, 30, 60, 70), (110, 40, 150, 90), (60, 130, 90, 160)]  # x0, y0, x1, y1 in pixels


def make_scene(path, size=200, water=True, nodata_rows=0, epsg=32632, geotransform=None):
    """6-band uint16 x10000 scene: vegetation with water rectangles (SQUARES), optional no-data rows."""
    truth = np.zeros((size, size), bool)
    if water:
        for x0, y0, x1, y1 in SQUARES:
            truth[y0:y1, x0:x1] = True
    rng = np.random.default_rng(1)
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), size, size, 6, gdal.GDT_UInt16, ["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"]
    )
    ds.SetGeoTransform(geotransform or (ORIGIN[0], 10.0, 0.0, ORIGIN[1], 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for i, name in enumerate(("B02", "B03", "B04", "B08", "B11", "B12")):
        refl = np.where(truth, WATER[i], VEGETATION[i]) * (1 + 0.02 * rng.standard_normal((size, size)))
        dn = np.clip(np.rint(refl * 10000), 1, 65535).astype(np.uint16)
        if nodata_rows:
            dn[-nodata_rows:, :] = 0
        band = ds.GetRasterBand(i + 1)
        band.SetDescription(name)
        band.SetNoDataValue(0)
        band.WriteArray(dn)
    ds = None
    return str(path), truth


def rasterize_output(path, like_raster):
    """Burn the output polygons onto the raster grid (reprojecting when the output CRS differs)."""
    ref = gdal.Open(like_raster)
    mem = gdal.GetDriverByName("MEM").Create("", ref.RasterXSize, ref.RasterYSize, 1, gdal.GDT_Byte)
    mem.SetGeoTransform(ref.GetGeoTransform())
    mem.SetProjection(ref.GetProjection())
    vec = ogr.Open(path)
    gdal.RasterizeLayer(mem, [1], vec.GetLayer(0), burn_values=[1])
    return mem.GetRasterBand(1).ReadAsArray().astype(bool)


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.fixture
def scene(tmp_path):
    return make_scene(tmp_path / "scene.tif")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point tempfile at an empty folder so leftovers of the job's private temp dir can be checked."""
    folder = tmp_path / "systmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_water_squares_iou_and_fields(tmp_path, scene, private_tmp):
    raster, truth = scene
    out = str(tmp_path / "water.gpkg")
    seen = []
    result = extract(
        ExtractRequest(raster, "extract the water bodies", output=out), progress=lambda f, m: seen.append(f)
    )
    assert result.output == out and os.path.exists(out)
    assert result.target_class == "water" and result.features == len(SQUARES)
    assert iou(rasterize_output(out, raster), truth) > 0.99
    assert result.area_m2 == pytest.approx(truth.sum() * 100.0, rel=0.02)
    assert seen == sorted(seen) and 0 <= seen[0] and seen[-1] == 1.0
    assert result.explanation.strip() and result.seconds > 0
    assert len(result.attributes) == result.features
    assert "B02" not in result.crs_wkt and "32632" in result.crs_wkt
    ds = ogr.Open(out)
    layer = ds.GetLayer(0)
    assert layer.GetMetadataItem("DESCRIPTION") == result.explanation  # run-level text: layer description
    areas, texts = [], set()
    for feature in layer:
        assert feature.GetField("class") == "water"
        # each feature speaks about itself: its number, area and the MNDWI mean inside it vs the threshold
        text = feature.GetField("explain")
        assert text.startswith(f"Water region {feature.GetField('region_id')} of {len(SQUARES)}:")
        assert "MNDWI" in text and "(> 0)" in text and "Confidence" in text
        assert 0.5 <= feature.GetField("confidence") <= 1.0
        texts.add(text)
        assert feature.GetField("engine") == "spectral"
        assert feature.GetField("size") and feature.GetField("location")
        areas.append((feature.GetField("region_id"), feature.GetField("area_m2")))
    areas.sort()
    assert [a for _, a in areas] == sorted((a for _, a in areas), reverse=True)  # region 1 is the largest
    assert len(texts) == len(SQUARES)
    assert list(private_tmp.iterdir()) == []  # the private work folder is gone


def test_aoi_bbox_limits_the_result(tmp_path, scene):
    raster, truth = scene
    x0, y0, x1, y1 = 100, 30, 160, 100  # pixels around the second square only
    bbox = (ORIGIN[0] + x0 * 10, ORIGIN[1] - y1 * 10, ORIGIN[0] + x1 * 10, ORIGIN[1] - y0 * 10)
    out = str(tmp_path / "aoi.gpkg")
    result = extract(ExtractRequest(raster, "water", output=out, aoi=AreaOfInterest(bbox=bbox)))
    assert result.features == 1
    clipped = np.zeros_like(truth)
    clipped[y0:y1, x0:x1] = truth[y0:y1, x0:x1]
    assert iou(rasterize_output(out, raster), clipped) > 0.99


def test_geojson_output_is_wgs84(tmp_path, scene):
    raster, truth = scene
    out = str(tmp_path / "water.geojson")
    result = extract(ExtractRequest(raster, "水体", output=out))
    ds = ogr.Open(out)
    assert ds.GetLayer(0).GetSpatialRef().GetAuthorityCode(None) == "4326"
    assert iou(rasterize_output(out, raster), truth) > 0.97  # reprojected back onto the grid
    assert result.details["language"] == "zh"


def test_shapefile_with_chinese_prompt_keeps_explanation(tmp_path, scene):
    raster, _ = scene
    out = str(tmp_path / "水体.shp")
    result = extract(ExtractRequest(raster, "提取水体", output=out))
    if len(result.explanation.encode("utf-8")) > 254:
        assert result.sidecars and os.path.exists(result.sidecars[0])
        with open(result.sidecars[0], encoding="utf-8") as fh:
            assert fh.read() == result.explanation
        assert any("explain_2" in w for w in result.warnings)
    from model_runtime.vector.writers import read_shapefile_text

    ds = ogr.Open(out)
    feature = ds.GetLayer(0).GetNextFeature()
    assert read_shapefile_text(feature, "explain").startswith("水体区域 1/")  # the feature's own text, whole


def test_zero_features_writes_empty_layer(tmp_path):
    raster, _ = make_scene(tmp_path / "dry.tif", water=False)
    out = str(tmp_path / "none.gpkg")
    result = extract(ExtractRequest(raster, "water", output=out))
    assert result.features == 0 and result.area_m2 == 0
    assert result.explanation.strip()
    assert any("no water" in w for w in result.warnings)
    ds = ogr.Open(out)
    assert (
        ds.GetLayer(0).GetFeatureCount() == 0 and ds.GetLayer(0).GetLayerDefn().GetFieldIndex("explain") >= 0
    )


def test_all_nodata_aoi_is_an_input_error(tmp_path):
    raster, _ = make_scene(tmp_path / "s.tif", nodata_rows=50)
    bbox = (ORIGIN[0] + 100, ORIGIN[1] - 2000 + 10, ORIGIN[0] + 1500, ORIGIN[1] - 1600)  # last 40 rows
    with pytest.raises(SpexInputError, match="no-data") as info:
        extract(
            ExtractRequest(raster, "water", output=str(tmp_path / "o.gpkg"), aoi=AreaOfInterest(bbox=bbox))
        )
    assert "\n" not in str(info.value)
    assert not os.path.exists(tmp_path / "o.gpkg")


def test_existing_output_refused_before_any_work(tmp_path, scene):
    raster, _ = scene
    out = tmp_path / "w.gpkg"
    out.write_bytes(b"precious")
    calls = []
    with pytest.raises(SpexInputError, match="already exists"):
        extract(ExtractRequest(raster, "water", output=str(out)), progress=lambda f, m: calls.append(f))
    assert calls == [] and out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    "stage, mid_stage",
    [
        ("raster opened", False),
        ("classifying", False),
        ("tracing polygons", False),
        ("tracing polygons", True),  # from inside GDAL's Polygonize progress callback
        ("cleaning polygons", False),
        ("describing regions", False),
        ("writing polygons", False),
    ],
)
def test_cancel_leaves_nothing_behind(tmp_path, scene, private_tmp, stage, mid_stage):
    """A cancel in each stage (deterministic: keyed on the stage's progress messages) stops the job in that
    very stage, leaves the old output untouched and removes every temporary file."""
    raster, _ = scene
    out = tmp_path / "w.gpkg"
    out.write_bytes(b"old result")
    seen = []  # (fraction, message) in order

    def progress(fraction, message):
        seen.append((fraction, message))

    def cancelled():
        hits = [f for f, m in seen if stage in m]
        return len(hits) > (1 if mid_stage else 0) and (not mid_stage or hits[-1] > hits[0])

    with pytest.raises(ExtractionCancelled):
        extract(
            ExtractRequest(raster, "water", output=str(out), overwrite=True),
            progress=progress,
            is_cancelled=cancelled,
        )
    assert stage in seen[-1][1]  # no later stage started
    assert out.read_bytes() == b"old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif", "systmp", "w.gpkg"]
    assert list(private_tmp.iterdir()) == []


def test_overwrite_replaces(tmp_path, scene):
    raster, _ = scene
    out = tmp_path / "w.gpkg"
    out.write_bytes(b"old result")
    result = extract(ExtractRequest(raster, "water", output=str(out), overwrite=True))
    assert result.features == len(SQUARES)
    ds = ogr.Open(str(out))
    assert ds.GetLayer(0).GetFeatureCount() == len(SQUARES)


def test_min_area_drops_small_polygons(tmp_path, scene):
    raster, _ = scene
    small = 30 * 30 * 100.0  # the third square
    result = extract(
        ExtractRequest(raster, "water", output=str(tmp_path / "w.gpkg"), min_area_m2=small + 1000)
    )
    assert result.features == 2
    assert result.details["polygons"]["dropped_small"] >= 1


def test_geographic_raster_area_in_square_metres(tmp_path):
    gt = (10.0, 0.0001, 0.0, 60.0, 0.0, -0.0001)  # ~5.6 m x 11.1 m pixels at 60 N
    raster, truth = make_scene(tmp_path / "geo.tif", epsg=4326, geotransform=gt)
    result = extract(ExtractRequest(raster, "water", output=str(tmp_path / "w.gpkg")))
    lat = np.radians(60.0)
    # pixel size on the WGS 84 ellipsoid at 60 N
    a, e2 = 6378137.0, 0.00669437999014
    m = a * (1 - e2) / (1 - e2 * np.sin(lat) ** 2) ** 1.5
    n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    pixel_m2 = np.radians(0.0001) * m * np.radians(0.0001) * n * np.cos(lat)
    assert result.area_m2 == pytest.approx(truth.sum() * pixel_m2, rel=0.01)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"engine": "magic"}, "unknown engine"),
        ({"prompt": "find the unicorns"}, "no supported land-cover class"),
        ({"output": "out.tif"}, "unsupported output format"),
        ({"raster": "/nonexistent/scene.tif"}, "does not exist"),
        ({"threshold_method": "guess"}, "unknown threshold method"),
        ({"min_area_m2": -5}, "invalid minimum area"),
        ({"simplify": float("nan")}, "invalid simplify"),
    ],
)
def test_bad_requests(tmp_path, scene, kwargs, message):
    raster, _ = scene
    args = {"raster": raster, "prompt": "water", "output": str(tmp_path / "o.gpkg")}
    args.update(kwargs)
    if args["output"] == "out.tif":
        args["output"] = str(tmp_path / "out.tif")
    with pytest.raises(SpexInputError, match=message) as info:
        extract(ExtractRequest(**args))
    assert "\n" not in str(info.value)


def test_not_a_raster(tmp_path):
    fake = tmp_path / "notes.tif"
    fake.write_text("this is not a GeoTIFF")
    with pytest.raises(SpexInputError):
        extract(ExtractRequest(str(fake), "water", output=str(tmp_path / "o.gpkg")))


def test_missing_bands_for_the_class(tmp_path):
    path = str(tmp_path / "rgb.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 32, 32, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], 10.0, 0.0, ORIGIN[1], 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    ds.SetProjection(srs.ExportToWkt())
    for i in range(3):
        ds.GetRasterBand(i + 1).WriteArray(np.full((32, 32), 80 + 10 * i, np.uint8))
        ds.GetRasterBand(i + 1).SetColorInterpretation(gdal.GCI_RedBand + i)
    ds = None
    with pytest.raises(SpexInputError, match="(?i)nir|band") as info:
        extract(ExtractRequest(path, "water", output=str(tmp_path / "o.gpkg")))
    assert "\n" not in str(info.value)


def test_no_output_keeps_a_temp_geopackage(scene, private_tmp):
    """Without ``output`` the result stays in ``<temp>/spex-out-*/<class>.gpkg``, owned by the caller; the
    job's own work folder is gone. (``private_tmp`` points the temp dir into ``tmp_path``: nothing leaks.)"""
    raster, _ = scene
    result = extract(ExtractRequest(raster, "water"))
    assert result.output.endswith(os.sep + "water.gpkg") and os.path.exists(result.output)
    assert result.output_format == "GPKG"
    folder = os.path.dirname(result.output)
    assert os.path.dirname(folder) == str(private_tmp) and os.path.basename(folder).startswith("spex-out-")
    assert [p.name for p in private_tmp.iterdir()] == [os.path.basename(folder)]
    assert os.listdir(folder) == ["water.gpkg"]
    ds = ogr.Open(result.output)
    assert ds.GetLayer(0).GetFeatureCount() == len(SQUARES)
    ds = None


def test_no_output_cancelled_leaves_no_temp_folder(scene, private_tmp):
    raster, _ = scene
    with pytest.raises(ExtractionCancelled):
        extract(ExtractRequest(raster, "water"), is_cancelled=lambda: True)
    assert list(private_tmp.iterdir()) == []


def test_region_dicts_beyond_the_full_ones_match_spie(monkeypatch):
    """The cheap dicts for small regions agree with spie.region_attributes on size, centroid and location."""
    import model_runtime.pipeline as pipeline
    from model_runtime.spectral.spie import region_attributes
    from model_runtime.vector.vectorize import Polygon

    mask_w, mask_h = 300, 200
    rings = [
        [np.array([[10, 10], [40, 10], [40, 30], [10, 30], [10, 10]], float)],
        [np.array([[200, 150], [290, 150], [290, 199], [200, 199], [200, 150]], float),
         np.array([[220, 160], [220, 170], [230, 170], [230, 160], [220, 160]], float)],
        [np.array([[150, 90], [151, 90], [151, 91], [150, 91], [150, 90]], float)],
    ]  # fmt: skip
    polys = [Polygon(b"", 1.0, r) for r in rings]
    monkeypatch.setattr(pipeline, "FULL_SPIE_REGIONS", 0)
    cheap = pipeline.region_dicts(polys, mask_w, mask_h)
    for r, c in zip(rings, cheap):
        full = region_attributes([r], mask_w, mask_h)[0]
        assert {k: full[k] for k in c} == c
        assert "Bounding box" not in c
    monkeypatch.setattr(pipeline, "FULL_SPIE_REGIONS", 2)
    mixed = pipeline.region_dicts(polys, mask_w, mask_h)
    assert ["Bounding box" in d for d in mixed] == [True, True, False]


def test_engine_counts_agree_with_the_mask(tmp_path, monkeypatch):
    """The pixel counts reported by the engine (used to skip a pass) equal a recount of the written mask."""
    import model_runtime.pipeline as pipeline

    raster, truth = make_scene(tmp_path / "s.tif", nodata_rows=13)
    recounted = []
    import model_runtime.vector.vectorize as vectorize  # the pipeline imports polygonize_mask lazily, per job

    original = vectorize.polygonize_mask

    def spy(mask_path, *args, **kwargs):
        recounted.append(pipeline.mask_counts(mask_path))
        return original(mask_path, *args, **kwargs)

    monkeypatch.setattr(vectorize, "polygonize_mask", spy)
    result = extract(ExtractRequest(raster, "water", output=str(tmp_path / "w.gpkg")))
    assert result.details["mask"] == recounted[0]
    assert recounted[0]["nodata_px"] == 13 * 200


def test_region_dicts_from_geos_measures_match_the_rings(tmp_path, monkeypatch):
    """SPIE dicts built from polygonize's GEOS area/centroid equal those from the pixel rings."""
    import model_runtime.pipeline as pipeline
    from model_runtime.vector.vectorize import Polygon, polygonize_mask

    raster, _ = make_scene(tmp_path / "s.tif")
    rng = np.random.default_rng(5)
    mask = (rng.random((90, 110)) < 0.35).astype(np.uint8)
    mask[10:40, 20:70] = 1
    mask[20:30, 30:40] = 0
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "m.tif"), 110, 90, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], 10.0, 0.0, ORIGIN[1], 0.0, -10.0))
    ds.GetRasterBand(1).WriteArray(mask)
    ds = None
    result = polygonize_mask(str(tmp_path / "m.tif"))
    plain = [Polygon(p.wkb, p.area_m2, p.rings_px) for p in result.polygons]
    assert all(p.area_px is None for p in plain)
    monkeypatch.setattr(pipeline, "FULL_SPIE_REGIONS", 5)
    fast = pipeline.region_dicts(result.polygons, 110, 90)
    slow = pipeline.region_dicts(plain, 110, 90)
    assert len(fast) == len(result.polygons) > 50
    assert fast == slow


@pytest.mark.parametrize("name", ["w.gpkg", "w.shp", "w.geojson"])
def test_written_centroids_are_those_of_the_written_geometries(tmp_path, scene, name):
    raster, _ = scene
    result = extract(ExtractRequest(raster, "water", output=str(tmp_path / name)))
    ds = ogr.Open(result.output)
    layer = ds.GetLayer(0)
    assert layer.GetFeatureCount() == len(SQUARES)
    for feature in layer:
        centroid = feature.GetGeometryRef().Centroid()
        assert feature.GetField("centroid_x") == pytest.approx(centroid.GetX(), abs=1e-6)
        assert feature.GetField("centroid_y") == pytest.approx(centroid.GetY(), abs=1e-6)
