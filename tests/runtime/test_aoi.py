"""AOI: bbox in the raster CRS or another CRS, WKT polygons, vector files in another CRS, errors."""

import pytest
from osgeo import ogr, osr

from model_runtime.errors import SpexInputError
from model_runtime.io.aoi import parse_aoi_arg, resolve_aoi
from model_runtime.io.raster import RasterSource, Window
from model_runtime.request import AreaOfInterest
from tests.conftest import random_bands

# 100 x 80 px of 10 m in UTM 33N: x 500000..501000, y 4999200..5000000 (about 15.0 E, 45.1 N)
GT = (500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0)


@pytest.fixture
def source(make_raster):
    path = make_raster(
        "r.tif", random_bands(["blue", "green", "red", "nir"], shape=(80, 100)), geotransform=GT
    )
    with RasterSource.open(path) as src:
        yield src


def _to_wgs84(x, y):
    utm, wgs = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32633)
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return osr.CoordinateTransformation(utm, wgs).TransformPoint(x, y)[:2]


def test_no_aoi_is_whole_raster(source):
    region = resolve_aoi(None, source)
    assert region.window == Window(0, 0, 100, 80) and region.mask(region.window) is None


def test_bbox_in_raster_crs(source):
    region = resolve_aoi(AreaOfInterest(bbox=(500100, 4999500, 500300, 4999800)), source)
    assert region.window == Window(10, 20, 20, 30)
    assert region.mask(region.window) is None


def test_bbox_partly_outside_is_clipped(source):
    region = resolve_aoi(AreaOfInterest(bbox=(499000, 4999900, 500050, 5001000)), source)
    assert region.window == Window(0, 0, 5, 10)


def test_bbox_in_wgs84_for_utm_raster(source):
    (lon0, lat0), (lon1, lat1) = _to_wgs84(500100, 4999500), _to_wgs84(500300, 4999800)
    region = resolve_aoi(AreaOfInterest(bbox=(lon0, lat0, lon1, lat1), crs="EPSG:4326"), source)
    w = region.window
    assert (
        abs(w.xoff - 10) <= 1 and abs(w.yoff - 20) <= 1 and abs(w.xsize - 20) <= 2 and abs(w.ysize - 30) <= 2
    )
    mask = region.mask(w)
    assert mask is None or mask.mean() > 0.9


def test_wkt_polygon_mask(source):
    tri = "POLYGON((500000 5000000, 501000 5000000, 500000 4999200, 500000 5000000))"
    region = resolve_aoi(AreaOfInterest(wkt=tri), source)
    assert region.window == Window(0, 0, 100, 80)
    mask = region.mask(Window(0, 0, 100, 80))
    assert mask[0, 0] and not mask[79, 99] and 0.45 < mask.mean() < 0.55
    assert region.mask(Window(0, 0, 10, 5)) is None  # window entirely inside the triangle


def test_geopackage_in_another_crs(source, tmp_path):
    path = str(tmp_path / "aoi.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3857)
    layer = ds.CreateLayer("aoi", srs, ogr.wkbPolygon)
    wgs, merc = osr.SpatialReference(), srs.Clone()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    merc.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_merc = osr.CoordinateTransformation(wgs, merc)
    corners = [
        to_merc.TransformPoint(*_to_wgs84(x, y))[:2]
        for x, y in [
            (500500, 4999300),
            (500900, 4999300),
            (500900, 4999700),
            (500500, 4999700),
            (500500, 4999300),
        ]
    ]
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(
        ogr.CreateGeometryFromWkt("POLYGON((" + ",".join(f"{x} {y}" for x, y in corners) + "))")
    )
    layer.CreateFeature(feature)
    layer.CreateFeature(_point_feature(layer))  # points are ignored
    ds = None
    region = resolve_aoi(parse_aoi_arg(path), source)
    w = region.window
    assert (
        abs(w.xoff - 50) <= 1 and abs(w.yoff - 30) <= 1 and abs(w.xsize - 40) <= 2 and abs(w.ysize - 40) <= 2
    )


def _point_feature(layer):
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (0 0)"))
    return feature


def test_parse_aoi_arg(tmp_path):
    assert parse_aoi_arg("1,2,3,4").bbox == (1, 2, 3, 4)
    assert parse_aoi_arg(" 1.5 2 3e2 4 ", crs="EPSG:4326").crs == "EPSG:4326"
    assert parse_aoi_arg("POLYGON((0 0,1 0,1 1,0 0))").wkt.startswith("POLYGON")
    assert parse_aoi_arg("") is None
    with pytest.raises(SpexInputError, match="neither xmin,ymin,xmax,ymax"):
        parse_aoi_arg(str(tmp_path / "nope.gpkg"))
    with pytest.raises(SpexInputError, match="xmin < xmax"):
        parse_aoi_arg("3,2,1,4")


def test_errors(source, tmp_path):
    text = tmp_path / "bad.gpkg"
    text.write_text("not a geopackage")
    points = str(tmp_path / "points.geojson")
    (tmp_path / "points.geojson").write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Point","coordinates":[15,45]}}]}'
    )
    cases = [
        (AreaOfInterest(bbox=(0, 0, 10, 10)), "is outside the raster"),
        (AreaOfInterest(bbox=(5, 5, 5, 6)), "xmin < xmax"),
        (AreaOfInterest(bbox=(1, 2, 3)), "not four numbers"),
        (AreaOfInterest(bbox=(500100, 4999500, 500300, 4999800), crs="EPSG:99999999"), "not understood"),
        (AreaOfInterest(wkt="LINESTRING(0 0, 1 1)"), "not polygon WKT"),
        (AreaOfInterest(wkt="POLYGON((oops"), "not polygon WKT"),
        (
            AreaOfInterest(wkt="POLYGON((500000 5000000, 500100 5000000, 500200 5000000, 500000 5000000))"),
            "empty",
        ),
        (AreaOfInterest(vector_path=str(text)), "not a vector file GDAL can read"),
        (AreaOfInterest(vector_path=points), "contains no polygons"),
        (AreaOfInterest(vector_path=str(tmp_path / "missing.shp")), "does not exist"),
        (AreaOfInterest(bbox=(500000, 4999200, 500001, 4999201)), "less than one pixel"),
        (AreaOfInterest(bbox=(1, 2, 3, 4), wkt="POLYGON((0 0,1 0,1 1,0 0))"), "give only one"),
    ]
    for aoi, message in cases:
        with pytest.raises(SpexInputError, match=message) as err:
            resolve_aoi(aoi, source)
        assert "\n" not in str(err.value)
