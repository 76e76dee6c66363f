"""The error taxonomy end to end: each kind of error gives its own exit status through the real ``spex``
command (bad input 2, environment 4, cancelled 130, bug 1), always one line on the console; a bug's
traceback goes to a log file under the user cache, never to the console nor the output folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from model_runtime import errors
from model_runtime.cli import main
from model_runtime.errors import (
    DependencyMissingError,
    ExtractionCancelled,
    ModelLoadError,
    SpexEnvironmentError,
    SpexInputError,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(name="scene")
def scene_fixture(make_raster):
    from tests.conftest import random_bands

    return make_raster("scene.tif", random_bands(["B02", "B03", "B04", "B08"]))


def _spex(tmp_path, *argv, shadow: str | None = None) -> subprocess.CompletedProcess:
    """``python -m model_runtime ARGV`` (the ``spex`` entry point) from this checkout; ``shadow``: a package
    name that a folder first on PYTHONPATH makes fail to import, as a broken or missing install does."""
    path = [ROOT]
    if shadow:
        fake = tmp_path / "shadow"
        (fake / shadow).mkdir(parents=True)
        (fake / shadow / "__init__.py").write_text(f"raise ImportError('{shadow} is broken here (test)')\n")
        path.insert(0, str(fake))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), SPEX_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-m", "model_runtime", *argv], capture_output=True, text=True, env=env, timeout=300
    )


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_classes_and_statuses():
    # environment problems are no longer "bad input"; a broken model folder still is
    assert not issubclass(SpexEnvironmentError, SpexInputError)
    assert issubclass(DependencyMissingError, SpexEnvironmentError)
    assert issubclass(ModelLoadError, SpexInputError)
    statuses = [
        errors.exit_status(exc)
        for exc in (
            SpexInputError("x"),
            ModelLoadError("x"),
            DependencyMissingError("x"),
            SpexEnvironmentError("x"),
            ExtractionCancelled(),
            ZeroDivisionError(),
        )
    ]
    assert statuses == [2, 2, 4, 4, 130, 1]


def test_bad_input_is_status_2(tmp_path):
    missing = str(tmp_path / "nope.tif")
    proc = _spex(tmp_path, "extract", missing, "-p", "water", "-o", str(tmp_path / "o.gpkg"))
    assert proc.returncode == 2
    assert _one_error_line(proc).startswith("spex: error: raster ")


def test_missing_dependency_is_status_4(tmp_path, scene):
    model = tmp_path / "model"
    model.mkdir()
    out = tmp_path / "out" / "w.gpkg"
    out.parent.mkdir()
    argv = ["extract", scene, "-p", "water", "-o", str(out), "--engine", "spex", "--model", str(model)]
    proc = _spex(tmp_path, *argv, shadow="torch")
    assert proc.returncode == 4, proc.stderr
    line = _one_error_line(proc)
    assert line.startswith("spex: error: import torch failed") and "pip install" in line, line
    assert os.listdir(out.parent) == []


def test_batch_without_dask_is_status_4(tmp_path, scene):
    argv = ["batch", scene, "-p", "water", "-o", str(tmp_path / "out")]
    proc = _spex(tmp_path, *argv, shadow="distributed")
    assert proc.returncode == 4, proc.stderr
    assert "needs dask.distributed" in _one_error_line(proc)


def test_environment_variable_is_status_4(tmp_path, scene, monkeypatch, capsys):
    # an environment setting the user's shell carries, raised deep in the engine, in-process
    from model_runtime import pipeline

    def bad_env(*_args, **_kwargs):
        raise SpexEnvironmentError("SPEX_DECODE='fast' is not understood: use auto, eager or graph")

    monkeypatch.setattr(pipeline, "extract", bad_env)
    assert main(["extract", scene, "-p", "water", "-o", str(tmp_path / "w.gpkg")]) == 4
    assert capsys.readouterr().err.strip() == (
        "spex: error: SPEX_DECODE='fast' is not understood: use auto, eager or graph"
    )


def test_cancelled_is_status_130(tmp_path, scene, monkeypatch, capsys):
    from model_runtime import pipeline

    def cancelled(*_args, **_kwargs):
        raise ExtractionCancelled()

    monkeypatch.setattr(pipeline, "extract", cancelled)
    assert main(["extract", scene, "-p", "water", "-o", str(tmp_path / "w.gpkg")]) == 130
    assert capsys.readouterr().err.strip() == "spex: error: cancelled"


def test_bug_is_status_1_with_the_traceback_in_a_log(tmp_path, scene, monkeypatch, capsys):
    from model_runtime import pipeline

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("boom in the pipeline")

    cache = tmp_path / "cache"
    monkeypatch.setenv("SPEX_CACHE_DIR", str(cache))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setattr(pipeline, "extract", broken)
    assert main(["extract", scene, "-p", "water", "-o", str(out_dir / "w.gpkg")]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "internal error (a bug), ZeroDivisionError" in lines[0]
    logs = sorted((cache / "logs").iterdir())
    assert len(logs) == 1 and logs[0].suffix == ".log" and str(logs[0]) in lines[0]
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: boom in the pipeline" in text
    assert "extract" in text.splitlines()[0]  # the command line, for the report
    assert os.listdir(out_dir) == []  # nothing in the user's output folder


def test_bug_log_default_folder_and_unwritable_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SPEX_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert errors.log_dir() == str(tmp_path / "xdg" / "spex-qgis" / "logs")
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SPEX_CACHE_DIR", str(blocker))  # a file where the folder should be
    try:
        raise ValueError("x")
    except ValueError as exc:
        assert errors.write_bug_log(exc) is None
