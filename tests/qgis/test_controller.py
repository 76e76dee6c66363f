"""The controller without the panel: one run ends in exactly one state, and each state replaces the last
result in the dock (success, empty, failed, cancelled), on the real aerial sample."""

from __future__ import annotations

import time

import pytest
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QCoreApplication

from spex_qgis import layers, settings
from spex_qgis.controller import SpexController
from spex_qgis.request_builder import PanelState
from spex_qgis.task import session_temp_dir


class Recorder:
    """Every signal of the controller, in order: (name, args)."""

    NAMES = ("succeeded", "empty", "failed", "cancelled", "inputRejected", "overwriteDeclined", "busyChanged")

    def __init__(self, controller: SpexController):
        self.events = []
        for name in self.NAMES:
            getattr(controller, name).connect(lambda *args, name=name: self.events.append((name, args)))

    def outcomes(self):
        return [name for name, _args in self.events if name != "busyChanged"]


def wait_idle(controller: SpexController, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while controller.busy() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert not controller.busy(), "the task did not finish in time"
    QCoreApplication.processEvents()


@pytest.fixture
def state(qgis_app, qgis_new_project, scene_path):
    settings.clear_all()
    layer = QgsRasterLayer(scene_path, "aerial RGBN sample")
    QgsProject.instance().addMapLayer(layer)
    yield PanelState(
        raster_source=layer.source(),
        raster_name=layer.name(),
        prompt="extract the water bodies",
        temp_dir=session_temp_dir(),
    )
    settings.clear_all()


def _results():
    group = QgsProject.instance().layerTreeRoot().findGroup(layers.RESULTS_GROUP)
    return [node.layer() for node in group.findLayers()] if group is not None else []


def test_each_run_ends_in_exactly_one_state(state):
    controller = SpexController()
    seen = Recorder(controller)
    never = lambda path: pytest.fail("no file output: nothing to confirm")  # noqa: E731

    assert controller.run(state, never) is not None
    wait_idle(controller)
    assert seen.outcomes() == ["succeeded"] and len(_results()) == 1
    layer = _results()[0]
    assert controller.last_result_id == layer.id() and "water" in controller.explanations[layer.id()]

    state.threshold = 1.0  # no index exceeds 1: nothing found, and no empty layer
    controller.run(state, never)
    wait_idle(controller)
    assert seen.outcomes()[-1] == "empty" and len(_results()) == 1

    state.threshold, state.prompt = None, "extract the unicorns"  # the runtime knows no such class
    controller.run(state, never)
    wait_idle(controller)
    name, (message,) = seen.events[-1]
    assert name == "failed" and "unicorn" in message.lower()

    state.prompt = ""  # bad input: nothing starts
    assert controller.run(state, never) is None and seen.outcomes()[-1] == "inputRejected"
    assert not controller.busy()

    state.prompt = "extract the vegetation"
    assert controller.run(state, never) is not None
    assert controller.cancel()
    wait_idle(controller)
    assert seen.outcomes()[-1] == "cancelled" and len(_results()) == 1
    assert seen.outcomes().count("succeeded") == 1  # every run ended exactly once
    busy = [args[0] for name, args in seen.events if name == "busyChanged"]
    assert busy == [True, False] * 4


def test_existing_output_is_kept_when_the_user_says_no(state, tmp_path):
    output = tmp_path / "water.gpkg"
    output.write_bytes(b"not replaced")
    state.output_mode, state.output_path = "file", str(output)
    controller = SpexController()
    seen = Recorder(controller)
    asked = []
    assert controller.run(state, lambda path: asked.append(path) or False) is None
    assert asked == [str(output)] and seen.outcomes() == ["overwriteDeclined"]
    assert output.read_bytes() == b"not replaced"
