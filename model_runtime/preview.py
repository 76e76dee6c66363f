"""A quick look before polygons: the engine's cleaned mask of a request's area, written as a GeoTIFF.

Used by the QGIS panel's "Preview mask" to tune the threshold on a large scene without polygonizing and
explaining every run. Runs the same stages as :func:`model_runtime.extract` up to the engine mask (same
validation, band roles, AOI, threshold, cleanup), so what the preview shows is what Run would polygonize
(before the minimum-area and simplify filters, which act on polygons).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from typing import Any, Dict

from .errors import SpexInputError
from .request import CancelCallback, ExtractRequest, ProgressCallback


def preview_mask(
    request: ExtractRequest,
    mask_path: str,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCallback | None = None,
) -> Dict[str, Any]:
    """Write the mask of ``request`` (its raster, AOI, bands, threshold) to ``mask_path`` and describe it.

    The GeoTIFF holds 1 = target, 0 = background, 255 = no-data (its no-data value), in the raster's CRS and
    covering the AOI's window. Refuses an existing ``mask_path`` unless ``request.overwrite``; written
    atomically. Returns ``{"target_class", "target_px", "background_px", "nodata_px", "seconds"}``. Raises
    :class:`SpexInputError` for user errors and ``ExtractionCancelled`` (nothing written) on cancel.
    """
    from osgeo import gdal

    from .engines import get_engine
    from .pipeline import (
        ProgressTracker,
        gdal_job_settings,
        mask_counts,
        open_region,
        run_engine,
        validate_request,
    )
    from .prompts import parse_prompt

    started = time.perf_counter()
    tracker = ProgressTracker(progress, is_cancelled)
    validate_request(request)
    mask_path = os.path.abspath(os.path.expanduser(mask_path))
    folder = os.path.dirname(mask_path)
    if not os.path.isdir(folder):
        raise SpexInputError(f"preview folder {folder} does not exist: create it or choose another path")
    if os.path.exists(mask_path) and not request.overwrite:
        raise SpexInputError(f"{mask_path} already exists: choose another name or allow overwriting")
    target = parse_prompt(request.prompt, request.language)
    engine = get_engine(request.engine)
    workdir = tempfile.mkdtemp(prefix="spex-preview-")
    tmp = os.path.join(folder, f".{uuid.uuid4().hex[:8]}.tmp.tif")
    try:
        with gdal_job_settings():
            tracker.report(0.0, "opening raster")
            with open_region(request) as (source, region):
                _job, output = run_engine(engine, source, region, target, request, workdir, tracker)
            counts = mask_counts(output.mask_path)
            gdal.Translate(
                tmp, output.mask_path, format="GTiff", creationOptions=["COMPRESS=DEFLATE", "TILED=YES"]
            )
            os.replace(tmp, mask_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if os.path.exists(tmp):
            os.remove(tmp)
    tracker.report(1.0, "preview ready")
    return {"target_class": target.target_class, **counts, "seconds": round(time.perf_counter() - started, 3)}
