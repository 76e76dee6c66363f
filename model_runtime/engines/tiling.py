"""Square tiles with overlap over a region, and seamless streamed stitching of per-tile results.

Layout along each axis: tiles of ``size`` start every ``size - overlap`` pixels; the last tile is shifted
back so that it ends exactly at the region's edge (no padding unless the region is smaller than a tile, in
which case the single tile is padded at the bottom/right and the padding is masked out).

Stitching: each pixel's value is the weighted mean of the tiles covering it. Two weightings:

* ``"center"``: a tile owns the pixels closer to its centre than to its neighbour's (cut in the middle of
  each overlap), weight 1 there and 0 elsewhere. A per-tile function whose receptive field is shorter than
  ``overlap / 2`` then stitches to exactly the untiled result.
* ``"feather"`` (default for soft masks): weights ramp linearly across the overlap towards edges shared
  with a neighbour (full weight on the region's outer edges), so disagreeing neighbours blend instead of
  meeting at a hard seam.

Memory: tiles must be fed in row-major order (as :func:`plan_tiles` returns them); the stitcher holds one
strip of ``size`` rows x region width (value and weight, float32) and hands finished rows to a sink as
soon as no later tile can touch them. Nothing the size of the region is ever allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np

TILE_SIZE = 512
TILE_OVERLAP = 64


@dataclass(frozen=True)
class Tile:
    """One tile. Offsets are relative to the region's top-left pixel."""

    index: int  # 0-based, row-major
    row: int  # tile-row number
    col: int  # tile-column number
    yoff: int
    xoff: int
    ysize: int  # valid (unpadded) size: <= tile size
    xsize: int
    size: int  # the full (padded) tile size
    core: Tuple[int, int, int, int]  # (y0, y1, x0, x1) in tile coordinates: the "center" ownership area
    edges: Tuple[bool, bool, bool, bool]  # neighbour above, below, left, right

    def label(self, region_yoff: int = 0, region_xoff: int = 0) -> str:
        """Human-readable extent in raster pixel coordinates (1-based, inclusive)."""
        y0, x0 = region_yoff + self.yoff, region_xoff + self.xoff
        return f"rows {y0 + 1}-{y0 + self.ysize}, cols {x0 + 1}-{x0 + self.xsize}"


def axis_starts(length: int, size: int, overlap: int) -> List[int]:
    """Tile start offsets along one axis (the last tile is aligned to the end)."""
    if length <= 0:
        raise ValueError("cannot tile an empty region")
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, {size}), got {overlap}")
    if length <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, length - size, stride))
    starts.append(length - size)
    return starts


def _cuts(starts: List[int], size: int, length: int) -> List[Tuple[int, int]]:
    """[start, end) ownership interval of each tile along one axis (region coordinates)."""
    bounds = [0]
    for a, b in zip(starts[:-1], starts[1:]):
        bounds.append((b + min(a + size, length)) // 2)  # middle of the overlap
    bounds.append(length)
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts))]


def plan_tiles(height: int, width: int, size: int = TILE_SIZE, overlap: int = TILE_OVERLAP) -> List[Tile]:
    """All tiles covering a ``height`` x ``width`` region, row-major."""
    ys, xs = axis_starts(height, size, overlap), axis_starts(width, size, overlap)
    ycuts, xcuts = _cuts(ys, size, height), _cuts(xs, size, width)
    tiles = []
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            core = (ycuts[r][0] - y, ycuts[r][1] - y, xcuts[c][0] - x, xcuts[c][1] - x)
            edges = (r > 0, r < len(ys) - 1, c > 0, c < len(xs) - 1)
            tiles.append(
                Tile(len(tiles), r, c, y, x, min(size, height - y), min(size, width - x), size, core, edges)
            )
    return tiles


def tile_weights(tile: Tile, mode: str = "feather", overlap: int = TILE_OVERLAP) -> np.ndarray:
    """Blend weights [ysize, xsize] (float32, > 0 wherever the tile owns or shares pixels)."""
    if mode == "center":
        w = np.zeros((tile.ysize, tile.xsize), dtype=np.float32)
        y0, y1, x0, x1 = tile.core
        w[y0:y1, x0:x1] = 1.0
        return w
    if mode != "feather":
        raise ValueError(f"unknown blend mode {mode!r}")
    ramp = max(1, overlap)

    def profile(n: int, before: bool, after: bool) -> np.ndarray:
        pos = np.arange(n, dtype=np.float32)
        p = np.ones(n, dtype=np.float32)
        if before:
            p = np.minimum(p, (pos + 0.5) / ramp)
        if after:
            p = np.minimum(p, (n - pos - 0.5) / ramp)
        return p

    up, down, left, right = tile.edges
    return np.outer(profile(tile.ysize, up, down), profile(tile.xsize, left, right)).astype(np.float32)


Sink = Callable[[int, np.ndarray, np.ndarray], None]


class StripStitcher:
    """Weighted-mean stitching of row-major tiles into finished row blocks.

    ``sink(yoff, values[rows, width] float32, valid[rows, width] bool)`` receives finished rows in order;
    ``valid`` is True where at least one tile marked the pixel valid.
    """

    def __init__(
        self,
        height: int,
        width: int,
        sink: Sink,
        size: int = TILE_SIZE,
        overlap: int = TILE_OVERLAP,
        mode: str = "feather",
    ):
        self.height, self.width, self.size = height, width, size
        self.overlap, self.mode, self.sink = overlap, mode, sink
        rows = min(size, height)
        self._acc = np.zeros((rows, width), dtype=np.float32)
        self._wsum = np.zeros((rows, width), dtype=np.float32)
        self._valid = np.zeros((rows, width), dtype=bool)
        self._top = 0  # region row of the strip's first row
        self._last_index: int | None = None
        self.rows_written = 0

    def add(self, tile: Tile, values: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Add one tile's values (the tile's padded or valid extent; padding is ignored)."""
        if self._last_index is not None and tile.index <= self._last_index:
            raise ValueError("tiles must be added once each, in row-major order")
        self._last_index = tile.index
        if tile.yoff > self._top:
            self._flush(tile.yoff)
        vals = values[: tile.ysize, : tile.xsize].astype(np.float32, copy=False)
        w = tile_weights(tile, self.mode, self.overlap)
        ok = np.ones_like(w, dtype=bool) if valid is None else valid[: tile.ysize, : tile.xsize].astype(bool)
        w = np.where(ok, w, np.float32(0.0))
        ys = slice(tile.yoff - self._top, tile.yoff - self._top + tile.ysize)
        xs = slice(tile.xoff, tile.xoff + tile.xsize)
        self._acc[ys, xs] += np.where(ok, vals, np.float32(0.0)) * w
        self._wsum[ys, xs] += w
        self._valid[ys, xs] |= ok

    def _flush(self, upto: int) -> None:
        """Emit region rows [top, upto) and shift the strip."""
        n = upto - self._top
        if n <= 0:
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(self._wsum[:n] > 0, self._acc[:n] / self._wsum[:n], np.float32(0.0))
        self.sink(self._top, out.astype(np.float32, copy=False), self._valid[:n].copy())
        self.rows_written += n
        keep = self._acc.shape[0] - n
        for buf in (self._acc, self._wsum, self._valid):
            buf[:keep] = buf[n:].copy()
            buf[keep:] = 0
        self._top = upto

    def close(self) -> None:
        """Emit the remaining rows (call once after the last tile)."""
        self._flush(self.height)
