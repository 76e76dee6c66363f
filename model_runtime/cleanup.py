"""Mask cleanup with GDAL's SieveFilter: drop specks, fill pinholes, streamed by GDAL.

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

from .engines.base import MASK_BACKGROUND, MASK_TARGET

gdal.UseExceptions()

#: default minimum object size: 0.01 ha (100 m2), and never less than 2 pixels (single pixels are noise)
DEFAULT_MIN_REGION_M2 = 100.0
_STRIP_ROWS = 512


def default_min_region_px(pixel_area_m2: float | None, min_area_m2: float = DEFAULT_MIN_REGION_M2) -> int:
    """Sieve threshold in pixels for an object area (default 0.01 ha), at least 2 px (unknown area: 2 px)."""
    if not pixel_area_m2 or not math.isfinite(pixel_area_m2) or pixel_area_m2 <= 0:
        return 2
    return max(2, int(math.ceil(min_area_m2 / pixel_area_m2)))


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
    A threshold below 2 disables its pass. Returns the number of pixels changed by each pass.
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
        if fill_holes_px == min_region_px:
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
