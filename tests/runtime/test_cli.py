"""The ``spex`` command: exit codes, one-line errors, JSON output, ``python -m model_runtime``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

from model_runtime.cli import main

gdal.UseExceptions()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORIGIN = (600000.0, 5000000.0)


def _scene(path, nodata_rows=0, bands=6):
    """Small S2-like scene (6 bands B02..B12, uint16 x10000): vegetation with one 40 x 40 px lake."""
    size = 120
    lake = np.zeros((size, size), bool)
    lake[30:70, 40:80] = True
    water = (0.06, 0.05, 0.03, 0.02, 0.01, 0.006)
    veg = (0.03, 0.07, 0.04, 0.34, 0.18, 0.09)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, bands, gdal.GDT_UInt16)
    ds.SetGeoTransform((ORIGIN[0], 10.0, 0.0, ORIGIN[1], 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    ds.SetProjection(srs.ExportToWkt())
    names = ("B02", "B03", "B04", "B08", "B11", "B12")
    for i in range(bands):
        dn = np.where(lake, water[i], veg[i]) * 10000
        dn = dn.astype(np.uint16)
        if nodata_rows:
            dn[-nodata_rows:] = 0
        band = ds.GetRasterBand(i + 1)
        band.SetDescription(names[i])
        band.SetNoDataValue(0)
        band.WriteArray(dn)
    ds = None
    return str(path)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def scene(tmp_path):
    return _scene(tmp_path / "scene.tif")


def test_extract_human_output(tmp_path, scene, capsys):
    out = str(tmp_path / "w.gpkg")
    code, stdout, stderr = _run(capsys, "extract", scene, "--prompt", "extract the water bodies", "-o", out)
    assert code == 0, stderr
    assert stdout.startswith("water: 1 polygon,")
    assert out in stdout
    assert stderr == ""  # not a terminal: no progress line
    assert os.path.exists(out)


def test_extract_json_shape(tmp_path, scene, capsys):
    out = str(tmp_path / "w.geojson")
    code, stdout, stderr = _run(capsys, "extract", scene, "-p", "提取水体", "-o", out, "--json")
    assert code == 0, stderr
    data = json.loads(stdout)  # exactly one JSON document
    for key in ("class", "features", "area_m2", "explanation", "output", "seconds", "warnings", "details"):
        assert key in data
    assert data["class"] == "water" and data["features"] == 1
    assert data["area_m2"] == pytest.approx(40 * 40 * 100.0, rel=0.01)
    assert data["output"] == out and data["output_format"] == "GeoJSON"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in data["explanation"])  # Chinese prompt -> Chinese text


def _bad_inputs(tmp_path, scene):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty_tif = tmp_path / "empty.tif"
    empty_tif.write_bytes(b"")
    existing = tmp_path / "exists.gpkg"
    existing.write_bytes(b"x")
    nodata = _scene(tmp_path / "nodata.tif", nodata_rows=40)
    rgb = _scene(tmp_path / "three.tif", bands=3)
    ok = str(tmp_path / "o.gpkg")
    far = "0,0,10,10"
    last_rows = f"{ORIGIN[0] + 100},{ORIGIN[1] - 1200 + 10},{ORIGIN[0] + 1100},{ORIGIN[1] - 850}"
    return {
        "missing file": ["extract", str(tmp_path / "nope.tif"), "-p", "water", "-o", ok],
        "non-raster": ["extract", str(text), "-p", "water", "-o", ok],
        "empty file": ["extract", str(empty_tif), "-p", "water", "-o", ok],
        "missing bands": ["extract", rgb, "-p", "water", "-o", ok],
        "aoi outside": ["extract", scene, "-p", "water", "-o", ok, "--aoi", far],
        "empty aoi": [
            "extract",
            scene,
            "-p",
            "water",
            "-o",
            ok,
            "--aoi",
            f"{ORIGIN[0]},{ORIGIN[1] - 100},{ORIGIN[0]},{ORIGIN[1]}",
        ],
        "bad aoi": ["extract", scene, "-p", "water", "-o", ok, "--aoi", "1,2,three"],
        "all no-data": ["extract", nodata, "-p", "water", "-o", ok, "--aoi", last_rows],
        "unknown target": ["extract", scene, "-p", "find the unicorns", "-o", ok],
        "existing output": ["extract", scene, "-p", "water", "-o", str(existing)],
        "unwritable output": ["extract", scene, "-p", "water", "-o", "/proc/spex-test.gpkg"],
        "missing folder": ["extract", scene, "-p", "water", "-o", str(tmp_path / "no" / "o.gpkg")],
        "bad format": ["extract", scene, "-p", "water", "-o", str(tmp_path / "o.tif")],
        "bad bands": ["extract", scene, "-p", "water", "-o", ok, "--bands", "nir=99"],
        "bad sensor": ["extract", scene, "-p", "water", "-o", ok, "--sensor", "hubble"],
        "bad number": ["extract", scene, "-p", "water", "-o", ok, "--min-area", "big"],
        "bad engine": ["extract", scene, "-p", "water", "-o", ok, "--engine", "magic"],
        "no prompt": ["extract", scene, "-o", ok],
        "no command args": ["info"],
        "unknown command": ["frobnicate"],
    }


BAD_CASES = [
    "missing file", "non-raster", "empty file", "missing bands", "aoi outside", "empty aoi", "bad aoi",
    "all no-data", "unknown target", "existing output", "unwritable output", "missing folder", "bad format",
    "bad bands", "bad sensor", "bad number", "bad engine", "no prompt", "no command args", "unknown command",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_exit_2_one_line(tmp_path, scene, capsys, case):
    argv = _bad_inputs(tmp_path, scene)[case]
    code, stdout, stderr = _run(capsys, *argv)
    assert code == 2, (case, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, (case, stderr)
    assert lines[0].startswith("spex: error: ") and "Traceback" not in stderr
    assert stdout == ""
    assert not os.path.exists(tmp_path / "o.gpkg")
    if case == "existing output":
        assert (tmp_path / "exists.gpkg").read_bytes() == b"x"


def test_overwrite_flag(tmp_path, scene, capsys):
    out = tmp_path / "w.gpkg"
    out.write_bytes(b"old")
    code, _, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", str(out), "--overwrite", "--quiet")
    assert code == 0, stderr
    ds = ogr.Open(str(out))
    assert ds.GetLayer(0).GetFeatureCount() == 1


def test_shapefile_warning_goes_to_stderr(tmp_path, scene, capsys):
    out = str(tmp_path / "w.shp")
    code, stdout, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", out)
    assert code == 0
    assert os.path.exists(str(tmp_path / "w.explain.txt"))
    assert "spex: warning:" in stderr and "explain.txt" in stderr
    assert "sidecar:" in stdout


def test_info_json_and_text(scene, capsys):
    code, stdout, _ = _run(capsys, "info", scene, "--json")
    assert code == 0
    data = json.loads(stdout)
    assert data["width"] == 120 and data["roles"]
    code, stdout, _ = _run(capsys, "info", scene)
    assert code == 0 and "bands:" in stdout
    code, stdout, _ = _run(capsys, "info", "--sensors")
    assert code == 0 and "sentinel2_l2a" in stdout


def test_version_and_help(capsys):
    assert _run(capsys, "--version")[0] == 0
    code, stdout, _ = _run(capsys, "--help")
    assert code == 0 and "extract" in stdout and "info" in stdout


def test_python_dash_m(tmp_path, scene):
    out = str(tmp_path / "w.gpkg")
    proc = subprocess.run(
        [sys.executable, "-m", "model_runtime", "extract", scene, "-p", "water", "-o", out, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["features"] == 1
    bad = subprocess.run(
        [sys.executable, "-m", "model_runtime", "extract", scene, "-p", "water", "-o", out],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "already exists" in bad.stderr


def test_ctrl_c_exits_130(tmp_path, scene, capsys, monkeypatch):
    import model_runtime.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "extract", interrupted)
    code, _, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", str(tmp_path / "w.gpkg"))
    assert code == 130 and "interrupted" in stderr


def test_unexpected_error_is_exit_1_with_traceback_in_a_log(tmp_path, scene, capsys, monkeypatch):
    import model_runtime.pipeline as pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setenv("SPEX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pipeline, "extract", broken)
    code, _, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", str(tmp_path / "w.gpkg"))
    assert code == 1 and "Traceback" not in stderr and "ZeroDivisionError" in stderr
    assert str(tmp_path / "cache" / "logs") in stderr  # tests/runtime/test_errors.py: the log itself


def test_real_sentinel2_sample(tmp_path, s2_sample, capsys):
    out = str(tmp_path / "s2_water.gpkg")
    code, stdout, stderr = _run(
        capsys, "extract", str(s2_sample), "-p", "extract the water bodies", "-o", out, "--json"
    )
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["output_format"] == "GPKG" and os.path.exists(out)
    ds = ogr.Open(out)
    layer = ds.GetLayer(0)
    assert layer.GetFeatureCount() == data["features"]
    ref = gdal.Open(str(s2_sample))
    ref_srs = osr.SpatialReference(wkt=ref.GetProjection())
    assert layer.GetSpatialRef().IsSame(ref_srs)


def test_progress_only_on_a_terminal(tmp_path, scene, capsys, monkeypatch):
    import model_runtime.cli as cli

    monkeypatch.setattr(cli, "_isatty", lambda stream: True)
    code, stdout, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", str(tmp_path / "w.gpkg"))
    assert code == 0
    assert "\r[100.0%]" in stderr or "\r[ 80.0%]" in stderr
    assert stderr.endswith("\r") and "\n" not in stderr  # the progress line is erased before the summary
    assert stdout.startswith("water: 1 polygon")
    code, _, stderr = _run(capsys, "extract", scene, "-p", "water", "-o", str(tmp_path / "x.gpkg"), "--json")
    assert code == 0 and stderr == ""
