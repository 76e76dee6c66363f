"""Small helpers the panels share: the translation context, theme icons, group boxes, layer checks."""

from __future__ import annotations

from qgis.core import QgsApplication, QgsCoordinateReferenceSystem, QgsRasterLayer
from qgis.gui import QgsCollapsibleGroupBox
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QSizePolicy, QWidget


def ui_language() -> str:
    """The QGIS UI locale (``zh-Hans``, ``en_US``...): runtime messages are shown in it if translated."""
    try:
        from ..plugin import qgis_locale

        return qgis_locale()
    except ImportError:
        return "en"


def localize(message: str, language: str) -> str:
    """A runtime message (error, progress stage, note) in ``language`` (see model_runtime.messages)."""
    from model_runtime.messages import localize as runtime_localize

    from ..request_builder import option_labels  # CLI flags left in a message: the panel's labels

    return runtime_localize(message, language, panel=True, labels=option_labels())


def icon(name: str):
    """A QGIS theme icon (``mActionStart.svg``...)."""
    return QgsApplication.getThemeIcon(name)


def group(title: str, layout, collapsed: bool = False) -> QgsCollapsibleGroupBox:
    """A collapsible group box holding ``layout``."""
    box = QgsCollapsibleGroupBox(title)
    box.setLayout(layout)
    box.setCollapsed(collapsed)
    return box


def form_layout() -> QFormLayout:
    """A form whose fields take the width and whose long rows wrap (the dock is narrow)."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.WrapLongRows)
    return form


def fit_narrow(content: QWidget) -> None:
    """A narrow dock must never hide a control behind a horizontal scrollbar: combos shrink to a short
    width (their popups still show the whole text) and form rows wrap; only vertical scrolling remains."""
    for combo in content.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
        combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
    for form in content.findChildren(QFormLayout):
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)


def multiband_gdal(layer) -> bool:
    """A raster the runtime can read as multispectral input: a GDAL file with 3 or more bands."""
    return isinstance(layer, QgsRasterLayer) and layer.providerType() == "gdal" and layer.bandCount() >= 3


def crs_to_text(crs: QgsCoordinateReferenceSystem) -> str:
    """A CRS string OSR understands: the EPSG code when there is one, else WKT."""
    authid = crs.authid()
    if authid.upper().startswith("EPSG:"):
        return authid
    return crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL)
