"""Mixed shoreline pixels: grow confident water by one pixel where local linear unmixing says water dominates.

A pixel on a shore or river bank is a mixture of the water on one side and the land on the other. Its water
index is weak and it often fails a class rule built for pure pixels, although water covers most of it. For
each pixel next to confident water (8-neighbourhood) that passes the rule's primary water test but not all
its guards, the local *water endmember* is the mean spectrum of its
confident-water neighbours (3 x 3) and the local *land endmember* the mean spectrum of the pixels at least two
pixels away from any confident water within :data:`LAND_RADIUS` (7 x 7). The linear mixing model (e.g. Keshava
and Mustard 2002, "Spectral unmixing", IEEE Signal Processing Magazine 19(1)) gives the water fraction as the
least-squares position of the pixel on the segment land -> water:

    f = <x - L, W - L> / |W - L|^2   over every band the rule reads,

and the pixel is added when ``f >= 0.5`` (water is its majority cover). A one-pixel growth from confident
seeds into weaker pixels is the two-threshold hysteresis of region growing (Canny 1986), here with a
physically defined second test instead of a second index threshold. Only linear band values are used, so the
test holds on reflectance and on digital numbers of unknown gain alike (an offset cancels in the differences).

Pixels with no land endmember in reach (a one-pixel spit between channels) or no confident neighbour are not
grown. Strips are grown independently: a seed in the neighbouring strip is not seen (one row per strip edge).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

#: half side of the window the land endmember is taken from (7 x 7)
LAND_RADIUS = 3
#: water fraction from which a mixed pixel counts as water (its majority cover)
MAJORITY = 0.5


def dilate(flags: np.ndarray, radius: int) -> np.ndarray:
    """Chessboard dilation of a boolean array by ``radius`` pixels (separable box maximum)."""
    out = flags.copy()
    for axis in (0, 1):
        grown = out.copy()
        for shift in range(1, radius + 1):
            if axis == 0:
                grown[shift:] |= out[:-shift]
                grown[:-shift] |= out[shift:]
            else:
                grown[:, shift:] |= out[:, :-shift]
                grown[:, :-shift] |= out[:, shift:]
        out = grown
    return out


def _neighbour_means(
    bands: Sequence[np.ndarray], member: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius: int
):
    """Mean of each band over the ``member`` pixels of the (2r+1)^2 window around each (row, col), and the
    number of member pixels in it."""
    height, width = member.shape
    count = np.zeros(rows.size, np.int32)
    sums = [np.zeros(rows.size, np.float64) for _ in bands]
    for dy in range(-radius, radius + 1):
        yy = rows + dy
        for dx in range(-radius, radius + 1):
            xx = cols + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            y, x = np.where(inside, yy, 0), np.where(inside, xx, 0)
            take = inside & member[y, x]
            count += take
            for s, band in zip(sums, bands):
                s += np.where(take, band[y, x], 0.0)
    means = [s / np.maximum(count, 1) for s in sums]
    return means, count


def grow_mixed_edges(target: np.ndarray, bands: Mapping[str, np.ndarray], candidates: np.ndarray,
                     roles: Sequence[str], valid: np.ndarray | None = None) -> int:  # fmt: skip
    """Add to ``target`` (bool, in place) the ``candidates`` next to it that are mostly water by local linear
    unmixing (see the module docstring); returns the number of pixels added. ``candidates`` are the pixels
    that passed the rule's primary water test but not every guard (the weak side of the hysteresis); land
    endmembers come from the ``valid`` pixels (default: every pixel) away from the water."""
    if not target.any():
        return 0
    near = dilate(target, 1)
    near &= ~target
    near &= candidates
    rows, cols = np.nonzero(near)
    if rows.size == 0:
        return 0
    land = ~dilate(target, 2)
    if valid is not None:
        land &= valid
    stack = [np.asarray(bands[r]) for r in roles]
    water_means, n_water = _neighbour_means(stack, target, rows, cols, 1)
    land_means, n_land = _neighbour_means(stack, land, rows, cols, LAND_RADIUS)
    num = np.zeros(rows.size, np.float64)
    den = np.zeros(rows.size, np.float64)
    for band, w, land_mean in zip(stack, water_means, land_means):
        contrast = w - land_mean
        num += (band[rows, cols] - land_mean) * contrast
        den += contrast * contrast
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = num / den
    grow = (n_water > 0) & (n_land > 0) & (den > 0) & (fraction >= MAJORITY)
    target[rows[grow], cols[grow]] = True
    return int(np.count_nonzero(grow))
