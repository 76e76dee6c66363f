"""Atomic vector writers: formats, CRS, Shapefile text splitting, overwrite rules."""

from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest
from osgeo import ogr, osr

from model_runtime.errors import SpexInputError
from model_runtime.vector.writers import (
    DBF_TEXT_BYTES,
    Feature,
    layer_name_from_prompt,
    read_shapefile_text,
    split_utf8,
    write_features,
)

ogr.UseExceptions()


def _utm_wkt(epsg=32633):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def _square(x0, y0, size):
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)]:
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def _features(explain, n=3):
    out = []
    for i in range(n):
        geom = _square(500000 + 1000 * i, 4000000, 200 + 100 * i)
        out.append(
            Feature(
                geom.ExportToWkb(),
                {
                    "class": "water",
                    "prompt": "提取水体",
                    "engine": "spectral",
                    "explain": explain,
                    "area_m2": geom.GetArea(),
                    "region_id": i + 1,
                    "size": "large",
                    "location": "center",
                },
            )
        )
    return out


LONG_ZH = "该区域的水体主要分布在图像中部，归一化水体指数（NDWI）高于阈值 0.1。" * 40 + "——完。"


def test_shapefile_keeps_long_chinese_explanation(tmp_path):
    path = str(tmp_path / "水体.shp")
    result = write_features(path, _features(LONG_ZH), _utm_wkt(), layer_name="ignored", explanation=LONG_ZH)
    assert result.format == "ESRI Shapefile"
    sidecar = str(tmp_path / "水体.explain.txt")
    assert result.sidecars == [sidecar]
    assert any("explain_2" in w and sidecar in w for w in result.warnings)
    with open(sidecar, encoding="utf-8") as fh:
        assert fh.read() == LONG_ZH
    with open(str(tmp_path / "水体.cpg")) as fh:
        assert "UTF-8" in fh.read().upper()
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    assert layer.GetFeatureCount() == 3
    for feature in layer:
        assert read_shapefile_text(feature, "explain") == LONG_ZH
        assert feature.GetField("prompt") == "提取水体"
        assert feature.GetField("region_id") in (1, 2, 3)
    # every split field fits the dBASE limit in bytes
    defn = layer.GetLayerDefn()
    names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    assert "explain_2" in names and all(len(n) <= 10 for n in names)
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32633"
    # no temp leftovers
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["水体.shp", "水体.shx", "水体.dbf", "水体.prj", "水体.cpg", "水体.explain.txt"]
    )


def test_short_explanation_needs_no_sidecar(tmp_path):
    path = str(tmp_path / "w.shp")
    result = write_features(
        path, _features("short text"), _utm_wkt(), layer_name="w", explanation="short text"
    )
    assert result.sidecars == [] and result.warnings == []
    assert not os.path.exists(tmp_path / "w.explain.txt")


def test_split_utf8_is_byte_safe():
    rng = random.Random(3)
    alphabet = "aé水体€😀 "
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        chunks = split_utf8(text, DBF_TEXT_BYTES)
        assert "".join(chunks) == text
        assert all(len(c.encode("utf-8")) <= DBF_TEXT_BYTES for c in chunks)
        assert all(chunks) or text == ""
        # Shapefile readers strip blanks at both ends: no cut next to a blank when a better cut exists
        for left, right in zip(chunks, chunks[1:]):
            if left[-1].isspace() or right[0].isspace():
                assert not any(not a.isspace() and not b.isspace() for a, b in zip(left, left[1:])), (
                    "a cut between two non-blank characters was possible"
                )


def test_gpkg_keeps_crs_and_full_text(tmp_path):
    path = str(tmp_path / "out.gpkg")
    result = write_features(
        path,
        _features(LONG_ZH),
        _utm_wkt(32650),
        layer_name=layer_name_from_prompt("提取水体"),
        explanation=LONG_ZH,
    )
    ds = ogr.Open(path)
    layer = ds.GetLayerByName("提取水体")
    assert layer is not None and layer.GetFeatureCount() == 3
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "32650"
    feature = layer.GetNextFeature()
    assert feature.GetField("explain") == LONG_ZH
    assert feature.GetField("centroid_x") == pytest.approx(500100.0)
    assert result.crs_wkt and result.warnings == []


def test_geojson_is_rfc7946_wgs84(tmp_path):
    path = str(tmp_path / "out.geojson")
    result = write_features(path, _features("x"), _utm_wkt(32633), layer_name="water", explanation="x")
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "4326"
    minx, maxx, miny, maxy = layer.GetExtent()
    # UTM 33N, x=500000 is the central meridian 15 E; y=4000000 is about 36.1 N (lon/lat order)
    assert 14.99 < minx < 15.05 and 36.0 < miny < 36.2
    assert "4326" in result.crs_wkt or "WGS 84" in result.crs_wkt
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert '"crs"' not in text  # RFC 7946 has no crs member


def test_empty_layer_still_has_schema(tmp_path):
    path = str(tmp_path / "empty.gpkg")
    result = write_features(path, [], _utm_wkt(), layer_name="water", explanation="no water found")
    assert result.features == 0
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    defn = layer.GetLayerDefn()
    assert layer.GetFeatureCount() == 0
    assert {"class", "explain", "area_m2"} <= {
        defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())
    }


def test_existing_output_needs_overwrite(tmp_path):
    path = str(tmp_path / "out.gpkg")
    write_features(path, _features("one"), _utm_wkt(), layer_name="water")
    with pytest.raises(SpexInputError, match="already exists.*overwrite"):
        write_features(path, _features("two"), _utm_wkt(), layer_name="water")
    write_features(path, _features("two", n=1), _utm_wkt(), layer_name="water", overwrite=True)
    ds = ogr.Open(path)
    assert ds.GetLayer(0).GetFeatureCount() == 1


def test_shapefile_sidecar_counts_as_existing_and_stale_files_go(tmp_path):
    path = str(tmp_path / "w.shp")
    (tmp_path / "w.dbf").write_bytes(b"not mine")
    with pytest.raises(SpexInputError, match="w.dbf already exists"):
        write_features(path, _features("x"), _utm_wkt(), layer_name="w")
    write_features(path, _features(LONG_ZH), _utm_wkt(), layer_name="w", explanation=LONG_ZH, overwrite=True)
    assert (tmp_path / "w.explain.txt").exists()
    write_features(path, _features("short"), _utm_wkt(), layer_name="w", explanation="short", overwrite=True)
    assert not (tmp_path / "w.explain.txt").exists()  # the old full text would contradict the new layer


def test_failed_write_leaves_old_file_intact(tmp_path):
    path = str(tmp_path / "out.gpkg")
    write_features(path, _features("old"), _utm_wkt(), layer_name="water")
    before = (tmp_path / "out.gpkg").read_bytes()
    broken = _features("new") + [Feature(b"\x00garbage", {"class": "water"})]
    with pytest.raises(RuntimeError):
        write_features(path, broken, _utm_wkt(), layer_name="water", overwrite=True)
    assert (tmp_path / "out.gpkg").read_bytes() == before
    assert os.listdir(tmp_path) == ["out.gpkg"]


def test_failed_shapefile_write_leaves_nothing(tmp_path):
    broken = [Feature(b"\x00garbage", {"class": "water"})]
    with pytest.raises(RuntimeError):
        write_features(str(tmp_path / "w.shp"), broken, _utm_wkt(), layer_name="w")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["out.gpkg", "out.shp", "out.geojson"])
def test_cancel_while_writing_leaves_old_output_intact(tmp_path, name):
    from model_runtime.errors import ExtractionCancelled
    from model_runtime.vector.writers import CANCEL_EVERY

    path = str(tmp_path / name)
    write_features(path, _features("old"), _utm_wkt(), layer_name="water")
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 2:  # after CANCEL_EVERY features have been written
            raise ExtractionCancelled("stop")

    many = _features("new", n=CANCEL_EVERY + 5)
    with pytest.raises(ExtractionCancelled):
        write_features(path, many, _utm_wkt(), layer_name="water", overwrite=True, check_cancelled=check)
    assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "path, message",
    [
        ("/proc/spex-out.gpkg", "cannot write in folder"),
        ("/nonexistent-folder-xyz/out.gpkg", "does not exist"),
        ("out.tif", "unsupported output format"),
        ("out", "unsupported output format"),
    ],
)
def test_bad_destinations(tmp_path, path, message):
    with pytest.raises(SpexInputError, match=message) as info:
        write_features(path, _features("x"), _utm_wkt(), layer_name="w")
    assert "\n" not in str(info.value)


def test_layer_name_from_prompt():
    assert layer_name_from_prompt("Extract the water bodies!") == "extract_the_water_bodies"
    assert layer_name_from_prompt("提取水体") == "提取水体"
    assert layer_name_from_prompt("  ?? ") == "spex"
    assert layer_name_from_prompt("3 lakes").startswith("l_3")


# ------------------------------------------------------------------------------------------- nothing lost


def _listing(folder):
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir())


@pytest.mark.parametrize("name", ["out.gpkg", "out.shp", "out.geojson"])
def test_file_appearing_during_the_write_is_never_replaced(tmp_path, name):
    """The existence check and the publish are one step (link / RENAME_NOREPLACE): a file created at the
    target while the job runs survives, the job fails in one line and leaves nothing behind."""
    path = tmp_path / name
    intruder = b"written by someone else meanwhile"

    def check():  # runs while the temp file is being written
        if not path.exists():
            path.write_bytes(intruder)

    with pytest.raises(SpexInputError, match="appeared while the job ran") as info:
        write_features(str(path), _features("x"), _utm_wkt(), layer_name="w", check_cancelled=check)
    assert "\n" not in str(info.value) and f"output {path} appeared" in str(info.value)
    assert _listing(tmp_path) == [(name, intruder)]


def test_shapefile_part_appearing_rolls_back_the_set(tmp_path):
    dbf = tmp_path / "w.dbf"

    def check():
        if not dbf.exists():
            dbf.write_bytes(b"someone's dbf")

    with pytest.raises(SpexInputError, match="appeared"):
        write_features(
            str(tmp_path / "w.shp"), _features("x"), _utm_wkt(), layer_name="w", check_cancelled=check
        )
    assert _listing(tmp_path) == [("w.dbf", b"someone's dbf")]


def test_concurrent_writers_to_one_target_one_wins(tmp_path):
    """Eight threads write the same new file without overwrite: exactly one succeeds, the file is whole."""
    import threading

    path = str(tmp_path / "race.gpkg")
    barrier = threading.Barrier(8)
    outcomes = []

    def job(i):
        def check():
            barrier.wait(timeout=30)  # all past check_destination before anyone publishes

        try:
            write_features(path, _features(f"writer {i}"), _utm_wkt(), layer_name="w", check_cancelled=check)
            outcomes.append(("ok", i))
        except SpexInputError as exc:
            outcomes.append(("refused", str(exc)))

    threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [o for o in outcomes if o[0] == "ok"]
    assert len(winners) == 1, outcomes
    assert all("appeared while the job ran" in o[1] for o in outcomes if o[0] == "refused")
    assert os.listdir(tmp_path) == ["race.gpkg"]
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    assert layer.GetFeatureCount() == 3
    assert {f.GetField("explain") for f in layer} == {f"writer {winners[0][1]}"}


def test_shapefile_overwrite_from_raster_without_crs_drops_old_prj(tmp_path):
    path = str(tmp_path / "w.shp")
    write_features(path, _features("with crs"), _utm_wkt(), layer_name="w")
    assert (tmp_path / "w.prj").exists()
    write_features(path, _features("no crs"), "", layer_name="w", overwrite=True)
    assert not (tmp_path / "w.prj").exists()
    ds = ogr.Open(path)
    assert ds.GetLayer(0).GetSpatialRef() is None


def test_geojson_without_crs_is_refused(tmp_path):
    with pytest.raises(SpexInputError, match="no CRS"):
        write_features(str(tmp_path / "w.geojson"), _features("x"), "", layer_name="w")
    assert os.listdir(tmp_path) == []


def test_stale_temps_of_dead_processes_are_cleaned(tmp_path):
    """A SIGKILLed run leaves hidden temps named with its pid; the next write in that folder removes them
    (and leaves those of a live process alone)."""
    from model_runtime.io import atomic

    dead, host = _dead_pid(), atomic.host_tag()
    (tmp_path / f".out.spex-tmp-{host}-{dead}-abc.gpkg").write_bytes(b"partial")
    (tmp_path / f".out.spex-tmp-{host}-{dead}-abc.gpkg-journal").write_bytes(b"journal")
    (tmp_path / f".spex-tmp-{host}-{dead}-xyz").mkdir()
    live = tmp_path / f".other.spex-tmp-{host}-{os.getpid()}-def.gpkg"
    live.write_bytes(b"in progress")
    other_host = tmp_path / f".other.spex-tmp-0badc0de-{dead}-def.gpkg"  # another machine's, same folder
    other_host.write_bytes(b"in progress elsewhere")
    write_features(str(tmp_path / "new.gpkg"), _features("x"), _utm_wkt(), layer_name="w")
    assert sorted(os.listdir(tmp_path)) == sorted(["new.gpkg", live.name, other_host.name])
    old = time.time() - 2 * atomic.STALE_AFTER_S
    os.utime(other_host, (old, old))
    assert atomic.clean_stale_temps(str(tmp_path)) == [str(other_host)]


def _dead_pid():
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("target", ["fifo", "device"])
def test_non_regular_target_is_refused_even_with_overwrite(tmp_path, target):
    if target == "fifo":
        path = tmp_path / "out.gpkg"
        os.mkfifo(path)
    else:
        import stat

        path = tmp_path / "null.geojson"
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null twin
        except OSError as exc:
            pytest.skip(f"cannot create a device node here ({exc.strerror})")
    with pytest.raises(SpexInputError, match="not a regular file"):
        write_features(str(path), _features("x"), _utm_wkt(), layer_name="w", overwrite=True)


# ------------------------------------------------------------------------------------------- full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KB tmpfs: room for a small GeoPackage, not a large output (needs root and mount, else skip)."""
    import shutil
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _big_features(n=800):
    """Features whose WKB alone is twice the 256 KB disk."""
    out = []
    for i in range(n):
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for k in range(40):
            angle = 2 * 3.14159 * k / 40
            ring.AddPoint_2D(500000 + 300 * i + 100 * np.cos(angle), 4000000 + 100 * np.sin(angle))
        ring.CloseRings()
        poly = ogr.Geometry(ogr.wkbPolygon)
        poly.AddGeometry(ring)
        out.append(Feature(poly.ExportToWkb(), {"class": "water", "explain": "x" * 50, "region_id": i}))
    return out


@pytest.mark.parametrize("name", ["keep.geojson", "keep.gpkg", "keep.shp"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_full_disk_keeps_the_old_file_and_says_so(small_disk, name, overwrite):
    path = small_disk / name
    target = str(path) if overwrite else str(small_disk / ("new" + os.path.splitext(name)[1]))
    write_features(str(path), _features("old", n=1), _utm_wkt(), layer_name="w")
    before = _listing(small_disk)
    with pytest.raises(SpexInputError) as info:
        write_features(target, _big_features(), _utm_wkt(), layer_name="w", overwrite=overwrite)
    message = str(info.value)
    assert "\n" not in message
    assert "not enough space in folder" in message and str(small_disk) in message and "needed" in message
    assert _listing(small_disk) == before  # the old output intact, no temp file left
