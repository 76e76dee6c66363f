"""Merge the chunks of one raster into the polygons a single run on the whole raster gives.

Each chunk was extracted on its grown window (core + overlap) without simplification or area filter, so its
polygons have pixel-edge vertices and, inside its core, trace exactly the whole-raster mask (the overlap is
at least the cleanup's context, see :mod:`model_runtime.batching.inputs`). Here, in the whole raster's pixel
space, where every vertex is an exact integer:

1. every chunk polygon is clipped to its chunk's core and split into connected parts;
2. parts that touch across a core border (8-connectivity: an edge or a corner), or that came from one chunk
   polygon, are joined (union-find, then one GEOS union per group): the groups are the 8-connected regions
   of the whole mask;
3. the regions go through the same measuring, simplification, area filter, ordering, SPIE attributes and
   writer as a single run (:mod:`model_runtime.vector.vectorize`,
   :func:`model_runtime.pipeline.region_dicts`).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr

from ..errors import SpexInputError
from .inputs import Chunk, ChunkGrid

gdal.UseExceptions()
ogr.UseExceptions()

#: largest distance of a chunk vertex from a pixel corner (pixels): more means the chunk was simplified
_GRID_TOLERANCE = 1e-6


def _pixel_geometry(geom: ogr.Geometry, inv_gt: Sequence[float]) -> ogr.Geometry:
    """``geom`` (raster CRS) in whole-raster pixel coordinates, snapped to the exact pixel corners."""
    from ..vector.geometry import wkb_polygons  # the WKB ring parser the vectorizer uses (views, no copies)

    wkb = bytearray(geom.ExportToWkb(ogr.wkbNDR))
    parts = wkb_polygons(wkb)
    if parts is None:
        raise SpexInputError(f"unexpected {geom.GetGeometryName()} in a chunk output: re-run the batch")
    for rings in parts:
        for ring in rings:
            x, y = ring[:, 0].copy(), ring[:, 1].copy()
            px = inv_gt[0] + inv_gt[1] * x + inv_gt[2] * y
            py = inv_gt[3] + inv_gt[4] * x + inv_gt[5] * y
            snapped_x, snapped_y = np.round(px), np.round(py)
            off = max(float(np.abs(px - snapped_x).max()), float(np.abs(py - snapped_y).max()))
            if off > _GRID_TOLERANCE:
                raise SpexInputError(
                    "a chunk output is not on the raster's pixel grid (simplified or edited?): "
                    "delete the batch's chunks folder and re-run"
                )
            ring[:, 0], ring[:, 1] = snapped_x, snapped_y
    return ogr.CreateGeometryFromWkb(bytes(wkb))


def _polygons_of(geom: Optional[ogr.Geometry]) -> List[ogr.Geometry]:
    """The single polygons in ``geom`` (clipping may return multipolygons or collections)."""
    if geom is None or geom.IsEmpty():
        return []
    flat = ogr.GT_Flatten(geom.GetGeometryType())
    if flat == ogr.wkbPolygon:
        return [geom.Clone()]
    if flat in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
        out: List[ogr.Geometry] = []
        for i in range(geom.GetGeometryCount()):
            out += _polygons_of(geom.GetGeometryRef(i))
        return out
    return []  # lines/points where a polygon only touches the core edge


def _box(x0: float, y0: float, x1: float, y1: float) -> ogr.Geometry:
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        ring.AddPoint_2D(x, y)
    box = ogr.Geometry(ogr.wkbPolygon)
    box.AddGeometry(ring)
    return box


class _Part:
    __slots__ = ("geom", "chunk", "source", "env", "candidate")

    def __init__(self, geom, chunk: int, source: int, candidate: bool):
        self.geom = geom
        self.chunk = chunk
        self.source = source  # running number of the chunk polygon it came from
        self.env = geom.GetEnvelope()  # minx, maxx, miny, maxy
        self.candidate = candidate  # may touch a part of another chunk or of the same chunk polygon


def core_parts(
    grid: ChunkGrid, outputs: Sequence[Tuple[Chunk, Optional[str]]], check_cancelled=None
) -> Tuple[List[_Part], int]:
    """Every chunk polygon clipped to its core, in pixel space, split into parts; and the number of chunk
    polygons read."""
    inv_gt = gdal.InvGeoTransform(grid.geotransform)
    parts: List[_Part] = []
    sources = 0
    for index, (chunk, path) in enumerate(outputs):
        if check_cancelled is not None:
            check_cancelled()
        if not path:
            continue  # a chunk of no-data only
        x0, y0, w, h = chunk.core
        x1, y1 = x0 + w, y0 + h
        inner = (x0 > 0, x1 < grid.width, y0 > 0, y1 < grid.height)  # edges shared with another chunk
        core = _box(x0, y0, x1, y1)
        ds = ogr.Open(path)
        layer = ds.GetLayer(0)
        for feature in layer:
            geom = feature.GetGeometryRef()
            if geom is None or geom.IsEmpty():
                continue
            pixel = _pixel_geometry(geom, inv_gt)
            sources += 1
            minx, maxx, miny, maxy = pixel.GetEnvelope()
            if minx >= x0 and maxx <= x1 and miny >= y0 and maxy <= y1:
                pieces, clipped = [pixel], False
            elif maxx <= x0 or minx >= x1 or maxy <= y0 or miny >= y1:
                continue  # wholly in the overlap: another chunk's core holds it
            else:
                pieces, clipped = _polygons_of(pixel.Intersection(core)), True
            for piece in pieces:
                env = piece.GetEnvelope()
                at_border = (
                    (inner[0] and env[0] <= x0)
                    or (inner[1] and env[1] >= x1)
                    or (inner[2] and env[2] <= y0)
                    or (inner[3] and env[3] >= y1)
                )
                parts.append(_Part(piece, index, sources, at_border or (clipped and len(pieces) > 1)))
        ds = None
    return parts, sources


def join_parts(parts: List[_Part], check_cancelled=None) -> Tuple[List[Tuple[ogr.Geometry, bool]], int]:
    """Group the parts into the whole raster's 8-connected regions; returns ``(geometry, False)`` per region
    (the vectorizer's region format) and the number of parts that were joined."""
    parent = list(range(len(parts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    candidates = sorted((i for i, p in enumerate(parts) if p.candidate), key=lambda i: parts[i].env[0])
    active: List[int] = []
    for n, i in enumerate(candidates):
        if check_cancelled is not None and n % 2000 == 0:
            check_cancelled()
        a = parts[i]
        active = [j for j in active if parts[j].env[1] >= a.env[0]]  # sweep: still overlapping in x
        for j in active:
            b = parts[j]
            if b.env[3] < a.env[2] or b.env[2] > a.env[3]:
                continue
            if b.chunk == a.chunk and b.source != a.source:
                continue  # two regions of one chunk never touch: they would be one region
            if find(i) != find(j) and a.geom.Intersects(b.geom):
                parent[find(j)] = find(i)
        active.append(i)

    groups: Dict[int, List[int]] = {}
    for i in range(len(parts)):
        groups.setdefault(find(i), []).append(i)
    regions: List[Tuple[ogr.Geometry, bool]] = []
    joined = 0
    for members in groups.values():
        if len(members) == 1:
            regions.append((parts[members[0]].geom, False))
            continue
        joined += len(members)
        multi = ogr.Geometry(ogr.wkbMultiPolygon)
        for i in members:
            multi.AddGeometry(parts[i].geom)
        regions.append((multi.UnionCascaded(), False))
    return regions, joined


def mosaic_explanation(
    raster: str,
    grid: ChunkGrid,
    chunk_details: List[Dict[str, Any]],
    count: int,
    area_m2: float,
    joined: int,
    language: str,
) -> str:
    """The explanation stored with a merged mosaic: how it was cut and merged and the rule of its chunks
    (each chunk's own full explanation stays in its output)."""
    rules = sorted({str(d.get("rule_text")) for d in chunk_details if d.get("rule_text")})
    area = f"{area_m2 / 1e6:,.3f} km²" if area_m2 >= 1e5 else f"{area_m2:,.0f} m²"
    name = os.path.basename(raster)
    if language == "zh":
        text = (
            f"{name} 被切分为 {len(grid.chunks)} 块（{grid.chunk_size[0]}×{grid.chunk_size[1]} 像素，重叠 "
            f"{grid.overlap} 像素）分别提取，跨块边界的多边形已合并（{joined} 个片段）："
            f"共 {count} 个区域，{area}。"
        )
        if rules:
            text += " 判别规则：" + "；".join(rules) + "。"
        return text
    width, height = grid.chunk_size
    text = (
        f"{name} was cut into {len(grid.chunks)} chunks of {width} x {height} pixels "
        f"(overlap {grid.overlap} px), each extracted on its own; polygons crossing chunk borders were "
        f"merged ({joined} pieces joined): {count} regions, {area} in all."
    )
    if rules:
        text += " Rule: " + "; ".join(rules) + "."
    return text


def merge_chunks(
    grid: ChunkGrid,
    outputs: Sequence[Tuple[Chunk, Optional[str]]],
    output: str,
    *,
    prompt: str,
    engine: str,
    simplify: float = 0.0,
    min_area_m2: float = 0.0,
    language: Optional[str] = None,
    chunk_details: Optional[List[Dict[str, Any]]] = None,
    check_cancelled=None,
) -> Dict[str, Any]:
    """Write the merged polygons of ``grid``'s chunk ``outputs`` (path None: a no-data chunk) to
    ``output`` (atomic, replaces it), with the fields of a single run; returns counts for the manifest."""
    from ..pipeline import feature_values, region_dicts
    from ..prompts import parse_prompt
    from ..vector.geometry import AreaCalculator
    from ..vector.vectorize import clean_polygons  # the single run's polygon cleanup
    from ..vector.writers import Feature, layer_name_from_prompt, output_format, write_features

    target = parse_prompt(prompt, language)
    parts, read = core_parts(grid, outputs, check_cancelled)
    regions, joined = join_parts(parts, check_cancelled)
    gt = grid.geotransform
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        polygons, dropped, _repaired = clean_polygons(
            regions,
            float(simplify),
            float(min_area_m2),
            AreaCalculator(grid.crs_wkt) if grid.crs_wkt else None,
            gt,
            lambda fraction, message: None,
            check_cancelled,
        )
    finally:
        gdal.PopErrorHandler()
    polygons.sort(key=lambda p: (-p.area_m2, p.centroid_px[1], p.centroid_px[0]))
    attributes = region_dicts(polygons, grid.width, grid.height)
    total_area = float(sum(p.area_m2 for p in polygons))
    explanation = mosaic_explanation(
        grid.raster,
        grid,
        chunk_details or [],
        len(polygons),
        total_area,
        joined,
        language or target.language,
    )
    gt_out = gt if output_format(output) != "GeoJSON" else None
    features = [  # the fields a single run writes, by the same rule
        Feature(polygon.wkb, feature_values(target, engine, i, polygon, attrs, explanation, None, gt_out))
        for i, (polygon, attrs) in enumerate(zip(polygons, attributes))
    ]
    written = write_features(
        output,
        features,
        grid.crs_wkt,
        layer_name=layer_name_from_prompt(target.phrase, default=target.target_class),
        explanation=explanation,
        overwrite=True,
        check_cancelled=check_cancelled,
    )
    return {
        "output": written.path,
        "layer": written.layer,
        "features": written.features,
        "area_m2": round(total_area, 2),
        "chunks": len(grid.chunks),
        "chunk_polygons": read,
        "pieces_joined": joined,
        "dropped_small": dropped,
    }
