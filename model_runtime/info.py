"""What ``spex info RASTER`` shows: size, CRS, pixel size, sensor and why, band roles, scaling, no-data."""

from __future__ import annotations

from typing import Any, Dict

from .io.bands import SENSOR_PRESETS


def info_json(
    source, sensor: str | None = None, bands=None, scaling=None, allow_network: bool = False
) -> Dict[str, Any]:
    """``spex info --json`` / the QGIS dock: :meth:`RasterSource.describe` of ``source`` (a path or an open
    :class:`~model_runtime.io.raster.RasterSource`); the overrides are those of ``spex extract``; remote
    sources only with ``allow_network``."""
    from .io.raster import RasterSource

    if isinstance(source, RasterSource):
        return source.describe()
    with RasterSource.open(
        str(source), sensor=sensor, bands=bands, scaling=scaling, allow_network=allow_network
    ) as opened:
        return opened.describe()


def format_info(source, sensor: str | None = None, bands=None, scaling=None) -> str:
    """Human-readable ``spex info`` text (full, nothing truncated)."""
    if isinstance(source, dict):
        info = source
    else:
        info = info_json(source, sensor=sensor, bands=bands, scaling=scaling)
    crs = info["crs"]
    crs_text = crs["name"] or "none (pixel sizes assumed in metres)"
    if crs.get("epsg"):
        crs_text += f" (EPSG:{crs['epsg']})"
    px, py = info["pixel_size_m"]
    xmin, ymin, xmax, ymax = info["bounds"]
    lines = [
        f"raster:     {info['path']} ({info['driver']})",
        f"size:       {info['width']} x {info['height']} px, {info['band_count']} bands, "
        f"blocks {info['block_size'][0]} x {info['block_size'][1]}",
        f"crs:        {crs_text}",
        f"extent:     {xmin:.10g}, {ymin:.10g}, {xmax:.10g}, {ymax:.10g}",
        f"pixel size: {px:.4g} x {py:.4g} m ({info['pixel_area_m2']:.4g} m2 per pixel)",
        f"sensor:     {info['sensor'] or 'unknown'} - {info['sensor_reason']}",
        f"scaling:    {info['scaling']['text']}",
        "bands:",
    ]
    for band in info["bands"]:
        role = band["role"] or "-"
        nodata = "" if band["nodata"] is None else f", nodata {band['nodata']}"
        mask = "" if band["mask"] in ("none", "nodata value") else f", {band['mask']}"
        desc = f" '{band['description']}'" if band["description"] else ""
        why = f"  <- {band['role_source']}" if band["role_source"] else ""
        lines.append(f"  {band['index']:>2}{desc} {band['dtype']}{nodata}{mask}: {role}{why}")
    for note in info["notes"]:
        lines.append(f"note: {note}")
    if not info["roles"]:
        lines.append("no band roles: map them with --bands red=N,green=N,blue=N,nir=N")
    return "\n".join(lines)


def format_sensors() -> str:
    """``spex info --sensors``: every preset with its band order."""
    lines = []
    for preset in SENSOR_PRESETS.values():
        order = ", ".join(f"{n}={r}" for n, r in zip(preset.band_names, preset.roles))
        lines.append(f"{preset.name}: {preset.title}\n    {order}")
    return "\n".join(lines)
