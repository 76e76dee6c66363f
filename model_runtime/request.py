"""Plain dataclasses that carry a job from the UI/CLI into the runtime and the result back.

Nothing here imports GDAL, torch or Qt: the QGIS plugin builds an :class:`ExtractRequest` from its widgets,
hands it to :func:`model_runtime.extract` and reads an :class:`ExtractResult`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .options import ENGINES, OUTPUT_FORMATS, PRECISIONS  # noqa: F401 - re-exported for older imports

#: progress(fraction in [0, 1], short message) — called from the worker thread.
ProgressCallback = Callable[[float, str], None]
#: is_cancelled() -> True once the caller wants the job to stop (checked between blocks/tiles).
CancelCallback = Callable[[], bool]



@dataclass
class AreaOfInterest:
    """Where to extract. Exactly one of ``bbox``, ``wkt`` or ``vector_path`` is set.

    ``crs`` is anything OSR understands (``EPSG:32633``, WKT, PROJ string); ``None`` means the raster's CRS.
    ``vector_path`` polygons carry their own CRS (``crs`` is then ignored) and are reprojected to the raster.
    """

    bbox: Optional[Tuple[float, float, float, float]] = None  # xmin, ymin, xmax, ymax
    wkt: Optional[str] = None  # (multi)polygon, e.g. drawn on the QGIS canvas
    vector_path: Optional[str] = None
    crs: Optional[str] = None


@dataclass
class ExtractRequest:
    """One extraction job: what to read, what to look for, where to write.

    The fields come in groups (every front end sets them through
    :func:`model_runtime.request_builder.build_request`, which validates them against
    :mod:`model_runtime.options`):

    * input and output: ``raster``, ``prompt``, ``output``, ``aoi``, ``overwrite``, ``allow_network``,
      ``max_pixels``;
    * engine choice: ``engine``, and for engine "spex" only (:data:`SPEX_FIELDS`) ``model_dir``,
      ``model_base_dir``, ``device``, ``precision``, ``max_new_tokens``;
    * how the raster is read (both engines): ``sensor``, ``bands``, ``scaling``;
    * the class's index rule: ``threshold``, ``threshold_method``;
    * polygons and explanation (both engines): ``min_area_m2``, ``simplify``, ``language``.
    """

    raster: str
    prompt: str
    output: Optional[str] = None  # .gpkg (default format), .shp, .geojson; None: keep in a temp GeoPackage
    aoi: Optional[AreaOfInterest] = None
    engine: str = "spectral"
    model_dir: Optional[str] = None  # SPEX checkpoint folder (engine "spex")
    model_base_dir: Optional[str] = None  # engine "spex", LoRA layout only: the base model folder
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    sensor: Optional[str] = None  # preset name (see `spex info --sensors`); None: detect
    bands: Dict[str, int] = field(default_factory=dict)  # role -> 1-based band (0: unused); beats detection
    scaling: Optional[str] = None  # None/"auto", "none", "s2", "s2-offset", "landsat-c2-l2", "GAIN,OFFSET"
    threshold: Optional[float] = None  # override the primary index threshold of the target class
    threshold_method: str = "fixed"  # fixed | otsu
    min_area_m2: float = 0.0  # drop polygons smaller than this (after cleanup)
    simplify: float = 0.0  # Douglas-Peucker tolerance in map units, 0 = none
    overwrite: bool = False
    language: Optional[str] = None  # "en" | "zh"; None: follow the prompt's language
    max_new_tokens: int = 64  # engine "spex"
    precision: str = "auto"  # engine "spex": auto | fp32 | fp16 | bf16 | int8 (int8: CPU, opt-in)
    allow_network: bool = False  # let GDAL read remote sources (/vsicurl/, /vsis3/, WMS, remote VRT sources)
    max_pixels: Optional[int] = None  # size guard of the processed window; None: the default, 0: no limit


#: ExtractRequest fields that only the spex engine reads
SPEX_FIELDS = ("model_dir", "model_base_dir", "device", "precision", "max_new_tokens")


@dataclass
class ExtractResult:
    """What an extraction produced. ``to_json()`` is what ``spex extract --json`` prints."""

    target_class: str  # water | vegetation | building | bare_soil ...
    prompt: str
    engine: str
    output: Optional[str]  # the written file (for GeoPackage: the file; layer name in ``layer``)
    layer: str
    output_format: str
    features: int
    area_m2: float
    explanation: str  # full text, never truncated
    attributes: List[Dict[str, Any]] = field(default_factory=list)  # SPIE region dicts, largest first
    seconds: float = 0.0
    crs_wkt: str = ""
    sidecars: List[str] = field(default_factory=list)  # e.g. the Shapefile's full-explanation sidecar
    warnings: List[str] = field(default_factory=list)
    details: Dict[str, Any] = field(default_factory=dict)  # engine specifics: indices, thresholds, device...

    def to_json(self) -> Dict[str, Any]:
        """A JSON-serialisable dict; the keys ``class``, ``features``, ``area_m2``, ``explanation``,
        ``output`` and ``seconds`` are a stable interface."""
        data = asdict(self)
        data["class"] = data.pop("target_class")
        return data
