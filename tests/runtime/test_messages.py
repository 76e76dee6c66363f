"""Every user-facing runtime error the plugin can show has a Chinese form (model_runtime.messages)."""

from __future__ import annotations

import ast
import glob
import os
import re
import string

import pytest

import model_runtime
from model_runtime.errors import DependencyMissingError, SpexInputError
from model_runtime.messages import PANEL_EN, ZH, localize
from model_runtime.prompts import parse_prompt
from model_runtime.raster import RasterSource
from model_runtime.request import AreaOfInterest, ExtractRequest

RUNTIME = os.path.dirname(model_runtime.__file__)
# The CLI speaks English to a terminal; spex/ is the neural model's loader (its messages: a later step).
NOT_SHOWN_IN_THE_PLUGIN = ("cli.py", os.path.join("spex", ""))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _template(node):
    """The str.format template of a message argument: f-string fields become {}; None if not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value.value.replace("{", "{{").replace("}", "}}"))
            else:
                parts.append("{}")
        return "".join(parts)
    return None


def runtime_error_templates():
    """(file:line, template) of every SpexInputError and environment error (SpexEnvironmentError,
    DependencyMissingError) raised by the runtime modules the plugin calls. An environment error whose
    message is built by a helper (a call, e.g. spex_engine._broken_import) is checked by its own test."""
    found = []
    for path in sorted(glob.glob(os.path.join(RUNTIME, "**", "*.py"), recursive=True)):
        relative = os.path.relpath(path, RUNTIME)
        if relative.startswith(NOT_SHOWN_IN_THE_PLUGIN):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", "")
            environment = name in ("SpexEnvironmentError", "DependencyMissingError")
            if environment and isinstance(node.args[0], ast.Call):
                continue
            raised = environment or name == "SpexInputError"
            # band detection notes are shown under the panel's band summary
            note = (
                relative == "bands.py"
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and getattr(node.func.value, "id", "") == "notes"
            )
            if raised or note:
                found.append((f"{relative}:{node.lineno}", _template(node.args[0])))
    return found


def test_every_runtime_error_has_a_chinese_form():
    templates = runtime_error_templates()
    assert len(templates) > 50  # the scan really finds the runtime's messages
    unreadable = [where for where, template in templates if template is None]
    assert unreadable == [], "use a literal (f-)string message so it can be translated"
    catalogue = {key.replace("{{", "{").replace("}}", "}") for key in ZH} | set(ZH)
    missing = [
        (where, t) for where, t in templates if t not in catalogue and t.replace("{{", "{") not in catalogue
    ]
    assert missing == [], f"add these to model_runtime/messages.py ZH: {missing}"


def test_sensor_names_have_a_chinese_form():
    from model_runtime.bands import SENSOR_PRESETS

    assert [p.title for p in SENSOR_PRESETS.values() if p.title not in ZH] == []


@pytest.mark.parametrize("english", sorted(PANEL_EN))
def test_panel_english_keeps_every_field_and_names_no_cli_flag(english):
    panel = PANEL_EN[english]
    fields = english.count("{}")
    used = sorted({int(name) for _, name, _, _ in string.Formatter().parse(panel) if name is not None})
    # a field may be dropped (the role in a CLI example), never invented
    assert set(used) <= set(range(fields)) and "--" not in panel, (english, panel)


@pytest.mark.parametrize("english", sorted(ZH))
def test_chinese_keeps_every_field_and_is_chinese(english):
    chinese = ZH[english]
    fields = english.replace("{{", "").replace("}}", "").count("{}")
    used = sorted({int(name) for _, name, _, _ in string.Formatter().parse(chinese) if name is not None})
    assert used == list(range(fields)), (english, chinese)
    assert CJK.search(chinese)


def _error(call) -> str:
    with pytest.raises(SpexInputError) as info:
        call()
    return str(info.value)


def test_real_errors_come_out_in_chinese(aerial_sample, tmp_path):
    unknown = _error(lambda: parse_prompt("extract the unicorns"))
    chinese = localize(unknown, "zh_CN")
    assert chinese.startswith("提示词") and "水体" in chinese and "ask for" not in chinese  # the help too
    out_of_range = _error(lambda: RasterSource.open(str(aerial_sample), bands={"nir": 9}))
    assert localize(out_of_range, "zh-Hans").startswith("波段映射 nir=9 超出范围")
    assert localize(out_of_range, "en") == out_of_range  # the CLI and Processing keep the flags
    assert localize(out_of_range, "en_US", panel=True).startswith("band 9 for nir is out of range")
    outside = _error(
        lambda: model_runtime.extract(
            ExtractRequest(
                raster=str(aerial_sample),
                prompt="extract the water bodies",
                output=str(tmp_path / "o.gpkg"),
                aoi=AreaOfInterest(bbox=(0, 0, 1, 1)),
            )
        )
    )
    assert "栅格范围之外" in localize(outside, "zh")
    assert (
        localize(unknown, "en") == unknown
        and localize("a message nobody wrote", "zh") == "a message nobody wrote"
    )


def test_missing_package_messages_come_out_in_chinese(monkeypatch, tmp_path):
    """The engine's dependency errors (shown in the plugin's message bar) have a Chinese form."""
    from model_runtime.engines import spex_engine

    broken = tmp_path / "shadow" / "spexbrokenpkg"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('cannot import name x from y')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "shadow"))
    monkeypatch.setattr(spex_engine, "required_modules", lambda feature: ["spexbrokenpkg"])
    with pytest.raises(DependencyMissingError) as info:
        spex_engine.check_dependencies()
    chinese = localize(str(info.value), "zh_CN")
    assert chinese.startswith("导入 spexbrokenpkg 失败") and "pip install" in chinese, chinese
    monkeypatch.setattr(spex_engine, "required_modules", lambda feature: ["spex_no_such_module"])
    with pytest.raises(DependencyMissingError) as info:
        spex_engine.check_dependencies()
    assert localize(str(info.value), "zh_CN").startswith("SPEX 引擎需要 spex_no_such_module")
    assert "--engine" not in localize(str(info.value), "en", panel=True)
