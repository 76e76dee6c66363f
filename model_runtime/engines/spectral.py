"""The default engine: spectral indices + class rules, no weights.

Streams the area of interest window by window (a reader thread prefetches the next window while the current
one is computed; GDAL releases the GIL while reading), writes a tiled DEFLATE uint8 GeoTIFF
(1 = target, 0 = background, 255 = no-data / outside the AOI polygon), then cleans it with GDAL's sieve.
Memory is bounded by a few windows whatever the raster size; statistics use fixed-bin histograms.
With ``threshold_method="otsu"`` a first pass accumulates the primary index histogram over all windows.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from ..errors import SpexInputError
from ..indices import INDEX_DEFINITIONS, compute_index
from ..thresholds import RuleVariant, check_threshold, looks_like_reflectance, otsu_threshold, select_variant
from .base import MASK_NODATA, EngineJob, EngineOutput

_STAT_BINS = 200
_OTSU_BINS = 1000
_WINDOW = 1024
_WEAK_OTSU = 0.5  # separability below this: the histogram is not clearly bimodal


class _Histogram:
    """Fixed-bin histograms of one index for ``groups`` pixel groups (e.g. outside / inside the result).

    Values outside the range are clipped into the end bins; means are taken from bin centres (bin width
    0.01 for normalized differences), so they are approximate to half a bin.
    """

    def __init__(self, value_range: Tuple[float, float], bins: int, groups: int = 1):
        self.lo, self.hi = float(value_range[0]), float(value_range[1])
        self.bins, self.groups = int(bins), int(groups)
        self.edges = np.linspace(self.lo, self.hi, self.bins + 1)
        self.counts = np.zeros((self.groups, self.bins), dtype=np.int64)

    def add(self, values: np.ndarray, valid: np.ndarray, group: np.ndarray | None = None) -> None:
        """Count the finite ``values`` where ``valid``; ``group`` (int/bool array) picks each pixel's row."""
        idx = np.subtract(values, np.float32(self.lo), dtype=np.float32)
        idx *= np.float32(self.bins / (self.hi - self.lo))
        np.clip(idx, 0, self.bins - 1, out=idx)  # NaN stays NaN
        ok = np.isfinite(idx)
        ok &= valid
        with np.errstate(invalid="ignore"):
            code = idx.astype(np.int32)
        if group is not None:
            code += group.astype(np.int32) * self.bins
        code[~ok] = self.groups * self.bins  # overflow bin, dropped
        counts = np.bincount(code.ravel(), minlength=self.groups * self.bins + 1)
        self.counts += counts[:-1].reshape(self.groups, self.bins)

    def total(self, group: int = 0) -> int:
        """Number of values counted in ``group``."""
        return int(self.counts[group].sum())

    def percentile(self, q: float, group: int = 0) -> float | None:
        """Approximate percentile (linear inside the bin)."""
        counts = self.counts[group]
        total = counts.sum()
        if total == 0:
            return None
        cum = np.cumsum(counts)
        target = q / 100.0 * total
        k = min(int(np.searchsorted(cum, target, side="left")), self.bins - 1)
        before = cum[k - 1] if k else 0
        frac = (target - before) / counts[k] if counts[k] else 0.0
        return float(self.edges[k] + frac * (self.edges[k + 1] - self.edges[k]))

    def summary(self, group: int = 0) -> Dict[str, Any]:
        """count, mean, p10, p50, p90 (rounded) of one group."""
        counts = self.counts[group]
        total = int(counts.sum())
        if total == 0:
            return {"count": 0}
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        out: Dict[str, Any] = {"count": total, "mean": round(float((counts * centres).sum() / total), 4)}
        for q in (10, 50, 90):
            out[f"p{q}"] = round(self.percentile(q, group), 4)
        return out


def _prefetch(windows: Sequence[Any], read: Callable[[Any], Any]) -> Iterator[Tuple[Any, Any]]:
    """Yield (window, read(window)), reading the next window in a worker thread meanwhile."""
    if not windows:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spex-read") as pool:
        pending = pool.submit(read, windows[0])
        for i, window in enumerate(windows):
            data = pending.result()
            if i + 1 < len(windows):
                pending = pool.submit(read, windows[i + 1])
            yield window, data


def _create_mask(path: str, source, region_window) -> Any:
    from osgeo import gdal

    gdal.UseExceptions()
    gt = source.geotransform
    x0, y0 = region_window.xoff, region_window.yoff
    geotransform = (
        gt[0] + x0 * gt[1] + y0 * gt[2],
        gt[1],
        gt[2],
        gt[3] + x0 * gt[4] + y0 * gt[5],
        gt[4],
        gt[5],
    )
    ds = gdal.GetDriverByName("GTiff").Create(
        path,
        region_window.xsize,
        region_window.ysize,
        1,
        gdal.GDT_Byte,
        # ZLEVEL 1: masks compress well anyway, and level 6 costs more than the whole classification
        ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "ZLEVEL=1", "BIGTIFF=IF_SAFER"],
    )
    ds.SetGeoTransform(geotransform)
    if source.crs_wkt:
        ds.SetProjection(source.crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(MASK_NODATA)
    return ds


class SpectralEngine:
    """Spectral-index engine (no weights): see the module docstring."""

    name = "spectral"

    def __init__(self, window_size: int = _WINDOW):
        self.window_size = int(window_size)

    # -- run ---------------------------------------------------------------------------------------------
    def run(self, job: EngineJob) -> EngineOutput:
        """Build the cleaned target mask of ``job.region`` and record how it was decided."""
        from ..cleanup import clean_mask, default_min_region_px

        source, region, request = job.source, job.region, job.request
        target_class = job.target.target_class
        variant, missing_better = select_variant(target_class, source.roles.keys())
        method = (request.threshold_method or "fixed").lower()
        if request.threshold is not None and method == "otsu":
            raise SpexInputError(
                "both a threshold and the Otsu method were given: "
                "pass either --threshold or --threshold-method otsu"
            )
        started = time.perf_counter()
        windows = list(source.iter_windows(region.window, size=self.window_size))
        primary = variant.primary
        primary_def = INDEX_DEFINITIONS[primary.name]
        warnings: List[str] = []

        def read(roles: Sequence[str]) -> Callable[[Any], Any]:
            def _read(window):
                bands, valid = source.read(list(roles), window)
                aoi = region.mask(window)
                if aoi is not None:
                    valid = valid & aoi
                return bands, valid, aoi

            return _read

        # reflectance check on the first window holding valid data
        reflectance_like = True
        for window in windows[: min(len(windows), 16)]:
            bands, valid, _ = read(variant.roles)(window)
            if valid.any():
                reflectance_like = looks_like_reflectance(bands, valid)
                break
        if getattr(getattr(source, "scaling", None), "name", "") == "brightness8":
            reflectance_like = False  # 8-bit DN / 255 is brightness, not calibrated reflectance
        if variant.needs_reflectance and not reflectance_like:
            raise SpexInputError(
                f"the {target_class} rule compares reflectance, but the band values are not in 0..1: "
                "set the reflectance scaling (--scaling s2, landsat-c2-l2 or gain,offset)"
            )
        use_refl_guards = reflectance_like

        otsu_share = 0.35 if method == "otsu" else 0.0
        threshold_info: Dict[str, Any] = {
            "index": primary.name,
            "op": primary.op,
            "default": primary.threshold,
        }
        if request.threshold is not None:
            threshold = check_threshold(variant, request.threshold)
            threshold_info.update(value=threshold, method="user")
        elif method == "otsu":
            hist = _Histogram(primary_def.value_range, _OTSU_BINS)
            for i, (_w, (bands, valid, _aoi)) in enumerate(_prefetch(windows, read(primary_def.roles))):
                job.check_cancelled()
                hist.add(compute_index(primary.name, bands), valid)
                job.progress(otsu_share * (i + 1) / len(windows), "histogram for Otsu")
            if hist.total() == 0:
                raise SpexInputError(
                    "the area of interest holds only no-data pixels: choose an area that overlaps valid data"
                )
            threshold, separability = otsu_threshold(hist.counts[0], hist.edges)
            threshold = float(round(threshold, 4))
            threshold_info.update(
                value=threshold,
                method="otsu",
                separability=round(separability, 3),
                histogram_pixels=hist.total(),
            )
            if separability < _WEAK_OTSU:
                warnings.append(
                    f"Otsu split of {primary.name} is weak (separability {separability:.2f}): "
                    "the histogram is not "
                    "clearly bimodal; check the result or give a fixed --threshold"
                )
        elif method == "fixed":
            threshold = primary.threshold
            threshold_info.update(value=threshold, method="default")
        else:
            raise SpexInputError(f"unknown threshold method {method!r}: use fixed or otsu")

        # index statistics outside (row 0) / inside (row 1) the result, on every other pixel and row
        stats = {
            n: _Histogram(INDEX_DEFINITIONS[n].value_range, _STAT_BINS, groups=2) for n in variant.indices
        }
        guards = variant.guards + (variant.reflectance_guards if use_refl_guards else ())
        guard_rejects = {g.text(): 0 for g in guards}
        counts = {"target": 0, "background": 0, "nodata": 0, "outside_aoi": 0, "primary_pass": 0}

        mask_path = os.path.join(job.workdir, f"spectral_{target_class}.tif")
        ds = _create_mask(mask_path, source, region.window)
        band = ds.GetRasterBand(1)
        rx, ry = region.window.xoff, region.window.yoff
        try:
            for i, (w, (bands, valid, aoi)) in enumerate(_prefetch(windows, read(variant.roles))):
                job.check_cancelled()
                target, values = self._classify(
                    variant, bands, threshold, guards, guard_rejects, counts, valid
                )
                out = target.astype(np.uint8)  # MASK_TARGET = 1, MASK_BACKGROUND = 0
                out[~valid] = MASK_NODATA
                n_valid = int(np.count_nonzero(valid))
                n_target = int(np.count_nonzero(target))
                counts["target"] += n_target
                counts["background"] += n_valid - n_target
                outside = int(aoi.size - np.count_nonzero(aoi)) if aoi is not None else 0
                counts["outside_aoi"] += outside
                counts["nodata"] += out.size - n_valid - outside
                sub_valid, sub_target = valid[::2, ::2], target[::2, ::2]
                for name, hist in stats.items():
                    hist.add(values[name][::2, ::2], sub_valid, sub_target)
                band.WriteArray(out, w.xoff - rx, w.yoff - ry)
                job.progress(otsu_share + (0.9 - otsu_share) * (i + 1) / len(windows), "classifying pixels")
            band.FlushCache()
        finally:
            band = None
            ds = None

        pixel_area = getattr(source, "pixel_area_m2", None)
        min_px = default_min_region_px(pixel_area)
        job.check_cancelled()
        job.progress(0.9, "cleaning mask")
        classified = time.perf_counter()
        cleanup = clean_mask(mask_path, min_px, min_px)
        counts["target"] += cleanup["filled_hole_px"] - cleanup["removed_region_px"]
        counts["background"] -= cleanup["filled_hole_px"] - cleanup["removed_region_px"]
        job.progress(1.0, "mask ready")

        total = region.window.xsize * region.window.ysize
        caveats = list(variant.caveats)
        if missing_better:
            caveats.insert(0, "fallback")
        if not use_refl_guards and variant.reflectance_guards:
            caveats.append("not_reflectance")
        if counts["nodata"]:
            caveats.append("nodata")
        details: Dict[str, Any] = {
            "engine": self.name,
            "target_class": target_class,
            "rule": variant.name,
            "rule_text": " AND ".join([primary.text(threshold_info["value"])] + [g.text() for g in guards]),
            "fallback_missing_roles": list(missing_better),
            "roles_used": list(variant.roles),
            "indices": {
                n: {
                    "formula": INDEX_DEFINITIONS[n].formula,
                    "long_name": INDEX_DEFINITIONS[n].long_name,
                    "reference": INDEX_DEFINITIONS[n].reference,
                }
                for n in variant.indices
            },
            "threshold": threshold_info,
            "guards": [
                {"test": g.text(), "why": g.why, "rejected_px": guard_rejects[g.text()]} for g in guards
            ],
            "skipped_guards": [g.text() for g in variant.reflectance_guards] if not use_refl_guards else [],
            "reflectance_like": bool(reflectance_like),
            "pixels": {**counts, "total": int(total)},
            "pixel_area_m2": float(pixel_area) if pixel_area else None,
            "stats": {n: {"inside": h.summary(1), "outside": h.summary(0)} for n, h in stats.items()},
            "cleanup": cleanup,
            "caveats": caveats,
            "windows": len(windows),
            "seconds": {
                "classify": round(classified - started, 3),
                "cleanup": round(time.perf_counter() - classified, 3),
            },
        }
        if counts["target"] == 0:
            warnings.append(f"no pixel passed the {target_class} rule ({details['rule_text']})")
        return EngineOutput(mask_path=mask_path, details=details, warnings=warnings)

    @staticmethod
    def _classify(variant: RuleVariant, bands, threshold, guards, guard_rejects, counts, valid):
        """Primary test AND guards for one window; counts pixels each guard rejects."""
        values: Dict[str, np.ndarray] = {}

        def value(name: str) -> np.ndarray:
            if name not in values:
                values[name] = compute_index(name, bands) if name in INDEX_DEFINITIONS else bands[name]
            return values[name]

        with np.errstate(invalid="ignore"):
            target = variant.primary.test(value(variant.primary.name), threshold)
            target &= valid
            counts["primary_pass"] += int(np.count_nonzero(target))
            for cond in guards:
                ok = cond.test(value(cond.name))
                guard_rejects[cond.text()] += int(np.count_nonzero(target & ~ok))
                target &= ok
        # statistics for every index of the rule, even those not needed to decide (e.g. after a guard)
        for name in variant.indices:
            value(name)
        return target, {k: v for k, v in values.items() if k in INDEX_DEFINITIONS}

    # -- explain -----------------------------------------------------------------------------------------
    def explain(self, job: EngineJob, output: EngineOutput, regions: List[Dict[str, Any]]) -> str:
        """Full explanation text (language of the prompt or the request)."""
        from ..explain import spectral_explanation

        language = getattr(job.request, "language", None) or job.target.language
        return spectral_explanation(job.target, output.details, regions, language)
