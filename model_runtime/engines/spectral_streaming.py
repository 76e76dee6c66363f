"""The spectral engine's streaming parts: reading strips ahead, reused buffers, fixed-bin histograms,
cleaning each mask strip with its neighbours as context, and the sampled rule values kept for per-feature
statistics. Bounded memory whatever the raster size; :mod:`model_runtime.engines.spectral` drives them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from ..spectral.indices import INDEX_DEFINITIONS, compute_index

#: rule values kept for per-feature statistics: every pixel up to this many, else a 1-in-d^2 sample
FEATURE_SAMPLE_PIXELS = 4 * 1024 * 1024


class FeatureValues:
    """The rule's values (every condition's index or band) kept while classifying, for per-feature
    statistics without a second read of the raster: at every pixel for areas up to
    :data:`FEATURE_SAMPLE_PIXELS`, else at every ``step``-th pixel of every ``step``-th row (step a power
    of two). A float32 GeoTIFF in the job folder, NaN where not valid."""

    def __init__(self, path: str, source, region_window, names: Sequence[str]):
        from osgeo import gdal

        total = region_window.xsize * region_window.ysize
        self.step = 1
        while total / float(self.step * self.step) > FEATURE_SAMPLE_PIXELS:
            self.step *= 2
        d = self.step
        self.path, self.names, self.region = path, list(names), region_window
        width, height = -(-region_window.xsize // d), -(-region_window.ysize // d)
        gt = source.geotransform
        x0 = gt[0] + region_window.xoff * gt[1]
        y0 = gt[3] + region_window.yoff * gt[5]
        # a sample pixel of this grid is centred on the full-resolution pixel it was taken from
        self.geotransform = (x0 + (0.5 - d / 2) * gt[1], d * gt[1], 0.0, y0 + (0.5 - d / 2) * gt[5], 0.0,
                             d * gt[5])  # fmt: skip
        self.ds = gdal.GetDriverByName("GTiff").Create(
            path, width, height, len(self.names), gdal.GDT_Float32, ["TILED=YES", "BIGTIFF=IF_SAFER"]
        )
        self.ds.SetGeoTransform(self.geotransform)
        if source.crs_wkt:
            self.ds.SetProjection(source.crs_wkt)

    def add(self, window, bands, valid) -> None:
        """Keep the sampled values of one classified window (offsets relative to the region)."""
        d = self.step
        fy = (-(window.yoff - self.region.yoff)) % d
        fx = (-(window.xoff - self.region.xoff)) % d
        if fy >= window.ysize or fx >= window.xsize:
            return
        sub = {r: a[fy::d, fx::d] for r, a in bands.items()}
        ok = valid[fy::d, fx::d]
        yo = (window.yoff - self.region.yoff + fy) // d
        xo = (window.xoff - self.region.xoff + fx) // d
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, name in enumerate(self.names, start=1):
                values = compute_index(name, sub) if name in INDEX_DEFINITIONS else np.array(sub[name])
                values = np.where(ok, values, np.float32(np.nan)).astype(np.float32, copy=False)
                self.ds.GetRasterBand(k).WriteArray(values, xo, yo)

    def close(self) -> None:
        """Flush and close the file."""
        if self.ds is not None:
            self.ds.FlushCache()
            self.ds = None


class Histogram:
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


def prefetch(windows: Sequence[Any], read: Callable[[Any], Any]) -> Iterator[Tuple[Any, Any]]:
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


def roles_of(conditions) -> List[str]:
    """Band roles the conditions read (an index's roles, or the role a raw-band condition names)."""
    roles: Dict[str, None] = {}
    for c in conditions:
        for r in INDEX_DEFINITIONS[c.name].roles if c.name in INDEX_DEFINITIONS else (c.name,):
            roles[r] = None
    return list(roles)


def grown_window(window, width: int, height: int, min_side: int):
    """``window`` grown around its centre to at least ``min_side`` a side, kept inside the raster."""
    from ..io.raster import Window

    def grow(off: int, size: int, limit: int):
        new = max(size, min(limit, min_side))
        start = min(max(0, off + size // 2 - new // 2), limit - new)
        return start, new

    x0, w = grow(window.xoff, window.xsize, width)
    y0, h = grow(window.yoff, window.ysize, height)
    return Window(x0, y0, w, h)


class Scratch:
    """Reusable float32 work arrays keyed by name (reallocated only when a larger window comes)."""

    def __init__(self):
        self._arrays: Dict[str, np.ndarray] = {}

    def get(self, key: str, shape: Tuple[int, int]) -> np.ndarray:
        """A C-contiguous float32 array of ``shape`` (contents undefined)."""
        size = shape[0] * shape[1]
        arr = self._arrays.get(key)
        if arr is None or arr.size < size:
            arr = self._arrays[key] = np.empty(size, np.float32)
        return arr[:size].reshape(shape)


class StripCleaner:
    """Writes full-width mask strips in order, each sieved with ``halo`` rows of context above and below
    (cleanup.sieve_strip): the mask file is written once, already clean, and never re-read."""

    def __init__(self, band, region_window, halo: int, min_px: int, fill_px: int, stats: Dict[str, int]):
        self.band = band
        self.height = region_window.ysize
        self.halo = halo
        self.min_px = min_px  # smallest region kept
        self.fill_px = fill_px  # holes under this are filled
        self.stats = stats  # filled_hole_px / removed_region_px are added up here
        self.strips: List[Tuple[int, np.ndarray]] = []  # (row offset in the region, original mask rows)
        self.written = 0  # rows written so far
        self.available = 0  # rows classified so far

    def add(self, mask: np.ndarray, row: int) -> None:
        """Take the classified strip starting at region row ``row`` (strips come top to bottom)."""
        self.strips.append((row, mask.copy()))
        self.available = row + mask.shape[0]
        self._flush(final=False)

    def finish(self) -> None:
        """Write the strips still held back for context."""
        self._flush(final=True)

    def _rows(self, top: int, bottom: int) -> np.ndarray:
        parts = [m[max(top - y, 0) : max(0, min(bottom - y, m.shape[0]))] for y, m in self.strips]
        parts = [p for p in parts if p.shape[0]]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _flush(self, final: bool) -> None:
        from ..spectral.cleanup import sieve_strip

        for y, m in self.strips:
            end = y + m.shape[0]
            if y < self.written:
                continue
            if not final and min(end + self.halo, self.height) > self.available:
                break
            top, bottom = max(0, y - self.halo), min(self.available, end + self.halo)
            context = self._rows(top, bottom)
            core, filled, removed = sieve_strip(context, y - top, end - top, self.min_px, self.fill_px)
            self.stats["filled_hole_px"] += filled
            self.stats["removed_region_px"] += removed
            self.band.WriteArray(core, 0, y)
            self.written = end
        # keep only the rows still needed as context above the next strip to write
        self.strips = [(y, m) for y, m in self.strips if y + m.shape[0] > self.written - self.halo]


class WindowReader:
    """``reader(roles, buffers)`` gives a function reading one window: (bands, valid, aoi mask), valid already
    limited to the area-of-interest polygon; with ``buffers`` it alternates between them (one being read,
    one being classified)."""

    def __init__(self, source, region, drop_cache: bool):
        self.source, self.region, self.drop_cache = source, region, drop_cache

    def __call__(self, roles: Sequence[str], buffers: List[np.ndarray] | None = None) -> Callable[[Any], Any]:
        calls = {"n": 0}
        source, region = self.source, self.region

        def _read(window):
            out = None
            if buffers is not None:
                out = buffers[calls["n"] % len(buffers)]
                calls["n"] += 1
            bands, valid = source.read(list(roles), window, out=out)
            if self.drop_cache:  # every block of this window has been used: free GDAL's copy now
                source.dataset.FlushCache()
            aoi = region.mask(window)
            if aoi is not None:
                valid &= aoi
            return bands, valid, aoi

        return _read
