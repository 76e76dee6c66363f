"""Shared fixtures: the real sample scenes and small synthetic rasters written to disk with GDAL.

``make_raster(path, bands, ...)`` writes a real GeoTIFF: ``bands`` maps a band description (e.g. "red",
"B04", or "" for none) to a 2-D array; dict order is band order. Use it through the ``make_raster`` fixture
or import it (``from tests.conftest import make_raster``) in helpers.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Dict, Sequence

import numpy as np
import pytest
from osgeo import gdal, osr


@pytest.fixture(autouse=True)
def _free_cycles_while_qgis_and_gdal_live():
    """Collect reference cycles after each test. ``pytest.raises`` keeps the exception, whose traceback holds
    the test's own frame (and so the excinfo again) and the frames it passed through, with their QGIS layers
    and GDAL datasets: a cycle. Left to the collector it may be freed after QGIS has exited, and freeing a
    QGIS object then crashes the interpreter at exit (seen as a segfault after every test passed)."""
    yield
    gc.collect()

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = REPO_ROOT / "data" / "samples"
S2_SAMPLE = SAMPLES_DIR / "sentinel2_l2a_subset.tif"
L8_SAMPLE = SAMPLES_DIR / "landsat8_l1tp.tif"
AERIAL_SAMPLE = SAMPLES_DIR / "aerial_rgbn.tif"
S2_L1C_SAMPLE = SAMPLES_DIR / "sentinel2_l1c_virginia.tif"
L7_SAMPLE = SAMPLES_DIR / "landsat7_etm_olinda.tif"

_GDAL_TYPES = {
    np.dtype("uint8"): gdal.GDT_Byte,
    np.dtype("uint16"): gdal.GDT_UInt16,
    np.dtype("int16"): gdal.GDT_Int16,
    np.dtype("uint32"): gdal.GDT_UInt32,
    np.dtype("int32"): gdal.GDT_Int32,
    np.dtype("float32"): gdal.GDT_Float32,
    np.dtype("float64"): gdal.GDT_Float64,
}


def make_raster(
    path,
    bands: Dict[str, np.ndarray],
    epsg: int | None = 32633,
    geotransform: Sequence[float] = (500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0),
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    metadata: Dict[str, str] | None = None,
    band_metadata: Dict[int, Dict[str, str]] | None = None,
    scale_offset: Dict[int, tuple] | None = None,
    color_interp: Sequence[int] | None = None,
    mask: np.ndarray | None = None,
    tiled: bool = True,
    block: int = 64,
) -> str:
    """Write a GeoTIFF and return its path (see module docstring).

    ``descriptions`` overrides the dict keys as band descriptions; ``mask`` (bool, True = valid) becomes an
    internal per-dataset mask band; ``scale_offset`` maps a 1-based band to GDAL (scale, offset).
    """
    arrays = [np.asarray(a) for a in bands.values()]
    names = list(descriptions) if descriptions is not None else list(bands.keys())
    height, width = arrays[0].shape
    dtype = np.result_type(*[a.dtype for a in arrays])
    options = ["COMPRESS=DEFLATE"]
    if tiled:
        options += ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}"]
    ds = gdal.GetDriverByName("GTiff").Create(
        str(path), width, height, len(arrays), _GDAL_TYPES[dtype], options
    )
    if geotransform is not None:
        ds.SetGeoTransform(tuple(geotransform))
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    if metadata:
        ds.SetMetadata(dict(metadata))
    for i, (name, array) in enumerate(zip(names, arrays), start=1):
        band = ds.GetRasterBand(i)
        band.WriteArray(array.astype(dtype, copy=False))
        if name:
            band.SetDescription(name)
        if nodata is not None:
            band.SetNoDataValue(float(nodata))
        if band_metadata and i in band_metadata:
            for domain_key, value in band_metadata[i].items():
                domain, _, key = domain_key.rpartition(":")
                band.SetMetadataItem(key, str(value), domain)
        if scale_offset and i in scale_offset:
            band.SetScale(float(scale_offset[i][0]))
            band.SetOffset(float(scale_offset[i][1]))
        if color_interp is not None and i <= len(color_interp):
            band.SetColorInterpretation(color_interp[i - 1])
    if mask is not None:
        ds.CreateMaskBand(gdal.GMF_PER_DATASET)
        ds.GetRasterBand(1).GetMaskBand().WriteArray(np.where(mask, 255, 0).astype(np.uint8))
    ds.FlushCache()
    ds = None
    return str(path)


def random_bands(names: Sequence[str], shape=(32, 48), low=100, high=5000, dtype="uint16", seed=0):
    """``{name: random array}`` in ``names`` order, reproducible."""
    rng = np.random.default_rng(seed)
    return {name: rng.integers(low, high, size=shape).astype(dtype) for name in names}


@pytest.fixture(name="make_raster")
def make_raster_fixture(tmp_path):
    """``make_raster(name_or_path, bands, **kw)``; relative names land in ``tmp_path``."""

    def factory(name, bands, **kwargs):
        path = Path(name)
        if not path.is_absolute():
            path = tmp_path / path
        return make_raster(path, bands, **kwargs)

    return factory


def _sample(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path.name} missing: run 'make samples' (python scripts/fetch_samples.py) first")
    return str(path)


@pytest.fixture(scope="session")
def s2_sample() -> str:
    """Path of the real Sentinel-2 L2A subset (6 bands, 668 x 668, EPSG:8858)."""
    return _sample(S2_SAMPLE)


@pytest.fixture(scope="session")
def l8_sample() -> str:
    """Path of the real Landsat 8 L1TP stack (11 bands, 41 x 41, UTM 32N)."""
    return _sample(L8_SAMPLE)


@pytest.fixture(scope="session")
def aerial_sample() -> str:
    """Path of the real 4-band uint8 RGBN aerial image (515 x 403, 5 m, UTM 18N)."""
    return _sample(AERIAL_SAMPLE)


@pytest.fixture(scope="session")
def s2_l1c_sample() -> str:
    """Path of the real Sentinel-2 L1C 13-band 10 m stack (1933 x 1947, EPSG:32618, Virginia coast)."""
    return _sample(S2_L1C_SAMPLE)


@pytest.fixture(scope="session")
def l7_sample() -> str:
    """Path of the real Landsat 7 ETM+ 6-band uint8 DN stack (349 x 352, 28.5 m, EPSG:31985, Olinda)."""
    return _sample(L7_SAMPLE)
