"""Geometry helpers of the vectoriser: true areas in square metres, validity repair only where needed, and
fast access to the rings of 2-D little-endian (multi)polygon WKB as numpy views (pixel rings, affine maps).
"""

from __future__ import annotations

import math
import struct
from typing import Sequence

import numpy as np
from osgeo import ogr, osr

ogr.UseExceptions()
osr.UseExceptions()

#: A region in pixel coordinates: its rings (exteriors first, then holes), each a closed (N, 2) float array
#: of x, y (x to the right, y down, 0..width / 0..height). Exterior rings have a positive shoelace area and
#: holes a negative one (see :func:`signed_area`), so multi-part regions stay unambiguous.
PixelRegion = list[np.ndarray]


class AreaCalculator:
    """Area in square metres of geometries expressed in a given CRS."""

    def __init__(self, crs_wkt: str):
        self._srs = osr.SpatialReference()
        self._srs.ImportFromWkt(crs_wkt)
        self._srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self._planar_factor: float | None = None
        projection = (self._srs.GetAttrValue("PROJECTION") or "").lower()
        mercator = "mercator" in projection and "transverse" not in projection
        if self._srs.IsProjected() and not mercator:
            self._planar_factor = self._srs.GetLinearUnits() ** 2
        elif not self._srs.IsGeographic() and not self._srs.IsProjected():
            # local/engineering CRS: map units are all we have; assume metres like GDAL does
            self._planar_factor = 1.0
        self._geographic = self._srs.CloneGeogCS()
        self._geographic.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        self._to_geographic = None
        self._laea_cache: dict[tuple[int, int], osr.CoordinateTransformation] = {}

    @property
    def planar_factor(self) -> float | None:
        """Square metres per squared map unit when :attr:`planar`, else None."""
        return self._planar_factor

    @property
    def planar(self) -> bool:
        """True when the CRS's map units give areas directly (projected, no strong scale distortion)."""
        return self._planar_factor is not None

    def area_m2(self, geom: ogr.Geometry) -> float:
        """True area of ``geom`` (in this CRS) in square metres."""
        if self._planar_factor is not None:
            return geom.GetArea() * self._planar_factor
        if self._to_geographic is None:
            self._to_geographic = osr.CoordinateTransformation(self._srs, self._geographic)
        centroid = geom.Centroid()
        centroid.Transform(self._to_geographic)
        lon, lat = centroid.GetX(), centroid.GetY()
        # one LAEA per half-degree cell: area error far below 0.01 % for features within a few degrees
        key = (int(math.floor(lon * 2)), int(math.floor(lat * 2)))
        transform = self._laea_cache.get(key)
        if transform is None:
            laea = osr.SpatialReference()
            laea.CopyGeogCSFrom(self._geographic)
            laea.SetLAEA((key[1] + 0.5) / 2, (key[0] + 0.5) / 2, 0.0, 0.0)
            laea.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            transform = osr.CoordinateTransformation(self._srs, laea)
            self._laea_cache[key] = transform
        projected = geom.Clone()
        projected.Transform(transform)
        return projected.GetArea()


# --------------------------------------------------------------------------------------------------- helpers


def make_valid(geom: ogr.Geometry, known_invalid: bool = False) -> tuple[ogr.Geometry | None, bool]:
    """A valid (multi)polygon for ``geom`` (None if nothing areal is left) and whether it was repaired
    (``known_invalid``: skip the first validity test).

    Polygonize output is only ever invalid by rings touching themselves at a vertex (8-connected pixels):
    ``Buffer(0)`` fixes that exactly and is ~20x faster than GEOS MakeValid, so it is tried first and kept
    when the area is unchanged; anything else goes through MakeValid (STRUCTURE method when available).
    """
    if not known_invalid and geom.IsValid():
        return geom, False
    area = geom.GetArea()
    fixed = geom.Buffer(0)
    if fixed is not None and fixed.IsValid() and abs(fixed.GetArea() - area) <= 1e-9 * max(area, 1e-30):
        return polygonal_part(fixed), True
    fixed = None
    for options in (["METHOD=STRUCTURE"], None):
        try:
            fixed = geom.MakeValid(options) if options else geom.MakeValid()
        except (RuntimeError, AttributeError, TypeError):
            fixed = None
        if fixed is not None and fixed.IsValid():
            break
    if fixed is None or not fixed.IsValid():
        fixed = geom.Buffer(0)
    return polygonal_part(fixed), True


def polygonal_part(geom: ogr.Geometry | None) -> ogr.Geometry | None:
    """Keep only polygons (MakeValid may return collections with lines/points)."""
    if geom is None or geom.IsEmpty():
        return None
    flat = ogr.GT_Flatten(geom.GetGeometryType())
    if flat in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
        return geom
    if flat == ogr.wkbGeometryCollection:
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for i in range(geom.GetGeometryCount()):
            part = polygonal_part(geom.GetGeometryRef(i))
            if part is None:
                continue
            if ogr.GT_Flatten(part.GetGeometryType()) == ogr.wkbPolygon:
                multi.AddGeometry(part)
            else:
                for j in range(part.GetGeometryCount()):
                    multi.AddGeometry(part.GetGeometryRef(j))
        return multi if multi.GetGeometryCount() else None
    return None


def signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a closed ring in pixel coordinates: > 0 for exterior rings, < 0 for holes."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def wkb_polygons(wkb: bytes) -> list[list[np.ndarray]] | None:
    """Rings (closed (N, 2) float64 views) of each part of a 2-D little-endian Polygon or MultiPolygon WKB;
    None for any other geometry type or encoding."""
    buf = memoryview(wkb)

    def polygon(off: int) -> tuple[list[np.ndarray] | None, int]:
        if buf[off] != 1 or struct.unpack_from("<I", buf, off + 1)[0] != ogr.wkbPolygon:
            return None, off
        (count,) = struct.unpack_from("<I", buf, off + 5)
        off += 9
        rings = []
        for _ in range(count):
            (n,) = struct.unpack_from("<I", buf, off)
            rings.append(np.frombuffer(buf, "<f8", 2 * n, off + 4).reshape(n, 2))
            off += 4 + 16 * n
        return rings, off

    if len(buf) < 9 or buf[0] != 1:
        return None
    gtype, count = struct.unpack_from("<II", buf, 1)
    if gtype == ogr.wkbPolygon:
        rings, _ = polygon(0)
        return None if rings is None else [rings]
    if gtype != ogr.wkbMultiPolygon:
        return None
    parts, off = [], 9
    for _ in range(count):
        rings, off = polygon(off)
        if rings is None:
            return None
        parts.append(rings)
    return parts


def geometry_parts(geom: ogr.Geometry) -> list[list[np.ndarray]]:
    """Rings of each polygon of ``geom`` as float64 arrays in its own coordinates."""
    parts = wkb_polygons(geom.ExportToWkb(ogr.wkbNDR))
    if parts is not None:
        return parts
    flat = geom.Clone()  # 2.5D or curved: flatten, then read point by point
    flat.FlattenTo2D()
    polys = (
        [flat]
        if ogr.GT_Flatten(flat.GetGeometryType()) == ogr.wkbPolygon
        else [flat.GetGeometryRef(i) for i in range(flat.GetGeometryCount())]
    )
    return [
        [
            np.asarray(ring.GetPoints(), dtype=np.float64)[:, :2]
            for ring in (p.GetGeometryRef(r) for r in range(p.GetGeometryCount()))
        ]
        for p in polys
    ]


def pixel_rings(geom: ogr.Geometry, inv_gt: Sequence[float]) -> PixelRegion:
    """All rings of a (multi)polygon in pixel coordinates, exterior rings first, oriented by role.

    Exterior rings get a positive shoelace area and holes a negative one (in x-right/y-down pixel space),
    so the sum of :func:`signed_area` over a region is its area in pixels.
    """
    exteriors: PixelRegion = []
    holes: PixelRegion = []
    for rings in geometry_parts(geom):
        for r, pts in enumerate(rings):
            px = inv_gt[0] + inv_gt[1] * pts[:, 0] + inv_gt[2] * pts[:, 1]
            py = inv_gt[3] + inv_gt[4] * pts[:, 0] + inv_gt[5] * pts[:, 1]
            ring_px = np.column_stack([px, py])
            area = signed_area(ring_px)
            if (r == 0 and area < 0) or (r > 0 and area > 0):
                ring_px = ring_px[::-1].copy()
            (exteriors if r == 0 else holes).append(ring_px)
    return exteriors + holes


def repeated_vertices(parts: list[list[np.ndarray]]) -> int:
    """0: all vertices distinct; 1: only different rings share a vertex; 2: a ring repeats a vertex.

    Rings traced from pixels cross nowhere and only ever touch at pixel corners, where both turn: a
    Polygonize polygon without a repeated vertex is valid, and one whose ring repeats a vertex (touches
    itself) is invalid; rings touching each other need GEOS to tell. This replaces most IsValid calls.
    """
    rings = [r[:-1] for p in parts for r in p]
    if len(rings) == 1:
        keys = rings[0][:, 0] + 1j * rings[0][:, 1]
        return 2 if np.unique(keys).size != keys.size else 0
    pts = np.concatenate(rings)
    ids = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    order = np.lexsort((ids, pts[:, 1], pts[:, 0]))
    pts, ids = pts[order], ids[order]
    same = (pts[1:] == pts[:-1]).all(axis=1)
    if not same.any():
        return 0
    return 2 if (same & (ids[1:] == ids[:-1])).any() else 1


# --------------------------------------------------------------------------------------------------- tracing


def affine_wkb(wkb: bytes, parts: list[list[np.ndarray]], gt: Sequence[float]) -> bytes:
    """``wkb`` (2-D little-endian (multi)polygon; ``parts`` are its rings, views on it) with every
    coordinate mapped through the geotransform: x' = gt0 + gt1 x + gt2 y, y' = gt3 + gt4 x + gt5 y."""
    out = bytearray(wkb)
    start = np.frombuffer(wkb, dtype=np.uint8).__array_interface__["data"][0]
    for rings in parts:
        for ring in rings:
            offset = ring.__array_interface__["data"][0] - start
            mapped = np.frombuffer(out, "<f8", ring.size, offset).reshape(ring.shape)
            x, y = ring[:, 0], ring[:, 1]
            mapped[:, 0] = gt[0] + gt[1] * x + gt[2] * y
            mapped[:, 1] = gt[3] + gt[4] * x + gt[5] * y
    return bytes(out)
