"""The result part of the panel: Run / Preview / Cancel, the progress bar, the status line, the
explanation of the last result and Export…"""

from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from .common import group, icon


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


class RunPanel(QWidget):
    """Run, Preview and Cancel buttons, the progress bar and the one-line status under it."""

    def __init__(self, parent: QWidget | None = None):
        """Idle: Cancel off, progress at 0."""
        super().__init__(parent)
        self.run_button = QPushButton(icon("mActionStart.svg"), tr("Run"))
        self.run_button.setDefault(True)
        self.run_button.setMinimumHeight(30)
        self.cancel_button = QPushButton(icon("mTaskCancel.svg"), tr("Cancel"))
        self.cancel_button.setEnabled(False)
        self.preview_button = QPushButton(icon("mActionShowRasterCalculator.svg"), tr("Preview"))
        self.preview_button.setToolTip(
            tr(
                "Show the mask of the current area as a temporary raster layer, without writing polygons "
                "(quick threshold tuning on large scenes)"
            )
        )
        row = QHBoxLayout()
        row.addWidget(self.run_button, 2)
        row.addWidget(self.preview_button, 1)
        row.addWidget(self.cancel_button, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)

    def set_state(self, running: bool, can_run: bool, problem: str) -> None:
        """Enable the buttons for ``running``; ``problem`` says why Run is off when it cannot run."""
        self.run_button.setEnabled(not running and can_run)
        self.preview_button.setEnabled(self.run_button.isEnabled())
        self.cancel_button.setEnabled(running)
        self.run_button.setToolTip(problem or tr("Start the extraction in the background"))


class ResultPanel(QWidget):
    """The explanation of the last result (or of the failure / empty run that replaced it) and Export…"""

    def __init__(self, parent: QWidget | None = None):
        """Empty explanation, Export off until there is a result."""
        super().__init__(parent)
        self.explanation = QTextBrowser()
        self.explanation.setReadOnly(True)
        self.explanation.setOpenExternalLinks(False)
        self.explanation.setMinimumHeight(160)
        self.explanation.setPlaceholderText(tr("The explanation of the last result appears here."))
        self.export_button = QPushButton(icon("mActionFileSaveAs.svg"), tr("Export…"))
        self.export_button.setToolTip(
            tr("Save the result as a GeoPackage, Shapefile or GeoJSON (run an extraction first)")
        )
        self.export_button.setEnabled(False)
        layout = QVBoxLayout()
        layout.addWidget(self.explanation)
        layout.addWidget(self.export_button, 0, Qt.AlignRight)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(group(tr("Explanation"), layout))
