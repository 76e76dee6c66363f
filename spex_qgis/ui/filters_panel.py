"""The "Threshold and filters" panel: what decides which polygons come out (threshold and its method,
minimum area, simplification), how pixels become reflectance and the explanation's language."""

from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QVBoxLayout, QWidget

from .common import form_layout, group


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


def _spin(low: float, high: float, decimals: int, tooltip: str, step: float = 1.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setToolTip(tooltip)
    return spin


class FiltersPanel(QWidget):
    """Threshold, method, minimum area, simplify, reflectance scaling and explanation language."""

    def __init__(self, parent: QWidget | None = None):
        """All controls at their defaults (class threshold, fixed method, no filtering)."""
        super().__init__(parent)
        self.threshold_default = QCheckBox(tr("Class default"))
        self.threshold_default.setChecked(True)
        self.threshold_spin = _spin(
            -1.0,
            1.0,
            3,
            tr(
                "Threshold of the class's main spectral index (e.g. NDWI for water, NDVI for vegetation). "
                "Lower: more sensitive, more polygons; higher: stricter."
            ),
            0.02,
        )
        self.threshold_spin.setEnabled(False)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_default)
        threshold_row.addWidget(self.threshold_spin, 1)
        self.threshold_method_combo = QComboBox()
        self.threshold_method_combo.addItem(tr("Fixed (class default or the value above)"), "fixed")
        self.threshold_method_combo.addItem(tr("Automatic from this scene (Otsu)"), "otsu")
        self.min_area_spin = _spin(
            0.0, 1e9, 0, tr("Polygons smaller than this are dropped (0: keep all)"), 100.0
        )
        self.min_area_spin.setSuffix(" m²")
        self.simplify_spin = _spin(
            0.0, 1e6, 2, tr("Simplification tolerance in map units of the raster (0: exact pixel outlines)")
        )
        self._build_scaling()
        self.language_combo = QComboBox()
        self.language_combo.addItem(tr("Same as the prompt"), "")
        self.language_combo.addItem(tr("English"), "en")
        self.language_combo.addItem(tr("Chinese"), "zh")
        form = form_layout()
        form.addRow(tr("Threshold"), threshold_row)
        form.addRow(tr("Method"), self.threshold_method_combo)
        form.addRow(tr("Minimum area"), self.min_area_spin)
        form.addRow(tr("Simplify"), self.simplify_spin)
        form.addRow(tr("Reflectance scaling"), self.scaling_combo)
        form.addRow(tr("Explanation language"), self.language_combo)
        self.filters_group = group(tr("Threshold and filters"), form, collapsed=True)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.filters_group)
        self.threshold_default.toggled.connect(lambda on: self.threshold_spin.setEnabled(not on))

    def _build_scaling(self) -> None:
        self.scaling_combo = QComboBox()
        self.scaling_combo.setEditable(True)
        self.scaling_combo.setInsertPolicy(QComboBox.NoInsert)
        self.scaling_combo.addItem(tr("Auto-detect"), "")
        try:
            from model_runtime.io.scaling import NAMED_SCALINGS
        except ImportError:
            NAMED_SCALINGS = {}
        for name, (_gain, _offset, reason) in NAMED_SCALINGS.items():
            self.scaling_combo.addItem(name, name)
            self.scaling_combo.setItemData(self.scaling_combo.count() - 1, reason, Qt.ToolTipRole)
        self.scaling_combo.setToolTip(
            tr("How pixel values become reflectance; type GAIN,OFFSET (e.g. 0.0001,-0.1) for your own")
        )

    def threshold(self) -> float | None:
        """The threshold typed, or None for the class default."""
        return None if self.threshold_default.isChecked() else self.threshold_spin.value()

    def scaling_value(self) -> str:
        """The chosen scaling name, or the GAIN,OFFSET the user typed ("" = detect)."""
        text = self.scaling_combo.currentText().strip()
        index = self.scaling_combo.findText(text)
        return (self.scaling_combo.itemData(index) or "") if index >= 0 else text
