"""Per-polygon statistics: the mean of index and band values inside each output polygon.

The engine keeps its rule values while it classifies (no second read of the raster); here the polygons are
burnt (pixel centres, GDAL ``RasterizeLayer`` with the polygon's number as value) into one strip of that
values raster at a time, and sums and counts per polygon are accumulated with ``numpy.bincount``: memory
stays at one strip whatever the raster size.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import numpy as np

_STRIP_PIXELS = 2 * 1024 * 1024


def polygon_means(
    values_path: str,
    polygons: Sequence,
    crs_wkt: str,
    names: Sequence[str],
    check_cancelled: Callable[[], None] | None = None,
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """(sampled pixel count per polygon, {name: mean per polygon (NaN when no sample)}).

    ``values_path``: a float32 raster with one band per name (NaN = not valid) written while classifying
    (``engines.spectral_streaming.FeatureValues``: every pixel, or a regular 1-in-d^2 sample on large areas);
    ``polygons`` have ``wkb`` in its CRS (``crs_wkt``).
    """
    from osgeo import gdal, ogr, osr

    n = len(polygons)
    counts = np.zeros(n + 1, np.float64)
    sums = {name: np.zeros(n + 1, np.float64) for name in names}
    finite_counts = {name: np.zeros(n + 1, np.float64) for name in names}
    if n == 0:
        return counts[1:], {name: np.empty(0) for name in names}
    srs = osr.SpatialReference()
    if crs_wkt:
        srs.ImportFromWkt(crs_wkt)
    vector = ogr.GetDriverByName("Memory").CreateDataSource("")
    layer = vector.CreateLayer("polygons", srs if crs_wkt else None, ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("number", ogr.OFTInteger))
    for number, polygon in enumerate(polygons, start=1):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("number", number)
        feature.SetGeometry(ogr.CreateGeometryFromWkb(polygon.wkb))
        layer.CreateFeature(feature)
    values = gdal.Open(values_path)
    gt = values.GetGeoTransform()
    width, height = values.RasterXSize, values.RasterYSize
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    for y in range(0, height, rows):
        if check_cancelled is not None:
            check_cancelled()
        h = min(rows, height - y)
        target = gdal.GetDriverByName("MEM").Create("", width, h, 1, gdal.GDT_Int32)
        target.SetGeoTransform((gt[0], gt[1], gt[2], gt[3] + y * gt[5], gt[4], gt[5]))
        if crs_wkt:
            target.SetProjection(crs_wkt)
        gdal.RasterizeLayer(target, [1], layer, options=["ATTRIBUTE=number"])
        labels = target.GetRasterBand(1).ReadAsArray()
        inside = labels > 0
        if not inside.any():
            continue
        ids = labels[inside]
        counts += np.bincount(ids, minlength=n + 1)
        for k, name in enumerate(names, start=1):
            vals = values.GetRasterBand(k).ReadAsArray(0, y, width, h)[inside]
            finite = np.isfinite(vals)
            sums[name] += np.bincount(ids[finite], weights=vals[finite], minlength=n + 1)
            finite_counts[name] += np.bincount(ids[finite], minlength=n + 1)
    means = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, total in sums.items():
            used = finite_counts[name]
            means[name] = np.where(used > 0, total / np.maximum(used, 1), np.nan)[1:]
    return counts[1:], means
