"""Turn a batch's inputs into work items: rasters from a folder, glob or list file, and the chunk grid of a
large raster.

Chunks follow the raster's block grid (a chunk never splits a GDAL block, so no block is decoded twice
within a chunk) and each is grown by an overlap of at least the mask cleanup's context
(:func:`model_runtime.spectral.cleanup.sieve_halo`): inside its core a chunk's mask then equals the
whole-raster mask, which is what lets :mod:`model_runtime.batching.mosaic` rebuild the single-run polygons.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import SpexInputError
from ..io.raster import Window
from .request import DEFAULT_PATTERNS

_LIST_SUFFIXES = (".txt", ".csv", ".lst", ".list")
#: overlap used when none is given and the cleanup needs less: room for the SPEX engine's tile context
MIN_DEFAULT_OVERLAP = 64


@dataclass(frozen=True)
class Chunk:
    """One chunk of a raster: its core (the pixels it is responsible for) and the grown window it reads."""

    row: int
    col: int
    core: Tuple[int, int, int, int]  # xoff, yoff, xsize, ysize
    window: Tuple[int, int, int, int]  # core grown by the overlap, clipped to the raster

    def bbox(self, geotransform: Sequence[float]) -> Tuple[float, float, float, float]:
        """The grown window as xmin, ymin, xmax, ymax in the raster CRS (pixel edges)."""
        return Window(*self.window).bounds(geotransform)


@dataclass(frozen=True)
class ChunkGrid:
    """How a raster is cut: the chunks, the overlap and the raster's size and geotransform."""

    raster: str
    width: int
    height: int
    geotransform: Tuple[float, ...]
    crs_wkt: str
    chunk_size: Tuple[int, int]
    overlap: int
    chunks: Tuple[Chunk, ...]


def _is_raster_name(name: str, patterns: Sequence[str]) -> bool:
    import fnmatch

    lower = name.lower()
    return any(fnmatch.fnmatch(lower, p.lower()) for p in patterns)


def _read_list(path: str) -> List[str]:
    """Paths from a text/CSV list: first column, blank lines and ``#`` comments skipped, a header line
    named ``path``/``raster``/``input`` skipped, relative paths taken relative to the list's folder."""
    base = os.path.dirname(os.path.abspath(path))
    out: List[str] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for index, row in enumerate(csv.reader(handle)):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            value = row[0].strip()
            if index == 0 and value.lower() in ("path", "raster", "input", "file"):
                continue
            out.append(value if os.path.isabs(value) else os.path.join(base, value))
    return out


def resolve_inputs(inputs, pattern: Optional[str] = None, recursive: bool = False) -> List[str]:
    """Absolute raster paths for ``inputs`` (see :class:`~model_runtime.batching.BatchRequest`), in a stable
    order, without duplicates. A listed path that does not exist is kept: the batch reports it as a failed
    item. Raises SpexInputError when nothing matches or none of the paths exists."""
    patterns = tuple(p.strip() for p in pattern.split(";") if p.strip()) if pattern else DEFAULT_PATTERNS
    given = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    paths: List[str] = []
    for entry in given:
        entry = os.path.expanduser(str(entry))
        if os.path.isdir(entry) and not entry.lower().endswith((".safe", ".zarr")):
            found = []
            walker = os.walk(entry) if recursive else [(entry, [], os.listdir(entry))]
            for folder, _dirs, files in walker:
                found += [os.path.join(folder, f) for f in files if _is_raster_name(f, patterns)]
            paths += sorted(found)
        elif os.path.isfile(entry) and entry.lower().endswith(_LIST_SUFFIXES):
            paths += _read_list(entry)
        elif glob.has_magic(entry):
            paths += sorted(p for p in glob.glob(entry, recursive=recursive) if os.path.isfile(p))
        else:
            paths.append(entry)
    unique = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    if not unique:
        shown = ", ".join(str(g) for g in given) or "(nothing)"
        raise SpexInputError(
            f"no raster found in {shown} (patterns {';'.join(patterns)}): check the folder, glob or list, "
            "or pass --pattern"
        )
    if not any(os.path.exists(p) for p in unique):
        shown = unique[0] if len(unique) == 1 else f"{unique[0]} and {len(unique) - 1} more"
        raise SpexInputError(f"input {shown} does not exist: check the path(s)")
    return unique


def output_names(rasters: Sequence[str], suffix: str = ".gpkg") -> Dict[str, str]:
    """A distinct output file name per raster: its stem, plus a short hash of its folder when two rasters
    of different folders share a stem."""
    stems: Dict[str, List[str]] = {}
    for path in rasters:
        stems.setdefault(os.path.splitext(os.path.basename(path))[0], []).append(path)
    names: Dict[str, str] = {}
    for stem, paths in stems.items():
        for path in paths:
            if len(paths) == 1:
                names[path] = stem + suffix
            else:
                tag = hashlib.sha1(os.path.dirname(path).encode("utf-8")).hexdigest()[:6]
                names[path] = f"{stem}_{tag}{suffix}"
    return names


def cleanup_overlap(pixel_area_m2: float | None) -> int:
    """Overlap in pixels that makes a chunk's mask exact in its core: the sieve context of the cleanup
    the spectral engine applies (it grows with finer pixels: 100 m2 is 400 pixels of 0.5 m)."""
    from ..spectral.cleanup import default_min_region_px, sieve_halo

    min_px = default_min_region_px(pixel_area_m2)
    return sieve_halo(min_px, min_px)


def plan_chunks(raster: str, chunk_size: int, overlap: Optional[int] = None, **source_options) -> ChunkGrid:
    """Cut ``raster`` into chunks of about ``chunk_size`` pixels a side, rounded up to whole GDAL blocks,
    grown by ``overlap`` pixels (at least :func:`cleanup_overlap`). ``source_options`` (sensor, bands,
    scaling) are those of the extraction, so the pixel area is the one the engine sees."""
    from ..io.raster import RasterSource

    if int(chunk_size) < 64:
        raise SpexInputError(f"chunk size {chunk_size} is too small: use at least 64 pixels (e.g. 4096)")
    with RasterSource.open(raster, **source_options) as source:
        gt = tuple(source.geotransform)
        if gt[2] or gt[4]:
            raise SpexInputError(
                f"{raster} has a rotated geotransform: chunking needs a north-up raster; warp it first "
                "(gdalwarp) or run it without --chunk-size"
            )
        width, height = source.width, source.height
        bx, by = source.block_size
        needed = cleanup_overlap(source.pixel_area_m2)
        crs_wkt = source.crs_wkt or ""
    bx, by = max(1, min(bx, width)), max(1, min(by, height))
    cw = int(math.ceil(int(chunk_size) / bx) * bx)
    ch = int(math.ceil(int(chunk_size) / by) * by)
    margin = max(needed, int(overlap) if overlap is not None else max(needed, MIN_DEFAULT_OVERLAP))
    chunks = []
    for row, y0 in enumerate(range(0, height, ch)):
        for col, x0 in enumerate(range(0, width, cw)):
            core = (x0, y0, min(cw, width - x0), min(ch, height - y0))
            gx0, gy0 = max(0, x0 - margin), max(0, y0 - margin)
            gx1, gy1 = min(width, x0 + core[2] + margin), min(height, y0 + core[3] + margin)
            chunks.append(Chunk(row, col, core, (gx0, gy0, gx1 - gx0, gy1 - gy0)))
    return ChunkGrid(raster, width, height, gt, crs_wkt, (cw, ch), margin, tuple(chunks))
