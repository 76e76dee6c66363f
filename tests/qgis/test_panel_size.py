"""The panel stays a thin view: its modules stay short, and so do their functions (issue 11, item 6)."""

import importlib.util
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PANEL = ["spex_qgis/dock.py", "spex_qgis/controller.py", "spex_qgis/result_html.py", "spex_qgis/ui"]


def _code_size():
    spec = importlib.util.spec_from_file_location("code_size", os.path.join(ROOT, "scripts", "code_size.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_panel_modules_and_functions_stay_short(capsys):
    code_size = _code_size()
    paths = [p for folder in PANEL for p in code_size.python_files(os.path.join(ROOT, folder))]
    assert len(paths) >= 10  # the dock, the controller and the panels were really found
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            assert sum(1 for _ in handle) <= 500, path
        for lines, where in code_size.functions(path):
            assert lines <= 80, where
    limits = ["--max-file", "500", "--max-function", "80"]
    assert code_size.main([os.path.join(ROOT, f) for f in PANEL] + limits) == 0
    assert "longest functions:" in capsys.readouterr().out
