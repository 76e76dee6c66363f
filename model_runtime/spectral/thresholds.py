"""Per-class rules: a primary index test plus guards, with fallbacks when bands are missing.

Each class has rule *variants*, best first; the engine uses the first whose roles the raster has. A variant is
``primary`` (the test whose threshold the user may override or Otsu may choose) AND every ``guard``.
``reflectance_guards`` compare raw reflectance (e.g. water is dark in NIR); they only make sense on
reflectance data, so the engine skips them (and says so) when the data do not look like reflectance.
Defaults and references are listed in docs/spectral.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..errors import SpexInputError
from .indices import INDEX_DEFINITIONS, compute_index


@dataclass(frozen=True)
class Condition:
    """``value_of(name) op threshold``; ``name`` is an index of :data:`INDEX_DEFINITIONS` or a band role."""

    name: str
    op: str  # ">" | "<"
    threshold: float
    why: str = ""
    label: str = ""  # how ``name`` is written in texts (default: the index name or "<role> reflectance")

    def text(self, threshold: float | None = None) -> str:
        """e.g. ``MNDWI > 0.0``."""
        t = self.threshold if threshold is None else threshold
        name = self.label or (self.name if self.name in INDEX_DEFINITIONS else f"{self.name} reflectance")
        return f"{name} {self.op} {t:g}"

    def test(self, values: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Boolean array; NaN never passes."""
        t = self.threshold if threshold is None else threshold
        return values > t if self.op == ">" else values < t


@dataclass(frozen=True)
class RuleVariant:
    """One way of finding a class with a given set of bands."""

    name: str  # short id, e.g. "mndwi"
    primary: Condition
    guards: Tuple[Condition, ...] = ()
    reflectance_guards: Tuple[Condition, ...] = ()
    needs_reflectance: bool = False  # the primary test itself is absolute (cloud, snow)
    mixed_edges: bool = False  # grow by one pixel into mostly-water mixed pixels (mixed_pixels.py)
    #: a single pixel can be a whole object (a pond at 10-30 m): lone pixels are kept, holes still filled
    single_pixel_objects: bool = False
    caveats: Tuple[str, ...] = ()  # caveat keys, see explain.CAVEATS

    @property
    def conditions(self) -> Tuple[Condition, ...]:
        """Primary first, then guards, then reflectance guards."""
        return (self.primary, *self.guards, *self.reflectance_guards)

    @property
    def indices(self) -> Tuple[str, ...]:
        """Index names used (band-role conditions excluded), in order."""
        return tuple(dict.fromkeys(c.name for c in self.conditions if c.name in INDEX_DEFINITIONS))

    @property
    def roles(self) -> Tuple[str, ...]:
        """Every band role needed by this variant."""
        out: Dict[str, None] = {}
        for c in self.conditions:
            for r in INDEX_DEFINITIONS[c.name].roles if c.name in INDEX_DEFINITIONS else (c.name,):
                out[r] = None
        return tuple(out)


@dataclass(frozen=True)
class ClassRule:
    """All variants for one class, best first."""

    target_class: str
    variants: Tuple[RuleVariant, ...]
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def indices(self) -> Tuple[str, ...]:
        """Indices of the preferred variant."""
        return self.variants[0].indices

    @property
    def default_thresholds(self) -> Dict[str, float]:
        """Condition text -> threshold of the preferred variant."""
        return {c.name: c.threshold for c in self.variants[0].conditions}

    @property
    def required_roles(self) -> Tuple[str, ...]:
        """Roles without which no variant works (those of the last, weakest variant)."""
        return self.variants[-1].roles

    @property
    def optional_roles(self) -> Tuple[str, ...]:
        """Roles that enable a better variant."""
        req = set(self.required_roles)
        return tuple(r for r in self.variants[0].roles if r not in req)


#: the one NDVI boundary between a vegetation pixel and a built-up (or bare) pixel with trees or lawns in it:
#: vegetation is NDVI above it, built-up below it, so a mixed pixel is never both and never neither because
#: of NDVI. 0.35 is about a third green cover over roofs, paving or soil; it was 0.3 for vegetation and 0.35
#: for built-up before, and 0.35 for both scores better on the Earth Library scenes (bench/quality.py).
VEGETATION_NDVI = 0.35
#: NDVI of bright bare surfaces (roofs, concrete, dry soil) in calibrated reflectance; the scene-relative
#: vegetation threshold on uncalibrated data is the scene's bright reference + (VEGETATION_NDVI - this)
BRIGHT_SURFACE_NDVI = 0.1

_NDVI_GUARD = Condition("NDVI", "<", 0.2, "excludes vegetation (NDVI >= 0.2)")
_DARK_NIR = Condition("nir", "<", 0.2, "water absorbs NIR: excludes snow, cloud, bright soil and roofs")

#: water dominates a pixel when its water index exceeds its vegetation index (Zou et al. 2018): keeps
#: shoreline and narrow-river pixels that are part vegetation, where a fixed NDVI cap drops them
_WATER_DOMINANT = Condition(
    "MNDWI-NDVI", ">", 0.0, "water dominates the pixel: MNDWI exceeds NDVI (Zou et al. 2018)"
)
_LOW_EVI = Condition("EVI", "<", 0.1, "no active vegetation canopy: EVI < 0.1 (Zou et al. 2018)")
_NOT_CIRRUS = Condition(
    "cirrus", "<", 0.01, "cirrus band: clear sky stays below 0.01 TOA reflectance, thin cirrus above",
    label="cirrus (1.375 um) reflectance",
)
# Built-up (roofs AND paving: a spectral rule cannot tell them apart) at 10-30 m is mixed with trees and
# lawns, so the NDVI cap is VEGETATION_NDVI (about a third green cover), not the 0.2 of pure surfaces, and
# NDBI may fall to -0.2: a road or roof pixel with a third of tree crown (NIR ~0.45) already has NDBI ~-0.2,
# while pure canopy is near -0.4 to -0.5 (Earth Library canopies). What keeps
# vegetation out is the SWIR shape: leaves absorb at 2.2 um much more than at 1.6 um (NBR2 ~0.3), while
# concrete, asphalt and roofs are flat (NBR2 ~0.05-0.15). What keeps bare soil out is the visible-to-SWIR
# slope: dry soils rise steeply from green to SWIR1 (MNDWI -0.35 to -0.6; Rasul et al. 2018, DBSI), while
# grey impervious materials are flatter (-0.05 to -0.35).
_BUILT_PRIMARY = Condition("NDBI", ">", -0.2, "built-up surfaces reflect about as much SWIR as NIR or more "
                           "(Zha et al. 2003), still with a third of tree crown in the pixel; vegetation "
                           "much less")  # fmt: skip
_BUILT_NOT_VEG = Condition("NDVI", "<", VEGETATION_NDVI, f"excludes vegetation (NDVI >= {VEGETATION_NDVI}, "
                           "the vegetation rule's threshold); mixed urban pixels stay")  # fmt: skip
# white and metal roofs are flat from green to SWIR1 (MNDWI ~0): only clearly water-like pixels are out;
# water itself also fails NIR > 0.08 (and mostly NDBI > -0.2)
_BUILT_NOT_WATER = Condition("MNDWI", "<", 0.1, "excludes water, snow and clouds (green well above SWIR1)")
_BUILT_NOT_SOIL = Condition("MNDWI", ">", -0.35, "excludes bare soil: reflectance rising steeply from green "
                            "to SWIR1 (Rasul et al. 2018)", label="MNDWI (visible-SWIR slope)")  # fmt: skip
_BUILT_FLAT_SWIR = Condition("NBR2", "<", 0.2, "excludes vegetation and moist surfaces (SWIR2 << SWIR1)")
_BUILT_NOT_DARK = Condition("nir", ">", 0.08, "excludes cloud/terrain shadows and wet marsh (dark in NIR)")

_BUILT_NOT_VEG_PURE = Condition("NDVI", "<", 0.3, "excludes vegetation (NDVI >= 0.3)")  # no NBR2 test
_BUILT_SWIR_GUARDS = (_BUILT_NOT_VEG, _BUILT_NOT_WATER, _BUILT_NOT_SOIL, _BUILT_FLAT_SWIR)
_CLOUD_PRIMARY = Condition("HOT", ">", 0.0, "haze/cloud are brighter in blue than red predicts")
_CLOUD_GUARDS = (
    Condition("BRIGHT", ">", 0.2, "clouds are bright"),
    Condition("WHITENESS", "<", 0.7, "clouds are white (flat visible spectrum)"),
)


def _built_variant(name: str, guards, reflectance_guards, *caveats: str) -> RuleVariant:
    """A built-up variant with SWIR: NDBI primary, the caveats every built-up rule shares plus ``caveats``."""
    return RuleVariant(
        name,
        _BUILT_PRIMARY,
        guards=tuple(guards),
        reflectance_guards=tuple(reflectance_guards),
        caveats=("built_roofs_paving", "built_vs_soil", "spectral_resolution", *caveats),
    )


CLASS_RULES: Dict[str, ClassRule] = {
    "water": ClassRule(
        "water",
        (
            RuleVariant(
                "mndwi",
                Condition("MNDWI", ">", 0.0, "water reflects green and absorbs SWIR (Xu 2006)"),
                guards=(_WATER_DOMINANT,),
                reflectance_guards=(_LOW_EVI, _DARK_NIR),
                mixed_edges=True,
                single_pixel_objects=True,
                caveats=("shadow_water", "turbid_water"),
            ),
            RuleVariant(
                "ndwi",
                Condition("NDWI", ">", 0.0, "water reflects green and absorbs NIR (McFeeters 1996)"),
                reflectance_guards=(_DARK_NIR,),
                mixed_edges=True,
                single_pixel_objects=True,
                caveats=("no_swir_water", "shadow_water", "turbid_water"),
            ),
        ),
    ),
    "vegetation": ClassRule(
        "vegetation",
        (
            RuleVariant(
                "ndvi",
                Condition("NDVI", ">", VEGETATION_NDVI, "green leaves reflect NIR and absorb red; above "
                          f"{VEGETATION_NDVI} a pixel is mostly plants (the built-up rule's NDVI cap)"),
                caveats=("sparse_vegetation",),
            ),
        ),
    ),
    "building": ClassRule(
        "building",
        (
            _built_variant("ndbi_swir_shape_cirrus", _BUILT_SWIR_GUARDS, (_BUILT_NOT_DARK, _NOT_CIRRUS)),
            _built_variant("ndbi_swir_shape", _BUILT_SWIR_GUARDS, (_BUILT_NOT_DARK,), "no_cirrus_built"),
            _built_variant(
                "ndbi",
                (_BUILT_NOT_VEG_PURE, _BUILT_NOT_WATER, _BUILT_NOT_SOIL),
                (_BUILT_NOT_DARK,),
                "no_swir2_built",
            ),
            RuleVariant(
                "grey_low_ndvi",
                Condition("NDVI", "<", VEGETATION_NDVI, "built-up surfaces have little vegetation: below the "
                          "vegetation rule's threshold, so roofs and paving mixed with trees stay"),
                guards=(
                    Condition("NDWI", "<", 0.0, "excludes water"),
                    Condition("RBND", "<", 0.2, "grey visible: excludes reddish-brown bare soil"),
                    Condition("RBND", ">", -0.25, "excludes blue-tinted water and shadows",
                              label="RBND (blue tint)"),  # fmt: skip
                ),
                reflectance_guards=(_BUILT_NOT_DARK,),
                caveats=("built_roofs_paving", "no_swir_built", "spectral_resolution"),
            ),
        ),
    ),
    "bare_soil": ClassRule(
        "bare_soil",
        (
            RuleVariant(
                "bsi_slope",
                Condition("BI", ">", 0.0, "bare soil: SWIR + red exceed NIR + blue (Rikimaru et al. 2002)"),
                guards=(
                    _BUILT_NOT_VEG,
                    Condition("MNDWI", "<", -0.35, "soil reflectance rises steeply from green to SWIR1; grey "
                              "built-up surfaces are flatter (Rasul et al. 2018)",
                              label="MNDWI (visible-SWIR slope)"),  # fmt: skip
                ),
                caveats=("soil_sparse", "built_vs_soil"),
            ),
        ),
    ),
    "cloud": ClassRule(
        "cloud",
        (
            RuleVariant(
                "hot_ndsi",
                _CLOUD_PRIMARY,
                guards=(*_CLOUD_GUARDS, Condition("NDSI", "<", 0.4, "excludes snow (NDSI >= 0.4)")),
                needs_reflectance=True,
                caveats=("cloud_simple",),
            ),
            RuleVariant(
                "hot",
                _CLOUD_PRIMARY,
                guards=_CLOUD_GUARDS,
                needs_reflectance=True,
                caveats=("cloud_simple", "no_swir_cloud"),
            ),
        ),
    ),
    "snow": ClassRule(
        "snow",
        (
            RuleVariant(
                "ndsi",
                Condition("NDSI", ">", 0.4, "snow is bright in green, dark in SWIR (Hall 1995)"),
                reflectance_guards=(
                    Condition("nir", ">", 0.11, "excludes water (dark in NIR)"),
                    Condition("green", ">", 0.1, "excludes dark surfaces"),
                ),
                needs_reflectance=True,
                caveats=("snow_cloud",),
            ),
        ),
    ),
}


def select_variant(target_class: str, available_roles: Collection[str]) -> Tuple[RuleVariant, List[str]]:
    """The best variant the raster supports, and the roles whose absence forced a fallback.

    Raises :class:`SpexInputError` naming the missing roles and the ``--bands`` fix when none fits.
    """
    if target_class not in CLASS_RULES:
        raise SpexInputError(
            f"no spectral rule for class {target_class!r}: use one of {', '.join(CLASS_RULES)}"
        )
    rule = CLASS_RULES[target_class]
    avail = set(available_roles)
    for variant in rule.variants:
        if all(r in avail for r in variant.roles):
            # the cirrus band only exists on L1 products: its absence is a caveat of the rule, not a fallback
            missing_better = [r for r in rule.variants[0].roles if r not in avail and r != "cirrus"]
            return variant, missing_better
    missing = [r for r in rule.variants[-1].roles if r not in avail]
    name = target_class.replace("_", " ")
    raise SpexInputError(
        f"extracting {name} needs the {', '.join(missing)} band(s), which this raster lacks or were not "
        f"identified: map them with --bands (e.g. --bands {missing[0]}=N) or use a raster that has them"
    )


def check_threshold(variant: RuleVariant, threshold: float) -> float:
    """Validate a user threshold for the variant's primary index (finite and inside the index range)."""
    lo, hi = INDEX_DEFINITIONS[variant.primary.name].value_range
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise SpexInputError(f"threshold {threshold!r} is not a number: give e.g. --threshold 0.2") from None
    if not np.isfinite(t) or not (lo <= t <= hi):
        raise SpexInputError(
            f"threshold {threshold!r} is outside the {variant.primary.name} range [{lo:g}, {hi:g}]: "
            f"give a value inside it (default {variant.primary.threshold:g})"
        )
    return t


def evaluate(
    variant: RuleVariant,
    bands: Mapping[str, np.ndarray],
    primary_threshold: float | None = None,
    use_reflectance_guards: bool = True,
    guards: Sequence[Condition] | None = None,
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Apply a variant to one window: (target bool array, computed index arrays by name). ``guards``: the
    guards a run actually uses (e.g. moved with the scene) instead of the variant's own."""
    values: Dict[str, np.ndarray] = {}

    def value(name: str) -> np.ndarray:
        if name not in values:
            values[name] = compute_index(name, bands) if name in INDEX_DEFINITIONS else bands[name]
        return values[name]

    with np.errstate(invalid="ignore"):
        mask = variant.primary.test(value(variant.primary.name), primary_threshold)
        if guards is None:
            guards = variant.guards + (variant.reflectance_guards if use_reflectance_guards else ())
        for cond in guards:
            mask &= cond.test(value(cond.name))
    indices = {k: v for k, v in values.items() if k in INDEX_DEFINITIONS}
    return mask, indices


def looks_like_reflectance(bands: Mapping[str, np.ndarray], valid: np.ndarray | None = None) -> bool:
    """True when the bands look like reflectance in [0, ~1.5] (99th percentile <= 1.6, 1st >= -0.2).

    Digital numbers (8/16-bit, unknown scaling) fail this test; ratio indices still work on them, absolute
    reflectance guards do not.
    """
    for arr in bands.values():
        sample = arr[valid] if valid is not None else arr.ravel()
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            continue
        if sample.size > 200_000:
            sample = sample[:: sample.size // 200_000 + 1]
        lo, hi = np.percentile(sample, [1, 99])
        if hi > 1.6 or lo < -0.2:
            return False
    return True


def otsu_threshold(histogram: np.ndarray, edges: np.ndarray) -> Tuple[float, float]:
    """Otsu's threshold from a histogram: (threshold, separability in [0, 1]).

    ``edges`` has ``len(histogram) + 1`` entries; the threshold is the upper edge of the last bin of the lower
    class. Separability (between-class / total variance, the ``eta`` of Otsu 1979) near 1 means a clearly
    bimodal histogram; below ~0.5 the split is weak. Raises ``ValueError`` for an empty histogram.
    """
    h = np.asarray(histogram, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    total = h.sum()
    if total <= 0:
        raise ValueError("empty histogram")
    centers = (e[:-1] + e[1:]) / 2
    w0 = np.cumsum(h)
    w1 = total - w0
    m0 = np.cumsum(h * centers)
    mean_total = m0[-1] / total
    with np.errstate(invalid="ignore", divide="ignore"):
        mu0 = m0 / w0
        mu1 = (m0[-1] - m0) / w1
        between = w0 * w1 * (mu0 - mu1) ** 2 / total**2
    between = np.where((w0 > 0) & (w1 > 0), between, -1.0)
    # a gap of empty bins between two modes gives a plateau of equal scores: take its middle
    best = between.max()
    ties = np.flatnonzero(between >= best - 1e-12 * max(best, 1e-300))
    k = int(ties[len(ties) // 2])
    var_total = (h * (centers - mean_total) ** 2).sum() / total
    sep = float(between[k] / var_total) if var_total > 0 and between[k] > 0 else 0.0
    return float(e[k + 1]), sep


# ------------------------------------------------------------------------------ data that are not reflectance
#: share of the brightest pixels (visible mean) whose index median is the gain-shift reference
BRIGHT_REFERENCE_SHARE = 0.10
DARK_NIR_WHY = (
    "water is among the darkest NIR surfaces of a scene: NIR below the darkest 25% of the scene's NIR range "
    "(1st to 90th percentile)"
)
#: bright reference closer than this to the scene's median index: a uniform scene, no usable reference
UNIFORM_SCENE = 0.03
#: fewer valid sampled pixels than this: no scene statistics, fixed defaults are kept
MIN_SCENE_PIXELS = 500


@dataclass(frozen=True)
class SceneAdaptation:
    """How a class rule sets its thresholds on data that are not calibrated reflectance (8-bit aerial
    cameras, DN of unknown gain): from the scene itself instead of fixed reflectance values.

    * ``margin``: the primary threshold becomes *bright reference* + margin. The bright reference is the
      median of the primary index over the brightest :data:`BRIGHT_REFERENCE_SHARE` of the scene's pixels
      (mean of the visible bands): roofs, gravel, concrete, bare soil. Those surfaces are nearly flat in
      calibrated reflectance (NDVI ~0.1, NDWI ~-0.1), so their index value measures how far the unknown band
      gains shift every normalized difference of this scene.
    * ``dark_nir_share``: water is among the darkest NIR surfaces of any scene; NIR must lie below
      ``p1 + share * (p90 - p1)`` of the scene's NIR (p1 approximates the sensor's dark level, p90 bright
      land). This replaces the absolute "NIR reflectance < 0.2" guard.
    * ``shifted_guards``: guards on these indices move with the scene too: a guard ``index op t`` becomes
      ``index op t + (bright reference of index - BRIGHT_SURFACE_VALUES[index])``. On an 8-bit camera whose
      green gain is high, bright roofs have NDWI ~+0.1 instead of ~-0.1, and the absolute "NDWI < 0" guard of
      built-up removed every roof.
    """

    margin: float
    dark_nir_share: float | None = None
    #: (primary index, margin) pairs for variants whose primary index differs from the preferred one
    other_margins: Tuple[Tuple[str, float], ...] = ()
    shifted_guards: Tuple[str, ...] = ()

    def margin_for(self, index: str) -> float:
        """The margin used when the primary index is ``index``."""
        return dict(self.other_margins).get(index, self.margin)


SCENE_ADAPTATIONS: Dict[str, SceneAdaptation] = {
    # calibrated: bright reference ~-0.1 + 0.35 ~ 0.25; shadows of uncalibrated cameras reach ~+0.3 above it.
    # With SWIR (MNDWI): bright roofs, concrete, sand and soil have MNDWI ~-0.15 to -0.4 (typically -0.25),
    # and shadows are dark in SWIR too, so reference + 0.25 ~ 0, the fixed default
    "water": SceneAdaptation(margin=0.35, dark_nir_share=0.25, other_margins=(("MNDWI", 0.25),)),
    # calibrated: bright reference ~0.1 + 0.25 = 0.35, the fixed default
    "vegetation": SceneAdaptation(margin=round(VEGETATION_NDVI - BRIGHT_SURFACE_NDVI, 4)),
    # calibrated: bright reference (roofs, concrete, soil) NDBI ~0.1 - 0.3 = -0.2, the fixed default. Without
    # SWIR the primary is NDVI < bright reference + 0.1, the cap of *pure* surfaces: on uncalibrated
    # cameras the dark offsets compress NDVI, so the level of a third-tree pixel is unknown, and grey bare
    # land, gravel and dry grass (nothing without SWIR separates them from roofs) would flood the result;
    # calibrated data use the mixed-pixel cap VEGETATION_NDVI.
    "building": SceneAdaptation(
        margin=-0.3,
        other_margins=(("NDVI", 0.1),),
        shifted_guards=("NDWI", "RBND"),
    ),
}

#: index values of bright bare surfaces (roofs, concrete, gravel, dry soil) in calibrated reflectance: nearly
#: flat spectra, slightly rising from blue to NIR. The scene's own bright surfaces, measured against these,
#: give how far unknown band gains shift an index (SceneAdaptation.shifted_guards).
BRIGHT_SURFACE_VALUES: Dict[str, float] = {"NDVI": BRIGHT_SURFACE_NDVI, "NDWI": -0.1, "RBND": 0.0}


@dataclass(frozen=True)
class SceneStats:
    """Scene statistics from a sample of valid pixels (see :func:`scene_statistics`)."""

    pixels: int
    reference: float | None  # primary index median over the brightest pixels
    bright_level: float | None  # visible brightness at the (1 - BRIGHT_REFERENCE_SHARE) quantile
    nir_p1: float | None
    nir_p90: float | None
    median: float | None = None  # primary index median over the whole sample
    #: median over the brightest pixels of each index of ``scene_statistics(indices=...)``
    guard_references: Mapping[str, float] = field(default_factory=dict)


def scene_statistics(
    variant: RuleVariant, sample: Mapping[str, np.ndarray], indices: Sequence[str] = ()
) -> SceneStats:
    """Statistics of a pixel sample: 1-D arrays of valid values keyed by role (the variant's roles, plus any
    visible roles for brightness); ``indices`` also get their bright reference (for shifted guards)."""
    first = next(iter(sample.values()), np.empty(0, np.float32))
    n = int(first.size)
    if n < MIN_SCENE_PIXELS:
        return SceneStats(n, None, None, None, None)
    visible = [sample[r] for r in ("blue", "green", "red") if r in sample]
    brightness = np.mean(np.stack(visible), axis=0) if visible else None
    reference = bright_level = None
    guard_references: Dict[str, float] = {}
    if brightness is not None:
        bright_level = float(np.quantile(brightness, 1.0 - BRIGHT_REFERENCE_SHARE))
        bright = brightness >= bright_level
        bright_sample = {r: a[bright] for r, a in sample.items()}
        for name in dict.fromkeys((variant.primary.name, *indices)):
            values = compute_index(name, bright_sample)
            values = values[np.isfinite(values)]
            if values.size:
                guard_references[name] = float(np.median(values))
        reference = guard_references.pop(variant.primary.name, None)
    everything = compute_index(variant.primary.name, sample)
    everything = everything[np.isfinite(everything)]
    median = float(np.median(everything)) if everything.size else None
    nir_p1 = nir_p90 = None
    if "nir" in sample:
        nir_p1, nir_p90 = (float(v) for v in np.quantile(sample["nir"], [0.01, 0.90]))
    return SceneStats(n, reference, bright_level, nir_p1, nir_p90, median, guard_references)


def shifted_guard_indices(target_class: str, variant: RuleVariant) -> Tuple[str, ...]:
    """Indices of ``variant``'s guards that move with the scene on uncalibrated data (shifted_guards)."""
    adaptation = SCENE_ADAPTATIONS.get(target_class)
    wanted = adaptation.shifted_guards if adaptation else ()
    return tuple(dict.fromkeys(c.name for c in variant.guards if c.name in wanted))


#: appended to the reason of a guard moved with the scene (explain.why_zh translates it)
MOVED_NOTE = " (moved with this scene's bright surfaces)"


def _shift_guards(
    guards: Tuple[Condition, ...], references: Mapping[str, float], info: Dict[str, float]
) -> Tuple[Condition, ...]:
    """``guards`` with those on an index of ``references`` moved by (reference - calibrated bright value)."""
    out = []
    for cond in guards:
        if cond.name in references and cond.name in BRIGHT_SURFACE_VALUES:
            shift = references[cond.name] - BRIGHT_SURFACE_VALUES[cond.name]
            lo, hi = INDEX_DEFINITIONS[cond.name].value_range
            moved = float(np.clip(round(cond.threshold + shift, 4), lo, hi))
            info[f"guard_reference:{cond.name}"] = round(references[cond.name], 4)
            why = cond.why + MOVED_NOTE
            cond = Condition(cond.name, cond.op, moved, why, cond.label)
        out.append(cond)
    return tuple(out)


def adapt_to_scene(
    target_class: str, variant: RuleVariant, stats: SceneStats, guards: Tuple[Condition, ...] = ()
) -> Tuple[float | None, Tuple[Condition, ...], Dict[str, float]]:
    """Scene-relative primary threshold (None: keep the default) and the guards to use (``guards``, those of
    SceneAdaptation.shifted_guards moved with the scene, plus scene-relative extras) for ``target_class`` on
    data that are not reflectance, plus the numbers behind them (for the explanation). ``info["doubtful"]``
    is set when the brightest pixels have the same index as the typical one (an area of interest that is all
    forest, all water...): no bare reference surfaces, the caller warns."""
    adaptation = SCENE_ADAPTATIONS.get(target_class)
    if adaptation is None:
        return None, guards, {}
    info: Dict[str, float] = {"sample_pixels": stats.pixels}
    threshold = None
    if stats.reference is not None:
        lo, hi = INDEX_DEFINITIONS[variant.primary.name].value_range
        margin = adaptation.margin_for(variant.primary.name)
        threshold = float(np.clip(round(stats.reference + margin, 4), lo, hi))
        info.update(bright_reference=round(stats.reference, 4), margin=margin)
        if stats.median is not None:
            info["scene_median"] = round(stats.median, 4)
        if stats.median is not None and abs(stats.median - stats.reference) < UNIFORM_SCENE:
            info["doubtful"] = 1
    references = {k: v for k, v in stats.guard_references.items() if k in adaptation.shifted_guards}
    guards = _shift_guards(guards, references, info)
    if adaptation.dark_nir_share is not None and stats.nir_p1 is not None and stats.nir_p90 is not None:
        share = adaptation.dark_nir_share
        limit = stats.nir_p1 + share * (stats.nir_p90 - stats.nir_p1)
        limit = float(f"{limit:.4g}")
        why = DARK_NIR_WHY if share == 0.25 else DARK_NIR_WHY.replace("25%", f"{share:.0%}")
        guards += (Condition("nir", "<", limit, why, label="NIR (scene-relative)"),)
        info.update(nir_p1=round(stats.nir_p1, 4), nir_p90=round(stats.nir_p90, 4), nir_dark_limit=limit)
    return threshold, guards, info
