"""Spectral index formulas (float32, NaN where undefined).

Names and formulas follow the Awesome Spectral Indices catalogue (Montero et al. 2023, Scientific Data 10:197,
https://github.com/awesome-spectral-indices/awesome-spectral-indices). Band letters there map to our roles:
B=blue, G=green, R=red, N=nir, S1=swir1, S2=swir2. Inputs are surface (or top-of-atmosphere) reflectance
arrays of one window; every index is computed with at most two float32 temporaries of the window's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Tuple

import numpy as np

Bands = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class IndexDefinition:
    """One spectral index: catalogue short name, formula text, required roles, reference, histogram range."""

    name: str
    long_name: str
    formula: str
    roles: Tuple[str, ...]
    reference: str
    value_range: Tuple[float, float]  # fixed histogram range used for statistics and Otsu


def _normalized_difference(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, scratch: np.ndarray | None = None
) -> np.ndarray:
    """(a - b) / (a + b) in float32; NaN where the sum is 0 or an input is NaN.

    ``out`` / ``scratch``: optional float32 buffers of the inputs' shape, reused instead of allocating."""
    num = np.subtract(a, b, out=out, dtype=np.float32)
    den = np.add(a, b, out=scratch, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(num, den, out=num)
    # x / 0 gave +-inf or NaN: make every zero-sum pixel NaN (a + b = 0 only happens with offsets < 0)
    zero = den == 0
    if zero.any():
        num[zero] = np.nan
    return num


def _nd(first: str, second: str) -> Callable[..., np.ndarray]:
    def index(b: Bands, out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        return _normalized_difference(b[first], b[second], out, scratch)

    return index


_ndvi = _nd("nir", "red")
_ndwi = _nd("green", "nir")
_mndwi = _nd("green", "swir1")
_ndbi = _nd("swir1", "nir")
_ndmi = _nd("nir", "swir1")


def _bsi(b: Bands) -> np.ndarray:
    pos = np.add(b["swir1"], b["red"], dtype=np.float32)
    neg = np.add(b["nir"], b["blue"], dtype=np.float32)
    return _normalized_difference(pos, neg)


def _awei_nsh(b: Bands) -> np.ndarray:
    # 4 (G - S1) - (0.25 N + 2.75 S2)
    out = np.subtract(b["green"], b["swir1"], dtype=np.float32)
    out *= 4.0
    tmp = np.multiply(b["nir"], 0.25, dtype=np.float32)
    out -= tmp
    np.multiply(b["swir2"], 2.75, out=tmp)
    out -= tmp
    return out


def _awei_sh(b: Bands) -> np.ndarray:
    # B + 2.5 G - 1.5 (N + S1) - 0.25 S2
    out = np.multiply(b["green"], 2.5, dtype=np.float32)
    out += b["blue"]
    tmp = np.add(b["nir"], b["swir1"], dtype=np.float32)
    tmp *= 1.5
    out -= tmp
    np.multiply(b["swir2"], 0.25, out=tmp)
    out -= tmp
    return out


def _evi(b: Bands) -> np.ndarray:
    # 2.5 (N - R) / (N + 6 R - 7.5 B + 1)
    num = np.subtract(b["nir"], b["red"], dtype=np.float32)
    num *= 2.5
    den = np.multiply(b["red"], 6.0, dtype=np.float32)
    den += b["nir"]
    tmp = np.multiply(b["blue"], 7.5, dtype=np.float32)
    den -= tmp
    den += 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        num /= den
    num[den == 0] = np.nan
    return num


def _mndwi_minus_ndvi(b: Bands) -> np.ndarray:
    out = _mndwi(b)
    out -= _ndvi(b)
    return out


def _red_blue_tint(b: Bands) -> np.ndarray:
    return _normalized_difference(b["red"], b["blue"])


def _brightness(b: Bands) -> np.ndarray:
    out = np.add(b["blue"], b["green"], dtype=np.float32)
    out += b["red"]
    out /= 3.0
    return out


def _whiteness(b: Bands) -> np.ndarray:
    # sum_i |band_i - mean| / mean over blue, green, red (Zhu & Woodcock 2012, Fmask)
    mean = _brightness(b)
    out = np.zeros_like(mean)
    tmp = np.empty_like(mean)
    for role in ("blue", "green", "red"):
        np.subtract(b[role], mean, out=tmp)
        np.abs(tmp, out=tmp)
        out += tmp
    mean[mean == 0] = np.nan
    out /= mean
    return out


def _hot(b: Bands) -> np.ndarray:
    # Haze Optimized Transformation, B - 0.5 R - 0.08 (Zhang et al. 2002, as used by Fmask)
    out = np.multiply(b["red"], -0.5, dtype=np.float32)
    out += b["blue"]
    out -= 0.08
    return out


_ND = (-1.0, 1.0)

INDEX_DEFINITIONS: Dict[str, IndexDefinition] = {
    d.name: d
    for d in (
        IndexDefinition(
            "NDVI",
            "Normalized Difference Vegetation Index",
            "(N - R) / (N + R)",
            ("nir", "red"),
            "Rouse et al. 1974, NASA SP-351",
            _ND,
        ),
        IndexDefinition(
            "NDWI",
            "Normalized Difference Water Index (McFeeters)",
            "(G - N) / (G + N)",
            ("green", "nir"),
            "McFeeters 1996, doi:10.1080/01431169608948714",
            _ND,
        ),
        IndexDefinition(
            "MNDWI",
            "Modified Normalized Difference Water Index",
            "(G - S1) / (G + S1)",
            ("green", "swir1"),
            "Xu 2006, doi:10.1080/01431160600589179",
            _ND,
        ),
        IndexDefinition(
            "NDBI",
            "Normalized Difference Built-Up Index",
            "(S1 - N) / (S1 + N)",
            ("swir1", "nir"),
            "Zha et al. 2003, doi:10.1080/01431160304987",
            _ND,
        ),
        IndexDefinition(
            "NDMI",
            "Normalized Difference Moisture Index",
            "(N - S1) / (N + S1)",
            ("nir", "swir1"),
            "Gao 1996, doi:10.1016/S0034-4257(96)00067-3",
            _ND,
        ),
        IndexDefinition(
            "NDSI",
            "Normalized Difference Snow Index",
            "(G - S1) / (G + S1)",
            ("green", "swir1"),
            "Hall et al. 1995, doi:10.1016/0034-4257(95)00137-P",
            _ND,
        ),
        IndexDefinition(
            "BI",
            "Bare Soil Index (BSI)",
            "((S1 + R) - (N + B)) / ((S1 + R) + (N + B))",
            ("swir1", "red", "nir", "blue"),
            "Rikimaru et al. 2002, Tropical Ecology 43(1)",
            _ND,
        ),
        IndexDefinition(
            "AWEInsh",
            "Automated Water Extraction Index (no shadows)",
            "4.0 * (G - S1) - (0.25 * N + 2.75 * S2)",
            ("green", "swir1", "nir", "swir2"),
            "Feyisa et al. 2014, doi:10.1016/j.rse.2013.08.029",
            (-4.0, 4.0),
        ),
        IndexDefinition(
            "AWEIsh",
            "Automated Water Extraction Index (shadows)",
            "B + 2.5 * G - 1.5 * (N + S1) - 0.25 * S2",
            ("blue", "green", "nir", "swir1", "swir2"),
            "Feyisa et al. 2014, doi:10.1016/j.rse.2013.08.029",
            (-4.0, 4.0),
        ),
        IndexDefinition(
            "EVI",
            "Enhanced Vegetation Index",
            "2.5 * (N - R) / (N + 6.0 * R - 7.5 * B + 1.0)",
            ("nir", "red", "blue"),
            "Huete et al. 2002, doi:10.1016/S0034-4257(02)00096-2",
            (-1.0, 1.0),
        ),
        IndexDefinition(
            "NBR2",
            "Normalized Burn Ratio 2 (SWIR1 vs SWIR2)",
            "(S1 - S2) / (S1 + S2)",
            ("swir1", "swir2"),
            "Lutes et al. 2006, FIREMON (USDA RMRS-GTR-164)",
            _ND,
        ),
        IndexDefinition(
            "MNDWI-NDVI",
            "Water dominance (MNDWI minus NDVI)",
            "(G - S1) / (G + S1) - (N - R) / (N + R)",
            ("green", "swir1", "nir", "red"),
            "Zou et al. 2018, doi:10.1073/pnas.1719275115",
            (-2.0, 2.0),
        ),
        IndexDefinition(
            "RBND",
            "Red-blue normalized difference (visible tint)",
            "(R - B) / (R + B)",
            ("red", "blue"),
            # grey (flat visible) surfaces ~0, reddish soils and tiles > 0: the visible flatness of Fmask
            "Zhu & Woodcock 2012 (Fmask whiteness)",
            _ND,
        ),
        IndexDefinition(
            "BRIGHT",
            "Visible brightness",
            "(B + G + R) / 3",
            ("blue", "green", "red"),
            "Zhu & Woodcock 2012 (Fmask)",
            (0.0, 1.5),
        ),
        IndexDefinition(
            "WHITENESS",
            "Whiteness",
            "sum(|X - mean(B,G,R)|, X in B,G,R) / mean(B,G,R)",
            ("blue", "green", "red"),
            "Gomez-Chova et al. 2007; Zhu & Woodcock 2012 (Fmask)",
            (0.0, 3.0),
        ),
        IndexDefinition(
            "HOT",
            "Haze Optimized Transformation",
            "B - 0.5 * R - 0.08",
            ("blue", "red"),
            "Zhang et al. 2002, doi:10.1016/S0034-4257(02)00034-2",
            (-1.0, 1.0),
        ),
    )
}
_ND_INDICES = frozenset({"NDVI", "NDWI", "MNDWI", "NDBI", "NDMI", "NDSI", "NBR2"})
_FUNCS: Dict[str, Callable[..., np.ndarray]] = {
    "NDVI": _ndvi,
    "NDWI": _ndwi,
    "MNDWI": _mndwi,
    "NDBI": _ndbi,
    "NDMI": _ndmi,
    "NDSI": _mndwi,
    "BI": _bsi,
    "EVI": _evi,
    "NBR2": _nd("swir1", "swir2"),
    "MNDWI-NDVI": _mndwi_minus_ndvi,
    "RBND": _red_blue_tint,
    "AWEInsh": _awei_nsh,
    "AWEIsh": _awei_sh,
    "BRIGHT": _brightness,
    "WHITENESS": _whiteness,
    "HOT": _hot,
}


def compute_index(
    name: str, bands: Bands, out: np.ndarray | None = None, scratch: np.ndarray | None = None
) -> np.ndarray:
    """Compute index ``name`` from reflectance arrays keyed by role; float32, NaN where undefined.

    ``out`` (result) and ``scratch`` (temporary): optional float32 buffers of the bands' shape that a
    streaming caller reuses window after window instead of allocating new arrays.

    Raises ``KeyError`` for an unknown index and ``ValueError`` naming the missing roles (callers check roles
    with ``RasterSource.require`` first, so this is a programming error, not a user error).
    """
    definition = INDEX_DEFINITIONS[name]
    missing = [r for r in definition.roles if r not in bands]
    if missing:
        raise ValueError(f"index {name} needs roles {', '.join(missing)}")
    func = _FUNCS[name]
    if name in _ND_INDICES:
        result = func(bands, out, scratch)
    else:
        result = func(bands)
        if out is not None:
            np.copyto(out, result, casting="unsafe")
            result = out
    if result.dtype != np.float32:
        result = result.astype(np.float32)
    return result


def index_roles(names) -> Tuple[str, ...]:
    """The union of roles needed by the given indices, in a stable order."""
    seen: Dict[str, None] = {}
    for n in names:
        for r in INDEX_DEFINITIONS[n].roles:
            seen[r] = None
    return tuple(seen)
