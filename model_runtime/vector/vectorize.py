"""Mask raster -> polygons.

``gdal.Polygonize`` (8-connected) turns the MASK_TARGET pixels of an engine's uint8 mask into polygons in
the mask's CRS. The mask is read once, in horizontal bands of at most :data:`MAX_BAND_PIXELS` (one band for a
Sentinel-2 tile), each reduced in place to a 0/1 array (so no-data and other values never become polygons)
and polygonized from memory into an in-memory layer, skipping runs of rows without a target pixel and the
empty columns beside each run; nothing is written to disk here, the writer does one bulk write. The pieces
of a region cut by a band seam are found by their envelopes touching the seam, joined with GEOS where they
really touch (8-connectivity: an edge or a corner) and united.

Each polygon is then optionally simplified (topology preserving), measured, dropped when smaller than the
minimum area (before any other work), and made valid only where needed: raw Polygonize rings are valid
unless a ring touches itself or another ring at a vertex (8-connected pixels), which a numpy check on the
WKB coordinates finds without asking GEOS. Areas are true square metres: planar for projected CRSs with
little scale distortion, and via a Lambert azimuthal equal-area projection centred on the feature for
geographic and Mercator CRSs. Pixel-space area and centroid come with every polygon (an affine map of the
GEOS values), the pixel rings are parsed from the WKB only when asked for.
"""

from __future__ import annotations

import math
import struct
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import SpexInputError
from ..io.mask_raster import MASK_TARGET

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

#: A region in pixel coordinates: its rings (exteriors first, then holes), each a closed (N, 2) float array
#: of x, y (x to the right, y down, 0..width / 0..height). Exterior rings have a positive shoelace area and
#: holes a negative one (see :func:`signed_area`), so multi-part regions stay unambiguous.
PixelRegion = list[np.ndarray]

#: masks smaller than this are traced in one piece (splitting them saves less than the seams cost)
MIN_SPLIT_PIXELS = 4_000_000
#: at most this many pixels per traced band (a band is held at most twice, as uint8, while traced)
MAX_BAND_PIXELS = 128 * 1024 * 1024
#: tracing threads by default. GDAL 3.6's Python bindings hold the GIL inside gdal.Polygonize (measured:
#: two threads take as long as one), so threads only add seams there; ``threads=N`` is for builds that
#: release it.
TRACE_THREADS = 1


class Polygon:
    """One output polygon: geometry in the mask CRS (``wkb``, little-endian), true area ``area_m2``.

    ``rings_px`` are its rings in pixel coordinates (:data:`PixelRegion`: exterior ring(s) first, for a
    multipolygon all parts' rings); when not given they are parsed from the WKB on first use. ``area_px``
    and ``centroid_px`` (pixel-edge coordinates, x right, y down) are set by :func:`polygonize_mask`.
    """

    __slots__ = ("wkb", "area_m2", "area_px", "centroid_px", "_rings_px", "_inv_gt")

    def __init__(
        self,
        wkb: bytes,
        area_m2: float,
        rings_px: PixelRegion | None = None,
        *,
        area_px: float | None = None,
        centroid_px: tuple[float, float] | None = None,
        inv_gt: Sequence[float] | None = None,
    ):
        self.wkb = wkb
        self.area_m2 = area_m2
        self.area_px = area_px
        self.centroid_px = centroid_px
        self._rings_px = rings_px
        self._inv_gt = tuple(inv_gt) if inv_gt is not None else None

    @property
    def rings_px(self) -> PixelRegion:
        """Pixel-coordinate rings, exteriors first (computed from the WKB once, then kept)."""
        if self._rings_px is None:
            if self._inv_gt is None:
                raise ValueError("this Polygon has neither pixel rings nor a geotransform to compute them")
            self._rings_px = _rings_px(ogr.CreateGeometryFromWkb(self.wkb), self._inv_gt)
        return self._rings_px

    def __repr__(self) -> str:
        return f"Polygon(area_m2={self.area_m2!r}, area_px={self.area_px!r}, centroid_px={self.centroid_px})"


@dataclass
class PolygonizeResult:
    """Polygons of one mask, largest first."""

    polygons: list[Polygon]
    crs_wkt: str
    width: int  # mask size in pixels (= the AOI window)
    height: int
    geotransform: tuple[float, ...]
    dropped_small: int = 0  # polygons under ``min_area_m2``
    repaired: int = 0  # invalid geometries fixed with MakeValid / Buffer(0)
    details: dict[str, object] = field(default_factory=dict)

    @property
    def total_area_m2(self) -> float:
        """Sum of the polygons' areas in square metres."""
        return float(sum(p.area_m2 for p in self.polygons))


# --------------------------------------------------------------------------------------------------- areas


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


def _make_valid(geom: ogr.Geometry, known_invalid: bool = False) -> tuple[ogr.Geometry | None, bool]:
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
        return _polygonal_part(fixed), True
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
    return _polygonal_part(fixed), True


def _polygonal_part(geom: ogr.Geometry | None) -> ogr.Geometry | None:
    """Keep only polygons (MakeValid may return collections with lines/points)."""
    if geom is None or geom.IsEmpty():
        return None
    flat = ogr.GT_Flatten(geom.GetGeometryType())
    if flat in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
        return geom
    if flat == ogr.wkbGeometryCollection:
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for i in range(geom.GetGeometryCount()):
            part = _polygonal_part(geom.GetGeometryRef(i))
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


def _geometry_parts(geom: ogr.Geometry) -> list[list[np.ndarray]]:
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


def _rings_px(geom: ogr.Geometry, inv_gt: Sequence[float]) -> PixelRegion:
    """All rings of a (multi)polygon in pixel coordinates, exterior rings first, oriented by role.

    Exterior rings get a positive shoelace area and holes a negative one (in x-right/y-down pixel space),
    so the sum of :func:`signed_area` over a region is its area in pixels.
    """
    exteriors: PixelRegion = []
    holes: PixelRegion = []
    for rings in _geometry_parts(geom):
        for r, pts in enumerate(rings):
            px = inv_gt[0] + inv_gt[1] * pts[:, 0] + inv_gt[2] * pts[:, 1]
            py = inv_gt[3] + inv_gt[4] * pts[:, 0] + inv_gt[5] * pts[:, 1]
            ring_px = np.column_stack([px, py])
            area = signed_area(ring_px)
            if (r == 0 and area < 0) or (r > 0 and area > 0):
                ring_px = ring_px[::-1].copy()
            (exteriors if r == 0 else holes).append(ring_px)
    return exteriors + holes


def _repeated_vertices(parts: list[list[np.ndarray]]) -> int:
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


def _band_plan(width: int, height: int, block_rows: int, threads: int, band_rows: int | None) -> list[tuple]:
    """(first row, row count) of each traced band: one band unless the mask is larger than
    :data:`MAX_BAND_PIXELS` (memory) or several threads are asked for, cut on block rows where possible."""
    if band_rows is None:
        count = -(-width * height // MAX_BAND_PIXELS)
        if threads > 1 and width * height >= MIN_SPLIT_PIXELS:
            count = max(count, threads)
        if count <= 1:
            return [(0, height)]
        band_rows = -(-height // count)
        if block_rows > 1 and band_rows > block_rows:
            band_rows = -(-band_rows // block_rows) * block_rows
    band_rows = max(1, int(band_rows))
    return [(y, min(band_rows, height - y)) for y in range(0, height, band_rows)]


#: empty-row gaps shorter than this do not split a band (a Polygonize call costs more than a few rows)
MIN_ROW_GAP = 16


def _row_runs(binary: np.ndarray, min_gap: int = MIN_ROW_GAP) -> list[tuple[int, int, int, int]]:
    """(first row, end row, first column, end column) of the parts of ``binary`` holding target pixels.

    Rows without a target pixel split the band: no 8-connected region crosses an empty row, so the parts
    are traced separately without any seam, each cropped to its columns. GDAL's cost per pixel is about
    half as high for empty pixels as for busy ones, so this saves most of the time on sparse masks.
    """
    rows = np.flatnonzero(binary.any(axis=1))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) > min_gap)
    starts = np.concatenate([[rows[0]], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], [rows[-1]]]) + 1
    runs = []
    for r0, r1 in zip(starts.tolist(), ends.tolist()):
        cols = np.flatnonzero(binary[r0:r1].any(axis=0))
        runs.append((r0, r1, int(cols[0]), int(cols[-1]) + 1))
    return runs


def _trace_band(mask_path: str, y0: int, rows: int, keep_going: Callable[[float], bool]) -> list:
    """Polygonize the MASK_TARGET pixels of rows ``y0 .. y0 + rows`` into polygons in pixel coordinates of
    the whole mask (x right, y down, pixel edges on integers); own GDAL handles (thread-safe).

    ``keep_going(fraction)`` is GDAL's progress callback: it must not raise, and returns False to stop GDAL.
    """
    from osgeo import gdal_array

    src = gdal.Open(mask_path)
    try:
        values = src.GetRasterBand(1).ReadAsArray(0, y0, src.RasterXSize, rows)
    finally:
        src = None
    np.equal(values, MASK_TARGET, out=values.view(bool))  # 0/1 in place: no-data never becomes a polygon
    pieces: list = []
    for r0, r1, c0, c1 in _row_runs(values):
        part = (
            values[r0:r1] if (c0, c1) == (0, values.shape[1]) else np.ascontiguousarray(values[r0:r1, c0:c1])
        )
        raster = band = vector = layer = None
        try:
            raster = gdal_array.OpenArray(part)  # wraps the array, no copy
            # pixel coordinates of the whole mask (exact small integers): pieces meet exactly at seams
            raster.SetGeoTransform((float(c0), 1.0, 0.0, float(y0 + r0), 0.0, 1.0))
            band = raster.GetRasterBand(1)
            vector = ogr.GetDriverByName("Memory").CreateDataSource("")
            layer = vector.CreateLayer("pieces", geom_type=ogr.wkbPolygon)

            def callback(fraction, _message, _data, r0=r0, r1=r1):
                return 1 if keep_going((r0 + fraction * (r1 - r0)) / rows) else 0

            gdal.Polygonize(band, band, layer, -1, ["8CONNECTED=8"], callback=callback)
            pieces.extend(feature.GetGeometryRef().Clone() for feature in layer)
        finally:
            # release GDAL objects in order, now: an exception would otherwise keep them in this frame and
            # leave their destruction order to the garbage collector (which crashes GDAL's bindings)
            layer = vector = band = raster = None
    keep_going(1.0)
    return pieces


def _trace(mask_path, plan, threads, report, check_cancelled) -> list[list]:
    """Trace every band of ``plan``; per band, its polygon pieces.

    Progress and cancellation never raise inside a GDAL callback: an exception from ``report`` or
    ``check_cancelled`` is kept, the callback returns 0 so GDAL stops, and it is re-raised once GDAL has
    returned. With one thread the callbacks run inside GDAL's progress calls (deterministic); with more,
    the worker threads only record their progress and the calling thread reports and polls.
    """
    fractions = [0.0] * len(plan)
    weights = np.array([rows for _, rows in plan], dtype=np.float64) / max(1, sum(r for _, r in plan))
    failure: list[BaseException] = []

    def overall() -> float:
        return 0.8 * float(np.dot(weights, fractions))

    reported = [-1.0]

    def poll() -> bool:
        try:
            fraction = overall()
            if fraction - reported[0] >= 0.002 or fraction >= 0.8:  # GDAL calls back once per line
                reported[0] = fraction
                report(fraction, "tracing polygons")
            if check_cancelled is not None:
                check_cancelled()
        except BaseException as exc:  # noqa: BLE001 - re-raised after GDAL returns
            failure.append(exc)
            return False
        return True

    def run(k: int, y0: int, rows: int, keep_going) -> list | None:
        try:
            return _trace_band(mask_path, y0, rows, keep_going)
        except RuntimeError as exc:
            if failure or stop.is_set():
                return None  # GDAL stopped because we asked it to; the caller raises
            raise RuntimeError(f"GDAL could not polygonize the mask {mask_path}: {exc}") from None

    stop = threading.Event()
    workers = max(1, min(threads, len(plan)))
    if workers == 1:
        out = []
        for k, (y0, rows) in enumerate(plan):

            def keep_going(fraction: float, k: int = k) -> bool:
                fractions[k] = fraction
                return not failure and poll()

            if not poll():
                break
            out.append(run(k, y0, rows, keep_going))
        if failure:
            raise failure[0]
        return out

    def record(k: int):
        def keep_going(fraction: float) -> bool:
            fractions[k] = fraction
            return not stop.is_set()

        return keep_going

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spex-trace") as pool:
        futures = [pool.submit(run, k, y0, rows, record(k)) for k, (y0, rows) in enumerate(plan)]
        pending = set(futures)
        while pending and poll():
            _done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
        if failure or pending:
            stop.set()
            for future in futures:
                future.cancel()
    if failure or not poll():
        raise failure[0]
    return [future.result() for future in futures]


# --------------------------------------------------------------------------------------------------- seams


def _merge_seams(bands: list[list], plan) -> tuple[list[tuple[ogr.Geometry, bool]], int]:
    """Join the pieces (pixel coordinates) of regions cut by band seams: ``(geometry, is_raw_polygonize
    output)`` per region and the number of pieces that were united."""
    flat = [geom for pieces in bands for geom in pieces]
    if len(plan) == 1:
        return [(g, True) for g in flat], 0
    band_of = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(bands)])
    env = np.array([g.GetEnvelope() for g in flat], dtype=np.float64).reshape(-1, 4)  # minx maxx miny maxy
    col0, col1, r0, r1 = env[:, 0], env[:, 1], env[:, 2], env[:, 3]  # pixel edges: exact integers

    parent = list(range(len(flat)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k in range(len(plan) - 1):
        seam = plan[k + 1][0]
        upper = np.flatnonzero((band_of == k) & (r1 >= seam))
        lower = np.flatnonzero((band_of == k + 1) & (r0 <= seam))
        if not len(upper) or not len(lower):
            continue
        for i in upper:
            near = lower[(col0[lower] <= col1[i]) & (col1[lower] >= col0[i])]
            for j in near:
                if find(i) != find(j) and _touch(flat[i], flat[j]):
                    parent[find(j)] = find(i)

    groups: dict[int, list[int]] = {}
    for i in range(len(flat)):
        groups.setdefault(find(i), []).append(i)
    out: list[tuple[ogr.Geometry, bool]] = []
    merged = 0
    for members in groups.values():
        if len(members) == 1:
            out.append((flat[members[0]], True))
            continue
        merged += len(members)
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for i in members:
            geom, _ = _make_valid(flat[i])
            if geom is None:
                continue
            if ogr.GT_Flatten(geom.GetGeometryType()) == ogr.wkbPolygon:
                multi.AddGeometry(geom)
            else:
                for p in range(geom.GetGeometryCount()):
                    multi.AddGeometry(geom.GetGeometryRef(p))
        out.append((multi.UnionCascaded(), False))
    return out, merged


def _touch(a: ogr.Geometry, b: ogr.Geometry) -> bool:
    """Whether two pieces share at least a point (GEOS; made valid first if GEOS refuses them)."""
    try:
        return bool(a.Intersects(b))
    except RuntimeError:
        a2, _ = _make_valid(a)
        b2, _ = _make_valid(b)
        return a2 is not None and b2 is not None and bool(a2.Intersects(b2))


# --------------------------------------------------------------------------------------------------- API


def polygonize_mask(
    mask_path: str,
    out_layer_path: str | None = None,
    *,
    simplify: float = 0.0,
    min_area_m2: float = 0.0,
    progress: Callable[[float, str], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
    threads: int | None = None,
    band_rows: int | None = None,
) -> PolygonizeResult:
    """Polygonize the MASK_TARGET pixels of ``mask_path`` (8-connected) into valid polygons, largest first.

    ``simplify`` is a topology-preserving Douglas-Peucker tolerance in map units; ``min_area_m2`` drops
    smaller polygons. ``progress(fraction, message)`` and ``check_cancelled()`` (raises, e.g.
    :class:`ExtractionCancelled`) are only ever called from the calling thread, never from inside GDAL; a
    cancel stops GDAL mid-raster. ``threads`` (default :data:`TRACE_THREADS`) and ``band_rows`` (default:
    bands of at most :data:`MAX_BAND_PIXELS`) set how the mask is split for tracing; the polygons do not
    depend on them. ``out_layer_path`` is ignored (kept for existing callers): nothing is written to disk.
    """
    del out_layer_path
    if simplify < 0 or not math.isfinite(simplify):
        raise SpexInputError(
            f"invalid simplify tolerance {simplify}: use 0 (none) or a positive number of map units"
        )
    if min_area_m2 < 0 or not math.isfinite(min_area_m2):
        raise SpexInputError(f"invalid minimum area {min_area_m2}: use 0 (keep all) or a positive area in m2")
    report = progress or (lambda fraction, message: None)

    src = gdal.Open(mask_path)
    crs_wkt = src.GetProjection()
    geotransform = tuple(src.GetGeoTransform())
    width, height = src.RasterXSize, src.RasterYSize
    block_rows = src.GetRasterBand(1).GetBlockSize()[1]
    src = None

    threads = TRACE_THREADS if threads is None else max(1, int(threads))
    plan = _band_plan(width, height, block_rows, int(threads), band_rows)
    bands = _trace(mask_path, plan, int(threads), report, check_cancelled)
    # GEOS reports each self-touching ring of 8-connected regions as a warning: they are repaired below
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        regions, merged = _merge_seams(bands, plan)
        del bands
        polygons, dropped, repaired = clean_polygons(
            regions,
            simplify,
            min_area_m2,
            AreaCalculator(crs_wkt) if crs_wkt else None,
            geotransform,
            report,
            check_cancelled,
        )
    finally:
        gdal.PopErrorHandler()
    polygons.sort(key=lambda p: (-p.area_m2, p.centroid_px[1], p.centroid_px[0]))
    report(1.0, f"{len(polygons)} polygons")
    return PolygonizeResult(
        polygons=polygons,
        crs_wkt=crs_wkt,
        width=width,
        height=height,
        geotransform=geotransform,
        dropped_small=dropped,
        repaired=repaired,
        details={
            "connectivity": 8,
            "simplify": simplify,
            "min_area_m2": min_area_m2,
            "bands": len(plan),
            "seam_pieces_merged": merged,
        },
    )


def _affine_wkb(wkb: bytes, parts: list[list[np.ndarray]], gt: Sequence[float]) -> bytes:
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


def clean_polygons(regions, simplify, min_area_m2, areas, geotransform, report, check_cancelled):
    """Measure, filter, repair (only where needed), map to the CRS and simplify the traced regions.

    Regions come in pixel coordinates: exact integers, so the vertex check and repairs are exact and the
    pixel area and centroid come straight from GEOS; one affine map then gives the CRS coordinates.
    """
    polygons: list[Polygon] = []
    dropped = repaired = 0
    gt = geotransform
    inv_gt = gdal.InvGeoTransform(gt)
    pixel_area = abs(gt[1] * gt[5] - gt[2] * gt[4])  # map units squared per pixel
    factor = 1.0 if areas is None else areas.planar_factor  # None: not planar, measured per feature
    total = max(len(regions), 1)

    for i, (geom, raw) in enumerate(regions):
        if i % 500 == 0:
            report(0.8 + 0.2 * i / total, "cleaning polygons")
            if check_cancelled is not None:
                check_cancelled()
        if geom is None or geom.IsEmpty():
            continue
        area_px = geom.GetArea()
        if area_px <= 0 or (
            factor is not None and simplify <= 0 and area_px * pixel_area * factor < min_area_m2
        ):
            dropped += 1  # before any validity work
            continue
        wkb = geom.ExportToWkb(ogr.wkbNDR)
        parts = wkb_polygons(wkb)
        repeats = 1 if not raw or parts is None else _repeated_vertices(parts)
        if repeats:
            geom, fixed = _make_valid(geom, known_invalid=repeats == 2)
            if geom is None:
                dropped += 1
                continue
            if fixed:
                repaired += 1
                area_px = geom.GetArea()
                wkb = geom.ExportToWkb(ogr.wkbNDR)
                parts = wkb_polygons(wkb)
            if parts is None:
                raise RuntimeError(f"unexpected geometry from GEOS: {geom.GetGeometryName()}")
        wkb_map = _affine_wkb(wkb, parts, gt)
        geom_map = None
        centroid = geom.Centroid()
        centroid_px = (centroid.GetX(), centroid.GetY())
        if simplify > 0:  # a tolerance in map units: simplify the mapped geometry
            geom_map, fixed = _make_valid(
                ogr.CreateGeometryFromWkb(wkb_map).SimplifyPreserveTopology(simplify)
            )
            repaired += int(fixed)
            if geom_map is None:
                dropped += 1
                continue
            wkb_map = geom_map.ExportToWkb(ogr.wkbNDR)
            area_px = geom_map.GetArea() / pixel_area
            c = geom_map.Centroid()
            x, y = c.GetX(), c.GetY()
            centroid_px = (
                inv_gt[0] + inv_gt[1] * x + inv_gt[2] * y,
                inv_gt[3] + inv_gt[4] * x + inv_gt[5] * y,
            )
        if factor is not None:
            area = area_px * pixel_area * factor
        else:
            area = areas.area_m2(geom_map if geom_map is not None else ogr.CreateGeometryFromWkb(wkb_map))
        if area <= 0 or area < min_area_m2:
            dropped += 1
            continue
        polygons.append(
            Polygon(wkb_map, float(area), area_px=float(area_px), centroid_px=centroid_px, inv_gt=inv_gt)
        )
    return polygons, dropped, repaired


def regions_from_array(mask: np.ndarray, target: int = MASK_TARGET) -> list[PixelRegion]:
    """Connected regions (8-connected) of ``mask == target`` as pixel-coordinate rings, largest first.

    Used for SPIE attributes on an in-memory tile: the array is wrapped in a MEM dataset with an identity
    geotransform, so polygon coordinates are pixel coordinates (x right, y down).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    binary = (mask == target).astype(np.uint8)
    if not binary.any():
        return []
    height, width = binary.shape
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    mem.SetGeoTransform((0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    band = mem.GetRasterBand(1)
    band.WriteArray(binary)
    vector = ogr.GetDriverByName("Memory").CreateDataSource("regions")
    layer = vector.CreateLayer("regions", geom_type=ogr.wkbPolygon)
    gdal.Polygonize(band, band, layer, -1, ["8CONNECTED=8"])
    identity = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    regions = []
    for feature in layer:
        rings = _rings_px(feature.GetGeometryRef(), identity)
        regions.append((sum(signed_area(r) for r in rings), rings))
    regions.sort(key=lambda item: item[0], reverse=True)
    return [rings for _, rings in regions]
