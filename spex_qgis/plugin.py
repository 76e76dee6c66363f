"""The plugin object QGIS loads: toolbar button, Raster menu entries, the SPEX panel and the Processing
provider, the translator, and a clean unload (nothing of the plugin stays behind in QGIS)."""

from __future__ import annotations

import gc
import os
import sys
from typing import List

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale, Qt, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QToolBar

from . import PLUGIN_DIR, RUNTIME_DIR, resource_path

MENU = "&SPEX"
TOOLBAR_NAME = "SpexToolbar"
TRANSLATION_PREFIX = "spex_qgis_"
# QGIS names its Chinese UI locales after the script; the .qm files use the usual region names.
_LOCALE_ALIASES = {
    "zh-Hans": "zh_CN",
    "zh_Hans": "zh_CN",
    "zh-Hant": "zh_TW",
    "zh_Hant": "zh_TW",
    "zh": "zh_CN",
}


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexPlugin`` context."""
    return QCoreApplication.translate("SpexPlugin", text)


def qgis_locale() -> str:
    """The UI locale of QGIS (``zh-Hans``, ``de``, ``en_US``...): the translation QGIS itself loaded
    (``--lang`` included), else the user override, else the system's."""
    app = QgsApplication.instance()
    translation = app.translation() if isinstance(app, QgsApplication) else ""
    if translation and translation != "C":
        return translation
    settings = QgsSettings()
    if settings.value("locale/overrideFlag", False, type=bool):
        name = settings.value("locale/userLocale", "", type=str)
        if name:
            return name
    name = QgsApplication.locale()
    return name if name and name != "C" else QLocale.system().name()


def translation_file(locale: str, folder: str | None = None) -> str | None:
    """The ``.qm`` file for ``locale`` (exact name, alias, then language only), None when there is none."""
    folder = folder or resource_path("i18n")
    locale = (locale or "").strip()
    candidates = [
        locale,
        _LOCALE_ALIASES.get(locale, ""),
        locale.replace("-", "_"),
        locale[:2],
        _LOCALE_ALIASES.get(locale[:2], ""),
    ]
    for name in candidates:
        path = os.path.join(folder, f"{TRANSLATION_PREFIX}{name}.qm")
        if name and os.path.isfile(path):
            return path
    return None


class SpexPlugin:
    """The SPEX plugin: created by :func:`spex_qgis.classFactory` with the QGIS interface."""

    def __init__(self, iface):
        """Install the translator first so every string created later is translated."""
        self.iface = iface
        self.actions: List[QAction] = []
        self.toolbar: QToolBar | None = None
        self.dock = None
        self.provider = None
        self.toggle_action: QAction | None = None
        self.translator: QTranslator | None = None
        self._install_translator()

    # ---------------------------------------------------------------- translator
    def _install_translator(self) -> None:
        path = translation_file(qgis_locale())
        if not path:
            return
        translator = QTranslator()
        if translator.load(path):
            QCoreApplication.installTranslator(translator)
            self.translator = translator

    # ---------------------------------------------------------------- processing
    def initProcessing(self) -> None:
        """Register the ``spex`` Processing provider (QGIS calls this before initGui, and headless)."""
        if self.provider is None:
            from .processing.provider import SpexProvider

            self.provider = SpexProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    # ------------------------------------------------------------------------ gui
    def initGui(self) -> None:
        """Create the toolbar, the Raster > SPEX menu entries and register the provider."""
        self.initProcessing()
        main_window = self.iface.mainWindow()
        icon = QIcon(resource_path("resources", "icons", "spex.svg"))
        self.toggle_action = QAction(icon, tr("SPEX extraction panel"), main_window)
        self.toggle_action.setObjectName("SpexTogglePanel")
        self.toggle_action.setCheckable(True)
        self.toggle_action.setToolTip(tr("Show or hide the SPEX prompt-extraction panel"))
        self.toggle_action.toggled.connect(self.set_panel_visible)
        deps_action = QAction(
            QgsApplication.getThemeIcon("/mActionOptions.svg"),
            tr("Install SPEX engine dependencies…"),
            main_window,
        )
        deps_action.setObjectName("SpexInstallDependencies")
        deps_action.triggered.connect(self.show_dependencies)
        self.actions = [self.toggle_action, deps_action]

        self.toolbar = self.iface.addToolBar(tr("SPEX"))
        self.toolbar.setObjectName(TOOLBAR_NAME)
        self.toolbar.addAction(self.toggle_action)
        for action in self.actions:
            self.iface.addPluginToRasterMenu(MENU, action)

    def set_panel_visible(self, visible: bool) -> None:
        """Show (creating it on first use) or hide the SPEX panel."""
        if self.dock is None:
            if not visible:
                return
            from .dock import SpexDockWidget

            self.dock = SpexDockWidget(self.iface, self.iface.mainWindow())
            self.iface.addDockWidget(Qt.RightDockWidgetArea, self.dock)
            self.dock.visibilityChanged.connect(self._sync_action)
        self.dock.setVisible(visible)
        if visible:
            self.dock.raise_()

    def _sync_action(self, visible: bool) -> None:
        # The panel can be closed with its own [x]: keep the checkable button in step without re-toggling.
        if self.toggle_action is not None and self.toggle_action.isChecked() != visible:
            self.toggle_action.blockSignals(True)
            self.toggle_action.setChecked(visible)
            self.toggle_action.blockSignals(False)

    def show_dependencies(self) -> None:
        """Open the dependency installer (shows the pip command; runs it only on request)."""
        from .ui.install_dialog import show_install_dialog

        show_install_dialog(self.iface.mainWindow())
        if self.dock is not None and hasattr(self.dock, "refresh_engine_status"):
            self.dock.refresh_engine_status()

    # --------------------------------------------------------------------- unload
    def unload(self) -> None:
        """Remove all the plugin added: tasks, map tools, panel, menu, toolbar, provider, translator."""
        self._cancel_tasks()
        self._release_map_tool()
        if self.dock is not None:
            if hasattr(self.dock, "unload"):
                self.dock.unload()
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU, action)
            action.deleteLater()
        self.actions = []
        self.toggle_action = None
        if self.toolbar is not None:
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.setParent(None)
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
        from .deps import remove_deps_from_sys_path

        remove_deps_from_sys_path()
        release_runtime()
        drop_plugin_modules()

    @staticmethod
    def _is_ours(obj) -> bool:
        return type(obj).__module__.split(".")[0] == __name__.split(".")[0]

    def _cancel_tasks(self) -> None:
        for task in QgsApplication.taskManager().activeTasks():
            if self._is_ours(task):
                task.cancel()

    def _release_map_tool(self) -> None:
        canvas = self.iface.mapCanvas()
        tool = canvas.mapTool() if canvas is not None else None
        if tool is not None and self._is_ours(tool):
            canvas.unsetMapTool(tool)


def release_runtime() -> None:
    """Free the SPEX model the runtime keeps between runs, and the GPU memory torch cached for it."""
    engine = sys.modules.get("model_runtime.engines.spex_engine")
    if engine is not None and hasattr(engine, "clear_cache"):
        engine.clear_cache()
    gc.collect()
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and cuda.is_initialized():
        cuda.empty_cache()


def _inside(path: str | None, folder: str) -> bool:
    return bool(path) and os.path.normcase(os.path.realpath(path)).startswith(
        os.path.normcase(os.path.realpath(folder)) + os.sep
    )


def drop_plugin_modules() -> List[str]:
    """Forget the modules loaded from the installed plugin's folder (its own and the vendored runtime), so
    a reinstalled plugin imports its new code; returns their names.

    Only for an installed plugin (the runtime vendored inside it): in a source checkout the runtime is the
    developer's package, not the plugin's to unload. torch & co. stay: compiled modules cannot be unloaded.
    """
    if not _inside(RUNTIME_DIR, PLUGIN_DIR):
        return []
    dropped = [
        name
        for name, module in list(sys.modules.items())
        if _inside(getattr(module, "__file__", None), PLUGIN_DIR)
        or (name.split(".")[0] == "model_runtime" and module is not None)
    ]
    for name in dropped:
        sys.modules.pop(name, None)
    return dropped
