"""Optional-dependency detection and the pip command of the SPEX engine installer (nothing is installed)."""

import os
import stat
import subprocess
import sys
import time

import pytest
from qgis.core import QgsApplication

from spex_qgis import deps


def _exe(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_find_python_when_sys_executable_is_qgis(tmp_path):
    prefix = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    python = _exe(prefix / "bin" / "python3.11")
    qgis_binary = _exe(prefix / "QGIS")
    assert deps.find_python(qgis_binary, str(prefix), (3, 11), win=False) == python


def test_find_python_osgeo4w_layout(tmp_path):
    prefix = tmp_path / "OSGeo4W" / "apps" / "Python39"
    python = _exe(prefix / "python.exe")
    qgis_binary = _exe(tmp_path / "OSGeo4W" / "bin" / "qgis-bin.exe")
    assert deps.find_python(qgis_binary, str(prefix), (3, 9), win=True) == python


def test_find_python_keeps_a_python_executable(tmp_path):
    python = _exe(tmp_path / "venv" / "bin" / "python")
    assert deps.find_python(python, str(tmp_path / "elsewhere"), (3, 11), win=False) == python


def test_find_python_here_runs_the_same_python():
    python = deps.find_python()
    assert python
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == str(sys.version_info[:2])


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


def test_installed_onnxruntime_flavour_is_kept_and_present_packages_skipped():
    statuses = _statuses(torch="2.13.0", transformers="4.57.6")
    statuses = [
        s
        if s.module != "onnxruntime"
        else deps.PackageStatus("onnxruntime", True, "1.0", "onnxruntime", False, True)
        for s in statuses
    ]
    specs = deps.requirement_specs(True, statuses)  # old CPU onnxruntime + GPU: upgrade the CPU flavour
    assert not any(s.startswith(("torch", "transformers")) for s in specs)
    assert [s for s in specs if s.startswith("onnxruntime")] == ["onnxruntime>=1.19"]


def test_pip_install_command_shape(tmp_path):
    argv = deps.pip_install_command(
        target=str(tmp_path / "spex_deps"),
        constraints=str(tmp_path / "c.txt"),
        python="/usr/bin/python3",
        gpu=False,
        statuses=_statuses(),
        system="Linux",
    )
    assert argv[:8] == [
        "/usr/bin/python3",
        "-m",
        "pip",
        "install",
        "--target",
        str(tmp_path / "spex_deps"),
        "--constraint",
        str(tmp_path / "c.txt"),
    ]
    assert argv[argv.index("--extra-index-url") + 1] == deps.TORCH_CPU_INDEX  # no multi-GB CUDA wheel
    gpu = deps.pip_install_command(
        target="t", constraints="c", python="p", gpu=True, statuses=_statuses(), system="Linux"
    )
    assert "--extra-index-url" not in gpu and any(s.startswith("onnxruntime-gpu") for s in gpu)
    assert "onnxruntime>=1.19" not in gpu


def test_default_command_targets_the_profile_folder():
    argv = deps.pip_install_command(statuses=_statuses())
    assert argv[argv.index("--target") + 1] == deps.deps_folder()
    assert deps.deps_folder().startswith(QgsApplication.qgisSettingsDirPath().rstrip("/"))
    assert deps.deps_folder().endswith(os.path.join("python", "spex_deps"))


def test_constraints_pin_qgis_numpy(tmp_path):
    import numpy

    path = deps.write_constraints(str(tmp_path / "sub" / "constraints.txt"))
    lines = [line for line in open(path, encoding="utf-8") if not line.startswith("#")]
    assert lines == [f"numpy=={numpy.__version__}\n"]


def test_pip_accepts_the_command(tmp_path):
    """The real pip parses our command (offline: it must fail to *resolve*, not to parse, exit 1 not 2)."""
    constraints = deps.write_constraints(str(tmp_path / "c.txt"))
    argv = deps.pip_install_command(
        target=str(tmp_path / "t"), constraints=constraints, gpu=False, statuses=_statuses(), system="Linux"
    )
    argv = argv[:4] + ["--dry-run", "--no-index", "--find-links", str(tmp_path), "-q"] + argv[4:]
    argv = [a for i, a in enumerate(argv) if a != "--extra-index-url" and argv[i - 1] != "--extra-index-url"]
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


def test_deps_folder_on_sys_path_finds_packages(tmp_path):
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
        assert sys.path[-1] == str(folder)  # appended: QGIS's own packages win
        status = deps.package_status(req)
        assert status.installed and status.version == "3.2.1" and status.ok
        assert "spexfakepkg" not in sys.modules
    finally:
        deps.remove_deps_from_sys_path(str(folder))
    assert str(folder) not in sys.path
    assert deps.add_deps_to_sys_path(str(tmp_path / "missing")) is None


def test_install_dialog_shows_the_command_and_streams_output(qgis_app):
    argv = [sys.executable, "-c", "import sys; print('line one'); print('line two', file=sys.stderr)"]
    dialog = deps.install_dialog(None, argv)
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
    dialog = deps.install_dialog(None)
    assert dialog.process is None and "pip" in dialog.command_edit.toPlainText()
    assert "--target" in dialog.argv
    dialog.close()
