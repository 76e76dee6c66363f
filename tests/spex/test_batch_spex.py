"""The spex engine in a batch: the worker plugin loads the model once per worker, never once per item
(tiny random checkpoint, real ONNX Runtime, an in-process dask worker so the loads can be counted)."""

import time

import pytest

pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from model_runtime import BatchRequest, batch  # noqa: E402
from model_runtime.engines import spex_engine  # noqa: E402
from model_runtime.spex.loading import pretrained  # noqa: E402
from tests.runtime.batch_scenes import make_water_scene  # noqa: E402


def test_one_model_load_per_worker(model_copy, tmp_path, monkeypatch):
    loads = []
    original = pretrained.SpexModel.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        loads.append(time.time())
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(pretrained.SpexModel, "from_pretrained", classmethod(counting))
    spex_engine.clear_cache()
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i in range(3):
        make_water_scene(folder / f"t{i}.tif", width=120, height=100, seed=i)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    try:
        request = BatchRequest(
            str(folder),
            "extract the water bodies",
            str(tmp_path / "out"),
            engine="spex",
            model_dir=model_copy,
            device="cpu",
            max_new_tokens=4,
        )
        result = batch(request, client=client)
    finally:
        client.close()
        cluster.close()
        spex_engine.clear_cache()
    assert result.counts["done"] == 3, result.items
    assert len(loads) == 1  # one load for the 3 items ...
    first_item = min(item["started"] for item in result.items)
    assert loads[0] < first_item  # ... made by the worker plugin before any item ran, not by an item
