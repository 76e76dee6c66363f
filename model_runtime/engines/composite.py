"""The 8-bit three-band composite the SPEX model sees.

SPEX was fine-tuned on 8-bit RGB NAIP PNGs, so a multispectral raster is turned into the closest thing:

* bands: red, green, blue roles (true colour). Without a blue band (e.g. a 3-band CIR or a custom stack) the
  green band stands in for blue ("pseudo true colour", vegetation stays greenish, water stays dark). Without
  red or green, the first three available roles (or a single band as grey) make a false-colour composite.
  Every fallback is reported as a note.
* stretch: per band, the 2nd and 98th percentiles of the valid pixels inside the area of interest map to 0
  and 255 (a robust linear stretch, like QGIS' "cumulative count cut"). The percentiles come from a
  histogram streamed window by window (two passes: min/max, then a 4096-bin histogram), so they are exact
  to 1/4096 of the data range and no full-size array is held. No-data and pixels outside the AOI polygon
  are excluded from the statistics and painted black.
* pixel values: the official ImageNet normalisation of the composite,
  :func:`model_runtime.spex.modeling.preprocess.pixel_values`.

Scale: tiles are 512 x 512 *native* pixels (no resampling). NAIP is ~0.6-1 m; resampling a 10 m
Sentinel-2 scene up to NAIP scale would add no detail and multiply the number of tiles by 100, and
resampling down would merge the very regions SPIE describes. The model is told sizes and positions
relative to the tile, which stay meaningful at any ground resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

HIST_BINS = 4096
FALSE_COLOUR_ORDER = ("nir", "red", "green", "swir1", "swir2", "blue", "red_edge", "coastal", "pan")


@dataclass(frozen=True)
class CompositeBands:
    """Which band roles feed the R, G and B channels, and why."""

    roles: Tuple[str, str, str]
    kind: str  # "true colour" | "pseudo true colour" | "false colour" | "grey"
    note: str = ""  # empty for true colour


@dataclass
class Stretch:
    """Per-channel linear stretch: ``low`` -> 0, ``high`` -> 255."""

    low: np.ndarray  # [3] float64
    high: np.ndarray  # [3] float64
    percentiles: Tuple[float, float] = (2.0, 98.0)
    notes: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, object]:
        """JSON-serialisable summary for result details."""
        return {
            "percentiles": list(self.percentiles),
            "low": [round(float(v), 6) for v in self.low],
            "high": [round(float(v), 6) for v in self.high],
        }


def choose_composite_bands(roles: Iterable[str]) -> CompositeBands:
    """Pick the composite's roles from the raster's available band roles (see module docstring)."""
    have = list(roles)
    if {"red", "green", "blue"} <= set(have):
        return CompositeBands(("red", "green", "blue"), "true colour")
    if {"red", "green"} <= set(have):
        return CompositeBands(
            ("red", "green", "green"),
            "pseudo true colour",
            "no blue band: the green band stands in for blue in the model's RGB composite",
        )
    ordered = [r for r in FALSE_COLOUR_ORDER if r in have] + sorted(
        r for r in have if r not in FALSE_COLOUR_ORDER
    )
    if len(ordered) >= 3:
        picked = tuple(ordered[:3])
        return CompositeBands(
            picked,  # type: ignore[arg-type]
            "false colour",
            f"no red+green bands: the model sees a false-colour composite ({'/'.join(picked)} as R/G/B); "
            "it was trained on true colour, so expect weaker results",
        )
    if ordered:
        band = ordered[0]
        return CompositeBands(
            (band, band, band),
            "grey",
            f"only the {band} band is usable: the model sees it as a grey image; expect weaker results",
        )
    raise ValueError("no band roles to build a composite from")


class StreamingHistogram:
    """Per-channel histograms over a known value range, fed block by block."""

    def __init__(self, lows: Sequence[float], highs: Sequence[float], bins: int = HIST_BINS):
        self.lows = np.asarray(lows, dtype=np.float64)
        self.highs = np.asarray(highs, dtype=np.float64)
        self.bins = bins
        self.counts = np.zeros((len(self.lows), bins), dtype=np.int64)

    def add(self, channel: int, values: np.ndarray) -> None:
        """Add the finite ``values`` (1-D) of one channel."""
        lo, hi = self.lows[channel], self.highs[channel]
        if values.size == 0:
            return
        if hi <= lo:
            self.counts[channel, 0] += values.size
            return
        idx = ((values.astype(np.float64) - lo) * (self.bins / (hi - lo))).astype(np.int64)
        np.clip(idx, 0, self.bins - 1, out=idx)
        self.counts[channel] += np.bincount(idx, minlength=self.bins)

    def percentile(self, channel: int, q: float) -> float:
        """The value below which ``q`` percent of the channel's samples lie (bin-centre interpolated)."""
        counts = self.counts[channel]
        total = counts.sum()
        lo, hi = self.lows[channel], self.highs[channel]
        if total == 0 or hi <= lo:
            return float(lo)
        cum = np.cumsum(counts)
        target = q / 100.0 * total
        b = int(np.searchsorted(cum, target, side="left"))
        b = min(b, self.bins - 1)
        before = cum[b - 1] if b > 0 else 0
        frac = (target - before) / counts[b] if counts[b] else 0.5
        width = (hi - lo) / self.bins
        return float(lo + (b + min(max(frac, 0.0), 1.0)) * width)


def compute_stretch(
    blocks_factory,
    n_channels: int = 3,
    percentiles: Tuple[float, float] = (2.0, 98.0),
    bins: int = HIST_BINS,
) -> Stretch:
    """Robust percentile stretch from a re-iterable stream of blocks.

    ``blocks_factory()`` returns an iterator of ``(channels: list of float arrays, valid: bool array)``;
    it is called twice (min/max pass, histogram pass). Only finite, valid samples count.
    """
    lows = np.full(n_channels, np.inf)
    highs = np.full(n_channels, -np.inf)
    for channels, valid in blocks_factory():
        for c, arr in enumerate(channels):
            vals = arr[valid & np.isfinite(arr)]
            if vals.size:
                lows[c] = min(lows[c], float(vals.min()))
                highs[c] = max(highs[c], float(vals.max()))
    notes: List[str] = []
    if not np.isfinite(lows).all():
        notes.append("no valid pixels in the area of interest: the composite is black")
        lows = np.where(np.isfinite(lows), lows, 0.0)
        highs = np.where(np.isfinite(highs), highs, 1.0)
        return Stretch(lows, highs, percentiles, notes)
    # Widen the top edge by one bin so that the maximum falls inside the last bin, not past it.
    hist = StreamingHistogram(lows, highs + (highs - lows) / bins, bins)
    for channels, valid in blocks_factory():
        for c, arr in enumerate(channels):
            hist.add(c, arr[valid & np.isfinite(arr)])
    low = np.array([hist.percentile(c, percentiles[0]) for c in range(n_channels)])
    high = np.array([hist.percentile(c, percentiles[1]) for c in range(n_channels)])
    flat = high <= low
    if flat.any():
        # A constant band (or one dominated by one value): fall back to its full range, else a unit step.
        high = np.where(flat, np.maximum(highs, low + 1e-6), high)
        notes.append("a composite band is nearly constant in the area of interest")
    return Stretch(low, high, percentiles, notes)


def stretch_to_uint8(
    channels: Sequence[np.ndarray], valid: np.ndarray | None, stretch: Stretch
) -> np.ndarray:
    """Apply ``stretch`` to three channel arrays [H, W] -> uint8 RGB [H, W, 3]; invalid pixels are 0."""
    h, w = channels[0].shape
    out = np.empty((h, w, 3), dtype=np.uint8)
    for c in range(3):
        lo, hi = float(stretch.low[c]), float(stretch.high[c])
        scaled = (channels[c].astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(scaled, 0.0, 255.0, out=scaled)
        out[..., c] = np.rint(scaled).astype(np.uint8)
    if valid is not None:
        out[~valid] = 0
    return out


def pad_to(array: np.ndarray, height: int, width: int, value=0) -> np.ndarray:
    """Pad a [H, W, ...] array at the bottom/right to ``height`` x ``width`` with ``value``."""
    h, w = array.shape[:2]
    if (h, w) == (height, width):
        return array
    pad = [(0, height - h), (0, width - w)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode="constant", constant_values=value)


def source_blocks(source, roles: Sequence[str], region, block: int = 1024):
    """A ``blocks_factory`` for :func:`compute_stretch` that streams ``region.window`` of a
    ``RasterSource`` (``valid`` also excludes pixels outside the AOI polygon)."""

    def factory():
        unique = list(dict.fromkeys(roles))
        for window in source.iter_windows(region.window, size=block):
            arrays, valid = source.read(unique, window)
            inside = region.mask(window)
            if inside is not None:
                valid = valid & inside
            yield [arrays[r] for r in roles], valid

    return factory
