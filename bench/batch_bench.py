"""Batch benchmark: ``model_runtime.batching`` on 1 and 2 local dask workers against a plain loop, in one run.

Writes N synthetic Sentinel-2-like water scenes (``tests/runtime/batch_scenes.py``; a temporary folder,
or ``--inputs`` to use your own rasters), then measures, one after the other on the same files (warm page
cache: one untimed read first):

  (a) a plain loop of ``model_runtime.extract()`` in this process: the single-machine baseline;
  (b) ``batch`` with 1 local worker process;
  (c) ``batch`` with 2 local worker processes.

For (b) and (c) the clock of the work runs from the plan to the last item (the cluster's start-up is shown
apart). Printed: items/s and km²/s of each, the 2-vs-1-worker throughput ratio, and the scheduling
overhead per item of dask against the plain loop: ((b) - (a)) / N, and (b)'s span minus the time the
workers spent inside ``extract()``, per item. On a machine shared with other jobs the ratio drops below
what 2 free cores give: the load average is printed with it.

    python bench/batch_bench.py                  # 8 scenes of 900 x 900 px
    python bench/batch_bench.py --items 16 --size 1200
    python bench/batch_bench.py --inputs 'tiles/*.tif'
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PROMPT = "extract the water bodies"


class _Clock:
    """BatchReporter that records when the plan is made and when the last item finishes."""

    def __init__(self):
        self.planned = self.cluster_up = self.last = None
        self.items = []

    def start(self, total, skipped, todo):  # noqa: D102 - BatchReporter
        self.planned = time.perf_counter()

    def cluster(self, workers, dashboard):  # noqa: D102 - BatchReporter
        self.cluster_up = time.perf_counter()

    def item(self, record):  # noqa: D102 - BatchReporter
        self.last = time.perf_counter()
        self.items.append(record)

    def message(self, text):  # noqa: D102 - BatchReporter
        pass


def _scenes(folder, count, size):
    from tests.runtime.batch_scenes import make_water_scene

    return [
        make_water_scene(
            os.path.join(folder, f"scene_{i:03d}.tif"), width=size, height=size, seed=i, block=256
        )
        for i in range(count)
    ]


def _area_km2(paths):
    from osgeo import gdal

    total = 0.0
    for path in paths:
        ds = gdal.Open(path)
        gt = ds.GetGeoTransform()
        total += abs(gt[1] * gt[5]) * ds.RasterXSize * ds.RasterYSize / 1e6
    return total


def _warm(paths):
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass


def _loop(paths, out):
    from model_runtime import ExtractRequest, extract

    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        extract(ExtractRequest(path, PROMPT, os.path.join(out, f"loop_{i}.gpkg"), overwrite=True))
    return time.perf_counter() - t0


def _batch(paths, out, workers):
    from model_runtime import BatchRequest, batch

    clock = _Clock()
    t0 = time.perf_counter()
    result = batch(BatchRequest(list(paths), PROMPT, out, workers=workers, dashboard=False), reporter=clock)
    total = time.perf_counter() - t0
    if result.counts["failed"]:
        raise SystemExit(f"{result.counts['failed']} items failed: see {result.manifest}")
    span = clock.last - clock.cluster_up  # cluster up -> last item: the work, without start-up
    inside = sum(r.seconds or 0.0 for r in clock.items)
    return {"total": total, "span": span, "startup": clock.cluster_up - t0, "inside": inside}


def main(argv=None):
    """Run the benchmark and print the figures (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=8, help="synthetic scenes (default 8)")
    parser.add_argument("--size", type=int, default=900, help="scene side in pixels (default 900)")
    parser.add_argument("--inputs", help="use these rasters (folder, glob or list) instead")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="spex-batch-bench-")
    try:
        if args.inputs:
            from model_runtime.batching.inputs import resolve_inputs

            paths = resolve_inputs(args.inputs)
        else:
            paths = _scenes(work, args.items, args.size)
        n, km2 = len(paths), _area_km2(paths)
        _warm(paths)
        loop = _loop(paths, work)
        one = _batch(paths, os.path.join(work, "w1"), 1)
        two = _batch(paths, os.path.join(work, "w2"), 2)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{n} items, {km2:.1f} km², {os.cpu_count()} CPUs, load average {load:.2f}")
        print(f"{'run':<22}{'seconds':>9}{'items/s':>10}{'km²/s':>9}{'start-up s':>12}")
        print(f"{'plain loop':<22}{loop:>9.2f}{n / loop:>10.2f}{km2 / loop:>9.2f}{'-':>12}")
        for name, run in (("batch, 1 worker", one), ("batch, 2 workers", two)):
            print(
                f"{name:<22}{run['span']:>9.2f}{n / run['span']:>10.2f}{km2 / run['span']:>9.2f}"
                f"{run['startup']:>12.2f}"
            )
        print(f"throughput ratio 2 vs 1 worker: {one['span'] / two['span']:.2f}x")
        print(
            f"scheduling overhead per item vs the plain loop: {(one['span'] - loop) / n * 1000:.0f} ms "
            f"(1 worker span minus loop); {(one['span'] - one['inside']) / n * 1000:.0f} ms outside "
            "extract() on the worker"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
