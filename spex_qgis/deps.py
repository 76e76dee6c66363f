"""Optional packages of the SPEX engine: detection, and a pip install into a plugin-managed folder.

Nothing here imports torch & co.: presence is read with ``importlib.util.find_spec`` and versions from the
installed distribution metadata, so the plugin loads in a bare QGIS. Packages are installed (only when the
user clicks "Install" in :func:`show_install_dialog`) into ``<QGIS profile>/python/spex_deps``, a folder that
is *appended* to ``sys.path`` so QGIS's own numpy/GDAL always win over anything pip put there.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

DEPS_FOLDER_NAME = "spex_deps"
TORCH_VERSION = "2.13.0"  # the build the engine is tested with (pyproject.toml, scripts/constraints.txt)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"  # Windows: PyPI only carries CPU torch there


@dataclass(frozen=True)
class Requirement:
    """One optional package: import name, pip distribution name(s), pip specifier, minimum version."""

    module: str
    dists: Tuple[str, ...]  # distributions that provide ``module`` (first = what we install)
    spec: str  # pip requirement text
    min_version: str
    required: bool = True  # False: nice to have, the engine runs without it


REQUIREMENTS: Tuple[Requirement, ...] = (
    Requirement("torch", ("torch",), f"torch=={TORCH_VERSION}", "2.1"),
    Requirement("transformers", ("transformers",), "transformers>=4.57.6,<4.58", "4.57.6"),
    Requirement("safetensors", ("safetensors",), "safetensors>=0.4", "0.4"),
    Requirement("tokenizers", ("tokenizers",), "tokenizers>=0.22.2,<0.23", "0.22.2"),
    Requirement("onnxruntime", ("onnxruntime", "onnxruntime-gpu"), "onnxruntime>=1.19", "1.19"),
    Requirement("accelerate", ("accelerate",), "accelerate>=1.0", "1.0", required=False),
)


@dataclass(frozen=True)
class PackageStatus:
    """What was found for one :class:`Requirement`."""

    module: str
    installed: bool
    version: str | None  # None when installed but without metadata (vendored copies)
    dist: str | None  # the distribution that provides it
    ok: bool  # installed and at least ``min_version``
    required: bool


def _version_tuple(text: str) -> Tuple[int, ...]:
    """'2.13.0+cpu' -> (2, 13, 0); non-numeric parts stop the parse (good enough for minimums)."""
    parts = []
    for piece in re.split(r"[.+-]", text):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    return tuple(parts)


def _dist_version(names: Sequence[str]) -> Tuple[str | None, str | None]:
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def package_status(req: Requirement) -> PackageStatus:
    """Whether ``req`` is importable and recent enough, without importing it."""
    try:
        found = importlib.util.find_spec(req.module) is not None
    except (ImportError, ValueError):
        found = False
    dist, version = _dist_version(req.dists) if found else (None, None)
    ok = found and (version is None or _version_tuple(version) >= _version_tuple(req.min_version))
    return PackageStatus(req.module, found, version, dist, ok, req.required)


def all_package_status() -> List[PackageStatus]:
    """:func:`package_status` of every entry of :data:`REQUIREMENTS`."""
    importlib.invalidate_caches()  # a pip run in this session may have added packages
    return [package_status(r) for r in REQUIREMENTS]


def spex_engine_status() -> Tuple[bool, str]:
    """``(available, reason)``: can the SPEX engine run here? ``reason`` is one line for the UI."""
    statuses = all_package_status()
    missing = [s.module for s in statuses if s.required and not s.installed]
    old = [f"{s.module} {s.version}" for s in statuses if s.required and s.installed and not s.ok]
    if not missing and not old:
        versions = ", ".join(f"{s.module} {s.version or '?'}" for s in statuses if s.installed)
        return True, f"SPEX engine ready ({versions})"
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if old:
        problems.append("too old: " + ", ".join(old))
    return False, (
        f"SPEX engine unavailable ({'; '.join(problems)}): "
        "use Raster > SPEX > Install SPEX engine dependencies…, or pick the spectral engine"
    )


def profile_python_folder() -> str:
    """``<QGIS profile>/python`` (where QGIS keeps the profile's plugins)."""
    from qgis.core import QgsApplication

    return os.path.join(QgsApplication.qgisSettingsDirPath(), "python")


def deps_folder() -> str:
    """The plugin-managed site folder, ``<QGIS profile>/python/spex_deps`` (may not exist yet)."""
    return os.path.join(profile_python_folder(), DEPS_FOLDER_NAME)


def add_deps_to_sys_path(folder: str | None = None) -> str | None:
    """Append the deps folder to ``sys.path`` when it exists (appended: QGIS's packages win). Returns it."""
    folder = folder or deps_folder()
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)
        importlib.invalidate_caches()
        return folder
    return folder if folder in sys.path else None


def remove_deps_from_sys_path(folder: str | None = None) -> None:
    """Undo :func:`add_deps_to_sys_path` (modules already imported stay loaded)."""
    folder = folder or deps_folder()
    while folder in sys.path:
        sys.path.remove(folder)


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver is visible (``nvidia-smi`` or the Linux driver's proc file).

    Decides onnxruntime-gpu vs onnxruntime and which torch build to ask for, so it must not import torch.
    """
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    if shutil.which("nvidia-smi"):
        return True
    if sys.platform == "win32":
        system_root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.exists(os.path.join(system_root, "System32", "nvidia-smi.exe"))
    return False


def _python_candidates(executable: str, exec_prefix: str, version: Tuple[int, int], win: bool) -> List[str]:
    major, minor = version
    names = ["python.exe", "python3.exe"] if win else [f"python{major}.{minor}", f"python{major}", "python"]
    candidates = []
    if re.match(r"python[\d.]*(\.exe)?$", os.path.basename(executable).lower()):
        candidates.append(executable)
    folders = [exec_prefix, os.path.join(exec_prefix, "bin")] if win else [os.path.join(exec_prefix, "bin")]
    for folder in folders:
        candidates += [os.path.join(folder, n) for n in names]
    return candidates


def find_python(
    executable: str | None = None,
    exec_prefix: str | None = None,
    version: Tuple[int, int] | None = None,
    win: bool | None = None,
) -> str | None:
    """The Python interpreter that runs QGIS's Python (the one pip must install for).

    ``sys.executable`` is QGIS itself on Windows/macOS builds (``qgis-bin.exe``, ``QGIS.app/...``); the
    interpreter then lives in ``sys.exec_prefix`` (OSGeo4W: ``apps/Python3x/python.exe``; macOS bundle:
    ``Contents/MacOS/bin/python3``). Arguments exist for tests; by default they come from :mod:`sys`.
    """
    executable = executable if executable is not None else sys.executable
    exec_prefix = exec_prefix if exec_prefix is not None else sys.exec_prefix
    version = version or sys.version_info[:2]
    win = (sys.platform == "win32") if win is None else win
    for candidate in _python_candidates(executable, exec_prefix, version, win):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(f"python{version[0]}.{version[1]}")  # same minor version: same ABI for wheels
    return found


def numpy_version() -> str | None:
    """QGIS's numpy version (from metadata, without importing numpy), None when numpy is absent."""
    try:
        return importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        return None


def write_constraints(path: str) -> str:
    """Write the pip constraints file that keeps pip from bringing another numpy than QGIS's; returns it."""
    lines = ["# written by the SPEX plugin: keep QGIS's numpy (GDAL's bindings are built against it)"]
    version = numpy_version()
    lines.append(f"numpy=={version}" if version else "numpy<2")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def requirement_specs(
    gpu: bool, statuses: List[PackageStatus] | None = None, only_missing: bool = True
) -> List[str]:
    """The pip requirement texts to install: onnxruntime-gpu *or* onnxruntime, never both.

    With ``only_missing`` packages that are already fine are left out; an installed onnxruntime flavour
    counts for both (two flavours side by side overwrite each other's ``onnxruntime`` module).
    """
    statuses = statuses if statuses is not None else all_package_status()
    by_module: Dict[str, PackageStatus] = {s.module: s for s in statuses}
    specs = []
    for req in REQUIREMENTS:
        status = by_module.get(req.module)
        if only_missing and status is not None and status.ok:
            continue
        spec = req.spec
        if req.module == "onnxruntime":
            installed_flavour = status.dist if status is not None and status.installed else None
            flavour = installed_flavour or ("onnxruntime-gpu" if gpu else "onnxruntime")
            spec = spec.replace("onnxruntime", flavour, 1)
        specs.append(spec)
    return specs


def pip_install_command(
    target: str | None = None,
    constraints: str | None = None,
    python: str | None = None,
    gpu: bool | None = None,
    statuses: List[PackageStatus] | None = None,
    only_missing: bool = True,
    system: str | None = None,
) -> List[str]:
    """The exact argv that installs the SPEX engine's packages into the plugin-managed folder.

    ``[python, -m, pip, install, --target, <folder>, --constraint, <file>, (--extra-index-url URL),
    specs...]``.
    Raises ``RuntimeError`` when no Python interpreter can be found. Nothing is run here.
    When everything is already present the command reinstalls the torch pin (``only_missing=False``
    semantics for torch), so callers check :func:`requirement_specs` first.
    """
    python = python or find_python()
    if not python:
        raise RuntimeError(
            f"no python{sys.version_info[0]}.{sys.version_info[1]} interpreter found next to QGIS "
            f"({sys.executable}): install the packages with the Python that ships with QGIS"
        )
    target = target or deps_folder()
    constraints = constraints or os.path.join(os.path.dirname(target), DEPS_FOLDER_NAME + "-constraints.txt")
    gpu = has_nvidia_gpu() if gpu is None else gpu
    system = system or platform.system()
    specs = requirement_specs(gpu, statuses, only_missing) or [REQUIREMENTS[0].spec]
    argv = [python, "-m", "pip", "install", "--target", target, "--constraint", constraints]
    if any(s.startswith("torch") for s in specs):
        # PyPI's Linux torch is the multi-GB CUDA build, its Windows torch is CPU only: pick the index that
        # matches the machine. The extra index's "+cpu"/"+cuXXX" local version sorts above the plain one.
        if not gpu and system == "Linux":
            argv += ["--extra-index-url", TORCH_CPU_INDEX]
        elif gpu and system == "Windows":
            argv += ["--extra-index-url", TORCH_CUDA_INDEX]
    return argv + specs


def format_command(argv: Sequence[str]) -> str:
    """The command as one line a user can paste into a shell (quoted for the current platform)."""
    if sys.platform == "win32":
        import subprocess

        return subprocess.list2cmdline(list(argv))
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDeps`` context."""
    from qgis.PyQt.QtCore import QCoreApplication

    return QCoreApplication.translate("SpexDeps", text)


def _dialog_class():
    # Built on first use: keeps this module importable (and testable) without a QApplication.
    global _DIALOG_CLASS
    if _DIALOG_CLASS is not None:
        return _DIALOG_CLASS
    from qgis.PyQt.QtCore import QProcess
    from qgis.PyQt.QtGui import QFontDatabase, QGuiApplication
    from qgis.PyQt.QtWidgets import (
        QDialog,
        QDialogButtonBox,
        QLabel,
        QPlainTextEdit,
        QPushButton,
        QVBoxLayout,
    )

    class SpexDepsDialog(QDialog):
        """Shows the pip command, runs it on request with QProcess and streams its output."""

        def __init__(self, parent=None, argv: List[str] | None = None):
            super().__init__(parent)
            self.setWindowTitle(tr("Install SPEX engine dependencies"))
            self.resize(760, 480)
            self.process: QProcess | None = None
            available, reason = spex_engine_status()
            self.status_label = QLabel(reason)
            self.status_label.setWordWrap(True)
            gpu = has_nvidia_gpu()
            self.argv = list(argv or [])
            if not self.argv:
                try:
                    self.argv = pip_install_command(gpu=gpu)
                except RuntimeError as error:
                    self.status_label.setText(str(error))
            if "--constraint" in self.argv:
                write_constraints(self.argv[self.argv.index("--constraint") + 1])
            hint = QLabel(
                tr("The packages go to {folder} (only used by this QGIS profile). Command:").format(
                    folder=deps_folder()
                )
                + ("\n" + tr("An NVIDIA GPU was detected: the CUDA builds are installed.") if gpu else "")
            )
            hint.setWordWrap(True)
            mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
            self.command_edit = QPlainTextEdit(format_command(self.argv))
            self.command_edit.setReadOnly(True)
            self.command_edit.setFont(mono)
            self.command_edit.setMaximumHeight(90)
            self.output_edit = QPlainTextEdit()
            self.output_edit.setReadOnly(True)
            self.output_edit.setFont(mono)
            self.output_edit.setPlaceholderText(tr("pip output appears here once you click Install."))
            buttons = QDialogButtonBox(QDialogButtonBox.Close)
            self.copy_button = QPushButton(tr("Copy command"))
            self.install_button = QPushButton(tr("Install"))
            self.stop_button = QPushButton(tr("Stop"))
            self.stop_button.setEnabled(False)
            self.install_button.setEnabled(bool(self.argv) and (argv is not None or not available))
            for button in (self.copy_button, self.install_button, self.stop_button):
                buttons.addButton(button, QDialogButtonBox.ActionRole)
            self.copy_button.clicked.connect(
                lambda: QGuiApplication.clipboard().setText(format_command(self.argv))
            )
            self.install_button.clicked.connect(self.start)
            self.stop_button.clicked.connect(self.stop)
            buttons.rejected.connect(self.reject)
            layout = QVBoxLayout(self)
            for widget in (self.status_label, hint, self.command_edit, self.output_edit, buttons):
                layout.addWidget(widget)

        def start(self) -> None:
            """Run the command (asynchronously) and stream stdout+stderr into the output box."""
            if not self.argv or self.process is not None:
                return
            if "--target" in self.argv:
                os.makedirs(self.argv[self.argv.index("--target") + 1], exist_ok=True)
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
            """Kill a running pip."""
            if self.process is not None:
                self.process.kill()

        def _read_output(self) -> None:
            data = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
            self.output_edit.insertPlainText(data)
            self.output_edit.ensureCursorVisible()

        def _error(self, error) -> None:
            if error == QProcess.FailedToStart:
                self.output_edit.appendPlainText(tr("Could not start {python}.").format(python=self.argv[0]))
                self._finished(-1, None)

        def _finished(self, code, _status) -> None:
            if self.process is None:
                return
            self.process = None
            self.stop_button.setEnabled(False)
            add_deps_to_sys_path()
            available, reason = spex_engine_status()
            self.status_label.setText(reason)
            self.install_button.setEnabled(not available)
            if code == 0:
                self.output_edit.appendPlainText(tr("Done. Restart QGIS if the SPEX engine was used before."))
            else:
                self.output_edit.appendPlainText(tr("pip failed (exit status {code}).").format(code=code))

        def reject(self) -> None:
            """Close; a running pip is stopped first (a half-done install is removed by pip itself)."""
            self.stop()
            super().reject()

    _DIALOG_CLASS = SpexDepsDialog
    return _DIALOG_CLASS


_DIALOG_CLASS = None


def install_dialog(parent=None, argv: List[str] | None = None):
    """Create (without showing) the install dialog; ``argv`` overrides the command (tests)."""
    return _dialog_class()(parent, argv)


def show_install_dialog(parent=None):
    """Show the install dialog: the exact command, an Install button, pip's output streamed live.

    Nothing runs until the user clicks "Install". Returns the dialog after it is closed.
    """
    dialog = install_dialog(parent)
    dialog.exec_()
    return dialog
