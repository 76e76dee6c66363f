"""Hostile inputs through the real ``spex`` CLI (in-process ``cli.main``): corrupted rasters generated here
(bit flips, truncation at several offsets), broken/recursive/remote VRTs, FIFOs, bad geotransforms, complex
bands, GDAL virtual paths, and property-based fuzzing (Hypothesis) of prompts, AOI strings, band mappings
and options.

Every case asserts the contract: exit 0 or 2, exactly one ``spex: error:`` line on stderr and nothing on
stdout for exit 2, never a traceback, the input unchanged, no stray file in the output folder or the temp
folder. Run with ``--hypothesis-show-statistics`` to see how many cases ran.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import shutil
import socket
import tempfile
import threading
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from osgeo import gdal

from model_runtime.cli import main
from tests.conftest import make_raster

gdal.UseExceptions()
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ------------------------------------------------------------------------------------------- helpers


def _scene(path, size=48, epsg=32633, tiled=True):
    """A small 4-band (red, green, blue, nir) uint16 scene: vegetation with a lake in the middle."""
    yy, xx = np.mgrid[0:size, 0:size]
    lake = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2
    values = {"red": (400, 3000), "green": (600, 800), "blue": (500, 400), "nir": (300, 3400)}
    bands = {name: np.where(lake, w, v).astype(np.uint16) for name, (w, v) in values.items()}
    return make_raster(path, bands, epsg=epsg, tiled=tiled, block=16)


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read())
    return h.hexdigest()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """(input folder, output folder, temp folder): TMPDIR points at a private folder checked for leftovers."""
    inputs, outputs, temp = tmp_path / "in", tmp_path / "out", tmp_path / "tmp"
    for folder in (inputs, outputs, temp):
        folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return inputs, outputs, temp


def run_cli(capfd, argv):
    """Run ``spex`` in-process; (exit status, stdout, stderr) captured at the file-descriptor level."""
    code = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return code, out, err


def assert_contract(code, out, err, inputs=(), digests=None, outputs_dir=None, allowed=(), temp_dir=None):
    """The bad-input contract (see the module docstring)."""
    assert code in (0, 2), (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("spex: error: "), err
        assert out == ""
    for path in inputs:
        assert _digest(path) == digests[path], f"{path} changed"
    if outputs_dir is not None:
        left = sorted(n for n in os.listdir(outputs_dir) if n not in allowed)
        assert left == [], f"stray files in the output folder: {left}"
    if temp_dir is not None:
        assert os.listdir(temp_dir) == [], f"stray files in the temp folder: {os.listdir(temp_dir)}"


# ----------------------------------------------------------------------------------------- corrupted rasters


def _corpus(src_bytes: bytes, seed: int):
    """(name, bytes) of damaged copies: truncations at several offsets and random bit flips."""
    rng = random.Random(seed)
    n = len(src_bytes)
    for frac in (0.02, 0.1, 0.33, 0.5, 0.75, 0.9, 0.99):
        yield f"trunc{int(frac * 100)}", src_bytes[: int(n * frac)]
    for k in range(24):
        data = bytearray(src_bytes)
        for _ in range(1 + k % 8):
            pos = rng.randrange(n) if k % 2 else rng.randrange(min(n, 512))  # half of them in the header
            data[pos] ^= 1 << rng.randrange(8)
        yield f"flip{k}", bytes(data)


@pytest.mark.parametrize("tiled", [True, False], ids=["tiled", "strips"])
def test_corrupted_raster_corpus(sandbox, capfd, tiled):
    inputs, outputs, temp = sandbox
    good = _scene(inputs / "good.tif", size=64, tiled=tiled)
    with open(good, "rb") as fh:
        original = fh.read()
    cases = 0
    for name, data in _corpus(original, seed=7 if tiled else 11):
        path = inputs / f"{name}.tif"
        path.write_bytes(data)
        digests = {str(path): _digest(path)}
        out = outputs / f"{name}.gpkg"
        code, stdout, stderr = run_cli(capfd, ["extract", path, "-p", "water", "-o", out, "--quiet"])
        allowed = (out.name,) if code == 0 else ()
        assert_contract(code, stdout, stderr, [str(path)], digests, outputs, allowed, temp)
        assert sorted(os.listdir(inputs)) == sorted(["good.tif", path.name])  # no .aux.xml or other file
        if code == 0:
            out.unlink()
        path.unlink()
        cases += 1
    assert cases == 31


def test_truncated_tiff_fails_during_read_in_one_line(sandbox, capfd):
    inputs, outputs, temp = sandbox
    good = _scene(inputs / "good.tif", size=256)
    data = open(good, "rb").read()
    bad = inputs / "half.tif"
    bad.write_bytes(data[: len(data) // 2])
    code, out, err = run_cli(capfd, ["extract", bad, "-p", "water", "-o", outputs / "o.gpkg"])
    assert code == 2, err
    assert "could not read" in err and "half.tif" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)


# ------------------------------------------------------------------------------------------- hostile files


def _vrt(path, source, relative=True, size=48):
    rel = "1" if relative else "0"
    bands = "".join(
        f'<VRTRasterBand dataType="UInt16" band="{i}"><SimpleSource>'
        f'<SourceFilename relativeToVRT="{rel}">{source}</SourceFilename><SourceBand>{i}</SourceBand>'
        "</SimpleSource></VRTRasterBand>"
        for i in (1, 2, 3, 4)
    )
    path.write_text(
        f'<VRTDataset rasterXSize="{size}" rasterYSize="{size}"><SRS>EPSG:32633</SRS>'
        f"<GeoTransform>500000,10,0,5000000,0,-10</GeoTransform>{bands}</VRTDataset>"
    )
    return path


def _copy_with_geotransform(src, dst, gt):
    ds = gdal.GetDriverByName("GTiff").CreateCopy(str(dst), gdal.Open(str(src)))
    ds.SetGeoTransform(gt)
    ds = None
    return dst


HOSTILE = {
    "missing VRT source": ("missing.vrt", "does not exist"),
    "VRT including itself": ("self.vrt", "includes itself"),
    "two VRTs including each other": ("a.vrt", "includes itself"),
    "NaN in the geotransform": ("nan.tif", "invalid geotransform"),
    "zero pixel size": ("zero.tif", "invalid geotransform"),
    "complex bands": ("complex.tif", "complex numbers"),
    "FIFO raster": ("fifo.tif", "FIFO"),
    "missing /vsizip/ member": ("/vsizip/{in}/a.zip/nope.tif", "does not exist"),
    "VRT with a /vsicurl/ source": ("net.vrt", "--allow-network"),
    "/vsicurl/ raster": ("/vsicurl/http://127.0.0.1:{port}/x.tif", "--allow-network"),
    "/vsis3/ raster": ("/vsis3/bucket/x.tif", "--allow-network"),
    "WMS service description": ("wms.xml", "--allow-network"),
    "garbage bytes": ("garbage.tif", "cannot open"),
    "empty file": ("empty.tif", "cannot open"),
}


@pytest.fixture
def hostile_files(sandbox):
    inputs = sandbox[0]
    good = _scene(inputs / "good.tif")
    _vrt(inputs / "missing.vrt", "nope.tif")
    _vrt(inputs / "self.vrt", "self.vrt")
    _vrt(inputs / "a.vrt", "b.vrt")
    _vrt(inputs / "b.vrt", "a.vrt")
    _copy_with_geotransform(good, inputs / "nan.tif", (float("nan"), 10, 0, 5000000, 0, -10))
    _copy_with_geotransform(good, inputs / "zero.tif", (500000, 10, 0, 5000000, 0, 0.0))
    ds = gdal.GetDriverByName("GTiff").Create(str(inputs / "complex.tif"), 16, 16, 4, gdal.GDT_CFloat32)
    ds.SetGeoTransform((500000, 10, 0, 5000000, 0, -10))
    ds = None
    os.mkfifo(inputs / "fifo.tif")
    with zipfile.ZipFile(inputs / "a.zip", "w") as zf:
        zf.write(good, "good.tif")
    (inputs / "wms.xml").write_text(
        "<GDAL_WMS><Service name='TMS'><ServerUrl>http://127.0.0.1:1/${z}/${x}/${y}.png</ServerUrl></Service>"
        "<DataWindow><UpperLeftX>-20037508.34</UpperLeftX><UpperLeftY>20037508.34</UpperLeftY>"
        "<LowerRightX>20037508.34</LowerRightX><LowerRightY>-20037508.34</LowerRightY>"
        "<TileLevel>18</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY></DataWindow>"
        "<Projection>EPSG:3857</Projection><BandsCount>3</BandsCount></GDAL_WMS>"
    )
    (inputs / "garbage.tif").write_bytes(os.urandom(4096))
    (inputs / "empty.tif").write_bytes(b"")
    return good


class _CountingServer:
    """A loopback HTTP server that counts connections: any count > 0 means the run went to the network."""

    def __init__(self):
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                outer.hits += 1
                self.send_error(404)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_raster_is_one_line_exit_2(sandbox, capfd, hostile_files, case):
    inputs, outputs, temp = sandbox
    name, expected = HOSTILE[case]
    with _CountingServer() as server:
        (inputs / "net.vrt").unlink(missing_ok=True)
        _vrt(inputs / "net.vrt", f"/vsicurl/http://127.0.0.1:{server.port}/x.tif", relative=False)
        raster = name.format(port=server.port, **{"in": inputs}) if "{" in name else str(inputs / name)
        files = [str(p) for p in inputs.iterdir() if p.is_file() and not p.is_fifo()]
        digests = {p: _digest(p) for p in files}
        code, out, err = run_cli(capfd, ["extract", raster, "-p", "water", "-o", outputs / "o.gpkg"])
        assert server.hits == 0, "the run connected to the network"
    assert code == 2, err
    assert expected in err, err
    assert_contract(code, out, err, files, digests, outputs, (), temp)


def test_fifo_aoi_is_refused_without_reading(sandbox, capfd, hostile_files):
    inputs, outputs, temp = sandbox
    code, out, err = run_cli(
        capfd,
        ["extract", hostile_files, "-p", "water", "-o", outputs / "o.gpkg", "--aoi", inputs / "fifo.tif"],
    )
    assert code == 2 and "FIFO" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)


def test_vsizip_raster_is_read_through_gdal(sandbox, capfd, hostile_files):
    inputs, outputs, temp = sandbox
    out_path = outputs / "o.gpkg"
    raster = f"/vsizip/{inputs}/a.zip/good.tif"
    code, out, err = run_cli(capfd, ["extract", raster, "-p", "water", "-o", out_path, "--json"])
    assert code == 0, err
    assert json.loads(out)["features"] == 1
    assert_contract(code, out, err, outputs_dir=outputs, allowed=("o.gpkg",), temp_dir=temp)


def test_network_vrt_reads_with_allow_network(sandbox, capfd, hostile_files):
    """With --allow-network the same VRT does reach the server (the refusal above is the option's doing)."""
    inputs, outputs, _temp = sandbox
    with _CountingServer() as server:
        _vrt(inputs / "net2.vrt", f"/vsicurl/http://127.0.0.1:{server.port}/x.tif", relative=False)
        code, out, err = run_cli(
            capfd,
            ["extract", inputs / "net2.vrt", "-p", "water", "-o", outputs / "o.gpkg", "--allow-network"],
        )
        assert server.hits > 0
    assert code == 2, err  # the server answers 404: a one-line read error, no traceback
    assert_contract(code, out, err)


def test_geojson_from_raster_without_crs_is_refused(sandbox, capfd):
    inputs, outputs, temp = sandbox
    raster = _scene(inputs / "nocrs.tif", epsg=None)
    code, out, err = run_cli(capfd, ["extract", raster, "-p", "water", "-o", outputs / "o.geojson"])
    assert code == 2 and "no CRS" in err and "GeoJSON" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)


def test_oversized_raster_needs_aoi_or_override(sandbox, capfd, hostile_files):
    inputs, outputs, temp = sandbox
    huge = _vrt(inputs / "huge.vrt", "good.tif", size=1_000_000)
    code, out, err = run_cli(capfd, ["extract", huge, "-p", "water", "-o", outputs / "o.gpkg"])
    assert code == 2 and "--max-pixels" in err and "--aoi" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)
    # an AOI on the part that holds data: one JSON object on stdout, nothing else
    aoi = "500000,4999520,500480,5000000"
    code, out, err = run_cli(
        capfd, ["extract", huge, "-p", "water", "-o", outputs / "o.gpkg", "--aoi", aoi, "--json"]
    )
    assert code == 0, err
    assert json.loads(out)["features"] == 1
    # the guard is a limit, not a ban: a small limit refuses the small AOI too
    code, out, err = run_cli(
        capfd, ["extract", huge, "-p", "water", "-o", outputs / "p.gpkg", "--aoi", aoi, "--max-pixels", "100"]
    )
    assert code == 2 and "100 pixel limit" in err


# ------------------------------------------------------------------------------------------- prompts & argv


def test_prompt_control_characters_are_stripped(sandbox, capfd):
    inputs, outputs, temp = sandbox
    raster = _scene(inputs / "s.tif")
    code, out, err = run_cli(
        capfd,
        [
            "extract",
            raster,
            "-p",
            "extract\x1b[31m the\x07 water\tbodies\n",
            "-o",
            outputs / "o.gpkg",
            "--json",
        ],
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["prompt"] == "extract [31m the water bodies"


def test_invalid_utf8_argv_is_one_line(sandbox, capfd):
    inputs, outputs, temp = sandbox
    raster = _scene(inputs / "s.tif")
    bad = b"water \xff\xfe".decode("utf-8", "surrogateescape")  # how Python hands raw argv bytes over
    code, out, err = run_cli(capfd, ["extract", raster, "-p", bad, "-o", outputs / "o.gpkg"])
    assert code == 2 and "not valid UTF-8" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)


def test_very_long_prompt_is_bounded(sandbox, capfd):
    inputs, outputs, temp = sandbox
    raster = _scene(inputs / "s.tif")
    code, out, err = run_cli(capfd, ["extract", raster, "-p", "water " * 10_000, "-o", outputs / "o.gpkg"])
    assert code == 2 and "characters long" in err
    assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)


# ------------------------------------------------------------------------------------------- Hypothesis


@pytest.fixture(scope="module")
def fuzz_scene(tmp_path_factory):
    return _scene(tmp_path_factory.mktemp("fuzz") / "scene.tif")


def _fuzz_run(capfd, scene, extra, out_name="o.gpkg"):
    """One fuzzed extraction into a fresh output folder; checks the contract and returns (code, stdout)."""
    digest = _digest(scene)
    outputs = tempfile.mkdtemp(prefix="fuzz-out-", dir=os.path.dirname(scene))
    temp = tempfile.mkdtemp(prefix="fuzz-tmp-", dir=os.path.dirname(scene))
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = temp, None
    try:
        code, out, err = run_cli(capfd, ["extract", scene, "-o", os.path.join(outputs, out_name), *extra])
        stem = os.path.splitext(out_name)[0] + "."
        produced = tuple(n for n in os.listdir(outputs) if n.startswith(stem)) if code == 0 else ()
        assert code != 0 or out_name in produced
        assert_contract(code, out, err, [scene], {scene: digest}, outputs, produced, temp)
        return code, out
    finally:
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(outputs, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)


@FUZZ_SETTINGS
@given(
    prompt=st.text(min_size=0, max_size=300)
    | st.sampled_from(["water", "植被", "extract the snow"]).flatmap(
        lambda base: st.text(max_size=40).map(lambda noise: noise + base + noise)
    )
)
def test_fuzz_prompts(fuzz_scene, capfd, prompt):
    code, out = _fuzz_run(capfd, fuzz_scene, ["-p", prompt, "--json"])
    if code == 0:
        json.loads(out)  # exactly one JSON object


_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12),
    st.sampled_from([500000, 500480, 4999520, 5000000, 500240, 4999760]),
)


@FUZZ_SETTINGS
@given(
    aoi=st.one_of(
        st.lists(_numbers, min_size=0, max_size=6).map(lambda v: ",".join(str(x) for x in v)),
        st.text(max_size=80),
        st.builds(
            lambda a, b, c, d: f"POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))",
            _numbers,
            _numbers,
            _numbers,
            _numbers,
        ),
    ),
    crs=st.none() | st.sampled_from(["EPSG:4326", "EPSG:32633", "EPSG:999999", "nonsense", ""]),
)
@example(aoi="POLYGON((0 0,0 1,1 0))", crs=None)  # found by this test: an open ring crashed GEOS
@example(aoi="POLYGON((0 0,96 0,0 1))", crs="EPSG:4326")  # found too: reprojection raised
@example(aoi="POLYGON((500000 5000000,500400 5000000,500400 4999600))", crs="EPSG:32633")
def test_fuzz_aoi(fuzz_scene, capfd, aoi, crs):
    extra = ["-p", "water", "--aoi", aoi] + (["--aoi-crs", crs] if crs is not None else [])
    _fuzz_run(capfd, fuzz_scene, extra)


_ROLES = ["red", "green", "blue", "nir", "swir1", "swir2", "rededge", "coastal", "bogus", ""]


@FUZZ_SETTINGS
@given(
    mapping=st.one_of(
        st.lists(
            st.tuples(st.sampled_from(_ROLES), st.integers(-3, 9) | st.text(max_size=4)),
            max_size=6,
        ).map(lambda pairs: ",".join(f"{r}={i}" for r, i in pairs)),
        st.text(max_size=40),
    )
)
def test_fuzz_band_mappings(fuzz_scene, capfd, mapping):
    _fuzz_run(capfd, fuzz_scene, ["-p", "vegetation", "--bands", mapping])


_OPTIONS = st.one_of(
    st.tuples(st.just("--threshold"), st.text(max_size=12) | st.floats().map(str)),
    st.tuples(st.just("--threshold-method"), st.sampled_from(["fixed", "otsu", "x", ""])),
    st.tuples(st.just("--min-area"), st.text(max_size=8) | st.floats().map(str)),
    st.tuples(st.just("--simplify"), st.text(max_size=8) | st.floats().map(str)),
    st.tuples(st.just("--scaling"), st.sampled_from(["auto", "none", "s2", "2,0", "0,0", "x", "nan,1"])),
    st.tuples(st.just("--sensor"), st.sampled_from(["sentinel2", "landsat8", "unknown", ""])),
    st.tuples(st.just("--language"), st.sampled_from(["en", "zh", "fr"])),
    st.tuples(st.just("--max-pixels"), st.sampled_from(["0", "10", "-1", "1e9", "x"])),
    st.tuples(st.just("--engine"), st.sampled_from(["spectral", "magic"])),
    st.just(("--overwrite",)),
    st.just(("--quiet",)),
    st.just(("--json",)),
    st.just(("--bogus-option",)),
)


@FUZZ_SETTINGS
@given(
    options=st.lists(_OPTIONS, max_size=5),
    out_name=st.sampled_from(["o.gpkg", "o.shp", "o.geojson", "o.txt"]),
)
def test_fuzz_cli_options(fuzz_scene, capfd, options, out_name):
    extra = ["-p", "water"] + [part for option in options for part in option]
    code, out = _fuzz_run(capfd, fuzz_scene, extra, out_name=out_name)
    if code == 0 and "--json" in extra:
        json.loads(out)


def test_loopback_server_sees_a_direct_request():
    """The network check above is only meaningful if the counting server does count connections."""
    with _CountingServer() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            sock.recv(100)
        assert server.hits == 1


@pytest.mark.parametrize(
    "raster",
    [
        "/vsis3/some-bucket/scene.tif",  # without credentials GDAL would ask the EC2 metadata server
        "/vsicurl/https://example.com/scene.tif",
        "/vsizip//vsicurl/http://example.com/a.zip/scene.tif",
        "https://example.com/scene.tif",
        "WMS:http://example.com/wms?SERVICE=WMS",
        "{net_vrt}",
        "{wms_xml}",
    ],
)
def test_no_network_syscall_without_allow_network(sandbox, hostile_files, raster):
    """strace: a refused remote source makes no connect() and no DNS lookup (any socket other than a local
    one would show here), and the run ends with one line."""
    import subprocess
    import sys

    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    inputs, outputs, temp = sandbox
    _vrt(inputs / "net.vrt", "/vsicurl/http://example.com/x.tif", relative=False)
    raster = raster.format(net_vrt=inputs / "net.vrt", wms_xml=inputs / "wms.xml")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=root)
    trace = temp.parent / "trace.txt"
    cmd = ["strace", "-f", "-qq", "-e", "trace=connect,sendto", "-o", str(trace), sys.executable, "-m",
           "model_runtime", "extract", raster, "-p", "water", "-o", str(outputs / "o.gpkg")]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if "ptrace" in proc.stderr and proc.returncode != 2:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 2, proc.stderr
    assert "--allow-network" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    calls = [line for line in trace.read_text().splitlines() if "AF_INET" in line or "AF_INET6" in line]
    assert calls == [], calls


@pytest.mark.parametrize(
    "kind", ["vsitar", "gtiff_dir", "vsizip_missing_archive", "gtiff_dir_fifo", "gtiff_dir_fifo_unquoted"]
)
def test_gdal_paths_are_validated_through_gdal(sandbox, capfd, hostile_files, kind):
    """GDAL path syntaxes reach GDAL (no 'does not exist' from os.path), and their local files are still
    checked (a FIFO behind a driver prefix is refused before opening)."""
    import tarfile

    inputs, outputs, temp = sandbox
    with tarfile.open(inputs / "a.tar", "w") as tar:
        tar.add(hostile_files, arcname="good.tif")
    raster = {
        "vsitar": f"/vsitar/{inputs}/a.tar/good.tif",
        "gtiff_dir": f"GTIFF_DIR:1:{hostile_files}",
        "vsizip_missing_archive": f"/vsizip/{inputs}/nope.zip/good.tif",
        "gtiff_dir_fifo": f'GTIFF_DIR:1:"{inputs / "fifo.tif"}"',
        "gtiff_dir_fifo_unquoted": f"GTIFF_DIR:1:{inputs / 'fifo.tif'}",
    }[kind]
    code, out, err = run_cli(capfd, ["extract", raster, "-p", "water", "-o", outputs / "o.gpkg", "--json"])
    if kind in ("vsitar", "gtiff_dir"):
        assert code == 0, err
        assert json.loads(out)["features"] == 1
        assert_contract(code, out, err, outputs_dir=outputs, allowed=("o.gpkg",), temp_dir=temp)
    else:
        assert code == 2 and ("does not exist" in err or "FIFO" in err), err
        assert_contract(code, out, err, outputs_dir=outputs, temp_dir=temp)
