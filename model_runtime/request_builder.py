"""Plain option values -> a checked :class:`~model_runtime.request.ExtractRequest`: the one place where
every front end's input is parsed and validated.

The ``spex`` CLI, the QGIS panel and the Processing algorithm each read their widgets/arguments into a
mapping of option names (the ExtractRequest field names, see :mod:`model_runtime.options`) to plain values
(strings, numbers, booleans, None) and call :func:`build_request`. The same values therefore give the same
request whichever front end they came from, and a bad value gets the same one-line
:class:`~model_runtime.errors.SpexInputError`, whose ``option`` attribute names the option so each front end
can show it in its own words (its flag, field label or parameter name).
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any, Dict, Iterator, Mapping, Optional

from .errors import SpexInputError
from .options import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_MIN_AREA_M2,
    DEFAULT_SIMPLIFY,
    DEVICES,
    ENGINES,
    LANGUAGES,
    PRECISIONS,
    SCALING_AUTO,
    SENSOR_AUTO,
    THRESHOLD_METHODS,
    flag,
)
from .prompts import clean_prompt
from .request import AreaOfInterest, ExtractRequest

#: options whose value is free text: "" and None both mean "not given"
_TEXT = ("raster", "prompt", "output", "model_dir", "model_base_dir", "sensor", "scaling", "aoi_crs")


@contextlib.contextmanager
def naming(option: str) -> Iterator[None]:
    """Tag a :class:`SpexInputError` raised inside the block with ``option`` (unless it names one already)."""
    try:
        yield
    except SpexInputError as exc:
        if getattr(exc, "option", None) is None:
            exc.option = option
        raise


def build_request(values: Mapping[str, Any]) -> ExtractRequest:
    """The checked :class:`ExtractRequest` of ``values`` (option name -> plain value; missing: default).

    ``aoi`` is an :class:`AreaOfInterest`, or text: ``xmin,ymin,xmax,ymax``, a WKT polygon or a vector file
    (with ``aoi_crs``). ``bands`` is ``"red=3,nir=4"`` or a dict; a role mapped to 0 stays 0 (do not use
    it). ``sensor``/``scaling`` "auto" or empty: detect. ``language`` "auto" or empty: the prompt's.
    Engine-specific options are dropped (set to their defaults) for the other engine, so a request only
    carries what its engine reads. Raises :class:`SpexInputError` with ``option`` set.
    """
    unknown = sorted(set(values) - set(_FIELDS) - {"aoi_crs"})
    if unknown:
        raise ValueError(f"unknown options {unknown}")  # a front-end bug, not user input
    text = {name: _text(values.get(name)) for name in _TEXT}
    with naming("raster"):
        if not text["raster"]:
            raise SpexInputError(
                "no raster given: pass the path of a multispectral GeoTIFF (or any GDAL raster)"
            )
    with naming("prompt"):
        prompt = clean_prompt(values.get("prompt"))
    options = build_options(values)
    return ExtractRequest(
        raster=text["raster"],
        prompt=prompt,
        output=text["output"],
        overwrite=bool(values.get("overwrite") or False),
        **options,
    )


def build_options(values: Mapping[str, Any]) -> Dict[str, Any]:
    """The checked extraction options of ``values`` (every ExtractRequest field but raster, prompt, output
    and overwrite): what :func:`build_request` uses, and what a batch passes to each of its items."""
    text = {name: _text(values.get(name)) for name in _TEXT}
    engine = _choice("engine", values.get("engine"), ENGINES, ENGINES[0])
    spex = engine == "spex"
    with naming("model_dir"):
        model_dir = text["model_dir"]
        if spex and not model_dir:
            raise SpexInputError(
                f"the spex engine needs the SPEX model folder: pass {flag('model_dir')} DIR (or use "
                f"{flag('engine')} spectral, which needs no weights)"
            )
        if spex and not os.path.isdir(model_dir):
            raise SpexInputError(
                f"model folder {model_dir} does not exist: point {flag('model_dir')} at the folder holding "
                "the SPEX config.json and weights"
            )
    device = _device(values.get("device")) if spex else "auto"
    return dict(
        aoi=_aoi(values.get("aoi"), text["aoi_crs"]),
        engine=engine,
        model_dir=model_dir if spex else None,
        model_base_dir=text["model_base_dir"] if spex else None,
        device=device,
        precision=check_precision(device, values.get("precision")) if spex else "auto",
        max_new_tokens=_count("max_new_tokens", values.get("max_new_tokens"), DEFAULT_MAX_NEW_TOKENS)
        if spex
        else DEFAULT_MAX_NEW_TOKENS,
        sensor=_sensor(text["sensor"]),
        bands=_bands(values.get("bands")),
        scaling=_scaling(text["scaling"]),
        threshold=_number("threshold", values.get("threshold")),
        threshold_method=_choice(
            "threshold_method", values.get("threshold_method"), THRESHOLD_METHODS, THRESHOLD_METHODS[0]
        ),
        min_area_m2=_distance("min_area_m2", values.get("min_area_m2"), DEFAULT_MIN_AREA_M2),
        simplify=_distance("simplify", values.get("simplify"), DEFAULT_SIMPLIFY),
        language=_language(values.get("language")),
        allow_network=bool(values.get("allow_network") or False),
        max_pixels=_max_pixels(values.get("max_pixels")),
    )


_FIELDS = tuple(ExtractRequest.__dataclass_fields__)


def _text(value: Any) -> Optional[str]:
    text = "" if value is None else str(value).strip()
    return text or None


def _choice(option: str, value: Any, choices, default: str) -> str:
    text = (_text(value) or default).lower()
    if text not in choices:
        with naming(option):
            raise SpexInputError(f"unknown {flag(option)} value '{value}': use one of {', '.join(choices)}")
    return text


def _device(value: Any) -> str:
    device = (_text(value) or DEVICES[0]).lower()
    index = device.partition(":")[2]
    if device not in DEVICES and not (device.startswith("cuda:") and index.isdigit()):
        with naming("device"):
            raise SpexInputError(f"unknown device '{value}': use auto, cpu, cuda or cuda:N")
    return device


def check_precision(device: str, precision: Any) -> str:
    """The normalised spex ``precision`` for ``device``; :class:`SpexInputError` for an unknown name or a
    combination that can never run (int8 on a GPU, fp16 on the CPU). Device "auto" is left to the runtime,
    which knows whether a GPU is there."""
    value = _choice("precision", precision, PRECISIONS, PRECISIONS[0])
    device = (device or "auto").strip().lower()
    with naming("precision"):
        if value == "int8" and device.startswith("cuda"):
            raise SpexInputError(
                f"precision int8 runs on the CPU only: use {flag('device')} cpu for int8, or "
                f"{flag('precision')} auto on the GPU"
            )
        if value == "fp16" and device == "cpu":
            raise SpexInputError(
                f"precision fp16 needs a GPU: use {flag('device')} cuda for fp16, or {flag('precision')} "
                "auto, fp32 or int8 on the CPU"
            )
    return value


def _sensor(text: Optional[str]) -> Optional[str]:
    if not text or text.lower() == SENSOR_AUTO:
        return None
    from .io.bands import resolve_sensor_name

    with naming("sensor"):
        resolve_sensor_name(text)  # an unknown preset is refused here, before any work
    return text


def _bands(value: Any) -> Dict[str, int]:
    if value is None or value == "" or value == {}:
        return {}
    from .io.bands import parse_band_mapping

    with naming("bands"):
        if not isinstance(value, Mapping):
            if any("=" not in item for item in str(value).replace(";", ",").split(",") if item.strip()):
                return parse_band_mapping(str(value))  # refuses the item, naming the role=band form
            pairs = [item.partition("=") for item in str(value).replace(";", ",").split(",") if item.strip()]
            if len({role.strip().lower() for role, _sep, _band in pairs}) < len(pairs):
                return parse_band_mapping(str(value))  # a role given twice: refused unless the same band
            value = {role: band for role, _sep, band in pairs}
        # 0 travels on: it tells the runtime not to use a role it would otherwise detect
        unused = [role for role, band in value.items() if str(band).strip() in ("0", "0.0")]
        used = parse_band_mapping({role: band for role, band in value.items() if role not in unused})
        parse_band_mapping({role: 1 for role in unused})  # their roles are checked too
        return {str(role).strip().lower(): used.get(str(role).strip().lower(), 0) for role in value}


def _scaling(text: Optional[str]) -> Optional[str]:
    if not text or text.lower() == SCALING_AUTO:
        return None
    from .io.scaling import parse_scaling

    with naming("scaling"):
        parse_scaling(text)  # raises naming the accepted forms
    return text


def _number(option: str, value: Any) -> Optional[float]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    with naming(option):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SpexInputError(
                f"{flag(option)} must be a number, got '{value}': write e.g. 0.25 or 100"
            ) from None
        if not math.isfinite(number):
            raise SpexInputError(f"{flag(option)} must be a finite number, got '{value}': write e.g. 0.25")
    return number


def _distance(option: str, value: Any, default: float) -> float:
    number = _number(option, value)
    if number is None:
        return default
    if number < 0:
        with naming(option):
            raise SpexInputError(f"{flag(option)} cannot be negative, got '{value}': use 0 to turn it off")
    return number


def _count(option: str, value: Any, default: Optional[int]) -> Optional[int]:
    number = _number(option, value)
    if number is None:
        return default
    if number < 0 or number != int(number):
        with naming(option):
            raise SpexInputError(
                f"{flag(option)} must be 0 or a positive whole number, got '{value}': write e.g. 1000"
            )
    return int(number)


def _max_pixels(value: Any) -> Optional[int]:
    if isinstance(value, str):
        value = value.replace("_", "")
    return _count("max_pixels", value, None)


def _language(value: Any) -> Optional[str]:
    text = (_text(value) or "").lower()
    if not text or text == "auto":
        return None
    return _choice("language", text, LANGUAGES, LANGUAGES[0])


def _aoi(value: Any, crs: Optional[str]) -> Optional[AreaOfInterest]:
    if isinstance(value, AreaOfInterest):
        return value
    from .io.aoi import aoi_from_cli

    with naming("aoi"):
        return aoi_from_cli(_text(value), crs)
