"""The mask raster every engine writes and every later step reads: a uint8 GeoTIFF with three values.

One place for the values and for creating the file, so that the engines, the mask cleanup, the vectoriser
and the pipeline's pixel counts cannot disagree on what a pixel means.
"""

from __future__ import annotations

from typing import Any, List

MASK_TARGET = 1  # pixel belongs to the requested class
MASK_BACKGROUND = 0  # valid pixel, not the class
MASK_NODATA = 255  # no-data in the raster or outside the AOI polygon: never becomes a polygon


def mask_compression() -> List[str]:
    """Fastest light compression this GDAL offers for the temporary mask: ZSTD level 1 (about 10x faster
    than DEFLATE level 1 to write, masks still shrink ~100x), else DEFLATE level 1."""
    from osgeo import gdal

    options = gdal.GetDriverByName("GTiff").GetMetadataItem("DMD_CREATIONOPTIONLIST") or ""
    if "ZSTD" in options:
        return ["COMPRESS=ZSTD", "ZSTD_LEVEL=1"]
    return ["COMPRESS=DEFLATE", "ZLEVEL=1"]


def create_mask(path: str, source, window, probability: bool = False) -> Any:
    """A tiled GeoTIFF on ``source``'s grid covering ``window`` (the engines' output): uint8 with
    :data:`MASK_NODATA`, or with ``probability`` float32 (NaN = no data) for a soft mask. Returns the open
    GDAL dataset; the caller writes it and drops it."""
    from osgeo import gdal

    gdal.UseExceptions()
    ds = gdal.GetDriverByName("GTiff").Create(
        path,
        window.xsize,
        window.ysize,
        1,
        gdal.GDT_Float32 if probability else gdal.GDT_Byte,
        ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", *mask_compression(), "BIGTIFF=IF_SAFER"],
    )
    ds.SetGeoTransform(window.geotransform(source.geotransform))
    if source.crs_wkt:
        ds.SetProjection(source.crs_wkt)
    ds.GetRasterBand(1).SetNoDataValue(float("nan") if probability else MASK_NODATA)
    return ds
