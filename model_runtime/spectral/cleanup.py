"""Mask cleanup with GDAL's SieveFilter: drop specks, fill pinholes, streamed by GDAL.

:func:`sieve_strip` does the same on one strip of a mask held in memory, with enough rows of context above
and below to give exactly the whole-raster result: the spectral engine cleans each strip as it streams, so the
mask file is written once and never re-read.

SieveFilter merges every connected region smaller than a threshold into its largest neighbour, whatever its
value, with one threshold for both. To remove small *target* regions and fill small *holes* with different
sizes, each pass sieves into a scratch GeoTIFF and only the wanted kind of change is copied back (strip by
strip): 0 -> 1 from the hole pass, 1 -> 0 from the region pass. No-data (255) is excluded through the
mask band, so it is never changed and never counts as a neighbour.
"""

from __future__ import annotations

import math
import os
from typing import Dict, Tuple

import numpy as np
from osgeo import gdal

from ..io.mask_raster import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET

gdal.UseExceptions()

#: default minimum object size: 0.01 ha (100 m2), and never less than 2 pixels (single pixels are noise)
DEFAULT_MIN_REGION_M2 = 100.0
_STRIP_ROWS = 512
_SIEVE_TILE = 512  # columns per tile in sieve_strip (plus the halo on each side)


def default_min_region_px(
    pixel_area_m2: float | None, min_area_m2: float = DEFAULT_MIN_REGION_M2, floor_px: int = 2
) -> int:
    """Sieve threshold in pixels for an object area (default 0.01 ha), at least ``floor_px`` (2 px: a lone
    pixel is usually noise; 1 for classes whose objects can be one pixel). Unknown area: 2 px."""
    if not pixel_area_m2 or not math.isfinite(pixel_area_m2) or pixel_area_m2 <= 0:
        return 2
    return max(int(floor_px), int(math.ceil(min_area_m2 / pixel_area_m2)))


def _sieve_pass(
    ds: gdal.Dataset, threshold: int, connectedness: int, scratch_path: str, fill: bool, remove: bool
) -> Tuple[int, int]:
    """Sieve band 1 of ``ds`` into a scratch file, copy back the wanted changes; (filled, removed) pixels.

    ``fill``: accept background -> target (holes); ``remove``: accept target -> background (specks).
    """
    band = ds.GetRasterBand(1)
    # scratch: uncompressed, it lives seconds in the job's temp folder
    scratch = gdal.GetDriverByName("GTiff").Create(
        scratch_path, ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte, ["TILED=YES", "BIGTIFF=IF_SAFER"]
    )
    sband = scratch.GetRasterBand(1)
    filled = removed = 0
    try:
        gdal.SieveFilter(band, band.GetMaskBand(), sband, int(threshold), connectedness)
        for y in range(0, ds.RasterYSize, _STRIP_ROWS):
            rows = min(_STRIP_ROWS, ds.RasterYSize - y)
            cur = band.ReadAsArray(0, y, ds.RasterXSize, rows)
            new = sband.ReadAsArray(0, y, ds.RasterXSize, rows)
            changed = False
            if fill:
                flip = (cur == MASK_BACKGROUND) & (new == MASK_TARGET)
                n = int(np.count_nonzero(flip))
                if n:
                    cur[flip] = MASK_TARGET
                    filled += n
                    changed = True
            if remove:
                flip = (cur == MASK_TARGET) & (new == MASK_BACKGROUND)
                n = int(np.count_nonzero(flip))
                if n:
                    cur[flip] = MASK_BACKGROUND
                    removed += n
                    changed = True
            if changed:
                band.WriteArray(cur, 0, y)
        return filled, removed
    finally:
        sband = scratch = None
        if os.path.exists(scratch_path):
            gdal.GetDriverByName("GTiff").Delete(scratch_path)


def clean_mask(mask_path: str, min_region_px: int, fill_holes_px: int) -> Dict[str, int]:
    """Clean a uint8 target/background/no-data mask in place.

    Fills background holes smaller than ``fill_holes_px`` pixels inside target regions and removes target
    regions smaller than ``min_region_px`` pixels (8-connected, as polygonized). Equal thresholds (the
    default) run one 8-connected sieve; different ones run a 4-connected hole pass then a speck pass.
    A threshold below 2 disables its pass; lone pixels kept and one-pixel holes filled (water) is
    :func:`_fill_single_pixel_holes`, strip by strip. Returns the number of pixels changed by each pass.
    """
    stats = {
        "filled_hole_px": 0,
        "removed_region_px": 0,
        "fill_holes_px": int(fill_holes_px),
        "min_region_px": int(min_region_px),
    }
    if fill_holes_px < 2 and min_region_px < 2:
        return stats
    ds = gdal.Open(mask_path, gdal.GA_Update)
    try:
        if min_region_px < 2 and fill_holes_px == 2:
            filled, removed = _fill_holes_in_strips(ds.GetRasterBand(1)), 0
        elif fill_holes_px == min_region_px:
            # one pass does both (8-connected): GDAL merges small regions of either value into the neighbour
            filled, removed = _sieve_pass(ds, min_region_px, 8, mask_path + ".sieve.tif", True, True)
        else:
            filled = removed = 0
            if fill_holes_px >= 2:
                filled = _sieve_pass(ds, fill_holes_px, 4, mask_path + ".holes.tif", True, False)[0]
            if min_region_px >= 2:
                removed = _sieve_pass(ds, min_region_px, 8, mask_path + ".specks.tif", False, True)[1]
        stats["filled_hole_px"], stats["removed_region_px"] = filled, removed
        ds.GetRasterBand(1).FlushCache()
    finally:
        ds = None
    return stats


def _fill_holes_in_strips(band, rows: int = 1024) -> int:
    """:func:`_fill_single_pixel_holes` over a whole band, strips of ``rows`` with one row of context: a
    filled pixel had no background 4-neighbour, so filling never changes another pixel's test and the strips
    may read rows already written. Returns the pixels filled."""
    height, width = band.YSize, band.XSize
    filled = 0
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        c0, c1 = max(0, top - 1), min(height, bottom + 1)
        context = band.ReadAsArray(0, c0, width, c1 - c0)
        new = _fill_single_pixel_holes(context)[top - c0 : bottom - c0]
        changed = int(np.count_nonzero(new != context[top - c0 : bottom - c0]))
        if changed:
            band.WriteArray(new, 0, top)
            filled += changed
    return filled


def _sieve_mem(mask: np.ndarray, threshold: int, connectedness: int) -> np.ndarray:
    """GDAL SieveFilter of a uint8 mask array in memory (255 = no-data, excluded); returns the new array."""
    rows, cols = mask.shape
    ds = gdal.GetDriverByName("MEM").Create("", cols, rows, 1, gdal.GDT_Byte)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(MASK_NODATA)
    band.WriteArray(mask)
    gdal.SieveFilter(band, band.GetMaskBand(), band, int(threshold), connectedness)
    return band.ReadAsArray()


def sieve_halo(min_region_px: int, fill_holes_px: int) -> int:
    """Rows of context above and below a strip that make :func:`sieve_strip` exact (0: no cleanup)."""
    if fill_holes_px < 2 and min_region_px < 2:
        return 0
    return max(int(min_region_px), int(fill_holes_px))


def sieve_strip(
    mask: np.ndarray, top: int, bottom: int, min_region_px: int, fill_holes_px: int
) -> Tuple[np.ndarray, int, int]:
    """Clean rows ``top:bottom`` of ``mask`` (uint8 1/0/255) using the rows around them as context.

    Same result as :func:`clean_mask` on the whole raster when ``mask`` holds at least
    :func:`sieve_halo` rows above ``top`` and below ``bottom`` (or the raster ends there): a region that
    reaches a core pixel and the edge of the context spans more than the halo, so it has at least that many
    pixels and is never sieved. The same argument holds across columns, so the strip is cut into tiles, each
    sieved with its own halo, and tiles whose context holds a single value (a lake interior, open land) are
    skipped: on real scenes most of a strip. Returns (cleaned core rows, filled pixels, removed pixels).
    """
    core = mask[top:bottom]
    if fill_holes_px < 2 and min_region_px < 2:
        return core.copy(), 0, 0
    if min_region_px == fill_holes_px == 2:  # numpy, whole strip at once: no per-tile overhead
        return _with_counts(_sieve_single_pixels(mask)[top:bottom], core)
    if min_region_px < 2 and fill_holes_px == 2:  # lone pixels kept (water), one-pixel holes filled
        return _with_counts(_fill_single_pixel_holes(mask)[top:bottom], core)
    new = core.copy()
    halo = sieve_halo(min_region_px, fill_holes_px)
    cols = mask.shape[1]
    tile = max(_SIEVE_TILE, 4 * halo)
    for x0 in range(0, cols, tile):
        x1 = min(cols, x0 + tile)
        c0, c1 = max(0, x0 - halo), min(cols, x1 + halo)
        context = mask[:, c0:c1]
        if not (context == MASK_TARGET).any() or not (context == MASK_BACKGROUND).any():
            continue
        new[:, x0:x1] = _sieve_context(context, min_region_px, fill_holes_px)[top:bottom, x0 - c0 : x1 - c0]
    return _with_counts(new, core)


def _with_counts(new: np.ndarray, core: np.ndarray) -> Tuple[np.ndarray, int, int]:
    """(new, filled pixels, removed pixels) of a cleaned strip against its original."""
    changed = new != core
    n_changed = int(np.count_nonzero(changed))
    if not n_changed:
        return new, 0, 0
    filled = int(np.count_nonzero(new[changed] == MASK_TARGET))
    return new, filled, n_changed - filled


def _sieve_context(context: np.ndarray, min_region_px: int, fill_holes_px: int) -> np.ndarray:
    """The whole ``context`` cleaned as clean_mask would (both thresholds, same passes)."""
    if fill_holes_px == min_region_px == 2:
        return _sieve_single_pixels(context)
    if min_region_px < 2 and fill_holes_px == 2:
        return _fill_single_pixel_holes(context)
    if fill_holes_px == min_region_px:
        return _sieve_mem(context, min_region_px, 8)
    # as clean_mask: a 4-connected hole pass, then a speck pass over the hole-filled context
    new = context.copy()
    if fill_holes_px >= 2:
        holes = _sieve_mem(context, fill_holes_px, 4)
        new[(context == MASK_BACKGROUND) & (holes == MASK_TARGET)] = MASK_TARGET
    if min_region_px >= 2:
        specks = _sieve_mem(new, min_region_px, 8)
        new[(new == MASK_TARGET) & (specks == MASK_BACKGROUND)] = MASK_BACKGROUND
    return new


def _neighbour_counts(flags: np.ndarray) -> np.ndarray:
    """For a uint8 0/1 array: how many of each pixel's 8 neighbours are 1 (outside the array counts 0)."""
    rows, cols = flags.shape
    padded = np.zeros((rows + 2, cols + 2), np.uint8)
    padded[1:-1, 1:-1] = flags
    horiz = padded[:, :-2] + padded[:, 1:-1]  # 3 x 3 box sum, separably
    horiz += padded[:, 2:]
    box = horiz[:-2] + horiz[1:-1]
    box += horiz[2:]
    box -= flags
    return box


def _four_neighbour_counts(flags: np.ndarray) -> np.ndarray:
    """For a uint8 0/1 array: how many of each pixel's 4 (edge-sharing) neighbours are 1."""
    padded = np.zeros((flags.shape[0] + 2, flags.shape[1] + 2), np.uint8)
    padded[1:-1, 1:-1] = flags
    return padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]


def _fill_single_pixel_holes(mask: np.ndarray) -> np.ndarray:
    """One-pixel holes filled, nothing removed (water keeps lone pixels): a background pixel with no
    background 4-neighbour becomes target when a target 4-neighbour exists (one enclosed by no-data alone
    stays). Simpler than GDAL's 4-connected sieve, which will not merge a hole into neighbours that are
    themselves below the threshold; both paths (file, strips) use this rule."""
    background = (mask == MASK_BACKGROUND).view(np.uint8)
    fill = (background != 0) & (_four_neighbour_counts(background) == 0)
    fill &= _four_neighbour_counts((mask == MASK_TARGET).view(np.uint8)) != 0
    out = mask.copy()
    out[fill] = MASK_TARGET
    return out


def _sieve_single_pixels(mask: np.ndarray) -> np.ndarray:
    """SieveFilter with threshold 2, 8-connected (the default for 10-30 m pixels), in numpy: a pixel with no
    8-neighbour of its own value is a one-pixel region and takes the value of its neighbours (target and
    background are the only values, so the "largest neighbour" is the other one); one with only no-data
    neighbours stays. About 5x faster than GDAL's general sieve."""
    target = (mask == MASK_TARGET).view(np.uint8)
    background = (mask == MASK_BACKGROUND).view(np.uint8)
    n_target = _neighbour_counts(target)
    n_background = _neighbour_counts(background)
    remove = (target != 0) & (n_target == 0) & (n_background != 0)
    fill = (background != 0) & (n_background == 0) & (n_target != 0)
    has_remove, has_fill = bool(remove.any()), bool(fill.any())
    if has_remove and has_fill:
        # next to no-data a one-pixel region may touch the other value only through one-pixel regions
        # that flip too; GDAL then keeps it: flip only pixels with a neighbour of the other value that stays
        n_remove = _neighbour_counts(remove.view(np.uint8))
        n_fill = _neighbour_counts(fill.view(np.uint8))
        remove &= n_background > n_fill
        fill &= n_target > n_remove
    out = mask.copy()
    if has_remove:
        out[remove] = MASK_BACKGROUND
    if has_fill:
        out[fill] = MASK_TARGET
    return out
