"""PNG quick-look of a result: the raster in false colour with the extracted polygons outlined.

False colour is the classic colour-infrared composite (NIR, red, green as R, G, B): vegetation shows red,
water dark blue or black, built-up surfaces cyan-grey, bare soil brown. Without a NIR band the true-colour
bands are used. Each band is stretched between its 2nd and 98th percentile of valid pixels. Polygons are
rasterised with GDAL on the quick-look grid, tinted yellow (35 %) inside and outlined in yellow; no-data is
dark grey. Only GDAL (MEM, PNG drivers) and numpy are used.

Command line: ``python -m model_runtime.vector.quicklook RASTER VECTOR OUT.png [--max-side 1200]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Tuple

import numpy as np

OUTLINE_RGB = (255, 255, 0)
TINT = 0.35
NODATA_RGB = (40, 40, 40)
_COMPOSITES = (("nir", "red", "green"), ("red", "green", "blue"))


def _composite_bands(roles) -> Tuple[List[int], str]:
    for combo in _COMPOSITES:
        if all(r in roles for r in combo):
            name = "false colour (NIR, red, green)" if combo[0] == "nir" else "true colour"
            return [roles[r] for r in combo], name
    first = sorted(roles.values())[:1] or [1]
    return first * 3, "grey"


def _stretch(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    sample = values[valid]
    if sample.size == 0:
        return np.zeros(values.shape, np.uint8)
    lo, hi = np.percentile(sample, [2, 98])
    scaled = (values - lo) / max(hi - lo, 1e-12) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _outline(fill: np.ndarray) -> np.ndarray:
    """Pixels of ``fill`` with at least one 4-neighbour outside it (edges of the image count as outside)."""
    padded = np.pad(fill, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return fill & ~inner


def render_quicklook(raster: str, vector: str | None, png: str, max_side: int = 1200) -> dict:
    """Write ``png`` (false colour of ``raster``, polygons of ``vector`` outlined); returns what was drawn.

    The quick-look is at most ``max_side`` pixels a side (GDAL averages the raster down). Band roles come
    from :func:`model_runtime.io.bands.detect_band_roles`; ``vector`` may be None (image only).
    """
    from osgeo import gdal, ogr

    from ..io.bands import detect_band_roles

    gdal.UseExceptions()
    ds = gdal.Open(raster)
    detection = detect_band_roles(ds)
    band_numbers, composite = _composite_bands(detection.roles)
    factor = max(1.0, max(ds.RasterXSize, ds.RasterYSize) / float(max_side))
    width, height = max(1, round(ds.RasterXSize / factor)), max(1, round(ds.RasterYSize / factor))
    valid = np.ones((height, width), bool)
    channels = []
    for b in band_numbers:
        band = ds.GetRasterBand(b)
        values = band.ReadAsArray(buf_xsize=width, buf_ysize=height, resample_alg=gdal.GRIORA_Average)
        values = values.astype(np.float64)
        mask = band.GetMaskBand().ReadAsArray(buf_xsize=width, buf_ysize=height) > 0
        valid &= mask & np.isfinite(values)
        channels.append(values)
    rgb = np.stack([_stretch(c, valid) for c in channels])
    for k in range(3):
        rgb[k][~valid] = NODATA_RGB[k]

    gt = ds.GetGeoTransform()
    small_gt = (gt[0], gt[1] * ds.RasterXSize / width, gt[2], gt[3], gt[4], gt[5] * ds.RasterYSize / height)
    features = 0
    if vector:
        vds = ogr.Open(vector)
        layer = vds.GetLayer(0)
        features = layer.GetFeatureCount()
        target = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
        target.SetGeoTransform(small_gt)
        target.SetProjection(ds.GetProjection())
        gdal.RasterizeLayer(target, [1], layer, burn_values=[1], options=["ALL_TOUCHED=TRUE"])
        fill = target.GetRasterBand(1).ReadAsArray() > 0
        edge = _outline(fill)
        for k in range(3):
            tinted = rgb[k][fill] * (1 - TINT) + OUTLINE_RGB[k] * TINT
            rgb[k][fill] = tinted.astype(np.uint8)
            rgb[k][edge] = OUTLINE_RGB[k]
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 3, gdal.GDT_Byte)
    mem.SetGeoTransform(small_gt)
    mem.SetProjection(ds.GetProjection())
    for k in range(3):
        mem.GetRasterBand(k + 1).WriteArray(rgb[k])
    folder = os.path.dirname(os.path.abspath(png))
    tmp = os.path.join(folder, f".{os.path.basename(png)}.tmp.png")
    gdal.GetDriverByName("PNG").CreateCopy(tmp, mem, options=["WORLDFILE=NO"])
    if os.path.exists(tmp + ".aux.xml"):
        os.remove(tmp + ".aux.xml")
    os.replace(tmp, png)
    return {"png": png, "size": (width, height), "composite": composite, "features": features}


def main(argv: List[str] | None = None) -> int:
    """Command line entry (see module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m model_runtime.vector.quicklook", description=__doc__.split("\n")[0]
    )
    parser.add_argument("raster")
    parser.add_argument("vector", nargs="?", help="polygons to outline (GeoPackage, Shapefile, GeoJSON)")
    parser.add_argument("png")
    parser.add_argument("--max-side", type=int, default=1200)
    args = parser.parse_args(argv)
    for path in filter(None, (args.raster, args.vector)):
        if not os.path.exists(path) and not path.startswith("/vsi"):
            print(f"quicklook: error: {path} does not exist: give existing files", file=sys.stderr)
            return 2
    info = render_quicklook(args.raster, args.vector, args.png, args.max_side)
    print(f"{info['png']}: {info['size'][0]} x {info['size'][1]} px, {info['composite']}, "
          f"{info['features']} polygon(s) outlined")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
