"""Every translatable string of the plugin has a real Chinese translation, and the compiled .qm works."""

import re

import pytest
from qgis.PyQt.QtCore import QCoreApplication, QTranslator

import build_plugin

TS = build_plugin.I18N_DIR + "/spex_qgis_zh_CN.ts"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def scanned():
    messages, problems = build_plugin.scan_sources()
    return messages, problems


@pytest.fixture(scope="module")
def translations():
    return build_plugin.read_ts(TS)


def test_sources_have_no_untranslatable_tr_calls(scanned):
    messages, problems = scanned
    assert len(messages) > 50  # the scan really finds the plugin's strings
    assert problems == []


def test_every_string_has_a_chinese_translation(scanned, translations):
    messages, _ = scanned
    missing = [
        (m.context, m.source) for m in messages if not translations.get((m.context, m.source), "").strip()
    ]
    assert missing == [], f"run `python build_plugin.py --update-ts` and translate: {missing[:10]}"


def test_translations_keep_placeholders_and_are_chinese(scanned, translations):
    messages, _ = scanned
    for message in messages:
        text = translations[(message.context, message.source)]
        expected, found = PLACEHOLDER.findall(message.source), PLACEHOLDER.findall(text)
        positional = any(p == "{}" or p.startswith("{:") for p in expected)
        # Positional fields must keep their order; named ones may move with the Chinese word order.
        assert (found if positional else sorted(found)) == (expected if positional else sorted(expected)), (
            text
        )
        words = re.findall(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", message.source))
        if len([w for w in words if not w.isupper()]) >= 2:  # real prose, not "SPEX {target}"
            assert CJK.search(text), (message.source, text)


def _load(path):
    translator = QTranslator()
    assert translator.load(path), path
    return translator


@pytest.mark.parametrize("use_lrelease", [True, False])
def test_qm_loads_and_translates(qgis_app, tmp_path, translations, use_lrelease):
    if use_lrelease and build_plugin.find_lrelease() is None:
        pytest.skip("lrelease (qttools5-dev-tools) not installed")
    (qm,) = build_plugin.compile_translations(str(tmp_path), use_lrelease=use_lrelease)
    translator = _load(qm)
    # QCoreApplication.translate (not QTranslator.translate: PyQt passes its char* arguments as ASCII) is what
    # the plugin calls, with UTF-8 sources such as "—" and "m²".
    QCoreApplication.installTranslator(translator)
    try:
        for (context, source), text in translations.items():
            assert QCoreApplication.translate(context, source) == text, source
        assert QCoreApplication.translate("SpexPlugin", "no such string") == "no such string"
    finally:
        QCoreApplication.removeTranslator(translator)
