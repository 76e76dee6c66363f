"""Band roles and sensor presets: which band of a raster is red, NIR, SWIR1...

Detection order (first match wins for each role):

1. the user's explicit mapping (``--bands red=3,nir=4``);
2. the raster's own description of each band: band description / ``BANDNAME`` metadata holding a role word
   ("nir", "Red", "B08 nir") or a sensor band code ("B8A", "SR_B5"), central wavelength metadata
   (``CENTRAL_WAVELENGTH_UM`` in the IMAGERY domain, ``WAVELENGTH`` + ``WAVELENGTH_UNIT``), and the colour
   interpretation (Red/Green/Blue);
3. the sensor preset chosen by the user (``sensor="sentinel2_l2a"``), by band position;
4. a preset guessed from the metadata (spacecraft, product type, Landsat/Sentinel file names) and band count.

Every role records where it came from (``BandDetection.source_of_each_role``): ``spex info`` says why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from ..errors import SpexInputError

BAND_ROLES: Tuple[str, ...] = (
    "coastal",
    "blue",
    "green",
    "red",
    "rededge1",
    "rededge2",
    "rededge3",
    "nir",
    "nir08",
    "watervapour",
    "cirrus",
    "swir1",
    "swir2",
    "thermal1",
    "thermal2",
    "pan",
)


@dataclass(frozen=True)
class SensorPreset:
    """Band order of a sensor product. ``roles[i]`` is the role of band ``i + 1`` (None: not used)."""

    name: str
    title: str
    family: str  # sentinel2 | landsat89 | landsat57 | aerial | rgb | generic
    level: str  # l1 | l2 | "" (unknown/irrelevant): picks the reflectance scaling
    roles: Tuple[str | None, ...]
    band_names: Tuple[str, ...]

    @property
    def band_count(self) -> int:
        """Number of bands of the product."""
        return len(self.roles)


def _preset(name, title, family, level, pairs) -> SensorPreset:
    return SensorPreset(name, title, family, level, tuple(r for _, r in pairs), tuple(n for n, _ in pairs))


_S2_ALL = [
    ("B01", "coastal"), ("B02", "blue"), ("B03", "green"), ("B04", "red"), ("B05", "rededge1"),
    ("B06", "rededge2"), ("B07", "rededge3"), ("B08", "nir"), ("B8A", "nir08"), ("B09", "watervapour"),
    ("B10", "cirrus"), ("B11", "swir1"), ("B12", "swir2"),
]  # fmt: skip
_S2_CODES = dict(_S2_ALL)
_L89_ALL = [
    ("B1", "coastal"), ("B2", "blue"), ("B3", "green"), ("B4", "red"), ("B5", "nir"), ("B6", "swir1"),
    ("B7", "swir2"), ("B8", "pan"), ("B9", "cirrus"), ("B10", "thermal1"), ("B11", "thermal2"),
]  # fmt: skip
_L57_ALL = [
    ("B1", "blue"), ("B2", "green"), ("B3", "red"), ("B4", "nir"), ("B5", "swir1"), ("B6", "thermal1"),
    ("B7", "swir2"), ("B8", "pan"),
]  # fmt: skip
_L89_CODES, _L57_CODES = dict(_L89_ALL), dict(_L57_ALL)

SENSOR_PRESETS: Dict[str, SensorPreset] = {
    p.name: p
    for p in (
        _preset("sentinel2_l1c", "Sentinel-2 MSI L1C, 13 bands B01..B12 with B8A and B10", "sentinel2", "l1",
                _S2_ALL),
        _preset("sentinel2_l2a", "Sentinel-2 MSI L2A, 12 bands B01..B12 with B8A (no B10)", "sentinel2", "l2",
                [p for p in _S2_ALL if p[0] != "B10"]),
        _preset("sentinel2_10band", "Sentinel-2 10-band stack B02-B08, B8A, B11, B12 (10 + 20 m)",
                "sentinel2", "l2", [p for p in _S2_ALL if p[0] not in ("B01", "B09", "B10")]),
        _preset("sentinel2_4band", "Sentinel-2 10 m stack B02, B03, B04, B08 (blue, green, red, NIR)",
                "sentinel2", "l2", [p for p in _S2_ALL if p[0] in ("B02", "B03", "B04", "B08")]),
        _preset("landsat89_l1", "Landsat 8/9 OLI/TIRS Collection 2 Level-1, 11 bands B1..B11", "landsat89",
                "l1", _L89_ALL),
        _preset("landsat89_l2", "Landsat 8/9 Collection 2 Level-2 surface reflectance SR_B1..SR_B7",
                "landsat89", "l2", [("SR_" + n, r) for n, r in _L89_ALL[:7]]),
        _preset("landsat57_l1", "Landsat 5 TM / 7 ETM+ Level-1, bands B1..B7 (B6 thermal)", "landsat57", "l1",
                _L57_ALL[:7]),
        _preset("landsat57_l2", "Landsat 4-7 Collection 2 Level-2 surface reflectance SR_B1-5, SR_B7",
                "landsat57", "l2", [("SR_" + n, r) for n, r in _L57_ALL if n not in ("B6", "B8")]),
        _preset("aerial_rgbn", "4-band aerial red, green, blue, NIR (NAIP order)", "aerial", "",
                [("red", "red"), ("green", "green"), ("blue", "blue"), ("nir", "nir")]),
        _preset("rgb", "3-band true colour red, green, blue", "rgb", "",
                [("red", "red"), ("green", "green"), ("blue", "blue")]),
        _preset("generic_bgrn_swir", "6-band blue, green, red, NIR, SWIR1, SWIR2 stack (sensor unknown)",
                "generic", "", [(r, r) for r in ("blue", "green", "red", "nir", "swir1", "swir2")]),
    )
}  # fmt: skip

# Names users type for presets (`--sensor landsat8`).
SENSOR_ALIASES: Dict[str, str] = {
    "s2": "sentinel2_l2a", "sentinel2": "sentinel2_l2a", "sentinel-2": "sentinel2_l2a",
    "s2_l2a": "sentinel2_l2a",
    "s2_l1c": "sentinel2_l1c", "landsat8": "landsat89_l1", "landsat9": "landsat89_l1",
    "landsat8_l2": "landsat89_l2", "landsat9_l2": "landsat89_l2", "landsat5": "landsat57_l1",
    "landsat7": "landsat57_l1", "naip": "aerial_rgbn", "rgbn": "aerial_rgbn",
}  # fmt: skip

# Central wavelength windows in micrometres (inclusive), checked in this order.
_WAVELENGTH_ROLES = (
    ("coastal", 0.40, 0.455), ("blue", 0.455, 0.52), ("green", 0.52, 0.60), ("red", 0.60, 0.69),
    ("rededge1", 0.69, 0.72), ("rededge2", 0.72, 0.76), ("rededge3", 0.76, 0.79), ("nir", 0.79, 0.90),
    ("watervapour", 0.90, 1.00), ("cirrus", 1.33, 1.40), ("swir1", 1.50, 1.80), ("swir2", 2.00, 2.40),
    ("thermal1", 10.0, 11.3), ("thermal2", 11.3, 12.8),
)  # fmt: skip

# Role words found in band descriptions, most specific first. Matched on a normalised name: lower case,
# separators turned into single spaces.
_NAME_PATTERNS: List[Tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"\b(coastal|aerosol|coastal aerosol|ultra ?blue)\b"), "coastal"),
    (re.compile(r"\b(red ?edge ?1|rededge1|re1|vre1|vnir1)\b"), "rededge1"),
    (re.compile(r"\b(red ?edge ?2|rededge2|re2|vre2)\b"), "rededge2"),
    (re.compile(r"\b(red ?edge ?3|rededge3|re3|vre3)\b"), "rededge3"),
    (re.compile(r"\bred ?edge\b"), None),  # red edge without a number: ambiguous, not "red"
    (re.compile(r"\b(nir08|nir 08|narrow nir|nir narrow|nirn|nir2|nir 2)\b"), "nir08"),
    (re.compile(r"\b(nir|nir1|near infra ?red|near ir|nir 1)\b"), "nir"),
    (re.compile(r"\b(water ?vapou?r|wvp|wv)\b"), "watervapour"),
    (re.compile(r"\bcirrus\b"), "cirrus"),
    (re.compile(r"\b(swir ?1|swir16|swir 16|short ?wave infra ?red 1)\b"), "swir1"),
    (re.compile(r"\b(swir ?2|swir22|swir 22|short ?wave infra ?red 2)\b"), "swir2"),
    (re.compile(r"\b(thermal ?1|tir ?1|tirs ?1|lwir ?1|lwir11|thermal)\b"), "thermal1"),
    (re.compile(r"\b(thermal ?2|tir ?2|tirs ?2|lwir ?2|lwir12)\b"), "thermal2"),
    (re.compile(r"\b(pan|panchromatic)\b"), "pan"),
    (re.compile(r"\bblue\b"), "blue"),
    (re.compile(r"\bgreen\b"), "green"),
    (re.compile(r"\bred\b"), "red"),
]
_CODE_RE = re.compile(r"^(?:(sr|st|toa)_)?b(?:and)?[ _]?(\d{1,2})(a?)$")


@dataclass
class BandDetection:
    """Result of :func:`detect_band_roles`.

    ``roles``: role -> 1-based band index; ``source_of_each_role``: role -> why; ``sensor``: preset or None.
    """

    sensor: str | None
    roles: Dict[str, int]
    source_of_each_role: Dict[str, str]
    notes: List[str] = field(default_factory=list)
    sensor_reason: str = ""
    band_labels: List[str] = field(default_factory=list)  # what the raster calls each band ("" = nothing)

    def role_of_band(self, index: int) -> str | None:
        """The role assigned to 1-based band ``index`` (None if unused)."""
        for role, band in self.roles.items():
            if band == index:
                return role
        return None


# --------------------------------------------------------------------------------------------- parsing
def resolve_sensor_name(name: str | None) -> str | None:
    """Canonical preset name for ``name`` (aliases accepted); None/""/"auto" -> None."""
    if name is None or not str(name).strip() or str(name).strip().lower() == "auto":
        return None
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = SENSOR_ALIASES.get(key, SENSOR_ALIASES.get(str(name).strip().lower(), key))
    if key not in SENSOR_PRESETS:
        raise SpexInputError(
            f"unknown sensor preset '{name}': use one of {', '.join(SENSOR_PRESETS)} or leave it to detection"
        )
    return key


def parse_band_mapping(text) -> Dict[str, int]:
    """Parse ``"red=3,nir=4"`` (or a dict) into ``{"red": 3, "nir": 4}`` with 1-based band indices."""
    if text is None:
        return {}
    items = list(text.items()) if isinstance(text, dict) else []
    if not isinstance(text, dict):
        for part in str(text).replace(";", ",").split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise SpexInputError(
                    f"band mapping item '{part.strip()}' has no '=': write it as role=band, e.g. red=3,nir=4"
                )
            role, _, value = part.partition("=")
            items.append((role, value))
    mapping: Dict[str, int] = {}
    for role, value in items:
        role = str(role).strip().lower()
        if role not in BAND_ROLES:
            raise SpexInputError(f"unknown band role '{role}': use one of {', '.join(BAND_ROLES)}")
        try:
            index = int(str(value).strip())
            if isinstance(value, float) and value != index:
                raise ValueError
        except ValueError:
            raise SpexInputError(
                f"band number '{value}' for {role} is not an integer: give the 1-based band index ({role}=3)"
            ) from None
        if index < 1:
            raise SpexInputError(f"band number {index} for {role} is invalid: band numbers start at 1")
        if role in mapping and mapping[role] != index:
            raise SpexInputError(f"band role {role} is mapped twice ({mapping[role]} and {index}): keep one")
        mapping[role] = index
    return mapping


def role_from_name(name: str, family: str | None = None) -> str | None:
    """Role named by a band label ("B08 nir", "Near Infrared", "B8A", "SR_B5"); None if it names none.

    Bare band codes need the sensor ``family`` to be read ("B5" is NIR on Landsat 8 but SWIR1 on Landsat 7);
    zero-padded Sentinel-2 codes (B01..B12, B8A) are read without it.
    """
    norm = re.sub(r"[\s_\-./:()\[\],]+", " ", str(name).strip().lower()).strip()
    if not norm:
        return None
    for pattern, role in _NAME_PATTERNS:
        if pattern.search(norm):
            return role  # None for a recognised but ambiguous name
    for token in [norm.replace(" ", "_"), *norm.split(" ")]:
        role = _role_from_code(token, family)
        if role:
            return role
    return None


def _role_from_code(token: str, family: str | None) -> str | None:
    match = _CODE_RE.match(token)
    if not match:
        return None
    prefix, digits, suffix = match.group(1), match.group(2), match.group(3)
    number = int(digits)
    if suffix:  # only Sentinel-2 has an "A" band
        return "nir08" if number == 8 else None
    if prefix in ("sr", "st") and family is None:
        family = "landsat89"  # SR_B*/ST_B* is Landsat Collection 2 naming; 8/9 is the common case
    if family == "sentinel2" or (family is None and len(digits) == 2 and digits.startswith("0")):
        return _S2_CODES.get(f"B{number:02d}")
    if family == "landsat89":
        return _L89_CODES.get(f"B{number}")
    if family == "landsat57":
        return _L57_CODES.get(f"B{number}")
    return None  # "B5" without a known sensor is ambiguous


def role_from_wavelength(um: float, fwhm_um: float | None = None) -> str | None:
    """Role of a band centred at ``um`` micrometres; a wide visible band (FWHM > 0.12 um) is panchromatic."""
    if fwhm_um is not None and fwhm_um > 0.12 and 0.45 <= um <= 0.75:
        return "pan"
    for role, low, high in _WAVELENGTH_ROLES:
        if low <= um <= high:
            return role
    return None


def _band_wavelength(band) -> Tuple[float | None, float | None, str]:
    """(central wavelength um, FWHM um, what was read) from a GDAL band's metadata."""
    imagery = band.GetMetadata("IMAGERY") or {}
    default = band.GetMetadata() or {}
    try:
        if "CENTRAL_WAVELENGTH_UM" in imagery:
            fwhm = float(imagery["FWHM_UM"]) if imagery.get("FWHM_UM") else None
            return float(imagery["CENTRAL_WAVELENGTH_UM"]), fwhm, "CENTRAL_WAVELENGTH_UM"
        for key in ("WAVELENGTH", "wavelength", "CENTRAL_WAVELENGTH"):
            if key in default:
                value = float(str(default[key]).split()[0])
                unit = str(default.get("WAVELENGTH_UNIT", default.get("WAVELENGTH_UNITS", ""))).lower()
                if unit.startswith("nm") or unit.startswith("nano") or (not unit and value > 100):
                    value /= 1000.0
                return value, None, key
    except ValueError:
        pass
    return None, None, ""


# --------------------------------------------------------------------------------------------- sensor
_S2_RE = re.compile(r"sentinel[-_ ]?2|\bs2[abc]?[_ ]?msi|^s2[abc]_|\bS2[ABC]\b|msil[12][ac]", re.IGNORECASE)
_LANDSAT_ID_RE = re.compile(r"\bL([COTEM])0?([4-9])_?(L1TP|L1GT|L1GS|L2SP|L2SR)?", re.IGNORECASE)
_LANDSAT_NAME_RE = re.compile(r"landsat[-_ ]?([4-9])", re.IGNORECASE)


def identify_sensor(ds) -> Tuple[str | None, str | None, str]:
    """(family, level, reason) from the dataset metadata and file name; (None, None, "") when unknown."""
    md = ds.GetMetadata() or {}
    keys = (
        "SPACECRAFT_NAME",
        "SPACECRAFT_ID",
        "SPACECRAFT",
        "SATELLITE",
        "PLATFORM",
        "platform",
        "MISSION",
        "SENSOR",
        "SENSOR_ID",
        "PRODUCT_TYPE",
        "PROCESSING_LEVEL",
        "LANDSAT_PRODUCT_ID",
        "PRODUCT_ID",
    )
    texts = [f"{k}={md[k]}" for k in keys if md.get(k)]
    texts.append(os.path.basename(ds.GetDescription() or ""))
    blob = " ".join(texts)
    # band names say the level too: SR_B<n> is Collection 2 Level-2 even in a file named "landsat8.tif"
    names = " ".join(ds.GetRasterBand(i).GetDescription() or "" for i in range(1, ds.RasterCount + 1))
    level = None
    if re.search(r"L2A|LEVEL[-_ ]?2|L2SP|L2SR|\bSR_B|surface reflectance", f"{blob} {names}", re.IGNORECASE):
        level = "l2"
    elif re.search(r"L1C|LEVEL[-_ ]?1|L1TP|L1GT|L1GS", blob, re.IGNORECASE):
        level = "l1"
    if _S2_RE.search(blob):
        return "sentinel2", level, f"metadata/file name names Sentinel-2 ({_short(blob)})"
    match = _LANDSAT_ID_RE.search(blob) or _LANDSAT_NAME_RE.search(blob)
    if match:
        number = int(match.group(2) if match.re is _LANDSAT_ID_RE else match.group(1))
        family = "landsat89" if number >= 8 else "landsat57"
        return family, level, f"metadata/file name names Landsat {number} ({_short(blob)})"
    return None, level, ""


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _preset_for(family: str | None, level: str | None, count: int) -> str | None:
    """The preset of ``family`` whose band count is ``count`` (preferring ``level``), else None."""
    candidates = [p for p in SENSOR_PRESETS.values() if p.family == family and p.band_count == count]
    candidates.sort(key=lambda p: p.level != (level or p.level))
    return candidates[0].name if candidates else None


def _family_default_preset(family: str, level: str | None) -> str | None:
    names = {
        ("sentinel2", "l1"): "sentinel2_l1c", ("sentinel2", "l2"): "sentinel2_l2a",
        ("sentinel2", None): "sentinel2_l2a", ("landsat89", "l1"): "landsat89_l1",
        ("landsat89", "l2"): "landsat89_l2", ("landsat89", None): "landsat89_l1",
        ("landsat57", "l1"): "landsat57_l1", ("landsat57", "l2"): "landsat57_l2",
        ("landsat57", None): "landsat57_l1",
    }  # fmt: skip
    return names.get((family, level))


def _guess_preset_from_count(ds, color_roles: Dict[str, int]) -> Tuple[str | None, str]:
    count = ds.RasterCount
    from osgeo import gdal

    byte = ds.GetRasterBand(1).DataType == gdal.GDT_Byte
    if count == 13:
        return "sentinel2_l1c", "13 bands (Sentinel-2 L1C layout)"
    if count == 12:
        return "sentinel2_l2a", "12 bands (Sentinel-2 L2A layout)"
    if count == 11:
        return "landsat89_l1", "11 bands (Landsat 8/9 Level-1 layout)"
    if count == 10:
        return "sentinel2_10band", "10 bands (Sentinel-2 10-band stack layout)"
    if count == 7:
        return "landsat89_l2", "7 bands (Landsat 8/9 Level-2 SR layout)"
    if count == 6:
        return "generic_bgrn_swir", "6 bands (blue, green, red, NIR, SWIR1, SWIR2 assumed)"
    if count == 4:
        if byte or color_roles.get("red") == 1:
            kind = "8-bit" if byte else "red first"
            return "aerial_rgbn", f"4 bands, {kind} (aerial R, G, B, NIR order)"
        return "sentinel2_4band", "4 bands, not 8-bit (blue, green, red, NIR order as Sentinel-2/PlanetScope)"
    if count == 3:
        return "rgb", "3 bands (red, green, blue assumed)"
    return None, ""


# --------------------------------------------------------------------------------------------- detection
def detect_band_roles(ds, sensor: str | None = None, user_bands=None) -> BandDetection:
    """Assign roles to the bands of the open GDAL dataset ``ds`` (see module docstring for the order).

    ``sensor``: preset name or alias chosen by the user (None: detect). ``user_bands``: ``{"red": 3}`` or
    ``"red=3,nir=4"``; indices out of range raise :class:`SpexInputError` naming the fix. In a dict, band 0
    means "not used": the role is left out even when the raster or the preset would give it (the QGIS
    panel's "not set").
    """
    count = ds.RasterCount
    name = os.path.basename(ds.GetDescription() or "") or "the raster"
    user, excluded = _user_mapping(user_bands, count, name)
    chosen = resolve_sensor_name(sensor)
    family, level, sensor_reason = identify_sensor(ds)
    if chosen:
        family, level = SENSOR_PRESETS[chosen].family, SENSOR_PRESETS[chosen].level
    notes: List[str] = []
    meta = _roles_from_metadata(ds, family, notes)
    preset = _preset_choice(ds, chosen, family, level, sensor_reason, name, user, meta, notes)
    roles, source = _merge_roles(preset, meta, user, excluded, notes)
    ordered = {r: roles[r] for r in BAND_ROLES if r in roles}
    if not ordered:
        notes.append("no band roles detected: map them with --bands, e.g. --bands red=3,nir=4")
    return BandDetection(
        sensor=preset.sensor_name,
        roles=ordered,
        source_of_each_role={r: source[r] for r in ordered},
        notes=notes,
        sensor_reason=preset.sensor_reason,
        band_labels=meta.labels,
    )


def _user_mapping(user_bands, count: int, name: str) -> Tuple[Dict[str, int], set]:
    """The user's explicit mapping, checked against the band count, and the roles set to "not used"."""
    excluded = set()
    if isinstance(user_bands, dict):
        excluded = {str(r).strip().lower() for r, i in user_bands.items() if i == 0}
        user_bands = {r: i for r, i in user_bands.items() if i != 0}
    user = parse_band_mapping(user_bands)
    for role, index in user.items():
        if index > count:
            raise SpexInputError(
                f"--bands {role}={index} is out of range: {name} has {count} band(s), use a number from 1 to "
                f"{count}"
            )
    duplicates = [i for i in set(user.values()) if list(user.values()).count(i) > 1]
    if duplicates:
        roles = [r for r, i in user.items() if i == duplicates[0]]
        raise SpexInputError(
            f"band {duplicates[0]} is mapped to {' and '.join(roles)}: give each role its own band"
        )
    return user, excluded


@dataclass
class _MetadataRoles:
    """What the raster says about each band: roles from names/wavelengths, colour interpretation, labels."""

    roles: Dict[str, int] = field(default_factory=dict)
    source: Dict[str, str] = field(default_factory=dict)
    colours: Dict[str, int] = field(default_factory=dict)
    labels: List[str] = field(default_factory=list)


def _roles_from_metadata(ds, family, notes: List[str]) -> _MetadataRoles:
    """Roles from band descriptions, BANDNAME metadata and wavelengths; colour interpretation (plain RGB)."""
    from osgeo import gdal

    meta = _MetadataRoles()
    meta_roles, meta_source = meta.roles, meta.source
    wavelengths: Dict[int, Tuple[float, float | None, str]] = {}
    for i in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(i)
        desc = (band.GetDescription() or "").strip()
        md = band.GetMetadata() or {}
        bandname = str(md.get("BANDNAME") or md.get("band_name") or md.get("common_name") or "").strip()
        meta.labels.append(desc or bandname)
        found = None
        for text, what in ((desc, "band description"), (bandname, "band metadata BANDNAME")):
            role = role_from_name(text, family) if text else None
            if role:
                found = (role, f"{what} '{text}'")
                break
        if found is None:
            um, fwhm, key = _band_wavelength(band)
            if um is not None:
                wavelengths[i] = (um, fwhm, key)
                role = role_from_wavelength(um, fwhm)
                if role:
                    found = (role, f"wavelength {um:g} um ({key})")
        interp = band.GetColorInterpretation()
        colour = {gdal.GCI_RedBand: "red", gdal.GCI_GreenBand: "green", gdal.GCI_BlueBand: "blue"}.get(interp)
        if colour:
            meta.colours.setdefault(colour, i)
        if found is None:
            continue
        role, why = found
        # Two NIR-range bands without names: the longer-wave one is Sentinel-2's narrow B8A.
        if role == "nir" and "nir" in meta_roles and i in wavelengths and meta_roles["nir"] in wavelengths:
            if wavelengths[i][0] > wavelengths[meta_roles["nir"]][0]:
                role = "nir08"
            else:
                meta_roles["nir08"], meta_source["nir08"] = meta_roles.pop("nir"), meta_source.pop("nir")
        if role in meta_roles:
            notes.append(f"band {i} also looks like {role} ({why}); band {meta_roles[role]} kept")
            continue
        meta_roles[role], meta_source[role] = i, why
    # Colour interpretation only counts when the bands are not otherwise described (a plain RGB(N) image).
    if len(meta.colours) == 3 and not any(r in meta_roles for r in ("red", "green", "blue")):
        for role, i in meta.colours.items():
            if i not in meta_roles.values():
                meta_roles[role] = i
                meta_source[role] = f"colour interpretation {role.capitalize()}"
    return meta


@dataclass
class _PresetChoice:
    """The sensor preset that gives positional roles, why it was chosen, and the sensor reported."""

    name: str | None
    why: str
    roles: Dict[str, int]
    sensor_name: str | None
    sensor_reason: str


def _preset_choice(ds, chosen, family, level, sensor_reason, name, user, meta, notes) -> _PresetChoice:
    """The preset: the user's, else the one the metadata names, else one guessed from the band count."""
    count = ds.RasterCount
    preset_name, preset_why = None, ""
    if chosen:
        preset_name, preset_why = chosen, "chosen by the user"
        sensor_reason = f"preset {chosen} chosen by the user"
    elif family:
        preset_name = _preset_for(family, level, count)
        preset_why = f"guessed: {sensor_reason}"
    else:
        preset_name, preset_why = _guess_preset_from_count(ds, meta.colours)
        if preset_name:
            sensor_reason = f"guessed from the band count: {preset_why}"
            preset_why = f"guessed from {preset_why}"
    preset_roles: Dict[str, int] = {}
    if preset_name:
        preset = SENSOR_PRESETS[preset_name]
        if preset.band_count == count:
            preset_roles = {r: i for i, r in enumerate(preset.roles, start=1) if r}
        elif chosen and not meta.roles and not user:
            raise SpexInputError(
                f"sensor preset {chosen} has {preset.band_count} bands but {name} has {count}: choose a "
                "matching preset (spex info --sensors) or map the bands with --bands red=N,nir=N"
            )
        else:
            notes.append(
                f"preset {preset_name} has {preset.band_count} bands, the raster {count}: positions not used"
            )
    sensor_name = preset_name if preset_name and (preset_roles or chosen) else None
    if sensor_name is None and family:
        sensor_name = _family_default_preset(family, level)
        if sensor_name:
            notes.append(f"sensor {sensor_name} from metadata; band roles from band names only")
    if sensor_name is None:
        sensor_reason = sensor_reason or "unknown (no sensor metadata, band count matches no preset)"
    return _PresetChoice(preset_name, preset_why, preset_roles, sensor_name, sensor_reason)


def _merge_roles(preset: _PresetChoice, meta: _MetadataRoles, user, excluded, notes):
    """Merge the three sources, later ones winning: preset < metadata < user; then drop excluded roles."""
    roles: Dict[str, int] = {}
    source: Dict[str, str] = {}
    for role, i in preset.roles.items():
        if role not in meta.roles and i not in meta.roles.values():
            roles[role], source[role] = i, f"preset {preset.name} ({preset.why}), band {i}"
    for role, i in meta.roles.items():
        roles[role], source[role] = i, meta.source[role]
    for role, i in user.items():
        for other, j in list(roles.items()):
            if j == i and other != role and other not in user:
                del roles[other], source[other]
                notes.append(f"band {i} was {other}; now {role} as mapped by the user")
        roles[role], source[role] = i, "user mapping (--bands)"
    for role in excluded & set(roles):
        notes.append(f"{role} (band {roles[role]}) not used, as set by the user")
        del roles[role], source[role]
    return roles, source
