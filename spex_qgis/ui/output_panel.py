"""The Output panel: a temporary layer, or a file the polygons are saved to."""

from __future__ import annotations

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from .. import settings
from .common import group


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


class OutputPanel(QWidget):
    """Temporary layer / Save to file, and the file's path."""

    def __init__(self, parent: QWidget | None = None):
        """Temporary output by default; the file dialog starts in the last output folder."""
        super().__init__(parent)
        self.temp_radio = QRadioButton(tr("Temporary layer"))
        self.file_radio = QRadioButton(tr("Save to file"))
        self.temp_radio.setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.temp_radio)
        row.addWidget(self.file_radio)
        row.addStretch(1)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.SaveFile)
        self.output_widget.setFilter(tr("GeoPackage (*.gpkg);;ESRI Shapefile (*.shp);;GeoJSON (*.geojson)"))
        self.output_widget.setDialogTitle(tr("Save the extracted polygons"))
        if settings.last_output_dir():
            self.output_widget.setDefaultRoot(settings.last_output_dir())
        layout = QVBoxLayout()
        layout.addLayout(row)
        layout.addWidget(self.output_widget)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(group(tr("Output"), layout, collapsed=True))
        self.temp_radio.toggled.connect(self._on_mode_changed)
        self._on_mode_changed()

    def mode(self) -> str:
        """``file`` or ``temporary``."""
        return "file" if self.file_radio.isChecked() else "temporary"

    def path(self) -> str:
        """The output file typed or picked ("" for none)."""
        return self.output_widget.filePath()

    def _on_mode_changed(self, *_args) -> None:
        self.output_widget.setEnabled(self.file_radio.isChecked())
