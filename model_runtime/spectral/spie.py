"""SPIE region attributes in the exact text format of the official SPEX prompts.

Format facts (official ``demo/*.txt`` of MiliLab/SPEX)::

    <image>\\nBased on the provided image and the attributes of the vegetation regions, please provide a
    detailed description of them:[{'Size of area': 'huge', 'Centroid': [0.48, 0.422], 'Location': 'center',
    'Bounding box': [[0.09, 0.0], [0.998, 0.0], [0.998, 0.963], [0.09, 0.963]]}, ...]

* the ``\\n`` after ``<image>`` is a literal backslash followed by ``n`` (two characters), as in the files;
* one dict per connected region, largest first, Python ``repr`` (single quotes), numbers rounded to
  3 decimals;
* coordinates are pixel *index* / tile size, x then y: a region touching the right edge of a 512 tile ends at
  511/512 = 0.998. Our regions are polygons in pixel-*edge* coordinates (a pixel spans [i, i+1]), so the
  centroid is shifted by -0.5 px and the rectangle is shrunk by 0.5 px on each side before dividing;
  values are clipped to [0, 1] (the demo shows 1.0 where a rotated rectangle leaves the tile);
* ``Centroid``: area-weighted polygon centroid = centroid of the pixel moments (m10/m00, m01/m00). OpenCV
  gives [0.0, 0.0] for one-pixel regions (zero contour area); we give the pixel's real position instead;
* ``Bounding box``: corners of the minimum-area rotated rectangle (rotating calipers over the convex hull),
  ordered clockwise on screen (y down) starting at the corner whose outgoing side points most nearly along +x
  (direction angle in (-45°, 45°]); an upright box is therefore [top-left, top-right, bottom-right,
  bottom-left], as in the demo files. This matches 15 of the 16 non-clipped boxes in the demo files (OpenCV's
  own start corner depends on which hull edge supports the rectangle);
* ``Location``: the centroid's cell of a 3 x 3 grid cut at thirds;
* ``Size of area``: the region's share of the tile area, levels in :data:`SIZE_LEVELS` (thresholds are not
  published; ours were estimated from the region sizes in the demo files).
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

#: (minimum area fraction, level), checked in order
SIZE_LEVELS: Tuple[Tuple[float, str], ...] = (
    (0.25, "huge"),
    (0.05, "large"),
    (0.01, "somewhat large"),
    (0.005, "medium"),
    (0.002, "small"),
    (0.0, "very tiny"),
)

#: regions listed in the LLM prompt: every official demo prompt lists at most 10
MAX_PROMPT_REGIONS = 10

#: the official prompt, with its literal backslash-n (two characters) after <image>
SPEX_PROMPT_TEMPLATE = (
    "<image>\\nBased on the provided image and the attributes of the {phrase} regions, "
    "please provide a detailed description of them:{attributes}"
)

_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "center", "right")


def size_level(fraction: float) -> str:
    """SPIE size level of a region covering ``fraction`` of the tile (see :data:`SIZE_LEVELS`)."""
    for minimum, level in SIZE_LEVELS:
        if fraction >= minimum:
            return level
    return SIZE_LEVELS[-1][1]


def location_name(cx: float, cy: float) -> str:
    """3 x 3 grid cell of a normalised point (x right, y down): 'top-left' ... 'center' ... 'bottom-right'."""
    col = _COLS[min(2, max(0, int(cx * 3)))]
    row = _ROWS[min(2, max(0, int(cy * 3)))]
    if row == "middle" and col == "center":
        return "center"
    return f"{row}-{col}"


def _ring_area_centroid(ring: np.ndarray) -> Tuple[float, float, float]:
    """Signed area (shoelace) and area moments sum(x dA), sum(y dA) of one ring."""
    x, y = ring[:, 0], ring[:, 1]
    if len(ring) < 3:
        return 0.0, 0.0, 0.0
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    area = cross.sum() / 2.0
    mx = ((x + x1) * cross).sum() / 6.0
    my = ((y + y1) * cross).sum() / 6.0
    return float(area), float(mx), float(my)


def _points_in_ring(px: np.ndarray, py: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Even-odd test of many points against one closed ring (vectorised over points and edges)."""
    x, y = ring[:-1, 0][None, :], ring[:-1, 1][None, :]
    x1, y1 = ring[1:, 0][None, :], ring[1:, 1][None, :]
    py, px = py[:, None], px[:, None]
    crosses = (y > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = x + (py - y) * (x1 - x) / (y1 - y)
    return np.count_nonzero(crosses & (px < xint), axis=1) % 2 == 1


def _interior_probe(ring: np.ndarray, area: float) -> Tuple[float, float]:
    """A point just inside ``ring``: beside the middle of its longest edge, on the interior side.

    Not a vertex: rings of 8-connected regions touch each other at vertices, where an even-odd test is
    ambiguous.
    """
    d = np.diff(ring, axis=0)
    k = int(np.argmax(np.hypot(d[:, 0], d[:, 1])))
    length = float(np.hypot(*d[k])) or 1.0
    normal = np.array([-d[k][1], d[k][0]]) / length * (1.0 if area > 0 else -1.0)  # left side if CCW
    probe = ring[k] + d[k] / 2 + normal * length * 1e-6
    return float(probe[0]), float(probe[1])


def _ring_signs(rings: Sequence[np.ndarray], areas: Sequence[float]) -> List[int]:
    """+1 for an exterior ring, -1 for a hole.

    Rings oriented like the first ring (always an exterior) are exteriors. When every ring has the same
    orientation (several parts without holes, or a producer that does not orient holes), the nesting
    depth of a point inside each ring decides.
    """
    ref = np.sign(areas[0]) or 1.0
    signs = [1 if (np.sign(a) or ref) == ref else -1 for a in areas]
    if len(rings) == 1 or any(s < 0 for s in signs):
        return signs
    closed = [r if len(r) < 2 or np.array_equal(r[0], r[-1]) else np.vstack([r, r[:1]]) for r in rings]
    probes = np.array([_interior_probe(r, a) for r, a in zip(closed, areas)])
    depth = np.zeros(len(rings), dtype=np.int64)
    for j, ring in enumerate(closed):
        inside = _points_in_ring(probes[:, 0], probes[:, 1], ring)
        inside[j] = False
        depth += inside
    return [-1 if d % 2 else 1 for d in depth.tolist()]


def region_area_centroid(rings: Sequence[np.ndarray]) -> Tuple[float, float, float]:
    """(area in px, cx, cy) of a region (rings in pixel-edge coordinates, exterior first, then holes)."""
    parts = [_ring_area_centroid(np.asarray(r, dtype=np.float64)) for r in rings]
    signs = _ring_signs(rings, [p[0] for p in parts])
    area = sum(s * abs(p[0]) for s, p in zip(signs, parts))
    # moments have the sign of the ring's orientation: normalise each to a positive-area ring first
    mx = sum(s * (p[1] if p[0] >= 0 else -p[1]) for s, p in zip(signs, parts))
    my = sum(s * (p[2] if p[0] >= 0 else -p[2]) for s, p in zip(signs, parts))
    if area <= 0:
        pts = np.concatenate([np.asarray(r, dtype=np.float64) for r in rings])
        return 0.0, float(pts[:, 0].mean()), float(pts[:, 1].mean())
    return float(area), mx / area, my / area


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull, counter-clockwise in a y-up frame, starting at the smallest (x, y), no repeated or
    collinear point; fewer than 3 distinct points come back sorted (x, then y), collinear ones as the two
    ends. GEOS computes it (C, O(n log n)); the numpy fallback is Andrew's monotone chain."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) >= 3:
        hull = _geos_hull(pts)
        if hull is not None:
            return hull
    return _monotone_chain(pts)


def _geos_hull(pts: np.ndarray) -> np.ndarray | None:
    """GEOS convex hull of a LineString built straight from the coordinates (WKB), None if unavailable."""
    try:
        from osgeo import ogr
    except ImportError:  # pragma: no cover - GDAL is a hard dependency of the runtime
        return None
    if not np.isfinite(pts).all():
        return None
    pts = _drop_interior(pts)
    wkb = struct.pack("<BII", 1, ogr.wkbLineString, len(pts)) + np.ascontiguousarray(pts, "<f8").tobytes()
    hull = ogr.CreateGeometryFromWkb(wkb).ConvexHull()
    flat = ogr.GT_Flatten(hull.GetGeometryType())
    if flat == ogr.wkbPolygon:
        ring = hull.GetGeometryRef(0)
        coords = np.array(ring.GetPoints(), dtype=np.float64)[:-1, :2]
    elif flat in (ogr.wkbLineString, ogr.wkbPoint):
        coords = np.array(hull.GetPoints(), dtype=np.float64)[:, :2]
    else:
        return None
    if len(coords) < 3:
        return _monotone_chain(coords)
    x, y = coords[:, 0], coords[:, 1]
    if np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) < 0:
        coords = coords[::-1]
    # drop collinear vertices (GEOS keeps none, but be exact about the contract) and start at min (x, y)
    prev, nxt = np.roll(coords, 1, axis=0), np.roll(coords, -1, axis=0)
    cross = (coords[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1]) - (coords[:, 1] - prev[:, 1]) * (
        nxt[:, 0] - prev[:, 0]
    )
    coords = coords[cross != 0]
    start = int(np.lexsort((coords[:, 1], coords[:, 0]))[0])
    return np.roll(coords, -start, axis=0)


def _drop_interior(pts: np.ndarray) -> np.ndarray:
    """Akl-Toussaint: drop points strictly inside the octagon of the 8 extreme points (never hull points)."""
    if len(pts) < 64:
        return pts
    x, y = pts[:, 0], pts[:, 1]
    # extremes counter-clockwise in a y-up frame: left, bottom-left, bottom, bottom-right, right, ...
    order = [x.argmin(), (x + y).argmin(), y.argmin(), (x - y).argmax(), x.argmax(), (x + y).argmax(),
             y.argmax(), (y - x).argmax()]  # fmt: skip
    poly = pts[[i for k, i in enumerate(order) if i != order[k - 1]]]
    if len(poly) < 3:
        return pts
    inside = np.ones(len(pts), dtype=bool)
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        inside &= (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]) > 0
    return pts[~inside]


def _monotone_chain(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain (pure numpy/Python): fine for the few points GEOS is not asked about."""
    pts = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 2), axis=0)  # sorted by x, then y
    if len(pts) <= 2:
        return pts

    def half(seq: np.ndarray) -> List[np.ndarray]:
        chain: List[np.ndarray] = []
        for p in seq:
            while len(chain) >= 2:
                o, a = chain[-2], chain[-1]
                if (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _rect_frame(points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-area enclosing rectangle as (centre, unit axis u, unit axis v, half sizes (hu, hv)).

    Rotating calipers: the optimal rectangle has a side collinear with a hull edge, so every hull edge
    direction is tried (vectorised, in chunks) and the smallest area wins.
    """
    hull = convex_hull(points)
    if len(hull) == 1:
        return hull[0], np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.zeros(2)
    if len(hull) == 2:
        d = hull[1] - hull[0]
        u = d / np.hypot(*d)
        return hull.mean(axis=0), u, np.array([-u[1], u[0]]), np.array([np.hypot(*d) / 2, 0.0])
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    keep = lengths > 0
    us = edges[keep] / lengths[keep, None]
    best = (np.inf, None)
    chunk = max(1, 2_000_000 // len(hull))
    for s in range(0, len(us), chunk):
        u = us[s : s + chunk]  # (k, 2)
        pu = hull @ u.T  # (m, k) projections on u
        pv = hull @ np.stack([-u[:, 1], u[:, 0]], axis=1).T  # on v = u rotated +90°
        areas = (pu.max(0) - pu.min(0)) * (pv.max(0) - pv.min(0))
        k = int(np.argmin(areas))
        if areas[k] < best[0] - 1e-9:
            best = (float(areas[k]), (u[k], pu[:, k], pv[:, k]))
    u, pu, pv = best[1]
    v = np.array([-u[1], u[0]])
    cu, cv = (pu.max() + pu.min()) / 2, (pv.max() + pv.min()) / 2
    centre = cu * u + cv * v
    return centre, u, v, np.array([(pu.max() - pu.min()) / 2, (pv.max() - pv.min()) / 2])


def _ordered_corners(centre: np.ndarray, u: np.ndarray, v: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The 4 corners, clockwise on screen (y down), starting where the outgoing side is closest to +x."""
    corners = np.array(
        [centre + sx * half[0] * u + sy * half[1] * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    )
    d = corners - centre
    order = np.argsort(np.arctan2(d[:, 1], d[:, 0]), kind="stable")  # increasing angle = clockwise on screen
    corners = corners[order]
    side = np.roll(corners, -1, axis=0) - corners
    ang = np.degrees(np.arctan2(side[:, 1], side[:, 0]))
    ok = np.flatnonzero((ang > -45.0 + 1e-9) & (ang <= 45.0 + 1e-9))
    start = int(ok[0]) if len(ok) else 0
    return np.roll(corners, -start, axis=0)


def min_area_rect(points: np.ndarray) -> np.ndarray:
    """Corners (4 x 2) of the minimum-area rotated rectangle enclosing ``points`` (x right, y down).

    Order: clockwise on screen starting at the corner whose outgoing side points most nearly along +x; an
    upright rectangle gives [top-left, top-right, bottom-right, bottom-left]. Degenerate inputs give repeated
    corners (a point: 4 equal corners).
    """
    centre, u, v, half = _rect_frame(np.asarray(points, dtype=np.float64))
    return _ordered_corners(centre, u, v, half)


def _norm(value: float, size: int) -> float:
    return float(round(min(1.0, max(0.0, value / size)), 3)) + 0.0


def region_attributes(
    regions: Sequence[Sequence[np.ndarray]],
    width: int,
    height: int,
    measures: Sequence[Tuple[float, float, float]] | None = None,
) -> List[Dict[str, Any]]:
    """SPIE attribute dicts of regions on a ``width`` x ``height`` tile, largest first.

    Each region is a list of rings (exterior first, then holes), each an (N, 2) array of pixel-edge
    coordinates (x right, y down; a pixel spans [i, i+1]). Regions of equal area keep their input order.
    ``measures`` optionally gives each region's (area, cx, cy) in the same coordinates when the caller
    already has them (e.g. from GEOS), instead of :func:`region_area_centroid` over the rings.
    """
    if width <= 0 or height <= 0:
        raise ValueError("tile size must be positive")
    if measures is not None and len(measures) != len(regions):
        raise ValueError("measures must hold one (area, cx, cy) per region")
    measured = []
    for index, rings in enumerate(regions):
        rings = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in rings if len(r)]
        if not rings:
            continue
        if measures is not None:
            area, cx, cy = (float(v) for v in measures[index])
        else:
            area, cx, cy = region_area_centroid(rings)
        centre, u, v, half = _rect_frame(np.concatenate(rings))
        # pixel-edge polygon -> pixel-index convention: shrink by half a pixel per side, shift by -0.5
        half = np.maximum(half - 0.5, 0.0)
        corners = _ordered_corners(centre - 0.5, u, v, half)
        measured.append((area, cx - 0.5, cy - 0.5, corners))
    order = sorted(range(len(measured)), key=lambda i: -measured[i][0])  # stable: ties keep input order
    total = float(width) * float(height)
    out = []
    for i in order:
        area, cx, cy = measured[i][:3]
        corners = measured[i][3]
        ncx, ncy = _norm(cx, width), _norm(cy, height)
        out.append(
            {
                "Size of area": size_level(area / total),
                "Centroid": [ncx, ncy],
                "Location": location_name(min(max(cx / width, 0.0), 1.0), min(max(cy / height, 0.0), 1.0)),
                "Bounding box": [[_norm(x, width), _norm(y, height)] for x, y in corners],
            }
        )
    return out


def format_spie(attrs: Sequence[Dict[str, Any]]) -> str:
    """The attribute list as the official prompts write it: Python repr, single quotes, ', ' separators."""
    clean = [
        {
            "Size of area": str(a["Size of area"]),
            "Centroid": [float(c) for c in a["Centroid"]],
            "Location": str(a["Location"]),
            "Bounding box": [[float(x), float(y)] for x, y in a["Bounding box"]],
        }
        for a in attrs
    ]
    return repr(clean)


def build_spex_prompt(
    class_phrase: str, attrs: Sequence[Dict[str, Any]], max_regions: int = MAX_PROMPT_REGIONS
) -> str:
    """The SPEX user prompt for one tile: the official template with the first ``max_regions`` regions.

    ``attrs`` must be largest first (as :func:`region_attributes` returns them); the regions left out are
    the smallest ones, and :func:`omitted_regions` says how many (callers must report it, never hide it).
    """
    kept = list(attrs)[: max(0, int(max_regions))]
    return SPEX_PROMPT_TEMPLATE.format(phrase=class_phrase, attributes=format_spie(kept))


def omitted_regions(attrs: Sequence[Dict[str, Any]], max_regions: int = MAX_PROMPT_REGIONS) -> int:
    """How many regions :func:`build_spex_prompt` leaves out of the prompt."""
    return max(0, len(attrs) - max(0, int(max_regions)))
