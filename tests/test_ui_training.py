"""The training dashboard driven by a scripted trainer: controls, plots, pause/stop, failures.

The scripted trainer (test_ui_training_scripted.py) runs in the dashboard's child process like
the real one and sends the real event types at a steady pace, so these tests check the dashboard
alone, quickly; test_ui_training_real.py runs the real Trainer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QMainWindow
from test_ui_training_scripted import ScriptedFactory  # noqa: I001 - beside this file

from netbuilder.training import TrainSettings
from netbuilder.ui.training import install
from netbuilder.ui.training.runs import RunCurves

# -- doubles ---------------------------------------------------------------------------------


@dataclass
class FakeNode:
    name: str
    type: str
    out_shape: tuple | None
    param_count: int = 0


@dataclass
class FakeGraph:
    nodes: dict = field(default_factory=dict)
    name: str = "Net"

    def problems(self):
        return []

    def to_dict(self):
        nodes = [{"id": nid, "name": n.name, "type": n.type} for nid, n in self.nodes.items()]
        return {"name": self.name, "nodes": nodes, "edges": []}


def lenet_like_graph() -> FakeGraph:
    g = FakeGraph()
    specs = [
        ("n1", "input", "Input", (1, 28, 28), 0),
        ("n2", "conv1", "Conv2d", (6, 24, 24), 156),
        ("n3", "relu1", "ReLU", (6, 24, 24), 0),
        ("n4", "flat", "Flatten", (3456,), 0),
        ("n5", "fc1", "Linear", (10,), 34570),
    ]
    for nid, name, typ, shape, count in specs:
        g.nodes[nid] = FakeNode(name, typ, shape, count)
    return g


class FakeCanvas:
    def __init__(self):
        self.overlays = {}

    def set_node_overlay(self, node_id, color, tooltip):
        if color is None:
            self.overlays.pop(node_id, None)
        else:
            self.overlays[node_id] = (color, tooltip)


class FakeWindow(QMainWindow):
    """A DashboardHost (netbuilder/ui/training/host.py) and nothing else."""

    projectReplaced = Signal()
    selectionChangedTo = Signal(object)

    def __init__(self):
        super().__init__()
        self.project = SimpleNamespace(
            graph=lenet_like_graph(), training={}, runs=[], weights_path=None
        )
        self.canvas = FakeCanvas()
        self.train_menu = self.menuBar().addMenu("&Train")
        self.locked = []
        self.dirty = 0
        self.runs_recorded = 0
        self.path = None
        self.errors = []
        self.docks = []

    @property
    def graph(self):
        return self.project.graph

    def set_structure_locked(self, locked, reason):
        self.locked.append((locked, reason))

    def mark_dirty(self):
        self.dirty += 1

    def runs_changed(self):
        self.runs_recorded += 1

    def set_training_workspace(self, on):
        self.workspace = on

    def show_block(self, node_id):
        self.shown = node_id

    def show_error(self, title, message):
        self.errors.append((title, message))

    def add_dock(self, dock, area):
        self.addDockWidget(area, dock)
        self.docks.append(dock)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def window(qtbot):
    w = FakeWindow()
    qtbot.addWidget(w)
    w.resize(1200, 800)
    yield w
    dashboard = getattr(w, "training", None)
    if dashboard is not None:
        dashboard.shutdown()


def make_dashboard(window, **trainer_kw):
    return install(window, trainer_factory=ScriptedFactory(**trainer_kw))


def points(curve) -> int:
    """Points held by a plot curve (all of them, not the downsampled view)."""
    return 0 if curve.xData is None else len(curve.xData)


def wait_until(qtbot, cond, timeout=5000):
    qtbot.waitUntil(cond, timeout=timeout)


# -- tests -----------------------------------------------------------------------------------


def test_install_adds_actions_docks_and_defaults(window):
    d = make_dashboard(window)
    texts = [a.text() for a in window.train_menu.actions() if not a.isSeparator()]
    assert texts[:3] == ["&Train", "&Pause", "&Stop"]
    assert d.train_action.shortcut().toString() == "F5"
    assert d.stop_action.shortcut().toString() == "Shift+F5"
    assert len(window.docks) == 2
    assert d.form.values()["optimizer"] == TrainSettings().optimizer
    assert not d.stop_action.isEnabled() and d.train_action.isEnabled()


def test_f5_starts_a_run_and_steps_reach_the_loss_plot(window, qtbot):
    d = make_dashboard(window)
    window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    try:
        assert d.running, "F5 did not start training"
        assert window.locked[-1][0] is True and "stop" in window.locked[-1][1].lower()
        assert d.lock_label.isVisible()
        assert not d.form.dataset.combo.isEnabled()
        wait_until(qtbot, lambda: points(d.loss_plot.raw) > 10)
        assert d.wait(10)
    finally:
        d.shutdown()
    assert window.locked[-1][0] is False
    assert not d.lock_label.isVisible()
    xs = d.loss_plot.raw.xData
    assert len(xs) == 30 and np.all(np.diff(xs) > 0)
    assert points(d.loss_plot.smoothed) == 30
    assert d.run.status == "finished"
    assert d.progress.value() == 30


def test_train_button_starts_and_grad_plot_has_one_curve_per_layer(window, qtbot):
    d = make_dashboard(window)
    qtbot.mouseClick(d.train_button, Qt.MouseButton.LeftButton)
    try:
        assert d.running
        assert d.wait(10)
    finally:
        d.shutdown()
    assert list(d.grad_plot.curves) == ["conv1", "fc1"]
    for name, curve in d.grad_plot.curves.items():
        assert points(curve) == 6, name  # every 5th of 30 steps
    # the layer norm combines weight and bias: sqrt(0.1^2 + 0.2^2) for conv1
    assert d.run.grad_norms["conv1"].y[0] == pytest.approx(np.hypot(0.1, 0.2))
    # the canvas tints the parametrised blocks, with the figure in the tooltip
    assert set(window.canvas.overlays) == {"n2", "n5"}
    assert "gradient" in window.canvas.overlays["n2"][1]
    # after the epoch: confusion matrix and the test-image grid with wrong ones counted
    assert d.confusion.matrix.shape == (10, 10)
    assert len(d.samples.images) == 16 and d.samples.wrong_count == 4


def test_legend_click_toggles_a_layer(window, qtbot):
    d = make_dashboard(window)
    d.start()
    try:
        d.wait(10)
    finally:
        d.shutdown()
    sample, _label = d.grad_plot.legend.items[0]
    curve = d.grad_plot.curves["conv1"]
    assert curve.isVisible()
    click = SimpleNamespace(button=lambda: Qt.MouseButton.LeftButton, accept=lambda: None)
    sample.mouseClickEvent(click)
    assert not curve.isVisible()
    sample.mouseClickEvent(click)
    assert curve.isVisible()


def test_pause_stops_steps_and_resume_continues(window, qtbot):
    d = make_dashboard(window, steps_per_epoch=400, step_s=0.005)
    d.start()
    try:
        wait_until(qtbot, lambda: d.step > 5)
        d.pause_action.trigger()
        assert d.pause_action.text() == "&Resume"
        wait_until(qtbot, lambda: d.progress.format().startswith("Paused ·"))
        text = d.progress.format()  # where it stands, once: no pace, no ETA while paused
        assert text.count("step") == 1 and "ETA" not in text and "samples/s" not in text
        held = d.step
        qtbot.wait(300)
        assert d.step == held, "steps went on while paused"
        d.pause_action.trigger()
        assert d.pause_action.text() == "&Pause"
        wait_until(qtbot, lambda: d.step > held + 5)
    finally:
        d.shutdown()


def test_stop_ends_the_run_promptly_and_records_it(window, qtbot):
    d = make_dashboard(window, steps_per_epoch=10_000, step_s=0.005)
    d.start()
    try:
        wait_until(qtbot, lambda: d.step > 3)
        d.stop_action.trigger()  # how fast: benchmarks/gui_training_perf.py
        wait_until(qtbot, lambda: not d.running)
    finally:
        d.shutdown()
    assert d.run.status == "stopped"
    assert d.train_action.isEnabled() and not d.stop_action.isEnabled()
    assert len(window.project.runs) == 1 and window.project.runs[0]["status"] == "stopped"
    assert window.runs_recorded == 1 and window.dirty == 0  # a run alone modifies nothing


def test_failure_shows_a_message_and_window_stays_usable(window, qtbot):
    d = make_dashboard(window, nan_at=7)
    d.start()
    try:
        assert d.wait(10)
    finally:
        d.shutdown()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=2000)
    assert "NaN" in window.errors[0][1]
    assert not d.message_label.isHidden() and "NaN" in d.message_label.text()
    assert d.run.status == "failed"
    assert window.locked[-1][0] is False
    # usable: a new run starts and overlays the failed one
    d._trainer_factory = ScriptedFactory()
    assert d.start()
    try:
        assert d.wait(10)
    finally:
        d.shutdown()
    assert d.run.status == "finished" and d.message_label.isHidden()
    assert d.loss_plot.previous.isVisible()


def test_settings_edit_goes_into_the_project(window):
    d = make_dashboard(window)
    d.form.epochs.setValue(3)
    d.form.lr.setValue(0.05)
    i = d.form.optimizer.findData("adam")
    d.form.optimizer.setCurrentIndex(i)
    t = window.project.training
    assert t["epochs"] == 3 and t["lr"] == pytest.approx(0.05) and t["optimizer"] == "adam"
    assert window.dirty >= 3
    assert d.form.beta1.isVisibleTo(d.form) and not d.form.momentum.isVisibleTo(d.form)
    # the run uses the project's settings
    d.start()
    try:
        d.wait(10)
    finally:
        d.shutdown()
    # the child trained 3 epochs of 30 steps: it got the project's settings
    assert d.run.settings["optimizer"] == "adam" and d.step == 90 and len(d.run.epochs) == 3


def test_each_optimizer_edits_its_own_momentum(window):
    d = make_dashboard(window)
    form, t = d.form, window.project.training
    assert form.momentum.isVisibleTo(form) and not form.rmsprop_momentum.isVisibleTo(form)
    form.optimizer.setCurrentIndex(form.optimizer.findData("rmsprop"))
    # RMSprop shows PyTorch's default (0), not SGD's classic 0.9
    assert form.rmsprop_momentum.isVisibleTo(form) and not form.momentum.isVisibleTo(form)
    assert form.rmsprop_momentum.value() == 0.0
    form.rmsprop_momentum.setValue(0.5)
    assert t["rmsprop_momentum"] == pytest.approx(0.5)
    assert t.get("momentum", 0.9) == pytest.approx(0.9)  # SGD's value is untouched
    for opt in ("adam", "adagrad"):
        form.optimizer.setCurrentIndex(form.optimizer.findData(opt))
        assert not form.momentum.isVisibleTo(form)
        assert not form.rmsprop_momentum.isVisibleTo(form)


def test_bad_settings_are_refused_with_a_message(window, qtbot):
    d = make_dashboard(window)
    window.project.training["betas"] = "nonsense"
    d.form.load(window.project.training | {"betas": [0.9, 0.999]})
    window.project.training["nesterov"] = True
    d.form.momentum.setValue(0.0)
    d.form.nesterov.setChecked(True)
    assert not d.start()
    assert not d.running
    assert "nesterov" in d.message_label.text()


def test_reopening_shows_saved_curves_and_new_run_overlays_them(window, qtbot):
    d = make_dashboard(window)
    d.start()
    try:
        d.wait(10)
    finally:
        d.shutdown()
    saved = window.project.runs[-1]
    assert saved["loss"]["step"][-1] == 30 and len(saved["epochs"]) == 1
    # "reopen": a new project object holding the saved runs
    window.project = SimpleNamespace(
        graph=lenet_like_graph(), training={"epochs": 1}, runs=[saved], weights_path=None
    )
    window.projectReplaced.emit()
    assert d.run is not None and points(d.loss_plot.smoothed) == 30
    assert "finished" in d.status_label.text()
    d.start()
    try:
        d.wait(10)
    finally:
        d.shutdown()
    assert d.loss_plot.previous.isVisible() and points(d.loss_plot.previous) == 30
    assert len(window.project.runs) == 2


def test_selection_drives_histograms_and_feature_maps(window, qtbot):
    d = make_dashboard(window)
    window.show()
    d.views.setCurrentWidget(d.histograms)
    window.selectionChangedTo.emit("n2")  # conv1: parameters and an image-shaped output
    d.start()
    try:
        d.wait(10)
    finally:
        d.shutdown()
    assert d.histograms.layer == "conv1"
    assert len(d.histograms.grad_curve.yData) == 32
    assert len(d.features.maps) == 6 and "conv1" in d.features.caption
    window.selectionChangedTo.emit("n5")  # fc1: histograms follow, no feature maps
    assert d.histograms.layer == "fc1"
    assert d.features.maps == [] and "Select" in d.features.hint


def test_run_record_roundtrip_keeps_json_small_and_finite():
    import json

    run = RunCurves()
    for s in range(1, 5001):
        run.add_step(s, 1.0 / s if s != 77 else float("nan"))
    run.add_grad_norms(10, {"conv1": 0.5})
    d = run.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert len(d["loss"]["step"]) == 400 and len(text) < 40_000
    back = RunCurves.from_dict(json.loads(text))
    assert back.loss.x[-1] == 5000 and back.grad_norms["conv1"].y[0] == 0.5
    with pytest.raises(ValueError, match="damaged"):
        RunCurves.from_dict({"loss": {"step": [1, 2], "value": [1.0]}})


def fake_download(steps=50, delay=0.01):
    """download_mnist's signature and behaviour: progress per chunk, cancel -> DownloadCancelled."""
    from pathlib import Path

    from netbuilder.data.errors import DownloadCancelled

    def download(progress=None, cancel=None):
        for i in range(steps):
            if cancel.is_set():
                raise DownloadCancelled("/cache/mnist", "download cancelled")
            progress((i + 1) * 1000, steps * 1000, "train-images-idx3-ubyte.gz")
            time.sleep(delay)
        return Path("/cache/mnist")

    return download


def test_download_mnist_shows_progress_and_selects_it(window, qtbot):
    d = make_dashboard(window)
    chooser = d.form.dataset
    chooser.start_download(fake_download())
    assert not chooser.progress.isHidden() and not chooser.download_button.isEnabled()
    qtbot.waitUntil(lambda: chooser.progress.value() > 0, timeout=3000)
    assert "train-images" in chooser.progress.format()
    qtbot.waitUntil(lambda: not chooser.downloading and chooser.progress.isHidden(), timeout=5000)
    assert chooser.value() == "mnist" and "ready" in chooser.status.text()
    assert window.project.training["dataset"] == "mnist"


def test_download_mnist_can_be_cancelled(window, qtbot):
    d = make_dashboard(window)
    chooser = d.form.dataset
    chooser.start_download(fake_download(steps=1000))
    qtbot.waitUntil(lambda: chooser.progress.value() > 0, timeout=3000)
    qtbot.mouseClick(chooser.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: chooser.progress.isHidden(), timeout=3000)
    assert "cancelled" in chooser.status.text()
    assert chooser.value() == "sample" and chooser.download_button.isEnabled()


def test_a_killed_training_process_is_reported_and_the_app_goes_on(window, qtbot):
    d = make_dashboard(window, steps_per_epoch=10_000, step_s=0.005)
    d.start()
    try:
        wait_until(qtbot, lambda: d.step > 2)
        d.worker._process.kill()
        wait_until(qtbot, lambda: not d.running)
    finally:
        d.shutdown()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=2000)
    assert "killed by signal 9" in window.errors[-1][1]
    assert d.run.status == "failed" and window.locked[-1][0] is False
    assert window.project.runs[-1]["status"] == "failed"  # the curves so far are kept


def test_dashboard_follows_a_palette_change(window, qtbot):
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    d = make_dashboard(window)
    before = d.loss_plot.backgroundBrush().color().name()
    old = QApplication.palette()
    dark = QPalette(old)
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1f22"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    try:
        QApplication.setPalette(dark)
        qtbot.waitUntil(lambda: d.theme.dark, timeout=2000)
        assert d.loss_plot.backgroundBrush().color().name() == "#1e1f22" != before
        assert d.confusion.theme.dark
    finally:
        QApplication.setPalette(old)


def test_bad_values_in_a_project_file_are_named_not_a_traceback(window):
    d = make_dashboard(window)
    window.project = SimpleNamespace(
        graph=lenet_like_graph(),
        training={"lr": "fast", "epochs": 2.5, "nesterov": "yes", "batch_size": 32},
        runs=[],
        weights_path=None,
    )
    window.projectReplaced.emit()
    assert d.form.lr.value() == TrainSettings().lr and d.form.batch_size.value() == 32
    text = d.message_label.text()
    assert not d.message_label.isHidden()
    assert "lr='fast'" in text and "epochs=2.5" in text and "nesterov='yes'" in text
