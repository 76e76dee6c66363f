"""``spex batch`` as a user runs it: a real subprocess with its own local dask cluster (worker processes),
Ctrl-C in the middle, and a re-run that resumes without redoing finished items."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from model_runtime.cli import main
from tests.runtime.batch_scenes import make_water_scene

PROMPT = "extract the water bodies"


def _spex(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "model_runtime", "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def _manifest(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.slow
def test_ctrl_c_keeps_finished_outputs_and_rerun_resumes(tmp_path):
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i in range(8):
        make_water_scene(folder / f"tile_{i}.tif", width=900, height=900, seed=i, block=256)
    out = tmp_path / "out"
    manifest = out / "spex-batch.json"

    proc = _spex(str(folder), "-p", PROMPT, "-o", str(out), "--workers", "1", "--no-dashboard")
    deadline = time.monotonic() + 240
    done_before = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists():
            done_before = _manifest(manifest)["counts"]["done"]
            if done_before >= 1:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before it could be interrupted: " + proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr

    state = _manifest(manifest)  # valid JSON after the interrupt
    done = [r for r in state["items"].values() if r["status"] == "done"]
    assert 1 <= len(done) < 8
    for record in done:
        assert os.path.exists(record["output"])
    stamps = {r["output"]: os.stat(r["output"]).st_mtime_ns for r in done}
    assert not [n for n in os.listdir(out) if ".spex-tmp-" in n]  # no half-written file left

    proc = _spex(str(folder), "-p", PROMPT, "-o", str(out), "--workers", "1", "--no-dashboard", "--json")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["counts"]["skipped"] == len(done)
    assert result["counts"]["done"] == 8 - len(done) and result["counts"]["failed"] == 0
    for output, stamp in stamps.items():
        assert os.stat(output).st_mtime_ns == stamp  # finished items were not redone
    assert result["merged_features"] > 0 and os.path.exists(result["merged_output"])


def test_cli_bad_requests_are_one_line_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nothing_here"), "-p", PROMPT, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spex: error:") and "\n" not in err

    raster = make_water_scene(tmp_path / "r.tif", width=80, height=80)
    code = main(
        [
            "batch",
            raster,
            "-p",
            PROMPT,
            "-o",
            str(tmp_path / "o"),
            "--chunk-size",
            "64",
            "--threshold-method",
            "otsu",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Otsu" in err and "\n" not in err

    code = main(["batch", raster, "-p", "extract the unicorns", "-o", str(tmp_path / "o"), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 2 and "\n" not in captured.err.strip()
