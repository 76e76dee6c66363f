"""The contract between the extraction pipeline and an engine.

Pipeline order (``model_runtime.pipeline.extract``):
  open raster -> resolve AOI -> parse prompt -> ``engine.run(job)`` -> uint8 mask GeoTIFF
  -> polygonize (GDAL, 8-connected) -> SPIE region attributes -> ``engine.explain(...)`` -> write vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Protocol

# the mask values and the mask file, re-exported for the engines that write them
from ..io.mask_raster import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET, create_mask  # noqa: F401

if TYPE_CHECKING:  # imports for annotations only: keep engine modules importable without GDAL at import time
    from ..io.aoi import AoiRegion
    from ..io.raster import RasterSource
    from ..prompts import PromptTarget
    from ..request import ExtractRequest


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
