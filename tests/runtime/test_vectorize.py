"""polygonize_mask / regions_from_array on real GDAL rasters."""

from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from model_runtime.errors import ExtractionCancelled, SpexInputError
from model_runtime.io.mask_raster import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET
from model_runtime.vector.geometry import AreaCalculator, signed_area
from model_runtime.vector.vectorize import polygonize_mask, regions_from_array

gdal.UseExceptions()


def _write_mask(path, array, geotransform=(500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0), epsg=32633):
    height, width = array.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, 1, gdal.GDT_Byte)
    ds.SetGeoTransform(geotransform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.WriteArray(array)
    band.SetNoDataValue(MASK_NODATA)
    ds = None
    return str(path)


def _rasterize(result, width, height):
    """Burn the result's polygons back onto the mask grid (pixel centres)."""
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    mem.SetGeoTransform(result.geotransform)
    mem.SetProjection(result.crs_wkt)
    vec = ogr.GetDriverByName("Memory").CreateDataSource("v")
    srs = osr.SpatialReference()
    srs.ImportFromWkt(result.crs_wkt)
    layer = vec.CreateLayer("v", srs=srs, geom_type=ogr.wkbMultiPolygon)
    for poly in result.polygons:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkb(poly.wkb))
        layer.CreateFeature(feature)
    gdal.RasterizeLayer(mem, [1], layer, burn_values=[1])
    return mem.GetRasterBand(1).ReadAsArray().astype(bool)


@pytest.fixture
def squares():
    """Background with target squares, a no-data block, a square with a hole and two diagonal neighbours."""
    a = np.full((120, 140), MASK_BACKGROUND, np.uint8)
    a[5:25, 5:45] = MASK_TARGET  # 800 px
    a[40:70, 60:90] = MASK_TARGET  # 900 px with a 10x10 hole -> 800 px
    a[50:60, 70:80] = MASK_BACKGROUND
    a[90:100, 10:20] = MASK_TARGET  # two squares touching at one corner: one 8-connected region
    a[100:110, 20:30] = MASK_TARGET
    a[80:120, 100:140] = MASK_NODATA  # never a polygon
    a[0:3, 130:140] = 7  # any other value is not the target either
    return a


def test_iou_against_known_squares(tmp_path, squares):
    path = _write_mask(tmp_path / "mask.tif", squares)
    result = polygonize_mask(path, str(tmp_path / "poly.gpkg"))
    assert len(result.polygons) == 3
    burnt = _rasterize(result, squares.shape[1], squares.shape[0])
    truth = squares == MASK_TARGET
    iou = (burnt & truth).sum() / (burnt | truth).sum()
    assert iou == pytest.approx(1.0)
    # areas in m2 (10 m pixels), largest first
    assert [round(p.area_m2) for p in result.polygons] == [80000, 80000, 20000]
    assert result.total_area_m2 == pytest.approx(truth.sum() * 100.0)
    for poly in result.polygons:
        assert ogr.CreateGeometryFromWkb(poly.wkb).IsValid()


def test_no_target_gives_no_polygons(tmp_path):
    a = np.zeros((30, 30), np.uint8)
    a[10:20, 10:20] = MASK_NODATA
    result = polygonize_mask(_write_mask(tmp_path / "m.tif", a), str(tmp_path / "p.gpkg"))
    assert result.polygons == []
    assert result.total_area_m2 == 0


def test_pixel_rings_relative_to_mask(tmp_path, squares):
    result = polygonize_mask(_write_mask(tmp_path / "m.tif", squares), str(tmp_path / "p.gpkg"))
    holed = [p for p in result.polygons if any(signed_area(r) < 0 for r in p.rings_px)]
    assert len(holed) == 1
    exterior, hole = holed[0].rings_px
    assert (exterior.min(axis=0) == [60, 40]).all() and (exterior.max(axis=0) == [90, 70]).all()
    assert (hole.min(axis=0) == [70, 50]).all() and (hole.max(axis=0) == [80, 60]).all()
    assert signed_area(exterior) == 900 and signed_area(hole) == -100
    # the corner-touching pair was repaired into two parts: two exterior rings, 100 px each
    pair = result.polygons[-1].rings_px
    assert sorted(signed_area(r) for r in pair) == [100, 100]


def test_min_area_and_simplify(tmp_path):
    a = np.zeros((100, 100), np.uint8)
    yy, xx = np.mgrid[:100, :100]
    a[(yy - 50) ** 2 + (xx - 50) ** 2 < 30**2] = MASK_TARGET  # a staircase disc
    a[2:4, 2:4] = MASK_TARGET  # 4 px = 400 m2
    path = _write_mask(tmp_path / "m.tif", a)
    full = polygonize_mask(path, str(tmp_path / "a.gpkg"))
    assert len(full.polygons) == 2
    kept = polygonize_mask(path, str(tmp_path / "b.gpkg"), min_area_m2=401)
    assert len(kept.polygons) == 1 and kept.dropped_small == 1
    simple = polygonize_mask(path, str(tmp_path / "c.gpkg"), simplify=15.0, min_area_m2=401)
    g_full = ogr.CreateGeometryFromWkb(kept.polygons[0].wkb)
    g_simple = ogr.CreateGeometryFromWkb(simple.polygons[0].wkb)
    assert g_simple.IsValid()
    n_points = lambda g: sum(g.GetGeometryRef(i).GetPointCount() for i in range(g.GetGeometryCount()))  # noqa: E731
    assert n_points(g_simple) < n_points(g_full) / 3
    assert simple.polygons[0].area_m2 == pytest.approx(kept.polygons[0].area_m2, rel=0.05)
    with pytest.raises(SpexInputError):
        polygonize_mask(path, str(tmp_path / "d.gpkg"), min_area_m2=-1)


def _reference_area(geom_wkb, crs_wkt):
    """Independent check: area in the global equal-area EASE-Grid 2.0 (EPSG:6933)."""
    src = osr.SpatialReference()
    src.ImportFromWkt(crs_wkt)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(6933)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geom = ogr.CreateGeometryFromWkb(geom_wkb)
    geom.Segmentize(1e-4 if src.IsGeographic() else 10.0)
    geom.Transform(osr.CoordinateTransformation(src, dst))
    return geom.GetArea()


@pytest.mark.parametrize(
    "epsg, geotransform",
    [
        (4326, (10.0, 0.0002, 0.0, 60.2, 0.0, -0.0002)),  # geographic, high latitude
        (4326, (-70.0, 0.0005, 0.0, -10.0, 0.0, -0.0005)),  # geographic, tropics (southern hemisphere)
        (3857, (1113194.9, 20.0, 0.0, 8399737.9, 0.0, -20.0)),  # web mercator around 60 N: scale ~2
    ],
)
def test_true_area_for_geographic_and_mercator(tmp_path, epsg, geotransform):
    a = np.zeros((80, 80), np.uint8)
    a[10:60, 15:70] = MASK_TARGET
    result = polygonize_mask(_write_mask(tmp_path / "m.tif", a, geotransform, epsg), str(tmp_path / "p.gpkg"))
    (poly,) = result.polygons
    assert poly.area_m2 == pytest.approx(_reference_area(poly.wkb, result.crs_wkt), rel=2e-4)
    assert not AreaCalculator(result.crs_wkt).planar


def test_projected_area_uses_linear_units(tmp_path):
    a = np.zeros((10, 10), np.uint8)
    a[0:5, 0:4] = MASK_TARGET
    # EPSG:2227: California zone 3, US survey feet; 10 ft pixels
    result = polygonize_mask(
        _write_mask(tmp_path / "m.tif", a, (6000000.0, 10.0, 0.0, 2000000.0, 0.0, -10.0), 2227),
        str(tmp_path / "p.gpkg"),
    )
    assert result.polygons[0].area_m2 == pytest.approx(20 * 100 * 0.3048006096**2, rel=1e-6)


def test_cancel_stops_polygonize(tmp_path, squares):
    path = _write_mask(tmp_path / "m.tif", squares)

    def check():
        raise ExtractionCancelled("stop")

    with pytest.raises(ExtractionCancelled):
        polygonize_mask(path, str(tmp_path / "p.gpkg"), check_cancelled=check)


def test_regions_from_array(squares):
    regions = regions_from_array(squares)
    assert len(regions) == 3
    # largest first; the diagonal pair is one region (8-connected) made of two exterior rings
    areas = [sum(signed_area(r) for r in rings) for rings in regions]
    assert areas == [800, 800, 200]
    assert regions_from_array(np.zeros((8, 8), np.uint8)) == []
    # identity geotransform: pixel coordinates
    one = np.zeros((10, 12), np.uint8)
    one[2:5, 3:9] = MASK_TARGET
    (rings,) = regions_from_array(one)
    assert (rings[0].min(axis=0) == [3, 2]).all() and (rings[0].max(axis=0) == [9, 5]).all()


def test_exception_from_progress_surfaces_unchanged(tmp_path, squares):
    path = _write_mask(tmp_path / "m.tif", squares)

    def progress(fraction, message):
        raise ExtractionCancelled("stop from progress")

    with pytest.raises(ExtractionCancelled, match="stop from progress"):
        polygonize_mask(path, str(tmp_path / "p.gpkg"), progress=progress)


def _summary(result):
    return [(round(p.area_m2, 6), round(p.area_px, 6)) for p in result.polygons]


@pytest.mark.parametrize("band_rows, threads", [(1, 1), (3, 1), (7, 2), (16, 3)])
def test_banded_tracing_equals_one_pass(tmp_path, band_rows, threads):
    """Regions cut by band seams (edges, corner contacts, holes across seams) are joined back exactly."""
    rng = np.random.default_rng(band_rows)
    a = (rng.random((61, 73)) < 0.45).astype(np.uint8)  # dense speckle: many seam crossings, corner contacts
    a[rng.random(a.shape) < 0.05] = MASK_NODATA
    a[20:45, 5:30] = MASK_TARGET  # a block with a hole spanning several seams
    a[28:38, 12:22] = MASK_BACKGROUND
    path = _write_mask(tmp_path / "m.tif", a)
    one = polygonize_mask(path)
    many = polygonize_mask(path, band_rows=band_rows, threads=threads)
    assert one.details["bands"] == 1 and many.details["bands"] == -(-61 // band_rows)
    assert many.details["seam_pieces_merged"] > 0
    assert _summary(many) == _summary(one)
    assert (_rasterize(many, 73, 61) == (a == MASK_TARGET)).all()
    assert sum(p.area_px for p in many.polygons) == pytest.approx((a == MASK_TARGET).sum())
    for poly in many.polygons:
        assert ogr.CreateGeometryFromWkb(poly.wkb).IsValid()
        assert sum(signed_area(r) for r in poly.rings_px) == pytest.approx(poly.area_px)


def test_cancel_inside_gdal_stops_it_and_raises_after(tmp_path, squares):
    """A cancel seen in GDAL's progress callback stops GDAL (callback answers 0), then raises."""
    path = _write_mask(tmp_path / "m.tif", squares)
    calls = []

    def check():
        calls.append(1)
        if len(calls) >= 5:
            raise ExtractionCancelled("stop")

    with pytest.raises(ExtractionCancelled):
        polygonize_mask(path, check_cancelled=check)
    assert len(calls) == 5  # GDAL made no further progress call after the refusal

    def refuse():
        raise ExtractionCancelled("stop")

    with pytest.raises(ExtractionCancelled):  # the threaded path polls from the calling thread
        polygonize_mask(path, check_cancelled=refuse, threads=2, band_rows=10)


def test_valid_polygons_are_not_repaired(tmp_path):
    """Only polygons with a repeated vertex go to GEOS, and only invalid ones are repaired."""
    a = np.zeros((12, 12), np.uint8)
    a[1:6, 1:6] = MASK_TARGET
    a[6:11, 6:11] = MASK_TARGET  # touches the first block at one corner: one 8-connected region
    a[7:9, 7:9] = MASK_BACKGROUND
    result = polygonize_mask(_write_mask(tmp_path / "m.tif", a))
    assert len(result.polygons) == 1 and result.repaired == 1
    assert result.polygons[0].area_px == pytest.approx(50 - 4)
    b = np.zeros((8, 8), np.uint8)
    b[1:7, 1:7] = MASK_TARGET
    b[2, 2] = b[3, 3] = MASK_BACKGROUND  # two holes touching at a point: a shared vertex, but valid
    plain = polygonize_mask(_write_mask(tmp_path / "n.tif", b))
    assert plain.repaired == 0 and len(plain.polygons) == 1
    geom = ogr.CreateGeometryFromWkb(plain.polygons[0].wkb)
    assert geom.IsValid() and geom.GetGeometryCount() == 3
    assert plain.polygons[0].area_px == pytest.approx(36 - 2)


def test_sparse_mask_parts_keep_their_place(tmp_path):
    """Row runs split at empty rows and cropped to their columns come back at their true coordinates."""
    a = np.zeros((200, 150), np.uint8)
    a[3:9, 120:140] = MASK_TARGET  # near the top right
    a[60:90, 10:25] = MASK_TARGET  # far below (more than MIN_ROW_GAP empty rows between)
    a[70:75, 15:18] = MASK_BACKGROUND  # a hole
    a[90, 25] = MASK_TARGET  # corner contact with the block: same region
    a[180:199, 100:149] = MASK_TARGET
    a[120:130, 0:150] = MASK_NODATA
    path = _write_mask(tmp_path / "m.tif", a)
    result = polygonize_mask(path)
    assert len(result.polygons) == 3
    assert (_rasterize(result, 150, 200) == (a == MASK_TARGET)).all()
    assert sorted(round(p.area_px) for p in result.polygons) == [120, 30 * 15 - 15 + 1, 19 * 49]
    top = min(result.polygons, key=lambda p: p.centroid_px[1])
    assert top.centroid_px == pytest.approx((130.0, 6.0))


@pytest.mark.parametrize(
    "epsg, geotransform",
    [
        (4326, (10.0, 0.001, 0.0, 60.0, 0.0, -0.001)),  # seams computed in degrees would not meet exactly
        (32633, (500000.0, 10.0, 0.0, 4000000.0, 0.0, 10.0)),  # south-up
        (32633, (500000.0, 10.0, 2.0, 4000000.0, 1.0, -10.0)),  # rotated grid
    ],
)
def test_banded_tracing_on_any_grid(tmp_path, epsg, geotransform):
    """Bands are traced in pixel coordinates and mapped once, so seams meet exactly on every grid."""
    a = (np.random.default_rng(epsg).random((50, 40)) < 0.4).astype(np.uint8)
    path = _write_mask(tmp_path / "m.tif", a, geotransform, epsg)
    one = polygonize_mask(path)
    many = polygonize_mask(path, band_rows=4)
    assert len(many.polygons) == len(one.polygons)
    assert [p.area_m2 for p in many.polygons] == pytest.approx([p.area_m2 for p in one.polygons], rel=1e-6)
    assert (_rasterize(many, 40, 50) == (a == MASK_TARGET)).all()
