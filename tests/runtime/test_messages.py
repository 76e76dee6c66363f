"""Every user-facing runtime error the plugin can show has a Chinese form (model_runtime.messages)."""

from __future__ import annotations

import ast
import glob
import os
import re
import string

import pytest

import model_runtime
from model_runtime import errors
from model_runtime.errors import DependencyMissingError, SpexInputError
from model_runtime.io.raster import RasterSource
from model_runtime.messages import PANEL_EN, ZH, localize
from model_runtime.prompts import parse_prompt
from model_runtime.request import AreaOfInterest, ExtractRequest

RUNTIME = os.path.dirname(model_runtime.__file__)
# Every user-visible runtime message has one catalogue, whichever front end shows it: the CLI's own
# messages are scanned too. Only the spex package's developer tools (doctor, export-onnx) speak English.
NOT_SHOWN_IN_THE_PLUGIN = (os.path.join("spex", "tools", ""),)
# Every error the runtime raises on purpose reaches the user (the plugin's message bar): input, model folder,
# missing dependency... Cancelling is reported by the plugin in its own words. Plus the CLI's usage errors.
USER_ERRORS = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type)
    and issubclass(value, errors.SpexError)
    and value is not errors.ExtractionCancelled
} | {"ArgumentTypeError", "_UsageError"}
# Warnings the engine returns with its mask (shown with the result): ``warnings.append(...)`` in these files.
WARNING_FILES = (os.path.join("engines", "spex_engine.py"),)
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
    """(file:line, template) of every user error (:data:`USER_ERRORS`) raised by the runtime modules the
    plugin calls, of the band notes and of the engine warnings of :data:`WARNING_FILES`."""
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
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            raised = name in USER_ERRORS
            warning = (
                relative in WARNING_FILES
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and getattr(node.func.value, "id", "") == "warnings"
            )
            built_by_helper = isinstance(node.args[0], ast.Call)
            if name in ("SpexEnvironmentError", "DependencyMissingError") and built_by_helper:
                continue  # a message built by a helper (spex_engine._broken_import): checked by its own test
            # band detection notes are shown under the panel's band summary
            note = (
                relative == os.path.join("io", "bands.py")
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and getattr(node.func.value, "id", "") == "notes"
            )
            if warning and _template(node.args[0]) is None:
                continue  # a note passed on from elsewhere (the composite's, the encoder runtime's)
            if raised or note or warning:
                found.append((f"{relative}:{node.lineno}", _template(node.args[0])))
    return found


def test_every_runtime_error_has_a_chinese_form():
    templates = runtime_error_templates()
    assert len(templates) > 50  # the scan really finds the runtime's messages
    scanned = {where.split(":")[0] for where, _ in templates}
    # ... including the neural model package and the spex engine
    spex = {os.path.join("spex", "loading", "checkpoint.py"), os.path.join("engines", "spex_engine.py")}
    assert spex <= scanned
    unreadable = [where for where, template in templates if template is None]
    assert unreadable == [], "use a literal (f-)string message so it can be translated"
    catalogue = {key.replace("{{", "{").replace("}}", "}") for key in ZH} | set(ZH)
    missing = [
        (where, t) for where, t in templates if t not in catalogue and t.replace("{{", "{") not in catalogue
    ]
    assert missing == [], f"add these to model_runtime/messages.py ZH: {missing}"


def test_sensor_names_have_a_chinese_form():
    from model_runtime.io.bands import SENSOR_PRESETS

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
    message = str(info.value)
    # the traceback holds GDAL objects in a reference cycle with this frame: freed now, not by a garbage
    # collection after QGIS/GDAL shut down (a segmentation fault at exit)
    del info
    return message


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


def test_model_errors_come_out_in_chinese(tmp_path):
    from model_runtime.spex.loading.device import resolve_precision
    from model_runtime.spex.modeling.config import SpexConfig

    with pytest.raises(errors.ModelLoadError) as info:
        SpexConfig.from_json_file(str(tmp_path / "config.json"))
    assert (
        localize(str(info.value), "zh")
        == f"{tmp_path} 中没有 config.json：请指向 SPEX 检查点文件夹（包含 config.json 的那个）"
    )
    bad = _error(lambda: resolve_precision("cpu", "fp8"))
    assert localize(bad, "zh_CN") == "无法识别精度“fp8”：请使用 auto、fp32、fp16、bf16 或 int8"


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
