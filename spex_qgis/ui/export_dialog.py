"""The questions Export… and Run ask: where to write the result, and whether an existing file may go."""

from __future__ import annotations

import os

from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QFileDialog, QMessageBox

from model_runtime.options import FORMATS

from .. import settings

# Export formats: (OGR driver, extension); the file dialog offers them in this order, the first by default
# (GeoPackage keeps the explanation in one field; a Shapefile has to split it).
EXPORT_FORMATS = tuple((fmt.driver, fmt.extensions[0]) for fmt in FORMATS)  # model_runtime.options


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


def layer_name_to_file(name: str) -> str:
    """A file name (no extension) from a layer name: keeps letters of any script, digits, - and _."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    return cleaned[:80] or "spex_result"


def ask_export_path(parent, layer_name: str) -> str:
    """Ask where to export the layer ``layer_name``; "" when cancelled. A missing extension follows the
    chosen format."""
    labels = {
        "ESRI Shapefile": tr("ESRI Shapefile (*.shp)"),
        "GPKG": tr("GeoPackage (*.gpkg)"),
        "GeoJSON": tr("GeoJSON (*.geojson)"),
    }
    folder = settings.last_output_dir() or os.path.expanduser("~")
    default_driver, default_ext = EXPORT_FORMATS[0]
    suggested = os.path.join(folder, layer_name_to_file(layer_name) + default_ext)
    # Qt's own overwrite question is off: the controller asks, for every part of a Shapefile set.
    path, chosen = QFileDialog.getSaveFileName(
        parent,
        tr("Export the SPEX result"),
        suggested,
        ";;".join(labels[driver] for driver, _ext in EXPORT_FORMATS),
        labels[default_driver],
        QFileDialog.DontConfirmOverwrite,
    )
    if not path:
        return ""
    if os.path.splitext(path)[1].lower() not in {e for _d, e in EXPORT_FORMATS}:
        driver = next((d for d, label in labels.items() if label == chosen), default_driver)
        path += dict(EXPORT_FORMATS)[driver]
    return path


def ask_replace(parent, path: str) -> bool:
    """Ask whether ``path`` may be replaced ("No" is the default)."""
    answer = QMessageBox.question(
        parent,
        tr("Replace file?"),
        tr("'{}' already exists. Replace it?").format(path),
        QMessageBox.Yes | QMessageBox.No,
        QMessageBox.No,
    )
    return answer == QMessageBox.Yes
