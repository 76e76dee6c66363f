#!/usr/bin/env python3
"""Quality of the spectral engine against references it was not built from, next to one-line index rules.

Four measures, printed as tables (``--json`` prints them as JSON):

1. **Photo-interpreted points** on the real samples (``tests/data/points_*.csv``: 160 points a scene, drawn at
   random by ``bench/label_chips.py`` (+ a second batch, tests/data/README.md) and labelled by a person
   looking at image chips; ``unsure`` points are
   not scored). The engine runs end to end (``model_runtime.extract``: mask, cleanup, polygons); its polygons
   are rasterised back onto the scene grid and read at the points. Precision, recall and F1 per class.
2. **Labelled scenes built from real spectra** (``--synthetic``, see :func:`synthetic_scene`): pure spectra
   taken at the photo-interpreted points of a real sample are mixed linearly into a scene with a lake, a
   1-3 px river, small ponds, shoreline mixtures, 30 m-like urban mixtures of roofs/paving and trees and bare
   fields. The truth of a pixel is its majority cover; IoU per class.

3. **Labelled scenes built from a spectral library** (see :func:`library_scene`): the same kind of mixed
   scene, but every sub-pixel spectrum is a field or laboratory measurement of the Earth Library
   (``earthlib==1.1.0``, fetched by ``scripts/fetch_samples.py``): 888 urban materials of Santa Barbara
   (roofs, roads, parking lots, sidewalks, paint, metal, tiles), 4,194 soils (ICRAF-ISRIC), 39 sands and
   2,000 PROSAIL canopies, averaged over each band of Sentinel-2 (10 bands, L2A-like float reflectance) and
   Landsat 8 OLI (6 bands). Nothing in these spectra comes from our samples or our points, and they hold the
   materials a town is made of, not only those our two scenes happen to show. Beach sand is mixed in as a
   negative for every class. The library has no water spectra, so these scenes have none.

4. **The library scenes shipped as products are** (:func:`delivered_scenes`): the Sentinel-2 and Landsat 8
   scenes again, as the product's DN with its metadata (L2A baseline 04.00+ with its +1000 DN offset; C2 L2
   SR), as those DN with nothing but band names, with a no-data swath edge, and warped to EPSG:4326. A
   delivery must not change the answer: reading the product is part of being right.

Baselines (the "one-line rules"): water MNDWI > 0 (NDWI > 0 without SWIR), vegetation NDVI > 0.4, built-up
"grey visible + low NDVI" (NDVI < 0.2 and |red - blue| / (red + blue) < 0.1), on the same reflectance the
engine reads.

Run: ``python bench/quality.py [--json]``. tests/runtime/test_quality.py asserts floors on these numbers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model_runtime import ExtractRequest, extract  # noqa: E402
from model_runtime.errors import SpexInputError  # noqa: E402
from model_runtime.io.raster import RasterSource  # noqa: E402

SAMPLES = REPO / "data" / "samples"
POINTS = REPO / "tests" / "data"
SCENES = {
    "sentinel2_l1c_virginia": "points_sentinel2_l1c_virginia.csv",
    "landsat7_etm_olinda": "points_landsat7_etm_olinda.csv",
}
CLASSES = {"water": "extract the water bodies", "vegetation": "extract the vegetation",
           "built": "extract the buildings", "soil": "extract the bare soil"}  # fmt: skip
SCORED_LABELS = ("water", "vegetation", "built", "soil", "sand", "other")  # sand: a negative for every class


# --------------------------------------------------------------------------------------------- helpers
def read_points(path: Path) -> List[dict]:
    """Rows of a points CSV (id, col, row, x, y, label) with the ``unsure`` ones left out."""
    with open(path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] in SCORED_LABELS]
    for r in rows:
        r["col"], r["row"] = int(r["col"]), int(r["row"])
    return rows


def engine_mask(raster: str, prompt: str, workdir: str) -> np.ndarray:
    """Run the engine end to end and rasterise its polygons on the raster grid (bool, True = extracted)."""
    from osgeo import gdal, ogr

    out = os.path.join(workdir, f"{abs(hash((raster, prompt)))}.gpkg")
    extract(ExtractRequest(raster=raster, prompt=prompt, output=out, overwrite=True))
    ds = gdal.Open(raster)
    target = gdal.GetDriverByName("MEM").Create("", ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte)
    target.SetGeoTransform(ds.GetGeoTransform())
    target.SetProjection(ds.GetProjection())
    vds = ogr.Open(out)
    gdal.RasterizeLayer(target, [1], vds.GetLayer(0), burn_values=[1])
    return target.GetRasterBand(1).ReadAsArray() > 0


def baseline_masks(raster: str) -> Dict[str, np.ndarray]:
    """The one-line index rules on the reflectance the engine reads (see module docstring)."""
    with RasterSource.open(raster) as src:
        roles = [r for r in ("blue", "green", "red", "nir", "swir1") if r in src.roles]
        bands, valid = src.read(roles, src.full_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (bands["nir"] - bands["red"]) / (bands["nir"] + bands["red"])
        second = bands["swir1"] if "swir1" in bands else bands["nir"]
        water_index = (bands["green"] - second) / (bands["green"] + second)
        tint = np.abs(bands["red"] - bands["blue"]) / (bands["red"] + bands["blue"])
        return {
            "water": valid & (water_index > 0),
            "vegetation": valid & (ndvi > 0.4),
            "built": valid & (ndvi < 0.2) & (tint < 0.1),
        }


def scores(predicted: np.ndarray, truth: np.ndarray) -> Dict[str, float]:
    """Precision, recall, F1 and IoU of two boolean vectors (NaN where undefined)."""
    tp = float(np.sum(predicted & truth))
    fp = float(np.sum(predicted & ~truth))
    fn = float(np.sum(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    iou = tp / (tp + fp + fn) if tp + fp + fn else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou, "n_true": int(truth.sum())}


# --------------------------------------------------------------------------------------------- points
def point_scores(scene: str, workdir: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{class: {"engine": scores, "baseline": scores}} at the photo-interpreted points of ``scene``."""
    raster = str(SAMPLES / f"{scene}.tif")
    points = read_points(POINTS / SCENES[scene])
    rows = np.array([p["row"] for p in points])
    cols = np.array([p["col"] for p in points])
    labels = np.array([p["label"] for p in points])
    base = baseline_masks(raster)
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for cls, prompt in CLASSES.items():
        truth = labels == cls
        if not truth.any():
            continue
        engine = engine_mask(raster, prompt, workdir)[rows, cols]
        out[cls] = {"engine": scores(engine, truth)}
        if cls in base:
            out[cls]["baseline"] = scores(base[cls][rows, cols], truth)
    return out


# --------------------------------------------------------------------------------------------- synthetic
SUPER = 3  # sub-pixels per pixel side: each pixel mixes 9 sub-pixels of (possibly) different covers
SYNTH_SIZE = 240


def spectra_library(scene: str) -> Tuple[Dict[str, np.ndarray], object]:
    """{label: (n, bands) digital numbers at the photo-interpreted points of ``scene``} and the dataset."""
    from osgeo import gdal

    ds = gdal.Open(str(SAMPLES / f"{scene}.tif"))
    stack = ds.ReadAsArray()  # (bands, rows, cols), small samples only
    library: Dict[str, List[np.ndarray]] = {}
    for p in read_points(POINTS / SCENES[scene]):
        if p["label"] in ("water", "vegetation", "built", "soil"):
            library.setdefault(p["label"], []).append(stack[:, p["row"], p["col"]].astype(np.float64))
    return {k: np.array(v) for k, v in library.items()}, ds


def cover_map(size: int, rng: np.random.Generator, with_soil: bool, with_water: bool = True,
              with_sand: bool = False) -> np.ndarray:
    """Sub-pixel cover labels (0 vegetation, 1 water, 2 built, 3 soil, 4 sand) on a ``size * SUPER`` grid: a
    lake, a meandering river 1-3 px wide, small ponds (unless not ``with_water``), a town of roofs/paving with
    ~30 % tree sub-pixels, streets, with ``with_soil`` bare fields and with ``with_sand`` a beach along the
    western edge and two dune patches."""
    n = size * SUPER
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) / SUPER  # pixel units
    cover = np.zeros((n, n), np.uint8)
    if with_soil:
        for _ in range(6):
            x0, y0 = rng.uniform(0, size - 40, 2)
            w, h = rng.uniform(15, 40, 2)
            cover[(xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)] = 3
    town = (xx > size * 0.55) & (xx < size * 0.95) & (yy > size * 0.1) & (yy < size * 0.5)
    cover[town] = 2
    trees = town & (rng.random((n, n)) < 0.3)
    # trees grow in clumps: smooth the random field at sub-pixel scale
    clumps = rng.random((n // SUPER + 1, n // SUPER + 1)) < 0.25
    cover[trees & np.kron(clumps, np.ones((SUPER, SUPER), bool))[:n, :n]] = 0
    if with_sand:
        cover[xx < size * 0.06 + 2 * np.sin(yy / 7.0)] = 4  # beach, 2-5 px wide
        for _ in range(2):
            cx, cy = rng.uniform(size * 0.1, size * 0.5, 2)
            cover[((xx - cx) ** 2 + (yy - cy) ** 2) < rng.uniform(3, 8) ** 2] = 4
    if not with_water:
        return cover
    cover[(((xx - size * 0.3) ** 2 + (yy - size * 0.3) ** 2) < (size * 0.12) ** 2)] = 1  # lake
    centre = size * 0.75 + 8 * np.sin(xx / 9.0)
    width = 1.0 + 2.0 * (xx / size)  # 1 px wide in the west, 3 px in the east
    cover[np.abs(yy - centre) < width / 2] = 1  # river
    for _ in range(12):  # ponds of 1.5-4 px diameter
        cx, cy = rng.uniform(5, size - 5, 2)
        r = rng.uniform(0.75, 2.0)
        cover[((xx - cx) ** 2 + (yy - cy) ** 2) < r**2] = 1
    return cover


COVER_NAMES = {0: "vegetation", 1: "water", 2: "built", 3: "soil", 4: "sand"}


def mix_covers(cover: np.ndarray, library: Dict[str, np.ndarray], rng: np.random.Generator):
    """Give every sub-pixel of ``cover`` a spectrum drawn at random from ``library[label]`` and average each
    ``SUPER x SUPER`` block: (bands, n, n) pixel spectra and the truth masks (majority cover) by label."""
    bands = next(iter(library.values())).shape[1]
    sub = np.zeros((bands, *cover.shape), np.float64)
    for code, label in COVER_NAMES.items():
        where = cover == code
        if where.any():
            sub[:, where] = library[label][rng.integers(0, len(library[label]), int(where.sum()))].T
    n = cover.shape[0] // SUPER
    mixed = sub.reshape(bands, n, SUPER, n, SUPER).mean(axis=(2, 4))
    shares = np.stack([(cover == c).reshape(n, SUPER, n, SUPER).mean(axis=(1, 3)) for c in COVER_NAMES])
    majority = np.argmax(shares, axis=0)
    return mixed, {label: majority == code for code, label in COVER_NAMES.items()}


def synthetic_scene(scene: str, path: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Write a labelled scene mixed from the real spectra of ``scene`` to ``path``; returns the truth masks
    (majority cover of each pixel) keyed by class."""
    from osgeo import gdal

    rng = np.random.default_rng(seed)
    library, src = spectra_library(scene)
    cover = cover_map(SYNTH_SIZE, rng, "soil" in library)
    mixed, truth = mix_covers(cover, library, rng)
    n, bands = SYNTH_SIZE, src.RasterCount
    out = gdal.GetDriverByName("GTiff").Create(path, n, n, bands, src.GetRasterBand(1).DataType)
    out.SetGeoTransform(src.GetGeoTransform())
    out.SetProjection(src.GetProjection())
    out.SetMetadata(src.GetMetadata())
    for b in range(1, bands + 1):
        band, ref = out.GetRasterBand(b), src.GetRasterBand(b)
        band.SetDescription(ref.GetDescription())
        for domain in ("", "IMAGERY"):
            band.SetMetadata(ref.GetMetadata(domain) or {}, domain)
        band.WriteArray(np.rint(mixed[b - 1]))
    out = None
    return truth


# --------------------------------------------------------------------------------------------- library
EARTHLIB = SAMPLES / "earthlib"
#: sensor -> (dataset metadata, pixel size m, [(band description, centre um, full width um)]): the Sentinel-2A
#: and Landsat 8 OLI bands as published (ESA S2 MSI spectral response; USGS Landsat 8 data users handbook)
LIBRARY_SENSORS = {
    "sentinel2_l2a": (
        {"SPACECRAFT_NAME": "Sentinel-2A", "PROCESSING_LEVEL": "Level-2A", "PRODUCT_TYPE": "S2MSI2A"}, 10.0,
        [("B02 blue", 0.492, 0.066), ("B03 green", 0.560, 0.036), ("B04 red", 0.665, 0.031),
         ("B05 rededge1", 0.704, 0.015), ("B06 rededge2", 0.740, 0.015), ("B07 rededge3", 0.783, 0.020),
         ("B08 nir", 0.833, 0.106), ("B8A nir08", 0.865, 0.021), ("B11 swir1", 1.614, 0.091),
         ("B12 swir2", 2.202, 0.175)],
    ),
    "landsat8_c2l2": (
        {"SPACECRAFT_ID": "LANDSAT_8", "PROCESSING_LEVEL": "L2SP"}, 30.0,
        [("SR_B2 blue", 0.482, 0.060), ("SR_B3 green", 0.561, 0.057), ("SR_B4 red", 0.655, 0.037),
         ("SR_B5 nir", 0.865, 0.028), ("SR_B6 swir1", 1.609, 0.085), ("SR_B7 swir2", 2.201, 0.187)],
    ),
    # a 4-band aerial/PlanetScope-like camera (NAIP's bands) delivered as float reflectance: no SWIR
    "rgbn_aerial": (
        {}, 1.0,
        [("Blue", 0.485, 0.070), ("Green", 0.560, 0.080), ("Red", 0.635, 0.050),
         ("Near Infrared", 0.860, 0.120)],
    ),
}  # fmt: skip
#: our class -> Earth Library (LEVEL_2, LEVEL_3) groups; None: every LEVEL_3 of that LEVEL_2
LIBRARY_GROUPS = {
    "vegetation": [("vegetation", None)],
    "built": [("built", None)],
    "soil": [("bare", "soil"), ("bare", "dirt")],
    "sand": [("bare", "sand")],
}


def earthlib_spectra() -> Tuple[np.ndarray, np.ndarray, List[Tuple[str, str]]]:
    """The Earth Library: wavelengths (um), (n, wavelengths) reflectance, (LEVEL_2, LEVEL_3) per spectrum."""
    import re

    header = (EARTHLIB / "spectra.sli.hdr").read_text()
    listed = re.search(r"wavelength\s*=\s*\{([^}]*)\}", header).group(1)
    wavelengths = np.array([float(v) for v in listed.split(",")])
    with open(EARTHLIB / "spectra.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    spectra = np.fromfile(EARTHLIB / "spectra.sli", dtype="<f4").reshape(len(rows), wavelengths.size)
    return wavelengths, spectra.astype(np.float64), [(r["LEVEL_2"], r["LEVEL_3"]) for r in rows]


def library_band_spectra(sensor: str) -> Dict[str, np.ndarray]:
    """{class: (n, bands) reflectance}: each library spectrum averaged over each band of ``sensor`` (a flat
    response inside the band's full width, the library being sampled every 10 nm)."""
    wavelengths, spectra, groups = earthlib_spectra()
    _meta, _pixel, band_defs = LIBRARY_SENSORS[sensor]
    columns = []
    for _desc, centre, width in band_defs:
        inside = np.abs(wavelengths - centre) <= width / 2 + 0.005
        columns.append(spectra[:, inside].mean(axis=1))
    per_band = np.stack(columns, axis=1)
    out = {}
    for cls, wanted in LIBRARY_GROUPS.items():
        pick = [i for i, (l2, l3) in enumerate(groups) if any(l2 == a and b in (None, l3) for a, b in wanted)]
        out[cls] = per_band[pick]
    return out


def library_scene(sensor: str, path: str, seed: int = 0) -> Dict[str, np.ndarray]:
    """Write a labelled float-reflectance scene of ``sensor`` mixed from Earth Library spectra to ``path``
    (vegetation, a town of built materials with ~30 % trees, bare fields, a beach); returns the truth."""
    from osgeo import gdal, osr

    rng = np.random.default_rng(seed)
    library = library_band_spectra(sensor)
    cover = cover_map(SYNTH_SIZE, rng, with_soil=True, with_water=False, with_sand=True)
    mixed, truth = mix_covers(cover, library, rng)
    metadata, pixel, band_defs = LIBRARY_SENSORS[sensor]
    n = SYNTH_SIZE
    out = gdal.GetDriverByName("GTiff").Create(path, n, n, len(band_defs), gdal.GDT_Float32)
    out.SetGeoTransform((500000.0, pixel, 0.0, 4200000.0, 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    out.SetProjection(srs.ExportToWkt())
    out.SetMetadata(metadata)
    for b, (desc, _centre, _width) in enumerate(band_defs, start=1):
        out.GetRasterBand(b).SetDescription(desc)
        out.GetRasterBand(b).WriteArray(mixed[b - 1].astype(np.float32))
    out = None
    return truth


def library_scores(sensor: str, workdir: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{class: {"engine": scores, "baseline": scores}} (IoU) on the library scene of ``sensor``."""
    path = os.path.join(workdir, f"library_{sensor}.tif")
    return mask_scores(path, library_scene(sensor, path), ("vegetation", "built", "soil"), workdir)


def synthetic_scores(scene: str, workdir: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{class: {"engine": scores, "baseline": scores}} (IoU) on the labelled scene mixed from ``scene``."""
    path = os.path.join(workdir, f"synthetic_{scene}.tif")
    return mask_scores(path, synthetic_scene(scene, path), tuple(CLASSES), workdir)


def mask_scores(path: str, truth: Dict[str, np.ndarray], classes, workdir: str) -> Dict[str, Dict[str, dict]]:
    """{class: {"engine": scores, "baseline": scores}} of the engine (end to end) and the one-line rules
    against per-pixel ``truth`` on the labelled scene ``path``; a class absent from the truth, or one whose
    bands the scene lacks (bare soil without SWIR), is left out."""
    base = baseline_masks(path)
    out: Dict[str, Dict[str, dict]] = {}
    for cls in classes:
        if not truth[cls].any():
            continue
        try:
            engine = engine_mask(path, CLASSES[cls], workdir).ravel()
        except SpexInputError:
            continue
        out[cls] = {"engine": scores(engine, truth[cls].ravel())}
        if cls in base:
            out[cls]["baseline"] = scores(base[cls].ravel(), truth[cls].ravel())
    return out


# --------------------------------------------------------------------------------------------- deliveries
#: sensor -> (DN = (reflectance - offset) / gain, the product's own metadata): how the library scene of that
#: sensor ships as a product (Sentinel-2 L2A of processing baseline 04.00+: +1000 DN; Landsat C2 L2 SR)
PRODUCT_DN = {
    "sentinel2_l2a": (1e-4, -0.1, {"SPACECRAFT_NAME": "Sentinel-2A", "PROCESSING_LEVEL": "Level-2A",
                                   "PRODUCT_TYPE": "S2MSI2A", "PROCESSING_BASELINE": "05.09",
                                   "PRODUCT_START_TIME": "2024-06-01T10:40:00Z"}),
    "landsat8_c2l2": (2.75e-5, -0.2, {"SPACECRAFT_ID": "LANDSAT_8", "PROCESSING_LEVEL": "L2SP"}),
}  # fmt: skip
DELIVERIES = ("float reflectance", "product DN", "DN, band names only", "no-data swath edge", "EPSG:4326")


def _write_like(reference: str, path: str, data: np.ndarray, metadata: Dict[str, str], nodata=None) -> None:
    """``data`` (bands, rows, cols) as a GeoTIFF on the grid of ``reference`` (and with its band names when
    the band counts match)."""
    from osgeo import gdal, gdal_array

    ref = gdal.Open(reference)
    out = gdal.GetDriverByName("GTiff").Create(path, ref.RasterXSize, ref.RasterYSize, data.shape[0],
                                               gdal_array.NumericTypeCodeToGDALTypeCode(data.dtype))
    out.SetGeoTransform(ref.GetGeoTransform())
    out.SetProjection(ref.GetProjection())
    out.SetMetadata(metadata)
    for b in range(1, data.shape[0] + 1):
        band = out.GetRasterBand(b)
        band.SetDescription(ref.GetRasterBand(b).GetDescription() if data.shape[0] == ref.RasterCount else "")
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(data[b - 1])
    out = None


def delivered_scenes(sensor: str, workdir: str):
    """Yield (delivery, path, truth) for the library scene of ``sensor`` shipped each way of
    :data:`DELIVERIES`: as float reflectance; as the product's DN with its metadata; as those DN with only the
    band names; with a no-data swath edge (0 DN, a fifth of the scene); warped to EPSG:4326 (nearest). The
    truth is False where the delivery has no data."""
    from osgeo import gdal

    path = os.path.join(workdir, f"deliver_{sensor}.tif")
    truth = library_scene(sensor, path)
    yield DELIVERIES[0], path, truth
    gain, offset, metadata = PRODUCT_DN[sensor]
    reflectance = gdal.Open(path).ReadAsArray().astype(np.float64)
    dn = np.clip(np.rint((reflectance - offset) / gain), 1, 65535).astype(np.uint16)
    product = os.path.join(workdir, f"deliver_{sensor}_dn.tif")
    _write_like(path, product, dn, metadata)
    yield DELIVERIES[1], product, truth
    names_only = os.path.join(workdir, f"deliver_{sensor}_names.tif")
    _write_like(path, names_only, dn, {})
    yield DELIVERIES[2], names_only, truth
    rows, cols = np.mgrid[0 : dn.shape[1], 0 : dn.shape[2]]
    edge = cols + 0.6 * rows < 0.3 * dn.shape[2]
    edged = os.path.join(workdir, f"deliver_{sensor}_edge.tif")
    _write_like(path, edged, np.where(edge, 0, dn).astype(np.uint16), metadata, nodata=0)
    yield DELIVERIES[3], edged, {k: v & ~edge for k, v in truth.items()}
    warped = os.path.join(workdir, f"deliver_{sensor}_4326.tif")
    gdal.Warp(warped, product, dstSRS="EPSG:4326", resampleAlg="near", dstNodata=0)
    codes = np.zeros(dn.shape[1:], np.uint8)
    for code, cls in enumerate(truth, start=1):
        codes[truth[cls]] = code
    truth_path = os.path.join(workdir, f"deliver_{sensor}_truth.tif")
    _write_like(path, truth_path, codes[None], {})
    warped_truth = os.path.join(workdir, f"deliver_{sensor}_truth_4326.tif")
    gdal.Warp(warped_truth, truth_path, dstSRS="EPSG:4326", resampleAlg="near", dstNodata=255,
              width=gdal.Open(warped).RasterXSize, height=gdal.Open(warped).RasterYSize)  # fmt: skip
    warped_codes = gdal.Open(warped_truth).ReadAsArray()
    yield DELIVERIES[4], warped, {cls: warped_codes == code for code, cls in enumerate(truth, start=1)}


def delivery_scores(sensor: str, workdir: str) -> Dict[str, Dict[str, Dict[str, dict]]]:
    """{delivery: {class: {"engine": scores, ...}}} (IoU) of the library scene of ``sensor`` as delivered."""
    return {delivery: mask_scores(path, truth, ("vegetation", "built", "soil"), workdir)
            for delivery, path, truth in delivered_scenes(sensor, workdir)}  # fmt: skip


# --------------------------------------------------------------------------------------------- table
def _fmt(value: float) -> str:
    return "  -  " if value != value else f"{value:.2f}"


def print_points(results: Dict[str, dict]) -> None:
    """One line per scene and class: engine P/R/F1 vs baseline P/R/F1."""
    print("photo-interpreted points (precision / recall / F1; unsure points not scored)")
    print(f"{'scene':<26}{'class':<12}{'n':>4}   {'engine P   R    F1':<20}{'one-line rule P   R    F1':<26}")
    for scene, per_class in results.items():
        for cls, s in per_class.items():
            nan = float("nan")
            e, b = s["engine"], s.get("baseline", {"precision": nan, "recall": nan, "f1": nan})
            line = f"{scene:<26}{cls:<12}{e['n_true']:>4}   "
            line += f"{_fmt(e['precision'])} {_fmt(e['recall'])} {_fmt(e['f1'])}    "
            line += f"{_fmt(b['precision'])} {_fmt(b['recall'])} {_fmt(b['f1'])}"
            print(line)


def print_synthetic(results: Dict[str, dict], title: str, source: str = "spectra from") -> None:
    """One line per scene and class: engine IoU vs baseline IoU."""
    print(title)
    print(f"{source:<26}{'class':<12}{'pixels':>7}   {'engine':>7}   {'one-line rule':>13}")
    for scene, per_class in results.items():
        for cls, s in per_class.items():
            base = _fmt(s["baseline"]["iou"]) if "baseline" in s else "  -  "
            engine = _fmt(s["engine"]["iou"])
            print(f"{scene:<26}{cls:<12}{s['engine']['n_true']:>7}   {engine:>7}   {base:>13}")


def print_deliveries(results: Dict[str, dict]) -> None:
    """One line per sensor and delivery: engine IoU of each class."""
    print("the same library scenes shipped as products are shipped (engine IoU on the valid pixels)")
    print(f"{'sensor':<16}{'delivery':<22}{'vegetation':>11}{'built':>8}{'soil':>8}")
    for sensor, per_delivery in results.items():
        for delivery, per_class in per_delivery.items():
            cells = "".join(f"{_fmt(per_class[c]['engine']['iou']) if c in per_class else '  -  ':>{w}}"
                            for c, w in (("vegetation", 11), ("built", 8), ("soil", 8)))  # fmt: skip
            print(f"{sensor:<16}{delivery:<22}{cells}")


def run(json_out: bool = False, quiet: bool = False) -> Dict[str, dict]:
    """Compute every table; print them (unless ``quiet``); return the numbers."""
    results: Dict[str, dict] = {"points": {}, "synthetic": {}, "library": {}, "deliveries": {}}
    with tempfile.TemporaryDirectory(prefix="spex-quality-") as workdir:
        for scene in SCENES:
            if not (SAMPLES / f"{scene}.tif").exists():
                print(f"{scene}.tif missing: run 'make samples' first", file=sys.stderr)
                continue
            results["points"][scene] = point_scores(scene, workdir)
            results["synthetic"][scene] = synthetic_scores(scene, workdir)
        if (EARTHLIB / "spectra.sli").exists():
            for sensor in LIBRARY_SENSORS:
                results["library"][sensor] = library_scores(sensor, workdir)
            for sensor in PRODUCT_DN:
                results["deliveries"][sensor] = delivery_scores(sensor, workdir)
        else:
            print("data/samples/earthlib missing: run 'make samples' first", file=sys.stderr)
    if quiet:
        return results
    if json_out:
        print(json.dumps(results, indent=1, default=float))
    else:
        print_points(results["points"])
        print()
        print_synthetic(results["synthetic"], "labelled scenes mixed from real spectra of the samples (IoU "
                        "against the majority cover of each pixel)")  # fmt: skip
        print()
        print_synthetic(results["library"], "labelled scenes mixed from Earth Library spectra (IoU; beach "
                        "sand is a negative for every class)", "sensor")  # fmt: skip
        print()
        print_deliveries(results["deliveries"])
    return results


def main(argv: List[str] | None = None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    run(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
