#!/usr/bin/env python3
"""Draw the second batch of reference points (``points_*.csv`` ids 160+) and render chips to label them.

The first 160 points of each scene came from ``bench/label_chips.py`` (uniform + low-NDVI strata). They held
only 9 built-up points on the Sentinel-2 sample and no bare-soil point on the Landsat 7 one, so this batch
adds strata where those covers occur, defined without any rule threshold of the engine:

* ``towns``: valid pixels with NDVI < 0.3 inside boxes drawn by a person around the settlements seen on a
  true-colour overview of the scene (``--box x0,y0,x1,y1``, repeatable);
* ``bright``: valid land pixels (NDVI < 0.3, NDWI < 0) whose visible brightness is in the scene's top 15 %
  (``--bright-share``): bare fields, sand, bright roofs, concrete, construction sites.

Positions are drawn at random (seeded) in each stratum; a person then labels every chip by looking at it
(false colour and true colour) and marks ambiguous ones ``unsure``. Points are NOT chosen by where the engine
is right or wrong. Usage::

    python tests/data/draw_extra_points.py RASTER OUT_PREFIX --first-id 160 --seed 21 \
        [--towns N --box x0,y0,x1,y1 ...] [--bright M]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from label_chips import render_sheets  # noqa: E402

from model_runtime.io.raster import RasterSource  # noqa: E402


def draw(src: RasterSource, towns: int, boxes, bright: int, seed: int, share: float = 0.15):
    """(col, row, stratum) of the new points."""
    bands, valid = src.read(["blue", "green", "red", "nir"], src.full_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
        ndwi = (bands["green"] - bands["nir"]) / (bands["green"] + bands["nir"])
    rng = np.random.default_rng(seed)
    out = []
    if towns and boxes:
        inside = np.zeros_like(valid)
        for x0, y0, x1, y1 in boxes:
            inside[y0:y1, x0:x1] = True
        rows, cols = np.nonzero(valid & inside & (ndvi < 0.3))
        for i in rng.choice(rows.size, min(towns, rows.size), replace=False):
            out.append((int(cols[i]), int(rows[i]), "towns"))
    if bright:
        land = valid & (ndvi < 0.3) & (ndwi < 0)
        brightness = (bands["blue"] + bands["green"] + bands["red"]) / 3
        level = np.quantile(brightness[land], 1.0 - share)
        rows, cols = np.nonzero(land & (brightness >= level))
        for i in rng.choice(rows.size, min(bright, rows.size), replace=False):
            out.append((int(cols[i]), int(rows[i]), "bright"))
    return out


def main(argv=None) -> int:
    """Command line entry (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raster")
    parser.add_argument("prefix")
    parser.add_argument("--first-id", type=int, default=160)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--towns", type=int, default=0)
    parser.add_argument("--box", action="append", default=[], help="x0,y0,x1,y1 pixel box around a town")
    parser.add_argument("--bright", type=int, default=0)
    parser.add_argument("--bright-share", type=float, default=0.15, help="top share of visible brightness")
    args = parser.parse_args(argv)
    boxes = [tuple(map(int, b.split(","))) for b in args.box]
    with RasterSource.open(args.raster) as src:
        points = draw(src, args.towns, boxes, args.bright, args.seed, args.bright_share)
        gt = src.geotransform
        with open(f"{args.prefix}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "col", "row", "x", "y", "label", "stratum"])
            for i, (c, r, stratum) in enumerate(points, start=args.first_id):
                x, y = gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5]
                writer.writerow([i, c, r, f"{x:.2f}", f"{y:.2f}", "", stratum])
        render_sheets(src, [(c, r) for c, r, _ in points], args.prefix, 12, 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
