"""preview_mask: the engine mask of a request, the same pixels extract() polygonizes, written atomically."""

from __future__ import annotations

import os

import pytest
from osgeo import gdal

from model_runtime import extract
from model_runtime.errors import ExtractionCancelled, SpexInputError
from model_runtime.preview import preview_mask
from model_runtime.request import AreaOfInterest, ExtractRequest


def _aoi(path: str) -> AreaOfInterest:
    ds = gdal.Open(path)
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    w, h = ds.RasterXSize, ds.RasterYSize
    return AreaOfInterest(bbox=(x0 + dx * w * 0.2, y0 + dy * h * 0.7, x0 + dx * w * 0.7, y0 + dy * h * 0.2))


def test_preview_is_the_mask_extract_polygonizes(aerial_sample, tmp_path):
    request = ExtractRequest(
        raster=str(aerial_sample), prompt="extract the water bodies", aoi=_aoi(str(aerial_sample))
    )
    mask = tmp_path / "preview.tif"
    info = preview_mask(request, str(mask))
    result = extract(ExtractRequest(**{**request.__dict__, "output": str(tmp_path / "w.gpkg")}))
    assert info["target_class"] == "water" and info["target_px"] > 0
    counts = result.details["mask"]
    assert (info["target_px"], info["background_px"]) == (counts["target_px"], counts["background_px"])
    ds = gdal.Open(str(mask))
    band = ds.GetRasterBand(1)
    assert band.GetNoDataValue() == 255 and ds.GetProjection()
    assert int((band.ReadAsArray() == 1).sum()) == info["target_px"]
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # no temp file left


def test_preview_refuses_to_overwrite_and_cancels_cleanly(aerial_sample, tmp_path):
    mask = tmp_path / "exists.tif"
    mask.write_bytes(b"keep me")
    request = ExtractRequest(raster=str(aerial_sample), prompt="extract the vegetation")
    with pytest.raises(SpexInputError, match="already exists"):
        preview_mask(request, str(mask))
    assert mask.read_bytes() == b"keep me"
    with pytest.raises(ExtractionCancelled):
        preview_mask(request, str(tmp_path / "cancelled.tif"), is_cancelled=lambda: True)
    assert sorted(os.listdir(tmp_path)) == ["exists.tif"]


def test_preview_keeps_the_pixel_limit_of_a_run(aerial_sample, tmp_path):
    """Preview opens the raster as extract does: the same pixel-count guard, nothing written past it."""
    request = ExtractRequest(raster=aerial_sample, prompt="extract the water bodies", max_pixels=1000)
    mask = tmp_path / "preview.tif"
    with pytest.raises(SpexInputError, match="pixel limit"):
        preview_mask(request, str(mask))
    assert not mask.exists() and os.listdir(tmp_path) == []
