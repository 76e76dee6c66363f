"""The Prompt panel: an editable combo with the user's last prompts and a few examples."""

from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QComboBox, QSizePolicy, QVBoxLayout, QWidget

from .. import settings
from .common import group

EXAMPLE_PROMPTS = (
    "extract the water bodies",
    "extract the vegetation",
    "extract the buildings",
    "extract the bare soil",
    "提取水体",
    "提取植被",
)


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDockWidget`` context: the whole panel shares one (see i18n/)."""
    return QCoreApplication.translate("SpexDockWidget", text)


class PromptPanel(QWidget):
    """What to extract, typed or picked from the history."""

    def __init__(self, parent: QWidget | None = None):
        """The combo filled from the remembered prompt history, then the examples."""
        super().__init__(parent)
        self.prompt_combo = QComboBox()
        self.prompt_combo.setEditable(True)
        self.prompt_combo.setInsertPolicy(QComboBox.NoInsert)
        self.prompt_combo.lineEdit().setPlaceholderText(tr("e.g. extract the water bodies / 提取水体"))
        self.prompt_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.fill()
        layout = QVBoxLayout()
        layout.addWidget(self.prompt_combo)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(group(tr("Prompt"), layout))

    def text(self) -> str:
        """The prompt as typed."""
        return self.prompt_combo.currentText()

    def fill(self) -> None:
        """Refill the choices (history first), keeping what is typed."""
        current = self.prompt_combo.currentText()
        self.prompt_combo.blockSignals(True)
        self.prompt_combo.clear()
        seen = set()
        for prompt in list(settings.prompt_history()) + list(EXAMPLE_PROMPTS):
            if prompt not in seen:
                seen.add(prompt)
                self.prompt_combo.addItem(prompt)
        self.prompt_combo.setEditText(current)
        self.prompt_combo.blockSignals(False)
