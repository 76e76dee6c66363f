"""Checking a dataset path before GDAL opens it: local files, GDAL virtual paths and network access.

* Local paths must exist and be regular files (or dataset folders): a FIFO, socket or device would block
  or never end, so it is refused from its ``stat`` before anything reads it.
* GDAL paths (``/vsizip/``, ``/vsitar/``, ``/vsigzip/``, subdatasets such as ``GTIFF_DIR:1:a.tif`` or
  ``NETCDF:"f.nc":var``) are validated through GDAL (``VSIStatL``), never with ``os.path``.
* Network access through GDAL is off unless the caller allows it (``--allow-network``): ``/vsicurl/``,
  ``/vsis3/``... and URLs are refused, as are files that GDAL identifies as web services (WMS, WMTS...) and
  VRTs whose sources (followed recursively) are remote. VRT sources are also checked for existence,
  FIFOs and recursion (a VRT that includes itself), each with a one-line error.
"""

from __future__ import annotations

import os
import re
import stat
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from typing import List, Set

from ..errors import SpexInputError

NETWORK_PREFIXES = (
    "/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss", "/vsiswift", "/vsiwebhdfs",
    "/vsihdfs", "/vsicrypt",
)  # fmt: skip
NETWORK_DRIVERS = {
    "WMS", "WMTS", "EEDAI", "EEDA", "PLMOSAIC", "PLSCENES", "DAAS", "OGCAPI", "NGW", "STACIT", "STACTA",
    "WCS", "WFS", "HTTP", "ESRIC",
}  # fmt: skip
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_REMOTE_URL = re.compile(r"(?:^|[/\"'{:(])(?:https?|ftps?|s3|gs|az|wasbs?|hdfs|webhdfs)://")
_DRIVER_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_]+):(?![\\/])")
_MAX_VRT_DEPTH = 16
_MAX_VRT_BYTES = 64 * 1024 * 1024
_NETWORK_HINT = "pass --allow-network (allow_network=True) to let GDAL read it over the network"


@contextmanager
def quiet_gdal():
    """Silence GDAL's error printing for a block (errors stay readable with ``gdal.GetLastErrorMsg``)."""
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    gdal.ErrorReset()
    try:
        yield
    finally:
        gdal.PopErrorHandler()


def is_network_path(path: str) -> bool:
    """Whether GDAL would reach ``path`` over the network: a ``/vsicurl/``, ``/vsis3/``... part anywhere
    (``/vsizip//vsicurl/http://...`` too) or a URL, also behind a driver prefix (``WMS:http://...``)."""
    low = str(path).strip().lower()
    for prefix in NETWORK_PREFIXES:
        if prefix + "/" in low or prefix + "_streaming/" in low or prefix + "?" in low:
            return True
    return bool(_REMOTE_URL.search(low))


def _is_gdal_path(text: str) -> bool:
    return text.startswith("/vsi") or bool(_DRIVER_PREFIX.match(text))


def _local_file_of(text: str) -> str | None:
    """The local file a driver-prefixed path (``GTIFF_DIR:1:a.tif``, ``NETCDF:"a.nc":v``) or a
    ``/vsizip/a.zip/x`` path is read from, when it can be told; None otherwise."""
    if text.startswith("/vsi"):
        match = re.match(
            r"^/vsi(?:zip|tar|gzip|7z|rar)/(.+?\.(?:zip|tar|tgz|tar\.gz|gz|7z|rar))(?:/|$)", text
        )
        return match.group(1) if match and not match.group(1).startswith("/vsi") else None
    quoted = re.search(r'"([^"]+)"', text)
    if quoted:
        return quoted.group(1)
    parts = text.split(":")
    for i in range(1, len(parts)):  # GTIFF_DIR:1:/data/a.tif: the longest tail that names a local file
        candidate = ":".join(parts[i:])
        if candidate and os.path.lexists(candidate):
            return candidate
    return None


def check_regular(path: str, what: str) -> None:
    """SpexInputError unless the local ``path`` exists and is a regular file or a folder (checked with
    ``stat``, which never blocks: a FIFO is refused before anything opens it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SpexInputError(f"{what} {path} does not exist: check the path") from None
    except OSError as exc:
        raise SpexInputError(
            f"{what} {path} cannot be read ({exc.strerror or exc}): check the path"
        ) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise SpexInputError(f"{what} {path} is {kind}, not a regular file: give the path of a file")


def check_dataset_path(path: str, what: str = "raster", allow_network: bool = False) -> str:
    """Validate ``path`` before GDAL opens it (see the module docstring); returns it stripped."""
    from osgeo import gdal

    text = "" if path is None else str(path).strip()
    if not text:
        raise SpexInputError(f"no {what} given: pass the path of a file GDAL reads")
    if is_network_path(text):
        if not allow_network:
            raise SpexInputError(f"{what} {text} is on the network: {_NETWORK_HINT}")
        return text
    if _is_gdal_path(text):
        local = _local_file_of(text)
        if local is not None and not is_network_path(local):
            check_regular(local, what)
        if text.startswith("/vsi") and gdal.VSIStatL(text) is None:
            raise SpexInputError(f"{what} {text} does not exist (GDAL virtual path): check the path")
    else:
        check_regular(text, what)
    if not allow_network:
        _check_not_network_driver(text, what)
        if text.lower().endswith(".vrt") or _looks_like_vrt(text):
            check_vrt_sources(text, allow_network=False)
    return text


def _check_not_network_driver(text: str, what: str) -> None:
    from osgeo import gdal

    try:
        with quiet_gdal():
            driver = gdal.IdentifyDriverEx(text)
    except RuntimeError:
        driver = None
    if driver is not None and driver.ShortName.upper() in NETWORK_DRIVERS:
        raise SpexInputError(
            f"{what} {text} is a {driver.ShortName} web service description: {_NETWORK_HINT}"
        )


def _looks_like_vrt(text: str) -> bool:
    if text.startswith("/vsi") or _DRIVER_PREFIX.match(text):
        return False
    try:
        with open(text, "rb") as fh:
            return fh.read(64).lstrip().startswith(b"<VRTDataset")
    except OSError:
        return False


def check_vrt_sources(path: str, allow_network: bool = False) -> None:
    """Follow the sources of a VRT (recursively): each must exist and be a regular file, none may be remote
    without ``allow_network``, and no VRT may include itself. SpexInputError (one line) otherwise."""
    _walk_vrt(os.path.abspath(path), allow_network, [], set())


def _vrt_sources(path: str) -> List[str]:
    try:
        if os.path.getsize(path) > _MAX_VRT_BYTES:
            raise SpexInputError(f"VRT {path} is larger than 64 MB: is it really a VRT file?")
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SpexInputError(
            f"VRT {path} is not valid XML ({exc}): fix or rebuild it with gdalbuildvrt"
        ) from None
    except OSError as exc:
        raise SpexInputError(f"VRT {path} cannot be read ({exc.strerror or exc}): check the file") from None
    folder = os.path.dirname(path)
    out = []
    for element in root.iter():
        if element.tag not in ("SourceFilename", "SourceDataset") or not (element.text or "").strip():
            continue
        name = element.text.strip()
        relative = element.get("relativeToVRT", "0") == "1" or element.tag == "SourceDataset"
        if relative and not _is_gdal_path(name) and not os.path.isabs(name) and not _URL.match(name):
            name = os.path.join(folder, name)
        out.append(name)
    return out


def _walk_vrt(path: str, allow_network: bool, chain: List[str], seen: Set[str]) -> None:
    key = os.path.realpath(path)
    if key in chain:
        raise SpexInputError(
            f"VRT {path} includes itself (through {len(chain) - chain.index(key)} file(s)): "
            "fix its SourceFilename entries"
        )
    if len(chain) >= _MAX_VRT_DEPTH:
        raise SpexInputError(f"VRT {chain[0]} nests more than {_MAX_VRT_DEPTH} VRTs: flatten it")
    if key in seen:
        return
    seen.add(key)
    chain.append(key)
    for source in _vrt_sources(path):
        if is_network_path(source):
            if not allow_network:
                raise SpexInputError(f"VRT {chain[0]} reads {source} over the network: {_NETWORK_HINT}")
            continue
        if _is_gdal_path(source):
            local = _local_file_of(source)
            if local is not None:
                check_regular(local, f"source of VRT {os.path.basename(path)}:")
            continue
        check_regular(source, f"source of VRT {os.path.basename(path)}:")
        if source.lower().endswith(".vrt") or _looks_like_vrt(source):
            _walk_vrt(source, allow_network, chain, seen)
        elif not allow_network:
            _check_not_network_driver(source, f"source of VRT {os.path.basename(path)}:")
    chain.pop()
