"""Synthetic Sentinel-2-like scenes for the batch tests: irregular water bodies (blobs that cross any chunk
grid, touch diagonally, hold islands), specks the cleanup removes and a no-data corner, written with GDAL."""

from __future__ import annotations

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

# blue, green, red, nir, swir1, swir2 reflectance
WATER = (0.06, 0.05, 0.03, 0.02, 0.01, 0.006)
LAND = (0.03, 0.07, 0.04, 0.34, 0.18, 0.09)
BAND_NAMES = ("B02", "B03", "B04", "B08", "B11", "B12")


def water_truth(width: int, height: int, seed: int) -> np.ndarray:
    """A water mask of random discs, rings and 1-3 pixel specks (deterministic for ``seed``)."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((height, width), bool)
    for _ in range(max(4, width * height // 2500)):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(3, 18)
        x0, x1 = max(0, int(cx - r) - 1), min(width, int(cx + r) + 2)
        y0, y1 = max(0, int(cy - r) - 1), min(height, int(cy + r) + 2)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        disc = d2 <= r * r
        if rng.random() < 0.3:  # a lake with an island
            disc &= d2 > (r / 2.5) ** 2
        truth[y0:y1, x0:x1] |= disc
    specks = rng.random((height, width)) < 0.004
    truth |= specks
    # a diagonal chain: pixels that touch only by their corners (8-connectivity)
    for k in range(min(width, height) // 3):
        truth[height // 3 + k, width // 3 + k] = True
    return truth


def make_water_scene(
    path,
    width=300,
    height=260,
    seed=0,
    pixel=5.0,
    block=64,
    nodata_corner=True,
    origin=(600000.0, 5000000.0),
    epsg=32632,
) -> str:
    """Write a 6-band uint16 (reflectance x 10000) GeoTIFF with :func:`water_truth`; returns its path."""
    truth = water_truth(width, height, seed)
    rng = np.random.default_rng(seed + 1000)
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path),
        width,
        height,
        6,
        gdal.GDT_UInt16,
        ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}", "COMPRESS=DEFLATE"],
    )
    ds.SetGeoTransform((origin[0], pixel, 0.0, origin[1], 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for i, name in enumerate(BAND_NAMES):
        refl = np.where(truth, WATER[i], LAND[i]) * (1 + 0.02 * rng.standard_normal((height, width)))
        dn = np.clip(np.rint(refl * 10000), 1, 65535).astype(np.uint16)
        if nodata_corner:
            dn[: height // 5, : width // 5] = 0
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(dn)
        band.SetDescription(name)
        band.SetNoDataValue(0)
    ds.SetMetadataItem("SPACECRAFT_NAME", "Sentinel-2A")
    ds.FlushCache()
    ds = None
    return str(path)
