"""The Runs table: overlay any runs, compare two runs' settings, rename, delete; 50 overlaid."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QMessageBox
from test_ui_training import FakeWindow, make_dashboard  # noqa: I001 - beside this file

from netbuilder.ui.training.demo import SyntheticRun
from netbuilder.ui.training.runs_table import settings_diff, settings_summary


def _runs(n):
    out = []
    for i in range(n):
        feed = SyntheticRun(steps_per_epoch=50, epochs=2, seed=i)
        feed.run.settings = {
            "optimizer": "sgd",
            "lr": 0.01 * (i + 1),
            "batch_size": 64,
            "epochs": 2,
        }
        feed.run.name = f"run {i + 1}"
        feed.run.seconds = 65 + i
        feed.run.status = "finished"
        feed.advance(100)
        out.append(feed.run.to_dict())
    return out


@pytest.fixture
def window(qtbot):
    w = FakeWindow()
    qtbot.addWidget(w)
    w.resize(1300, 850)
    yield w
    if getattr(w, "training", None) is not None:
        w.training.shutdown()


def test_table_lists_runs_with_summary_accuracy_and_duration(window):
    window.project.runs = _runs(3)
    d = make_dashboard(window)
    table = d.board.runs_table
    assert table.table.rowCount() == 3
    cells = [table.table.item(0, c).text() for c in range(6)]
    assert cells[0] == "run 1" and "sgd lr 0.01" in cells[2] and "batch 64" in cells[2]
    assert cells[3].endswith("%") and cells[4].endswith("%") and cells[5] == "1:05"


def test_ticking_runs_overlays_them_and_renaming_keeps_it(window):
    window.project.runs = _runs(3)
    d = make_dashboard(window)
    table = d.board.runs_table
    table.set_checked([0, 2])
    assert len(d.loss_plot.overlays.curves) == 2 and len(d.accuracy_plot.overlays.curves) == 2
    table.table.item(0, 0).setText("baseline")
    assert window.project.runs[0]["name"] == "baseline" and window.runs_recorded >= 1
    assert d.loss_plot.legend.getLabel(d.loss_plot.overlays.curves[0]).text == "baseline"
    assert window.dirty == 0  # renaming a run does not modify the network


def test_compare_two_runs_shows_only_what_differs(window, qtbot):
    window.project.runs = _runs(2)
    d = make_dashboard(window)
    table = d.board.runs_table
    table.table.selectRow(0)
    table.table.setSelectionMode(table.table.SelectionMode.MultiSelection)
    table.table.selectRow(1)
    assert table.compare.isEnabled()
    assert table.diff_rows() == [("lr", "0.01", "0.02")]
    dialog = table.show_diff()
    qtbot.addWidget(dialog)
    assert dialog.findChild(type(table.table)).rowCount() == 1
    assert settings_diff({"a": 1}, {"b": 2}) == [("a", "1", "—"), ("b", "—", "2")]
    assert settings_summary({"optimizer": "adam", "lr": 0.001, "epochs": 1}) == (
        "adam lr 0.001 · 1 epoch"
    )


def test_delete_asks_then_removes_the_run(window, monkeypatch):
    window.project.runs = _runs(3)
    d = make_dashboard(window)
    table = d.board.runs_table
    table.set_checked([2])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    table.table.selectRow(1)
    table.delete.click()
    assert [r["name"] for r in window.project.runs] == ["run 1", "run 3"]
    assert table.table.rowCount() == 2 and table.checked() == [1]
    assert len(d.loss_plot.overlays.curves) == 1


def test_fifty_runs_overlay_quickly(window, qtbot):
    window.project.runs = _runs(50)
    d = make_dashboard(window)
    d.set_expanded(True)
    window.show()
    t = time.perf_counter()
    d.board.runs_table.set_checked(range(50))
    qtbot.wait(10)
    assert len(d.loss_plot.overlays.curves) == 50
    assert d.loss_plot.legend.getLabel(d.loss_plot.overlays.curves[0]) is None  # no 50-row legend
    d.loss_plot.readout.show_at(50.0)
    assert d.loss_plot.readout.lines[-1].startswith("…")
    assert time.perf_counter() - t < 30  # generous: the figure is in benchmarks/
