"""model_runtime.batch on one in-process dask LocalCluster (threads, no cluster needed): per-item outputs
equal single runs, one merged layer with ``source``, resume from the manifest, bad inputs isolated, and a
chunked raster equal to a single run on the whole raster."""

from __future__ import annotations

import json
import os
import time

import pytest
from osgeo import ogr

from model_runtime import BatchRequest, ExtractRequest, SpexInputError, batch, extract
from model_runtime.batching.inputs import output_names, plan_chunks, resolve_inputs
from model_runtime.batching.manifest import Manifest
from tests.runtime.batch_scenes import make_water_scene

ogr.UseExceptions()
PROMPT = "extract the water bodies"
FIELDS = ("class", "prompt", "engine", "area_m2", "region_id", "size", "location", "centroid_x", "centroid_y")


@pytest.fixture(scope="module")
def client():
    """One in-process LocalCluster for the module (threads: starts in about a second)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """A folder of three water scenes and one file that is not a raster."""
    folder = tmp_path_factory.mktemp("scenes")
    paths = [make_water_scene(folder / f"scene_{i}.tif", seed=i) for i in range(3)]
    (folder / "broken.tif").write_bytes(b"not a GeoTIFF")
    return folder, paths


def features_of(path, layer=0):
    """(fields dict, geometry) per feature of ``path``'s layer."""
    ds = ogr.Open(str(path))
    out = []
    for feature in ds.GetLayer(layer):
        values = {name: feature.GetField(name) for name in FIELDS}
        out.append((values, feature.GetGeometryRef().Clone()))
    return out


def assert_same_features(expected, actual):
    """Same features in the same order: equal fields (floats to 1e-6) and identical point sets."""
    assert len(actual) == len(expected)
    for (want, want_geom), (got, got_geom) in zip(expected, actual):
        for name in FIELDS:
            if isinstance(want[name], float):
                assert got[name] == pytest.approx(want[name], abs=1e-6), name
            else:
                assert got[name] == want[name], name
        assert want_geom.SymDifference(got_geom).GetArea() == 0.0


def test_folder_batch_equals_single_runs_and_merges(client, scenes, tmp_path):
    folder, paths = scenes
    out = tmp_path / "out"
    result = batch(BatchRequest(str(folder), PROMPT, str(out), min_area_m2=100.0), client=client)

    assert result.counts == {"total": 4, "done": 3, "skipped": 0, "failed": 1}
    broken = next(i for i in result.items if i["item_id"] == "broken")
    assert broken["status"] == "failed" and "\n" not in broken["error"] and "broken.tif" in broken["error"]
    total = 0
    for path in paths:
        single = extract(
            ExtractRequest(path, PROMPT, str(tmp_path / "single.gpkg"), min_area_m2=100.0, overwrite=True)
        )
        item = out / (os.path.splitext(os.path.basename(path))[0] + ".gpkg")
        assert_same_features(features_of(single.output), features_of(item))
        total += single.features
    assert total > 30

    merged = ogr.Open(result.merged_output)
    layer = merged.GetLayer(0)
    assert layer.GetFeatureCount() == total == result.merged_features
    sources = {f.GetField("source") for f in layer}
    assert sources == {os.path.abspath(p) for p in paths}
    manifest = json.loads((out / "spex-batch.json").read_text())
    assert manifest["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 1}
    record = manifest["items"]["scene_0"]
    assert record["input_hash"].startswith("sha256:") and record["seconds"] > 0 and record["attempts"] == 1


def test_rerun_skips_finished_and_retries_failed(client, scenes, tmp_path):
    folder, paths = scenes
    out = tmp_path / "out"
    batch(BatchRequest(str(folder), PROMPT, str(out)), client=client)
    stamps = {
        p: os.stat(out / (os.path.splitext(os.path.basename(p))[0] + ".gpkg")).st_mtime_ns for p in paths
    }

    again = batch(BatchRequest(str(folder), PROMPT, str(out)), client=client)
    assert again.counts == {"total": 4, "done": 0, "skipped": 3, "failed": 1}
    for path, stamp in stamps.items():  # finished outputs were not rewritten
        assert os.stat(out / (os.path.splitext(os.path.basename(path))[0] + ".gpkg")).st_mtime_ns == stamp
    broken = next(i for i in again.items if i["item_id"] == "broken")
    assert broken["attempts"] == 2  # the failed item was tried again

    # other parameters: every item runs again (and replaces the outputs this batch wrote)
    changed = batch(BatchRequest(str(folder), PROMPT, str(out), min_area_m2=500.0), client=client)
    assert changed.counts["done"] == 3 and changed.counts["skipped"] == 0

    # an edited input runs again, the others are skipped
    make_water_scene(paths[0], seed=42)
    edited = batch(BatchRequest(str(folder), PROMPT, str(out), min_area_m2=500.0), client=client)
    assert edited.counts == {"total": 4, "done": 1, "skipped": 2, "failed": 1}
    make_water_scene(paths[0], seed=0)


def test_existing_output_is_not_replaced_without_overwrite(client, scenes, tmp_path):
    folder, _paths = scenes
    out = tmp_path / "out"
    out.mkdir()
    (out / "scene_1.gpkg").write_bytes(b"someone else's file")
    result = batch(BatchRequest(str(folder), PROMPT, str(out)), client=client)
    item = next(i for i in result.items if i["item_id"] == "scene_1")
    assert item["status"] == "failed" and "--overwrite" in item["error"]
    assert (out / "scene_1.gpkg").read_bytes() == b"someone else's file"
    assert result.counts["done"] == 2

    (tmp_path / "taken.gpkg").write_bytes(b"x")
    with pytest.raises(SpexInputError, match="already exists"):
        batch(
            BatchRequest(str(folder), PROMPT, str(out), merged_output=str(tmp_path / "taken.gpkg")),
            client=client,
        )


@pytest.mark.parametrize("min_area", [0.0, 3000.0])
def test_chunked_raster_equals_single_run(client, tmp_path, min_area):
    raster = make_water_scene(tmp_path / "mosaic.tif", width=520, height=450, seed=7, block=32)
    single = extract(ExtractRequest(raster, PROMPT, str(tmp_path / "single.gpkg"), min_area_m2=min_area))
    result = batch(
        BatchRequest(raster, PROMPT, str(tmp_path / "out"), chunk_size=120, min_area_m2=min_area),
        client=client,
    )
    assert result.counts["failed"] == 0 and result.counts["done"] == 20  # 5 x 4 chunks of 128 px
    mosaic = result.mosaics[0]
    assert mosaic["status"] == "done" and mosaic["details"]["pieces_joined"] > 20  # borders were crossed
    assert single.features > 40
    assert_same_features(features_of(single.output), features_of(mosaic["output"]))
    assert result.merged_features == single.features


def test_chunk_grid_follows_blocks_and_cleanup(tmp_path):
    raster = make_water_scene(tmp_path / "grid.tif", width=300, height=200, block=64, pixel=0.5)
    grid = plan_chunks(raster, 100)
    assert grid.chunk_size == (128, 128)  # whole blocks
    assert grid.overlap == 400  # 100 m2 of 0.5 m pixels: the sieve's context
    cores = sorted(c.core for c in grid.chunks)
    assert sum(c[2] * c[3] for c in cores) == 300 * 200
    assert all(c.window[0] == 0 and c.window[2] == 300 for c in grid.chunks)  # overlap clipped to raster


def test_chunking_refuses_what_would_not_match(client, tmp_path):
    raster = make_water_scene(tmp_path / "r.tif", width=100, height=100)
    with pytest.raises(SpexInputError, match="Otsu"):
        batch(
            BatchRequest(raster, PROMPT, str(tmp_path / "o"), chunk_size=64, threshold_method="otsu"),
            client=client,
        )


def test_inputs_from_folder_glob_and_list(tmp_path):
    a = make_water_scene(tmp_path / "a.tif", width=40, height=40)
    sub = tmp_path / "sub"
    sub.mkdir()
    b = make_water_scene(sub / "a.tif", width=40, height=40)
    (tmp_path / "notes.md").write_text("x")
    assert resolve_inputs(str(tmp_path)) == [a]
    assert resolve_inputs(str(tmp_path), recursive=True) == [a, b]
    assert resolve_inputs(str(tmp_path / "**" / "*.tif"), recursive=True) == [a, b]
    listing = tmp_path / "list.csv"
    listing.write_text("path,comment\n# skipped\na.tif,first\nsub/a.tif,second\n")
    assert resolve_inputs(str(listing)) == [a, b]
    names = output_names([a, b])
    assert len(set(names.values())) == 2 and all(n.startswith("a_") for n in names.values())
    with pytest.raises(SpexInputError, match="no raster found"):
        resolve_inputs(str(tmp_path / "empty*.tif"))


def test_unreadable_manifest_is_one_line_error(tmp_path):
    path = tmp_path / "spex-batch.json"
    path.write_text("{ torn")
    with pytest.raises(SpexInputError, match="move it away"):
        Manifest.load(str(path))


def test_merged_layer_reprojects_items_in_other_crs(client, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_water_scene(folder / "a_utm32.tif", width=120, height=100, seed=3, epsg=32632)
    make_water_scene(
        folder / "b_utm33.tif", width=120, height=100, seed=4, epsg=32633, origin=(300000.0, 5000000.0)
    )
    result = batch(BatchRequest(str(folder), PROMPT, str(tmp_path / "out")), client=client)
    assert result.counts["done"] == 2
    merged = ogr.Open(result.merged_output)
    layer = merged.GetLayer(0)
    epsg = layer.GetSpatialRef().GetAuthorityCode(None)
    moved = []
    for feature in layer:
        if feature.GetField("source").endswith("b_utm33.tif"):
            centroid = feature.GetGeometryRef().Centroid()
            moved.append(
                (
                    feature.GetField("centroid_x"),
                    feature.GetField("centroid_y"),
                    centroid.GetX(),
                    centroid.GetY(),
                )
            )
    feature = layer = merged = None  # OGR objects must not outlive their dataset
    assert epsg == "32632"
    assert moved
    for cx, cy, x, y in moved:
        assert (cx, cy) == pytest.approx((x, y), abs=1e-6)  # the centroid fields follow the new CRS
        assert 700000 < x < 800000  # UTM 33N coordinates moved into zone 32N


def test_several_prompts_give_one_output_each(client, tmp_path):
    raster = make_water_scene(tmp_path / "scene.tif", width=120, height=100, seed=5)
    prompts = [PROMPT, "extract the vegetation"]
    result = batch(BatchRequest(raster, prompts, str(tmp_path / "out")), client=client)
    assert result.counts["done"] == 2
    outputs = sorted(os.path.basename(i["output"]) for i in result.items)
    assert outputs == ["scene.1_water.gpkg", "scene.2_vegetation.gpkg"]
    merged = ogr.Open(result.merged_output)
    classes = {f.GetField("class") for f in merged.GetLayer(0)}
    merged = None
    assert classes == {"water", "vegetation"}


def test_cancel_keeps_finished_items_and_resumes(client, tmp_path):
    from model_runtime import ExtractionCancelled
    from model_runtime.batching.runner import BatchReporter

    folder = tmp_path / "tiles"
    folder.mkdir()
    for i in range(5):
        make_water_scene(folder / f"t{i}.tif", width=700, height=700, seed=i, block=128)

    class CancelAfterFirst(BatchReporter):
        done = 0

        def item(self, record):
            self.done += record.status == "done"

    reporter = CancelAfterFirst()
    out = tmp_path / "out"
    with pytest.raises(ExtractionCancelled):
        batch(
            BatchRequest(str(folder), PROMPT, str(out)),
            reporter=reporter,
            is_cancelled=lambda: reporter.done >= 1,
            client=client,
        )
    state = json.loads((out / "spex-batch.json").read_text())  # saved, valid
    done = [r for r in state["items"].values() if r["status"] == "done"]
    assert 1 <= len(done) < 5 and all(os.path.exists(r["output"]) for r in done)
    time.sleep(4)  # items running on the (thread) worker stop at their next window: only an item that was
    # already writing its file when the cancel came may still finish (then it is redone on resume)
    recorded = {os.path.basename(r["output"]) for r in done}
    late = {n for n in os.listdir(out) if n.endswith(".gpkg")} - recorded
    assert len(late) <= 2  # the worker's two threads
    assert not [n for n in os.listdir(out) if ".spex-tmp-" in n]

    again = batch(BatchRequest(str(folder), PROMPT, str(out)), client=client)
    assert again.counts == {"total": 5, "done": 5 - len(done), "skipped": len(done), "failed": 0}
