"""Our index formulas against the Awesome Spectral Indices catalogue (spyndex's own formula text).

indices.py keeps its own float32, buffer-reusing implementations (the spectral engine needs only GDAL and
numpy); this checks that every index we name after a catalogue entry computes that entry's formula.
"""

import numpy as np
import pytest

from model_runtime.spectral.indices import INDEX_DEFINITIONS, compute_index

spyndex = pytest.importorskip("spyndex")

# catalogue band letters -> our roles (indices.py module docstring)
LETTERS = {"B": "blue", "G": "green", "R": "red", "N": "nir", "S1": "swir1", "S2": "swir2"}


def _catalogue_value(name: str, bands: dict) -> np.ndarray:
    entry = spyndex.indices[name]
    names = {letter: bands[role].astype(np.float64) for letter, role in LETTERS.items()}
    # the catalogue's default constants (L, g, C1, C2...) for the formulas that have them
    names.update({c: float(spyndex.constants[c].default) for c in spyndex.constants if c in entry.formula})
    return eval(entry.formula, {"__builtins__": {}}, names)  # noqa: S307 - the catalogue's arithmetic only


# Where we follow the paper and the catalogue differs: name -> (the catalogue's formula text, why).
PAPER_OVER_CATALOGUE = {
    "AWEInsh": (
        "4.0*(G-S1)-0.25*N+2.75*S2",
        "Feyisa et al. 2014, eq. 1: 4 (G - S1) - (0.25 N + 2.75 S2); the catalogue adds the SWIR2 term",
    ),
}


def test_catalogue_deviations_are_still_there():
    """If the catalogue fixes one, this fails: drop it from PAPER_OVER_CATALOGUE so that it is compared."""
    for name, (formula, _why) in PAPER_OVER_CATALOGUE.items():
        assert spyndex.indices[name].formula.replace(" ", "") == formula


def test_our_catalogue_indices_match_the_catalogue():
    rng = np.random.default_rng(7)
    bands = {role: rng.uniform(0.02, 0.6, size=(64, 64)).astype(np.float32) for role in LETTERS.values()}
    checked = []
    for name in INDEX_DEFINITIONS:
        if name not in spyndex.indices or name in PAPER_OVER_CATALOGUE:
            continue
        ours = compute_index(name, bands).astype(np.float64)
        theirs = _catalogue_value(name, bands)
        finite = np.isfinite(ours) & np.isfinite(theirs) & (np.abs(theirs) < 1e3)
        assert finite.mean() > 0.95, name
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=2e-4, atol=2e-5, err_msg=name)
        checked.append(name)
    assert {"NDVI", "NDWI", "MNDWI", "NDBI", "EVI", "AWEIsh", "NBR2"} <= set(checked), checked
