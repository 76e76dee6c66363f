"""Batch extraction on dask.distributed: one prompt (or a few) over many rasters, or over one large raster
cut into chunks, resumable through a manifest, with one merged GeoPackage.

>>> from model_runtime import batch, BatchRequest
>>> result = batch(BatchRequest("tiles/", "extract the water bodies", "out/"))
>>> result.counts, result.merged_output

Modules: ``request`` (BatchRequest/BatchResult), ``inputs`` (folder/glob/list, chunk grid), ``manifest``
(resume state), ``cluster`` (LocalCluster or an existing scheduler), ``tasks`` (what a worker runs),
``mosaic`` (chunks -> single-run polygons), ``merge`` (merged GeoPackage), ``runner`` (the loop),
``console`` and ``cli`` (``spex batch``). Nothing here imports QGIS; dask is imported only when a batch runs.
"""

from .request import BatchRequest, BatchResult

__all__ = ["BatchRequest", "BatchResult"]
