"""Architecture rules: the runtime never imports QGIS/Qt, and the spectral path never imports torch."""

import ast
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "model_runtime"


def test_no_qgis_or_qt_import_in_model_runtime():
    offenders = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("qgis", "PyQt5", "PyQt6")]
    assert offenders == []


def test_spectral_extraction_imports_neither_qgis_nor_torch(aerial_sample, tmp_path):
    output = str(tmp_path / "v.gpkg")
    code = (
        "import sys\n"
        "from model_runtime import extract, ExtractRequest\n"
        f"r = extract(ExtractRequest({str(aerial_sample)!r}, 'extract the vegetation', output={output!r}))\n"
        "assert r.features > 0\n"
        "heavy = ('qgis', 'PyQt5', 'torch', 'onnxruntime', 'transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


SPEX = RUNTIME / "spex"
# Lower roles first: a module may import its own folder and the folders before it, never after.
SPEX_ROLES = ("modeling", "loading", "runtime", "tools")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(RUNTIME.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, node) -> list:
    """Absolute names an import statement of ``path`` refers to (``from pkg import x``: pkg and pkg.x)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        name = _module_name(path)
        package = (name if path.name == "__init__.py" else name.rpartition(".")[0]).split(".")
        module = ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def _imports(path: Path, module_level_only: bool):
    """(line, absolute name) of the imports of ``path``: every one, or only those run at import time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else ast.walk(tree)
    return [
        (node.lineno, name)
        for node in nodes
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in _imported(path, node)
    ]


def _role(module: str):
    parts = module.split(".")
    return (
        parts[2]
        if len(parts) > 3 and parts[:2] == ["model_runtime", "spex"] and parts[2] in SPEX_ROLES
        else None
    )


def test_spex_folders_import_one_way():
    """modeling imports none of loading/runtime/tools; loading not runtime/tools; runtime not tools.
    Function-level imports count too: moving an import into a function does not make it go the right way."""
    offenders = []
    for path in SPEX.rglob("*.py"):
        here = _role(_module_name(path))
        for line, name in _imports(path, module_level_only=False) if here else []:
            there = _role(name)
            if there is not None and SPEX_ROLES.index(there) > SPEX_ROLES.index(here):
                offenders.append(f"{path.relative_to(RUNTIME)}:{line} ({here}) imports {name}")
    assert sorted(set(offenders)) == []


def test_no_import_cycle_among_spex_modules():
    """The module-level import graph of model_runtime.spex has no cycle (function-local imports that would
    close one are caught by the one-way rule above or are the optional torch/onnx imports)."""
    modules = {_module_name(p): p for p in SPEX.rglob("*.py")}
    graph = {
        m: {n for _, n in _imports(p, module_level_only=True)} & set(modules) for m, p in modules.items()
    }
    assert (
        len(graph) > 25
        and "model_runtime.spex.modeling.modeling" in graph["model_runtime.spex.loading.checkpoint"]
    )
    assert _cycles(graph) == []


def _cycles(graph: dict) -> list:
    """Every import cycle of ``graph`` (module -> imported modules) found by a depth-first walk, as
    "a -> b -> a" lines."""
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def _private_imports(folder: Path) -> list:
    """``file:line name`` of every ``from x import _name`` under ``folder`` (dunders allowed)."""
    offenders = []
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                offenders += [
                    f"{path.relative_to(RUNTIME)}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.endswith("__")
                ]
    return offenders


def test_spex_modules_import_no_private_name_of_another_module():
    assert _private_imports(SPEX) == []


# The folders of model_runtime, lowest first: a module may import modules of its own layer and of the layers
# before it, never after (function-level imports included). docs/ARCHITECTURE.md shows the same table.
LAYERS = (
    ("base", {"errors", "messages", "options", "requirements", "request", "prompts"}),
    ("io", {"io"}),
    ("science", {"spectral", "vector"}),
    ("model", {"spex"}),
    ("engines", {"engines"}),
    ("orchestration", {"request_builder", "pipeline", "preview", "info"}),
    ("batching", {"batching"}),
    ("front", {"cli", "__main__", "__init__"}),
)


def _layer(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, names) in enumerate(LAYERS):
        if head in names:
            return rank
    raise AssertionError(f"{module}: not placed in a layer of test_layering.LAYERS (add it, and to the docs)")


def _runtime_graph(module_level_only: bool) -> dict:
    """module -> the model_runtime modules it imports (``from pkg import x``: module pkg.x, else pkg)."""
    modules = {_module_name(p): p for p in RUNTIME.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for _, imported in _imports(path, module_level_only):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            # a package's own __init__ re-exporting its children is not an edge of logic
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def test_runtime_folders_import_one_way():
    graph = _runtime_graph(module_level_only=False)
    for part in ("io.raster", "spectral.thresholds", "vector.writers", "spex.modeling.modeling"):
        assert f"model_runtime.{part}" in graph
    wrong = sorted(
        f"{src} ({LAYERS[_layer(src)][0]}) imports {dst} ({LAYERS[_layer(dst)][0]})"
        for src, targets in graph.items()
        for dst in targets
        if dst != "model_runtime" and _layer(dst) > _layer(src)
    )
    assert wrong == []


def test_no_import_cycle_among_runtime_modules():
    """No cycle in model_runtime's import graph, function-level imports included: an import moved into a
    function to dodge a cycle is still found."""
    graph = _runtime_graph(module_level_only=False)
    graph = {m: {t for t in targets if t != "model_runtime"} for m, targets in graph.items()}
    assert _cycles(graph) == []


def test_runtime_modules_import_no_private_name_of_another_module():
    assert _private_imports(RUNTIME) == []
