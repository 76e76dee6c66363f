"""What a batch is asked to do (:class:`BatchRequest`) and what it did (:class:`BatchResult`).

Plain dataclasses, no dask, no GDAL: the CLI and the Processing algorithm fill a :class:`BatchRequest`;
every item becomes one :class:`~model_runtime.request.ExtractRequest` run by
:func:`model_runtime.extract` on a dask worker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

from ..request import AreaOfInterest, ExtractRequest

#: raster file name patterns taken from a folder when no ``pattern`` is given
DEFAULT_PATTERNS = ("*.tif", "*.tiff", "*.vrt", "*.img", "*.jp2")
#: ExtractRequest fields a batch passes through unchanged to every item
EXTRACT_OPTIONS = (
    "engine",
    "model_dir",
    "device",
    "sensor",
    "bands",
    "scaling",
    "threshold",
    "threshold_method",
    "min_area_m2",
    "simplify",
    "language",
    "max_new_tokens",
    "precision",
)


@dataclass
class BatchRequest:
    """One prompt (or a few) over many rasters, or over one large raster cut into chunks.

    ``inputs``: a folder (files matching ``pattern``), a glob (``"tiles/*.tif"``), a text/CSV file listing
    raster paths (first column; ``#`` comments; relative paths are relative to the list), a list of paths,
    or one raster. With ``chunk_size`` set, each input raster is cut into chunks of about that many pixels
    a side on its block grid, each grown by ``overlap`` pixels, and the chunks' polygons are merged across
    chunk borders into one output equal to a single run on the whole raster (spectral engine).
    """

    inputs: Union[str, Sequence[str]]
    prompts: Union[str, Sequence[str]]
    output_dir: str
    pattern: Optional[str] = None  # folder inputs: glob of file names (default: DEFAULT_PATTERNS)
    recursive: bool = False  # folder inputs: descend into sub-folders
    chunk_size: Optional[int] = None  # pixels a side; None: one item per raster
    overlap: Optional[int] = None  # pixels around each chunk; None: what mask cleanup needs (>= that anyway)
    merged_output: Optional[str] = None  # default <output_dir>/merged.gpkg
    aoi: Optional[AreaOfInterest] = None  # applied to every raster (not with chunk_size)
    overwrite: bool = False  # replace outputs this batch did not write itself
    # how to run
    workers: Optional[int] = None  # local workers; None: sized to the machine
    threads_per_worker: Optional[int] = None
    processes: bool = True  # local workers as processes (False: threads in this process, e.g. inside QGIS)
    scheduler: Optional[str] = None  # tcp://host:8786 of a running cluster (else DASK_SCHEDULER_ADDRESS)
    dashboard: bool = True  # serve the dask dashboard of a local cluster (when bokeh is installed)
    # passed to every item's ExtractRequest (see EXTRACT_OPTIONS)
    engine: str = "spectral"
    model_dir: Optional[str] = None
    device: str = "auto"
    sensor: Optional[str] = None
    bands: Dict[str, int] = field(default_factory=dict)
    scaling: Optional[str] = None
    threshold: Optional[float] = None
    threshold_method: str = "fixed"
    min_area_m2: float = 0.0
    simplify: float = 0.0
    language: Optional[str] = None
    max_new_tokens: int = 64
    precision: str = "auto"

    def prompt_list(self) -> List[str]:
        """The prompts as a list (one string is one prompt)."""
        if isinstance(self.prompts, str):
            return [self.prompts]
        return [str(p) for p in self.prompts]

    def extract_options(self) -> Dict[str, Any]:
        """The per-item extraction options (JSON-serialisable): also what the manifest hashes."""
        options = {name: getattr(self, name) for name in EXTRACT_OPTIONS}
        options["bands"] = dict(options["bands"] or {})
        options["aoi"] = asdict(self.aoi) if self.aoi is not None else None
        return options

    def item_request(self, raster: str, prompt: str, output: str, **changes: Any) -> ExtractRequest:
        """The ExtractRequest of one item (``changes`` override options, e.g. a chunk's AOI)."""
        options = {name: getattr(self, name) for name in EXTRACT_OPTIONS}
        options["bands"] = dict(options["bands"] or {})
        options["aoi"] = self.aoi
        options.update(changes)
        return ExtractRequest(raster=raster, prompt=prompt, output=output, overwrite=True, **options)


@dataclass
class BatchResult:
    """What a batch did: per-item records (as in the manifest), the merged layer and the totals."""

    output_dir: str
    manifest: str
    merged_output: Optional[str]
    merged_features: int
    items: List[Dict[str, Any]]
    counts: Dict[str, int]  # done / failed / skipped (finished in an earlier run) / total
    seconds: float
    workers: int
    dashboard: Optional[str] = None
    mosaics: List[Dict[str, Any]] = field(default_factory=list)  # merged chunked rasters
    warnings: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        """A JSON-serialisable dict (what ``spex batch --json`` prints)."""
        return asdict(self)
