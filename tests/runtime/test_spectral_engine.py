"""The spectral engine end to end on GeoTIFFs written here: accuracy, Otsu, no-data, missing bands."""

import numpy as np
import pytest
from osgeo import gdal, osr

from model_runtime.engines.base import MASK_NODATA, EngineJob
from model_runtime.engines.spectral import SpectralEngine
from model_runtime.errors import ExtractionCancelled, SpexInputError
from model_runtime.io.aoi import resolve_aoi
from model_runtime.io.raster import RasterSource
from model_runtime.prompts import parse_prompt
from model_runtime.request import AreaOfInterest, ExtractRequest

gdal.UseExceptions()

ROLES6 = ("blue", "green", "red", "nir", "swir1", "swir2")
# typical surface reflectance (blue, green, red, nir, swir1, swir2)
SPECTRA = {
    "water": (0.06, 0.08, 0.05, 0.03, 0.02, 0.01),
    "vegetation": (0.03, 0.07, 0.04, 0.40, 0.20, 0.10),
    "building": (0.20, 0.22, 0.24, 0.27, 0.30, 0.28),
    "bare_soil": (0.09, 0.13, 0.20, 0.25, 0.34, 0.30),
}
SIZE = 160


def scene_labels():
    """Class map: soil background, a round lake, a vegetation block, a built-up block."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    labels = np.full((SIZE, SIZE), "bare_soil", dtype=object)
    labels[(yy - 45) ** 2 + (xx - 50) ** 2 < 30**2] = "water"
    labels[90:150, 10:80] = "vegetation"
    labels[20:70, 100:150] = "building"
    labels[95:140, 100:120] = "building"
    return labels


def write_scene(path, labels, roles=ROLES6, noise=0.01, nodata_rows=0, seed=0):
    """Float32 reflectance GeoTIFF (10 m, UTM 33N) with band descriptions naming the roles."""
    rng = np.random.default_rng(seed)
    h, w = labels.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, len(roles), gdal.GDT_Float32)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, role in enumerate(roles, 1):
        k = ROLES6.index(role)
        arr = np.zeros((h, w), np.float32)
        for cls, spec in SPECTRA.items():
            arr[labels == cls] = spec[k]
        arr += rng.normal(0, noise, arr.shape).astype(np.float32)
        if nodata_rows:
            arr[:nodata_rows] = -9999
        band = ds.GetRasterBand(b)
        band.SetDescription(role)
        band.SetNoDataValue(-9999)
        band.WriteArray(arr)
    ds = None
    return str(path)


def run_engine(path, prompt, tmp_path, aoi=None, window=64, cancel_after=None, **req):
    request = ExtractRequest(raster=str(path), prompt=prompt, aoi=aoi, **req)
    source = RasterSource.open(str(path))
    region = resolve_aoi(aoi, source)
    calls = {"n": 0}

    def check():
        calls["n"] += 1
        if cancel_after is not None and calls["n"] > cancel_after:
            raise ExtractionCancelled("cancelled")

    progress = []
    job = EngineJob(
        source=source,
        region=region,
        target=parse_prompt(prompt),
        request=request,
        workdir=str(tmp_path),
        progress=lambda f, m: progress.append(f),
        check_cancelled=check,
    )
    engine = SpectralEngine(window_size=window)
    out = engine.run(job)
    mask = gdal.Open(out.mask_path).ReadAsArray()
    return engine, job, out, mask, progress


def iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    labels = scene_labels()
    return write_scene(tmp_path_factory.mktemp("scene") / "s6.tif", labels), labels


@pytest.mark.parametrize(
    ("prompt", "cls"),
    [
        ("extract the water bodies", "water"),
        ("vegetation", "vegetation"),
        ("buildings", "building"),
        ("bare soil", "bare_soil"),
    ],
)
def test_each_class_matches_truth(scene, tmp_path, prompt, cls):
    path, labels = scene
    _, _, out, mask, progress = run_engine(path, prompt, tmp_path)
    assert mask.shape == labels.shape and mask.dtype == np.uint8
    assert iou(mask == 1, labels == cls) >= 0.95
    d = out.details
    assert d["threshold"]["method"] == "default" and d["pixels"]["target"] == int((mask == 1).sum())
    assert d["stats"] and all(v["inside"]["count"] > 0 for v in d["stats"].values())
    assert progress == sorted(progress) and progress[-1] == 1.0
    ds = gdal.Open(out.mask_path)
    band = ds.GetRasterBand(1)
    assert band.GetNoDataValue() == MASK_NODATA and band.GetBlockSize()[0] == 512
    assert ds.GetGeoTransform() == gdal.Open(path).GetGeoTransform()
    assert ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION") in ("ZSTD", "DEFLATE")  # light, temp file


def test_primary_index_separates_inside_from_outside(scene, tmp_path):
    _, _, out, _, _ = run_engine(scene[0], "water", tmp_path)
    st = out.details["stats"]["MNDWI"]
    assert st["inside"]["mean"] > 0.4 and st["outside"]["mean"] < 0
    assert st["inside"]["p10"] > out.details["threshold"]["value"]


def test_user_threshold_is_used_and_checked(scene, tmp_path):
    _, _, out, mask, _ = run_engine(scene[0], "vegetation", tmp_path, threshold=0.1)
    assert out.details["threshold"] == {**out.details["threshold"], "method": "user", "value": 0.1}
    # soil has NDVI ~0.16: a 0.1 threshold takes it in
    assert (mask == 1).mean() > 0.5
    with pytest.raises(SpexInputError, match="outside the NDVI range"):
        run_engine(scene[0], "vegetation", tmp_path, threshold=3.0)


def test_otsu_on_bimodal_scene(tmp_path):
    labels = np.full((SIZE, SIZE), "bare_soil", dtype=object)
    labels[30:120, 40:140] = "vegetation"
    path = write_scene(tmp_path / "bimodal.tif", labels, noise=0.03, seed=3)
    _, _, out, mask, _ = run_engine(path, "vegetation", tmp_path, threshold_method="otsu")
    thr = out.details["threshold"]
    assert thr["method"] == "otsu" and thr["separability"] > 0.8
    soil_ndvi, veg_ndvi = [
        (s[3] - s[2]) / (s[3] + s[2]) for s in (SPECTRA["bare_soil"], SPECTRA["vegetation"])
    ]
    assert soil_ndvi < thr["value"] < veg_ndvi
    assert iou(mask == 1, labels == "vegetation") >= 0.95


def test_otsu_and_threshold_together_is_an_error(scene, tmp_path):
    with pytest.raises(SpexInputError, match="either"):
        run_engine(scene[0], "water", tmp_path, threshold=0.1, threshold_method="otsu")


def test_nodata_is_excluded(tmp_path):
    labels = scene_labels()
    path = write_scene(tmp_path / "nd.tif", labels, nodata_rows=30)
    _, _, out, mask, _ = run_engine(path, "water", tmp_path)
    assert (mask[:30] == MASK_NODATA).all() and not (mask[30:] == MASK_NODATA).any()
    assert out.details["pixels"]["nodata"] == 30 * SIZE
    assert "nodata" in out.details["caveats"]
    assert iou(mask[30:] == 1, labels[30:] == "water") >= 0.95


def test_aoi_polygon_outside_is_nodata(scene, tmp_path):
    path, labels = scene
    # a triangle over the lake, in map coordinates (x = 500000 + 10 col, y = 4600000 - 10 row)
    wkt = "POLYGON((500000 4600000, 501200 4600000, 500000 4598800, 500000 4600000))"
    _, job, out, mask, _ = run_engine(path, "water", tmp_path, aoi=AreaOfInterest(wkt=wkt))
    win = job.region.window
    sub = labels[win.yoff : win.yoff + win.ysize, win.xoff : win.xoff + win.xsize]
    inside = mask != MASK_NODATA
    assert out.details["pixels"]["outside_aoi"] > 0 and inside.any() and (~inside).any()
    assert iou((mask == 1), (sub == "water") & inside) >= 0.9


def test_rgbn_water_falls_back_to_ndwi(tmp_path):
    labels = scene_labels()
    path = write_scene(tmp_path / "rgbn.tif", labels, roles=("blue", "green", "red", "nir"))
    _, _, out, mask, _ = run_engine(path, "提取水体", tmp_path)
    assert out.details["rule"] == "ndwi" and "swir1" in out.details["fallback_missing_roles"]
    assert iou(mask == 1, labels == "water") >= 0.95


def test_built_up_without_swir_uses_the_grey_rule(tmp_path):
    """4-band RGBN: built-up falls back to grey, non-vegetated, non-water surfaces (soil is reddish)."""
    labels = scene_labels()
    path = write_scene(tmp_path / "rgbn.tif", labels, roles=("blue", "green", "red", "nir"))
    _, _, out, mask, _ = run_engine(path, "buildings", tmp_path)
    assert out.details["rule"] == "grey_low_ndvi" and "swir1" in out.details["fallback_missing_roles"]
    assert "no_swir_built" in out.details["caveats"]
    assert iou(mask == 1, labels == "building") >= 0.9


@pytest.mark.parametrize("prompt", ["bare soil"])
def test_missing_swir_is_a_one_line_error(tmp_path, prompt):
    path = write_scene(tmp_path / "rgbn.tif", scene_labels(), roles=("blue", "green", "red", "nir"))
    with pytest.raises(SpexInputError) as err:
        run_engine(path, prompt, tmp_path)
    msg = str(err.value)
    assert "swir1" in msg and "--bands" in msg and "\n" not in msg


def test_cancel_stops_between_windows(scene, tmp_path):
    with pytest.raises(ExtractionCancelled):
        run_engine(scene[0], "water", tmp_path, cancel_after=2)


def hole_and_speck_scene(path, cls):
    """Bare soil with a 60 x 60 block of ``cls`` holding a one-pixel hole at (50, 50), and a one-pixel speck
    of ``cls`` at (120, 120)."""
    labels = np.full((SIZE, SIZE), "bare_soil", dtype=object)
    labels[20:80, 20:80] = cls
    labels[50, 50] = "bare_soil"
    labels[120, 120] = cls
    return write_scene(path, labels, noise=0.0)


def test_cleanup_removes_specks_and_fills_holes(tmp_path):
    path = hole_and_speck_scene(tmp_path / "specks.tif", "vegetation")
    _, _, out, mask, _ = run_engine(path, "vegetation", tmp_path)
    assert mask[50, 50] == 1 and mask[120, 120] == 0
    assert out.details["cleanup"]["filled_hole_px"] == 1 and out.details["cleanup"]["removed_region_px"] == 1
    assert out.details["pixels"]["target"] == int((mask == 1).sum())


def test_water_keeps_one_pixel_ponds_and_fills_holes(tmp_path):
    """A pond can be one pixel (900 m2 at 30 m, above the 0.01 ha minimum): water keeps lone pixels, while
    one-pixel holes in a lake are still filled."""
    path = hole_and_speck_scene(tmp_path / "ponds.tif", "water")  # a lake with a hole, a one-pixel pond
    engine, job, out, mask, _ = run_engine(path, "water", tmp_path)
    assert mask[50, 50] == 1 and mask[120, 120] == 1
    cleanup = out.details["cleanup"]
    assert cleanup["filled_hole_px"] == 1 and cleanup["removed_region_px"] == 0
    assert cleanup["min_region_px"] == 1
    assert "kept single-pixel objects" in engine.explain(job, out, [])


def test_chinese_prompt_gives_chinese_explanation(scene, tmp_path):
    engine, job, out, _, _ = run_engine(scene[0], "请提取水体", tmp_path)
    from model_runtime.spectral.spie import region_attributes
    from model_runtime.vector.vectorize import regions_from_array

    regions = region_attributes(regions_from_array(gdal.Open(out.mask_path).ReadAsArray()), SIZE, SIZE)
    text = engine.explain(job, out, regions)
    assert "水体" in text and "MNDWI" in text and "默认阈值" in text
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) > 50
    en = engine.explain(
        job.__class__(**{**job.__dict__, "target": parse_prompt("water bodies")}), out, regions
    )
    assert "Extracted water" in en and "MNDWI" in en


# ------------------------------------------------------------------------- uncalibrated cameras (8-bit DN)
# true reflectance (blue, green, red, nir) of what an aerial RGBN camera sees over a dry river valley
RGBN = ("blue", "green", "red", "nir")
AERIAL_SPECTRA = {
    "gravel": (0.30, 0.32, 0.33, 0.36),  # bright, nearly flat: the largest cover, like the real sample
    "soil": (0.10, 0.14, 0.19, 0.25),
    "roof": (0.20, 0.22, 0.26, 0.28),
    "vegetation": (0.03, 0.08, 0.05, 0.40),
    "water": (0.07, 0.08, 0.05, 0.01),
    "shadow": (0.05, 0.05, 0.04, 0.03),  # skylit shadow: dark, bluish, NIR darker than green
}
# an uncalibrated camera: NIR recorded with a much lower gain than the visible bands, dark offsets
CAMERA_GAIN = {"blue": 620.0, "green": 600.0, "red": 580.0, "nir": 340.0}
CAMERA_OFFSET = {"blue": 12.0, "green": 10.0, "red": 8.0, "nir": 5.0}


def aerial_labels(size=240):
    """A braided river bed of gravel with pools, a forest block, fields, roofs with their shadows."""
    yy, xx = np.mgrid[0:size, 0:size]
    labels = np.full((size, size), "soil", dtype=object)
    bed = np.abs(xx - 0.45 * size - 0.25 * yy) < 0.17 * size
    labels[bed] = "gravel"
    for cy, cx, r in ((60, 130, 7), (120, 145, 5), (170, 160, 9), (215, 170, 4)):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = "water"
    labels[bed & (np.abs(xx - 0.45 * size - 0.25 * yy - 8 * np.sin(yy / 9.0)) < 1.5)] = "water"  # a channel
    labels[30:200, 195:235] = "vegetation"
    for y0 in range(15, 220, 22):  # a village: roofs, each casting a 3-px shadow to the south
        for x0 in range(8, 70, 16):
            labels[y0 : y0 + 8, x0 : x0 + 9] = "roof"
            labels[y0 + 8 : y0 + 11, x0 : x0 + 9] = "shadow"
    labels[5:14, 90:150] = "shadow"  # a terrain shadow
    return labels


def write_camera_scene(path, labels, noise_dn=2.0, seed=1):
    """uint8 RGBN GeoTIFF (5 m pixels) as an uncalibrated camera would record ``labels``."""
    rng = np.random.default_rng(seed)
    h, w = labels.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, 4, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 5.0, 0.0, 4600000.0, 0.0, -5.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    interp = (gdal.GCI_BlueBand, gdal.GCI_GreenBand, gdal.GCI_RedBand, gdal.GCI_Undefined)
    for b, role in enumerate(RGBN, 1):
        refl = np.zeros((h, w), np.float32)
        for cls, spec in AERIAL_SPECTRA.items():
            refl[labels == cls] = spec[b - 1]
        dn = refl * CAMERA_GAIN[role] + CAMERA_OFFSET[role] + rng.normal(0, noise_dn, refl.shape)
        band = ds.GetRasterBand(b)
        band.SetDescription(role)
        band.SetColorInterpretation(interp[b - 1])
        band.WriteArray(np.clip(np.rint(dn), 1, 255).astype(np.uint8))
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def camera_scene(tmp_path_factory):
    labels = aerial_labels()
    return write_camera_scene(tmp_path_factory.mktemp("camera") / "rgbn8.tif", labels), labels


def test_camera_scene_breaks_fixed_reflectance_thresholds(camera_scene):
    """The emulation reproduces the real problem: NDWI > 0 on most land, forest NDVI below 0.3."""
    path, labels = camera_scene
    with RasterSource.open(path) as src:
        assert src.scaling.name == "brightness8"
        bands, valid = src.read(["green", "red", "nir"], src.full_window)
    ndwi = (bands["green"] - bands["nir"]) / (bands["green"] + bands["nir"])
    ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
    land = (labels != "water") & (labels != "vegetation")
    assert (ndwi[land] > 0).mean() > 0.5
    assert (ndvi[labels == "vegetation"] > 0.3).mean() > 0.9  # dense forest still passes here...
    assert (ndvi[labels == "soil"] > 0.0).mean() < 0.1  # ...but soil sits far below the calibrated 0.1


def test_camera_scene_water_is_scene_relative(camera_scene, tmp_path):
    path, labels = camera_scene
    _, _, out, mask, _ = run_engine(path, "extract the water bodies", tmp_path)
    d = out.details
    assert d["rule"] == "ndwi" and d["threshold"]["method"] == "scene"
    assert iou(mask == 1, labels == "water") >= 0.85
    assert not (mask[labels == "shadow"] == 1).any() and not (mask[labels == "gravel"] == 1).mean() > 0.001
    scene = d["threshold"]["scene"]
    assert 0.0 < scene["bright_reference"] < 0.35  # gravel/roofs: NDWI shifted up by the low NIR gain
    assert any(g["test"].startswith("NIR (scene-relative) <") for g in d["guards"])
    assert "scene_relative" in d["caveats"] and "not_reflectance" not in d["caveats"]


def test_camera_scene_vegetation_is_scene_relative(camera_scene, tmp_path):
    path, labels = camera_scene
    _, _, out, mask, _ = run_engine(path, "forest", tmp_path)
    assert out.details["threshold"]["method"] == "scene"
    assert iou(mask == 1, labels == "vegetation") >= 0.95


def test_camera_scene_built_up_guards_move_with_the_camera(camera_scene, tmp_path):
    """On this camera bright roofs have NDWI ~+0.1 (green gain above NIR gain): the absolute "NDWI < 0"
    guard removed every roof (built-up found nothing). Moved with the scene's bright surfaces, it keeps the
    roofs and still excludes water; gravel is found too (without SWIR it is a roof spectrally)."""
    path, labels = camera_scene
    _, _, out, mask, _ = run_engine(path, "building", tmp_path)
    found = mask == 1
    assert found[labels == "roof"].mean() > 0.9
    for other in ("water", "vegetation", "shadow", "soil"):
        assert found[labels == other].mean() < 0.05, other
    guards = {g["test"].split()[0]: g for g in out.details["guards"]}
    assert float(guards["NDWI"]["test"].split()[-1]) > 0.05  # moved up from 0
    assert "guard_reference:NDWI" in out.details["threshold"]["scene"]


def test_camera_scene_user_threshold_keeps_relative_nir_guard(camera_scene, tmp_path):
    path, labels = camera_scene
    _, _, out, mask, _ = run_engine(path, "water", tmp_path, threshold=0.0)
    assert out.details["threshold"]["method"] == "user"
    # NDWI > 0 alone takes most of the gravel; the scene-relative NIR guard still removes it
    assert any(g["rejected_px"] > 1000 for g in out.details["guards"])
    assert (mask[labels == "gravel"] == 1).mean() < 0.01


def test_same_scene_calibrated_and_uncalibrated_agree(tmp_path):
    """One landscape, recorded as reflectance and by the uncalibrated camera: both masks match the truth."""
    labels = aerial_labels(200)
    calibrated = tmp_path / "refl.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(calibrated), 200, 200, 4, gdal.GDT_Float32)
    ds.SetGeoTransform((500000.0, 5.0, 0.0, 4600000.0, 0.0, -5.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, role in enumerate(RGBN, 1):
        arr = np.zeros(labels.shape, np.float32)
        for cls, spec in AERIAL_SPECTRA.items():
            arr[labels == cls] = spec[b - 1]
        ds.GetRasterBand(b).SetDescription(role)
        ds.GetRasterBand(b).WriteArray(arr)
    ds = None
    camera = write_camera_scene(tmp_path / "dn.tif", labels)
    for path, method in ((str(calibrated), "default"), (camera, "scene")):
        _, _, out, mask, _ = run_engine(path, "water", tmp_path)
        assert out.details["threshold"]["method"] == method
        # the calibrated NDWI rule has no defence against shadows: that is what the caveat says
        truth = labels == "water"
        if method == "default":
            truth = truth | (labels == "shadow")
        assert iou(mask == 1, truth) >= 0.85, path


def test_real_aerial_sample_water_and_vegetation(aerial_sample, tmp_path):
    """The real 8-bit RGBN sample (dry gravel river bed, village, orchards). Viewed in false colour, its only
    water is a handful of small pools and thin channels in the river bed (NIR DN < 40 against ~140 for
    the gravel): well under 3 % of the image. Fixed reflectance thresholds marked 62 % as water."""
    _, _, out, mask, _ = run_engine(aerial_sample, "extract the water bodies", tmp_path)
    water = mask == 1
    assert 0.0005 < water.mean() < 0.03
    h, w = mask.shape
    # the pools lie in the river bed, the right half of the image; two of them at rows 250-260
    assert water[:, w // 2 :].sum() > water[:, : w // 2].sum()
    assert water[245:265, 355:385].sum() >= 15
    # orchards/forest east of the river (false-colour red) must come out as vegetation, compactly
    _, _, out, veg, _ = run_engine(aerial_sample, "vegetation", tmp_path)
    assert out.details["threshold"]["method"] == "scene"
    assert 0.08 < (veg == 1).mean() < 0.45
    assert (veg[150:260, 400:470] == 1).mean() > 0.6
    assert (veg[200:300, 330:370] == 1).mean() < 0.05  # the gravel bed beside it


# ------------------------------------------------------------------------- streamed cleanup
@pytest.mark.parametrize("cls", ["vegetation", "water"])  # specks removed / lone pixels kept, holes filled
def test_strips_give_the_same_mask_as_windows_and_file_cleanup(tmp_path, cls):
    labels = np.full((SIZE, SIZE), "bare_soil", dtype=object)
    rng = np.random.default_rng(5)
    labels[rng.random((SIZE, SIZE)) < 0.08] = cls  # specks everywhere, some touching strip edges
    labels[20:90, 30:100] = cls
    labels[rng.random((SIZE, SIZE)) < 0.02] = "bare_soil"  # holes everywhere
    path = write_scene(tmp_path / "noisy.tif", labels, noise=0.0, nodata_rows=7)
    (tmp_path / "a").mkdir()
    _, _, ref, ref_mask, _ = run_engine(path, cls, tmp_path / "a", window=64)
    request = ExtractRequest(raster=path, prompt=cls)
    source = RasterSource.open(path)
    job = EngineJob(source, resolve_aoi(None, source), parse_prompt(cls), request, str(tmp_path),
                    lambda f, m: None, lambda: None)  # fmt: skip
    out = SpectralEngine(strip_pixels=SIZE * 16).run(job)  # 16-row strips
    assert out.details["windows"] == SIZE // 16 and out.details["cleanup"]["filled_hole_px"] > 50
    assert (out.details["cleanup"]["removed_region_px"] > 100) == (cls == "vegetation")
    mask = gdal.Open(out.mask_path).ReadAsArray()
    assert (mask == ref_mask).all()
    assert out.details["cleanup"] == ref.details["cleanup"] and out.details["pixels"] == ref.details["pixels"]


@pytest.mark.parametrize("threshold", [2, 5])
def test_sieve_strip_matches_gdal_sieve_of_the_whole_mask(threshold):
    from model_runtime.spectral.cleanup import _sieve_mem, sieve_halo, sieve_strip

    rng = np.random.default_rng(threshold)
    mask = (rng.random((90, 700)) < 0.3).astype(np.uint8)
    mask[60:80, 100:300] = 255  # a no-data block
    whole = _sieve_mem(mask, threshold, 8)
    halo = sieve_halo(threshold, threshold)
    for top in range(0, 90, 10):
        bottom = min(90, top + 10)
        c0, c1 = max(0, top - halo), min(90, bottom + halo)
        core, filled, removed = sieve_strip(mask[c0:c1], top - c0, bottom - c0, threshold, threshold)
        assert (core == whole[top:bottom]).all()
        changed = core != mask[top:bottom]
        assert filled + removed == changed.sum() and filled == (core[changed] == 1).sum()


def test_single_pixel_hole_fill_strips_and_file_match_the_rule(tmp_path):
    """Water's cleanup (lone pixels kept, one-pixel holes filled): strip by strip, over a whole file, and a
    pixel-by-pixel reading of the rule give the same mask, no-data included."""
    from model_runtime.spectral.cleanup import _fill_holes_in_strips, clean_mask, sieve_halo, sieve_strip

    rng = np.random.default_rng(7)
    mask = (rng.random((90, 700)) < 0.7).astype(np.uint8)
    mask[60:80, 100:300] = 255  # a no-data block
    mask[rng.random(mask.shape) < 0.03] = 255  # and no-data specks
    padded = np.pad(mask, 1, constant_values=255)
    whole = mask.copy()
    for r, c in zip(*np.nonzero(mask == 0)):
        four = [padded[r, c + 1], padded[r + 2, c + 1], padded[r + 1, c], padded[r + 1, c + 2]]
        if 0 not in four and 1 in four:
            whole[r, c] = 1
    assert (whole != mask).sum() > 100
    halo = sieve_halo(1, 2)
    for top in range(0, 90, 10):
        bottom = min(90, top + 10)
        c0, c1 = max(0, top - halo), min(90, bottom + halo)
        core, filled, removed = sieve_strip(mask[c0:c1], top - c0, bottom - c0, 1, 2)
        assert (core == whole[top:bottom]).all() and removed == 0
        assert filled == (core != mask[top:bottom]).sum()
    path = str(tmp_path / "mask.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 700, 90, 1, gdal.GDT_Byte)
    ds.GetRasterBand(1).WriteArray(mask)
    ds = None
    stats = clean_mask(path, 1, 2)
    assert (gdal.Open(path).ReadAsArray() == whole).all()
    assert stats["filled_hole_px"] == (whole != mask).sum() and stats["removed_region_px"] == 0
    ds = gdal.Open(path, gdal.GA_Update)  # again in strips of 7 rows that read rows already written
    ds.GetRasterBand(1).WriteArray(mask)
    assert _fill_holes_in_strips(ds.GetRasterBand(1), rows=7) == (whole != mask).sum()
    assert (ds.GetRasterBand(1).ReadAsArray() == whole).all()


def test_camera_scene_tight_aoi_uses_the_scene_around_it(camera_scene, tmp_path):
    """An AOI drawn tightly around a pool is almost all water: thresholds come from the land around it."""
    path, labels = camera_scene
    # pool centred at row 170, col 160, radius 9: AOI rows 158..182, cols 148..172
    aoi = AreaOfInterest(bbox=(500740.0, 4599090.0, 500860.0, 4599210.0))
    _, job, out, mask, _ = run_engine(path, "water", tmp_path, aoi=aoi)
    win = job.region.window
    sub = labels[win.yoff : win.yoff + win.ysize, win.xoff : win.xoff + win.xsize]
    assert (sub == "water").mean() > 0.3
    assert iou(mask == 1, sub == "water") >= 0.9 and not out.warnings
    assert out.details["threshold"]["scene"]["sample_pixels"] > 40000  # the whole 240 x 240 scene


def test_uniform_scene_warns(tmp_path):
    labels = np.full((120, 120), "vegetation", dtype=object)
    path = write_camera_scene(tmp_path / "forest.tif", labels)
    _, _, out, _, _ = run_engine(path, "vegetation", tmp_path)
    assert any("spectrally uniform" in w and "--threshold" in w for w in out.warnings)
    _, _, out, _, _ = run_engine(write_camera_scene(tmp_path / "c.tif", aerial_labels()), "forest", tmp_path)
    assert not any("uniform" in w for w in out.warnings)


def test_too_few_pixels_for_scene_statistics_warns(tmp_path):
    labels = aerial_labels(240)
    path = write_camera_scene(tmp_path / "c.tif", labels)
    ds = gdal.Open(path, gdal.GA_Update)
    for b in range(1, 5):  # all but a 20 x 20 corner is no-data
        band = ds.GetRasterBand(b)
        band.SetNoDataValue(0)
        arr = band.ReadAsArray()
        arr[20:, :] = 0
        arr[:, 20:] = 0
        band.WriteArray(arr)
    ds = None
    _, _, out, _, _ = run_engine(path, "water", tmp_path)
    assert any("too few valid pixels (400)" in w for w in out.warnings)
    assert out.details["threshold"]["method"] == "default"


def mixed_landscape(size=256, seed=11):
    """Soft mixtures of water, vegetation, built-up and soil from smooth random fields (mixed pixels at every
    boundary, like 10 m imagery): (weights [4, size, size], dominant-class labels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size

    def field(n):
        out = np.zeros((size, size))
        for _ in range(n):
            k, a, p = rng.uniform(2, 9), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
            out += np.cos(2 * np.pi * k * (xx * np.cos(a) + yy * np.sin(a)) + p)
        return out / np.sqrt(n / 2)

    w = np.clip((field(6) - 1.2) / 0.3, 0, 1)
    v = np.clip((field(6) + 0.2) / 0.5, 0, 1) * (1 - w)
    b = np.clip((field(5) - 0.6) / 0.3, 0, 1) * (1 - w) * (1 - v)
    s = 1 - w - v - b
    weights = np.stack([w, v, b, s])
    names = np.array(["water", "vegetation", "building", "bare_soil"], dtype=object)
    return weights, names[weights.argmax(0)]


@pytest.mark.parametrize(
    "gains",
    [None, (600.0, 600.0, 580.0, 340.0), (500.0, 520.0, 560.0, 700.0)],
    ids=["reflectance", "camera-low-nir-gain", "camera-high-nir-gain"],
)
@pytest.mark.parametrize("cls", ["water", "vegetation"])
def test_mixed_landscape_reflectance_and_cameras(tmp_path, gains, cls):
    """The same landscape as float reflectance and through two uncalibrated 8-bit cameras (NIR gain lower or
    higher than the visible gains): each mask matches the dominant-class truth."""
    weights, labels = mixed_landscape()
    assert 0.03 < (labels == "water").mean() < 0.3 and 0.2 < (labels == "vegetation").mean() < 0.7
    rng = np.random.default_rng(3)
    size = labels.shape[0]
    dtype = gdal.GDT_Float32 if gains is None else gdal.GDT_Byte
    path = str(tmp_path / "mixed.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, size, size, 4, dtype)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    interp = (gdal.GCI_BlueBand, gdal.GCI_GreenBand, gdal.GCI_RedBand, gdal.GCI_Undefined)
    for b, role in enumerate(RGBN, 1):
        k = ROLES6.index(role)
        spectra = np.array([SPECTRA[c][k] for c in ("water", "vegetation", "building", "bare_soil")])
        refl = np.tensordot(spectra, weights, axes=1) * (1 + 0.03 * rng.normal(size=(size, size)))
        band = ds.GetRasterBand(b)
        band.SetDescription(role)
        band.SetColorInterpretation(interp[b - 1])
        if gains is None:
            band.WriteArray(refl.astype(np.float32))
        else:
            # dark offsets fall with wavelength like haze (Rayleigh path radiance), NIR offset near 0
            dn = refl * gains[b - 1] + (20, 15, 10, 2)[b - 1] + rng.normal(0, 1.5, refl.shape)
            band.WriteArray(np.clip(np.rint(dn), 1, 255).astype(np.uint8))
    ds = None
    _, _, out, mask, _ = run_engine(path, cls, tmp_path)
    assert out.details["threshold"]["method"] == ("default" if gains is None else "scene")
    # measured: reflectance 0.85+; cameras 0.80-0.83 for water (shore pixels mixed with vegetation fall
    # under the scene-relative NDWI margin that keeps shadows out), 0.9+ for vegetation
    assert iou(mask == 1, labels == cls) >= (0.85 if gains is None or cls == "vegetation" else 0.78)


# typical surface reflectance (blue, green, red, nir, swir1, swir2) of materials a built-up rule must sort;
# the mixed pixel is 65 % concrete + 35 % grass, as at 30 m in a town
MATERIALS = {
    "asphalt": ((0.08, 0.09, 0.10, 0.12, 0.16, 0.15), True),
    "concrete": ((0.22, 0.25, 0.27, 0.30, 0.33, 0.30), True),
    "white roof": ((0.55, 0.58, 0.58, 0.57, 0.52, 0.45), True),
    "town mix": ((0.154, 0.19, 0.19, 0.353, 0.302, 0.237), True),
    "dry soil": ((0.10, 0.14, 0.20, 0.25, 0.33, 0.28), False),
    "grass": ((0.03, 0.08, 0.04, 0.45, 0.25, 0.12), False),
    "forest": ((0.02, 0.05, 0.03, 0.30, 0.15, 0.07), False),
    "water": ((0.06, 0.08, 0.05, 0.03, 0.02, 0.01), False),
    "turbid water": ((0.09, 0.12, 0.10, 0.06, 0.02, 0.01), False),
    "cloud": ((0.45, 0.45, 0.45, 0.45, 0.35, 0.25), False),
    "cloud shadow": ((0.03, 0.03, 0.03, 0.05, 0.04, 0.03), False),
}


def test_built_up_rule_sorts_typical_materials(tmp_path):
    """Roofs AND paving (and a 30 m town mix) are built-up; soil, vegetation, water, cloud and shadow not."""
    names = list(MATERIALS)
    block = 20
    h, w = block, block * len(names)
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "m.tif"), w, h, 6, gdal.GDT_Float32)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, role in enumerate(ROLES6):
        arr = np.zeros((h, w), np.float32)
        for i, name in enumerate(names):
            arr[:, i * block : (i + 1) * block] = MATERIALS[name][0][b]
        ds.GetRasterBand(b + 1).SetDescription(role)
        ds.GetRasterBand(b + 1).WriteArray(arr)
    ds = None
    _, _, out, mask, _ = run_engine(tmp_path / "m.tif", "built-up areas", tmp_path)
    assert out.details["rule"] == "ndbi_swir_shape"
    found = {name: bool((mask[:, i * block : (i + 1) * block] == 1).all()) for i, name in enumerate(names)}
    assert found == {name: expected for name, (_spectrum, expected) in MATERIALS.items()}


def test_mixed_shoreline_pixels_join_the_water_by_local_unmixing():
    """A column of shore pixels 70 % water joins the lake; one 30 % water does not; a pixel that failed the
    primary test is never grown (test fails before mixed_pixels.py: nothing is grown)."""
    from model_runtime.spectral.mixed_pixels import grow_mixed_edges

    water = {"green": 0.06, "red": 0.04, "nir": 0.02, "swir1": 0.01}
    land = {"green": 0.08, "red": 0.06, "nir": 0.35, "swir1": 0.2}
    share = np.zeros((12, 12))
    share[:, :4] = 1.0  # lake
    share[:, 4] = 0.7  # mostly water
    share[:, 5] = 0.3  # mostly land
    bands = {r: (share * water[r] + (1 - share) * land[r]).astype(np.float32) for r in water}
    target = share == 1.0
    candidates = share > 0  # both shore columns passed the primary test
    candidates[0, 4] = False  # this one did not
    added = grow_mixed_edges(target, bands, candidates, list(water))
    assert target[1:, 4].all() and not target[0, 4] and not target[:, 5].any()
    assert added == 11


def test_split_mixed_urban_by_scene_unmixing():
    """Vegetation pixels next to built-up with under half vegetation go to built-up; those with more stay,
    and so does a mostly-built pixel that touches no built-up (the split is one pixel deep). A pixel both
    rules took goes by its share."""
    from model_runtime.spectral.mixed_urban import UrbanEndmembers, split_mixed_urban

    roles = ("red", "nir", "swir1")
    veg, built = SPECTRA["vegetation"], SPECTRA["building"]
    pick = [ROLES6.index(r) for r in roles]
    ends = UrbanEndmembers(roles, tuple(veg[k] for k in pick), tuple(built[k] for k in pick), (100, 100))
    share = np.ones((10, 10))
    share[:, :3] = 0.0  # built-up block
    share[:, 3] = 0.4  # mostly built edge
    share[:, 4] = 0.6  # mostly vegetation, next to the edge
    share[8, 8] = 0.3  # mostly built, inside the park
    bands = {r: (share * veg[k] + (1 - share) * built[k]).astype(np.float32) for r, k in zip(roles, pick)}
    vegetation, built_answer = share > 0.2, share == 0.0
    built_answer[:, 4] = True  # both rules took the 60 % column
    to_built, to_vegetation = split_mixed_urban(vegetation, built_answer, bands, ends)
    assert to_built[:, 3].all() and to_built.sum() == 10
    assert to_vegetation[:, 4].all() and to_vegetation.sum() == 10


def write_town(path, share, swir_nodata_rows=0, dtype=gdal.GDT_Float32):
    """A town edge as float reflectance: each pixel ``share`` vegetation, the rest built-up (SPECTRA); SWIR
    no-data (NaN) in the first ``swir_nodata_rows`` rows."""
    h, w = share.shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, 6, dtype)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 4600000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b, role in enumerate(ROLES6):
        mix = (share * SPECTRA["vegetation"][b] + (1 - share) * SPECTRA["building"][b]).astype(np.float32)
        if role.startswith("swir") and swir_nodata_rows:
            mix[:swir_nodata_rows] = np.nan
        ds.GetRasterBand(b + 1).SetDescription(role)
        ds.GetRasterBand(b + 1).SetNoDataValue(float("nan"))
        ds.GetRasterBand(b + 1).WriteArray(mix)
    ds = None
    return str(path)


def town_masks(path, tmp_path, tag="", **engine):
    """{"vegetation": mask, "building": mask} (mask file values) and the two runs' details."""
    masks, details = {}, {}
    for prompt, cls in (("vegetation", "vegetation"), ("built-up areas", "building")):
        workdir = tmp_path / f"{cls}{tag}"
        workdir.mkdir()
        threshold = engine.pop(f"{cls}_threshold", None)
        request = ExtractRequest(raster=str(path), prompt=prompt, threshold=threshold)
        source = RasterSource.open(str(path))
        job = EngineJob(source=source, region=resolve_aoi(None, source), target=parse_prompt(prompt),
                        request=request, workdir=str(workdir), progress=lambda f, m: None,
                        check_cancelled=lambda: None)  # fmt: skip
        spectral = SpectralEngine(**engine)
        out = spectral.run(job)
        masks[cls] = gdal.Open(out.mask_path).ReadAsArray()
        details[cls] = (out.details, spectral.explain(job, out, []))
    return masks, details


def test_mixed_town_edge_goes_to_its_majority_cover(tmp_path):
    """A built-up block, a park, and between them a column 45 % trees (NDVI 0.37: above the vegetation
    threshold, so NDVI alone calls it vegetation) and one 60 % trees: the first is built-up and not
    vegetation, the second vegetation and not built-up; the two rules never both take a pixel. Before the
    split (mixed_urban) the 45 % column was vegetation."""
    share = np.zeros((40, 60))  # vegetation share of each pixel
    share[:, 30] = 0.45
    share[:, 31] = 0.6
    share[:, 32:] = 1.0
    masks, details = town_masks(write_town(tmp_path / "town.tif", share), tmp_path)
    for cls, truth in (("vegetation", share >= 0.5), ("building", share < 0.5)):
        assert ((masks[cls] == 1) == truth).all(), cls
        d, text = details[cls]
        assert d["pixels"]["mixed_urban_px"] == 40 and d["mixed_urban"]["endmembers"]["built"]["swir1"] > 0
        assert "Mixed vegetation / built-up pixels: 40 pixels" in text


def test_mixed_town_split_ignores_strip_and_window_cuts(tmp_path):
    """The 45 % edge on a strip cut (a row) and on a window cut (a column): the same answer in one strip, in
    8-row strips and in 16 x 16 windows, because both rules are read one pixel beyond each cut."""
    share = np.ones((48, 48))
    share[:16, :] = 0.0  # built-up above row 16: the 45 % row 16 starts the third 8-row strip
    share[16, :] = 0.45
    share[17:, :16] = 0.0  # built-up left of column 16: the 45 % column 16 starts the second window
    share[17:, 16] = 0.45
    path = write_town(tmp_path / "cuts.tif", share)
    runs = {
        "one strip": town_masks(path, tmp_path, "a")[0],
        "8-row strips": town_masks(path, tmp_path, "b", strip_pixels=48 * 8)[0],
        "16 px windows": town_masks(path, tmp_path, "c", window_size=16)[0],
    }
    for name, masks in runs.items():
        assert ((masks["building"] == 1) == (share < 0.5)).all(), name
        assert ((masks["vegetation"] == 1) == (share >= 0.5)).all(), name


def test_no_data_in_the_other_rules_bands_keeps_vegetation(tmp_path):
    """SWIR no-data (which only the built-up rule reads) leaves vegetation there as it was: not no-data,
    not split; elsewhere the split still works."""
    share = np.zeros((40, 40))
    share[:, 20] = 0.45
    share[:, 21:] = 1.0
    masks, details = town_masks(write_town(tmp_path / "nd.tif", share, swir_nodata_rows=10), tmp_path)
    veg = masks["vegetation"]
    assert (veg[:, 21:] == 1).all() and not (veg == MASK_NODATA).any()
    assert (veg[:10, 20] == 1).all() and (veg[10:, 20] == 0).all()  # no SWIR above: no split there
    assert (masks["building"][:10] == MASK_NODATA).all() and (masks["building"][10:, 20] == 1).all()


def test_user_threshold_overlap_is_decided_by_the_share(tmp_path):
    """With the user's vegetation threshold 0.2 both rules take the 30 % and 45 % columns; each goes to
    built-up only (its share is under half), so the answers still never overlap."""
    share = np.zeros((30, 40))
    share[:, 18] = 0.3
    share[:, 19] = 0.45
    share[:, 20:] = 1.0
    path = write_town(tmp_path / "thr.tif", share)
    masks, _ = town_masks(path, tmp_path, vegetation_threshold=0.2)
    assert not ((masks["vegetation"] == 1) & (masks["building"] == 1)).any()
    assert ((masks["building"] == 1) == (share < 0.5)).all()


def test_real_landsat7_vegetation_and_built_up_never_overlap(l7_sample, tmp_path):
    """The 8-bit Landsat 7 sample: the vegetation threshold is scene-relative there (DN-NDVI), the built-up
    rule's NDVI cap is not, so both rules take thousands of town pixels (4,149 in both final masks before
    pixels in both answers were decided by their share); now none."""
    masks, details = town_masks(l7_sample, tmp_path)
    assert details["vegetation"][0]["threshold"]["method"] == "scene"
    assert not ((masks["vegetation"] == 1) & (masks["building"] == 1)).any()
    assert details["vegetation"][0]["pixels"]["mixed_urban_px"] > 1000
