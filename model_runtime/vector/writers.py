"""Atomic vector output: GeoPackage (default), ESRI Shapefile, GeoJSON.

Everything is written under a temporary name in the destination folder and renamed into place at the end,
so a failed or cancelled job never leaves a half-written file and never damages an existing one. An
existing output is only replaced with ``overwrite=True``.

Format notes:
  * GeoJSON follows RFC 7946: coordinates are reprojected to WGS 84 (EPSG:4326, lon/lat order).
  * Shapefile (dBASE) text fields hold at most 254 bytes. Longer texts (the explanation, a long prompt) are
    split at UTF-8 character boundaries over ``explain``, ``explain_2``, ... and the full explanation is
    also written to ``<name>.explain.txt`` beside the ``.shp``; the result carries a warning saying so.
    The ``.cpg`` file declares UTF-8 so Chinese text round-trips.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

from osgeo import gdal, ogr, osr

from ..errors import SpexInputError
from ..io import atomic
from ..options import (
    DBF_NAME_CHARS,
    DBF_TEXT_BYTES,
    EXPLAIN_SIDECAR,
    MAX_SPLIT_FIELDS,
    OUTPUT_FORMATS,
    output_files,
)

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

#: (name, OGR type) of the attribute table, in order. Text fields are unlimited except in Shapefiles.
FIELDS: Sequence[Tuple[str, int]] = (
    ("class", ogr.OFTString),
    ("prompt", ogr.OFTString),
    ("engine", ogr.OFTString),
    ("explain", ogr.OFTString),
    ("area_m2", ogr.OFTReal),
    ("region_id", ogr.OFTInteger),
    ("size", ogr.OFTString),
    ("location", ogr.OFTString),
    ("centroid_x", ogr.OFTReal),
    ("centroid_y", ogr.OFTReal),
    ("confidence", ogr.OFTReal),  # 0-1 per feature, when the engine gives one (docs/spectral.md)
)
CANCEL_EVERY = 1000  # features between two cancel checks while writing


@dataclass
class Feature:
    """One output feature: WKB geometry in the source CRS and its attribute values (see :data:`FIELDS`)."""

    wkb: bytes
    attributes: Dict[str, Any]


@dataclass
class WriteResult:
    """Where the features went."""

    path: str
    layer: str
    format: str  # OGR driver name
    crs_wkt: str  # CRS of the written file (EPSG:4326 for GeoJSON)
    features: int
    sidecars: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- validation


def output_format(path: str) -> str:
    """The OGR driver for ``path``'s extension, or SpexInputError listing the supported ones."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in OUTPUT_FORMATS:
        supported = ", ".join(sorted(OUTPUT_FORMATS))
        raise SpexInputError(
            f"unsupported output format {ext or '(no extension)'!r} for {path}: use {supported}"
        )
    return OUTPUT_FORMATS[ext]


def _shapefile_base(path: str) -> str:
    return os.path.splitext(path)[0]


def existing_outputs(path: str) -> List[str]:
    """Files an output at ``path`` would replace (for a Shapefile: every part of the set)."""
    if output_format(path) != "ESRI Shapefile":
        return [path] if os.path.lexists(path) else []
    return sorted({c for c in output_files(path) if os.path.lexists(c)})


def check_destination(path: str, overwrite: bool = False) -> str:
    """Validate an output path before any work; returns the driver name. Raises SpexInputError.

    Checks the extension, that the folder exists and is writable, and that nothing is clobbered without
    ``overwrite``.
    """
    driver = output_format(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise SpexInputError(
            f"output {path} is a folder: give a file name such as {os.path.join(path, 'out.gpkg')}"
        )
    if not os.path.isdir(folder):
        raise SpexInputError(
            f"output folder {folder} does not exist: create it or choose another output path"
        )
    existing = existing_outputs(path)
    for item in existing:
        if os.path.isdir(item):
            raise SpexInputError(f"output {item} is a folder: choose another output name")
        if not stat.S_ISREG(os.lstat(item).st_mode) and not os.path.islink(item):
            raise SpexInputError(
                f"output {item} exists and is not a regular file (a FIFO, socket or device): "
                "choose another output name"
            )
    if existing and not overwrite:
        raise SpexInputError(
            f"output {existing[0]} already exists: pass --overwrite (overwrite=True) to replace it"
        )
    _probe_writable(folder)
    atomic.clean_stale_temps(folder)
    return driver


def _probe_writable(folder: str) -> None:
    probe = atomic.temp_file_name(os.path.join(folder, "probe"))
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise atomic.write_error(folder, exc) from None
    os.close(fd)
    os.remove(probe)


def layer_name_from_prompt(prompt: str, default: str = "spex") -> str:
    """A layer/table name from a prompt: words joined by underscores (Unicode kept), at most 60 characters."""
    name = re.sub(r"\W+", "_", prompt.strip().lower(), flags=re.UNICODE).strip("_")
    if not name:
        return default
    if name[0].isdigit():
        name = "l_" + name
    return name[:60].rstrip("_")


# ------------------------------------------------------------------------------------------- text splitting


def split_utf8(text: str, max_bytes: int = DBF_TEXT_BYTES) -> List[str]:
    """Split ``text`` into chunks of at most ``max_bytes`` UTF-8 bytes without cutting a character.

    Shapefile readers strip leading and trailing blanks of dBASE text, so a cut never falls next to
    whitespace (it moves back to the previous gap between two non-blank characters) unless a chunk holds
    no such gap.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one UTF-8 character (4 bytes)")
    sizes = [len(c.encode("utf-8")) for c in text]
    chunks: List[str] = []
    start, n = 0, len(text)
    while start < n:
        end, used = start, 0
        while end < n and used + sizes[end] <= max_bytes:
            used += sizes[end]
            end += 1
        if end < n:
            cut = end
            while cut > start + 1 and (text[cut - 1].isspace() or text[cut].isspace()):
                cut -= 1
            if not (text[cut - 1].isspace() or text[cut].isspace()):
                end = cut
        chunks.append(text[start:end])
        start = end
    return chunks or [""]


def split_field_name(base: str, index: int) -> str:
    """The dBASE name of piece ``index`` (0-based) of a split text field: ``explain``, ``explain_2``, ...
    The base is shortened so the name keeps the 10-character dBASE limit."""
    suffix = "" if index == 0 else f"_{index + 1}"
    return base[: DBF_NAME_CHARS - len(suffix)] + suffix


def text_pieces(values: Iterable[Any]) -> int:
    """How many dBASE text fields the longest of ``values`` needs when split by :func:`split_utf8` (at least
    1; not capped): the Shapefile writers (the runtime's and the plugin's export) size split fields so."""
    needed = 1
    for value in set(v for v in values if isinstance(v, str)):
        if len(value) * 4 > DBF_TEXT_BYTES and len(value.encode("utf-8")) > DBF_TEXT_BYTES:
            needed = max(needed, len(split_utf8(value)))
    return needed


def split_text_fields(name: str, values: Iterable[Any]) -> List[str]:
    """The dBASE fields holding text attribute ``name`` with these ``values``: ``name``, ``name_2``... as many
    as the longest value needs, at most :data:`MAX_SPLIT_FIELDS` (a longer text keeps its beginning)."""
    return [split_field_name(name, i) for i in range(min(text_pieces(values), MAX_SPLIT_FIELDS))]


# ------------------------------------------------------------------------------------------- writing


def write_features(
    path: str,
    features: Iterable[Feature],
    crs_wkt: str,
    *,
    layer_name: str,
    explanation: str = "",
    overwrite: bool = False,
    check_cancelled: Callable[[], None] | None = None,
) -> WriteResult:
    """Write ``features`` (geometries in ``crs_wkt``) to ``path`` atomically; format from the extension.

    ``explanation`` is the run-level text (each feature's ``explain`` speaks about that feature); GeoPackage
    and GeoJSON keep it as the layer DESCRIPTION, Shapefiles in the ``.explain.txt`` sidecar when it does not
    fit one dBASE field. Raises SpexInputError for an existing
    output without ``overwrite`` or an unwritable folder. ``check_cancelled()`` is called every
    :data:`CANCEL_EVERY` features; whatever it raises stops the write and removes the temporary file.
    """
    driver = check_destination(path, overwrite)
    features = list(features)
    if driver == "GeoJSON" and not crs_wkt:
        raise SpexInputError(
            f"the raster has no CRS and GeoJSON ({os.path.basename(path)}) is defined in WGS 84: assign the "
            "raster a CRS (gdal_translate -a_srs EPSG:XXXX) or write .gpkg or .shp"
        )
    src_srs = None
    if crs_wkt:
        src_srs = osr.SpatialReference()
        src_srs.ImportFromWkt(crs_wkt)
        src_srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    if driver == "ESRI Shapefile":
        return _write_shapefile(path, features, src_srs, layer_name, explanation, overwrite, check_cancelled)
    return _write_single_file(
        path, driver, features, src_srs, layer_name, check_cancelled, overwrite, explanation
    )


def _values(feat: Feature, geom: ogr.Geometry) -> Dict[str, Any]:
    """The feature's non-empty field values; the centroid comes from the written geometry (output CRS)."""
    values = {name: feat.attributes.get(name) for name, _ in FIELDS}
    if values.get("centroid_x") is None and not geom.IsEmpty():
        centroid = geom.Centroid()
        values["centroid_x"], values["centroid_y"] = centroid.GetX(), centroid.GetY()
    return {k: v for k, v in values.items() if v is not None}


def _field_setters(defn: ogr.FeatureDefn) -> Dict[str, Any]:
    """name -> setter(feature, value) by field index and type: skips OGR's per-call name lookup."""

    def setter(index: int, ftype: int):
        if ftype == ogr.OFTString:
            return lambda f, v: f.SetFieldString(index, str(v))
        if ftype == ogr.OFTInteger:
            return lambda f, v: f.SetFieldInteger64(index, int(v))
        if ftype == ogr.OFTReal:
            return lambda f, v: f.SetField(index, float(v))
        return lambda f, v: f.SetField(index, v)

    return {name: setter(defn.GetFieldIndex(name), ftype) for name, ftype in FIELDS}


def _needed_bytes(features: Sequence[Feature], driver: str) -> int:
    """A generous estimate of the output size (GeoJSON text is ~3x the WKB), for disk-full messages."""
    geometry = sum(len(f.wkb) for f in features)
    text = sum(len(str(v).encode("utf-8")) for f in features for v in f.attributes.values() if v is not None)
    factor = 3 if driver == "GeoJSON" else 2
    return factor * geometry + 2 * text + 256 * 1024


def _verify(path: str, driver: str, expected: int) -> None:
    """Read ``path`` back: one layer holding ``expected`` features, else OSError(EIO)."""
    try:
        ds = ogr.GetDriverByName(driver).Open(path, 0)
        count = ds.GetLayer(0).GetFeatureCount() if ds is not None and ds.GetLayerCount() else -1
    except RuntimeError as exc:
        raise OSError(errno.EIO, f"the written file does not read back ({exc})") from None
    ds = None
    if count != expected:
        raise OSError(errno.EIO, f"the written file reads back {max(count, 0)} of {expected} features")


def _fail(folder: str, exc: BaseException, needed: int) -> BaseException:
    """The user-facing error for a failed write (disk full / I/O / GDAL), or ``exc`` itself otherwise."""
    if isinstance(exc, FileExistsError):  # the no-replace publish met a file that appeared meanwhile
        target = exc.filename2 or exc.filename or folder  # link(src, dst) names dst second
        return SpexInputError(
            f"output {target} appeared while the job ran and was kept: "
            "pass --overwrite to replace it or choose another name"
        )
    if isinstance(exc, OSError) or (
        isinstance(exc, RuntimeError) and atomic.looks_like_io_error(folder, exc, needed)
    ):
        return atomic.write_error(folder, exc, needed)
    return exc


def _remove_quietly(*paths: str) -> None:
    for p in paths:
        for candidate in (p, p + "-wal", p + "-shm", p + "-journal"):
            try:
                os.remove(candidate)
            except FileNotFoundError:
                pass
            except OSError:  # pragma: no cover - best effort cleanup
                pass


def _close_quietly(holder: List[Any]) -> None:
    """Close the data source in ``holder`` (the caller's only reference) after a failure. An open transaction
    is rolled back first (GDAL 3.6 can crash closing a GeoPackage whose COMMIT failed on a full disk); errors
    raised while closing (a full disk, a half-created table) concern a temp file about to be deleted, so they
    are silenced, including the "Exception ignored" report of the binding's destructor."""
    if not holder or holder[0] is None:
        holder.clear()
        return
    ds = holder.pop()
    saved_hook = sys.unraisablehook
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        sys.unraisablehook = lambda _info: None
        try:
            ds.RollbackTransaction()
        except RuntimeError:
            pass
        ds = None
    finally:
        sys.unraisablehook = saved_hook
        gdal.PopErrorHandler()


def _open_datasource(driver: str, target: str) -> ogr.DataSource:
    """Create the output data source; a failure is the folder's (space, permissions): OSError(EIO)."""
    try:
        return ogr.GetDriverByName(driver).CreateDataSource(target)
    except RuntimeError as exc:
        raise OSError(errno.EIO, str(exc) or "GDAL cannot create the file", target) from None


def _write_single_file(
    path, driver, features, src_srs, layer_name, check_cancelled=None, overwrite=False, explanation=""
) -> WriteResult:
    tmp = atomic.temp_file_name(path)
    folder = os.path.dirname(tmp)
    dst_srs, transform = src_srs, None
    options: List[str] = []
    if driver == "GeoJSON":
        dst_srs = osr.SpatialReference()
        dst_srs.ImportFromEPSG(4326)
        dst_srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if src_srs is not None and not src_srs.IsSame(dst_srs):
            transform = osr.CoordinateTransformation(src_srs, dst_srs)
        options = ["RFC7946=YES", "WRITE_NAME=YES"]
    elif driver == "GPKG":
        options = ["GEOMETRY_NAME=geom", "FID=fid"]
    if explanation:
        options.append(f"DESCRIPTION={explanation}")  # run-level text: gpkg_contents / GeoJSON description
    ds = layer = defn = out = geom = None
    try:
        ds = _open_datasource(driver, tmp)
        layer = ds.CreateLayer(layer_name, srs=dst_srs, geom_type=ogr.wkbMultiPolygon, options=options)
        for name, ftype in FIELDS:
            layer.CreateField(ogr.FieldDefn(name, ftype))
        if driver == "GPKG":
            ds.StartTransaction()
        defn = layer.GetLayerDefn()
        setters = _field_setters(defn)
        for index, feat in enumerate(features):
            if check_cancelled is not None and index % CANCEL_EVERY == 0:
                check_cancelled()
            out = ogr.Feature(defn)
            geom = ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkb(feat.wkb))
            if transform is not None:
                geom.Transform(transform)
            for name, value in _values(feat, geom).items():
                setters[name](out, value)
            out.SetGeometryDirectly(geom)
            layer.CreateFeature(out)
        if driver == "GPKG":
            ds.CommitTransaction()
        crs_wkt = dst_srs.ExportToWkt() if dst_srs is not None else ""
        layer = None
        ds.FlushCache()
        ds = None  # closes the file: GPKG WAL/journal files are merged and removed here
        atomic.fsync_path(tmp)
        _verify(tmp, driver, len(features))
        atomic.publish(tmp, path, overwrite)
        atomic.fsync_path(folder)
    except BaseException as exc:
        error = _fail(folder, exc, _needed_bytes(features, driver))
        if error is not exc:  # the GDAL frames in the traceback hold the layer and a feature: drop them first
            exc.__traceback__ = None
        out = geom = defn = layer = None  # features before their layer, the layer before its data source
        holder, ds = [ds], None
        _close_quietly(holder)
        _remove_quietly(tmp)
        if error is exc:
            raise
        raise error from None
    return WriteResult(path=path, layer=layer_name, format=driver, crs_wkt=crs_wkt, features=len(features))


def _write_shapefile(
    path, features, src_srs, layer_name, explanation, overwrite, check_cancelled=None
) -> WriteResult:
    folder = os.path.dirname(os.path.abspath(path))
    base_name = os.path.basename(_shapefile_base(path))
    parts, warnings = _shapefile_text_fields(features, explanation)
    sidecar = None
    if len(explanation.encode("utf-8")) > DBF_TEXT_BYTES or parts["explain"] > 1:
        sidecar = _shapefile_base(path) + EXPLAIN_SIDECAR

    workdir = atomic.make_temp_dir(folder)
    ds = layer = None
    try:
        tmp_shp = os.path.join(workdir, base_name + os.path.splitext(path)[1])
        ds = _open_datasource("ESRI Shapefile", tmp_shp)
        layer = _create_shapefile_layer(ds, base_name, src_srs, parts)
        _write_shapefile_features(layer, features, parts, check_cancelled)
        layer = None
        ds = None
        _verify(tmp_shp, "ESRI Shapefile", len(features))
        _publish_shapefile_set(workdir, path, sidecar, explanation, overwrite)
    except BaseException as exc:
        error = _fail(folder, exc, _needed_bytes(features, "ESRI Shapefile"))
        if error is not exc:
            exc.__traceback__ = None
        layer = None
        holder, ds = [ds], None
        _close_quietly(holder)
        if error is exc:
            raise
        raise error from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if sidecar is not None:
        warnings.append(_sidecar_warning(explanation, parts["explain"], sidecar))
    return WriteResult(
        path=path,
        layer=base_name,
        format="ESRI Shapefile",
        crs_wkt=src_srs.ExportToWkt() if src_srs is not None else "",
        features=len(features),
        sidecars=[sidecar] if sidecar else [],
        warnings=warnings,
    )


def _shapefile_text_fields(features, explanation: str) -> Tuple[Dict[str, int], List[str]]:
    """How many dBASE fields each text attribute needs (the same for every feature of the layer), and the
    warnings for an attribute that does not fit :data:`MAX_SPLIT_FIELDS` fields."""
    parts: Dict[str, int] = {}
    warnings: List[str] = []
    for name in [name for name, ftype in FIELDS if ftype == ogr.OFTString]:
        values = [str(f.attributes.get(name) or "") for f in features]
        if name == "explain":
            values.append(explanation)
        needed = text_pieces(values)
        parts[name] = len(split_text_fields(name, values))
        if needed > MAX_SPLIT_FIELDS and name != "explain":
            warnings.append(
                f"Shapefile: {name!r} needs {needed} text fields, only {MAX_SPLIT_FIELDS} fit; "
                "write a GeoPackage (.gpkg) to keep it whole"
            )
    return parts, warnings


def _create_shapefile_layer(ds, base_name: str, src_srs, parts: Dict[str, int]):
    """The layer with every field of :data:`FIELDS`, text fields split over ``parts[name]`` dBASE fields."""
    layer = ds.CreateLayer(base_name, srs=src_srs, geom_type=ogr.wkbMultiPolygon, options=["ENCODING=UTF-8"])
    for name, ftype in FIELDS:
        for i in range(parts.get(name, 1)):
            defn = ogr.FieldDefn(split_field_name(name, i), ftype)
            if ftype == ogr.OFTString:
                defn.SetWidth(DBF_TEXT_BYTES)
            elif ftype == ogr.OFTReal:
                defn.SetWidth(24)
                defn.SetPrecision(6)
            layer.CreateField(defn)
    return layer


def _write_shapefile_features(layer, features, parts: Dict[str, int], check_cancelled) -> None:
    defn = layer.GetLayerDefn()
    for index, feat in enumerate(features):
        if check_cancelled is not None and index % CANCEL_EVERY == 0:
            check_cancelled()
        out = ogr.Feature(defn)
        geom = ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkb(feat.wkb))
        out.SetGeometry(geom)
        values = _values(feat, geom)
        for name, ftype in FIELDS:
            value = values.get(name)
            if value is None:
                continue
            if ftype == ogr.OFTString:
                for i, chunk in enumerate(split_utf8(str(value))[: parts[name]]):
                    out.SetField(split_field_name(name, i), chunk)
            else:
                out.SetField(name, value)
        layer.CreateFeature(out)


def _publish_shapefile_set(workdir: str, path: str, sidecar, explanation: str, overwrite: bool) -> None:
    """Move the finished set (and the explanation sidecar) from ``workdir`` next to ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    produced = sorted(os.listdir(workdir))
    if sidecar is not None:
        with open(os.path.join(workdir, os.path.basename(sidecar)), "w", encoding="utf-8") as fh:
            fh.write(explanation)
        produced.append(os.path.basename(sidecar))
    for name in produced:
        atomic.fsync_path(os.path.join(workdir, name))
    # the .shp last: a reader that sees it sees the whole set. Parts of an old set that the new one lacks
    # (an old .prj when the new raster has no CRS, a spatial index) go, but only with overwrite.
    stale = [f for f in output_files(path) if os.path.basename(f) not in produced]
    pairs = [
        (os.path.join(workdir, name), os.path.join(folder, name))
        for name in sorted(produced, key=lambda n: n.lower().endswith(".shp"))
    ]
    atomic.publish_set(pairs, overwrite, stale=stale)
    atomic.fsync_path(folder)


def _sidecar_warning(explanation: str, fields: int, sidecar: str) -> str:
    fields_text = "explain" if fields == 1 else f"explain, explain_2 .. explain_{fields}"
    complete = "" if text_pieces([explanation]) <= fields else " (only its beginning fits the fields)"
    return (
        f"Shapefile text fields hold at most {DBF_TEXT_BYTES} bytes: "
        f"the explanation ({len(explanation.encode('utf-8'))} bytes) is split over the fields "
        f"{fields_text}{complete} and written in full to {sidecar}"
    )


def read_shapefile_text(feature: ogr.Feature, name: str) -> str:
    """Join a text attribute split over ``name``, ``name_2``... back together (reading helper)."""
    pieces = []
    defn = feature.GetDefnRef()
    i = 0
    while defn.GetFieldIndex(split_field_name(name, i)) >= 0:
        value = feature.GetField(split_field_name(name, i))
        pieces.append(value or "")
        i += 1
    return "".join(pieces)
