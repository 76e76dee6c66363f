#!/usr/bin/env python3
"""Build the installable QGIS plugin ZIP, and keep the translations in step with the code.

    python build_plugin.py             # -> dist/spex_qgis-<version>.zip
    python build_plugin.py --update-ts # rescan tr() strings into i18n/*.ts (keeps existing translations)
    python build_plugin.py --qm        # compile i18n/*.ts -> i18n/*.qm only

The ZIP has one top folder ``spex_qgis/`` holding the plugin code, the runtime vendored as
``spex_qgis/model_runtime/`` (see ``spex_qgis.ensure_runtime_importable``), ``resources/``, ``i18n/*.qm``,
``metadata.txt`` and ``LICENSE``; no tests, caches or bytecode. ``.qm`` files are compiled with Qt's
``lrelease`` when it is installed, else by :func:`write_qm` (a small pure-Python writer of the same format).
Only the standard library is used: the script runs with any Python 3.9+.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.abspath(__file__))
PLUGIN = "spex_qgis"
RUNTIME = "model_runtime"
I18N_DIR = os.path.join(ROOT, "i18n")
LOCALES = ("zh_CN",)
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", "tests", "test"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", ".swp", "~")
LICENSE_FALLBACK = "/usr/share/common-licenses/Apache-2.0"  # Debian's copy of the project's licence


# --------------------------------------------------------------------------------------------- strings


@dataclass
class Message:
    """One translatable string: where it is used and its source text."""

    context: str
    source: str
    locations: List[Tuple[str, int]] = field(default_factory=list)  # (path relative to ROOT, line)


@dataclass
class ScanProblem:
    """A tr() call whose text cannot be extracted (f-string, concatenation, unknown context)."""

    path: str
    line: int
    problem: str


def _const_str(node) -> str | None:
    """The value of a string literal, including implicit concatenation ``"a" "b"`` (one Constant in AST)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _translate_context(func_def: ast.FunctionDef) -> str | None:
    """The literal context of a ``def tr(...): return QCoreApplication.translate("Ctx", ...)`` helper."""
    for node in ast.walk(func_def):
        if isinstance(node, ast.Call) and _call_name(node) == "translate" and node.args:
            return _const_str(node.args[0])
    return None


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


class _Scanner(ast.NodeVisitor):
    """Collects ``self.tr("..")``, ``tr("..")`` and ``QCoreApplication.translate("Ctx", "..")`` strings.

    Context rules follow pylupdate5 and PyQt: ``self.tr`` in a class uses the class's own ``tr`` helper
    context when it defines one, else the class name; a bare ``tr()`` uses the module's ``def tr`` context.
    """

    def __init__(self, path: str, module_tr_context: str | None):
        self.path = path
        self.module_tr_context = module_tr_context
        self.class_stack: List[Tuple[str, str | None]] = []  # (class name, its tr helper context)
        self.found: List[Tuple[str, str, int]] = []
        self.problems: List[ScanProblem] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:  # noqa: N802 - ast API
        helper = None
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "tr":
                helper = _translate_context(item)
        self.class_stack.append((node.name, helper))
        self.generic_visit(node)
        self.class_stack.pop()

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802 - ast API
        name = _call_name(node)
        if name == "translate" and len(node.args) >= 2 and _const_str(node.args[0]) is not None:
            self._add(_const_str(node.args[0]), node.args[1], node.lineno)
        elif name == "tr" and node.args:
            is_method = isinstance(node.func, ast.Attribute)
            if is_method and self.class_stack:
                cls, helper = self.class_stack[-1]
                context = helper or cls
            elif not is_method:
                context = self.module_tr_context
            else:
                context = None
            if context is None:
                self.problems.append(ScanProblem(self.path, node.lineno, "tr() with no known context"))
            else:
                self._add(context, node.args[0], node.lineno)
        self.generic_visit(node)

    def _add(self, context: str, arg, line: int) -> None:
        text = _const_str(arg)
        if text is not None:
            self.found.append((context, text, line))
        elif isinstance(arg, (ast.JoinedStr, ast.BinOp)) or (
            isinstance(arg, ast.Call) and _call_name(arg) == "format"
        ):
            self.problems.append(
                ScanProblem(self.path, line, "tr() of a built string: translate the template, then .format()")
            )
        # A plain variable (tr(text) inside a helper) is fine: its literals are scanned where they are.


def scan_sources(folder: str = os.path.join(ROOT, PLUGIN)) -> Tuple[List[Message], List[ScanProblem]]:
    """Every translatable string of the plugin's Python files, grouped by (context, source), in file order."""
    messages: Dict[Tuple[str, str], Message] = {}
    problems: List[ScanProblem] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and d != RUNTIME)
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = os.path.join(dirpath, filename)
            rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), filename=path)
            module_tr = None
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name == "tr":
                    module_tr = _translate_context(node)
            scanner = _Scanner(rel, module_tr)
            scanner.visit(tree)
            problems += scanner.problems
            for context, text, line in scanner.found:
                message = messages.setdefault((context, text), Message(context, text))
                message.locations.append((rel, line))
    return list(messages.values()), problems


# ------------------------------------------------------------------------------------------------- .ts


def read_ts(path: str) -> Dict[Tuple[str, str], str]:
    """``{(context, source): translation}`` of a Qt Linguist file (unfinished/empty entries skipped)."""
    if not os.path.isfile(path):
        return {}
    translations = {}
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            node = message.find("translation")
            text = (node.text or "") if node is not None else ""
            if text and (node.get("type") not in ("unfinished", "obsolete", "vanished")):
                translations[(name, message.findtext("source") or "")] = text
    return translations


def write_ts(path: str, language: str, messages: List[Message], translations: Dict[Tuple[str, str], str]):
    """Write a Qt Linguist ``.ts`` file (atomically); strings without translation are marked unfinished."""
    root = ET.Element("TS", version="2.1", language=language)
    by_context: Dict[str, List[Message]] = {}
    for message in messages:
        by_context.setdefault(message.context, []).append(message)
    ts_dir = os.path.dirname(os.path.abspath(path))
    for context in sorted(by_context):
        ctx = ET.SubElement(root, "context")
        ET.SubElement(ctx, "name").text = context
        for message in by_context[context]:
            node = ET.SubElement(ctx, "message")
            for rel, line in message.locations:
                filename = os.path.relpath(os.path.join(ROOT, rel), ts_dir).replace(os.sep, "/")
                ET.SubElement(node, "location", filename=filename, line=str(line))
            ET.SubElement(node, "source").text = message.source
            text = translations.get((context, message.source), "")
            translation = ET.SubElement(node, "translation")
            translation.text = text
            if not text:
                translation.set("type", "unfinished")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n")
    os.replace(tmp, path)


def update_ts(locales=LOCALES) -> List[str]:
    """Rescan the sources into ``i18n/spex_qgis_<locale>.ts``, keeping known translations; returns paths."""
    messages, problems = scan_sources()
    for problem in problems:
        print(f"warning: {problem.path}:{problem.line}: {problem.problem}", file=sys.stderr)
    paths = []
    for locale in locales:
        path = os.path.join(I18N_DIR, f"{PLUGIN}_{locale}.ts")
        write_ts(path, locale, messages, read_ts(path))
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------------- .qm

_QM_MAGIC = bytes(
    [0x3C, 0xB8, 0x64, 0x18, 0xCA, 0xEF, 0x9C, 0x95, 0xCD, 0x21, 0x1C, 0xBF, 0x60, 0xA1, 0xBD, 0xDD]
)
_TAG_HASHES, _TAG_MESSAGES = 0x42, 0x69
_TAG_END, _TAG_TRANSLATION, _TAG_SOURCE, _TAG_CONTEXT, _TAG_COMMENT = 1, 3, 6, 7, 8


def _elf_hash(data: bytes) -> int:
    """Qt's ``elfHash`` of the UTF-8 source text + comment, as QTranslator computes it for the lookup."""
    h = 0
    for byte in data:
        h = ((h << 4) + byte) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h or 1


def write_qm(path: str, translations: Dict[Tuple[str, str], str]) -> str:
    """Write a binary ``.qm`` (hash table + messages, the layout QTranslator reads) atomically."""
    messages = b""
    hashes = []
    for (context, source), text in sorted(translations.items()):
        utf16 = text.encode("utf-16-be")
        entry = struct.pack(">BI", _TAG_TRANSLATION, len(utf16)) + utf16
        for tag, value in ((_TAG_SOURCE, source), (_TAG_CONTEXT, context), (_TAG_COMMENT, "")):
            raw = value.encode("utf-8")
            entry += struct.pack(">BI", tag, len(raw)) + raw
        entry += bytes([_TAG_END])
        hashes.append((_elf_hash(source.encode("utf-8")), len(messages)))
        messages += entry
    hash_block = b"".join(struct.pack(">II", h, offset) for h, offset in sorted(hashes))
    data = _QM_MAGIC
    data += struct.pack(">BI", _TAG_HASHES, len(hash_block)) + hash_block
    data += struct.pack(">BI", _TAG_MESSAGES, len(messages)) + messages
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return path


def find_lrelease() -> str | None:
    """Qt 5's ``lrelease`` (Debian: qttools5-dev-tools), None when absent."""
    for name in ("lrelease", "lrelease-qt5", "/usr/lib/qt5/bin/lrelease"):
        found = shutil.which(name)
        if found:
            return found
    return None


def compile_translations(out_dir: str = I18N_DIR, use_lrelease: bool | None = None) -> List[str]:
    """Compile every ``i18n/*.ts`` to ``<out_dir>/*.qm``; returns the ``.qm`` paths."""
    lrelease = find_lrelease() if use_lrelease in (None, True) else None
    if use_lrelease and not lrelease:
        raise RuntimeError("lrelease not found: apt-get install qttools5-dev-tools")
    os.makedirs(out_dir, exist_ok=True)
    outputs = []
    for name in sorted(os.listdir(I18N_DIR)):
        if not name.endswith(".ts"):
            continue
        ts_path = os.path.join(I18N_DIR, name)
        qm_path = os.path.join(out_dir, name[:-3] + ".qm")
        if lrelease:
            subprocess.run([lrelease, "-silent", ts_path, "-qm", qm_path], check=True)
        else:
            write_qm(qm_path, read_ts(ts_path))
        outputs.append(qm_path)
    return outputs


# ---------------------------------------------------------------------------------------------- the zip


def plugin_version(metadata: str = os.path.join(ROOT, "metadata.txt")) -> str:
    """``version`` from metadata.txt."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(metadata, encoding="utf-8")
    return parser["general"]["version"]


def _tree_files(folder: str, arc_prefix: str, suffixes: Tuple[str, ...] | None = None):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.endswith(".egg-info"))
        for filename in sorted(filenames):
            if filename.endswith(EXCLUDED_SUFFIXES) or (suffixes and not filename.endswith(suffixes)):
                continue
            path = os.path.join(dirpath, filename)
            yield path, arc_prefix + "/" + os.path.relpath(path, folder).replace(os.sep, "/")


def plugin_files(qm_dir: str) -> List[Tuple[str, str]]:
    """``(file on disk, path in the ZIP)`` of everything the plugin ZIP holds."""
    files = list(_tree_files(os.path.join(ROOT, PLUGIN), PLUGIN))
    files += _tree_files(os.path.join(ROOT, RUNTIME), f"{PLUGIN}/{RUNTIME}")
    files += _tree_files(os.path.join(ROOT, "resources"), f"{PLUGIN}/resources")
    files += _tree_files(qm_dir, f"{PLUGIN}/i18n", (".qm",))
    files.append((os.path.join(ROOT, "metadata.txt"), f"{PLUGIN}/metadata.txt"))
    license_path = os.path.join(ROOT, "LICENSE")
    if not os.path.isfile(license_path):
        license_path = LICENSE_FALLBACK
    if not os.path.isfile(license_path):
        raise RuntimeError("LICENSE missing: add the Apache-2.0 text as LICENSE at the repository root")
    files.append((license_path, f"{PLUGIN}/LICENSE"))
    return files


def build(out_dir: str = os.path.join(ROOT, "dist"), use_lrelease: bool | None = None) -> str:
    """Build ``<out_dir>/spex_qgis-<version>.zip`` (written atomically) and return its path."""
    version = plugin_version()
    os.makedirs(out_dir, exist_ok=True)
    qm_dir = os.path.join(out_dir, f".qm-{os.getpid()}")
    try:
        compile_translations(qm_dir, use_lrelease)
        target = os.path.join(out_dir, f"{PLUGIN}-{version}.zip")
        tmp = target + ".tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, arcname in plugin_files(qm_dir):
                archive.write(path, arcname)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(qm_dir, ignore_errors=True)
    return target


def main(argv=None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-ts", action="store_true", help="rescan tr() strings into i18n/*.ts")
    parser.add_argument("--qm", action="store_true", help="only compile i18n/*.ts into i18n/*.qm")
    parser.add_argument("--no-lrelease", action="store_true", help="use the built-in .qm writer")
    parser.add_argument("--out", default=os.path.join(ROOT, "dist"), help="output folder (default dist/)")
    args = parser.parse_args(argv)
    use_lrelease = False if args.no_lrelease else None
    if args.update_ts:
        for path in update_ts():
            print(path)
        return 0
    if args.qm:
        for path in compile_translations(I18N_DIR, use_lrelease):
            print(path)
        return 0
    print(build(args.out, use_lrelease))
    return 0


if __name__ == "__main__":
    sys.exit(main())
