"""The default engine: spectral indices + class rules, no weights.

Streams the area of interest in full-width strips (``RasterSource.iter_strips``): a reader thread reads the
next strip, all bands in one call into a reused float32 buffer, while numpy classifies the current one (GDAL
and numpy release the GIL). Each classified strip is cleaned with its neighbours as context
(``cleanup.sieve_strip``) and written once to a tiled, lightly compressed uint8 GeoTIFF (1 = target,
0 = background, 255 = no-data / outside the AOI polygon). Memory is bounded by a few strips whatever the
raster size; statistics use fixed-bin histograms on a pixel subsample.
With ``threshold_method="otsu"`` a first pass accumulates the primary index histogram over all windows. On
data that are not reflectance, water and vegetation thresholds come from a sample of the scene
(``thresholds.SCENE_ADAPTATIONS``, see docs/spectral.md).
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import SpexInputError
from ..spectral.indices import INDEX_DEFINITIONS, compute_index
from ..spectral.mixed_pixels import grow_mixed_edges
from ..spectral.mixed_urban import PARTNER_CLASS, UrbanEndmembers, scene_endmembers, split_mixed_urban
from ..spectral.thresholds import (
    MIN_SCENE_PIXELS,
    SCENE_ADAPTATIONS,
    RuleVariant,
    SceneStats,
    adapt_to_scene,
    check_threshold,
    evaluate,
    looks_like_reflectance,
    otsu_threshold,
    scene_statistics,
    select_variant,
    shifted_guard_indices,
)
from .base import MASK_NODATA, EngineJob, EngineOutput, create_mask
from .spectral_streaming import (
    FeatureValues,
    Histogram,
    Scratch,
    StripCleaner,
    WindowReader,
    grown_window,
    prefetch,
    roles_of,
)

_STAT_BINS = 200
_OTSU_BINS = 1000
_STRIP_PIXELS = 2 * 1024 * 1024  # ~2 Mpx strips (at least one block row: 512 x 10980 on Sentinel-2)
_MAX_HALO_PIXELS = 64 * 1024 * 1024  # larger cleanup contexts (huge objects in pixels): clean the file after
_STAT_STEP = 4  # statistics on every 4th pixel of every 4th row of large windows ...
_STAT_FULL_BELOW = 1024 * 1024  # ... every 2nd of small ones
_SCENE_MIN_SIDE = 2048  # scene statistics look at least this far around the area of interest ...
_SCENE_READ_PIXELS = 16 * 1024 * 1024  # ... read at most about this many pixels ...
_ENDMEMBER_READ_PIXELS = 4 * 1024 * 1024  # (medians of two covers need fewer: mixed_urban endmembers) ...
_SCENE_SAMPLE = 1_000_000  # ... and keep about this many
_WEAK_OTSU = 0.5  # separability below this: the histogram is not clearly bimodal


class _Plan:
    """What one run decided before classifying: rule variant, windows, reader, guards, scene adaptation."""

    def __init__(self, target_class: str, variant: RuleVariant, missing_better, method: str, windows,
                 read: WindowReader):  # fmt: skip
        self.target_class, self.variant, self.missing_better = target_class, variant, missing_better
        self.method, self.windows, self.read = method, windows, read
        self.otsu_share = 0.35 if method == "otsu" else 0.0  # progress share of the Otsu pass
        self.reflectance_like = True
        self.guards: Tuple = variant.guards
        self.scene_threshold: float | None = None
        self.scene_info: Dict[str, Any] = {}
        self.warnings: List[str] = []
        #: the other side of the vegetation / built-up split of mixed pixels (mixed_urban), when there is one
        self.partner: _Plan | None = None
        self.partner_threshold: float | None = None
        self.endmembers: UrbanEndmembers | None = None


class _Classified:
    """Running totals of the classifying pass: pixel counts, index histograms outside (row 0) / inside
    (row 1) the result on a regular subsample, pixels each guard rejected; and the mask written."""

    def __init__(self, mask_path: str, streamed: bool, min_px: int, fill_px: int, pixel_area, indices,
                 guards):  # fmt: skip
        self.mask_path, self.streamed, self.pixel_area = mask_path, streamed, pixel_area
        self.min_px, self.fill_px = min_px, fill_px  # smallest region kept, holes under fill_px filled
        self.stats = {n: Histogram(INDEX_DEFINITIONS[n].value_range, _STAT_BINS, groups=2) for n in indices}
        self.guard_rejects = {g.text(): 0 for g in guards}
        self.counts = {"target": 0, "background": 0, "nodata": 0, "outside_aoi": 0, "primary_pass": 0,
                       "mixed_edge_px": 0, "mixed_urban_px": 0}  # fmt: skip
        self.cleanup = {"filled_hole_px": 0, "removed_region_px": 0, "fill_holes_px": self.fill_px,
                        "min_region_px": min_px}  # fmt: skip
        self.kept: FeatureValues | None = None

    def add(self, target: np.ndarray, values, valid: np.ndarray, aoi, step: int) -> np.ndarray:
        """Count one classified window; returns it as mask values (uint8 view of ``target``, no copy)."""
        counts = self.counts
        all_valid = aoi is None and bool(valid.all())
        n_valid = valid.size if all_valid else int(np.count_nonzero(valid))
        n_target = int(np.count_nonzero(target))
        counts["target"] += n_target
        counts["background"] += n_valid - n_target
        outside = int(aoi.size - np.count_nonzero(aoi)) if aoi is not None else 0
        counts["outside_aoi"] += outside
        counts["nodata"] += target.size - n_valid - outside
        sub_valid, sub_target = valid[::step, ::step], target[::step, ::step]
        for name, hist in self.stats.items():
            hist.add(values[name], sub_valid, sub_target)
        out = target.view(np.uint8)  # MASK_TARGET = 1, MASK_BACKGROUND = 0
        if not all_valid:
            out[~valid] = MASK_NODATA
        return out



class SpectralEngine:
    """Spectral-index engine (no weights): see the module docstring.

    ``window_size=None`` (default) streams full-width strips of about ``strip_pixels`` pixels and cleans
    each strip as it goes; an integer streams square windows of that size and cleans the mask file
    afterwards (the older, slower path, kept for small tests and as a fallback).
    """

    name = "spectral"

    def __init__(self, window_size: int | None = None, strip_pixels: int = _STRIP_PIXELS):
        self.window_size = int(window_size) if window_size else None
        self.strip_pixels = int(strip_pixels)

    # -- run ---------------------------------------------------------------------------------------------
    def run(self, job: EngineJob) -> EngineOutput:
        """Classify every window, write and clean the mask; ``details`` record how it was decided."""
        started = time.perf_counter()
        plan = self._plan(job)
        threshold, threshold_info = self._choose_threshold(job, plan)
        self._plan_urban_split(job, plan, threshold)
        if plan.scene_info:
            threshold_info["scene"] = plan.scene_info
        result = self._classify_windows(job, plan, threshold)
        classified = time.perf_counter()
        job.check_cancelled()
        if not result.streamed:
            from ..spectral.cleanup import clean_mask

            job.progress(0.95, "cleaning mask")
            result.cleanup = clean_mask(result.mask_path, result.min_px, result.fill_px)
        changed = result.cleanup["filled_hole_px"] - result.cleanup["removed_region_px"]
        result.counts["target"] += changed
        result.counts["background"] -= changed
        job.progress(1.0, "mask ready")
        details = self._details(job, plan, threshold_info, result)
        details["seconds"] = {
            "classify": round(classified - started, 3),
            "cleanup": round(time.perf_counter() - classified, 3),
        }
        if result.counts["target"] == 0:
            plan.warnings.append(
                f"no pixel passed the {plan.target_class} rule ({details['rule_text']})"
            )
        return EngineOutput(mask_path=result.mask_path, details=details, warnings=plan.warnings)

    def _plan(self, job: EngineJob) -> _Plan:
        """Rule variant, windows, reader, reflectance check and scene-relative guards of one run."""
        source, region, request = job.source, job.region, job.request
        target_class = job.target.target_class
        variant, missing_better = select_variant(target_class, source.roles.keys())
        method = (request.threshold_method or "fixed").lower()
        if request.threshold is not None and method == "otsu":
            raise SpexInputError(
                "both a threshold and the Otsu method were given: "
                "pass either --threshold or --threshold-method otsu"
            )
        if self.window_size:
            windows = list(source.iter_windows(region.window, size=self.window_size))
        else:
            windows = list(source.iter_strips(region.window, max_pixels=self.strip_pixels))
        # strips of whole block rows never share a block: keep GDAL's block cache from growing to its
        # maximum (5 % of RAM by default) with blocks that will not be read again
        drop_cache = not self.window_size and 0 < getattr(source, "block_size", (0, 0))[1] <= 1024
        plan = _Plan(target_class, variant, missing_better, method, windows,
                     WindowReader(source, region, drop_cache))  # fmt: skip
        if not self._fit_to_data(job, plan, request.threshold):
            raise SpexInputError(
                f"the {target_class} rule compares reflectance, but the band values are not in 0..1: "
                "set the reflectance scaling (--scaling s2, landsat-c2-l2 or gain,offset)"
            )
        return plan

    def _fit_to_data(self, job: EngineJob, plan: _Plan, user_threshold: float | None) -> bool:
        """Reflectance check, guards and scene-relative adaptation of ``plan``'s rule; False when the rule
        needs reflectance and the data are not."""
        variant = plan.variant
        plan.reflectance_like = self._looks_like_reflectance(job.source, variant, plan.windows, plan.read)
        if variant.needs_reflectance and not plan.reflectance_like:
            return False
        plan.guards = variant.guards + (variant.reflectance_guards if plan.reflectance_like else ())
        self._adapt_to_scene(job, plan, user_threshold)
        return True

    def _plan_urban_split(self, job: EngineJob, plan: _Plan, threshold: float) -> None:
        """Vegetation and built-up: plan the other rule of the pair and take the scene's two endmembers for
        the split of mixed edge pixels (mixed_urban). Nothing is planned when the other rule cannot run on
        this raster or the scene lacks either cover."""
        partner_class = PARTNER_CLASS.get(plan.target_class)
        if partner_class is None:
            return
        try:
            variant, _missing = select_variant(partner_class, job.source.roles.keys())
        except SpexInputError:
            return
        partner = _Plan(partner_class, variant, [], "fixed", plan.windows, plan.read)
        if not self._fit_to_data(job, partner, None):  # the user's threshold is for the asked class only
            return
        partner_threshold = (
            partner.scene_threshold if partner.scene_threshold is not None else variant.primary.threshold
        )
        roles = list(dict.fromkeys([*plan.variant.roles, *variant.roles]))
        sample = self._scene_sample(job.source, roles, job.region.window, job, _ENDMEMBER_READ_PIXELS)
        if next(iter(sample.values())).size < MIN_SCENE_PIXELS:
            return
        answers = {
            plan.target_class: evaluate(plan.variant, sample, threshold, guards=plan.guards)[0],
            partner_class: evaluate(variant, sample, partner_threshold, guards=partner.guards)[0],
        }
        endmembers = scene_endmembers(sample, answers["vegetation"], answers["building"], roles)
        if endmembers is not None:
            plan.partner, plan.partner_threshold, plan.endmembers = partner, partner_threshold, endmembers

    def _adapt_to_scene(self, job: EngineJob, plan: _Plan, user_threshold: float | None) -> None:
        """Data that are not reflectance: scene-relative threshold and guards (SCENE_ADAPTATIONS)."""
        adaptation = SCENE_ADAPTATIONS.get(plan.target_class)
        needs_scene = adaptation is not None and (
            adaptation.dark_nir_share is not None
            or bool(shifted_guard_indices(plan.target_class, plan.variant))
            or (user_threshold is None and plan.method == "fixed")
        )
        if plan.reflectance_like or not needs_scene:
            return
        variant = plan.variant
        stats = self._scene_statistics(job.source, variant, job.region.window, job, plan.target_class)
        plan.scene_threshold, plan.guards, plan.scene_info = adapt_to_scene(
            plan.target_class, variant, stats, plan.guards
        )
        if plan.scene_info.pop("doubtful", None):
            plan.warnings.append(
                "the scene around the area of interest is spectrally uniform (its brightest pixels have "
                f"the {variant.primary.name} of the rest), so the scene-relative threshold is "
                "unreliable: use a raster that also holds roofs, roads or bare soil, or give --threshold"
            )
        if stats.reference is None and stats.pixels < MIN_SCENE_PIXELS:
            plan.warnings.append(
                f"too few valid pixels ({stats.pixels}) around the area of interest for scene-relative "
                "thresholds: fixed defaults were used; give --threshold or set --scaling"
            )

    @staticmethod
    def _choose_threshold(job: EngineJob, plan: _Plan) -> Tuple[float, Dict[str, Any]]:
        """The primary threshold (user, Otsu, scene-relative or default) and how it was chosen."""
        primary = plan.variant.primary
        info: Dict[str, Any] = {"index": primary.name, "op": primary.op, "default": primary.threshold}
        request = job.request
        if request.threshold is not None:
            threshold = check_threshold(plan.variant, request.threshold)
            info.update(value=threshold, method="user")
        elif plan.method == "otsu":
            threshold = SpectralEngine._otsu(job, plan, info)
        elif plan.method == "fixed":
            if plan.scene_threshold is not None:
                threshold = plan.scene_threshold
                info.update(value=threshold, method="scene")
            else:
                threshold = primary.threshold
                info.update(value=threshold, method="default")
        else:
            raise SpexInputError(f"unknown threshold method {plan.method!r}: use fixed or otsu")
        return threshold, info

    @staticmethod
    def _otsu(job: EngineJob, plan: _Plan, info: Dict[str, Any]) -> float:
        """First pass: histogram of the primary index over every window, Otsu's threshold from it."""
        primary = plan.variant.primary
        definition = INDEX_DEFINITIONS[primary.name]
        hist = Histogram(definition.value_range, _OTSU_BINS)
        windows = plan.windows
        for i, (_w, (bands, valid, _aoi)) in enumerate(prefetch(windows, plan.read(definition.roles))):
            job.check_cancelled()
            hist.add(compute_index(primary.name, bands), valid)
            job.progress(plan.otsu_share * (i + 1) / len(windows), "histogram for Otsu")
        if hist.total() == 0:
            raise SpexInputError(
                "the area of interest holds only no-data pixels: choose an area that overlaps valid data"
            )
        threshold, separability = otsu_threshold(hist.counts[0], hist.edges)
        threshold = float(round(threshold, 4))
        info.update(value=threshold, method="otsu", separability=round(separability, 3),
                    histogram_pixels=hist.total())  # fmt: skip
        if separability < _WEAK_OTSU:
            plan.warnings.append(
                f"Otsu split of {primary.name} is weak (separability {separability:.2f}): the histogram is "
                "not clearly bimodal; check the result or give a fixed --threshold"
            )
        return threshold

    def _classify_windows(self, job: EngineJob, plan: _Plan, threshold: float) -> _Classified:
        """Second pass: classify every window, keep statistics and rule values, write the (cleaned) mask."""
        from ..spectral.cleanup import default_min_region_px, sieve_halo

        source, rw, variant = job.source, job.region.window, plan.variant
        windows = plan.windows
        pixel_area = getattr(source, "pixel_area_m2", None)
        fill_px = default_min_region_px(pixel_area)
        # a pond can be one pixel: the size floor of 2 px against noise is dropped for such classes
        min_px = default_min_region_px(pixel_area, floor_px=1) if variant.single_pixel_objects else fill_px
        halo = sieve_halo(min_px, fill_px)
        streamed = (
            not self.window_size
            and all(w.xsize == rw.xsize for w in windows)
            and halo * rw.xsize <= _MAX_HALO_PIXELS
        )
        result = _Classified(os.path.join(job.workdir, f"spectral_{plan.target_class}.tif"), streamed, min_px,
                             fill_px, pixel_area, variant.indices, plan.guards)  # fmt: skip
        ds = create_mask(result.mask_path, source, rw)
        band = ds.GetRasterBand(1)
        writer = StripCleaner(band, rw, halo, min_px, fill_px, result.cleanup) if streamed else None
        partner = plan.partner
        # the vegetation / built-up split looks one pixel across every strip or window cut: both rules'
        # bands are read over the window grown by one pixel, each with its own validity (a no-data SWIR
        # pixel is not built-up, it does not make the vegetation pixel no-data)
        reads = [_grown_by_one(w, rw) for w in windows] if partner is not None else windows
        rows_max = max(w.ysize for w in reads)
        cols_max = max(w.xsize for w in reads)
        roles = list(variant.roles)
        buffers = [np.empty(len(roles) * rows_max * cols_max, np.float32) for _ in range(2)]
        read = plan.read(roles, buffers)
        if partner is not None:
            partner_roles = list(partner.variant.roles)
            size = len(partner_roles) * rows_max * cols_max
            partner_buffers = [np.empty(size, np.float32) for _ in range(2)]
            # the other rule's bands first and without dropping GDAL's block cache: the own read (which
            # drops it) then finds the shared blocks decoded
            read_own = read
            read_partner = WindowReader(source, job.region, False)(partner_roles, partner_buffers)

            def read(window):
                other = read_partner(window)
                return read_own(window), other

        scratch = Scratch()
        names = list(dict.fromkeys([variant.primary.name, *(g.name for g in plan.guards)]))
        kept = FeatureValues(os.path.join(job.workdir, f"feature_values_{plan.target_class}.tif"), source,
                              rw, names)  # fmt: skip
        result.kept = kept
        try:
            for i, (g, data) in enumerate(prefetch(reads, read)):
                job.check_cancelled()
                w = windows[i]
                if partner is not None:
                    (own_bands, own_valid, own_aoi), other = data
                    inner = (slice(w.yoff - g.yoff, w.yoff - g.yoff + w.ysize),
                             slice(w.xoff - g.xoff, w.xoff - g.xoff + w.xsize))  # fmt: skip
                    bands = {r: a[inner] for r, a in own_bands.items()}
                    valid, aoi = own_valid[inner], None if own_aoi is None else own_aoi[inner]
                else:
                    bands, valid, aoi = data
                step = _STAT_STEP if valid.size >= _STAT_FULL_BELOW else 2
                target, values = self._classify(variant, bands, threshold, plan.guards, result.guard_rejects,
                                                result.counts, valid, scratch, step)  # fmt: skip
                if partner is not None:
                    result.counts["mixed_urban_px"] += self._split_mixed_urban(
                        plan, threshold, target, inner, (own_bands, own_valid), other[:2]
                    )
                out = result.add(target, values, valid, aoi, step)
                kept.add(w, bands, valid)
                if writer is not None:
                    writer.add(out, w.yoff - rw.yoff)
                else:
                    band.WriteArray(out, w.xoff - rw.xoff, w.yoff - rw.yoff)
                share = plan.otsu_share
                job.progress(share + (0.95 - share) * (i + 1) / len(windows), "classifying pixels")
            if writer is not None:
                writer.finish()
            band.FlushCache()
        finally:
            band = writer = None
            ds = None
            kept.close()
        return result

    @staticmethod
    def _split_mixed_urban(plan: _Plan, threshold: float, target: np.ndarray, inner, own, other) -> int:
        """Apply the vegetation / built-up split (mixed_urban) to ``target`` (the window's answer, in place).

        ``own`` and ``other``: (bands, valid) of this rule's and the other rule's roles over the window grown
        by one pixel, ``inner`` the window inside it. Both answers are evaluated over the grown window (this
        one's from ``target`` inside, from its own rule on the rim) and split there; returns how many pixels
        of the window changed."""
        (own_bands, own_valid), (other_bands, other_valid) = own, other
        partner = plan.partner
        own_answer = np.zeros(own_valid.shape, bool)
        own_answer[inner] = target
        rows, cols = inner
        for rim in ((slice(0, rows.start), slice(None)), (slice(rows.stop, None), slice(None)),
                    (rows, slice(0, cols.start)), (rows, slice(cols.stop, None))):  # fmt: skip
            if own_valid[rim].size:
                sub = {r: a[rim] for r, a in own_bands.items()}
                own_answer[rim] = evaluate(plan.variant, sub, threshold, guards=plan.guards)[0]
                own_answer[rim] &= own_valid[rim]
        other_answer = evaluate(
            partner.variant, other_bands, plan.partner_threshold, guards=partner.guards
        )[0]
        other_answer &= other_valid
        if plan.target_class == "vegetation":
            vegetation, built = own_answer, other_answer
        else:
            vegetation, built = other_answer, own_answer
        bands = {**other_bands, **own_bands}
        to_built, to_vegetation = split_mixed_urban(vegetation, built, bands, plan.endmembers)
        if plan.target_class == "vegetation":
            changed = to_built[inner] & target
            target &= ~to_built[inner]
        else:
            changed = (to_built[inner] & ~target) | (to_vegetation[inner] & target)
            target |= to_built[inner]
            target &= ~to_vegetation[inner]
        return int(np.count_nonzero(changed))

    def _details(self, job: EngineJob, plan: _Plan, threshold_info: Dict[str, Any],
                 result: _Classified) -> Dict[str, Any]:  # fmt: skip
        """Everything the explanations and the sidecar report about one run."""
        variant, primary, guards = plan.variant, plan.variant.primary, plan.guards
        rw = job.region.window
        counts = result.counts
        caveats = list(variant.caveats)
        if plan.missing_better:
            caveats.insert(0, "fallback")
        if threshold_info.get("scene"):
            caveats.append("scene_relative")  # also says why the reflectance guards were replaced
        elif not plan.reflectance_like and variant.reflectance_guards:
            caveats.append("not_reflectance")
        if counts["nodata"]:
            caveats.append("nodata")
        rejects = result.guard_rejects
        kept = result.kept
        return {
            "engine": self.name,
            "target_class": plan.target_class,
            "rule": variant.name,
            "rule_text": " AND ".join([primary.text(threshold_info["value"])] + [g.text() for g in guards]),
            "fallback_missing_roles": list(plan.missing_better),
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
            "guards": [{"test": g.text(), "why": g.why, "rejected_px": rejects[g.text()]} for g in guards],
            "skipped_guards": [] if plan.reflectance_like else [g.text() for g in variant.reflectance_guards],
            "mixed_edges": variant.mixed_edges,
            "mixed_urban": None if plan.endmembers is None else {
                "other_class": plan.partner.target_class,
                "other_rule": " AND ".join([plan.partner.variant.primary.text(plan.partner_threshold)]
                                           + [g.text() for g in plan.partner.guards]),
                "endmembers": plan.endmembers.describe(),
                "sample_px": {"vegetation": plan.endmembers.pixels[0], "built": plan.endmembers.pixels[1]},
            },
            # every test that decided, with the threshold used: per-feature explanations compare to these
            "conditions": [
                {"name": c.name, "op": c.op, "threshold": float(t), "label": c.text(t).rsplit(" ", 2)[0]}
                for c, t in [(primary, threshold_info["value"])] + [(g, g.threshold) for g in guards]
            ],
            "reflectance_like": bool(plan.reflectance_like),
            "pixels": {**counts, "total": int(rw.xsize * rw.ysize)},
            "pixel_area_m2": float(result.pixel_area) if result.pixel_area else None,
            "stats": {n: {"inside": h.summary(1), "outside": h.summary(0)} for n, h in result.stats.items()},
            "cleanup": result.cleanup,
            "feature_values": {"path": kept.path, "names": kept.names, "step": kept.step},
            "caveats": caveats,
            "windows": len(plan.windows),
        }

    @staticmethod
    def _looks_like_reflectance(source, variant: RuleVariant, windows, read) -> bool:
        """Reflectance check on a <= 512 x 512 sample from the middle of the first windows holding data."""
        from ..io.raster import Window

        if getattr(getattr(source, "scaling", None), "name", "") in ("brightness8", "uncalibrated"):
            return False  # 8-bit DN / 255 is brightness, not calibrated reflectance; no plausible gain found
        for window in windows[: min(len(windows), 16)]:
            xs, ys = min(window.xsize, 512), min(window.ysize, 512)
            sub = Window(
                window.xoff + (window.xsize - xs) // 2, window.yoff + (window.ysize - ys) // 2, xs, ys
            )
            bands, valid, _ = read(variant.roles)(sub)
            if valid.any():
                return looks_like_reflectance(bands, valid)
        return True

    @staticmethod
    def _scene_statistics(source, variant: RuleVariant, aoi_window, job, target_class: str) -> SceneStats:
        """Scene statistics (thresholds.scene_statistics) of ``target_class``'s rule from a sample of the
        scene (:meth:`_scene_sample`) with the variant's roles and the visible ones."""
        roles = list(
            dict.fromkeys([*variant.roles, *(r for r in ("blue", "green", "red") if r in source.roles)])
        )
        sample = SpectralEngine._scene_sample(source, roles, aoi_window, job)
        return scene_statistics(variant, sample, shifted_guard_indices(target_class, variant))

    @staticmethod
    def _scene_sample(source, roles: List[str], aoi_window, job, read_pixels: int = _SCENE_READ_PIXELS,
                      ) -> Dict[str, np.ndarray]:  # fmt: skip
        """Valid pixels (1-D arrays by role) spread over the area of interest grown to at least
        ``_SCENE_MIN_SIDE`` pixels a side: a tight area around a lake or a forest still sees the ordinary
        land its thresholds are relative to. Every strip of a small scene, an even subset of a large one, at
        most ``_SCENE_SAMPLE`` pixels kept."""
        scene = grown_window(aoi_window, source.width, source.height, _SCENE_MIN_SIDE)
        windows = list(source.iter_strips(scene, max_pixels=_STRIP_PIXELS))
        total = sum(w.xsize * w.ysize for w in windows)
        keep = max(1, min(len(windows), int(np.ceil(len(windows) * read_pixels / max(total, 1)))))
        picked = [windows[int(i)] for i in np.unique(np.linspace(0, len(windows) - 1, keep).round())]
        read_px = sum(w.xsize * w.ysize for w in picked)
        step = max(1, int(read_px // _SCENE_SAMPLE))
        parts: Dict[str, List[np.ndarray]] = {r: [] for r in roles}
        for _w, (bands, valid) in prefetch(picked, lambda w: source.read(roles, w)):
            job.check_cancelled()
            idx = np.flatnonzero(valid.ravel())[::step]
            for r in roles:
                parts[r].append(bands[r].ravel()[idx])
        return {r: np.concatenate(v) if v else np.empty(0, np.float32) for r, v in parts.items()}

    @staticmethod
    def _classify(
        variant: RuleVariant, bands, threshold, guards, guard_rejects, counts, valid, scratch=None, step=2
    ):
        """Primary test AND guards for one window; counts pixels each guard rejects.

        Returns the target mask and, for statistics, every index of the rule on the ``[::step, ::step]``
        pixel subsample. Guards are evaluated only on the pixels that passed the primary test when those
        are few (water, snow...): a guard index is then never computed over the whole window."""
        scratch = scratch or Scratch()
        shape = valid.shape
        primary = variant.primary.name

        def full_value(name: str) -> np.ndarray:
            if name in INDEX_DEFINITIONS:
                out = scratch.get(f"index:{name}", shape)
                return compute_index(name, bands, out=out, scratch=scratch.get("tmp", shape))
            return bands[name]

        full: Dict[str, np.ndarray] = {primary: full_value(primary)}
        with np.errstate(invalid="ignore"):
            target = variant.primary.test(full[primary], threshold)
            target &= valid
            n_pass = int(np.count_nonzero(target))
            counts["primary_pass"] += n_pass
            weak = target.copy() if variant.mixed_edges else None  # passed the primary test
            if guards and n_pass:
                if n_pass * 4 < target.size:  # sparse: test the passing pixels only
                    idx = np.flatnonzero(target)
                    sub = {r: bands[r].ravel()[idx] for r in roles_of(guards)}
                    keep = np.ones(idx.size, bool)
                    for cond in guards:
                        vals = (
                            compute_index(cond.name, sub)
                            if cond.name in INDEX_DEFINITIONS
                            else sub[cond.name]
                        )
                        ok = cond.test(vals)
                        rejected = int(np.count_nonzero(keep & ~ok))
                        guard_rejects[cond.text()] += rejected
                        keep &= ok
                    if not keep.all():
                        target.ravel()[idx[~keep]] = False
                else:
                    for cond in guards:
                        if cond.name not in full:
                            full[cond.name] = full_value(cond.name)
                        ok = cond.test(full[cond.name])
                        np.logical_not(ok, out=ok)
                        ok &= target
                        rejected = int(np.count_nonzero(ok))
                        if rejected:
                            guard_rejects[cond.text()] += rejected
                            target &= ~ok
        if variant.mixed_edges:  # shoreline pixels mostly water by local unmixing (mixed_pixels)
            counts["mixed_edge_px"] = counts.get("mixed_edge_px", 0) + grow_mixed_edges(
                target, bands, weak, variant.roles, valid
            )
        # statistics for every index of the rule, even those not needed to decide (e.g. after a guard)
        stats: Dict[str, np.ndarray] = {}
        sub_bands = None
        for name in variant.indices:
            if name in full:
                stats[name] = full[name][::step, ::step]
            else:
                if sub_bands is None:
                    sub_bands = {r: a[::step, ::step] for r, a in bands.items()}
                stats[name] = compute_index(name, sub_bands)
        return target, stats

    # -- explain -----------------------------------------------------------------------------------------
    def feature_details(self, job: EngineJob, output: EngineOutput, polygons, regions) -> List[Dict]:
        """``{"explain", "confidence"}`` per polygon (aligned with ``polygons.polygons``): the mean of every
        rule value inside the polygon against its threshold (explain.feature_explanation)."""
        from ..spectral.explain import condition_margin, feature_confidence, feature_explanation
        from ..spectral.feature_stats import polygon_means

        conditions = output.details.get("conditions") or []
        kept = output.details.get("feature_values") or {}
        items = polygons.polygons
        counts, means = polygon_means(kept["path"], items, polygons.crs_wkt, kept["names"],
                                      job.check_cancelled)  # fmt: skip
        step2 = float(kept.get("step", 1)) ** 2
        language = getattr(job.request, "language", None) or job.target.language
        out = []
        for i, polygon in enumerate(items):
            shown, margins = [], []
            for c in conditions:
                mean = float(means[c["name"]][i])
                definition = INDEX_DEFINITIONS.get(c["name"])
                value_range = definition.value_range if definition else (0.0, 1.0)  # band: reflectance
                margins.append(condition_margin(mean, c["op"], c["threshold"], value_range))
                shown.append({**c, "mean": mean})
            pixels = float(getattr(polygon, "area_px", 0) or 0) or float(counts[i]) * step2
            confidence = feature_confidence(margins, pixels)
            text = feature_explanation(job.target.target_class, i + 1, len(items), polygon.area_m2, pixels,
                                       regions[i], shown, confidence, language)  # fmt: skip
            out.append({"explain": text, "confidence": confidence})
        return out

    def explain(self, job: EngineJob, output: EngineOutput, regions: List[Dict[str, Any]]) -> str:
        """Full explanation text (language of the prompt or the request)."""
        from ..spectral.explain import spectral_explanation

        language = getattr(job.request, "language", None) or job.target.language
        return spectral_explanation(job.target, output.details, regions, language)


def _grown_by_one(window, region):
    """``window`` grown by one pixel on every side, kept inside ``region`` (both ``Window``)."""
    from ..io.raster import Window

    x0, y0 = max(window.xoff - 1, region.xoff), max(window.yoff - 1, region.yoff)
    x1 = min(window.xoff + window.xsize + 1, region.xoff + region.xsize)
    y1 = min(window.yoff + window.ysize + 1, region.yoff + region.ysize)
    return Window(x0, y0, x1 - x0, y1 - y0)
