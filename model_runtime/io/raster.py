"""Windowed reading of a multispectral raster with GDAL: band roles, reflectance scaling and a validity mask.

The raster is never read whole: :meth:`RasterSource.read` reads only the requested bands in one window (one
``ReadAsArray`` per band), and :meth:`RasterSource.iter_windows` walks a region in block-aligned windows.
GDAL's global exception setting is left alone (QGIS owns it): return values are checked and errors are
collected with a temporary quiet error handler.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Tuple

import numpy as np

from ..errors import SpexInputError
from .bands import BAND_ROLES, BandDetection, detect_band_roles
from .gdal_paths import check_dataset_path, quiet_gdal
from .scaling import ReflectanceScaling, detect_scaling

# Metres per degree on the WGS84 ellipsoid (good to ~0.5 %, enough for areas and size thresholds).
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class Window:
    """A pixel rectangle: column/row offset and size (all ints, 0-based)."""

    xoff: int
    yoff: int
    xsize: int
    ysize: int

    @property
    def shape(self) -> Tuple[int, int]:
        """(rows, columns) of an array covering the window."""
        return self.ysize, self.xsize

    def geotransform(self, raster_geotransform) -> Tuple[float, ...]:
        """Geotransform of an array covering this window of a raster with ``raster_geotransform``."""
        gt = raster_geotransform
        x0, y0 = self.xoff, self.yoff
        return (gt[0] + x0 * gt[1] + y0 * gt[2], gt[1], gt[2], gt[3] + x0 * gt[4] + y0 * gt[5], gt[4], gt[5])

    def bounds(self, raster_geotransform) -> Tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of this window in the raster CRS (pixel edges; north-up rasters)."""
        gt = raster_geotransform
        xs = (gt[0] + self.xoff * gt[1], gt[0] + (self.xoff + self.xsize) * gt[1])
        ys = (gt[3] + self.yoff * gt[5], gt[3] + (self.yoff + self.ysize) * gt[5])
        return min(xs), min(ys), max(xs), max(ys)

    def intersection(self, other: Window) -> Window | None:
        """The overlap of two windows, None when they do not overlap."""
        x0, y0 = max(self.xoff, other.xoff), max(self.yoff, other.yoff)
        x1 = min(self.xoff + self.xsize, other.xoff + other.xsize)
        y1 = min(self.yoff + self.ysize, other.yoff + other.ysize)
        if x1 <= x0 or y1 <= y0:
            return None
        return Window(x0, y0, x1 - x0, y1 - y0)


def open_gdal_raster(path: str, allow_network: bool = False):
    """``gdal.OpenEx(path, OF_RASTER)``; one-line :class:`SpexInputError` messages for the usual mistakes.

    The path is checked first (:func:`~model_runtime.io.gdal_paths.check_dataset_path`): GDAL virtual paths
    through GDAL, FIFOs and devices refused before opening, network sources only with ``allow_network``.
    """
    from osgeo import gdal


    text = "" if path is None else str(path).strip()
    if not text:
        raise SpexInputError("no raster given: pass the path of a multispectral GeoTIFF (or any GDAL raster)")
    check_dataset_path(text, "raster", allow_network=allow_network)
    from .products import open_product

    try:
        with quiet_gdal():
            product = open_product(text)  # SAFE folder/zip, folder of per-band files, /vsizip/ of those
    except RuntimeError:  # a caller switched gdal.UseExceptions() on and a band file is unreadable
        product = None
    if product is not None:
        return product
    if os.path.isdir(text) and not text.rstrip("/\\").lower().endswith((".zarr", ".gdb")):
        raise SpexInputError(
            f"raster {text} is a folder without band files of standard names (..._B04.jp2, ..._SR_B4.TIF): "
            "give the path of a raster file inside it or a Sentinel-2 SAFE / Landsat product folder"
        )
    message = ""
    try:
        with quiet_gdal():
            ds = gdal.OpenEx(text, gdal.OF_RASTER)
            message = gdal.GetLastErrorMsg()
    except RuntimeError as exc:  # a caller switched gdal.UseExceptions() on
        ds, message = None, str(exc)
    if ds is None:
        detail = f" ({message.splitlines()[0][:200]})" if message else ""
        raise SpexInputError(
            f"GDAL cannot open {text} as a raster{detail}: give a GeoTIFF or another format GDAL reads"
        )
    if ds.RasterCount == 0:
        subs = [v for k, v in (ds.GetMetadata("SUBDATASETS") or {}).items() if k.endswith("_NAME")]
        if subs:
            raise SpexInputError(f"{text} holds {len(subs)} sub-datasets: open one of them, e.g. {subs[0]}")
        raise SpexInputError(f"{text} has no raster bands: give a multispectral raster")
    return ds


def read_error(name: str, exc: BaseException | str, window: Window | None = None) -> SpexInputError:
    """One-line SpexInputError for a GDAL failure while reading pixels of raster ``name``."""
    detail = " ".join(str(exc).split())[:200]
    detail = f" ({detail})" if detail else ""
    where = f" at {window}" if window is not None else ""
    return SpexInputError(
        f"GDAL could not read {name}{where}{detail}: the file (or a VRT source) may be truncated, corrupt "
        "or missing; check it with gdalinfo -checksum"
    )


class RasterSource:
    """An open multispectral raster: band roles, scaling, georeferencing and windowed reads.

    Use :meth:`open`; it is a context manager (``with RasterSource.open(path) as src: ...``).
    """

    def __init__(self, ds, path: str, detection: BandDetection, scaling: ReflectanceScaling):
        gt = ds.GetGeoTransform(can_return_null=True)
        name = os.path.basename(path)
        if gt is None or tuple(gt) == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0):
            raise SpexInputError(
                f"{name} has no georeferencing: polygons would have no location; georeference it first "
                "(QGIS Georeferencer or gdal_translate -a_ullr -a_srs)"
            )
        if not all(math.isfinite(v) for v in gt) or gt[1] == 0.0 or gt[5] == 0.0:
            raise SpexInputError(
                f"{name} has an invalid geotransform {tuple(gt)} (non-finite or zero pixel size): "
                "fix its georeferencing, e.g. gdal_translate -a_ullr xmin ymax xmax ymin"
            )
        if gt[2] != 0.0 or gt[4] != 0.0:
            raise SpexInputError(f"{name} has a rotated geotransform: warp it north-up first with gdalwarp")
        self._ds = ds
        self.path = path
        self.width = ds.RasterXSize
        self.height = ds.RasterYSize
        self.band_count = ds.RasterCount
        self.geotransform: Tuple[float, ...] = tuple(gt)
        srs = ds.GetSpatialRef()
        self.crs_wkt = _export_wkt(srs) if srs is not None else ""
        self._srs = srs
        self.detection = detection
        self.sensor = detection.sensor
        self.roles: Dict[str, int] = dict(detection.roles)
        self.scaling = scaling
        block = ds.GetRasterBand(1).GetBlockSize()
        self.block_size: Tuple[int, int] = (int(block[0]), int(block[1]))
        self.notes: List[str] = list(detection.notes)
        if srs is None:
            self.notes.append("no CRS: pixel sizes assumed to be in metres")
        self.pixel_size_m = self.pixel_size_m_at(self.full_window)

    # ------------------------------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, path: str, sensor: str | None = None, bands=None, scaling=None, allow_network: bool = False
    ) -> RasterSource:
        """Open ``path``; ``sensor`` preset, ``bands`` (``{"red": 3}`` or ``"red=3"``) and ``scaling``
        (``--scaling`` text) override detection; network sources only with ``allow_network``. Raises
        :class:`SpexInputError` for unusable inputs."""
        from osgeo import gdal

        ds = open_gdal_raster(path, allow_network=allow_network)
        name = os.path.basename(str(path))
        if ds.RasterCount < 2:
            raise SpexInputError(
                f"{name} has a single band: extraction needs several bands (at least red, green, NIR or "
                "red, green, blue); stack them into one file, e.g. gdalbuildvrt -separate stack.vrt B*.tif"
            )
        complex_types = (gdal.GDT_CInt16, gdal.GDT_CInt32, gdal.GDT_CFloat32, gdal.GDT_CFloat64)
        for i in range(1, ds.RasterCount + 1):
            if ds.GetRasterBand(i).DataType in complex_types:
                raise SpexInputError(
                    f"band {i} of {name} holds complex numbers (radar/interferometry data): give reflectance "
                    "bands, or convert with gdal_translate -ot Float32 after taking the amplitude"
                )
        try:
            detection = detect_band_roles(ds, sensor=sensor, user_bands=bands)
            chosen = detect_scaling(ds, detection.sensor, override=scaling, roles=detection.roles)
        except RuntimeError as exc:  # GDAL failed while sampling pixels: a truncated or corrupt file
            raise read_error(name, exc) from None
        return cls(ds, str(path), detection, chosen)

    def close(self) -> None:
        """Release the GDAL dataset."""
        self._ds = None

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def dataset(self):
        """The underlying ``gdal.Dataset`` (read-only use)."""
        if self._ds is None:
            raise ValueError(f"raster {self.path} is closed")
        return self._ds

    # ------------------------------------------------------------------------------------------ geometry
    @property
    def full_window(self) -> Window:
        """The whole raster."""
        return Window(0, 0, self.width, self.height)

    @property
    def srs(self):
        """``osr.SpatialReference`` of the raster (traditional GIS axis order) or None."""
        if self._srs is not None:
            from osgeo import osr

            self._srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        return self._srs

    def window_bounds(self, window: Window) -> Tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of ``window`` in the raster CRS."""
        return window.bounds(self.geotransform)

    def window_geotransform(self, window: Window) -> Tuple[float, ...]:
        """Geotransform of an array covering ``window``."""
        return window.geotransform(self.geotransform)

    def pixel_size_m_at(self, window: Window) -> Tuple[float, float]:
        """(x, y) pixel size in metres; for geographic CRSs, approximate at the window's centre latitude."""
        gt = self.geotransform
        px, py = abs(gt[1]), abs(gt[5])
        srs = self._srs
        if srs is None:
            return px, py
        if srs.IsGeographic():
            _, ymin, _, ymax = self.window_bounds(window)
            lat = math.radians(max(-89.9, min(89.9, (ymin + ymax) / 2.0)))
            return px * _M_PER_DEG_LON_EQUATOR * math.cos(lat), py * _M_PER_DEG_LAT
        unit = srs.GetLinearUnits() or 1.0  # metres per CRS unit (e.g. 0.3048 for feet)
        return px * unit, py * unit

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel in square metres (at the raster centre for geographic CRSs)."""
        return float(self.pixel_size_m[0] * self.pixel_size_m[1])

    # ------------------------------------------------------------------------------------------ roles
    def require(self, roles: Iterable[str], purpose: str) -> None:
        """Raise :class:`SpexInputError` naming the missing roles and the ``--bands role=N`` fix."""
        missing = [r for r in roles if r not in self.roles]
        if not missing:
            return
        unknown = [r for r in missing if r not in BAND_ROLES]
        if unknown:
            raise ValueError(f"unknown band role(s) {unknown}")
        found = ", ".join(f"{r}={i}" for r, i in self.roles.items()) or "none"
        example = ",".join(f"{r}=N" for r in missing)
        raise SpexInputError(
            f"{purpose} needs the {', '.join(missing)} band(s), not found in {os.path.basename(self.path)} "
            f"(detected: {found}): map them with --bands {example}"
        )

    # ------------------------------------------------------------------------------------------ reading
    def _check_window(self, window: Window) -> None:
        if (
            window.xoff < 0 or window.yoff < 0 or window.xsize <= 0 or window.ysize <= 0
            or window.xoff + window.xsize > self.width or window.yoff + window.ysize > self.height
        ):  # fmt: skip
            raise ValueError(f"window {window} is outside the {self.width} x {self.height} raster")

    def read(
        self, roles: Iterable[str], window: Window, out: np.ndarray | None = None
    ) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
        """Reflectance (float32) of each role in ``window`` and the ``valid`` mask (bool, same shape).

        A pixel is invalid where any read band equals its no-data value, is NaN, is masked by the GDAL mask
        band (per-dataset mask, alpha, .msk), or where all read bands are 0 (the fill of most products).
        Invalid pixels are NaN in every returned array.

        All bands are read with one dataset-level ``ReadAsArray`` straight into a float32 buffer (a
        pixel-interleaved tile is decoded once, GDAL converts the type in C) and scaled in place. ``out``: an
        optional reusable C-contiguous float32 buffer of at least ``len(roles) * rows * cols`` elements (any
        shape; a smaller one is ignored); the returned arrays are views into it.
        """
        roles = list(dict.fromkeys(roles))
        self.require(roles, "reading")
        self._check_window(window)
        ds = self.dataset
        rows, cols = window.shape
        indices = [self.roles[r] for r in roles]
        needed = len(roles) * rows * cols
        if out is not None and out.dtype == np.float32 and out.flags.c_contiguous and out.size >= needed:
            buf = out.reshape(-1)[:needed].reshape(len(roles), rows, cols)
        else:
            buf = np.empty((len(roles), rows, cols), dtype=np.float32)
        args = (window.xoff, window.yoff, window.xsize, window.ysize)
        try:
            result = ds.ReadAsArray(*args, buf_obj=buf, band_list=indices)
        except RuntimeError as exc:  # gdal.UseExceptions() is on (the CLI, QGIS plugins)
            raise read_error(os.path.basename(self.path), exc, window) from None
        if result is None:
            raise SpexInputError(
                f"GDAL could not read bands {indices} of {os.path.basename(self.path)} at {window}: "
                "the file may be truncated or corrupt; check it with gdalinfo -checksum"
            )
        valid, floating = self._valid_pixels(buf, indices, window)
        for k, index in enumerate(indices):
            gain, offset = self.scaling.factors(index)
            if gain != 1.0:
                buf[k] *= np.float32(gain)
            if offset != 0.0:
                buf[k] += np.float32(offset)
        if floating:  # scaling can overflow float32 to inf
            for k in range(len(indices)):
                valid &= np.isfinite(buf[k])
        if not valid.all():
            invalid = ~valid
            for k in range(len(indices)):
                np.copyto(buf[k], np.float32(np.nan), where=invalid)
        return {role: buf[k] for k, role in enumerate(roles)}, valid

    def _valid_pixels(self, buf: np.ndarray, indices: List[int], window: Window) -> Tuple[np.ndarray, bool]:
        """The valid mask of the raw values in ``buf`` (see :meth:`read`) and whether any band is floating."""
        from osgeo import gdal

        ds = self.dataset
        args = (window.xoff, window.yoff, window.xsize, window.ysize)
        valid = np.ones(window.shape, dtype=bool)
        zero_is_nodata = True
        masks_done = set()
        floating = False
        for k, index in enumerate(indices):
            band = ds.GetRasterBand(index)
            arr = buf[k]
            if band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64, gdal.GDT_CFloat32, gdal.GDT_CFloat64):
                floating = True
                valid &= np.isfinite(arr)
            nodata = band.GetNoDataValue()
            if nodata is not None:
                if math.isnan(nodata):
                    valid &= ~np.isnan(arr)
                else:
                    valid &= arr != np.float32(nodata)
            if nodata != 0:
                zero_is_nodata = False
            flags = band.GetMaskFlags()
            if not flags & (gdal.GMF_ALL_VALID | gdal.GMF_NODATA):  # a real mask: per-dataset, alpha, .msk
                key = "dataset" if flags & gdal.GMF_PER_DATASET else index
                if key not in masks_done:
                    masks_done.add(key)
                    try:
                        mask = band.GetMaskBand().ReadAsArray(*args)
                    except RuntimeError as exc:
                        raise read_error(os.path.basename(self.path), exc, window) from None
                    if mask is not None:
                        valid &= mask > 0
        if not zero_is_nodata:  # a 0 no-data on every band already removed any all-zero pixel
            all_zero: np.ndarray | None = None
            for k in range(len(indices)):
                zero = buf[k] == 0
                all_zero = zero if all_zero is None else np.logical_and(all_zero, zero, out=all_zero)
            if all_zero is not None:
                valid &= ~all_zero
        return valid, floating

    def iter_strips(self, region: Window | None = None, max_pixels: int = 4 * 1024 * 1024,
                    ) -> Iterator[Window]:  # fmt: skip
        """Windows covering ``region`` top to bottom as full-width strips of whole GDAL block rows, each of
        about ``max_pixels`` pixels (at least one block row, so up to 4x more on wide rasters with tall
        blocks). Full-width strips decode every tile once and let a strip's neighbours (above and below) be
        the only context a streamed filter needs. A region with more than ``4 * max_pixels`` pixels per
        block row is split into block-aligned columns as well."""
        region = region or self.full_window
        self._check_window(region)
        bx, by = self.block_size
        by = max(1, min(by, 1024))  # strip-organised files (one huge "block") still stream in bounded rows
        rows = max(by, (max_pixels // max(region.xsize, 1)) // by * by)
        cols = region.xsize
        if region.xsize * by > 4 * max_pixels:  # very wide: one block row alone would be too big
            rows = by
            cols = max(bx, (max_pixels // by) // bx * bx)
        if cols >= region.xsize:
            xs = [(region.xoff, region.xoff + region.xsize)]
        else:
            xs = _aligned_edges(region.xoff, region.xsize, cols)
        for y0, y1 in _aligned_edges(region.yoff, region.ysize, rows):
            for x0, x1 in xs:
                yield Window(x0, y0, x1 - x0, y1 - y0)

    def iter_windows(self, region: Window | None = None, size: int = 1024) -> Iterator[Window]:
        """Windows covering ``region`` (default: the whole raster) row by row; edges fall on GDAL block
        boundaries when the block is smaller than ``size``, so no block is decoded twice."""
        region = region or self.full_window
        self._check_window(region)
        bx, by = self.block_size
        step_x = max(bx, (size // bx) * bx) if bx < size else size
        step_y = max(by, (size // by) * by) if by < size else size
        for y0, y1 in _aligned_edges(region.yoff, region.ysize, step_y):
            for x0, x1 in _aligned_edges(region.xoff, region.xsize, step_x):
                yield Window(x0, y0, x1 - x0, y1 - y0)

    # ------------------------------------------------------------------------------------------ info
    def describe(self) -> dict:
        """What ``spex info`` prints, as a JSON-serialisable dict."""
        from osgeo import gdal

        ds = self.dataset
        srs = self._srs
        epsg = None
        if srs is not None:
            srs_copy = srs.Clone()
            if srs_copy.AutoIdentifyEPSG() == 0 or srs_copy.GetAuthorityCode(None):
                code = srs_copy.GetAuthorityCode(None)
                epsg = int(code) if code and code.isdigit() else None
        bands = []
        for i in range(1, self.band_count + 1):
            band = ds.GetRasterBand(i)
            role = self.detection.role_of_band(i)
            gain, offset = self.scaling.factors(i)
            bands.append(
                {
                    "index": i,
                    "description": band.GetDescription() or "",
                    "dtype": gdal.GetDataTypeName(band.DataType),
                    "nodata": _json_number(band.GetNoDataValue()),
                    "mask": _mask_name(band.GetMaskFlags()),
                    "role": role,
                    "role_source": self.detection.source_of_each_role.get(role) if role else None,
                    "colour": gdal.GetColorInterpretationName(band.GetColorInterpretation()),
                    "gain": gain,
                    "offset": offset,
                }
            )
        return {
            "path": self.path,
            "driver": ds.GetDriver().ShortName,
            "width": self.width,
            "height": self.height,
            "band_count": self.band_count,
            "crs": {"name": srs.GetName() if srs is not None else None, "epsg": epsg, "wkt": self.crs_wkt},
            "geotransform": list(self.geotransform),
            "bounds": list(self.window_bounds(self.full_window)),
            "pixel_size_m": [float(v) for v in self.pixel_size_m],
            "pixel_area_m2": self.pixel_area_m2,
            "block_size": list(self.block_size),
            "sensor": self.sensor,
            "sensor_reason": self.detection.sensor_reason,
            "roles": dict(self.roles),
            "role_sources": dict(self.detection.source_of_each_role),
            "scaling": {
                "name": self.scaling.name,
                "gain": self.scaling.gain,
                "offset": self.scaling.offset,
                "reason": self.scaling.reason,
                "per_band": {str(k): list(v) for k, v in self.scaling.band_factors.items()},
                "text": self.scaling.describe(),
            },
            "bands": bands,
            "notes": list(self.notes),
        }


def _export_wkt(srs) -> str:
    """WKT of ``srs``: WKT1 when it exists, else WKT2 (e.g. Equal Earth has no WKT1 form)."""
    for options in ([], ["FORMAT=WKT2_2018"]):
        try:
            with quiet_gdal():
                wkt = srs.ExportToWkt(options)
        except RuntimeError:
            continue
        if wkt:
            return wkt
    raise SpexInputError(
        "the raster's CRS cannot be written as WKT: assign an EPSG CRS with gdal_translate -a_srs"
    )


def _aligned_edges(start: int, length: int, step: int) -> List[Tuple[int, int]]:
    end = start + length
    edges = [start]
    edge = (start // step + 1) * step
    while edge < end:
        edges.append(edge)
        edge += step
    edges.append(end)
    return list(zip(edges[:-1], edges[1:]))


def _json_number(value: float | None):
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    return int(value) if float(value).is_integer() else float(value)


def _mask_name(flags: int) -> str:
    from osgeo import gdal

    if flags & gdal.GMF_ALL_VALID:
        return "none"
    if flags & gdal.GMF_NODATA:
        return "nodata value"
    if flags & gdal.GMF_ALPHA:
        return "alpha band"
    if flags & gdal.GMF_PER_DATASET:
        return "per-dataset mask"
    return "mask band"
