#!/usr/bin/env python3
"""A whole Sentinel-2-sized scene through the SPEX engine, end to end: tiles per second and peak GPU memory.

Writes (once) a synthetic 4-band uint16 GeoTIFF of ``--size`` x ``--size`` pixels (default 10980, one
Sentinel-2 L2A 10 m tile; blue/green/red/nir reflectance x 10000 with lakes, fields and bare ground, so
every tile gets a non-trivial SPIE prompt), then runs ``model_runtime.extract`` with ``--engine spex`` on
``--device`` and prints the wall time, the number of 512 x 512 tiles, tiles per second, seconds per tile,
the engine's per-stage timings and the peak GPU memory (``nvidia-smi`` polled every 0.2 s, so ONNX
Runtime's memory is counted too, plus torch's own peak).

    python bench/gpu_scene.py --model ~/.cache/spex-for-qgis/official-ref-ckpt --device cuda [--json F]

Goal on one H100/H200: <= 0.2 s per tile amortised. ``--size 1536 --device cpu`` checks the script quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_scene(path: str, size: int) -> None:
    """Deterministic synthetic S2-like scene (EPSG:32633, 10 m), written in strips (bounded memory)."""
    from osgeo import gdal, osr

    if os.path.isfile(path):
        return
    tmp = path + ".partial.tif"
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(
        tmp, size, size, 4, gdal.GDT_UInt16, ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER"]
    )
    ds.SetGeoTransform((300000.0, 10.0, 0.0, 5000040.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for i, name in enumerate(("blue", "green", "red", "nir"), start=1):
        ds.GetRasterBand(i).SetDescription(name)
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, size, (max(8, size // 400), 2))
    radii = rng.uniform(40, 400, len(centres))
    strip = 512
    xs = np.arange(size, dtype=np.float32)
    for y0 in range(0, size, strip):
        ys = np.arange(y0, min(size, y0 + strip), dtype=np.float32)[:, None]
        water = np.zeros((len(ys), size), bool)
        for (cx, cy), r in zip(centres, radii):
            water |= (xs[None, :] - cx) ** 2 + (ys - cy) ** 2 < r**2
        fields = ((xs[None, :] // 300 + ys // 300) % 3).astype(np.int8)  # vegetation / bare / built-up
        noise = rng.normal(0, 80, (4, len(ys), size))
        veg = np.array([400, 700, 500, 3500])[:, None, None]
        bare = np.array([1200, 1500, 1900, 2500])[:, None, None]
        built = np.array([1500, 1600, 1700, 1900])[:, None, None]
        wat = np.array([700, 900, 500, 200])[:, None, None]
        land = np.where(fields == 0, veg, np.where(fields == 1, bare, built))
        bands = np.where(water[None], wat, land) + noise
        for i in range(4):
            ds.GetRasterBand(i + 1).WriteArray(np.clip(bands[i], 1, 10000).astype(np.uint16), 0, y0)
    ds = None
    os.replace(tmp, path)


class GpuMemoryPeak:
    """Polls ``nvidia-smi`` for the used memory of GPU ``index`` in a thread; ``peak_mib`` when stopped."""

    def __init__(self, index: int = 0):
        self.index, self.peak_mib, self._stop = index, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        cmd = ["nvidia-smi", f"--id={self.index}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                used = int(subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0])
                self.peak_mib = max(self.peak_mib, used)
            except (OSError, ValueError, IndexError):
                return
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main(argv=None) -> int:
    """Command line; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="SPEX checkpoint folder (real size)")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--precision", default="auto", help="auto (bf16/fp16 on GPU) | fp32 | ...")
    ap.add_argument("--size", type=int, default=10980, help="scene side in pixels (default 10980)")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "out", "gpu_scene"))
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    os.makedirs(args.workdir, exist_ok=True)
    scene = os.path.join(args.workdir, f"s2_like_{args.size}.tif")
    t0 = time.perf_counter()
    write_scene(scene, args.size)
    print(f"scene {scene} ready in {time.perf_counter() - t0:.0f} s", flush=True)

    from model_runtime import ExtractRequest, extract
    from model_runtime.engines import spex_engine

    out = os.path.join(args.workdir, "water.gpkg")
    req = ExtractRequest(
        raster=scene,
        prompt="extract the water bodies",
        output=out,
        engine="spex",
        model_dir=args.model,
        device=args.device,
        precision=args.precision,
        overwrite=True,
    )
    t0 = time.perf_counter()
    spex_engine.load_model(args.model, args.device, precision=args.precision)
    load_s = time.perf_counter() - t0
    gpu = args.device.startswith("cuda")
    index = int(args.device.split(":")[1]) if ":" in args.device else 0
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
    with GpuMemoryPeak(index) if gpu else _Null() as peak:
        t0 = time.perf_counter()
        result = extract(req, progress=_progress())
        wall = time.perf_counter() - t0
    tiles = int(result.details.get("tiles", 0))
    figures = {
        "scene_px": args.size,
        "device": args.device,
        "runtime": result.details.get("runtime"),
        "model_load_s": round(load_s, 2),
        "wall_s": round(wall, 2),
        "tiles": tiles,
        "tiles_per_s": round(tiles / wall, 3) if wall else None,
        "s_per_tile": round(wall / tiles, 4) if tiles else None,
        "timings": result.details.get("seconds"),
        # model work only (read + SPIE + encoder + LLM and mask), without polygonising the whole scene
        "model_s_per_tile": _model_seconds(result.details.get("seconds") or {}, tiles),
        "features": result.features,
    }
    if gpu:
        import torch

        figures["peak_gpu_mib_nvidia_smi"] = peak.peak_mib
        figures["peak_torch_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)
    return 0


def _model_seconds(seconds: dict, tiles: int):
    work = sum(float(seconds.get(k, 0.0)) for k in ("read", "spie", "vision", "llm_and_mask"))
    return round(work / tiles, 4) if tiles else None


class _Null:
    peak_mib = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _progress():
    last = [0.0]

    def report(fraction, message):
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            print(f"  {fraction:5.0%} {message}", flush=True)

    return report


if __name__ == "__main__":
    sys.exit(main())
