"""Turn the SPEX panel's state into an :class:`~model_runtime.request.ExtractRequest`.

Pure Python, no Qt: the dock collects what the user chose into a :class:`PanelState` and calls
:func:`build_request`, so every validation rule (and its one-line message) is unit-testable without widgets.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict

from model_runtime.errors import SpexInputError
from model_runtime.request import OUTPUT_FORMATS, PRECISIONS, AreaOfInterest, ExtractRequest

AOI_MODES = ("layer", "extent", "rectangle", "polygon", "features")
OUTPUT_MODES = ("temporary", "file")
THRESHOLD_METHODS = ("fixed", "otsu")

# What to tell the user when a geometry-based AOI mode has no geometry yet.
_MISSING_AOI_FIX = {
    "extent": "map extent unavailable: zoom the map to the area, or choose 'Whole layer'",
    "rectangle": "no rectangle drawn: click 'Draw' and drag a rectangle on the map, or choose 'Whole layer'",
    "polygon": (
        "no polygon drawn: click 'Draw', click the vertices on the map and right-click to finish, "
        "or choose 'Whole layer'"
    ),
    "features": (
        "no polygon features selected: select polygons in the chosen vector layer with the Select tool, "
        "or choose another area"
    ),
}


@dataclass
class PanelState:
    """Everything the user set in the panel (plain values, already read from the widgets)."""

    raster_source: str = ""  # QgsRasterLayer.source()
    raster_name: str = ""
    raster_provider: str = "gdal"
    prompt: str = ""
    sensor: str | None = None  # preset name; None / "" / "auto": let the runtime detect it
    bands: Dict[str, int] = field(default_factory=dict)  # role -> 1-based band; 0 = not set (not used)
    aoi_mode: str = "layer"
    aoi_wkt: str | None = None  # geometry of the extent / drawn shape / selected features
    aoi_crs: str | None = None  # crs of aoi_wkt: "EPSG:3857" or a WKT
    engine: str = "spectral"
    model_dir: str = ""
    model_base_dir: str = ""  # LoRA checkpoints only: the base model folder
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | int8 | bf16 | fp16 (engine "spex")
    threshold: float | None = None  # primary index threshold; None: the class default
    threshold_method: str = "fixed"  # fixed | otsu (the threshold is taken from the scene's histogram)
    min_area_m2: float = 0.0  # drop polygons smaller than this
    simplify: float = 0.0  # Douglas-Peucker tolerance in map units of the raster, 0 = none
    scaling: str = ""  # "" / auto: detect; none, s2, s2-offset, landsat-c2-l2... or "GAIN,OFFSET"
    language: str | None = None  # explanation language "en" / "zh"; None: the prompt's
    output_mode: str = "temporary"
    output_path: str = ""
    overwrite: bool = False
    temp_dir: str = ""  # where temporary outputs go (a per-session folder, never the user's)


def build_request(state: PanelState) -> ExtractRequest:
    """Validate ``state`` and return the request; raise :class:`SpexInputError` (one line) on bad input."""
    raster = (state.raster_source or "").strip()
    if not raster:
        raise SpexInputError(
            "No raster layer selected: add a multispectral raster to the project "
            "and pick it in the SPEX panel."
        )
    if state.raster_provider != "gdal":
        raise SpexInputError(
            f"Layer '{state.raster_name or raster}' is not a file raster "
            f"(provider '{state.raster_provider}'): "
            "save it as a GeoTIFF (right-click > Export > Save As...) and pick the saved layer."
        )
    prompt = " ".join((state.prompt or "").split())
    if not prompt:
        raise SpexInputError(
            "The prompt is empty: type what to extract, e.g. 'extract the water bodies' or '提取水体'."
        )
    if state.engine not in ("spectral", "spex"):
        raise SpexInputError(f"Unknown engine '{state.engine}': choose 'spectral' or 'spex'.")
    model_dir = (state.model_dir or "").strip() or None
    if state.engine == "spex":
        if not model_dir:
            raise SpexInputError(
                "The SPEX engine needs a model folder: pick the downloaded SPEX checkpoint folder, "
                "or use the spectral engine."
            )
        if not os.path.isdir(model_dir):
            raise SpexInputError(
                f"Model folder '{model_dir}' does not exist: pick the folder that holds config.json and the "
                "*.safetensors files."
            )
    device = (state.device or "auto").strip().lower()
    precision = check_precision(device, state.precision) if state.engine == "spex" else "auto"
    sensor = (state.sensor or "").strip() or None
    if sensor and sensor.lower() == "auto":
        sensor = None
    # 0 travels on: it tells the runtime not to use a role it would otherwise detect.
    bands = {role: int(index or 0) for role, index in (state.bands or {}).items() if int(index or 0) >= 0}
    if state.threshold_method not in THRESHOLD_METHODS:
        raise SpexInputError(
            f"Unknown threshold method '{state.threshold_method}': "
            f"choose one of {', '.join(THRESHOLD_METHODS)}."
        )
    if (state.min_area_m2 or 0) < 0 or (state.simplify or 0) < 0:
        raise SpexInputError(
            "Minimum area and simplify tolerance cannot be negative: use 0 to turn them off."
        )
    return ExtractRequest(
        raster=raster,
        prompt=prompt,
        output=_output_path(state, prompt),
        aoi=_area_of_interest(state),
        engine=state.engine,
        model_dir=model_dir if state.engine == "spex" else None,
        model_base_dir=((state.model_base_dir or "").strip() or None) if state.engine == "spex" else None,
        device=device,
        precision=precision,
        sensor=sensor,
        bands=bands,
        threshold=None if state.threshold is None else float(state.threshold),
        threshold_method=state.threshold_method,
        min_area_m2=float(state.min_area_m2 or 0.0),
        simplify=float(state.simplify or 0.0),
        scaling=_scaling(state.scaling),
        language=state.language or None,
        overwrite=bool(state.overwrite),
    )


def _scaling(text: str | None) -> str | None:
    """The scaling the runtime should apply (None: detect); a value it cannot read is refused here."""
    text = (text or "").strip()
    if not text or text.lower() == "auto":
        return None
    from model_runtime.scaling import parse_scaling

    parse_scaling(text)  # raises SpexInputError naming the accepted forms
    return text


def check_precision(device: str, precision: str | None) -> str:
    """The normalised SPEX ``precision`` for ``device``; raise :class:`SpexInputError` (one line) for an
    unknown name or a combination that can never run (int8 on a GPU, fp16 on the CPU).

    ``device`` "auto" is left to the runtime, which knows whether a GPU is there.
    """
    value = (precision or "auto").strip().lower()
    if value not in PRECISIONS:
        raise SpexInputError(f"Unknown precision '{precision}': choose one of {', '.join(PRECISIONS)}.")
    device = (device or "auto").strip().lower()
    if value == "int8" and device.startswith("cuda"):
        raise SpexInputError(
            "Precision int8 runs on the CPU only: choose device 'cpu' for int8, "
            "or precision 'auto' on the GPU."
        )
    if value == "fp16" and device == "cpu":
        raise SpexInputError(
            "Precision fp16 needs a GPU: choose device 'cuda' for fp16, "
            "or precision 'auto', 'fp32' or 'int8' on the CPU."
        )
    return value


def _area_of_interest(state: PanelState) -> AreaOfInterest | None:
    if state.aoi_mode not in AOI_MODES:
        raise SpexInputError(f"Unknown area mode '{state.aoi_mode}': choose one of {', '.join(AOI_MODES)}.")
    if state.aoi_mode == "layer":
        return None
    wkt = (state.aoi_wkt or "").strip()
    if not wkt or wkt.upper().endswith("EMPTY"):
        problem, fix = _MISSING_AOI_FIX[state.aoi_mode].split(": ", 1)
        raise SpexInputError(f"{problem[0].upper()}{problem[1:]}: {fix}.")
    return AreaOfInterest(wkt=wkt, crs=(state.aoi_crs or None))


def _output_path(state: PanelState, prompt: str) -> str:
    if state.output_mode not in OUTPUT_MODES:
        raise SpexInputError(f"Unknown output mode '{state.output_mode}': choose 'temporary' or 'file'.")
    if state.output_mode == "temporary":
        if not state.temp_dir:
            raise SpexInputError(
                "No temporary folder configured: choose 'Save to file' and pick an output file."
            )
        return os.path.join(state.temp_dir, temporary_name(prompt))
    path = (state.output_path or "").strip()
    if not path:
        raise SpexInputError(
            "No output file chosen: pick a .gpkg, .shp or .geojson file, or choose 'Temporary layer'."
        )
    root, ext = os.path.splitext(path)
    if not ext:
        path = root + ".gpkg"  # the save dialog may hand back a bare name: GeoPackage is the default format
    elif ext.lower() not in OUTPUT_FORMATS:
        supported = ", ".join(sorted({e for e in OUTPUT_FORMATS if e != ".json"}))
        raise SpexInputError(f"Unsupported output format '{ext}': use one of {supported}.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SpexInputError(f"Output folder '{folder}' does not exist: create it or pick another file.")
    return path


def temporary_name(prompt: str) -> str:
    """A unique GeoPackage file name for a temporary result, readable when the prompt is ASCII."""
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:40].strip("_") or "result"
    return f"spex_{slug}_{time.strftime('%H%M%S')}_{uuid.uuid4().hex[:6]}.gpkg"


def layer_name(prompt: str, when: float | None = None) -> str:
    """The result layer's name: the prompt (long prompts shortened with an ellipsis) and a short time."""
    text = " ".join(prompt.split())
    if len(text) > 48:
        text = text[:47].rstrip() + "…"
    return f"{text} ({time.strftime('%H:%M', time.localtime(when))})"
