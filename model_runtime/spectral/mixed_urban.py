"""Mixed vegetation / built-up pixels: each goes to the cover that fills most of it, by linear unmixing.

At 10-30 m a pixel at the edge of a town, a road or a yard is part roofs and paving, part trees and lawn.
NDVI is not linear in the green share of such a pixel: leaves are so bright in NIR and dark in red that a
third of tree crown over roofs already gives NDVI ~0.4, above the vegetation rule's threshold
(``thresholds.VEGETATION_NDVI``). So NDVI alone gives the vegetation rule the pixels where trees are the
minority, and the built-up rule (capped at the same NDVI) loses them.

The linear mixing model (Keshava and Mustard 2002, "Spectral unmixing", IEEE Signal Processing Magazine
19(1); for towns the vegetation-impervious-soil model of Ridd 1995 and Wu and Murray 2003, Remote Sensing of
Environment 84) is linear in the band values themselves. With the scene's own vegetation spectrum V and
built-up spectrum B (:func:`scene_endmembers`), a pixel x lies on the segment B -> V at

    f = <x - B, V - B> / |V - B|^2   over the bands both rules read,

its vegetation share. A vegetation pixel that touches built-up (8-neighbourhood) and has ``f < 0.5`` is
mostly built: the vegetation rule drops it and the built-up rule takes it. A pixel both rules take (their
thresholds differ where they are scene-relative or the user's) goes by its share to one of them. So with
endmembers the two answers never overlap (:func:`split_mixed_urban`). Only edge pixels are decided this way
(one pixel deep, as the shoreline growth of ``mixed_pixels``); a pixel inside a park or a field is never
touched, and a vegetation pixel away from any built-up is never given to it. The engine evaluates both
rules over each strip or window grown by one pixel, so a cut between strips changes nothing.

The endmembers are medians over a sample of the scene: V over the greener half (by NDVI) of the pixels the
vegetation rule takes, B over the less green half of those the built-up rule takes. They are spectra of the
scene, not library constants, so the split holds on reflectance and on digital numbers alike (an offset
cancels in the differences). Without enough of either cover in the scene nothing is split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

from .indices import compute_index
from .mixed_pixels import dilate

#: the rule whose answer a mixed pixel is weighed against: vegetation <-> built-up
PARTNER_CLASS = {"vegetation": "building", "building": "vegetation"}
#: vegetation share below which a mixed edge pixel counts as built-up (its majority cover)
MAJORITY = 0.5
#: fewest sample pixels of each cover for its endmember
MIN_ENDMEMBER_PIXELS = 50


@dataclass(frozen=True)
class UrbanEndmembers:
    """The scene's vegetation and built-up spectra over ``roles`` (band values as the engine reads them)."""

    roles: Tuple[str, ...]
    vegetation: Tuple[float, ...]
    built: Tuple[float, ...]
    pixels: Tuple[int, int]  # sample pixels each median was taken over (vegetation, built-up)

    def describe(self) -> Dict[str, Dict[str, float]]:
        """{"vegetation": {role: value}, "built": {role: value}} rounded, for the details and sidecar."""
        return {
            "vegetation": {r: round(v, 4) for r, v in zip(self.roles, self.vegetation)},
            "built": {r: round(v, 4) for r, v in zip(self.roles, self.built)},
        }


def scene_endmembers(sample: Mapping[str, np.ndarray], vegetation: np.ndarray, built: np.ndarray,
                     roles: Sequence[str]) -> UrbanEndmembers | None:  # fmt: skip
    """Endmembers from a pixel sample (1-D arrays by role) and the two rules' answers on it (bool arrays):
    the median spectrum of the greener half of the vegetation pixels and of the less green half of the
    built-up pixels. None when either cover has fewer than :data:`MIN_ENDMEMBER_PIXELS` pixels or the two
    spectra coincide."""
    if vegetation.sum() < MIN_ENDMEMBER_PIXELS or built.sum() < MIN_ENDMEMBER_PIXELS:
        return None
    ndvi = compute_index("NDVI", sample)
    greener = vegetation & (ndvi >= np.median(ndvi[vegetation]))
    purer = built & (ndvi <= np.median(ndvi[built]))
    veg = tuple(float(np.median(np.asarray(sample[r])[greener])) for r in roles)
    bld = tuple(float(np.median(np.asarray(sample[r])[purer])) for r in roles)
    if not np.isfinite(veg + bld).all() or np.allclose(veg, bld):
        return None
    return UrbanEndmembers(tuple(roles), veg, bld, (int(greener.sum()), int(purer.sum())))


def split_mixed_urban(vegetation: np.ndarray, built: np.ndarray, bands: Mapping[str, np.ndarray],
                      endmembers: UrbanEndmembers) -> Tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Decide the contested pixels of the two rules' answers (2-D bool) by their vegetation share on the
    segment built-up -> vegetation of ``endmembers`` (see the module docstring).

    Contested: vegetation pixels that touch built-up or that the built-up rule takes too (both rules can
    take a pixel where their thresholds are not the shared default: scene-relative or the user's). Returns
    (to_built, to_vegetation): contested pixels whose share is below :data:`MAJORITY` (built-up only), and
    pixels in both answers whose share is not (vegetation only)."""
    contested = vegetation & dilate(built, 1)  # touches built-up, or is built-up too
    rows, cols = np.nonzero(contested)
    to_built = np.zeros_like(vegetation)
    to_vegetation = np.zeros_like(vegetation)
    if rows.size == 0:
        return to_built, to_vegetation
    num = np.zeros(rows.size, np.float64)
    den = 0.0
    for role, v, b in zip(endmembers.roles, endmembers.vegetation, endmembers.built):
        num += (np.asarray(bands[role])[rows, cols] - b) * (v - b)
        den += (v - b) ** 2
    with np.errstate(invalid="ignore"):
        share = num / den
        mostly_built = share < MAJORITY
        mostly_vegetation = share >= MAJORITY
    to_built[rows[mostly_built], cols[mostly_built]] = True
    both = mostly_vegetation & built[rows, cols]
    to_vegetation[rows[both], cols[both]] = True
    return to_built, to_vegetation
