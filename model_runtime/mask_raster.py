"""The mask raster every engine writes and every later step reads: a uint8 GeoTIFF with three values.

One place for the values, so that the engines, the mask cleanup, the vectoriser and the pipeline's pixel
counts cannot disagree on what a pixel means.
"""

MASK_TARGET = 1  # pixel belongs to the requested class
MASK_BACKGROUND = 0  # valid pixel, not the class
MASK_NODATA = 255  # no-data in the raster or outside the AOI polygon: never becomes a polygon
