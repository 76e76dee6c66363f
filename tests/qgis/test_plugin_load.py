"""Load and unload the plugin in real QGIS (pytest-qgis's iface): GUI entries, panel, provider, translator."""

import pytest
from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QEvent
from qgis.PyQt.QtWidgets import QAction, QToolBar

import spex_qgis
from spex_qgis import plugin as plugin_module


@pytest.fixture()
def loaded_plugin(qgis_app, qgis_iface, qgis_processing):
    qgis_iface.addPluginToRasterMenu.reset_mock()
    qgis_iface.removePluginRasterMenu.reset_mock()
    plugin = spex_qgis.classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    if plugin.actions or plugin.provider is not None:
        plugin.unload()


def _registry_has_spex():
    return QgsApplication.processingRegistry().providerById("spex") is not None


def test_init_gui_adds_actions_toolbar_menu_and_provider(loaded_plugin, qgis_iface):
    plugin = loaded_plugin
    assert [a.objectName() for a in plugin.actions] == ["SpexTogglePanel", "SpexInstallDependencies"]
    assert plugin.toolbar is not None and plugin.toggle_action in plugin.toolbar.actions()
    assert not plugin.toggle_action.icon().isNull()
    menu_calls = [c.args for c in qgis_iface.addPluginToRasterMenu.call_args_list]
    assert menu_calls == [(plugin_module.MENU, a) for a in plugin.actions]
    assert _registry_has_spex()
    assert QgsApplication.processingRegistry().algorithmById("spex:extract") is not None


def test_toggle_action_shows_and_hides_the_panel(loaded_plugin, qgis_iface):
    plugin = loaded_plugin
    qgis_iface.mainWindow().show()  # offscreen; visibility signals need a shown window
    assert plugin.dock is None  # created lazily: loading the plugin stays cheap
    plugin.toggle_action.setChecked(True)
    assert plugin.dock is not None and plugin.dock.isVisible()
    plugin.toggle_action.setChecked(False)
    assert not plugin.dock.isVisible()
    plugin.toggle_action.setChecked(True)
    assert plugin.dock.isVisible()
    plugin.dock.close()  # the panel's own [x] unchecks the button
    assert not plugin.toggle_action.isChecked()
    qgis_iface.mainWindow().hide()


def test_unload_removes_everything(loaded_plugin, qgis_iface):
    plugin = loaded_plugin
    plugin.toggle_action.setChecked(True)
    actions = list(plugin.actions)
    dock = plugin.dock
    plugin.unload()
    assert not _registry_has_spex()
    assert plugin.actions == [] and plugin.dock is None and plugin.toolbar is None
    removed = [c.args for c in qgis_iface.removePluginRasterMenu.call_args_list]
    assert removed == [(plugin_module.MENU, a) for a in actions]
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)  # run deleteLater
    from qgis.PyQt import sip

    assert sip.isdeleted(dock)
    main = qgis_iface.mainWindow()
    leftovers = [
        a for a in main.findChildren(QAction) if a.objectName().startswith("Spex") and not sip.isdeleted(a)
    ]
    assert leftovers == []
    assert [t for t in main.findChildren(QToolBar) if t.objectName() == plugin_module.TOOLBAR_NAME] == []


def test_load_unload_twice(qgis_iface, qgis_processing):
    for _ in range(2):
        plugin = spex_qgis.classFactory(qgis_iface)
        plugin.initGui()
        assert _registry_has_spex()
        plugin.unload()
        assert not _registry_has_spex()


def test_chinese_locale_installs_and_unload_removes_the_translator(qgis_iface, qgis_processing):
    import build_plugin

    build_plugin.compile_translations()  # i18n/*.qm (git-ignored), what `make plugin` ships
    assert plugin_module.translation_file("zh-Hans") is not None
    settings = QgsSettings()
    old = settings.value("locale/overrideFlag"), settings.value("locale/userLocale")
    settings.setValue("locale/overrideFlag", True)
    settings.setValue("locale/userLocale", "zh-Hans")  # what QGIS stores for Simplified Chinese
    try:
        plugin = spex_qgis.classFactory(qgis_iface)
        assert plugin.translator is not None
        plugin.initGui()
        assert plugin.toggle_action.text() != "SPEX extraction panel"
        assert plugin.toggle_action.text() == QCoreApplication.translate(
            "SpexPlugin", "SPEX extraction panel"
        )
        plugin.unload()
        assert plugin.translator is None
        assert QCoreApplication.translate("SpexPlugin", "SPEX extraction panel") == "SPEX extraction panel"
    finally:
        for key, value in zip(("locale/overrideFlag", "locale/userLocale"), old):
            if value is None:
                settings.remove(key)
            else:
                settings.setValue(key, value)


def test_translation_file_lookup(tmp_path):
    (tmp_path / "spex_qgis_zh_CN.qm").write_bytes(b"x")
    (tmp_path / "spex_qgis_de.qm").write_bytes(b"x")
    for locale in ("zh-Hans", "zh_CN", "zh"):
        assert plugin_module.translation_file(locale, str(tmp_path)).endswith("spex_qgis_zh_CN.qm")
    assert plugin_module.translation_file("de_AT", str(tmp_path)).endswith("spex_qgis_de.qm")
    assert plugin_module.translation_file("fr_FR", str(tmp_path)) is None
    assert plugin_module.translation_file("", str(tmp_path)) is None


def test_locale_follows_the_translation_qgis_loaded(qgis_app):
    """``qgis --lang zh-Hans`` sets QGIS's translation without the override flag: the plugin follows it."""
    import build_plugin

    build_plugin.compile_translations()
    app = QgsApplication.instance()
    old = app.translation()
    try:
        QgsApplication.setTranslation("zh-Hans")
        assert plugin_module.qgis_locale() == "zh-Hans"
        assert plugin_module.translation_file(plugin_module.qgis_locale()).endswith("spex_qgis_zh_CN.qm")
    finally:
        QgsApplication.setTranslation(old)
