"""The Training dock in the real editor window: short until a run, grown when one starts, its
size remembered; plots that say what will appear instead of bare axes; colours that follow a
light/dark switch; every dock reachable from the View menu."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDockWidget
from test_ui_editor import boxes  # noqa: F401
from test_ui_training_scripted import ScriptedFactory

from netbuilder.ui import theme
from netbuilder.ui.mainwindow import MainWindow
from netbuilder.ui.training import install
from netbuilder.ui.training.panel import RUN_DOCK_H


@pytest.fixture(autouse=True)
def _answer_boxes(boxes):
    """Closing after a run would ask about unsaved changes: answered at once."""
    return boxes


def _settle():
    for _ in range(4):
        QApplication.processEvents()


def _editor(qtbot, tmp_path, settings_name="settings.ini"):
    settings = QSettings(str(tmp_path / settings_name), QSettings.IniFormat)
    w = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery", install_training=False)
    install(w, trainer_factory=ScriptedFactory(steps_per_epoch=20, step_s=0.002))
    w.restore_dock_state()
    qtbot.addWidget(w)
    w.resize(1440, 900)
    w.load_template("lenet")
    w.show()
    qtbot.waitExposed(w)
    _settle()
    return w


def test_the_dock_is_short_before_a_run_and_grows_when_training_starts(qtbot, tmp_path):
    w = _editor(qtbot, tmp_path)
    d = w.training
    qtbot.waitUntil(lambda: d._watch_height)
    assert not d.expanded and d.plots_area.isHidden()
    assert d.plots_dock.height() < 130  # the controls row and a hint
    assert w.canvas.height() > 600  # the canvas gets the room
    assert "Press Train (F5)" in d.status_label.text()
    d.train_action.trigger()
    _settle()
    assert d.expanded and d.plots_area.isVisible()
    assert d.plots_dock.height() >= RUN_DOCK_H - 10
    view = w.canvas.visible_scene_rect()  # the network stays in view in the shorter canvas
    assert all(view.contains(i.sceneBoundingRect()) for i in w.scene.node_items.values())
    assert d.wait(30)


def test_empty_plots_say_what_will_appear_until_the_first_step(qtbot, tmp_path):
    w = _editor(qtbot, tmp_path)
    d = w.training
    d.set_expanded(True)
    _settle()
    loss, acc = d.loss_plot, d.accuracy_plot
    assert loss.hint.isVisible() and "Press Train (F5)" in loss.hint_text
    assert not loss.getPlotItem().getAxis("left").isVisible()  # no bare 0..1 axes
    assert not acc.legend.isVisible() and acc.legend.getLabel(acc.current) is None
    assert d.histograms.grad_plot.getPlotItem().titleLabel.text.startswith(
        "Gradients: select a block on the canvas"
    )
    d.train_action.trigger()
    qtbot.waitUntil(lambda: d.step > 0 and not loss.empty, timeout=20000)
    assert not loss.hint.isVisible() and loss.hint_text == ""
    assert loss.getPlotItem().getAxis("left").isVisible() and loss.legend.isVisible()
    assert d.wait(30)
    assert not acc.empty and not d.grad_plot.empty  # an epoch ended, gradients were measured


def test_dragging_the_collapsed_dock_taller_shows_the_plots(qtbot, tmp_path):
    w = _editor(qtbot, tmp_path)
    d = w.training
    qtbot.waitUntil(lambda: d._watch_height)
    w.resizeDocks([d.plots_dock], [320], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: d.expanded, timeout=2000)
    qtbot.waitUntil(lambda: d.plots_ready, timeout=5000)
    d.plots_toggle.click()  # and the toggle folds them away again
    _settle()
    assert not d.expanded and d.plots_dock.height() < 130


def test_dock_sizes_are_remembered_between_sessions(qtbot, tmp_path):
    w = _editor(qtbot, tmp_path)
    d = w.training
    d.set_expanded(True)
    w.resizeDocks([d.plots_dock], [360], Qt.Orientation.Vertical)
    _settle()
    kept = d.plots_dock.height()
    w.runner.stack.setClean()
    w._extra_dirty = False
    w.close()
    again = _editor(qtbot, tmp_path)
    qtbot.waitUntil(lambda: again.training._watch_height)
    _settle()
    assert abs(again.training.plots_dock.height() - kept) <= 4
    assert again.training.expanded  # a dock the person left tall opens with its plots


def test_a_theme_switch_recolours_the_curves(qtbot, tmp_path):
    app = QApplication.instance()
    w = _editor(qtbot, tmp_path)
    d = w.training
    d.ensure_plots()
    try:
        theme.apply(app, dark=False)
        _settle()
        light = d.loss_plot.smoothed.opts["pen"].color().name()
        light_text = d.loss_plot.hint.styleSheet()
        theme.apply(app, dark=True)
        _settle()
        assert d.theme.dark
        assert d.loss_plot.smoothed.opts["pen"].color().name() == d.theme.loss.name() != light
        assert d.loss_plot.hint.styleSheet() != light_text
        assert d.accuracy_plot.current.opts["symbolBrush"].color() == d.theme.accuracy
    finally:
        theme.apply(app, dark=False)


def test_the_view_menu_re_shows_every_dock(qtbot, tmp_path):
    w = _editor(qtbot, tmp_path)
    toggles = set(w.view_menu.actions())
    for dock in w.findChildren(QDockWidget):
        assert dock.toggleViewAction() in toggles, dock.windowTitle()
        assert dock.features() & QDockWidget.DockWidgetClosable
        dock.close()
        dock.toggleViewAction().trigger()
        assert dock.isVisible()
