"""Install the SPEX engine's packages into the plugin-managed folder, then prove they import.

Run by QGIS's own Python as a script (``python installer.py --target DIR ...``), so it uses the standard
library only and never imports QGIS. Three steps:

1. **resolve** against QGIS's environment with the deps folder first on the path (the order the plugin
   uses): ``pip install --dry-run --report``. pip then lists only what is missing or too old there; what
   QGIS's Python already satisfies (numpy, which GDAL's bindings are built against) is not in the list.
2. **install** exactly that list with ``pip install --target DIR --no-deps`` (``--target`` alone would
   ignore everything installed and bring a second numpy). Older copies in DIR are uninstalled first, from
   their RECORD, so one version of each distribution remains.
3. **check**: import the engine's packages (``model_runtime/requirements.py``: the required ones, torch,
   transformers, safetensors, tokenizers, must import; the recommended ones, onnxruntime and onnx, may be
   absent) in a fresh interpreter whose ``sys.path`` is exactly the one the plugin will use; the first failure
   is reported with its real cause.

The package list is read from ``model_runtime/requirements.py`` (stdlib only) by its path: beside this file in
the plugin ZIP (``spex_qgis/model_runtime/``), or next to the plugin folder in a source checkout.

The last line printed is ``SPEX-CHECK <json>`` (see :func:`check_imports`). Exit status: 0 ready, 1 pip
failed, 3 the check failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Sequence

CHECK_PREFIX = "SPEX-CHECK "
REQUIREMENTS_MODULE = "_spex_requirements"


def load_requirements():
    """``model_runtime/requirements.py`` loaded by its path (QGIS's Python may not import the runtime).

    Not left in ``sys.modules``: a reloaded plugin (a new version) must read its own list.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (here, os.path.dirname(here)):
        path = os.path.join(folder, "model_runtime", "requirements.py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location(REQUIREMENTS_MODULE, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[REQUIREMENTS_MODULE] = module  # dataclasses look their module up while defined
            try:
                spec.loader.exec_module(module)
            finally:
                sys.modules.pop(REQUIREMENTS_MODULE, None)
            return module
    raise ImportError(
        f"model_runtime/requirements.py not found near {here}: reinstall the plugin from its ZIP"
    )


_REQUIREMENTS = load_requirements()
CHECK_MODULES = tuple(_REQUIREMENTS.required_modules("spex"))  # must import
# imported when present (a broken one is reported, not fatal); accelerate is only for GPU offload
OPTIONAL_CHECK_MODULES = tuple(m for m in _REQUIREMENTS.optional_modules("spex") if m != "accelerate")
PIP_MISSING_FIX = (
    "install it for QGIS's Python (Debian/Ubuntu: sudo apt install python3-pip; "
    "OSGeo4W: the python3-pip package in the OSGeo4W setup; macOS bundle: python3 -m ensurepip)"
)
PIP_TIMEOUT_S = "15"  # per socket operation: an unreachable index fails fast instead of retrying minutes

# Run in the child interpreter by check_imports(); the argument is a JSON file {"path": [...], "deps": DIR}.
_CHECK_SCRIPT = r"""
import importlib, json, os, sys, traceback
spec = json.load(open(sys.argv[1], encoding="utf-8"))
sys.path[:] = spec["path"]
deps = os.path.normcase(os.path.abspath(spec["deps"])) if spec.get("deps") else None
out = {"ok": False, "python": sys.executable, "modules": {}, "error": None}

def where(module):
    path = os.path.abspath(getattr(module, "__file__", None) or "?")
    return path, bool(deps) and os.path.normcase(path).startswith(deps + os.sep)

def failure(name, error):
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    text = str(error).strip().splitlines()
    return {
        "module": name,
        "type": type(error).__name__,
        "message": text[0] if text else "",
        "at": f"{last.filename}:{last.lineno}" if last else "",
    }

try:
    optional = spec.get("optional", [])
    out["optional_errors"] = {}
    for name in spec["modules"] + optional:
        if out["error"] is not None:
            break
        try:
            module = importlib.import_module(name)
        except BaseException as error:
            if name not in optional:
                out["error"] = failure(name, error)
            elif not (isinstance(error, ModuleNotFoundError) and error.name == name):
                out["optional_errors"][name] = failure(name, error)  # installed but broken
            continue
        path, in_deps = where(module)
        out["modules"][name] = {
            "version": str(getattr(module, "__version__", "?")), "file": path, "in_deps": in_deps
        }
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        path, in_deps = where(numpy)
        out["numpy"] = {"version": numpy.__version__, "file": path, "in_deps": in_deps}
    if out["error"] is None:
        import torch
        onnxruntime = sys.modules.get("onnxruntime") if "onnxruntime" in out["modules"] else None
        out["ort_providers"] = list(onnxruntime.get_available_providers()) if onnxruntime else []
        out["deps_modules"] = sorted({n.split(".")[0] for n, m in list(sys.modules.items())
                                      if m is not None and getattr(m, "__file__", None) and where(m)[1]})
        out["cuda"] = bool(torch.cuda.is_available())
        out["gpu_name"] = torch.cuda.get_device_name(0) if out["cuda"] else None
        out["ok"] = not (numpy is not None and out["numpy"]["in_deps"])
        if not out["ok"]:
            out["error"] = {"module": "numpy", "type": "ShadowedNumpy", "at": out["numpy"]["file"],
                            "message": "a second numpy in the plugin folder shadows the one QGIS's GDAL uses"}
except BaseException as error:
    out["error"] = {"module": "?", "type": type(error).__name__, "message": str(error), "at": ""}
print("SPEX-CHECK " + json.dumps(out), flush=True)
"""


def canonical_name(name: str) -> str:
    """PEP 503 normalised distribution name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_base(python: str) -> List[str]:
    """``[python, -m, pip]`` with the options every step shares."""
    return [python, "-m", "pip", "--disable-pip-version-check", "--timeout", PIP_TIMEOUT_S]


def resolve_command(
    python: str, report: str, constraint: str, specs: Sequence[str], index_options: Sequence[str] = ()
) -> List[str]:
    """The dry-run that lists what pip would install into QGIS's environment (nothing is installed)."""
    return (
        pip_base(python)
        + ["install", "--dry-run", "--quiet", "--report", report, "--constraint", constraint]
        + list(index_options)
        + list(specs)
    )


def install_command(
    python: str, target: str, pinned: Sequence[str], index_options: Sequence[str] = ()
) -> List[str]:
    """Install exactly ``pinned`` (``name==version``) into ``target``, without pip's own resolution."""
    return (
        pip_base(python)
        + ["install", "--target", target, "--no-deps", "--upgrade", "--no-warn-script-location"]
        + list(index_options)
        + list(pinned)
    )


def packages_to_install(report: Dict, protected: Sequence[str] = ("numpy",)) -> List[str]:
    """``name==version`` of every package in a pip ``--report``; refuses to touch ``protected`` ones.

    Raises ``RuntimeError`` when the resolution needs another version of a protected package (QGIS's numpy:
    GDAL's bindings are compiled against it), naming the package that asks for it.
    """
    pinned = []
    for item in report.get("install", []):
        meta = item["metadata"]
        if canonical_name(meta["name"]) in {canonical_name(p) for p in protected}:
            raise RuntimeError(
                f"the SPEX packages would need another {meta['name']} ({meta['version']}) than QGIS's: "
                "install them with an older onnxruntime/torch, or upgrade QGIS"
            )
        pinned.append(f"{meta['name']}=={meta['version']}")
    return pinned


def installed_distributions(folder: str) -> Dict[str, str]:
    """``{canonical name: dist-info folder name}`` of the distributions installed in ``folder``."""
    found = {}
    if not os.path.isdir(folder):
        return found
    for entry in os.listdir(folder):
        if entry.endswith(".dist-info"):
            name = entry[: -len(".dist-info")].rsplit("-", 1)[0]
            found[canonical_name(name)] = entry
    return found


def uninstall_from_target(folder: str, names: Sequence[str]) -> List[str]:
    """Remove the distributions ``names`` from ``folder`` (every file their RECORD lists, then the
    dist-info); returns the dist-info folders removed. Files outside ``folder`` are never touched."""
    root = os.path.realpath(folder)
    wanted = {canonical_name(n) for n in names}
    removed = []
    for name, dist_info in installed_distributions(folder).items():
        if name not in wanted:
            continue
        record = os.path.join(folder, dist_info, "RECORD")
        tops = set()
        if os.path.isfile(record):
            with open(record, encoding="utf-8") as handle:
                for line in handle:
                    rel = line.rsplit(",", 2)[0].strip()
                    path = os.path.realpath(os.path.join(folder, rel))
                    if rel and path.startswith(root + os.sep) and os.path.isfile(path):
                        os.remove(path)
                        tops.add(os.path.relpath(path, root).split(os.sep)[0])
        for top in tops:  # now-empty package folders (and their __pycache__ leftovers)
            path = os.path.join(root, top)
            if os.path.isdir(path) and not any(
                files for _dir, _sub, files in os.walk(path) if not _dir.endswith("__pycache__")
            ):
                shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(os.path.join(folder, dist_info), ignore_errors=True)
        removed.append(dist_info)
    return removed


def check_imports(python: str, path: Sequence[str], deps: str | None, timeout: float = 300) -> Dict:
    """Import :data:`CHECK_MODULES` (then :data:`OPTIONAL_CHECK_MODULES` when present) in a fresh
    ``python`` whose ``sys.path`` is exactly ``path``.

    Returns ``{"ok", "modules": {name: {version, file, in_deps}}, "numpy", "ort_providers" ([] without
    onnxruntime), "cuda", "gpu_name", "error": {module, type, message, at} | None, "optional_errors":
    {module: error}}`` (an optional module that is installed but fails to import). Never raises.
    """
    with tempfile.TemporaryDirectory(prefix="spex-check-") as tmp:
        spec_file = os.path.join(tmp, "spec.json")
        with open(spec_file, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "path": list(path),
                    "deps": deps,
                    "modules": list(CHECK_MODULES),
                    "optional": list(OPTIONAL_CHECK_MODULES),
                },
                handle,
            )
        try:
            proc = subprocess.run(
                [python, "-c", _CHECK_SCRIPT, spec_file],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return {"ok": False, "modules": {}, "error": _error("python", error)}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(CHECK_PREFIX):
            return json.loads(line[len(CHECK_PREFIX) :])
    tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return {
        "ok": False,
        "modules": {},
        "error": {"module": "python", "type": "Crash", "message": tail, "at": ""},
    }


def _error(module: str, error: BaseException) -> Dict:
    return {"module": module, "type": type(error).__name__, "message": str(error), "at": ""}


def _run(argv: List[str], env: Dict[str, str] | None = None) -> int:
    print("$ " + " ".join(argv), flush=True)
    return subprocess.call(argv, env=env)


def install(
    python: str,
    target: str,
    constraint: str,
    specs: Sequence[str],
    check_path: Sequence[str],
    index_options: Sequence[str] = (),
) -> int:
    """Steps 1-3 of the module docstring; prints progress and ends with the ``SPEX-CHECK`` line."""
    if subprocess.call([python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL) != 0:
        print(f"{python} has no pip: {PIP_MISSING_FIX}", flush=True)
        return 1
    os.makedirs(target, exist_ok=True)
    uninstall_from_target(target, ["numpy"])  # an older plugin version put a second numpy there
    env = dict(os.environ)
    # pip sees what the plugin will see: the deps folder first, then QGIS's own site-packages.
    env["PYTHONPATH"] = os.pathsep.join([target] + [p for p in [env.get("PYTHONPATH")] if p])
    with tempfile.TemporaryDirectory(prefix="spex-resolve-") as tmp:
        report_path = os.path.join(tmp, "report.json")
        print("[1/3] resolving against QGIS's Python (what is missing or too old)...", flush=True)
        if _run(resolve_command(python, report_path, constraint, specs, index_options), env) != 0:
            print("pip could not resolve the SPEX packages (see above).", flush=True)
            return 1
        with open(report_path, encoding="utf-8") as handle:
            report = json.load(handle)
    try:
        pinned = packages_to_install(report)
    except RuntimeError as error:
        print(str(error), flush=True)
        return 1
    if pinned:
        print(f"[2/3] installing {len(pinned)} package(s) into {target}: {' '.join(pinned)}", flush=True)
        uninstall_from_target(target, [p.split("==")[0] for p in pinned])
        if _run(install_command(python, target, pinned, index_options)) != 0:
            print("pip failed (see above).", flush=True)
            return 1
    else:
        print("[2/3] nothing to install: QGIS's Python and the plugin folder have everything.", flush=True)
    print(f"[3/3] checking that {', '.join(CHECK_MODULES + OPTIONAL_CHECK_MODULES)} import...", flush=True)
    result = check_imports(python, check_path, target)
    print(CHECK_PREFIX + json.dumps(result), flush=True)
    return 0 if result.get("ok") else 3


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``installer.py --target DIR --constraint FILE --path-json FILE [--index-option X]...
    -- SPEC...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--constraint", required=True)
    parser.add_argument("--path-json", required=True, help="JSON list: sys.path as the plugin will use it")
    parser.add_argument("--index-option", action="append", default=[], help="passed to pip (repeatable)")
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("specs", nargs="*")
    args = parser.parse_args(argv)
    with open(args.path_json, encoding="utf-8") as handle:
        path = json.load(handle)
    if args.check_only:
        result = check_imports(sys.executable, path, args.target)
        print(CHECK_PREFIX + json.dumps(result), flush=True)
        return 0 if result.get("ok") else 3
    return install(sys.executable, args.target, args.constraint, args.specs, path, args.index_option)


if __name__ == "__main__":
    sys.exit(main())
