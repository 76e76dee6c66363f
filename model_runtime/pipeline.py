"""The extraction job: raster + prompt in, explained polygons out.

``extract()`` validates everything it can before reading a pixel (engine, prompt, output path, overwrite),
then runs: open raster -> resolve AOI -> engine mask -> polygonize -> SPIE attributes -> explanation ->
atomic write. All intermediate files live in a private temp folder that is removed afterwards, also on error
or cancel, and the destination is only touched by the final rename.

Without ``request.output`` the result goes to ``<temp>/spex-out-*/<class>.gpkg``: that file and its folder
belong to the caller (the QGIS task, a script), who deletes them; ``extract()`` removes them itself only when
it fails or is cancelled.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

import numpy as np

from .engines import get_engine
from .engines.base import EngineJob
from .errors import ExtractionCancelled, SpexInputError
from .io.atomic import make_job_dir
from .io.mask_raster import MASK_BACKGROUND, MASK_NODATA, MASK_TARGET
from .options import DEFAULT_MAX_PIXELS, THRESHOLD_METHODS
from .request import ENGINES, CancelCallback, ExtractRequest, ExtractResult, ProgressCallback

# share of the whole job given to each stage (progress fractions)
_STAGES = {
    "open": (0.0, 0.03),
    "engine": (0.03, 0.80),
    "polygons": (0.80, 0.93),
    "explain": (0.93, 0.96),
    "write": (0.96, 1.0),
}
#: GDAL block cache while a job runs: every raster block is read once, so GDAL's default cache (5 % of the
#: RAM) only holds dead blocks; 256 MB keeps the peak memory of a Sentinel-2 tile job well under 1 GB.
JOB_GDAL_CACHE_BYTES = 256 * 1024 * 1024
_cache_lock = threading.Lock()
_cache_state = {"users": 0, "saved": None, "threads_set": False}
#: regions that get the full SPIE dict with the rotated bounding box (largest first); see region_dicts()
FULL_SPIE_REGIONS = 200


class ProgressTracker:
    """Maps stage-local fractions onto the whole job, monotonic, and polls for cancellation."""

    def __init__(self, progress: ProgressCallback | None, is_cancelled: CancelCallback | None):
        self._progress = progress
        self._is_cancelled = is_cancelled
        self._last = 0.0

    def check(self) -> None:
        """Raise ExtractionCancelled once the caller asked to stop."""
        if self._is_cancelled is not None and self._is_cancelled():
            raise ExtractionCancelled("extraction cancelled")

    def report(self, fraction: float, message: str) -> None:
        """Report a fraction of the whole job (never goes backwards)."""
        fraction = min(1.0, max(self._last, float(fraction)))
        self._last = fraction
        if self._progress is not None:
            self._progress(fraction, message)

    def stage(self, name: str) -> Callable[[float, str], None]:
        """A progress callback for one stage taking fractions of that stage."""
        start, end = _STAGES[name]

        def callback(fraction: float, message: str) -> None:
            if not math.isfinite(fraction):
                fraction = 0.0
            self.report(start + (end - start) * min(1.0, max(0.0, fraction)), message)
            self.check()

        return callback


def validate_request(request: ExtractRequest) -> None:
    """Reject a bad request before any work (one-line SpexInputError each)."""
    if request.engine not in ENGINES:
        raise SpexInputError(f"unknown engine {request.engine!r}: use one of {', '.join(ENGINES)}")
    if not request.raster or not str(request.raster).strip():
        raise SpexInputError("no raster given: pass the path of a multispectral GeoTIFF (or any GDAL raster)")
    if request.threshold_method not in THRESHOLD_METHODS:
        raise SpexInputError(
            f"unknown threshold method {request.threshold_method!r}: "
            f"use one of {', '.join(THRESHOLD_METHODS)}"
        )
    if request.threshold is not None and not math.isfinite(float(request.threshold)):
        raise SpexInputError(f"invalid threshold {request.threshold!r}: give a finite number such as 0.1")
    if not math.isfinite(float(request.min_area_m2)) or request.min_area_m2 < 0:
        raise SpexInputError(f"invalid minimum area {request.min_area_m2!r}: use 0 or a positive area in m2")
    if not math.isfinite(float(request.simplify)) or request.simplify < 0:
        raise SpexInputError(
            f"invalid simplify tolerance {request.simplify!r}: use 0 or a positive map distance"
        )
    from .io.gdal_paths import check_dataset_path

    check_dataset_path(request.raster, "raster", allow_network=bool(getattr(request, "allow_network", False)))
    max_pixels = getattr(request, "max_pixels", None)
    if max_pixels is not None and (not isinstance(max_pixels, int) or max_pixels < 0):
        raise SpexInputError(f"invalid pixel limit {max_pixels!r}: give 0 (no limit) or a positive number")
    # folders (SAFE, per-band product folders) are checked when opened: raster.open_gdal_raster


def extract(
    request: ExtractRequest,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCallback | None = None,
) -> ExtractResult:
    """Run one extraction and write its polygons; see the module docstring for the stages.

    ``progress(fraction, message)`` receives fractions of the whole job; ``is_cancelled()`` is polled between
    windows/tiles and stages, and a True answer raises :class:`ExtractionCancelled` with nothing left behind.
    Raises :class:`SpexInputError` (one line: problem and fix) for every user error.
    """
    from .prompts import parse_prompt
    from .vector.writers import check_destination, layer_name_from_prompt

    started = time.perf_counter()
    tracker = ProgressTracker(progress, is_cancelled)
    validate_request(request)
    target = parse_prompt(request.prompt, request.language)
    layer_name = layer_name_from_prompt(target.phrase, default=target.target_class)
    output, temp_output_dir = request.output, None
    if output:
        output = os.path.abspath(os.path.expanduser(output))
        if (
            os.path.exists(output)
            and os.path.exists(request.raster)
            and os.path.samefile(output, request.raster)
        ):
            raise SpexInputError(f"output {output} is the input raster: choose another output file")
        check_destination(output, request.overwrite)
    engine = get_engine(request.engine)
    tracker.check()

    workdir = make_job_dir()
    try:
        if not output:
            temp_output_dir = tempfile.mkdtemp(prefix="spex-out-")
            output = os.path.join(temp_output_dir, f"{target.target_class}.gpkg")
        with gdal_job_settings():
            result = _run(request, engine, target, layer_name, output, workdir, tracker)
    except BaseException as exc:
        if temp_output_dir:
            shutil.rmtree(temp_output_dir, ignore_errors=True)
        full = _work_folder_full(workdir, exc)
        if full is not None:
            raise full from None
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = round(time.perf_counter() - started, 3)
    tracker.report(1.0, "done")
    return result


@contextmanager
def open_region(request: ExtractRequest):
    """``(source, region)`` of a request: the raster opened with its sensor, bands, scaling and network
    permission, the area of interest resolved and held to the pixel-count guard (extract and preview)."""
    from .io.aoi import resolve_aoi
    from .io.raster import RasterSource

    with RasterSource.open(
        request.raster,
        sensor=request.sensor,
        bands=dict(request.bands or {}) or None,
        scaling=request.scaling,
        allow_network=bool(getattr(request, "allow_network", False)),
    ) as source:
        region = resolve_aoi(request.aoi, source)
        _check_size(region.window, getattr(request, "max_pixels", None), bool(request.aoi))
        yield source, region


@dataclass
class _Described:
    """What one run found before anything is written: the engine's mask, its polygons and their texts."""

    output_mask: Any  # EngineOutput
    counts: Dict[str, int]
    polygons: Any  # vectorize.PolygonizeResult
    regions: List[Dict[str, Any]]
    explanation: str
    per_feature: List[Dict[str, Any]] | None
    source_info: Dict[str, Any]


def _run(request, engine, target, layer_name, output, workdir, tracker: ProgressTracker) -> ExtractResult:
    from .vector.writers import write_features

    found = _find_and_describe(request, engine, target, output, workdir, tracker)
    features = _features(found, target, request, output)
    tracker.report(_STAGES["write"][0], "writing polygons")
    tracker.check()
    written = write_features(
        output,
        features,
        found.polygons.crs_wkt,
        layer_name=layer_name,
        explanation=found.explanation,
        overwrite=request.overwrite,
        check_cancelled=tracker.check,
    )
    return _result(found, written, target, request)


def _find_and_describe(request, engine, target, output, workdir, tracker: ProgressTracker) -> _Described:
    """Open the raster, run the engine, vectorise its mask and explain the regions (nothing written yet)."""
    from .vector.vectorize import polygonize_mask

    tracker.report(0.0, "opening raster")
    with open_region(request) as (source, region):
        _check_output_crs(output, source)
        tracker.report(_STAGES["open"][1], "raster opened")
        tracker.check()

        job, output_mask = run_engine(engine, source, region, target, request, workdir, tracker)

        counts = _engine_counts(output_mask.details) or mask_counts(output_mask.mask_path)
        if counts["target_px"] + counts["background_px"] == 0:
            raise SpexInputError(
                "the area of interest holds only no-data pixels: choose an area that overlaps valid data"
            )

        polygons = polygonize_mask(
            output_mask.mask_path,
            simplify=float(request.simplify),
            min_area_m2=float(request.min_area_m2),
            progress=tracker.stage("polygons"),
            check_cancelled=tracker.check,
        )
        tracker.report(_STAGES["explain"][0], "describing regions")
        regions = region_dicts(polygons.polygons, polygons.width, polygons.height)
        explanation = engine.explain(job, output_mask, regions)
        tracker.check()
        # each feature's own text and confidence where the engine gives them; the run-level text otherwise
        per_feature = None
        if getattr(engine, "feature_details", None) is not None and polygons.polygons:
            per_feature = engine.feature_details(job, output_mask, polygons, regions)
            tracker.check()
        return _Described(
            output_mask, counts, polygons, regions, explanation, per_feature, _source_details(source, region)
        )


def _features(found: _Described, target, request, output: str) -> list:
    """One writer feature per polygon, with its attribute values."""
    from .vector.writers import Feature, output_format

    # output in the mask's CRS (all but GeoJSON): the centroid is the GEOS one already measured, mapped
    # from pixel to CRS coordinates, so the writer need not compute it again
    with_centroid = output_format(output) != "GeoJSON"
    per_feature = found.per_feature
    features = []
    for index, polygon in enumerate(found.polygons.polygons):
        own = per_feature[index] if per_feature else {}
        values = feature_values(
            target,
            request.engine,
            index,
            polygon,
            found.regions[index],
            own.get("explain", found.explanation),
            own.get("confidence"),
            found.polygons.geotransform if with_centroid else None,
        )
        features.append(Feature(polygon.wkb, values))
    return features


def feature_values(
    target, engine: str, index: int, polygon, attrs, explanation: str, confidence=None, geotransform=None
) -> Dict[str, Any]:
    """The attribute values of one output polygon (the fields of ``vector.writers.FIELDS``), for a single run
    and for a batch mosaic alike. ``geotransform``: map the polygon's pixel centroid to CRS coordinates
    (None: the writer computes the centroid, e.g. for GeoJSON in WGS 84)."""
    values = {
        "class": target.target_class,
        "prompt": target.phrase,
        "engine": engine,
        "explain": explanation,
        "area_m2": round(polygon.area_m2, 2),
        "region_id": index + 1,
        "size": attrs.get("Size of area"),
        "location": attrs.get("Location"),
    }
    if confidence is not None:
        values["confidence"] = confidence
    if geotransform is not None and getattr(polygon, "centroid_px", None):
        gt = geotransform
        cx, cy = polygon.centroid_px
        values["centroid_x"] = gt[0] + gt[1] * cx + gt[2] * cy
        values["centroid_y"] = gt[3] + gt[4] * cx + gt[5] * cy
    return values


def _result(found: _Described, written, target, request) -> ExtractResult:
    """The run's summary: what was written, the warnings and the details a front end shows."""
    polygons = found.polygons
    warnings: List[str] = list(found.output_mask.warnings)
    if not polygons.polygons:
        warnings.append(f"no {target.target_class} found: the output layer is empty")
    warnings.extend(written.warnings)
    details: Dict[str, Any] = dict(found.output_mask.details or {})
    details.update(found.source_info)
    details["mask"] = found.counts
    details["polygons"] = {
        "count": len(polygons.polygons),
        "dropped_small": polygons.dropped_small,
        "repaired": polygons.repaired,
        "simplify": float(request.simplify),
        "min_area_m2": float(request.min_area_m2),
        "spie_bounding_boxes": min(len(polygons.polygons), FULL_SPIE_REGIONS),
    }
    details["language"] = target.language
    return ExtractResult(
        target_class=target.target_class,
        prompt=target.phrase,
        engine=request.engine,
        output=written.path,
        layer=written.layer,
        output_format=written.format,
        features=written.features,
        area_m2=round(polygons.total_area_m2, 2),
        explanation=found.explanation,
        attributes=_jsonable(found.regions),
        crs_wkt=written.crs_wkt,
        sidecars=written.sidecars,
        warnings=warnings,
        details=_jsonable(details),
    )


def run_engine(engine, source, region, target, request, workdir: str, tracker: ProgressTracker):
    """The engine stage of ``request`` on ``region`` of the open ``source``: ``(job, engine output)``.

    Reports its progress as the tracker's "engine" stage and checks for a cancel when it returns.
    """
    job = EngineJob(
        source=source,
        region=region,
        target=target,
        request=request,
        workdir=workdir,
        progress=tracker.stage("engine"),
        check_cancelled=tracker.check,
    )
    output = engine.run(job)
    tracker.check()
    return job, output


def _work_folder_full(workdir: str, exc: BaseException) -> SpexInputError | None:
    """A one-line error when the job's work folder (TMPDIR) ran out of space, else None."""
    import errno

    from .io.atomic import free_bytes

    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    text = str(exc).lower()
    free = free_bytes(workdir)
    if not (
        getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
        or any(word in text for word in ("no space", "disk is full", "disk full", "quota"))
        or (free is not None and free < 1024 * 1024)
    ):
        return None
    have = f" ({free // 1024} KB free)" if free is not None else ""
    return SpexInputError(
        f"the work folder {os.path.dirname(workdir)} is full{have}: free space there or point TMPDIR at a "
        "folder with room for the mask (about one byte per pixel)"
    )


def _check_size(window, max_pixels: int | None, has_aoi: bool) -> None:
    """SpexInputError when the window to process exceeds the pixel limit (bounded work by default)."""
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    pixels = int(window.xsize) * int(window.ysize)
    if limit and pixels > limit:
        fix = "give a smaller --aoi" if has_aoi else "give --aoi xmin,ymin,xmax,ymax to process part of it"
        raise SpexInputError(
            f"the area to process is {window.xsize} x {window.ysize} = {pixels:,} pixels, more than the "
            f"{limit:,} pixel limit: {fix}, or raise the limit with --max-pixels N (0: no limit)"
        )


def _check_output_crs(output: str, source) -> None:
    """GeoJSON is defined in WGS 84: refuse a raster without CRS before any work (nothing to reproject)."""
    from .vector.writers import output_format

    if not source.crs_wkt and output_format(output) == "GeoJSON":
        raise SpexInputError(
            f"{os.path.basename(source.path)} has no CRS and GeoJSON is defined in WGS 84: assign one "
            "(gdal_translate -a_srs EPSG:XXXX) or write .gpkg or .shp"
        )


@contextmanager
def gdal_job_settings(limit: int = JOB_GDAL_CACHE_BYTES):
    """GDAL settings for the length of a job: block cache capped at ``limit`` bytes (unless the user set
    GDAL_CACHEMAX) and multi-threaded block decoding (``GDAL_NUM_THREADS=ALL_CPUS``, unless the user set it).

    Decoding compressed tiles (DEFLATE/LZW/ZSTD, JPEG2000) is most of a read; GDAL does it in C threads
    without the Python GIL, so it overlaps with our numpy work. Reference counted, so concurrent jobs
    (several QGIS tasks) restore the previous settings only when the last one ends.
    """
    from osgeo import gdal

    cap_cache = not (os.environ.get("GDAL_CACHEMAX") or gdal.GetConfigOption("GDAL_CACHEMAX"))
    with _cache_lock:
        if _cache_state["users"] == 0:
            _cache_state["saved"] = gdal.GetCacheMax() if cap_cache else None
            if cap_cache and _cache_state["saved"] > limit:
                gdal.SetCacheMax(limit)
            _cache_state["threads_set"] = gdal.GetConfigOption("GDAL_NUM_THREADS") is None
            if _cache_state["threads_set"]:
                gdal.SetConfigOption("GDAL_NUM_THREADS", "ALL_CPUS")
        _cache_state["users"] += 1
    try:
        yield
    finally:
        with _cache_lock:
            _cache_state["users"] -= 1
            if _cache_state["users"] == 0:
                saved = _cache_state["saved"]
                if saved is not None and saved > limit:
                    gdal.SetCacheMax(saved)
                if _cache_state.get("threads_set"):
                    gdal.SetConfigOption("GDAL_NUM_THREADS", None)


def region_dicts(polygons, width: int, height: int) -> List[Dict[str, Any]]:
    """SPIE attribute dicts aligned with ``polygons`` (already largest first), in AOI-window pixel space.

    The largest :data:`FULL_SPIE_REGIONS` get the full SPEX dict (with the rotated ``Bounding box``, whose
    convex hull is the costly part); the others get ``Size of area``, ``Centroid`` and ``Location`` only, with
    the same conventions, so a scene with 100 000 specks stays fast. One call per polygon keeps the dicts
    aligned with the features: region_attributes sorts by pixel area, which differs from the m2 order in
    geographic CRSs.
    """
    from .spectral.spie import location_name, region_area_centroid, region_attributes, size_level

    total = float(width) * float(height)
    out: List[Dict[str, Any]] = []
    for index, polygon in enumerate(polygons):
        measure = None
        if getattr(polygon, "area_px", None) is not None and getattr(polygon, "centroid_px", None):
            measure = (polygon.area_px, *polygon.centroid_px)  # measured by GEOS while polygonizing
        if index < FULL_SPIE_REGIONS:
            measures = [measure] if measure is not None else None
            out.append(region_attributes([polygon.rings_px], width, height, measures)[0])
            continue
        area, cx, cy = measure if measure is not None else region_area_centroid(polygon.rings_px)
        cx, cy = cx - 0.5, cy - 0.5  # pixel-edge -> pixel-index coordinates, as spie.region_attributes does
        fx, fy = min(max(cx / width, 0.0), 1.0), min(max(cy / height, 0.0), 1.0)
        out.append(
            {
                "Size of area": size_level(area / total),
                "Centroid": [round(fx, 3), round(fy, 3)],
                "Location": location_name(fx, fy),
            }
        )
    return out


def _engine_counts(details: Dict[str, Any]) -> Dict[str, int] | None:
    """Final mask pixel counts when the engine reports them (``details["pixels"]``): saves a mask pass."""
    pixels = (details or {}).get("pixels")
    if not isinstance(pixels, dict):
        return None
    try:
        target, background, total = int(pixels["target"]), int(pixels["background"]), int(pixels["total"])
    except (KeyError, TypeError, ValueError):
        return None
    if min(target, background) < 0 or target + background > total:
        return None
    return {
        "target_px": target,
        "background_px": background,
        "nodata_px": total - target - background,
        "nodata_value": MASK_NODATA,
    }


def mask_counts(mask_path: str) -> Dict[str, int]:
    """Pixel counts of an engine mask: target, background and no-data (streamed block by block)."""
    from osgeo import gdal

    ds = gdal.Open(mask_path)
    band = ds.GetRasterBand(1)
    block_x, block_y = band.GetBlockSize()
    rows = max(block_y, (4 * 1024 * 1024) // max(ds.RasterXSize, 1))
    totals = np.zeros(256, dtype=np.int64)
    for y in range(0, ds.RasterYSize, rows):
        h = min(rows, ds.RasterYSize - y)
        totals += np.bincount(band.ReadAsArray(0, y, ds.RasterXSize, h).ravel(), minlength=256)
    ds = None
    target, background = int(totals[MASK_TARGET]), int(totals[MASK_BACKGROUND])
    return {
        "target_px": target,
        "background_px": background,
        "nodata_px": int(totals.sum()) - target - background,
        "nodata_value": MASK_NODATA,
    }


def _source_details(source, region) -> Dict[str, Any]:
    window = region.window
    scaling = getattr(source, "scaling", None)
    return {
        "raster": getattr(source, "path", None),
        "sensor": getattr(source, "sensor", None),
        "bands": dict(getattr(source, "roles", {}) or {}),
        "scaling": getattr(scaling, "name", None) if scaling is not None else None,
        "pixel_size_m": list(getattr(source, "pixel_size_m", ()) or ()),
        "aoi_window": {
            "xoff": window.xoff,
            "yoff": window.yoff,
            "xsize": window.xsize,
            "ysize": window.ysize,
        },
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON types for nested dicts/lists holding numpy scalars, arrays or tuples."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
