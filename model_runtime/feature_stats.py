"""Per-polygon statistics: the mean of index and band values inside each output polygon.

The polygons are burnt (pixel centres, GDAL ``RasterizeLayer`` with the polygon's number as value) into one
strip of the area of interest at a time, the strip's bands are read once, and sums and counts per polygon are
accumulated with ``numpy.bincount``: memory stays at one strip whatever the raster size, and each pixel is
read once for all polygons.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import numpy as np

from .indices import INDEX_DEFINITIONS, compute_index

_STRIP_PIXELS = 2 * 1024 * 1024


def _roles_for(names: Sequence[str]) -> list:
    roles: Dict[str, None] = {}
    for name in names:
        for role in INDEX_DEFINITIONS[name].roles if name in INDEX_DEFINITIONS else (name,):
            roles[role] = None
    return list(roles)


def polygon_means(
    source,
    window,
    polygons: Sequence,
    crs_wkt: str,
    names: Sequence[str],
    check_cancelled: Callable[[], None] | None = None,
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """(valid pixel count per polygon, {name: mean per polygon (NaN when no valid pixel)}).

    ``polygons`` have ``wkb`` in the raster CRS (``crs_wkt``); ``window`` is the area-of-interest window of
    ``source`` (a :class:`~model_runtime.raster.RasterSource`) they were traced in; ``names`` are index names
    or band roles.
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
    roles = _roles_for(names)
    gt = source.geotransform
    for strip in source.iter_strips(window, max_pixels=_STRIP_PIXELS):
        if check_cancelled is not None:
            check_cancelled()
        target = gdal.GetDriverByName("MEM").Create("", strip.xsize, strip.ysize, 1, gdal.GDT_Int32)
        target.SetGeoTransform((gt[0] + strip.xoff * gt[1] + strip.yoff * gt[2], gt[1], gt[2],
                                gt[3] + strip.xoff * gt[4] + strip.yoff * gt[5], gt[4], gt[5]))  # fmt: skip
        if crs_wkt:
            target.SetProjection(crs_wkt)
        gdal.RasterizeLayer(target, [1], layer, options=["ATTRIBUTE=number"])
        labels = target.GetRasterBand(1).ReadAsArray()
        inside = labels > 0
        if not inside.any():
            continue
        bands, valid = source.read(roles, strip)
        keep = inside & valid
        ids = labels[keep]
        counts += np.bincount(ids, minlength=n + 1)
        sub = {r: bands[r][keep] for r in roles}
        for name in names:
            values = compute_index(name, sub) if name in INDEX_DEFINITIONS else sub[name]
            finite = np.isfinite(values)
            sums[name] += np.bincount(ids[finite], weights=values[finite], minlength=n + 1)
            finite_counts[name] += np.bincount(ids[finite], minlength=n + 1)
    means = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, total in sums.items():
            used = finite_counts[name]
            means[name] = np.where(used > 0, total / np.maximum(used, 1), np.nan)[1:]
    return counts[1:], means
