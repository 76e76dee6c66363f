"""Area of interest: a bbox, a WKT polygon or the polygons of a vector file, in any CRS.

The AOI is reprojected to the raster CRS (traditional GIS x/y axis order everywhere), clipped to the raster
and turned into a pixel :class:`~model_runtime.io.raster.Window`; a polygon AOI is also rasterised per window
(``AoiRegion.mask``) so that pixels outside it become no-data.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..errors import SpexInputError
from ..request import AreaOfInterest
from .gdal_paths import check_dataset_path, quiet_gdal
from .raster import Window


@dataclass
class AoiRegion:
    """The AOI on the raster grid. ``geometry_wkt`` is in the raster CRS (the raster extent without AOI)."""

    window: Window  # noqa: F821 - model_runtime.io.raster.Window, imported lazily
    geometry_wkt: str
    geotransform: Tuple[float, ...]
    crs_wkt: str
    is_rectangle: bool = True  # True: the window alone is the AOI, no per-pixel mask needed
    description: str = "whole raster"

    def mask(self, window) -> np.ndarray | None:
        """Bool array over ``window``: True inside the AOI polygon; None when the whole window is inside."""
        if self.is_rectangle:
            return None
        from osgeo import gdal, ogr

        gt = self.geotransform
        wgt = window.geotransform(gt)
        geom = ogr.CreateGeometryFromWkt(self.geometry_wkt)
        x0, y0 = wgt[0], wgt[3]
        x1, y1 = x0 + window.xsize * gt[1], y0 + window.ysize * gt[5]
        box = _box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if geom.Contains(box):
            return None
        mem = gdal.GetDriverByName("MEM").Create("", window.xsize, window.ysize, 1, gdal.GDT_Byte)
        mem.SetGeoTransform(wgt)
        vec = ogr.GetDriverByName("Memory").CreateDataSource("aoi")
        layer = vec.CreateLayer("aoi", geom_type=ogr.wkbMultiPolygon)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(geom)
        layer.CreateFeature(feature)
        gdal.RasterizeLayer(mem, [1], layer, burn_values=[1])  # pixel centres inside (ALL_TOUCHED off)
        return mem.GetRasterBand(1).ReadAsArray().astype(bool)


def _box(xmin: float, ymin: float, xmax: float, ymax: float):
    from osgeo import ogr

    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)):
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def _srs(text: str, what: str):
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    try:

        with quiet_gdal():
            err = srs.SetFromUserInput(str(text))
    except RuntimeError:
        err = 1
    if err != 0:
        raise SpexInputError(f"{what} CRS '{text}' is not understood: give e.g. EPSG:4326, EPSG:32633 or WKT")
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _to_raster_crs(geom, src_srs, dst_srs):
    """Reproject ``geom`` (densified first so that straight edges stay faithful) to ``dst_srs``."""
    from osgeo import osr

    if src_srs is None or dst_srs is None or src_srs.IsSame(dst_srs):
        return geom
    geom = geom.Clone()
    env = geom.GetEnvelope()
    step = max(env[1] - env[0], env[3] - env[2]) / 64.0
    if step > 0:
        geom.Segmentize(step)
    try:
        transform = osr.CoordinateTransformation(src_srs, dst_srs)
        failed = geom.Transform(transform) != 0
    except RuntimeError:  # gdal.UseExceptions(): e.g. points outside the target projection's domain
        failed = True
    if failed:
        raise SpexInputError(
            "the AOI cannot be reprojected to the raster CRS (points outside its domain?): check the AOI "
            "coordinates and its CRS"
        )
    return geom


def _polygons_only(geom):
    """The polygonal part of ``geom`` as a MultiPolygon (None when there is none)."""
    from osgeo import ogr

    out = ogr.Geometry(ogr.wkbMultiPolygon)
    flat = ogr.GT_Flatten(geom.GetGeometryType())
    if flat == ogr.wkbPolygon:
        out.AddGeometry(ogr.ForceTo(geom.Clone(), ogr.wkbPolygon))
    elif flat in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection, ogr.wkbMultiSurface, ogr.wkbCurvePolygon):
        for i in range(geom.GetGeometryCount()):
            part = _polygons_only(geom.GetGeometryRef(i))
            if part is not None:
                for j in range(part.GetGeometryCount()):
                    out.AddGeometry(part.GetGeometryRef(j))
    return out if out.GetGeometryCount() else None


def _read_vector(path: str):
    """(union of all polygons as MultiPolygon, layer SRS or None) from every layer of a vector file."""
    from osgeo import ogr


    check_dataset_path(path, "AOI file")
    try:
        with quiet_gdal():
            ds = ogr.Open(path)
    except RuntimeError:
        ds = None
    if ds is None:
        raise SpexInputError(
            f"AOI file {path} is not a vector file GDAL can read: give a GeoPackage, Shapefile or GeoJSON"
        )
    merged = ogr.Geometry(ogr.wkbMultiPolygon)
    srs = None
    for li in range(ds.GetLayerCount()):
        layer = ds.GetLayerByIndex(li)
        layer_srs = layer.GetSpatialRef()
        for feature in layer:
            geom = feature.GetGeometryRef()
            polys = _polygons_only(geom) if geom is not None else None
            if polys is None:
                continue
            if srs is None:
                srs = layer_srs
            elif layer_srs is not None and not layer_srs.IsSame(srs):
                polys = _to_raster_crs(polys, _with_gis_order(layer_srs), _with_gis_order(srs))
            for j in range(polys.GetGeometryCount()):
                merged.AddGeometry(polys.GetGeometryRef(j))
    if merged.GetGeometryCount() == 0:
        raise SpexInputError(f"AOI file {path} contains no polygons: draw or select polygon features")
    return merged, _with_gis_order(srs) if srs is not None else None


def _with_gis_order(srs):
    from osgeo import osr

    srs = srs.Clone()
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def resolve_aoi(aoi: AreaOfInterest | None, source) -> AoiRegion:
    """Clip ``aoi`` to the raster ``source`` (a :class:`~model_runtime.io.raster.RasterSource`).

    None -> the whole raster. Raises :class:`SpexInputError` for an invalid, empty or outside AOI.
    """
    from osgeo import ogr


    full = Window(0, 0, source.width, source.height)
    extent = _box(*source.window_bounds(full))
    gt = tuple(source.geotransform)
    if aoi is None or (aoi.bbox is None and not aoi.wkt and not aoi.vector_path):
        return AoiRegion(full, extent.ExportToWkt(), gt, source.crs_wkt)
    given = [k for k in ("bbox", "wkt", "vector_path") if getattr(aoi, k)]
    if len(given) > 1:
        both = " and ".join(given)
        raise SpexInputError(f"the AOI has both {both}: give only one of bbox, polygon or file")
    raster_srs = source.srs
    rectangle = False
    if aoi.vector_path:
        geom, src_srs = _read_vector(str(aoi.vector_path))
        if src_srs is None and aoi.crs:  # a file without CRS: trust the CRS given with it
            src_srs = _srs(aoi.crs, "AOI")
        what = f"AOI file {os.path.basename(str(aoi.vector_path))}"
    elif aoi.bbox is not None:
        bbox = _check_bbox(aoi.bbox)
        geom = _box(*bbox)
        src_srs = _srs(aoi.crs, "AOI") if aoi.crs else None
        rectangle = src_srs is None or raster_srs is None or src_srs.IsSame(raster_srs)
        what = f"AOI bbox {','.join(f'{v:g}' for v in bbox)}"
    else:

        try:
            with quiet_gdal():
                geom = ogr.CreateGeometryFromWkt(str(aoi.wkt).strip())
        except RuntimeError:
            geom = None
        geom = _polygons_only(geom) if geom is not None else None
        if geom is None:
            raise SpexInputError("the AOI polygon is not polygon WKT: give e.g. POLYGON((x y, x y, ...))")
        src_srs = _srs(aoi.crs, "AOI") if aoi.crs else None
        what = "AOI polygon"
    if geom.GetArea() <= 0:
        raise SpexInputError(f"{what} is empty (zero area): give a polygon or bbox with an area")
    if src_srs is not None and raster_srs is None:
        src_srs = None  # raster without CRS: take the AOI coordinates as they are
    geom = _to_raster_crs(geom, src_srs, raster_srs)
    try:
        geom.CloseRings()  # "POLYGON((0 0,0 1,1 0))": GEOS refuses an open ring
        if not geom.IsValid():
            geom = geom.MakeValid() if hasattr(geom, "MakeValid") else geom.Buffer(0)
            geom = _polygons_only(geom) or geom
        clipped = geom.Intersection(extent)
    except RuntimeError as exc:
        raise SpexInputError(
            f"{what} is not a valid polygon ({' '.join(str(exc).split())[:120]}): fix its rings"
        ) from None
    clipped = _polygons_only(clipped) if clipped is not None and not clipped.IsEmpty() else None
    if clipped is None or clipped.GetArea() <= 0:
        env = geom.GetEnvelope()
        rb = source.window_bounds(full)
        raise SpexInputError(
            f"{what} is outside the raster (AOI {env[0]:.10g},{env[2]:.10g},{env[1]:.10g},{env[3]:.10g}, "
            f"raster {rb[0]:.10g},{rb[1]:.10g},{rb[2]:.10g},{rb[3]:.10g} in the raster CRS): "
            "check the coordinates and the AOI CRS"
        )
    window = _envelope_window(clipped.GetEnvelope(), gt, source.width, source.height)
    if window is None:
        raise SpexInputError(f"{what} covers less than one pixel of the raster: give a larger area")
    wkt = clipped.ExportToWkt()
    return AoiRegion(window, wkt, gt, source.crs_wkt, is_rectangle=rectangle, description=what)


def _check_bbox(bbox) -> Tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise SpexInputError(f"AOI bbox {bbox!r} is not four numbers: give xmin,ymin,xmax,ymax")
    xmin, ymin, xmax, ymax = values
    if xmin >= xmax or ymin >= ymax:
        raise SpexInputError(
            f"AOI bbox {xmin:g},{ymin:g},{xmax:g},{ymax:g} is invalid (need xmin < xmax and ymin < ymax): "
            "give it as xmin,ymin,xmax,ymax"
        )
    return values


def _envelope_window(env, gt, width: int, height: int):
    """Pixels whose centres fall inside the envelope (minx, maxx, miny, maxy), clipped to the raster."""

    minx, maxx, miny, maxy = env
    cols = sorted(((minx - gt[0]) / gt[1], (maxx - gt[0]) / gt[1]))
    rows = sorted(((maxy - gt[3]) / gt[5], (miny - gt[3]) / gt[5]))
    eps = 1e-9
    c0, c1 = max(0, math.floor(cols[0] + 0.5 - eps)), min(width, math.ceil(cols[1] - 0.5 + eps))
    r0, r1 = max(0, math.floor(rows[0] + 0.5 - eps)), min(height, math.ceil(rows[1] - 0.5 + eps))
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(int(c0), int(r0), int(c1 - c0), int(r1 - r0))


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SEP = r"\s*[,;\s]\s*"
_BBOX_RE = re.compile(rf"^\s*({_NUMBER}){_SEP}({_NUMBER}){_SEP}({_NUMBER}){_SEP}({_NUMBER})\s*$")


def aoi_from_cli(aoi: str | None, aoi_crs: str | None) -> AreaOfInterest | None:
    """The CLI's ``--aoi`` with its ``--aoi-crs`` (None without ``--aoi``); ``--aoi-crs`` alone is refused."""
    if aoi:
        return parse_aoi_arg(aoi, crs=aoi_crs)
    if aoi_crs:
        raise SpexInputError("--aoi-crs given without --aoi: add --aoi xmin,ymin,xmax,ymax or drop --aoi-crs")
    return None


def parse_aoi_arg(text: str | None, crs: str | None = None) -> AreaOfInterest | None:
    """The CLI's ``--aoi``: ``"xmin,ymin,xmax,ymax"``, a WKT polygon or a vector file path (None if empty)."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    match = _BBOX_RE.match(text)
    if match:
        bbox = _check_bbox([float(v) for v in match.groups()])
        return AreaOfInterest(bbox=bbox, crs=crs)
    if re.match(r"^\s*(MULTI)?POLYGON\s*(Z|M|ZM)?\s*\(", text, re.IGNORECASE):
        return AreaOfInterest(wkt=text, crs=crs)
    if os.path.lexists(text) or text.startswith("/vsi"):

        check_dataset_path(text, "AOI file")  # a FIFO or device is refused here, before anything reads it
        return AreaOfInterest(vector_path=text, crs=crs)
    raise SpexInputError(
        f"--aoi '{text}' is neither xmin,ymin,xmax,ymax, a WKT polygon nor an existing vector file: fix it"
    )
