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
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import SpexInputError
from ..io.mask_raster import MASK_TARGET
from .geometry import (
    AreaCalculator,
    PixelRegion,
    affine_wkb,
    make_valid,
    pixel_rings,
    repeated_vertices,
    signed_area,
    wkb_polygons,
)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()


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
            self._rings_px = pixel_rings(ogr.CreateGeometryFromWkb(self.wkb), self._inv_gt)
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
            geom, _ = make_valid(flat[i])
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
        a2, _ = make_valid(a)
        b2, _ = make_valid(b)
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
        repeats = 1 if not raw or parts is None else repeated_vertices(parts)
        if repeats:
            geom, fixed = make_valid(geom, known_invalid=repeats == 2)
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
        wkb_map = affine_wkb(wkb, parts, gt)
        geom_map = None
        centroid = geom.Centroid()
        centroid_px = (centroid.GetX(), centroid.GetY())
        if simplify > 0:  # a tolerance in map units: simplify the mapped geometry
            geom_map, fixed = make_valid(
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
        rings = pixel_rings(feature.GetGeometryRef(), identity)
        regions.append((sum(signed_area(r) for r in rings), rings))
    regions.sort(key=lambda item: item[0], reverse=True)
    return [rings for _, rings in regions]
