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
from model_runtime.options import DEFAULT_OUTPUT_EXTENSION, OUTPUT_FORMATS
from model_runtime.request import AreaOfInterest, ExtractRequest
from model_runtime.request_builder import build_request as runtime_build_request

AOI_MODES = ("layer", "extent", "rectangle", "polygon", "features")
OUTPUT_MODES = ("temporary", "file")

# What to tell the user when a geometry-based AOI mode has no geometry yet (Chinese: model_runtime.messages).
MISSING_AOI = {
    "extent": "Map extent unavailable: zoom the map to the area, or choose 'Whole layer'.",
    "rectangle": "No rectangle drawn: click 'Draw' and drag a rectangle on the map, or choose 'Whole layer'.",
    "polygon": (
        "No polygon drawn: click 'Draw', click the vertices on the map and right-click to finish, "
        "or choose 'Whole layer'."
    ),
    "features": (
        "No polygon features selected: select polygons in the chosen vector layer with the Select tool, "
        "or choose another area."
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
    """Validate ``state`` and return the request; raise :class:`SpexInputError` (one line) on bad input.

    The panel's own rules (a file raster, the area mode, the output mode) are checked here; every option
    the runtime knows goes through :func:`model_runtime.request_builder.build_request`, as on the CLI and
    in Processing.
    """
    raster = (state.raster_source or "").strip()
    if not raster:  # the panel's raster is a layer of the project, not a path
        raise SpexInputError(
            "No raster layer selected: add a multispectral raster to the project "
            "and pick it in the SPEX panel.",
            option="raster",
        )
    if state.raster_provider != "gdal":
        raise SpexInputError(
            f"Layer '{state.raster_name or raster}' is not a file raster "
            f"(provider '{state.raster_provider}'): "
            "save it as a GeoTIFF (right-click > Export > Save As...) and pick the saved layer.",
            option="raster",
        )
    return runtime_build_request(panel_values(state))


def panel_values(state: PanelState) -> Dict[str, object]:
    """The runtime option values (see :mod:`model_runtime.options`) that ``state`` stands for."""
    prompt = " ".join((state.prompt or "").split())
    return {
        "raster": state.raster_source,
        "prompt": prompt,
        "output": _output_path(state, prompt) if prompt else None,
        "aoi": _area_of_interest(state),
        "engine": state.engine,
        "model_dir": state.model_dir,
        "model_base_dir": state.model_base_dir,
        "device": state.device,
        "precision": state.precision,
        "sensor": state.sensor,
        "bands": dict(state.bands or {}),
        "scaling": state.scaling,
        "threshold": state.threshold,
        "threshold_method": state.threshold_method,
        "min_area_m2": state.min_area_m2,
        "simplify": state.simplify,
        "language": state.language,
        "overwrite": state.overwrite,
    }


def option_labels() -> Dict[str, str]:
    """Option name -> the panel's label for it, in the UI language: how runtime messages name an option
    in the panel (see :func:`model_runtime.messages.render_options`)."""
    return {
        "raster": tr("Raster"),
        "prompt": tr("Prompt"),
        "output": tr("Save to file"),
        "aoi": tr("Area of interest"),
        "engine": tr("Engine"),
        "model_dir": tr("Model folder"),
        "model_base_dir": tr("Base model (LoRA)"),
        "device": tr("Device"),
        "precision": tr("Precision"),
        "sensor": tr("Sensor"),
        "bands": tr("Bands"),
        "scaling": tr("Reflectance scaling"),
        "threshold": tr("Threshold"),
        "threshold_method": tr("Method"),
        "min_area_m2": tr("Minimum area"),
        "simplify": tr("Simplify"),
        "language": tr("Explanation language"),
    }


def tr(text: str) -> str:
    """Translate ``text`` in the panel's context ``SpexDockWidget`` (Qt imported when labels are read)."""
    from qgis.PyQt.QtCore import QCoreApplication

    return QCoreApplication.translate("SpexDockWidget", text)


def _area_of_interest(state: PanelState) -> AreaOfInterest | None:
    if state.aoi_mode not in AOI_MODES:
        raise SpexInputError(f"Unknown area mode '{state.aoi_mode}': choose one of {', '.join(AOI_MODES)}.")
    if state.aoi_mode == "layer":
        return None
    wkt = (state.aoi_wkt or "").strip()
    if not wkt or wkt.upper().endswith("EMPTY"):
        raise SpexInputError(MISSING_AOI[state.aoi_mode], option="aoi")
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
        # the save dialog may hand back a bare name: GeoPackage is the default format
        path = root + DEFAULT_OUTPUT_EXTENSION
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
