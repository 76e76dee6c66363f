"""Spectral-engine benchmark: full ``extract()`` vs a plain GDAL read of the same bands.

Generates ONCE (cached under ``data/bench/``) a Sentinel-2-like scene: 6 bands B02 B03 B04 B08 B11 B12,
uint16 reflectance x 10000, tiled 512 x 512, DEFLATE, UTM 33N 10 m, a no-data corner (orbit edge) and
procedural land cover (lakes, a meandering river, vegetation, built-up patches, bare soil, sensor noise).

Then measures in one run, each in a fresh child process (so the peak RSS is the job's own):
  (a) a plain GDAL read of the bands the water rule needs: windowed, in the same window order as the
      engine (``RasterSource.iter_windows``), ``ReadAsArray`` per band;
  (b) the whole ``extract()``: read, indices, mask, cleanup, polygons, SPIE, GeoPackage.
Fair ordering without dropping caches: one untimed read first warms the page cache, then (a) and (b) are
both measured warm; module imports (GDAL for (a), the runtime for (b)) happen before either clock starts.
Targets: (b)/(a) <= 1.3 and peak RSS of (b) < 1 GB.

    python bench/spectral_bench.py              # 10980 x 10980 (a full Sentinel-2 tile)
    python bench/spectral_bench.py --size 2048  # quick run
    python bench/spectral_bench.py --repeat 3   # medians of 3 alternating runs (what to report)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
# reflectance of each cover type per band (blue, green, red, nir, swir1, swir2)
SIGNATURES = {
    "water": (0.060, 0.050, 0.030, 0.020, 0.010, 0.006),
    "vegetation": (0.030, 0.070, 0.040, 0.340, 0.180, 0.090),
    "built": (0.120, 0.130, 0.140, 0.200, 0.240, 0.210),
    "bare": (0.100, 0.130, 0.170, 0.250, 0.320, 0.270),
}
PIXEL = 10.0
ORIGIN = (399960.0, 5000040.0)  # the corner of a real Sentinel-2 tile (33TWN-like)


# ------------------------------------------------------------------------------------------- scene


class _SmoothField:
    """Sum of random plane waves (wavelengths in metres), evaluated separably per strip."""

    def __init__(self, rng: np.random.Generator, n: int, wl_min: float, wl_max: float):
        angle = rng.uniform(0, np.pi, n)
        k = 2 * np.pi / rng.uniform(wl_min, wl_max, n)
        self.kx, self.ky = k * np.cos(angle), k * np.sin(angle)
        self.phase = rng.uniform(0, 2 * np.pi, n)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # cos(kx x + ky y + p) = cos(kx x) cos(ky y + p) - sin(kx x) sin(ky y + p): outer products only
        out = np.zeros((y.size, x.size), np.float32)
        for kx, ky, p in zip(self.kx, self.ky, self.phase):
            ax, ay = (kx * x).astype(np.float32), (ky * y + p).astype(np.float32)
            out += np.outer(np.cos(ay), np.cos(ax)) - np.outer(np.sin(ay), np.sin(ax))
        return out / np.sqrt(len(self.kx) / 2.0)


def generate_scene(path: str, size: int, seed: int = 7) -> None:
    """Write the synthetic scene to ``path`` (atomically: temp name, then rename)."""
    from osgeo import gdal, osr

    gdal.UseExceptions()
    gdal.SetCacheMax(256 * 1024 * 1024)  # one 512-row strip of tiles is ~70 MB: no need for more
    rng = np.random.default_rng(seed)
    lakes = _SmoothField(rng, 10, 1500.0, 9000.0)
    lake_detail = _SmoothField(rng, 8, 200.0, 900.0)
    vegetation = _SmoothField(rng, 10, 800.0, 6000.0)
    built = _SmoothField(rng, 8, 300.0, 2500.0)
    signatures = np.array([SIGNATURES[k] for k in ("water", "vegetation", "built", "bare")], np.float32)

    tmp = path + ".tmp.tif"
    ds = gdal.GetDriverByName("GTiff").Create(
        tmp,
        size,
        size,
        len(BANDS),
        gdal.GDT_UInt16,
        [
            "TILED=YES",
            "BLOCKXSIZE=512",
            "BLOCKYSIZE=512",
            "COMPRESS=DEFLATE",
            "PREDICTOR=2",
            "NUM_THREADS=2",
            "BIGTIFF=IF_SAFER",
        ],
    )
    ds.SetGeoTransform((ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.SetMetadataItem("SPACECRAFT_NAME", "Sentinel-2A")
    ds.SetMetadataItem("PROCESSING_LEVEL", "Level-2A")
    ds.SetMetadataItem("BENCH_SCENE", f"synthetic seed={seed} size={size}")
    for i, name in enumerate(BANDS, start=1):
        band = ds.GetRasterBand(i)
        band.SetDescription(name)
        band.SetNoDataValue(0)
        band.SetScale(0.0001)
        band.SetOffset(0.0)

    x = np.arange(size, dtype=np.float64) * PIXEL
    river_x = np.arange(size, dtype=np.float64)
    river_y = size * (0.55 + 0.12 * np.sin(river_x / size * 5.0) + 0.04 * np.sin(river_x / size * 23.0))
    for top in range(0, size, 512):
        rows = min(512, size - top)
        y = np.arange(top, top + rows, dtype=np.float64) * PIXEL
        yy = np.arange(top, top + rows, dtype=np.float64)[:, None]
        water = lakes(x, y) + 0.25 * lake_detail(x, y)
        w = np.clip((water - 1.45) / 0.15, 0, 1)  # ~5 % lakes with soft shores
        river_half_width = 6.0 + 4.0 * np.sin(river_x / 700.0)  # 100-200 m wide
        w = np.maximum(
            w, np.clip(1.5 - np.abs(yy - river_y[None, :]) / river_half_width[None, :] * 1.5, 0, 1)
        )
        v = np.clip((vegetation(x, y) + 0.3) / 0.6, 0, 1) * (1 - w)
        b = np.clip((built(x, y) - 1.0) / 0.3, 0, 1) * (1 - w) * (1 - v)
        s = np.clip(1 - w - v - b, 0, 1)
        weights = np.stack([w, v, b, s])  # [4, rows, size]
        noise = rng.normal(0.0, 1.0, (len(BANDS), rows, size)).astype(np.float32)
        edge = (np.arange(size)[None, :] + yy) > 1.8 * size  # orbit-edge no-data triangle
        for i in range(len(BANDS)):
            refl = np.tensordot(signatures[:, i], weights, axes=1)
            refl = refl * (1 + 0.04 * noise[i]) + 0.004 * noise[(i + 1) % len(BANDS)]
            dn = np.clip(np.rint(refl * 10000.0), 1, 65535).astype(np.uint16)
            dn[edge] = 0
            ds.GetRasterBand(i + 1).WriteArray(dn, 0, top)
    ds.FlushCache()
    ds = None
    os.replace(tmp, path)


def scene_path(size: int, folder: str) -> str:
    """Cached scene path for ``size`` (generated on first use)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"s2_like_{size}.tif")
    if not os.path.exists(path):
        print(
            f"generating {path} ({size} x {size} x {len(BANDS)} bands, once) ...", file=sys.stderr, flush=True
        )
        started = time.perf_counter()
        generate_scene(path, size)
        print(
            f"  generated in {time.perf_counter() - started:.0f} s, {os.path.getsize(path) / 1e6:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    return path


# ------------------------------------------------------------------------------------------- children


def _water_roles(source) -> list:
    from model_runtime.spectral.thresholds import select_variant

    variant, _notes = select_variant("water", source.roles)
    return list(variant.roles)


def child_read(path: str) -> dict:
    """(a): plain GDAL reads of the water rule's bands, same windows as the engine."""
    from osgeo import gdal

    from model_runtime.io.raster import RasterSource

    gdal.UseExceptions()
    with RasterSource.open(path) as source:
        roles = _water_roles(source)
        indices = [source.roles[r] for r in roles]
        full = _full_window(source)
        windows = list(source.iter_windows(full))
    started = time.perf_counter()
    ds = gdal.Open(path)
    bands = [ds.GetRasterBand(i) for i in indices]
    pixels = 0
    for w in windows:
        for band in bands:
            arr = band.ReadAsArray(w.xoff, w.yoff, w.xsize, w.ysize)
            pixels += arr.size
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "roles": roles,
        "windows": len(windows),
        "pixels": pixels,
        "maxrss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries the parent's high-water mark over
    fork + exec, so a child of the (large) scene generator would report the generator's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover - not Linux


def _full_window(source):
    from model_runtime.io.raster import Window

    return Window(0, 0, source.width, source.height)


def _import_runtime() -> None:
    """Import the modules extract() loads lazily, before the clock starts: (a) imports GDAL untimed too, and
    in QGIS they are loaded once per session, not per job."""
    import importlib

    for name in ("pipeline", "prompts", "vector.writers", "io.raster", "io.aoi", "vector.vectorize",
                 "spectral.spie", "spectral.explain", "engines.spectral"):  # fmt: skip
        importlib.import_module(f"model_runtime.{name}")


def child_extract(path: str, output: str) -> dict:
    """(b): the whole extraction to a GeoPackage."""
    from model_runtime import ExtractRequest, extract

    _import_runtime()
    marks = []

    def progress(fraction, message):
        if not marks or marks[-1][1] != message:
            marks.append((time.perf_counter(), message))

    started = time.perf_counter()
    result = extract(
        ExtractRequest(path, "extract the water bodies", output=output, overwrite=True), progress=progress
    )
    seconds = time.perf_counter() - started
    ends = [t for t, _ in marks[1:]] + [started + seconds]
    stages = [(message, end - t) for (t, message), end in zip(marks, ends) if end - t >= 0.05]
    return {
        "seconds": seconds,
        "stages": stages,
        "features": result.features,
        "area_km2": result.area_m2 / 1e6,
        "details": {k: result.details.get(k) for k in ("mask", "polygons", "variant", "indices")},
        "maxrss_mb": _peak_rss_mb(),
    }


def _run_child(*args: str, env_extra: dict = None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {args[0]} failed with status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median_run(runs: list) -> dict:
    """The run with the median time (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


# ------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    """Run the benchmark (or one child measurement with --child)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", type=int, default=10980, help="scene width = height in pixels (default 10980)"
    )
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "bench"), help="cache folder")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of (a) and (b), alternating; medians reported"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, rest = args.child[0], args.child[1:]
        out = child_read(*rest) if kind == "read" else child_extract(*rest)
        print(json.dumps(out))
        return 0

    path = scene_path(args.size, args.data)
    reads, mt_reads, extracts = [], [], []
    with tempfile.TemporaryDirectory(prefix="spex-bench-") as tmp:
        output = os.path.join(tmp, "water.gpkg")
        _run_child("read", path)  # warm the page cache (untimed)
        for _ in range(max(1, args.repeat)):
            reads.append(_run_child("read", path))
            # extract() decodes blocks with GDAL_NUM_THREADS=ALL_CPUS: also compare with a read that does too
            mt_reads.append(_run_child("read", path, env_extra={"GDAL_NUM_THREADS": "ALL_CPUS"}))
            extracts.append(_run_child("extract", path, output))
    read = _median_run(reads)
    mt_read = _median_run(mt_reads)
    ext = _median_run(extracts)
    ratios = sorted(e["seconds"] / r["seconds"] for r, e in zip(reads, extracts))
    ratio = ext["seconds"] / read["seconds"]
    runs = f"median of {len(reads)} runs, " if len(reads) > 1 else ""
    print(
        f"scene       {path} ({args.size} x {args.size}, {os.path.getsize(path) / 1e6:.0f} MB, "
        f"{runs}warm cache)"
    )
    print(
        f"(a) read    {read['seconds']:7.2f} s  bands {','.join(read['roles'])}, {read['windows']} windows, "
        f"peak RSS {read['maxrss_mb']:.0f} MB"
    )
    print(f"(a') read, GDAL_NUM_THREADS=ALL_CPUS {mt_read['seconds']:7.2f} s")
    print(
        f"(b) extract {ext['seconds']:7.2f} s  {ext['features']} polygons, {ext['area_km2']:.2f} km2, "
        f"peak RSS {max(e['maxrss_mb'] for e in extracts):.0f} MB (max)"
    )
    print(
        f"ratio (b)/(a) {ratio:.2f} (target <= 1.3; per run {', '.join(f'{r:.2f}' for r in ratios)}), "
        f"peak RSS of (b) {max(e['maxrss_mb'] for e in extracts):.0f} MB (< 1024)"
    )
    print(
        f"ratio (b)/(a') {ext['seconds'] / mt_read['seconds']:.2f} "
        "(against a read that also decodes blocks in GDAL's threads)"
    )
    print("stages of (b): " + ", ".join(f"{name} {sec:.1f} s" for name, sec in ext["stages"]))
    print(
        json.dumps(
            {
                "size": args.size,
                "runs": len(reads),
                "read_s": round(read["seconds"], 3),
                "extract_s": round(ext["seconds"], 3),
                "ratio": round(ratio, 3),
                "read_mt_s": round(mt_read["seconds"], 3),
                "ratio_vs_mt_read": round(ext["seconds"] / mt_read["seconds"], 3),
                "read_s_all": [round(r["seconds"], 3) for r in reads],
                "extract_s_all": [round(e["seconds"], 3) for e in extracts],
                "extract_maxrss_mb": round(max(e["maxrss_mb"] for e in extracts), 1),
                "features": ext["features"],
                "details": ext["details"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
