"""SPEX runtime: multispectral raster in, explained land-cover polygons out. Never imports QGIS.

>>> from model_runtime import extract, ExtractRequest
>>> result = extract(ExtractRequest("scene.tif", "extract the water bodies", output="water.gpkg"))
"""

from .batching.request import BatchRequest
from .errors import (
    DependencyMissingError,
    ExtractionCancelled,
    ModelLoadError,
    SpexEnvironmentError,
    SpexError,
    SpexInputError,
)
from .request import AreaOfInterest, ExtractRequest, ExtractResult

__version__ = "0.1.0"


def extract(request, progress=None, is_cancelled=None):
    """Run one extraction (see :func:`model_runtime.pipeline.extract`)."""
    from .pipeline import extract as _extract

    return _extract(request, progress=progress, is_cancelled=is_cancelled)


def batch(request, reporter=None, is_cancelled=None, client=None):
    """Run a batch of extractions on dask (see :func:`model_runtime.batching.runner.run_batch`)."""
    from .batching.runner import run_batch

    return run_batch(request, reporter=reporter, is_cancelled=is_cancelled, client=client)


__all__ = [
    "BatchRequest",
    "batch",
    "AreaOfInterest",
    "ExtractRequest",
    "ExtractResult",
    "DependencyMissingError",
    "ExtractionCancelled",
    "ModelLoadError",
    "SpexEnvironmentError",
    "SpexError",
    "SpexInputError",
    "extract",
    "__version__",
]
