"""The training dashboard with the real Trainer, engine and LeNet on a few sample images."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_ui_training import FakeWindow, points  # noqa: I001 - the shared window double

import engine
from netbuilder.compile import compile_graph
from netbuilder.data import load_dataset
from netbuilder.graph.templates import load_template
from netbuilder.ui.training import install


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """64 training and 32 test images of the bundled sample (2 steps an epoch at batch 32),
    as a .npz the training process loads like any data set the user picks."""
    s = load_dataset("sample")
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(
        path,
        x_train=s.x_train[:64],
        y_train=s.y_train[:64],
        x_test=s.x_test[:32],
        y_test=s.y_test[:32],
    )
    return path


@pytest.fixture
def window(qtbot):
    w = FakeWindow()
    w.project = load_template("lenet")
    w.project.training.update(batch_size=32, epochs=2, grad_every=1)
    qtbot.addWidget(w)
    yield w
    if getattr(w, "training", None) is not None:
        w.training.shutdown()


def dashboard(window, data):
    window.project.training["dataset"] = str(data)
    return install(window)


def node_id(window, name):
    return next(nid for nid, n in window.graph.nodes.items() if n.name == name)


def test_lenet_run_from_f5_fills_every_view(window, tiny, qtbot):
    d = dashboard(window, tiny)
    window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    try:
        assert d.running
        assert d.wait(60)
    finally:
        d.shutdown()
    assert d.run.status == "finished", d.message
    assert points(d.loss_plot.raw) == 4
    assert list(d.grad_plot.curves) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert all(points(c) == 4 for c in d.grad_plot.curves.values())
    assert set(window.canvas.overlays) == {
        node_id(window, n) for n in ("conv1", "conv2", "fc1", "fc2", "fc3")
    }
    assert points(d.accuracy_plot.current) == 2
    assert d.confusion.matrix.sum() == 32
    assert len(d.samples.images) == 16
    window.selectionChangedTo.emit(node_id(window, "conv1"))
    assert len(d.features.maps) == 6
    assert d.features.maps[0].width() == 28


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_learning_rate_fails_with_a_message_and_the_app_goes_on(window, tiny, qtbot):
    window.project.training.update(lr=1e6, momentum=0.0, epochs=3)
    d = dashboard(window, tiny)
    d.start()
    try:
        assert d.wait(60)
    finally:
        d.shutdown()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=3000)
    title, message = window.errors[-1]
    assert "learning rate" in message and ("NaN" in message or "infinite" in message)
    assert d.run.status == "failed" and not d.message_label.isHidden()
    assert window.locked[-1][0] is False and d.train_action.isEnabled()
    d.form.lr.setValue(0.01)
    d.form.epochs.setValue(1)
    assert d.start()
    try:
        assert d.wait(60)
    finally:
        d.shutdown()
    assert d.run.status == "finished" and np.isfinite(d.run.loss.y).all()


def test_saved_weights_load_back_with_the_same_outputs(window, tiny, tmp_path):
    window.project.training.update(epochs=1)
    d = dashboard(window, tiny)
    d.start()
    try:
        assert d.wait(60)
    finally:
        d.shutdown()
    path = d.save_weights(tmp_path / "lenet.safetensors")
    assert path.exists() and window.project.weights_path == str(path)
    fresh = compile_graph(window.graph)
    fresh.load_state_dict(engine.load(str(path)))
    fresh.eval()
    trained = d.result.model  # the weights the training process sent back
    x = engine.from_numpy(
        np.random.default_rng(0).standard_normal((3, 1, 32, 32)).astype(np.float32)
    )
    with engine.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), trained(x).numpy())

    script = d.export_with_weights(tmp_path / "lenet_export.py")
    assert script.exists() and script.with_suffix(".safetensors").exists()
    assert "class" in script.read_text()


def test_the_editor_window_installs_the_dashboard_and_locks_while_training(
    qtbot, tmp_path, tiny, monkeypatch
):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from netbuilder.graph import commands as cmds
    from netbuilder.ui.mainwindow import MainWindow

    boxes = []
    for kind in ("critical", "warning", "question", "information"):
        answer = QMessageBox.Discard if kind == "warning" else QMessageBox.Yes
        monkeypatch.setattr(
            QMessageBox, kind, lambda *a, k=kind, r=answer, **kw: boxes.append(k) or r
        )
    w = MainWindow(
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
        recovery_dir=tmp_path / "recovery",
    )
    qtbot.addWidget(w)
    w.load_template("lenet")
    d = w.training
    d.form.dataset.set_value(str(tiny))
    d.form.batch_size.setValue(32)
    d.form.grad_every.setValue(1)
    assert w.project.training["dataset"] == str(tiny) and w.is_dirty
    w.resize(1440, 900)
    w.show()
    with qtbot.waitActive(w):
        w.activateWindow()
    assert "Train" in [a.text().replace("&", "") for a in w.train_menu.actions()]
    qtbot.keyClick(w, Qt.Key.Key_F5)
    try:
        assert d.running and w.runner.locked_reason
        count = len(w.graph.nodes)
        assert not w.runner.push(cmds.AddNode("ReLU", (0, 0)))
        assert len(w.graph.nodes) == count
        assert d.wait(60)
    finally:
        d.shutdown()
    assert d.run.status == "finished", d.message
    assert not w.runner.locked_reason
    conv1 = w.scene.node_items[node_id(w, "conv1")]
    assert conv1.overlay_color is not None and "gradient" in conv1.overlay_tooltip
    assert w.project.runs and w.project.runs[-1]["status"] == "finished"

    # saved and opened again, the project shows the run's curves and settings
    from netbuilder.graph.project import save_project

    path = tmp_path / "trained.json"
    save_project(w.project, path)
    w.load_template("mlp")
    assert d.run is None and points(d.loss_plot.smoothed) == 0
    assert w.open_path(path)
    assert d.run is not None and d.run.status == "finished"
    assert points(d.loss_plot.smoothed) == 2 and list(d.grad_plot.curves)[0] == "conv1"
    assert d.form.dataset.value() == str(tiny) and d.form.batch_size.value() == 32


def test_a_data_error_stops_the_run_with_its_message(window, tmp_path, qtbot):
    d = dashboard(window, tmp_path / "missing.npz")
    d.start()
    try:
        assert d.wait(60)
    finally:
        d.shutdown()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=3000)
    assert "missing.npz" in window.errors[-1][1] and "no such file" in window.errors[-1][1]
    assert d.run.status == "failed" and d.train_action.isEnabled()


def test_a_validation_split_adds_validation_curves(window, tiny):
    window.project.training.update(val_split=0.25)
    d = dashboard(window, tiny)
    d.start()
    try:
        assert d.wait(60)
    finally:
        d.shutdown()
    assert d.run.status == "finished", d.message
    assert points(d.loss_plot.val) == 2 and points(d.accuracy_plot.val) == 2
    assert d.loss_plot.legend.getLabel(d.loss_plot.val) is not None
    saved = window.project.runs[-1]["epochs"][-1]
    assert saved["val_loss"] is not None and 0 <= saved["val_accuracy"] <= 1
