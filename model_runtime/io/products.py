"""Real products opened directly: Sentinel-2 SAFE folders/zips and folders of per-band files.

``open_product(path)`` recognises

* a Sentinel-2 SAFE folder or ``.zip`` (L1C or L2A), or any folder holding Sentinel-2 band files with the
  standard names (``T33UUU_20170216T102101_B04.jp2``, L2A ``..._B04_10m.jp2``);
* a folder or ``.zip`` of Landsat band files (``LC08_L2SP_..._SR_B4.TIF`` or Level-1 ``..._B4.TIF``, with the
  ``_MTL.txt``);
* the same behind a ``/vsizip/`` path,

and returns one GDAL dataset stacking the bands (a VRT in ``/vsimem/``, built with ``gdal.BuildVRT``): every
band on the grid of the finest band (20 m and 60 m Sentinel-2 bands resampled bilinearly to 10 m), band
descriptions with the sensor codes (so ``bands.detect_band_roles`` finds the roles), and the product
metadata ``scaling.detect_scaling`` needs: spacecraft, product level, acquisition date, processing baseline
and ``BOA_ADD_OFFSET``/``RADIO_ADD_OFFSET`` (from ``MTD_MSIL*.xml``) for Sentinel-2; spacecraft, level and the
MTL reflectance gains (as band scale/offset, Level-1) for Landsat. An L2A scene-classification band (SCL)
becomes the dataset's mask: no data, saturated, cloud shadow, cloud (medium, high), thin cirrus and snow are
invalid, so they are never extracted and count as no-data in the explanation.
"""

from __future__ import annotations

import math
import os
import re
import uuid
from typing import Dict, List, Tuple

_S2_ORDER = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
_S2_BAND_RE = re.compile(r"_(B0[1-9]|B1[0-2]|B8A)(?:_(\d\d)m)?\.(jp2|tiff?)$", re.IGNORECASE)
_S2_SCL_RE = re.compile(r"_SCL(?:_(\d\d)m)?\.(jp2|tiff?)$", re.IGNORECASE)
_S2_NAME_RE = re.compile(r"(S2[ABCD])_MSI(L1C|L2A)_(\d{8})T\d{6}_N(\d\d)(\d\d)", re.IGNORECASE)
_LANDSAT_RE = re.compile(r"(L[COTEM]0\d_\w+?)_(SR_B|B)(\d{1,2})\.TIF$", re.IGNORECASE)
#: SCL classes that are valid land/water observations: dark area, vegetation, not vegetated, water,
#: unclassified; everything else (no data, saturated, cloud shadow, clouds, thin cirrus, snow) is masked
SCL_VALID = (2, 4, 5, 6, 7)


def _listing(path: str) -> Tuple[str, List[str]] | None:
    """(GDAL base path, relative file names) of a folder, ``.zip`` or ``/vsizip/`` path; None otherwise."""
    from osgeo import gdal

    text = str(path).rstrip("/\\")
    if text.startswith("/vsizip/") or text.startswith("/vsitar/"):
        base = text
    elif text.lower().endswith(".zip") and os.path.isfile(text):
        base = "/vsizip/" + os.path.abspath(text)
    elif os.path.isdir(text):
        base = text
    else:
        return None
    names = gdal.ReadDirRecursive(base) or []
    return base, [n for n in names if not n.endswith("/")]


def _s2_bands(names: List[str]) -> Tuple[Dict[str, str], str | None]:
    """{band code: finest file} and the SCL file (finest) among ``names``."""
    best: Dict[str, Tuple[int, str]] = {}
    scl: Tuple[int, str] | None = None
    for name in names:
        match = _S2_BAND_RE.search(name)
        if match:
            code, res = match.group(1).upper(), int(match.group(2) or 0)
            if code not in best or res < best[code][0]:
                best[code] = (res, name)
            continue
        match = _S2_SCL_RE.search(name)
        if match and (scl is None or int(match.group(1) or 0) < scl[0]):
            scl = (int(match.group(1) or 0), name)
    return {code: name for code, (_res, name) in best.items()}, (scl[1] if scl else None)


def _read_text(path: str) -> str:
    from osgeo import gdal

    handle = gdal.VSIFOpenL(path, "rb")
    if handle is None:
        return ""
    try:
        data = b""
        while True:
            chunk = gdal.VSIFReadL(1, 1 << 20, handle)
            if not chunk:
                break
            data += chunk
    finally:
        gdal.VSIFCloseL(handle)
    return data.decode("utf-8", errors="replace")


def _s2_metadata(base: str, names: List[str], first_band: str) -> Dict[str, str]:
    """Dataset metadata from the product name and ``MTD_MSIL*.xml`` (when present)."""
    md = {"SENSOR": "MSI", "QUANTIFICATION_VALUE": "10000"}
    blob = " ".join([base, first_band])
    match = _S2_NAME_RE.search(blob)
    if match:
        md["SPACECRAFT_NAME"] = f"Sentinel-2{match.group(1)[-1].upper()}"
        md["PRODUCT_TYPE"] = f"S2MSI{match.group(2)[1:].upper()}"  # L1C -> S2MSI1C
        md["ACQUISITION_DATE"] = f"{match.group(3)[:4]}-{match.group(3)[4:6]}-{match.group(3)[6:]}"
        md["PROCESSING_BASELINE"] = f"{match.group(4)}.{match.group(5)}"
    else:
        md["SPACECRAFT_NAME"] = "Sentinel-2"
        date = re.search(r"_(20\d{6})T\d{6}_", first_band)
        if date:
            md["ACQUISITION_DATE"] = f"{date.group(1)[:4]}-{date.group(1)[4:6]}-{date.group(1)[6:]}"
        if re.search(r"_\d\dm\.", first_band) or "MSIL2A" in blob.upper():
            md["PRODUCT_TYPE"] = "S2MSI2A"
    for name in names:
        if re.search(r"MTD_MSIL(1C|2A)\.xml$", name, re.IGNORECASE):
            xml = _read_text(f"{base}/{name}")
            offset = re.search(r"<(BOA|RADIO)_ADD_OFFSET[^>]*>\s*(-?\d+(?:\.\d+)?)\s*<", xml)
            if offset:
                md[f"{offset.group(1)}_ADD_OFFSET"] = offset.group(2)
            baseline = re.search(r"<PROCESSING_BASELINE>\s*([\d.]+)\s*<", xml)
            if baseline:
                md["PROCESSING_BASELINE"] = baseline.group(1)
            md.setdefault("PRODUCT_TYPE", f"S2MSI{name[-6:-4].upper()}")
    return md


def _parse_mtl(text: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    group = ""
    for line in text.splitlines():
        match = re.match(r"\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$", line)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip('"')
        if key == "GROUP":
            group = value
        elif key not in ("END_GROUP",):
            # Collection-2 L2 MTLs repeat REFLECTANCE_MULT_BAND_n: keep the Level-1 (TOA) ones apart
            values[f"{group}:{key}" if group.startswith("LEVEL2") else key] = value
    return values


def _vrt(paths: List[str], descriptions: List[str]):
    from osgeo import gdal

    vrt_path = f"/vsimem/spex_product_{uuid.uuid4().hex}.vrt"
    options = gdal.BuildVRTOptions(separate=True, resolution="highest", resampleAlg="bilinear")
    ds = gdal.BuildVRT(vrt_path, paths, options=options)
    if ds is None:
        return None, vrt_path
    for i, text in enumerate(descriptions, start=1):
        ds.GetRasterBand(i).SetDescription(text)
    return ds, vrt_path


def _add_scl_mask(ds, vrt_path: str, scl_path: str):
    """Reopen the VRT with a dataset mask from the SCL band (valid classes -> 255, the rest -> 0)."""
    from osgeo import gdal

    scl = gdal.Open(scl_path)
    if scl is None:
        return ds
    lut = ",".join(f"{v}:{255 if v in SCL_VALID else 0}" for v in range(0, 16))
    mask = (
        "<MaskBand><VRTRasterBand dataType=\"Byte\"><ComplexSource>"
        f"<SourceFilename relativeToVRT=\"0\">{scl_path}</SourceFilename><SourceBand>1</SourceBand>"
        f"<SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{scl.RasterXSize}\" ySize=\"{scl.RasterYSize}\"/>"
        f"<DstRect xOff=\"0\" yOff=\"0\" xSize=\"{ds.RasterXSize}\" ySize=\"{ds.RasterYSize}\"/>"
        f"<LUT>{lut}</LUT></ComplexSource></VRTRasterBand></MaskBand>"
    )
    ds.FlushCache()
    xml = ds.GetMetadata("xml:VRT")[0]
    ds = None
    xml = xml.replace("</VRTDataset>", mask + "</VRTDataset>")
    gdal.FileFromMemBuffer(vrt_path, xml.encode("utf-8"))
    return gdal.Open(vrt_path)


def open_product(path: str):
    """A stacked GDAL dataset for a product folder/zip (see the module docstring), or None when ``path`` is
    not one (an ordinary raster file)."""
    listing = _listing(path)
    if listing is None:
        return None
    base, names = listing
    s2, scl = _s2_bands(names)
    if len(s2) >= 3:
        codes = [c for c in _S2_ORDER if c in s2]
        paths = [f"{base}/{s2[c]}" for c in codes]
        ds, vrt_path = _vrt(paths, codes)
        if ds is None:
            return None
        ds.SetMetadata(_s2_metadata(base, names, os.path.basename(s2[codes[0]])))
        for i in range(1, len(codes) + 1):
            ds.GetRasterBand(i).SetNoDataValue(0)
        if scl:
            ds = _add_scl_mask(ds, vrt_path, f"{base}/{scl}")
        return ds
    landsat: Dict[int, Tuple[str, str, str]] = {}
    for name in names:
        match = _LANDSAT_RE.search(os.path.basename(name))
        if match:
            landsat[int(match.group(3))] = (name, match.group(2).upper(), match.group(1))
    if len(landsat) < 3:
        return None
    numbers = sorted(landsat)
    product = landsat[numbers[0]][2]
    paths = [f"{base}/{landsat[n][0]}" for n in numbers]
    ds, _vrt_path = _vrt(paths, [f"{landsat[n][1]}{n}" for n in numbers])
    if ds is None:
        return None
    mtl_name = next((n for n in names if n.upper().endswith("_MTL.TXT")), None)
    mtl = _parse_mtl(_read_text(f"{base}/{mtl_name}")) if mtl_name else {}
    md = {"LANDSAT_PRODUCT_ID": mtl.get("LANDSAT_PRODUCT_ID", product)}
    for key in ("SPACECRAFT_ID", "SENSOR_ID", "PROCESSING_LEVEL", "DATE_ACQUIRED", "SUN_ELEVATION"):
        if key in mtl:
            md[key] = mtl[key]
    level2 = any(landsat[n][1] == "SR_B" for n in numbers)
    md.setdefault("PROCESSING_LEVEL", "L2SP" if level2 else "L1TP")
    ds.SetMetadata(md)
    sun = float(mtl.get("SUN_ELEVATION", "nan"))
    for i, n in enumerate(numbers, start=1):
        band = ds.GetRasterBand(i)
        band.SetNoDataValue(0)
        if not level2 and f"REFLECTANCE_MULT_BAND_{n}" in mtl and math.isfinite(sun):
            sin_e = math.sin(math.radians(sun))
            band.SetScale(float(mtl[f"REFLECTANCE_MULT_BAND_{n}"]) / sin_e)
            band.SetOffset(float(mtl[f"REFLECTANCE_ADD_BAND_{n}"]) / sin_e)
    return ds
