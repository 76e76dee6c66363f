"""Reflectance scaling: overrides, GDAL scale/offset, Sentinel-2 offset rules, Landsat, 8-bit, floats."""

import math

import numpy as np
import pytest
from osgeo import gdal

from model_runtime.errors import SpexInputError
from model_runtime.io.scaling import ReflectanceScaling, detect_scaling, parse_scaling
from tests.conftest import random_bands


@pytest.mark.parametrize(
    "text, gain, offset",
    [
        ("none", 1, 0),
        ("s2", 1e-4, 0),
        ("S2-offset", 1e-4, -0.1),
        ("landsat_c2_l2", 2.75e-5, -0.2),
        ("0.001,-0.5", 1e-3, -0.5),
        ("2.5e-5", 2.5e-5, 0),
    ],
)
def test_parse_scaling(text, gain, offset):
    s = parse_scaling(text)
    assert s.gain == pytest.approx(gain) and s.offset == pytest.approx(offset)


@pytest.mark.parametrize("bad", ["s3", "1,2,3", "0,1", "nan,0", "gain,offset"])
def test_parse_scaling_errors(bad):
    with pytest.raises(SpexInputError, match="not understood: use auto"):
        parse_scaling(bad)
    assert parse_scaling("auto") is None and parse_scaling(None) is None


def test_apply_per_band():
    s = ReflectanceScaling("x", 0.5, 1.0, band_factors={2: (2.0, 0.0)})
    assert s.apply(np.array([2], dtype=np.uint16)).dtype == np.float32
    assert s.apply(np.array([2]), band=1)[0] == 2.0 and s.apply(np.array([2]), band=2)[0] == 4.0


def _s2(make_raster, dn_low, metadata):
    bands = random_bands(["B02", "B03", "B04", "B08"], shape=(32, 32), low=dn_low, high=dn_low + 3000)
    path = make_raster("s2.tif", bands, metadata={"SPACECRAFT_NAME": "Sentinel-2A", **metadata})
    return detect_scaling(gdal.Open(path), "sentinel2_4band", roles={"blue": 1, "green": 2})


def test_sentinel2_offset_rules(make_raster):
    assert _s2(make_raster, 200, {"ACQUISITION_DATE": "2021-06-01"}).offset == 0.0
    new = _s2(make_raster, 1100, {"ACQUISITION_DATE": "2023-06-01"})
    assert new.name == "s2-offset" and new.offset == pytest.approx(-0.1)
    harmonised = _s2(make_raster, 200, {"ACQUISITION_DATE": "2023-06-01"})  # values say the offset is gone
    assert harmonised.offset == 0.0 and "harmonised" in harmonised.reason
    assert _s2(make_raster, 1100, {}).offset == pytest.approx(-0.1)  # no date: dark DNs >= 1000
    assert _s2(make_raster, 200, {}).offset == 0.0
    assert _s2(make_raster, 200, {"BOA_ADD_OFFSET": "-1000"}).offset == pytest.approx(-0.1)  # metadata wins
    assert _s2(make_raster, 1100, {"PROCESSING_BASELINE": "03.01"}).offset == 0.0


def test_gdal_scale_offset_wins(make_raster):
    path = make_raster(
        "g.tif",
        random_bands(["red", "nir"], shape=(8, 8)),
        metadata={"SPACECRAFT_NAME": "Sentinel-2B"},
        scale_offset={1: (0.001, 0.0), 2: (0.001, 0.0)},
    )
    s = detect_scaling(gdal.Open(path), "sentinel2_l2a")
    assert s.name == "gdal-scale-offset" and s.gain == 0.001 and not s.band_factors
    assert detect_scaling(gdal.Open(path), "sentinel2_l2a", override="none").gain == 1.0  # user wins


def test_landsat_rules(make_raster, tmp_path):
    bands = random_bands([f"B{i}" for i in range(1, 12)], shape=(8, 8), low=7000, high=20000)
    name = "LC08_L1TP_195025_20130707_20170503_01_T1"
    path = make_raster(f"{name}_stack.tif", bands)
    no_mtl = detect_scaling(gdal.Open(path), "landsat89_l1")
    assert no_mtl.name == "landsat-c2-l1" and no_mtl.gain == 2e-5
    (tmp_path / f"{name}_MTL.txt").write_text(
        "GROUP = X\n  SUN_ELEVATION = 30.0\n"
        + "".join(
            f"  REFLECTANCE_MULT_BAND_{n} = 2.0E-05\n  REFLECTANCE_ADD_BAND_{n} = -0.100000\n"
            for n in range(1, 10)
        )
    )
    with_mtl = detect_scaling(gdal.Open(path), "landsat89_l1")
    assert with_mtl.name == "landsat-l1-mtl"
    assert with_mtl.factors(4) == pytest.approx((2e-5 / math.sin(math.radians(30)), -0.1 / 0.5))
    assert with_mtl.factors(10) == (1.0, 0.0)  # thermal: no reflectance factors
    l2 = detect_scaling(gdal.Open(path), "landsat89_l2")
    assert (l2.gain, l2.offset) == (2.75e-5, -0.2)


def test_values_without_sensor(make_raster):
    byte = make_raster("b.tif", random_bands(list("rgb"), shape=(8, 8), high=255, dtype="uint8"))
    assert detect_scaling(gdal.Open(byte), None).name == "brightness8"
    rng = np.random.default_rng(1)
    floats = make_raster(
        "f.tif", {"a": rng.random((8, 8), dtype=np.float32), "b": rng.random((8, 8), dtype=np.float32)}
    )
    assert detect_scaling(gdal.Open(floats), None).name == "none"
    ints = make_raster("i.tif", random_bands(list("ab"), shape=(8, 8)))
    s = detect_scaling(gdal.Open(ints), None)
    assert s.gain == 1e-4 and "override with --scaling" in s.reason


def test_implausible_scaling_rejected_for_8bit_dn(make_raster):
    """Collection-2 SR gains cannot fit 8-bit DN (255 -> -0.19): rejected for DN / 255, and said so."""
    bands = random_bands(["B1 blue", "B2 green", "B3 red", "B4 nir", "B5 swir1", "B7 swir2"], shape=(32, 32),
                         low=10, high=200, dtype="uint8")  # fmt: skip
    path = make_raster("l7.tif", bands, metadata={"SPACECRAFT_ID": "LANDSAT_7"})
    s = detect_scaling(gdal.Open(path), "landsat57_l2", roles={"blue": 1, "green": 2, "nir": 4})
    assert s.name == "brightness8"
    assert "rejected landsat-c2-l2" in s.reason and "Byte" in s.reason


def test_implausible_scaling_rejected_for_negative_values(make_raster):
    """Landsat 9 L2 metadata on DN = reflectance x 10000 (values 200..3000): the C2 gains make most pixels
    negative, so the value rule (DN / 10000) is taken instead."""
    bands = random_bands(["SR_B2", "SR_B3", "SR_B4", "SR_B5"], shape=(32, 32), low=200, high=3000)
    path = make_raster("l9.tif", bands, metadata={"SPACECRAFT_ID": "LANDSAT_9", "PROCESSING_LEVEL": "L2SP"})
    s = detect_scaling(gdal.Open(path), "landsat89_l2", roles={"blue": 1, "green": 2, "red": 3, "nir": 4})
    assert (s.gain, s.offset) == (1e-4, 0.0)
    assert "rejected landsat-c2-l2" in s.reason and "negative" in s.reason


def test_implausible_scaling_too_bright(make_raster):
    """A GDAL scale that makes every value reflectance 2..30 is rejected too."""
    bands = random_bands(["red", "nir"], shape=(32, 32), low=200, high=3000)
    path = make_raster("g.tif", bands, scale_offset={1: (0.01, 0.0), 2: (0.01, 0.0)})
    s = detect_scaling(gdal.Open(path), None, roles={"red": 1, "nir": 2})
    assert s.gain == 1e-4 and "rejected gdal-scale-offset" in s.reason and "above 1.5" in s.reason


def test_landsat7_sample_scaling(l7_sample):
    """The real 8-bit ETM+ sample names Landsat 7: its DN are never turned into negative reflectance."""
    from model_runtime.io.raster import RasterSource

    with RasterSource.open(l7_sample) as src:
        assert src.roles == {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5, "swir2": 6}
        assert src.scaling.name == "brightness8" and "rejected" in src.scaling.reason
        bands, valid = src.read(["nir"], src.full_window)
        assert float(np.nanmin(bands["nir"][valid])) >= 0.0


# typical reflectance (blue, green, red, nir, swir1, swir2) of the covers a scene holds
_COVERS = {
    "water": (0.04, 0.05, 0.03, 0.02, 0.01, 0.005),
    "vegetation": (0.03, 0.06, 0.03, 0.40, 0.20, 0.09),
    "soil": (0.10, 0.15, 0.20, 0.28, 0.38, 0.32),
    "snow": (0.90, 0.88, 0.85, 0.80, 0.10, 0.05),
    "cloud": (0.60, 0.60, 0.60, 0.60, 0.40, 0.25),
}
_ROLES6 = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5, "swir2": 6}


def _scene_dn(covers, gain, offset, names, shape=(30, 30), seed=3):
    """Bands named ``names`` of a scene of vertical strips of ``covers`` (+-10 % noise), as DN = (rho -
    offset) / gain in uint16."""
    rng = np.random.default_rng(seed)
    strips = np.array_split(np.arange(shape[1]), len(covers))
    rho = np.zeros((6, *shape))
    for cover, cols in zip(covers, strips):
        rho[:, :, cols] = np.array(_COVERS[cover])[:, None, None]
    rho *= rng.uniform(0.9, 1.1, rho.shape)
    dn = np.clip(np.rint((rho - offset) / gain), 1, 65535).astype(np.uint16)
    return dict(zip(names, dn))


@pytest.mark.parametrize("names", [("blue", "green", "red", "nir", "swir1", "swir2"),
                                   ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")])  # fmt: skip
def test_collection2_level2_dn_without_metadata(make_raster, names):
    """Collection-2 SR DN (rho + 0.2) / 2.75e-5 with no sensor metadata: found by the SR_B<n> band names, or
    because DN / 10000 would leave no band, SWIR included, a pixel darker than 0.65."""
    bands = _scene_dn(("water", "vegetation", "soil"), 2.75e-5, -0.2, names)
    s = detect_scaling(gdal.Open(make_raster("c2.tif", bands)), None, roles=_ROLES6)
    assert (s.name, s.gain, s.offset) == ("landsat-c2-l2", 2.75e-5, -0.2)
    assert ("SR_B" in s.reason) if names[0].startswith("SR_") else ("darkest 1 %" in s.reason)


def test_bright_scene_in_dn_x10000_keeps_dn_over_10000(make_raster):
    """Snow and cloud are bright in the visible and NIR but dark in SWIR: DN / 10000 stays; without SWIR the
    darkness argument is not made at all."""
    names = ("blue", "green", "red", "nir", "swir1", "swir2")
    bands = _scene_dn(("snow", "cloud"), 1e-4, 0.0, names)
    s = detect_scaling(gdal.Open(make_raster("snow.tif", bands)), None, roles=_ROLES6)
    assert (s.gain, s.offset) == (1e-4, 0.0)
    four = {k: bands[k] for k in names[:4]}
    roles4 = {role: _ROLES6[role] for role in names[:4]}
    s4 = detect_scaling(gdal.Open(make_raster("snow4.tif", four)), None, roles=roles4)
    assert (s4.gain, s4.offset) == (1e-4, 0.0)


def test_sr_band_names_on_dn_x10000_fall_back(make_raster):
    """SR_B<n> names on reflectance x 10000: the Collection-2 gains make dark pixels negative: rejected."""
    names = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
    bands = _scene_dn(("water", "vegetation", "soil"), 1e-4, 0.0, names)
    s = detect_scaling(gdal.Open(make_raster("sr.tif", bands)), None, roles=_ROLES6)
    assert (s.gain, s.offset) == (1e-4, 0.0) and "rejected landsat-c2-l2" in s.reason


def test_four_sr_bands_are_collection2_not_a_guessed_sentinel2(make_raster):
    """A 4-band SR_B2..SR_B5 stack without metadata: its band count alone would say Sentinel-2; the names
    say Collection 2 Level-2."""
    names = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
    bands = _scene_dn(("water", "vegetation", "soil"), 2.75e-5, -0.2, names)
    four = {k: bands[k] for k in names[:4]}
    s = detect_scaling(gdal.Open(make_raster("sr4.tif", four)), "sentinel2_4band",
                       roles={"blue": 1, "green": 2, "red": 3, "nir": 4})  # fmt: skip
    assert (s.name, s.gain, s.offset) == ("landsat-c2-l2", 2.75e-5, -0.2) and "SR_B" in s.reason


@pytest.mark.parametrize("darkest, expected", [(0.60, "s2"), (0.70, "landsat-c2-l2"), (1.50, "uncalibrated")])
def test_no_dark_pixels_limits(make_raster, darkest, expected):
    """The darkness rule's two limits: DN / 10000 stays when the darkest band's 1st percentile is 0.60 there,
    C2 L2 is read at 0.70 (-> 0.0 reflectance), and not at 1.50 (C2 L2 would still leave it at 0.21; DN /
    10000 is then implausible too: scene-relative rules)."""
    names = ("blue", "green", "red", "nir", "swir1", "swir2")
    rng = np.random.default_rng(5)
    shape = (30, 30)
    bands = {n: np.rint(rng.uniform(darkest, darkest + 0.3, shape) * 10000).astype(np.uint16) for n in names}
    s = detect_scaling(gdal.Open(make_raster("dark.tif", bands)), None, roles=_ROLES6)
    assert s.name == expected, s.reason
