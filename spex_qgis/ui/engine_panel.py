"""The Engine panel: spectral indices or the SPEX model, its folder(s), device and precision, and a line
that says whether the chosen engine can run (and why not)."""

from __future__ import annotations

import os
from typing import Callable

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QCoreApplication, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QLabel, QPushButton, QVBoxLayout, QWidget

from .. import settings
from .common import form_layout, group, icon


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


def deps_status():
    """(available, reason) of the SPEX engine's dependencies, as :mod:`spex_qgis.deps` checks them."""
    try:
        from ..deps import spex_engine_status

        return spex_engine_status()
    except ImportError as exc:
        return False, str(exc)


def _folder_widget(title: str, path: str) -> QgsFileWidget:
    widget = QgsFileWidget()
    widget.setStorageMode(QgsFileWidget.GetDirectory)
    widget.setDialogTitle(title)
    widget.setFilePath(path)
    return widget


class EnginePanel(QWidget):
    """Engine, model folder, LoRA base folder, device, precision, status line, installer button.

    ``changed()`` after any choice changed (the controller remembers them); ``installRequested()``.
    """

    changed = pyqtSignal()
    installRequested = pyqtSignal()

    def __init__(self, localize: Callable[[str], str], parent: QWidget | None = None):
        """The controls preset from the remembered settings; ``localize`` renders runtime messages."""
        super().__init__(parent)
        self.localize = localize
        self.problem = ""  # why Run is off: the spex engine without a usable model folder
        self._build()
        self.engine_combo.setCurrentIndex(max(self.engine_combo.findData(settings.engine()), 0))
        self.engine_combo.currentIndexChanged.connect(self.refresh)
        self.model_widget.fileChanged.connect(self.refresh)
        self.model_base_widget.fileChanged.connect(self.refresh)
        self.device_combo.currentIndexChanged.connect(self.changed)
        self.precision_combo.currentIndexChanged.connect(self.changed)
        self.install_button.clicked.connect(self.installRequested)

    def _build(self) -> None:
        self.engine_combo = QComboBox()
        self.engine_combo.addItem(icon("mIconRasterLayer.svg"), tr("Spectral indices (no model)"), "spectral")
        self.engine_combo.addItem(icon("mIconAi.svg"), tr("SPEX vision-language model"), "spex")
        self.model_widget = _folder_widget(tr("SPEX model folder"), settings.model_dir())
        self.model_base_widget = _folder_widget(
            tr("Base model folder (LoRA checkpoints only)"), settings.model_base_dir()
        )
        self.model_base_widget.setToolTip(
            tr(
                "Only for a LoRA checkpoint (non_lora_trainables.bin + adapter): the folder of the base "
                "model it was trained from. Leave empty for the released (merged) SPEX folder."
            )
        )
        self.device_combo = QComboBox()
        for device in settings.DEVICES:
            self.device_combo.addItem(device, device)
        self.device_combo.setCurrentIndex(max(self.device_combo.findData(settings.device()), 0))
        self._build_precision()
        self.engine_status = QLabel()
        self.engine_status.setWordWrap(True)
        self.install_button = QPushButton(icon("mActionShowPluginManager.svg"), tr("Install dependencies…"))
        form = form_layout()
        form.addRow(tr("Engine"), self.engine_combo)
        form.addRow(tr("Model folder"), self.model_widget)
        form.addRow(tr("Base model (LoRA)"), self.model_base_widget)
        form.addRow(tr("Device"), self.device_combo)
        form.addRow(tr("Precision"), self.precision_combo)
        form.addRow(self.engine_status)
        form.addRow(self.install_button)
        self.engine_group = group(tr("Engine"), form, collapsed=True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.engine_group)

    def _build_precision(self) -> None:
        self.precision_combo = QComboBox()
        labels = {
            "auto": tr("Auto (fp32 on CPU, bf16/fp16 on GPU)"),
            "fp32": tr("fp32 — exact"),
            "int8": tr("int8 — faster on CPU, less exact"),
            "bf16": tr("bf16 — GPU"),
            "fp16": tr("fp16 — GPU"),
        }
        for precision in settings.PRECISIONS:
            self.precision_combo.addItem(labels[precision], precision)
        self.precision_combo.setCurrentIndex(max(self.precision_combo.findData(settings.precision()), 0))
        self.precision_combo.setToolTip(
            tr(
                "Numeric precision of the SPEX model. Auto: exact fp32 on the CPU, bf16/fp16 on a GPU. "
                "int8 (CPU only) is about twice as fast but less exact; fp16 and bf16 are for GPUs."
            )
        )

    # ----------------------------------------------------------------- values
    def engine(self) -> str:
        """The chosen engine id (``spectral`` or ``spex``)."""
        return self.engine_combo.currentData() or "spectral"

    def model_dir(self) -> str:
        """The SPEX model folder as typed or picked."""
        return self.model_widget.filePath().strip()

    def model_base_dir(self) -> str:
        """The LoRA base model folder ("" for a merged checkpoint)."""
        return self.model_base_widget.filePath().strip()

    def device(self) -> str:
        """The chosen device (auto, cpu, cuda)."""
        return self.device_combo.currentData() or "auto"

    def precision(self) -> str:
        """The chosen precision (auto, fp32, int8, bf16, fp16)."""
        return self.precision_combo.currentData() or "auto"

    # ----------------------------------------------------------------- status
    def refresh(self, *_args) -> None:
        """Re-check the engine: offer SPEX only when it can run, say why not, and what Run lacks."""
        available, reason = deps_status()
        item = self.engine_combo.model().item(1)
        if item is not None:
            item.setEnabled(available)
            item.setToolTip("" if available else reason)
        if not available and self.engine_combo.currentData() == "spex":
            self.engine_combo.setCurrentIndex(0)
        spex = self.engine() == "spex"
        for widget in (self.model_widget, self.model_base_widget, self.device_combo, self.precision_combo):
            widget.setEnabled(spex)
        self.install_button.setVisible(not available)
        self.problem = ""
        if not available:
            # deps.spex_engine_status() says it in a whole translated sentence ("SPEX engine unavailable ...")
            text = self.localize(reason)
        elif spex and not self.model_dir():
            text = self.problem = tr("Pick the SPEX model folder (config.json + *.safetensors).")
        elif spex and not os.path.isfile(os.path.join(self.model_dir(), "config.json")):
            text = self.problem = tr("No config.json in this folder: pick the SPEX checkpoint folder.")
        elif spex:
            from ..deps import engine_status_line  # the runtime and device the import check found

            text = tr("SPEX model ready.") + " " + engine_status_line()
        else:
            text = tr("Spectral indices: fast, no model needed.")
        self.engine_status.setText(text)
        self.changed.emit()
