"""The SPEX engine's packages inside QGIS: where they go, how they are installed, whether they import.

Packages are installed (only when the user clicks "Install" in :func:`show_install_dialog`) by
``installer.py`` into ``<QGIS profile>/python/spex_deps``: only what QGIS's own Python lacks or has too old
(pip's dry-run resolution against QGIS's environment), never a second numpy. That folder goes FIRST on
``sys.path``, so an older system copy (Debian's sympy 1.11 under QGIS) cannot shadow what torch needs.

The package list is :mod:`model_runtime.requirements` (the spex feature). "Ready" means proven:
:func:`engine_check` imports its required packages (torch, transformers, safetensors, tokenizers) and, when
present, the recommended onnxruntime and onnx (without onnxruntime the vision encoder runs in torch, slower;
the installer installs both) in a child of QGIS's Python with the exact ``sys.path`` the plugin uses; the
dock's engine line and the Processing algorithm read that same check (cached per session and on disk, keyed
by the path and the installed versions). Nothing here imports torch & co. in QGIS's own process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

from model_runtime.requirements import TORCH_VERSION, Requirement, feature_requirements  # noqa: F401

from . import installer

DEPS_FOLDER_NAME = "spex_deps"
CHECK_FILE_NAME = DEPS_FOLDER_NAME + "-check.json"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"  # Windows: PyPI only carries CPU torch there
INDEX_PROBE_TIMEOUT_S = 5.0
INSTALLER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "installer.py")


# What the installer installs (required and recommended) and the status checks: model_runtime/requirements.py.
REQUIREMENTS: Tuple[Requirement, ...] = feature_requirements("spex")


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


# ------------------------------------------------------------------------------------ folder and sys.path


def profile_python_folder() -> str:
    """``<QGIS profile>/python`` (where QGIS keeps the profile's plugins)."""
    from qgis.core import QgsApplication

    return os.path.join(QgsApplication.qgisSettingsDirPath(), "python")


def deps_folder() -> str:
    """The plugin-managed site folder, ``<QGIS profile>/python/spex_deps`` (may not exist yet)."""
    return os.path.join(profile_python_folder(), DEPS_FOLDER_NAME)


def plugin_sys_path(folder: str | None = None, path: Sequence[str] | None = None) -> List[str]:
    """``sys.path`` as the plugin uses it: ``folder`` first, then the rest in order (no duplicate)."""
    folder = folder or deps_folder()
    path = list(sys.path if path is None else path)
    return [folder] + [p for p in path if p != folder]


def add_deps_to_sys_path(folder: str | None = None) -> str | None:
    """Put the deps folder FIRST on ``sys.path`` when it exists (its packages were installed because QGIS's
    were missing or too old, so they must win). Returns the folder, None when it does not exist."""
    folder = folder or deps_folder()
    if not os.path.isdir(folder):
        return None
    if not sys.path or sys.path[0] != folder:
        sys.path[:] = plugin_sys_path(folder)
        importlib.invalidate_caches()
    return folder


def remove_deps_from_sys_path(folder: str | None = None) -> None:
    """Undo :func:`add_deps_to_sys_path` (modules already imported stay loaded)."""
    folder = folder or deps_folder()
    while folder in sys.path:
        sys.path.remove(folder)


def shadowed_modules(folder: str | None = None, used: Sequence[str] | None = None) -> List[str]:
    """Top-level modules already imported from elsewhere although the deps folder has its own copy.

    They were imported before the folder went on ``sys.path`` (by QGIS or another plugin); torch would get
    the old copy, so only a QGIS restart helps. ``used``: only these names count (what the import check saw
    the engine take from the folder); by default every package in the folder. Empty when all is well.
    """
    folder = folder or deps_folder()
    if not os.path.isdir(folder):
        return []
    root = os.path.normcase(os.path.realpath(folder)) + os.sep
    names = set()
    for entry in os.listdir(folder):
        if (
            entry.endswith((".dist-info", ".pth"))
            or entry.startswith(("_", "."))
            or entry in ("bin", "share")
        ):
            continue
        names.add(entry[:-3] if entry.endswith(".py") else entry)
    if used is not None:
        names &= set(used)
    found = []
    for name in sorted(names):
        module = sys.modules.get(name)
        where = getattr(module, "__file__", None) if module is not None else None
        if where and not os.path.normcase(os.path.realpath(where)).startswith(root):
            found.append(name)
    return found


# ---------------------------------------------------------------------------------------- interpreter


def _identity_probe(python: str, timeout: float = 30) -> Tuple[str, str] | None:
    """``(sys.version, sys.base_exec_prefix)`` reported by ``python``, None when it does not run."""
    code = "import sys; print(sys.version.replace(chr(10), ' ')); print(sys.base_exec_prefix)"
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.strip().splitlines()
    return (lines[0], lines[1]) if proc.returncode == 0 and len(lines) >= 2 else None


def python_candidates(
    executable: str, exec_prefix: str, version: Tuple[int, int], win: bool, base_executable: str = ""
) -> List[str]:
    """Where QGIS's interpreter may be, most likely first (Linux, OSGeo4W/standalone, QGIS.app)."""
    major, minor = version
    names = ["python.exe", "python3.exe"] if win else [f"python{major}.{minor}", f"python{major}", "python"]
    candidates = []
    if re.match(r"python[\d.]*(\.exe)?$", os.path.basename(executable).lower()):
        candidates.append(executable)
    if base_executable:
        candidates.append(base_executable)
    folders = [exec_prefix, os.path.join(exec_prefix, "bin")] if win else [os.path.join(exec_prefix, "bin")]
    # macOS bundle: sys.executable is .../QGIS.app/Contents/MacOS/QGIS; Python is in MacOS/bin or Frameworks.
    match = re.search(r"^(.*?\.app)[/\\]Contents[/\\]", executable)
    if match:
        contents = os.path.join(match.group(1), "Contents")
        folders += [
            os.path.join(contents, "MacOS", "bin"),
            os.path.join(contents, "Frameworks", "Python.framework", "Versions", f"{major}.{minor}", "bin"),
        ]
    for folder in folders:
        candidates += [os.path.join(folder, n) for n in names]
    unique = []
    for candidate in candidates:
        if candidate and candidate not in unique:
            unique.append(candidate)
    return unique


def find_python(
    executable: str | None = None,
    exec_prefix: str | None = None,
    version: Tuple[int, int] | None = None,
    win: bool | None = None,
    identity: Tuple[str, str] | None = None,
    probe: Callable[[str], Tuple[str, str] | None] = _identity_probe,
    base_executable: str | None = None,
) -> str | None:
    """The interpreter that IS QGIS's Python (the one pip must install for), None when none is found.

    ``sys.executable`` is QGIS itself on Windows/macOS builds (``qgis-bin.exe``, ``QGIS.app/...``) and may
    be a shim (pyenv...) on PATH elsewhere, so every candidate of :func:`python_candidates` (then the
    same-version interpreter on PATH) is run and accepted only when it reports this process's exact
    ``sys.version`` and ``sys.base_exec_prefix`` (``identity``). Arguments exist for tests.
    """
    executable = executable if executable is not None else sys.executable
    exec_prefix = exec_prefix if exec_prefix is not None else sys.exec_prefix
    version = version or sys.version_info[:2]
    win = (sys.platform == "win32") if win is None else win
    identity = identity or (sys.version.replace("\n", " "), sys.base_exec_prefix)
    if base_executable is None:
        base_executable = getattr(sys, "_base_executable", "") or ""
    candidates = python_candidates(executable, exec_prefix, version, win, base_executable)
    on_path = shutil.which(f"python{version[0]}.{version[1]}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK) and probe(candidate) == identity:
            return candidate
    return None


# ------------------------------------------------------------------------------------------- pip command


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
    gpu: bool, statuses: List[PackageStatus] | None = None, only_missing: bool = False
) -> List[str]:
    """The pip requirement texts: onnxruntime-gpu on an NVIDIA machine, else onnxruntime, never both.

    The installer resolves them all against QGIS's environment (pip leaves out what is satisfied);
    ``only_missing`` drops the ones already fine here. A working installed flavour of onnxruntime is kept
    unless it is the CPU one on a GPU machine.
    """
    statuses = statuses if statuses is not None else all_package_status()
    by_module: Dict[str, PackageStatus] = {s.module: s for s in statuses}
    specs = []
    for req in REQUIREMENTS:
        status = by_module.get(req.module)
        spec = req.spec
        if req.module == "onnxruntime":
            installed = status.dist if status is not None and status.ok else None
            flavour = "onnxruntime-gpu" if gpu else (installed or "onnxruntime")
            if only_missing and installed == flavour:
                continue
            spec = spec.replace("onnxruntime", flavour, 1)
        elif only_missing and status is not None and status.ok:
            continue
        specs.append(spec)
    return specs


def index_reachable(url: str, timeout: float = INDEX_PROBE_TIMEOUT_S) -> Tuple[bool, str]:
    """``(reachable, why not)`` of a package index, one short request (proxies from the environment)."""
    try:
        request = urllib.request.Request(url.rstrip("/") + "/", method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout):
            return True, ""
    except urllib.error.HTTPError as error:  # the server answered: reachable
        return error.code < 500, f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return False, str(reason) or type(error).__name__


@dataclass(frozen=True)
class InstallPlan:
    """What the installer will do: pip options, requirement texts, and the choices in words."""

    index_options: Tuple[str, ...]
    specs: Tuple[str, ...]
    notes: Tuple[str, ...]


def install_plan(
    gpu: bool | None = None,
    system: str | None = None,
    wheel_dir: str | None = None,
    statuses: List[PackageStatus] | None = None,
    reachable: Callable[[str], Tuple[bool, str]] = index_reachable,
) -> InstallPlan:
    """Pick the builds for this machine and the package sources.

    * ``wheel_dir``: offline, ``--no-index --find-links wheel_dir`` and nothing else.
    * NVIDIA GPU: onnxruntime-gpu; torch's CUDA build (PyPI's default on Linux; the CUDA index on Windows,
      where PyPI only has CPU torch).
    * Linux without GPU: the CPU torch index (PyPI's Linux torch is the multi-GB CUDA build).
    An extra index is only added when it answers within :data:`INDEX_PROBE_TIMEOUT_S`; else the note says
    so and pip's own configuration (PyPI, a mirror, find-links) serves torch.
    """
    gpu = has_nvidia_gpu() if gpu is None else gpu
    system = system or platform.system()
    specs = tuple(requirement_specs(gpu, statuses))
    ort = "onnxruntime-gpu" if any(s.startswith("onnxruntime-gpu") for s in specs) else "onnxruntime"
    notes = [
        ("NVIDIA GPU found: CUDA builds of torch and " if gpu else "No NVIDIA GPU: CPU builds of torch and ")
        + ort
    ]
    if wheel_dir:
        notes.append(f"offline: packages from {wheel_dir} only")
        return InstallPlan(("--no-index", f"--find-links={wheel_dir}"), specs, tuple(notes))
    extra = None
    if system == "Linux" and not gpu:
        extra = TORCH_CPU_INDEX
    elif system == "Windows" and gpu:
        extra = TORCH_CUDA_INDEX
    options: List[str] = []
    if extra:
        ok, why = reachable(extra)
        host = urllib.parse.urlparse(extra).netloc
        if ok:
            options.append(f"--extra-index-url={extra}")
            notes.append(f"torch from {extra}")
        else:
            notes.append(
                f"{host} is unreachable ({why}): torch comes from PyPI or your pip configuration"
                + (" (on PyPI: the larger CUDA build)" if system == "Linux" else " (on PyPI: a CPU build)")
            )
    return InstallPlan(tuple(options), specs, tuple(notes))


def installer_command(
    plan: InstallPlan,
    python: str | None = None,
    target: str | None = None,
    constraints: str | None = None,
    path_json: str | None = None,
) -> List[str]:
    """The argv of ``installer.py`` (resolve, install, check) run by QGIS's Python.

    Raises ``RuntimeError`` when QGIS's interpreter cannot be found. Nothing is run here.
    """
    python = python or find_python()
    if not python:
        raise RuntimeError(
            f"QGIS's Python interpreter was not found (sys.executable is {sys.executable}): "
            "install the packages with the Python that ships with QGIS (see docs/plugin_install.md)"
        )
    target = target or deps_folder()
    base = os.path.dirname(target)
    constraints = constraints or os.path.join(base, DEPS_FOLDER_NAME + "-constraints.txt")
    path_json = path_json or os.path.join(base, DEPS_FOLDER_NAME + "-path.json")
    argv = [
        python,
        INSTALLER_SCRIPT,
        "--target",
        target,
        "--constraint",
        constraints,
        "--path-json",
        path_json,
    ]
    argv += [f"--index-option={o}" for o in plan.index_options]
    return argv + ["--"] + list(plan.specs)


def prepare_installer_files(argv: Sequence[str]) -> None:
    """Write the constraints and the ``sys.path`` files that an :func:`installer_command` argv names."""
    write_constraints(argv[list(argv).index("--constraint") + 1])
    target = argv[list(argv).index("--target") + 1]
    _write_json(argv[list(argv).index("--path-json") + 1], plugin_sys_path(target))


def _write_json(path: str, data) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def run_install(
    plan: InstallPlan | None = None, python: str | None = None, target: str | None = None, log=print
):
    """Install headlessly (the dialog runs the same command with QProcess); returns the check dict."""
    plan = plan or install_plan()
    argv = installer_command(plan, python, target)
    prepare_installer_files(argv)
    for note in plan.notes:
        log(note)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check = None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith(installer.CHECK_PREFIX):
            check = json.loads(line[len(installer.CHECK_PREFIX) :])
        else:
            log(line)
    proc.wait()
    target = argv[argv.index("--target") + 1]
    add_deps_to_sys_path(target)
    if check is not None:
        store_check(check, target)
    return check or {
        "ok": False,
        "error": {"module": "pip", "type": "Failed", "message": f"exit {proc.returncode}"},
    }


def format_command(argv: Sequence[str]) -> str:
    """The command as one line a user can paste into a shell (quoted for the current platform)."""
    if sys.platform == "win32":
        return subprocess.list2cmdline(list(argv))
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


# ---------------------------------------------------------------------------------------- the check

_CHECK_MEMO: Dict[str, Dict] = {}


def _check_file(folder: str) -> str:
    return os.path.join(os.path.dirname(folder), CHECK_FILE_NAME)


def check_fingerprint(folder: str, path: Sequence[str]) -> str:
    """What the check depends on: the interpreter, the path order, the deps folder's distributions and the
    versions of the engine's packages as found along ``path``."""
    versions = {}
    for req in REQUIREMENTS:
        for name in req.dists:
            dist = next(iter(importlib.metadata.distributions(name=name, path=list(path))), None)
            if dist is not None:
                versions[name] = dist.version
                break
    state = [sys.version, list(path), sorted(installer.installed_distributions(folder).values()), versions]
    return hashlib.sha256(json.dumps(state).encode("utf-8")).hexdigest()


def store_check(check: Dict, folder: str | None = None) -> None:
    """Remember ``check`` for the current path and packages (memory and ``spex_deps-check.json``)."""
    folder = folder or deps_folder()
    key = check_fingerprint(folder, plugin_sys_path(folder))
    _CHECK_MEMO.clear()
    _CHECK_MEMO[key] = check
    if not os.path.isdir(os.path.dirname(folder)):
        return  # no profile folder (QGIS not initialised): memory only
    try:
        _write_json(_check_file(folder), {"fingerprint": key, "check": check})
    except OSError:
        pass  # a read-only profile: the check is simply redone next session


def engine_check(folder: str | None = None, refresh: bool = False, python: str | None = None) -> Dict:
    """The import check of :mod:`installer` for the path the plugin uses (cached; ``refresh`` redoes it).

    Runs a child of QGIS's Python (a few seconds) only when nothing cached matches the current path and
    installed versions.
    """
    folder = folder or deps_folder()
    path = plugin_sys_path(folder)
    key = check_fingerprint(folder, path)
    if not refresh:
        if key in _CHECK_MEMO:
            return _CHECK_MEMO[key]
        try:
            with open(_check_file(folder), encoding="utf-8") as handle:
                saved = json.load(handle)
            if saved.get("fingerprint") == key:
                _CHECK_MEMO[key] = saved["check"]
                return saved["check"]
        except (OSError, ValueError, KeyError):
            pass
    python = python or find_python()
    if not python:
        check = {
            "ok": False,
            "modules": {},
            "error": {
                "module": "python",
                "type": "NotFound",
                "at": "",
                "message": f"QGIS's Python not found ({sys.executable})",
            },
        }
    else:
        check = installer.check_imports(python, path, folder)
    store_check(check, folder)
    return check


def _describe_error(error: Dict) -> str:
    text = f"import {error.get('module')} failed: {error.get('type')}: {error.get('message')}"
    return text + (f" (at {error['at']})" if error.get("at") else "")


def runtime_summary(check: Dict) -> str:
    """One line: torch and where it comes from, the vision encoder's runtime and the device."""
    modules = check.get("modules", {})
    torch = modules.get("torch", {})
    ort = modules.get("onnxruntime")
    where = tr("plugin folder") if torch.get("in_deps") else tr("QGIS's Python")
    cuda = check.get("cuda")
    ort_device = "CUDA" if cuda and "CUDAExecutionProvider" in check.get("ort_providers", []) else "CPU"
    device = f"GPU {check.get('gpu_name')} (CUDA)" if cuda else "CPU"
    if ort is None:  # recommended, not required: the encoder runs in torch
        text = tr(
            "torch {torch} ({where}), vision encoder in torch (no ONNX Runtime: slower), device {device}"
        )
        return text.format(torch=torch.get("version", "?"), where=where, device=device)
    text = tr("torch {torch} ({where}), vision encoder on ONNX Runtime {ort} {ort_device}, device {device}")
    return text.format(
        torch=torch.get("version", "?"), where=where, ort=ort.get("version", "?"), ort_device=ort_device,
        device=device,
    )


def spex_engine_status(refresh: bool = False) -> Tuple[bool, str]:
    """``(available, reason)``: can the SPEX engine run here? ``reason`` is one line for the UI.

    Missing packages are reported at once; when all are present the answer comes from :func:`engine_check`
    (real imports in a child process), so an import failure shows its real cause.
    """
    statuses = all_package_status()
    missing = [s.module for s in statuses if s.required and not s.installed]
    old = [f"{s.module} {s.version}" for s in statuses if s.required and s.installed and not s.ok]
    fix = tr("use Raster > SPEX > Install SPEX engine dependencies…, or pick the spectral engine")
    if missing or old:
        problems = ([tr("missing {}").format(", ".join(missing))] if missing else []) + (
            [tr("too old: {}").format(", ".join(old))] if old else []
        )
        text = tr("SPEX engine unavailable ({problems}): {fix}")
        return False, text.format(problems="; ".join(problems), fix=fix)
    check = engine_check(refresh=refresh)
    if not check.get("ok"):
        reason = _describe_error(check.get("error") or {})
        return False, tr("SPEX engine unavailable: {reason}: {fix}").format(reason=reason, fix=fix)
    stale = shadowed_modules(used=check.get("deps_modules"))
    if stale:
        text = tr(
            "SPEX engine needs a QGIS restart: {modules} was imported before the plugin's package "
            "folder was added"
        )
        return False, text.format(modules=", ".join(stale))
    return True, tr("SPEX engine ready: {summary}").format(summary=runtime_summary(check))


def engine_status_line() -> str:
    """The dock's engine line: the runtime summary when ready, else why not (one line)."""
    available, reason = spex_engine_status()
    return runtime_summary(engine_check()) if available else reason


def tr(text: str) -> str:
    """Translate ``text`` in the ``SpexDeps`` context."""
    from qgis.PyQt.QtCore import QCoreApplication

    return QCoreApplication.translate("SpexDeps", text)
