"""The dialog that installs the spex engine's packages into this QGIS profile (Raster > SPEX > Install…).

It shows the choices made and the exact command, runs it only on request (QProcess, output streamed live),
and says "ready" only once the import check in QGIS's own Python passed (:mod:`spex_qgis.deps`).
"""

from __future__ import annotations

import json
from typing import Dict, List

from qgis.PyQt.QtCore import QCoreApplication, QProcess
from qgis.PyQt.QtGui import QFontDatabase, QGuiApplication
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from .. import installer
from ..deps import (
    add_deps_to_sys_path,
    deps_folder,
    format_command,
    install_plan,
    installer_command,
    prepare_installer_files,
    spex_engine_status,
    store_check,
)


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDeps`` context (the strings this dialog had inside deps.py)."""
    return QCoreApplication.translate("SpexDeps", text)


class SpexDepsDialog(QDialog):
    """Shows the install command and the choices made, runs it on request with QProcess, streams its
    output, and says "ready" only once the import check in QGIS's Python passed."""

    def __init__(self, parent=None, argv: List[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle(tr("Install SPEX engine dependencies"))
        self.resize(820, 520)
        self.process: QProcess | None = None
        self.check: Dict | None = None
        self._custom_argv = argv is not None
        self._buffer = ""
        available, reason = spex_engine_status()
        self._build(reason)
        self.argv = list(argv or [])
        self._available = available
        self._rebuild()

    def _build(self, reason: str) -> None:
        """The widgets: status, notes, wheel folder, command, output and the buttons."""
        self.status_label = QLabel(reason)
        self.status_label.setWordWrap(True)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.wheel_edit = QLineEdit()
        self.wheel_edit.setPlaceholderText(tr("Offline: a folder of wheels (leave empty to download)"))
        browse = QPushButton(tr("Browse…"))
        browse.clicked.connect(self._browse_wheels)
        self.wheel_edit.editingFinished.connect(self._rebuild)
        wheel_row = QHBoxLayout()
        wheel_row.addWidget(self.wheel_edit)
        wheel_row.addWidget(browse)
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        self.command_edit = QPlainTextEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setFont(mono)
        self.command_edit.setMaximumHeight(90)
        self.output_edit = QPlainTextEdit()
        self.output_edit.setReadOnly(True)
        self.output_edit.setFont(mono)
        self.output_edit.setPlaceholderText(tr("pip output appears here once you click Install."))
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.notes_label)
        layout.addLayout(wheel_row)
        layout.addWidget(self.command_edit)
        layout.addWidget(self.output_edit)
        layout.addWidget(self._buttons())

    def _buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.copy_button = QPushButton(tr("Copy command"))
        self.check_button = QPushButton(tr("Check again"))
        self.install_button = QPushButton(tr("Install"))
        self.stop_button = QPushButton(tr("Stop"))
        self.stop_button.setEnabled(False)
        for button in (self.copy_button, self.check_button, self.install_button, self.stop_button):
            buttons.addButton(button, QDialogButtonBox.ActionRole)
        self.copy_button.clicked.connect(self._copy_command)
        self.check_button.clicked.connect(self.recheck)
        self.install_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        buttons.rejected.connect(self.reject)
        return buttons

    def _copy_command(self) -> None:
        QGuiApplication.clipboard().setText(format_command(self.argv))

    def _browse_wheels(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, tr("Folder of wheels"), self.wheel_edit.text())
        if folder:
            self.wheel_edit.setText(folder)
            self._rebuild()

    def _rebuild(self) -> None:
        """Recompute the plan and the command (after a change of the wheel folder)."""
        if not self._custom_argv:
            plan = install_plan(wheel_dir=self.wheel_edit.text().strip() or None)
            try:
                self.argv = installer_command(plan)
            except RuntimeError as error:
                self.argv = []
                self.status_label.setText(str(error))
            notes = list(plan.notes)
            target = deps_folder()
        else:
            notes, target = [], ""
        if "--target" in self.argv:
            target = self.argv[self.argv.index("--target") + 1]
        head = tr(
            "The packages go to {folder} (only this QGIS profile uses them), only those QGIS's Python "
            "lacks or has too old."
        ).format(folder=target)
        self.notes_label.setText("\n".join([head] + notes))
        self.command_edit.setPlainText(format_command(self.argv))
        self.install_button.setEnabled(bool(self.argv) and (self._custom_argv or not self._available))

    def start(self) -> None:
        """Run the command (asynchronously) and stream stdout+stderr into the output box."""
        if not self.argv or self.process is not None:
            return
        if "--path-json" in self.argv:
            prepare_installer_files(self.argv)
        self.check = None
        self._buffer = ""
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read_output)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.install_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.output_edit.appendPlainText("$ " + format_command(self.argv))
        self.process.start(self.argv[0], self.argv[1:])

    def stop(self) -> None:
        """Kill a running install."""
        if self.process is not None:
            self.process.kill()

    def recheck(self) -> None:
        """Redo the import check (after installing packages by hand)."""
        available, reason = spex_engine_status(refresh=True)
        self._available = available
        self.status_label.setText(reason)
        self._rebuild()

    def _read_output(self) -> None:
        data = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        self._buffer += data
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.startswith(installer.CHECK_PREFIX):
                self.check = json.loads(line[len(installer.CHECK_PREFIX) :])
            else:
                self.output_edit.appendPlainText(line)
        self.output_edit.ensureCursorVisible()

    def _error(self, error) -> None:
        if error == QProcess.FailedToStart:
            self.output_edit.appendPlainText(tr("Could not start {python}.").format(python=self.argv[0]))
            self._finished(-1, None)

    def _finished(self, code, _status) -> None:
        if self.process is None:
            return
        if self._buffer:
            self.output_edit.appendPlainText(self._buffer)
            self._buffer = ""
        self.process = None
        self.stop_button.setEnabled(False)
        target = self.argv[self.argv.index("--target") + 1] if "--target" in self.argv else None
        if target:
            add_deps_to_sys_path(target)
            if self.check is not None:
                store_check(self.check, target)
        available, reason = spex_engine_status()
        self._available = available
        self.status_label.setText(reason)
        self.install_button.setEnabled(bool(self.argv) and not available)
        if code == 0:
            self.output_edit.appendPlainText(tr("Done: {status}").format(status=reason))
        else:
            self.output_edit.appendPlainText(
                tr("Failed (exit status {code}): {status}").format(code=code, status=reason)
            )

    def reject(self) -> None:
        """Close; a running pip is stopped first (a half-done install is removed by pip itself)."""
        self.stop()
        super().reject()


def install_dialog(parent=None, argv: List[str] | None = None) -> SpexDepsDialog:
    """Create (without showing) the install dialog; ``argv`` overrides the command (tests)."""
    return SpexDepsDialog(parent, argv)


def show_install_dialog(parent=None) -> SpexDepsDialog:
    """Show the install dialog: the choices made, the exact command, an Install button, the output live.

    Nothing runs until the user clicks "Install". Returns the dialog after it is closed.
    """
    dialog = install_dialog(parent)
    dialog.exec_()
    return dialog
