"""Raster input and file output plumbing:
GDAL reading, band roles, scaling, products, safe paths, atomic publishing, AOI.
"""
