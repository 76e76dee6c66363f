#!/usr/bin/env python3
"""Draw reference points on a real sample and render numbered image chips to photo-interpret them.

How the points in ``tests/data/points_*.csv`` were made (reproducible, seeded):

1. ``--uniform N`` points uniformly at random over the valid pixels of the scene (or ``--window``);
2. ``--low-ndvi M`` more points at random among valid land pixels with NDVI < 0.3 and NDWI < 0, so that the
   rare classes (roofs/paving, bare soil) get enough points. The strata use no rule threshold of the engine.

Each chip shows the point's neighbourhood twice, false colour (NIR, red, green) and true colour, upscaled,
with the centre pixel boxed in red. Labels are then typed into the CSV by a person who LOOKS at the chips
(water, vegetation, built, soil, other). ``bench/quality.py`` scores the engine at those points.

Usage: ``python bench/label_chips.py RASTER OUT_PREFIX --uniform 100 --low-ndvi 60 [--window x,y,w,h]``
writes ``OUT_PREFIX.csv`` (id, col, row, x, y, label empty) and ``OUT_PREFIX_sheetK.png`` (20 chips each).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from osgeo import gdal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_runtime.io.raster import RasterSource  # noqa: E402


def _stretch(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((a - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)


def make_points(src: RasterSource, window, uniform: int, low_ndvi: int, seed: int):
    """(col, row) arrays of the sampled points (see module docstring)."""
    bands, valid = src.read(["green", "red", "nir"], window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
        ndwi = (bands["green"] - bands["nir"]) / (bands["green"] + bands["nir"])
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(valid)
    pick = rng.choice(rows.size, uniform, replace=False)
    out = [(int(cols[i]), int(rows[i])) for i in pick]
    rows2, cols2 = np.nonzero(valid & (ndvi < 0.3) & (ndwi < 0))
    pick2 = rng.choice(rows2.size, min(low_ndvi, rows2.size), replace=False)
    out += [(int(cols2[i]), int(rows2[i])) for i in pick2]
    return [(c + window.xoff, r + window.yoff) for c, r in out]


def render_sheets(src: RasterSource, points, prefix: str, half: int, zoom: int, per_sheet: int = 20):
    """PNG sheets of numbered chips (4 columns x 5 rows; each chip = false colour | true colour)."""
    from PIL import Image, ImageDraw

    full = src.full_window
    bands, valid = src.read(["blue", "green", "red", "nir"], full)
    limits = {r: np.nanpercentile(bands[r][valid], [2, 98]) for r in bands}
    cir = np.stack([_stretch(bands[r], *limits[r]) for r in ("nir", "red", "green")], -1)
    rgb = np.stack([_stretch(bands[r], *limits[r]) for r in ("red", "green", "blue")], -1)
    side = (2 * half + 1) * zoom
    for s in range(0, len(points), per_sheet):
        sheet = Image.new("RGB", (4 * (2 * side + 12), 5 * (side + 22)), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        for k, (col, row) in enumerate(points[s : s + per_sheet]):
            tiles = []
            for img in (cir, rgb):
                chip = np.zeros((2 * half + 1, 2 * half + 1, 3), np.uint8)
                r0, c0 = row - half, col - half
                rs, cs = max(r0, 0), max(c0, 0)
                re, ce = min(row + half + 1, src.height), min(col + half + 1, src.width)
                chip[rs - r0 : re - r0, cs - c0 : ce - c0] = img[rs:re, cs:ce]
                tile = Image.fromarray(chip).resize((side, side), Image.NEAREST)
                d = ImageDraw.Draw(tile)
                box = [half * zoom - 1, half * zoom - 1, (half + 1) * zoom, (half + 1) * zoom]
                d.rectangle(box, outline=(255, 0, 0))
                tiles.append(tile)
            x, y = (k % 4) * (2 * side + 12), (k // 4) * (side + 22)
            sheet.paste(tiles[0], (x, y + 18))
            sheet.paste(tiles[1], (x + side + 2, y + 18))
            draw.text((x + 2, y + 2), f"#{s + k}", fill=(0, 0, 0))
        sheet.save(f"{prefix}_sheet{s // per_sheet}.png")


def main(argv=None) -> int:
    """Command line entry (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raster")
    parser.add_argument("prefix")
    parser.add_argument("--uniform", type=int, default=100)
    parser.add_argument("--low-ndvi", type=int, default=60)
    parser.add_argument("--window", help="xoff,yoff,xsize,ysize (pixels) to draw points in")
    parser.add_argument("--half", type=int, default=12, help="chip half size in pixels")
    parser.add_argument("--zoom", type=int, default=5)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    gdal.UseExceptions()
    with RasterSource.open(args.raster) as src:
        from model_runtime.io.raster import Window

        window = Window(*map(int, args.window.split(","))) if args.window else src.full_window
        points = make_points(src, window, args.uniform, args.low_ndvi, args.seed)
        gt = src.geotransform
        with open(f"{args.prefix}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "col", "row", "x", "y", "label"])
            for i, (c, r) in enumerate(points):
                x, y = gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5]
                writer.writerow([i, c, r, f"{x:.2f}", f"{y:.2f}", ""])
        render_sheets(src, points, args.prefix, args.half, args.zoom)
    return 0


if __name__ == "__main__":
    sys.exit(main())
