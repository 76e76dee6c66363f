"""Spectral index formulas against hand-computed values; NaN handling; float32."""

import numpy as np
import pytest

from model_runtime.spectral.indices import INDEX_DEFINITIONS, compute_index, index_roles

BANDS = {
    "blue": np.array([[0.05, 0.10, 0.0]], np.float32),
    "green": np.array([[0.08, 0.20, 0.0]], np.float32),
    "red": np.array([[0.06, 0.30, 0.0]], np.float32),
    "nir": np.array([[0.40, 0.10, 0.0]], np.float32),
    "swir1": np.array([[0.20, 0.05, 0.0]], np.float32),
    "swir2": np.array([[0.10, 0.02, 0.0]], np.float32),
}


def nd(a, b):
    return (a - b) / (a + b)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NDVI", lambda b: nd(b["nir"], b["red"])),
        ("NDWI", lambda b: nd(b["green"], b["nir"])),
        ("MNDWI", lambda b: nd(b["green"], b["swir1"])),
        ("NDBI", lambda b: nd(b["swir1"], b["nir"])),
        ("NDMI", lambda b: nd(b["nir"], b["swir1"])),
        ("NDSI", lambda b: nd(b["green"], b["swir1"])),
        ("BI", lambda b: nd(b["swir1"] + b["red"], b["nir"] + b["blue"])),
        ("AWEInsh", lambda b: 4 * (b["green"] - b["swir1"]) - (0.25 * b["nir"] + 2.75 * b["swir2"])),
        (
            "AWEIsh",
            lambda b: b["blue"] + 2.5 * b["green"] - 1.5 * (b["nir"] + b["swir1"]) - 0.25 * b["swir2"],
        ),
        ("BRIGHT", lambda b: (b["blue"] + b["green"] + b["red"]) / 3),
        ("HOT", lambda b: b["blue"] - 0.5 * b["red"] - 0.08),
    ],
)
def test_index_values(name, expected):
    b64 = {k: v.astype(np.float64) for k, v in BANDS.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        want = expected(b64)[0, :2]
    got = compute_index(name, BANDS)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[0, :2], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["NDVI", "NDWI", "MNDWI", "NDBI", "BI", "WHITENESS"])
def test_zero_denominator_is_nan(name):
    assert np.isnan(compute_index(name, BANDS)[0, 2])


def test_nan_input_propagates():
    b = {k: v.copy() for k, v in BANDS.items()}
    b["nir"][0, 0] = np.nan
    assert np.isnan(compute_index("NDVI", b)[0, 0])


def test_inputs_not_modified():
    b = {k: v.copy() for k, v in BANDS.items()}
    for name in INDEX_DEFINITIONS:
        compute_index(name, b)
    for k in BANDS:
        np.testing.assert_array_equal(b[k], BANDS[k])


def test_missing_role_and_definitions():
    with pytest.raises(ValueError, match="swir1"):
        compute_index("MNDWI", {"green": BANDS["green"]})
    for d in INDEX_DEFINITIONS.values():
        assert d.formula and d.reference and d.roles
        assert d.value_range[0] < d.value_range[1]
    assert index_roles(["NDVI", "MNDWI"]) == ("nir", "red", "green", "swir1")


def test_whiteness_of_grey_is_zero():
    grey = {k: np.full((2, 2), 0.3, np.float32) for k in ("blue", "green", "red")}
    np.testing.assert_allclose(compute_index("WHITENESS", grey), 0.0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(INDEX_DEFINITIONS))
def test_reused_buffers_give_the_same_values(name):
    rng = np.random.default_rng(1)
    bands = {r: rng.uniform(-0.05, 0.6, (40, 30)).astype(np.float32) for r in BANDS}
    bands["green"][0, :3] = -bands["nir"][0, :3]  # zero sums (reflectance offsets make them possible)
    bands["swir1"][0, :3] = -bands["green"][0, :3]
    expected = compute_index(name, bands)
    out, scratch = np.full((40, 30), 9.0, np.float32), np.full((40, 30), 9.0, np.float32)
    got = compute_index(name, bands, out=out, scratch=scratch)
    assert got is out
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-6)
    assert not np.isinf(got).any()
