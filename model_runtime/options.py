"""The one definition of every runtime option: its name, its allowed values, its default and its CLI flag.

Every front end (the ``spex`` CLI, the QGIS panel, the Processing algorithms) takes its choices, defaults and
limits from here, and :func:`model_runtime.request_builder.build_request` checks values against them, so an
engine, a precision or an output format is added in one place. Nothing here imports GDAL, numpy or Qt.

Option names are the :class:`~model_runtime.request.ExtractRequest` field names. Runtime messages name an
option by its CLI flag (``--threshold``); :data:`CLI_FLAGS` is the table each other front end uses to show
its own words instead (see :func:`model_runtime.messages.render_options`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# ------------------------------------------------------------------------------------------- choices

ENGINES = ("spectral", "spex")
#: devices the front ends offer; the runtime also accepts ``cuda:N``
DEVICES = ("auto", "cpu", "cuda")
#: engine "spex": auto (bf16/fp16 on GPU, fp32 on CPU); int8 is CPU-only, fp16/bf16 need CUDA
PRECISIONS = ("auto", "fp32", "int8", "bf16", "fp16")
#: fixed: the class default (or the given threshold); otsu: from the scene's histogram
THRESHOLD_METHODS = ("fixed", "otsu")
#: explanation languages; None (the front ends' "auto"): the prompt's language
LANGUAGES = ("en", "zh")
#: scaling value meaning "detect" (None in the request)
SCALING_AUTO = "auto"
#: sensor value meaning "detect" (None in the request)
SENSOR_AUTO = "auto"


@dataclass(frozen=True)
class OutputFormat:
    """One vector output format: its OGR driver, the extensions that select it and the files it writes."""

    driver: str
    extensions: Tuple[str, ...]  # the first is the one offered in file dialogs
    #: files written beside ``<name><ext>`` (suffixes replacing the extension), the main file excluded
    parts: Tuple[str, ...] = ()
    #: files derived from an older output (spatial index, sidecar) that become stale when it is replaced
    derived: Tuple[str, ...] = ()


#: ``.gpkg`` is the default; ``.json`` is read as GeoJSON
FORMATS = (
    OutputFormat("GPKG", (".gpkg",)),
    OutputFormat(
        "ESRI Shapefile",
        (".shp",),
        parts=(".shx", ".dbf", ".prj", ".cpg"),
        derived=(".qpj", ".qix", ".sbn", ".sbx", ".qmd", ".explain.txt"),
    ),
    OutputFormat("GeoJSON", (".geojson", ".json")),
)
#: extension -> OGR driver
OUTPUT_FORMATS: Dict[str, str] = {ext: fmt.driver for fmt in FORMATS for ext in fmt.extensions}
DEFAULT_OUTPUT_EXTENSION = ".gpkg"
#: the full explanation beside a Shapefile (which has no layer description)
EXPLAIN_SIDECAR = ".explain.txt"


def output_format_of(path: str) -> Optional[OutputFormat]:
    """The :class:`OutputFormat` selected by ``path``'s extension (case-insensitive); None if unsupported."""
    lower = path.lower()
    for fmt in FORMATS:
        if any(lower.endswith(ext) for ext in fmt.extensions):
            return fmt
    return None


def output_files(path: str) -> Tuple[str, ...]:
    """Every file an output at ``path`` consists of or would make stale: the set an existence check or an
    overwrite has to look at (a Shapefile: all its parts, spatial indexes and the explanation sidecar)."""
    fmt = output_format_of(path)
    if fmt is None or not (fmt.parts or fmt.derived):
        return (path,)
    root = path[: -len(next(e for e in fmt.extensions if path.lower().endswith(e)))]
    return (path,) + tuple(root + suffix for suffix in fmt.parts + fmt.derived)


# ------------------------------------------------------------------------------------------- limits

DEFAULT_MIN_AREA_M2 = 0.0
DEFAULT_SIMPLIFY = 0.0
DEFAULT_MAX_NEW_TOKENS = 64
#: size guard: largest window (pixels) processed unless the request raises it (0: no limit). 500 million
#: pixels is about four Sentinel-2 10 m tiles: minutes of work, not hours.
DEFAULT_MAX_PIXELS = 500_000_000
#: dBASE character field limit (Shapefile text attributes)
DBF_TEXT_BYTES = 254
#: dBASE field names hold at most 10 characters
DBF_NAME_CHARS = 10
#: "explain_99" is the longest split-field name of "explain" that fits the 10-character dBASE limit
MAX_SPLIT_FIELDS = 99

# ------------------------------------------------------------------------------------------- names

#: option name (ExtractRequest field) -> the CLI flag that sets it; runtime messages name options this way
CLI_FLAGS: Dict[str, str] = {
    "raster": "RASTER",
    "prompt": "--prompt",
    "output": "--output",
    "aoi": "--aoi",
    "aoi_crs": "--aoi-crs",
    "engine": "--engine",
    "model_dir": "--model",
    "model_base_dir": "--model-base",
    "device": "--device",
    "precision": "--precision",
    "sensor": "--sensor",
    "bands": "--bands",
    "scaling": "--scaling",
    "threshold": "--threshold",
    "threshold_method": "--threshold-method",
    "min_area_m2": "--min-area",
    "simplify": "--simplify",
    "language": "--language",
    "overwrite": "--overwrite",
    "max_pixels": "--max-pixels",
    "allow_network": "--allow-network",
    "max_new_tokens": "--max-new-tokens",
}


#: the options every item of a batch shares (the CLI's ``spex batch`` flags)
ITEM_OPTIONS = (
    "aoi", "aoi_crs", "engine", "model_dir", "device", "precision", "sensor", "bands", "scaling", "threshold",
    "threshold_method", "min_area_m2", "simplify", "language",
)  # fmt: skip


def flag(option: str) -> str:
    """The CLI flag of ``option`` (how runtime messages name it); KeyError for an unknown option."""
    return CLI_FLAGS[option]


def cli_values(args, options=None) -> Dict[str, object]:
    """The values of ``options`` (default: all of :data:`CLI_FLAGS`) from parsed ``argparse`` arguments,
    each read from its flag's destination (``--min-area`` -> ``args.min_area``)."""
    names = list(CLI_FLAGS) if options is None else options
    return {name: getattr(args, CLI_FLAGS[name].lstrip("-").replace("-", "_").lower()) for name in names}
