"""Digital numbers -> reflectance: detect the scaling of a raster, or take the user's override.

Order (first that applies wins):

1. the user's ``--scaling`` (``none``, ``s2``, ``s2-offset``, ``landsat-c2-l2``, ``landsat-c2-l1``,
   ``brightness8`` or ``GAIN,OFFSET``): reflectance = DN * GAIN + OFFSET;
2. GDAL band scale/offset metadata (per band; written by many producers, e.g. our Landsat sample);
3. the sensor: Sentinel-2 DN / QUANTIFICATION_VALUE (10000) plus the BOA/RADIO_ADD_OFFSET of processing
   baseline 04.00+ (-1000 DN). The offset comes from metadata (``BOA_ADD_OFFSET``/``RADIO_ADD_OFFSET``,
   ``PROCESSING_BASELINE``), else from the acquisition date (baseline 04.00 was introduced on 2022-01-25), and
   the values overrule the date: when more than 1 % of the valid blue/green pixels are below 1000 DN the
   offset cannot be there (harmonised collections such as Earth Engine's S2_SR_HARMONIZED removed it).
   Without date the offset is assumed only when the darkest 1 % of the blue/green pixels is >= 1000 DN.
   Landsat Collection 2 Level-2: DN * 0.0000275 - 0.2. Landsat Level-1: the MTL file next to the raster
   (REFLECTANCE_MULT/ADD / sin(SUN_ELEVATION)), else the usual OLI L1 factors 2e-5, -0.1 (no sun correction).
   Bands named ``SR_B<n>`` are Collection 2 Level-2 whatever the sensor metadata says (or does not);
4. no sensor: by data type and values: floats within [-0.5, 2] are reflectance already; 8-bit -> DN / 255
   (*brightness*, not reflectance: aerial cameras are rarely calibrated); 16-bit or larger floats ->
   DN / 10000, unless that leaves the scene without dark pixels (the darkest 1 % of every band, SWIR
   included, >= 0.65) and the Collection-2 Level-2 offset brings them to a dark surface's reflectance
   (<= 0.2): the darkest 1 % of every band between 6,500 and 14,545 DN.

Every detected scaling (not the user's) is then checked against the data (:func:`check_plausible`): when
it turns most valid pixels of a band into negative reflectance (< -0.05) or implausibly high reflectance
(> 1.5), or when even the largest value the data type can hold gives no positive reflectance (e.g. the
Collection-2 SR gains on 8-bit DN), it is rejected for the value-based rule of step 4; the engine switches to
scene-relative thresholds when that is not reflectance either. The reason then says what was rejected and why.

``ReflectanceScaling.reason`` says which rule fired; ``spex info`` prints it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Dict, List, Tuple

import numpy as np

from ..errors import SpexInputError

S2_OFFSET_SINCE = date(2022, 1, 25)  # processing baseline 04.00: BOA_ADD_OFFSET / RADIO_ADD_OFFSET = -1000
NAMED_SCALINGS: Dict[str, Tuple[float, float, str]] = {
    "none": (1.0, 0.0, "values used as they are"),
    "s2": (1e-4, 0.0, "Sentinel-2 DN / 10000"),
    "s2-offset": (1e-4, -0.1, "Sentinel-2 baseline 04.00+: (DN - 1000) / 10000"),
    "landsat-c2-l2": (2.75e-5, -0.2, "Landsat Collection 2 Level-2 SR: DN * 0.0000275 - 0.2"),
    "landsat-c2-l1": (2e-5, -0.1, "Landsat 8/9 Level-1 TOA: DN * 0.00002 - 0.1 (no sun-angle correction)"),
    "brightness8": (1.0 / 255.0, 0.0, "8-bit DN / 255: brightness, not reflectance"),
}


@dataclass
class ReflectanceScaling:
    """reflectance = DN * gain + offset (``band_factors`` overrides gain/offset per 1-based band)."""

    name: str
    gain: float = 1.0
    offset: float = 0.0
    reason: str = ""
    band_factors: Dict[int, Tuple[float, float]] = field(default_factory=dict)

    def factors(self, band: int | None = None) -> Tuple[float, float]:
        """(gain, offset) used for 1-based ``band`` (the global ones when it has no override)."""
        if band is None:
            return self.gain, self.offset
        return self.band_factors.get(band, (self.gain, self.offset))

    def apply(self, array: np.ndarray, band: int | None = None) -> np.ndarray:
        """float32 reflectance of a DN array of 1-based ``band`` (NaN stays NaN)."""
        gain, offset = self.factors(band)
        out = np.asarray(array, dtype=np.float32)
        if gain == 1.0 and offset == 0.0:
            return out if out is not array else out.copy()
        return (out * np.float32(gain) + np.float32(offset)).astype(np.float32, copy=False)

    def describe(self) -> str:
        """One line: formula and reason."""
        if self.band_factors:
            parts = sorted({f"{g:.6g}, {o:.6g}" for g, o in self.band_factors.values()})
            formula = "per band (gain, offset): " + "; ".join(parts)
        else:
            formula = f"DN * {self.gain:.6g} + {self.offset:.6g}"
        return f"{self.name}: {formula}" + (f" ({self.reason})" if self.reason else "")


def parse_scaling(text: str | None) -> ReflectanceScaling | None:
    """The user's ``--scaling`` value -> :class:`ReflectanceScaling`; None/""/"auto" -> None (detect)."""
    if text is None:
        return None
    key = str(text).strip().lower().replace("_", "-")
    if key in ("", "auto"):
        return None
    if key in NAMED_SCALINGS:
        gain, offset, reason = NAMED_SCALINGS[key]
        return ReflectanceScaling(key, gain, offset, f"--scaling {key}: {reason}")
    parts = [p.strip() for p in key.split(",")]
    try:
        if len(parts) not in (1, 2):
            raise ValueError
        gain = float(parts[0])
        offset = float(parts[1]) if len(parts) == 2 else 0.0
        if not (math.isfinite(gain) and math.isfinite(offset)) or gain == 0.0:
            raise ValueError
    except ValueError:
        raise SpexInputError(
            f"scaling '{text}' is not understood: use auto, {', '.join(NAMED_SCALINGS)} or GAIN,OFFSET "
            "(e.g. 0.0001,-0.1)"
        ) from None
    return ReflectanceScaling("custom", gain, offset, f"--scaling {gain:g},{offset:g}")


# --------------------------------------------------------------------------------------------- helpers
def _gdal_band_factors(ds) -> Dict[int, Tuple[float, float]]:
    factors = {}
    for i in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(i)
        scale, offset = band.GetScale(), band.GetOffset()
        scale = 1.0 if scale in (None, 0) else float(scale)
        offset = 0.0 if offset is None else float(offset)
        if scale != 1.0 or offset != 0.0:
            factors[i] = (scale, offset)
    return factors


def sample_values(ds, band_index: int, max_windows: int = 9, size: int = 256) -> np.ndarray:
    """Valid values of one band from a cheap sample: the smallest useful overview, else a 3x3 grid of
    ``size`` windows. Never reads the whole band of a large raster."""
    band = ds.GetRasterBand(band_index)
    nodata = band.GetNoDataValue()
    source = band
    for k in range(band.GetOverviewCount() - 1, -1, -1):
        ov = band.GetOverview(k)
        if ov is not None and ov.XSize * ov.YSize >= 64 * 64:
            source = ov
            break
    w, h = source.XSize, source.YSize
    chunks: List[np.ndarray] = []
    if w * h <= (size * 3) ** 2:
        arr = source.ReadAsArray()
        if arr is not None:
            chunks.append(arr.ravel())
    else:
        steps = int(math.sqrt(max_windows))
        for gy in range(steps):
            for gx in range(steps):
                xs, ys = min(size, w), min(size, h)
                xoff = int((w - xs) * (gx + 0.5) / steps)
                yoff = int((h - ys) * (gy + 0.5) / steps)
                arr = source.ReadAsArray(xoff, yoff, xs, ys)
                if arr is not None:
                    chunks.append(arr.ravel())
    if not chunks:
        return np.empty(0, dtype=np.float64)
    values = np.concatenate(chunks).astype(np.float64)
    keep = np.isfinite(values) & (values != 0)  # 0 is the fill value of nearly every product
    if nodata is not None and not math.isnan(nodata):
        keep &= values != nodata
    return values[keep]


def _acquisition_date(ds) -> date | None:
    md = ds.GetMetadata() or {}
    candidates = [md.get(k, "") for k in ("ACQUISITION_DATE", "DATATAKE_1_DATATAKE_SENSING_START",
                                           "PRODUCT_START_TIME", "SENSING_TIME", "DATE_ACQUIRED", "datetime",
                                           "TIFFTAG_DATETIME")]  # fmt: skip
    candidates.append(os.path.basename(ds.GetDescription() or ""))
    for text in candidates:
        match = re.search(r"(20\d\d)[-:]?([01]\d)[-:]?([0-3]\d)", str(text))
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                continue
    return None


def _s2_offset_from_metadata(ds) -> Tuple[float | None, str]:
    md = ds.GetMetadata() or {}
    for key, value in md.items():
        if re.match(r"(BOA|RADIO)_ADD_OFFSET", key):
            try:
                return float(value), f"{key}={value}"
            except ValueError:
                pass
    baseline = md.get("PROCESSING_BASELINE")
    if baseline:
        try:
            return (-1000.0 if float(baseline) >= 4.0 else 0.0), f"PROCESSING_BASELINE={baseline}"
        except ValueError:
            pass
    return None, ""


def _visible_bands(roles: Dict[str, int], count: int) -> List[int]:
    picked = [roles[r] for r in ("blue", "green") if r in roles]
    return picked or [1]


def _sentinel2(ds, roles: Dict[str, int]) -> ReflectanceScaling:
    md = ds.GetMetadata() or {}
    quant = 10000.0
    for key in ("BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE", "TOA_QUANTIFICATION_VALUE"):
        if md.get(key):
            try:
                quant = float(md[key])
                break
            except ValueError:
                pass
    gain = 1.0 / quant
    offset_dn, why = _s2_offset_from_metadata(ds)
    if offset_dn is not None:
        return _s2_result(gain, offset_dn, f"Sentinel-2, {why}")
    samples = np.concatenate([sample_values(ds, b) for b in _visible_bands(roles, ds.RasterCount)])
    dark_share = float(np.mean(samples < 1000)) if samples.size else 0.0
    p1 = float(np.percentile(samples, 1)) if samples.size else float("nan")
    when = _acquisition_date(ds)
    if when is not None:
        if when >= S2_OFFSET_SINCE and dark_share <= 0.01:
            return _s2_result(gain, -1000.0, f"Sentinel-2 acquired {when} (baseline 04.00+ from 2022-01-25)")
        if when >= S2_OFFSET_SINCE:
            return _s2_result(gain, 0.0, f"Sentinel-2 acquired {when} but {dark_share:.0%} of blue/green DNs "
                                         "< 1000: offset already removed (harmonised)")  # fmt: skip
        return _s2_result(gain, 0.0, f"Sentinel-2 acquired {when}, before baseline 04.00 (no offset)")
    if samples.size and p1 >= 1000:
        why = f"Sentinel-2, no date; darkest 1 % of blue/green DNs = {p1:.0f} >= 1000: baseline 04.00+ offset"
        return _s2_result(gain, -1000.0, why)
    return _s2_result(gain, 0.0, "Sentinel-2, no date; dark DNs below 1000 (no offset)")


def _s2_result(gain: float, offset_dn: float, reason: str) -> ReflectanceScaling:
    name = "s2-offset" if offset_dn else "s2"
    return ReflectanceScaling(name, gain, offset_dn * gain, reason)


def _find_mtl(ds) -> str | None:
    path = ds.GetDescription() or ""
    folder = os.path.dirname(os.path.abspath(path)) if path else ""
    if not folder or not os.path.isdir(folder):
        return None
    md = ds.GetMetadata() or {}
    ids = [md.get("LANDSAT_PRODUCT_ID", "")]
    match = re.search(r"L[COTEM]0\d_L1\w\w_\d{6}_\d{8}_\d{8}_\d\d_\w\w", os.path.basename(path))
    if match:
        ids.append(match.group(0))
    for pid in filter(None, ids):
        candidate = os.path.join(folder, f"{pid}_MTL.txt")
        if os.path.exists(candidate):
            return candidate
    return None


def _parse_mtl(path: str) -> Dict[str, str]:
    values = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = re.match(r"\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$", line)
            if match:
                values[match.group(1)] = match.group(2).strip('"')
    return values


def _landsat_band_numbers(ds, preset_count: int | None) -> Dict[int, int]:
    numbers = {}
    for i in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(i)
        label = band.GetDescription() or (band.GetMetadata() or {}).get("BANDNAME", "")
        match = re.search(r"\bB(?:AND)?[ _]?(\d{1,2})\b", str(label).upper())
        if match:
            numbers[i] = int(match.group(1))
        elif preset_count == ds.RasterCount:
            numbers[i] = i
    return numbers


def _landsat_l1(ds, preset) -> ReflectanceScaling:
    preset_count = preset.band_count
    mtl_path = _find_mtl(ds)
    if mtl_path:
        mtl = _parse_mtl(mtl_path)
        sun = float(mtl.get("SUN_ELEVATION", "90"))
        sin_e = math.sin(math.radians(sun))
        factors = {}
        for i, n in _landsat_band_numbers(ds, preset_count).items():
            if f"REFLECTANCE_MULT_BAND_{n}" in mtl:
                mult, add = float(mtl[f"REFLECTANCE_MULT_BAND_{n}"]), float(mtl[f"REFLECTANCE_ADD_BAND_{n}"])
                factors[i] = (mult / sin_e, add / sin_e)
        if factors:  # bands without reflectance factors (thermal) stay digital numbers
            gain, offset = 1.0, 0.0
            why = f"{os.path.basename(mtl_path)}: REFLECTANCE_MULT/ADD / sin({sun:g} deg)"
            return ReflectanceScaling("landsat-l1-mtl", gain, offset, why, factors)
    if preset.family == "landsat57":  # TM/ETM+ gains differ per band and per scene: no usable default
        why = "Landsat 5/7 Level-1 without MTL file: DN / 255 is brightness, not reflectance (put the "
        return ReflectanceScaling("brightness8", 1 / 255.0, 0.0, why + "_MTL.txt next to the raster)")
    gain, offset, reason = NAMED_SCALINGS["landsat-c2-l1"]
    return ReflectanceScaling("landsat-c2-l1", gain, offset, f"Landsat Level-1 without MTL file: {reason}")


def _by_values(ds, roles: Dict[str, int], what: str) -> ReflectanceScaling:
    from osgeo import gdal

    dtype = ds.GetRasterBand(1).DataType
    if dtype == gdal.GDT_Byte:
        return ReflectanceScaling("brightness8", 1 / 255.0, 0.0, f"{what}8-bit data: DN / 255 is brightness, "
                                                                 "not reflectance")  # fmt: skip
    samples = np.concatenate([sample_values(ds, b) for b in _visible_bands(roles, ds.RasterCount)])
    p99 = float(np.percentile(samples, 99)) if samples.size else 0.0
    if dtype in (gdal.GDT_Float32, gdal.GDT_Float64) and p99 <= 2.0:
        why = f"{what}floating-point values up to {p99:.3g}: reflectance already"
        return ReflectanceScaling("none", 1.0, 0.0, why)
    darkest = _darkest_dn(ds, roles) if "swir1" in roles else None
    if darkest is not None and darkest * 1e-4 >= NO_DARK_PIXELS_REFLECTANCE:
        gain, offset, reason = NAMED_SCALINGS["landsat-c2-l2"]
        if darkest * gain + offset <= DARKEST_PLAUSIBLE_REFLECTANCE:  # from 6,500 DN it is >= -0.02
            why = (f"{what}the darkest 1 % of every band is >= {darkest:.0f} DN: / 10000 would leave the "
                   f"scene without a pixel darker than {darkest * 1e-4:.2f} even in SWIR; the Landsat "
                   f"Collection 2 Level-2 offset fits ({reason}; override with --scaling)")
            return ReflectanceScaling("landsat-c2-l2", gain, offset, why)
    return ReflectanceScaling("s2", 1e-4, 0.0, f"{what}values up to {p99:.0f}: assumed reflectance x 10000 "
                                              "(override with --scaling)")  # fmt: skip


_C2_SR_NAME = re.compile(r"^SR_B\d{1,2}\b", re.IGNORECASE)


def _collection2_sr_band_names(ds) -> bool:
    """True when most bands are named SR_B<n> (Landsat Collection 2 Level-2 surface reflectance naming)."""
    named = sum(bool(_C2_SR_NAME.match((ds.GetRasterBand(i).GetDescription() or "").strip()))
                for i in range(1, ds.RasterCount + 1))  # fmt: skip
    return named * 2 > ds.RasterCount


def _is_float(ds) -> bool:
    from osgeo import gdal

    return ds.GetRasterBand(1).DataType in (gdal.GDT_Float32, gdal.GDT_Float64)


# --------------------------------------------------------------------------------------------- plausibility
#: reflectance below this is impossible beyond atmospheric over-correction noise
MIN_PLAUSIBLE_REFLECTANCE = -0.05
#: above this only specular glints reach; the brightest snow and cloud stay below ~1.2
MAX_PLAUSIBLE_REFLECTANCE = 1.5
_CHECKED_ROLES = ("blue", "green", "red", "nir", "swir1", "swir2")
_DTYPE_MAX = {"Byte": 255, "UInt16": 65535, "Int16": 32767, "UInt32": 4294967295, "Int32": 2147483647}
#: DN / 10000 cannot be right when even the darkest 1 % of every band, SWIR included, is above this: water,
#: shadows and vegetation are dark in SWIR, and so are snow and most clouds (bright in the visible)
NO_DARK_PIXELS_REFLECTANCE = 0.65
#: ... and the Collection-2 gain and offset must bring that darkest 1 % down to a dark surface's reflectance
#: (<= 14,545 DN; so the rule reads C2 L2 when the darkest 1 % of every band is 6,500-14,545 DN)
DARKEST_PLAUSIBLE_REFLECTANCE = 0.2


def _checked_bands(roles: Dict[str, int]) -> List[int]:
    """The bands (1-based, sorted) of the main roles present in ``roles``."""
    return sorted({roles[r] for r in _CHECKED_ROLES if r in roles})


def _darkest_dn(ds, roles: Dict[str, int]) -> float | None:
    """The smallest of the per-band 1st percentiles of the main role bands (None without samples)."""
    lows = []
    for b in _checked_bands(roles):
        values = sample_values(ds, b)
        if values.size >= 100:
            lows.append(float(np.percentile(values, 1)))
    return min(lows) if lows else None


def check_plausible(ds, scaling: ReflectanceScaling, roles: Dict[str, int] | None = None) -> str:
    """Why ``scaling`` cannot be right for ``ds`` ("" when it is plausible).

    Checks the bands of the main roles (band 1 when none is known) on a cheap sample of valid values: the
    largest value of the data type must give a positive reflectance, and at most half of the valid pixels of
    any band may fall below :data:`MIN_PLAUSIBLE_REFLECTANCE` or above :data:`MAX_PLAUSIBLE_REFLECTANCE`.
    """
    from osgeo import gdal

    bands = _checked_bands(roles or {}) or [1]
    for b in bands:
        if b > ds.RasterCount:
            continue
        type_name = gdal.GetDataTypeName(ds.GetRasterBand(b).DataType)
        gain, offset = scaling.factors(b)
        top = _DTYPE_MAX.get(type_name)
        if top is not None and top * gain + offset <= 0:
            return (f"{scaling.name} cannot fit {type_name} data: even the largest value {top} gives "
                    f"reflectance {top * gain + offset:.3g}")  # fmt: skip
        values = sample_values(ds, b)
        if values.size < 100:
            continue
        refl = values * gain + offset
        low = float(np.mean(refl < MIN_PLAUSIBLE_REFLECTANCE))
        high = float(np.mean(refl > MAX_PLAUSIBLE_REFLECTANCE))
        if low > 0.5:
            return f"{scaling.name} makes {low:.0%} of the valid values of band {b} negative reflectance"
        if high > 0.5:
            return (f"{scaling.name} makes {high:.0%} of the valid values of band {b} reflectance above "
                    f"{MAX_PLAUSIBLE_REFLECTANCE:g}")  # fmt: skip
    return ""


# --------------------------------------------------------------------------------------------- detection
def detect_scaling(ds, sensor: str | None, override=None, roles: Dict[str, int] | None = None,
                   ) -> ReflectanceScaling:  # fmt: skip
    """How to turn the DNs of ``ds`` into reflectance (see module docstring for the rules).

    ``sensor``: preset name from :func:`model_runtime.io.bands.detect_band_roles` (or None);
    ``override``: the user's ``--scaling`` text or a :class:`ReflectanceScaling`; ``roles`` help pick the
    blue/green bands for value checks.
    """
    if isinstance(override, ReflectanceScaling):
        return override
    parsed = parse_scaling(override)
    if parsed is not None:
        return parsed
    roles = roles or {}
    detected = _detect(ds, sensor, roles)
    problem = check_plausible(ds, detected, roles)
    if not problem:
        return detected
    fallback = _by_values(ds, roles, "")
    if fallback.name != detected.name and not check_plausible(ds, fallback, roles):
        fallback.reason = f"rejected {problem}; {fallback.reason}"
        return fallback
    # no plausible gain: DN / 255 or / 10000 keeps ratios; the engine then uses scene-relative thresholds
    fallback.reason = f"rejected {problem}; {fallback.reason} - not reflectance either, scene-relative rules"
    fallback.name = "brightness8" if fallback.name == "brightness8" else "uncalibrated"
    return fallback


def _detect(ds, sensor: str | None, roles: Dict[str, int]) -> ReflectanceScaling:
    """The scaling the metadata, sensor or value rules give (steps 2-4 of the module docstring)."""
    from .bands import SENSOR_PRESETS

    factors = _gdal_band_factors(ds)
    if factors:
        per_band = factors if len(set(factors.values())) > 1 or len(factors) < ds.RasterCount else {}
        gain, offset = (1.0, 0.0) if per_band else next(iter(factors.values()))
        why = "GDAL band scale/offset metadata"
        return ReflectanceScaling("gdal-scale-offset", gain, offset, why, per_band)
    preset = SENSOR_PRESETS.get(sensor or "")
    if _is_float(ds):  # float products (e.g. exported from SNAP/GEE) are usually reflectance already
        samples = np.concatenate([sample_values(ds, b) for b in _visible_bands(roles, ds.RasterCount)])
        p99 = float(np.percentile(samples, 99)) if samples.size else 0.0
        if p99 <= 2.0:
            why = f"floating-point values up to {p99:.3g}: reflectance already"
            return ReflectanceScaling("none", 1.0, 0.0, why)
    # before the Sentinel-2 rules: a 4- or 10-band stack without metadata is only *guessed* to be Sentinel-2
    if (preset is None or not preset.family.startswith("landsat")) and _collection2_sr_band_names(ds):
        gain, offset, reason = NAMED_SCALINGS["landsat-c2-l2"]
        return ReflectanceScaling("landsat-c2-l2", gain, offset, f"bands named SR_B<n>: {reason}")
    if preset is not None and preset.family == "sentinel2":
        return _sentinel2(ds, roles)
    if preset is not None and preset.family.startswith("landsat"):
        if preset.level == "l2":
            gain, offset, reason = NAMED_SCALINGS["landsat-c2-l2"]
            return ReflectanceScaling("landsat-c2-l2", gain, offset, reason)
        return _landsat_l1(ds, preset)
    what = f"{preset.name}: " if preset is not None else "unknown sensor, "
    return _by_values(ds, roles, what)
