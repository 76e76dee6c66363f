"""The spex engine end to end (tiny random checkpoint, real GDAL rasters, real ONNX Runtime)."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from osgeo import gdal, ogr  # noqa: E402

from model_runtime.cli import main  # noqa: E402
from model_runtime.engines.spex_explain import merge_tile_texts  # noqa: E402
from model_runtime.errors import ExtractionCancelled  # noqa: E402
from model_runtime.request import AreaOfInterest, ExtractRequest  # noqa: E402


@pytest.fixture(scope="module")
def talking_checkpoint(tmp_path_factory):
    """A tiny checkpoint whose random LLM emits printable text (seed 0 only emits newlines)."""
    from tests.spex.tools.make_test_checkpoint import write_checkpoint

    return write_checkpoint(str(tmp_path_factory.mktemp("spex") / "tiny2"), tiny=True, seed=2)


def _valid_box(path, w, h):
    """Pixel offsets of a w x h box centred on the raster's valid pixels (the sample has a no-data frame)."""
    ds = gdal.Open(path)
    valid = ds.GetRasterBand(1).GetMaskBand().ReadAsArray() > 0
    ys, xs = np.nonzero(valid)
    cx, cy = int(np.median(xs)), int(np.median(ys))
    x0 = min(max(0, cx - w // 2), ds.RasterXSize - w)
    y0 = min(max(0, cy - h // 2), ds.RasterYSize - h)
    return x0, y0


def _features(path):
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    return [f.GetField("explain") for f in layer]


def test_cli_extract_spex_on_sentinel2(s2_sample, talking_checkpoint, tmp_path, capsys):
    out = str(tmp_path / "water.gpkg")
    argv = [
        "extract",
        s2_sample,
        "--prompt",
        "extract the water bodies",
        "--engine",
        "spex",
        "--model",
        talking_checkpoint,
        "--device",
        "cpu",
        "-o",
        out,
        "--json",
        "--max-new-tokens",
        "8",
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    det = result["details"]
    w, h = gdal.Open(s2_sample).RasterXSize, gdal.Open(s2_sample).RasterYSize
    n_tiles = (1 if w <= 512 else 2 + (w - 512 - 1) // 448) * (1 if h <= 512 else 2 + (h - 512 - 1) // 448)
    assert det["tiles"] == n_tiles == len(det["spex_tiles"])
    assert det["vision_backend"] == "onnxruntime" and det["vision_provider"] == "CPUExecutionProvider"
    assert det["device"] == "cpu" and det["dtype"] == "float32"
    assert set(det["seconds"]) >= {"vision", "llm_and_mask", "stretch"}
    expl = result["explanation"]
    assert "ONNX Runtime" in expl and "language model: torch cpu float32" in expl
    spoken = [t for t in det["spex_tiles"] if t.get("has_target") and t.get("text")]
    assert spoken, "the seed-2 tiny model should produce text on at least one tile with a mask"
    for t in spoken:
        assert t["text"] in expl
        if n_tiles > 1:
            assert f"({t['extent']})" in expl
    # every feature carries the full explanation; the mask covers the AOI exactly. How much of the random
    # model's mask survives cleanup depends on its weights (the released decoder's double softmax left only
    # specks here), so the polygons are held to the final mask rather than to a count.
    feats = _features(out)
    mask = det["mask"]
    assert len(feats) == result["features"] and (len(feats) > 0) == (mask["target_px"] > 0)
    assert all(f.startswith("Water region ") and "Confidence" in f for f in feats)  # each feature's own text
    assert mask["target_px"] + mask["background_px"] + mask["nodata_px"] == w * h
    # a second run in the same process reuses the loaded model and the ONNX export
    assert main(argv + ["--overwrite"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["details"]["onnx_path"] == det["onnx_path"]
    assert again["explanation"] == expl  # deterministic (greedy, same tiles)


def test_small_aoi_single_padded_tile_and_nodata(s2_sample, talking_checkpoint, tmp_path):
    from model_runtime.pipeline import extract

    ds = gdal.Open(s2_sample)
    gt = ds.GetGeoTransform()
    # a 100 x 80 px box: one tile, padded to 512; the mask must still be exactly the box
    x0, y0 = _valid_box(s2_sample, 100, 80)
    bbox = (gt[0] + x0 * gt[1], gt[3] + (y0 + 80) * gt[5], gt[0] + (x0 + 100) * gt[1], gt[3] + y0 * gt[5])
    req = ExtractRequest(
        raster=s2_sample,
        prompt="extract the water bodies",
        engine="spex",
        model_dir=talking_checkpoint,
        device="cpu",
        output=str(tmp_path / "o.gpkg"),
        aoi=AreaOfInterest(bbox=bbox),
        max_new_tokens=4,
    )
    res = extract(req)
    assert res.details["tiles"] == 1
    m = res.details["mask"]
    assert m["target_px"] + m["background_px"] + m["nodata_px"] == 100 * 80
    assert not res.explanation.startswith("Tile ")  # one tile: no per-tile headings


def test_cancel_between_tiles_leaves_no_output(s2_sample, talking_checkpoint, tmp_path):
    from model_runtime.pipeline import extract

    seen = []
    out = tmp_path / "cancelled.gpkg"
    req = ExtractRequest(
        raster=s2_sample,
        prompt="water",
        engine="spex",
        model_dir=talking_checkpoint,
        device="cpu",
        output=str(out),
        max_new_tokens=2,
    )

    def progress(fraction, message):
        seen.append(message)

    with pytest.raises(ExtractionCancelled):
        extract(req, progress=progress, is_cancelled=lambda: any("SPEX tile 1/" in m for m in seen))
    assert not out.exists()
    assert not any("SPEX tile 2/" in m for m in seen)


def test_user_errors_are_one_line(s2_sample, tmp_path, capsys):
    out = str(tmp_path / "x.gpkg")
    base = ["extract", s2_sample, "--prompt", "water", "--engine", "spex", "-o", out]
    assert main(base) == 2
    err = capsys.readouterr().err.strip()
    assert "--model" in err and len(err.splitlines()) == 1
    assert main(base + ["--model", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(base + ["--model", str(tmp_path), "--device", "tpu"]) == 2
    assert not os.path.exists(out)


def test_merge_tile_texts_dedupes_and_skips_empty_tiles():
    details = {
        "tiles": 4,
        "tile_size": 512,
        "tile_overlap": 64,
        "model_dir": "/m/spex",
        "device": "cpu",
        "dtype": "float32",
        "vision_runtime": "ONNX Runtime 1.32.0 (CPUExecutionProvider)",
        "spex_tiles": [
            {"tile": 1, "extent": "rows 1-512, cols 1-512", "text": "A lake.", "has_target": True},
            {"tile": 2, "extent": "rows 1-512, cols 449-960", "text": "A lake.", "has_target": True},
            {"tile": 3, "extent": "rows 449-960, cols 1-512", "text": "Nothing.", "has_target": False},
            {"tile": 4, "extent": "rows 449-960, cols 449-960", "text": "A river.", "has_target": True},
        ],
    }
    text = merge_tile_texts(details, "water bodies")
    assert text.count("A lake.") == 1 and "Tiles 1 (rows 1-512, cols 1-512), 2 (" in text
    assert "Tile 4 (rows 449-960, cols 449-960): A river." in text
    assert "Nothing." not in text
    assert text.rstrip().endswith("overlap 64 px]") and "SPEX model spex" in text
    none = merge_tile_texts(dict(details, spex_tiles=[]), "water bodies")
    assert none.startswith("The SPEX model found no water bodies")
    zh = merge_tile_texts(dict(details, spex_tiles=[], target_class="water"), "water bodies", "zh")
    assert "未发现" in zh


def test_engine_mask_is_georeferenced_like_the_aoi(s2_sample, talking_checkpoint, tmp_path):
    """The engine's own mask GeoTIFF: uint8, nodata 255, same grid as the AOI window."""
    from model_runtime.engines.base import EngineJob
    from model_runtime.engines.spex_engine import SpexEngine
    from model_runtime.io.aoi import resolve_aoi
    from model_runtime.io.raster import RasterSource
    from model_runtime.prompts import parse_prompt

    src_ds = gdal.Open(s2_sample)
    gt = src_ds.GetGeoTransform()
    bbox = (gt[0] + 40 * gt[1], gt[3] + 600 * gt[5], gt[0] + 640 * gt[1], gt[3] + 20 * gt[5])
    req = ExtractRequest(
        raster=s2_sample,
        prompt="water",
        engine="spex",
        model_dir=talking_checkpoint,
        device="cpu",
        aoi=AreaOfInterest(bbox=bbox),
        max_new_tokens=2,
    )
    with RasterSource.open(s2_sample) as source:
        region = resolve_aoi(req.aoi, source)
        job = EngineJob(
            source, region, parse_prompt("water"), req, str(tmp_path), lambda f, m: None, lambda: None
        )
        out = SpexEngine().run(job)
        win = region.window
    ds = gdal.Open(out.mask_path)
    assert (ds.RasterXSize, ds.RasterYSize) == (win.xsize, win.ysize) == (600, 580)
    mgt = ds.GetGeoTransform()
    assert mgt[0] == pytest.approx(gt[0] + win.xoff * gt[1]) and mgt[3] == pytest.approx(
        gt[3] + win.yoff * gt[5]
    )
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 255
    values = set(np.unique(band.ReadAsArray()).tolist())
    assert values <= {0, 1, 255}
    assert out.details["tiles"] == 4


def test_feature_details_give_each_polygon_its_tiles_answer_and_mask_confidence(tmp_path):
    """Per feature: size and place, the answer of the tile(s) it lies in, confidence = mean soft mask."""
    from types import SimpleNamespace

    from model_runtime.engines.base import EngineOutput
    from model_runtime.engines.spex_engine import SpexEngine
    from model_runtime.pipeline import region_dicts
    from model_runtime.prompts import parse_prompt
    from model_runtime.vector.vectorize import polygonize_mask

    width, height, gt = 900, 500, (500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0)
    mask = np.zeros((height, width), np.uint8)
    mask[50:150, 50:150] = 1  # in tile 1 only (cols 0-511)
    mask[300:400, 450:600] = 1  # across tiles 1 and 2 (cols 388-899)
    soft = np.where(mask == 1, 1.0, 0.0).astype(np.float32)
    soft[300:400, 450:600] = 0.5  # a less certain region
    paths = {}
    for name, array, dtype in (("mask", mask, gdal.GDT_Byte), ("prob", soft, gdal.GDT_Float32)):
        path = str(tmp_path / f"{name}.tif")
        ds = gdal.GetDriverByName("GTiff").Create(path, width, height, 1, dtype)
        ds.SetGeoTransform(gt)
        ds.GetRasterBand(1).WriteArray(array)
        ds = None
        paths[name] = path
    polygons = polygonize_mask(paths["mask"])
    regions = region_dicts(polygons.polygons, polygons.width, polygons.height)
    tiles = [
        {"tile": 1, "extent": "rows 1-500, cols 1-512", "window": [0, 0, 512, 500], "has_target": True,
         "text": "A square pond."},
        {"tile": 2, "extent": "rows 1-500, cols 389-900", "window": [388, 0, 512, 500], "has_target": True,
         "text": "A long reservoir."},
    ]  # fmt: skip
    output = EngineOutput(paths["mask"], {"spex_tiles": tiles, "probability_path": paths["prob"]})
    job = SimpleNamespace(
        target=parse_prompt("extract the water bodies"),
        request=SimpleNamespace(language=None),
        check_cancelled=lambda: None,
    )
    details = SpexEngine().feature_details(job, output, polygons, regions)
    assert len(details) == len(polygons.polygons) == 2
    by_area = sorted(zip(polygons.polygons, details), key=lambda pd: pd[0].area_px)
    (small, small_d), (wide, wide_d) = by_area
    assert small.area_px == 100 * 100 and wide.area_px == 100 * 150
    assert "SPEX on tile 1 (rows 1-500, cols 1-512): A square pond." in small_d["explain"]
    assert "reservoir" not in small_d["explain"] and small_d["confidence"] == pytest.approx(1.0)
    assert "A square pond." in wide_d["explain"] and "A long reservoir." in wide_d["explain"]
    assert wide_d["confidence"] == pytest.approx(0.5)
    assert all(d["explain"].startswith("Water region ") for d in details)


def test_a_broken_dependency_is_reported_with_its_real_cause(tmp_path, s2_sample):
    """An installed but broken package (here a torch whose own import fails, as Debian's old sympy makes the
    real one fail) is reported with the ImportError's text, not as "not installed"; exit 2, one line."""
    import subprocess
    import sys

    fake = tmp_path / "shadow" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "from sympy.core.numbers import equal_valued_does_not_exist  # noqa\n", encoding="utf-8"
    )
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), repo]))
    argv = ["extract", s2_sample, "-p", "water", "--engine", "spex", "--model", str(tmp_path),
            "-o", str(tmp_path / "o.gpkg")]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "model_runtime", *argv], env=env, capture_output=True, text=True, timeout=300
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "import torch failed" in lines[0] and "equal_valued_does_not_exist" in lines[0]
    assert "not installed" not in lines[0]
