"""The contract between the extraction pipeline and an engine.

Pipeline order (``model_runtime.pipeline.extract``):
  open raster -> resolve AOI -> parse prompt -> ``engine.run(job)`` -> uint8 mask GeoTIFF
  -> polygonize (GDAL, 8-connected) -> SPIE region attributes -> ``engine.explain(...)`` -> write vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Protocol

# the mask values, re-exported for the engines that write them
from ..mask_raster import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET  # noqa: F401

if TYPE_CHECKING:  # imports for annotations only: keep engine modules importable without GDAL at import time
    from ..aoi import AoiRegion
    from ..prompts import PromptTarget
    from ..raster import RasterSource
    from ..request import ExtractRequest


def mask_compression() -> List[str]:
    """Fastest light compression this GDAL offers for the temporary mask: ZSTD level 1 (about 10x faster
    than DEFLATE level 1 to write, masks still shrink ~100x), else DEFLATE level 1."""
    from osgeo import gdal  # here, not at the top: engine modules stay importable without GDAL (see above)

    options = gdal.GetDriverByName("GTiff").GetMetadataItem("DMD_CREATIONOPTIONLIST") or ""
    if "ZSTD" in options:
        return ["COMPRESS=ZSTD", "ZSTD_LEVEL=1"]
    return ["COMPRESS=DEFLATE", "ZLEVEL=1"]


def create_mask(path: str, source: RasterSource, window, probability: bool = False) -> Any:
    """A tiled GeoTIFF on ``source``'s grid covering ``window`` (the engines' output): uint8 with
    :data:`MASK_NODATA`, or with ``probability`` float32 (NaN = no data) for a soft mask. Returns the open
    GDAL dataset; the caller writes it and drops it."""
    from osgeo import gdal

    gdal.UseExceptions()
    gt = source.geotransform
    x0, y0 = window.xoff, window.yoff
    geotransform = (
        gt[0] + x0 * gt[1] + y0 * gt[2],
        gt[1],
        gt[2],
        gt[3] + x0 * gt[4] + y0 * gt[5],
        gt[4],
        gt[5],
    )
    ds = gdal.GetDriverByName("GTiff").Create(
        path,
        window.xsize,
        window.ysize,
        1,
        gdal.GDT_Float32 if probability else gdal.GDT_Byte,
        ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", *mask_compression(), "BIGTIFF=IF_SAFER"],
    )
    ds.SetGeoTransform(geotransform)
    if source.crs_wkt:
        ds.SetProjection(source.crs_wkt)
    ds.GetRasterBand(1).SetNoDataValue(float("nan") if probability else MASK_NODATA)
    return ds


@dataclass
class EngineJob:
    """Everything an engine needs for one run. ``progress`` takes a fraction of the engine's own stage."""

    source: RasterSource
    region: AoiRegion
    target: PromptTarget
    request: ExtractRequest
    workdir: str  # private temp folder, deleted by the pipeline afterwards
    progress: Callable[[float, str], None]
    check_cancelled: Callable[[], None]  # raises ExtractionCancelled; call between blocks/tiles


@dataclass
class EngineOutput:
    """A cleaned mask covering ``job.region.window`` exactly (same size, georeferenced GeoTIFF)."""

    mask_path: str  # uint8: MASK_TARGET / MASK_BACKGROUND / MASK_NODATA (nodata value set to 255)
    details: Dict[str, Any] = field(default_factory=dict)  # JSON-serialisable: indices, thresholds, stats...
    warnings: List[str] = field(default_factory=list)


class Engine(Protocol):
    """What every engine implements."""

    name: str

    def run(self, job: EngineJob) -> EngineOutput:
        """Produce the mask of ``job.target`` over ``job.region``; call ``job.check_cancelled()`` often."""

    def explain(self, job: EngineJob, output: EngineOutput, regions: List[Dict[str, Any]]) -> str:
        """The text stored in every feature's ``explain`` field (full, never truncated).

        ``regions`` are the SPIE attribute dicts of the final polygons (largest first)."""
