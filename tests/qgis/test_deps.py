"""The SPEX engine installer's logic: interpreter, builds and indexes, pip commands, the import check,
sys.path order (nothing is installed here: tests/test_plugin_real_install.py does the real install)."""

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from qgis.core import QgsApplication

from spex_qgis import deps, installer
from spex_qgis.ui.install_dialog import install_dialog


def _exe(path, version="3.11.2 (main) [GCC 12]", prefix="/usr"):
    """A fake interpreter: a script that answers the identity probe like a real Python would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{version}'\necho '{prefix}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


IDENTITY = ("3.11.2 (main) [GCC 12]", "/usr")


def test_find_python_macos_bundle(tmp_path):
    prefix = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    python = _exe(prefix / "bin" / "python3.11")
    qgis_binary = _exe(prefix / "QGIS", version="not python")
    found = deps.find_python(
        qgis_binary, str(prefix), (3, 11), win=False, identity=IDENTITY, base_executable=""
    )
    assert found == python


def test_find_python_macos_framework_bundle(tmp_path):
    contents = tmp_path / "QGIS.app" / "Contents"
    python = _exe(contents / "Frameworks" / "Python.framework" / "Versions" / "3.11" / "bin" / "python3")
    qgis_binary = _exe(contents / "MacOS" / "QGIS", version="not python")
    found = deps.find_python(
        qgis_binary, str(tmp_path / "elsewhere"), (3, 11), win=False, identity=IDENTITY, base_executable=""
    )
    assert found == python


def test_find_python_osgeo4w_layout(tmp_path):
    prefix = tmp_path / "OSGeo4W" / "apps" / "Python39"
    python = _exe(prefix / "python.exe")
    qgis_binary = _exe(tmp_path / "OSGeo4W" / "bin" / "qgis-bin.exe", version="not python")
    found = deps.find_python(
        qgis_binary, str(prefix), (3, 9), win=True, identity=IDENTITY, base_executable=""
    )
    assert found == python


def test_find_python_skips_a_shim_that_is_another_python(tmp_path):
    """sys.executable is a pyenv-like shim answering for another interpreter: QGIS's own is found."""
    shim = _exe(tmp_path / "shims" / "python3", version="3.12.9 (pyenv)", prefix=str(tmp_path / "pyenv"))
    python = _exe(tmp_path / "usr" / "bin" / "python3.11")
    found = deps.find_python(
        shim, str(tmp_path / "usr"), (3, 11), win=False, identity=IDENTITY, base_executable=""
    )
    assert found == python


def test_find_python_none_when_no_candidate_is_qgis_python(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    shim = _exe(tmp_path / "python3", version="3.12.9 (pyenv)")
    assert (
        deps.find_python(shim, str(tmp_path), (3, 11), win=False, identity=IDENTITY, base_executable="")
        is None
    )
    monkeypatch.setattr(deps, "find_python", lambda: None)
    with pytest.raises(RuntimeError, match="QGIS's Python interpreter was not found"):
        deps.installer_command(deps.InstallPlan((), ("torch",), ()), target=str(tmp_path / "t"))


def test_find_python_here_runs_the_same_python():
    python = deps.find_python()
    assert python
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == sys.version.replace("\n", " ")


def _statuses(**installed):
    return [
        deps.PackageStatus(
            r.module,
            r.module in installed,
            installed.get(r.module),
            r.dists[0] if r.module in installed else None,
            r.module in installed,
            r.required,
        )
        for r in deps.REQUIREMENTS
    ]


@pytest.mark.parametrize("gpu", [False, True])
def test_onnxruntime_flavour_never_both(gpu):
    specs = deps.requirement_specs(gpu, _statuses())
    ort = [s for s in specs if s.startswith("onnxruntime")]
    assert len(ort) == 1 and ort[0].startswith("onnxruntime-gpu" if gpu else "onnxruntime>=")
    assert any(s.startswith(f"torch=={deps.TORCH_VERSION}") for s in specs)
    assert "onnx>=1.16" in specs  # the vision-encoder export needs it


def test_gpu_machine_asks_for_onnxruntime_gpu_even_over_an_installed_cpu_flavour():
    statuses = [
        s
        if s.module != "onnxruntime"
        else deps.PackageStatus("onnxruntime", True, "1.20", "onnxruntime", True, True)
        for s in _statuses(torch="2.13.0", transformers="4.57.6")
    ]
    assert [s for s in deps.requirement_specs(True, statuses) if s.startswith("onnxruntime")] == [
        "onnxruntime-gpu>=1.19"
    ]
    cpu = deps.requirement_specs(False, statuses, only_missing=True)
    assert not any(s.startswith(("torch", "transformers", "onnxruntime")) for s in cpu)


def _reachable(answer):
    asked = []

    def probe(url):
        asked.append(url)
        return answer, "" if answer else "Name or service not known"

    return probe, asked


def test_plan_linux_cpu_uses_the_cpu_index_only_when_it_answers():
    probe, asked = _reachable(True)
    plan = deps.install_plan(gpu=False, system="Linux", statuses=_statuses(), reachable=probe)
    assert plan.index_options == (f"--extra-index-url={deps.TORCH_CPU_INDEX}",) and asked == [
        deps.TORCH_CPU_INDEX
    ]
    assert "No NVIDIA GPU" in plan.notes[0]
    probe, _ = _reachable(False)
    plan = deps.install_plan(gpu=False, system="Linux", statuses=_statuses(), reachable=probe)
    assert plan.index_options == ()
    assert any("download.pytorch.org is unreachable (Name or service not known)" in n for n in plan.notes)


def test_plan_gpu_picks_cuda_builds_and_says_so():
    probe, asked = _reachable(True)
    linux = deps.install_plan(gpu=True, system="Linux", statuses=_statuses(), reachable=probe)
    assert linux.index_options == () and asked == []  # PyPI's Linux torch is the CUDA build
    assert "onnxruntime-gpu>=1.19" in linux.specs and "onnxruntime>=1.19" not in linux.specs
    assert linux.notes[0] == "NVIDIA GPU found: CUDA builds of torch and onnxruntime-gpu"
    windows = deps.install_plan(gpu=True, system="Windows", statuses=_statuses(), reachable=probe)
    assert windows.index_options == (f"--extra-index-url={deps.TORCH_CUDA_INDEX}",)
    mac = deps.install_plan(gpu=False, system="Darwin", statuses=_statuses(), reachable=probe)
    assert mac.index_options == () and "onnxruntime>=1.19" in mac.specs


def test_plan_offline_wheel_folder(tmp_path):
    probe, asked = _reachable(True)
    plan = deps.install_plan(
        gpu=False, system="Linux", wheel_dir=str(tmp_path), statuses=_statuses(), reachable=probe
    )
    assert plan.index_options == ("--no-index", f"--find-links={tmp_path}") and asked == []


def test_index_reachable_real_http(tmp_path):
    import http.server
    import socket
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert deps.index_reachable(f"http://127.0.0.1:{server.server_address[1]}/simple")[0]  # any answer
    finally:
        server.shutdown()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.time()
    ok, why = deps.index_reachable(f"http://127.0.0.1:{port}/simple", timeout=2)
    assert not ok and why and time.time() - t0 < 5


def test_installer_command_shape(tmp_path):
    plan = deps.InstallPlan(
        (f"--extra-index-url={deps.TORCH_CPU_INDEX}",), ("torch==2.13.0", "onnx>=1.16"), ()
    )
    argv = deps.installer_command(plan, python="/usr/bin/python3", target=str(tmp_path / "spex_deps"))
    assert argv[:2] == ["/usr/bin/python3", deps.INSTALLER_SCRIPT]
    assert argv[argv.index("--target") + 1] == str(tmp_path / "spex_deps")
    assert argv[argv.index("--constraint") + 1] == str(tmp_path / "spex_deps-constraints.txt")
    assert f"--index-option=--extra-index-url={deps.TORCH_CPU_INDEX}" in argv
    assert argv[argv.index("--") + 1 :] == ["torch==2.13.0", "onnx>=1.16"]
    deps.prepare_installer_files(argv)
    with open(argv[argv.index("--path-json") + 1], encoding="utf-8") as handle:
        path = json.load(handle)
    assert path[0] == str(tmp_path / "spex_deps") and path[1:] == [p for p in sys.path if p != path[0]]


def test_default_command_targets_the_profile_folder():
    argv = deps.installer_command(deps.InstallPlan((), ("torch",), ()))
    assert argv[argv.index("--target") + 1] == deps.deps_folder()
    assert deps.deps_folder().startswith(QgsApplication.qgisSettingsDirPath().rstrip("/"))
    assert deps.deps_folder().endswith(os.path.join("python", "spex_deps"))


def test_constraints_pin_qgis_numpy(tmp_path):
    import numpy

    path = deps.write_constraints(str(tmp_path / "sub" / "constraints.txt"))
    lines = [line for line in open(path, encoding="utf-8") if not line.startswith("#")]
    assert lines == [f"numpy=={numpy.__version__}\n"]


def test_resolution_against_this_environment_installs_nothing_it_has(tmp_path):
    """Real pip, offline: this environment has every SPEX package, so the dry-run lists nothing (no numpy)."""
    constraints = deps.write_constraints(str(tmp_path / "c.txt"))
    offline = ["--no-index", f"--find-links={tmp_path}"]
    report = tmp_path / "r.json"
    argv = installer.resolve_command(
        sys.executable, str(report), constraints, deps.requirement_specs(False), offline
    )
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert installer.packages_to_install(json.loads(report.read_text())) == []


def test_pip_accepts_the_install_command(tmp_path):
    """The real pip parses it (offline: it must fail to *find* the wheel, exit 1, not to parse, exit 2)."""
    offline = ["--no-index", f"--find-links={tmp_path}"]
    argv = installer.install_command(
        sys.executable, str(tmp_path / "t"), ["spex-no-such-package==1.0"], offline
    )
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "no matching distribution" in proc.stderr.lower()


def test_status_in_this_environment_and_without_a_package(monkeypatch):
    available, reason = deps.spex_engine_status()
    assert available, reason
    assert "torch" in reason and "\n" not in reason
    fake = deps.Requirement("spex_no_such_module", ("spex-no-such-module",), "spex-no-such-module", "1.0")
    monkeypatch.setattr(deps, "REQUIREMENTS", deps.REQUIREMENTS + (fake,))
    available, reason = deps.spex_engine_status()
    assert not available and "spex_no_such_module" in reason and "\n" not in reason
    assert "Install SPEX engine dependencies" in reason


def test_detection_does_not_import_heavy_packages():
    code = (
        "import sys; from spex_qgis import deps; ok, why = deps.spex_engine_status(); "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'tokenizers') if m in sys.modules]; "
        "print(ok, heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == "True []", out.stderr


def test_deps_folder_goes_first_on_sys_path(tmp_path):
    folder = tmp_path / "spex_deps"
    (folder / "spexfakepkg").mkdir(parents=True)
    (folder / "spexfakepkg" / "__init__.py").write_text("")
    meta = folder / "spexfakepkg-3.2.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: spexfakepkg\nVersion: 3.2.1\n")
    req = deps.Requirement("spexfakepkg", ("spexfakepkg",), "spexfakepkg", "3.0")
    assert not deps.package_status(req).installed
    try:
        assert deps.add_deps_to_sys_path(str(folder)) == str(folder)
        assert sys.path[0] == str(folder)  # first: an older system copy cannot shadow it
        assert deps.add_deps_to_sys_path(str(folder)) == str(folder) and sys.path.count(str(folder)) == 1
        status = deps.package_status(req)
        assert status.installed and status.version == "3.2.1" and status.ok
        assert "spexfakepkg" not in sys.modules
    finally:
        deps.remove_deps_from_sys_path(str(folder))
    assert str(folder) not in sys.path
    assert deps.add_deps_to_sys_path(str(tmp_path / "missing")) is None


def test_install_dialog_shows_the_command_and_streams_output(qgis_app):
    argv = [sys.executable, "-c", "import sys; print('line one'); print('line two', file=sys.stderr)"]
    dialog = install_dialog(None, argv)
    assert dialog.process is None  # nothing runs before the user clicks Install
    assert dialog.command_edit.toPlainText() == deps.format_command(argv)
    dialog.install_button.click()
    deadline = time.time() + 30
    while dialog.process is not None and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    text = dialog.output_edit.toPlainText()
    assert "line one" in text and "line two" in text and "exit status" not in text
    dialog.close()


def test_default_dialog_does_not_start_pip(qgis_app):
    dialog = install_dialog(None)
    assert dialog.process is None and "installer.py" in dialog.command_edit.toPlainText()
    assert "No NVIDIA GPU" in dialog.notes_label.text() or "NVIDIA GPU found" in dialog.notes_label.text()
    assert "--target" in dialog.argv
    dialog.close()


def _report(*pairs):
    return {"install": [{"metadata": {"name": n, "version": v}} for n, v in pairs]}


def test_packages_to_install_pins_the_report_and_never_numpy():
    pinned = installer.packages_to_install(_report(("torch", "2.13.0+cpu"), ("sympy", "1.14.0")))
    assert pinned == ["torch==2.13.0+cpu", "sympy==1.14.0"]
    with pytest.raises(RuntimeError, match="another NumPy"):
        installer.packages_to_install(_report(("torch", "2.13.0"), ("NumPy", "2.1.0")))


def _fake_dist(folder, name, version, files):
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record = [f"{rel},," for rel in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_uninstall_from_target_follows_record_and_stays_inside(tmp_path):
    target = tmp_path / "spex_deps"
    outside = tmp_path / "precious.py"
    outside.write_text("keep me")
    _fake_dist(target, "numpy", "2.1.0", {"numpy/__init__.py": "", "numpy/core/x.py": ""})
    _fake_dist(target, "typing_extensions", "4.16.0", {"typing_extensions.py": ""})
    with open(target / "numpy-2.1.0.dist-info" / "RECORD", "a") as handle:
        handle.write("../precious.py,,\n")
    assert installer.installed_distributions(str(target)) == {
        "numpy": "numpy-2.1.0.dist-info",
        "typing-extensions": "typing_extensions-4.16.0.dist-info",
    }
    assert installer.uninstall_from_target(str(target), ["NumPy"]) == ["numpy-2.1.0.dist-info"]
    assert sorted(os.listdir(target)) == ["typing_extensions-4.16.0.dist-info", "typing_extensions.py"]
    assert outside.read_text() == "keep me"


def test_check_reports_the_real_cause_of_an_import_failure(tmp_path):
    broken = tmp_path / "broken"
    (broken / "torch").mkdir(parents=True)
    (broken / "torch" / "__init__.py").write_text(
        "raise ImportError(\"cannot import name 'equal_valued' from 'sympy.core.numbers'\")\n"
    )
    check = installer.check_imports(sys.executable, [str(broken)] + sys.path, str(broken))
    assert not check["ok"]
    error = check["error"]
    assert error["module"] == "torch" and error["type"] == "ImportError"
    assert "equal_valued" in error["message"] and error["at"].startswith(str(broken / "torch"))


@pytest.mark.slow
def test_check_catches_debians_old_sympy_ahead_of_torch():
    """The issue's blocker, for real: Debian's sympy 1.11 before the packages torch was installed with."""
    dist_packages = "/usr/lib/python3/dist-packages"
    if not os.path.isfile(os.path.join(dist_packages, "sympy", "__init__.py")):
        pytest.skip("needs Debian's python3-sympy")
    import sympy

    if os.path.dirname(os.path.dirname(sympy.__file__)) == dist_packages:
        pytest.skip("this environment's sympy is Debian's own")
    site = os.path.dirname(os.path.dirname(sympy.__file__))
    bad = [dist_packages] + [p for p in sys.path if p != dist_packages]
    good = [site] + [p for p in sys.path if p != site]
    broken = installer.check_imports(sys.executable, bad, site)
    assert not broken["ok"] and broken["error"]["module"] in ("torch", "transformers")
    assert "sympy" in broken["error"]["message"] + broken["error"]["at"]
    fine = installer.check_imports(sys.executable, good, None)
    assert fine["ok"], fine["error"]
    assert fine["modules"]["torch"]["file"].startswith(site) and fine["ort_providers"]


def test_status_shows_the_check_failure_cause(monkeypatch):
    failure = {
        "ok": False,
        "error": {
            "module": "transformers",
            "type": "ImportError",
            "message": "boom from sympy",
            "at": "x.py:3",
        },
    }
    monkeypatch.setattr(deps, "engine_check", lambda refresh=False: failure)
    available, reason = deps.spex_engine_status()
    assert not available and "\n" not in reason
    assert "import transformers failed: ImportError: boom from sympy (at x.py:3)" in reason
    assert "not installed" not in reason


def test_shadowed_modules_names_what_was_imported_too_early(tmp_path, monkeypatch):
    folder = tmp_path / "spex_deps"
    (folder / "spexshadow").mkdir(parents=True)
    (folder / "spexshadow" / "__init__.py").write_text("")
    (folder / "spexshadow-1.0.dist-info").mkdir()
    early = tmp_path / "system" / "spexshadow.py"
    early.parent.mkdir()
    early.write_text("")
    module = type(sys)("spexshadow")
    module.__file__ = str(early)
    monkeypatch.setitem(sys.modules, "spexshadow", module)
    assert deps.shadowed_modules(str(folder)) == ["spexshadow"]
    assert deps.shadowed_modules(str(folder), used=["spexshadow", "torch"]) == ["spexshadow"]
    assert deps.shadowed_modules(str(folder), used=["torch"]) == []  # the engine does not import it
    module.__file__ = str(folder / "spexshadow" / "__init__.py")
    assert deps.shadowed_modules(str(folder)) == []


def test_check_is_cached_by_path_and_versions(tmp_path, monkeypatch):
    folder = tmp_path / "spex_deps"
    folder.mkdir()
    calls = []

    def fake_check(python, path, deps_dir, timeout=300):
        calls.append(list(path))
        return {"ok": True, "modules": {}, "error": None}

    monkeypatch.setattr(installer, "check_imports", fake_check)
    monkeypatch.setattr(deps, "_CHECK_MEMO", {})
    assert deps.engine_check(str(folder))["ok"] and calls[0][0] == str(folder)
    deps.engine_check(str(folder))
    assert len(calls) == 1  # cached in memory
    monkeypatch.setattr(deps, "_CHECK_MEMO", {})
    deps.engine_check(str(folder))
    assert len(calls) == 1  # cached on disk next to the folder
    assert os.path.isfile(tmp_path / deps.CHECK_FILE_NAME)
    _fake_dist(folder, "spexnew", "1.0", {"spexnew.py": ""})  # something was installed: check again
    deps.engine_check(str(folder))
    assert len(calls) == 2


def test_installer_without_pip_says_how_to_get_it(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'No module named pip' >&2\nexit 1\n")
    fake.chmod(0o755)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from spex_qgis import installer; "
            f"sys.exit(installer.install({str(fake)!r}, {str(tmp_path / 't')!r}, 'c.txt', ['torch'], []))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "has no pip: install it for QGIS's Python" in proc.stdout
    assert not (tmp_path / "t").exists()


def test_dock_engine_line_shows_runtime_and_device_from_the_check(qgis_app, qgis_iface, tmp_path):
    from spex_qgis import settings
    from spex_qgis.dock import SpexDockWidget

    available, reason = deps.spex_engine_status()
    assert available, reason
    settings.clear_all()
    dock = SpexDockWidget(qgis_iface)
    try:
        dock.engine_combo.setCurrentIndex(dock.engine_combo.findData("spex"))
        (tmp_path / "config.json").write_text("{}", encoding="utf-8")
        dock.model_widget.setFilePath(str(tmp_path))
        text = dock.engine_status.text()
        assert text.endswith(deps.runtime_summary(deps.engine_check()))
        assert "vision encoder on ONNX Runtime" in text and ", device " in text and "torch 2.13.0" in text
    finally:
        dock.unload()
        settings.clear_all()


def test_release_runtime_frees_the_cached_model(tmp_path, monkeypatch):
    import gc
    import weakref

    pytest.importorskip("torch")
    from model_runtime.engines import spex_engine
    from spex_qgis.plugin import drop_plugin_modules, release_runtime
    from tests.spex.tools.make_test_checkpoint import write_checkpoint

    monkeypatch.setenv("SPEX_VISION_BACKEND", "torch")  # no ONNX export needed to hold a model
    model_dir = write_checkpoint(str(tmp_path / "tiny"), tiny=True, seed=0)
    loaded = spex_engine.load_model(model_dir, "cpu")
    model = weakref.ref(loaded.model)
    del loaded
    gc.collect()
    assert model() is not None  # the runtime keeps it between runs
    release_runtime()
    assert model() is None
    assert drop_plugin_modules() == []  # a source checkout: the runtime is the developer's, it stays
    assert "model_runtime.engines.spex_engine" in sys.modules


def test_dialog_reads_the_installers_check_line(qgis_app):
    check = {"ok": False, "modules": {}, "error": {"module": "torch", "type": "ImportError", "message": "x"}}
    code = f"import json; print('[1/3] resolving'); print({installer.CHECK_PREFIX!r} + json.dumps({check!r}))"
    dialog = install_dialog(None, [sys.executable, "-c", code])
    dialog.install_button.click()
    deadline = time.time() + 30
    while dialog.process is not None and time.time() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    text = dialog.output_edit.toPlainText()
    assert dialog.check == check
    assert "[1/3] resolving" in text and "Done:" in text
    assert not any(line.startswith(installer.CHECK_PREFIX) for line in text.splitlines())  # parsed, not shown
    dialog.close()


# ------------------------------------------------- one package list; onnxruntime recommended, not required


def test_installer_reads_the_runtime_list():
    from model_runtime import requirements

    assert deps.REQUIREMENTS == requirements.feature_requirements("spex")
    assert list(installer.CHECK_MODULES) == requirements.required_modules("spex")
    assert set(installer.OPTIONAL_CHECK_MODULES) == {"onnxruntime", "onnx"}
    specs = deps.requirement_specs(False, _statuses())
    assert specs == [r.spec for r in requirements.feature_requirements("spex")]  # recommended ones too


def test_installer_script_finds_the_list_in_the_plugin_zip_layout(tmp_path):
    """The ZIP vendors the runtime as spex_qgis/model_runtime/; QGIS's Python runs installer.py alone."""
    import shutil

    import model_runtime.requirements as requirements

    plugin = tmp_path / "spex_qgis"
    (plugin / "model_runtime").mkdir(parents=True)
    shutil.copy(installer.__file__, plugin / "installer.py")
    shutil.copy(requirements.__file__, plugin / "model_runtime" / "requirements.py")
    code = (
        "import runpy, sys; "
        f"g = runpy.run_path({str(plugin / 'installer.py')!r}, run_name='not_main'); "
        "print(g['_REQUIREMENTS'].__file__, 'numpy' in sys.modules, '_spex_requirements' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{plugin / 'model_runtime' / 'requirements.py'} False False", out.stderr
    (plugin / "model_runtime" / "requirements.py").unlink()
    argv = [sys.executable, "-S", str(plugin / "installer.py"), "--help"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode != 0 and "requirements.py not found" in proc.stderr


def _shadow(folder, name, error):
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(f"raise {error}\n")


def test_check_passes_without_onnxruntime_and_reports_a_broken_one(tmp_path):
    absent = tmp_path / "absent"
    _shadow(absent, "onnxruntime", "ModuleNotFoundError('no onnxruntime here', name='onnxruntime')")
    check = installer.check_imports(sys.executable, [str(absent)] + sys.path, None)
    assert check["ok"], check["error"]
    assert "onnxruntime" not in check["modules"] and check["ort_providers"] == []
    assert check["optional_errors"] == {}
    summary = deps.runtime_summary(check)
    assert "vision encoder in torch" in summary and "ONNX Runtime ?" not in summary
    broken = tmp_path / "broken"
    _shadow(broken, "onnxruntime", "ImportError('libonnxruntime.so: cannot open shared object file')")
    check = installer.check_imports(sys.executable, [str(broken)] + sys.path, None)
    assert check["ok"] and check["optional_errors"]["onnxruntime"]["type"] == "ImportError"
    torch_gone = tmp_path / "torch_gone"
    _shadow(torch_gone, "torch", "ModuleNotFoundError('no torch here', name='torch')")
    check = installer.check_imports(sys.executable, [str(torch_gone)] + sys.path, None)
    assert not check["ok"] and check["error"]["module"] == "torch"


def test_status_without_a_recommended_package_is_still_ready(monkeypatch):
    fake = deps.Requirement("spex_no_such_module", ("spex-no-such",), "spex-no-such", "1.0", required=False)
    monkeypatch.setattr(deps, "REQUIREMENTS", deps.REQUIREMENTS + (fake,))
    available, reason = deps.spex_engine_status()
    assert available, reason
