"""The editor window's parts: runs kept beside the project, templates opened by path, what the
close question names, the clipboard and problems parts."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from test_ui_editor import boxes, make_window  # noqa: F401  (fixtures)

from netbuilder.graph import commands as cmds
from netbuilder.graph.project import ProjectError, load_project
from netbuilder.graph.runs_file import load_runs, runs_path, save_runs
from netbuilder.ui.canvas.items import NODE_WIDTH
from netbuilder.ui.training.host import DashboardHost

REPO = Path(__file__).resolve().parent.parent
A_RUN = {"format": 1, "started": "2026-01-01 10:00:00", "status": "finished", "loss": {}}


def test_main_window_is_a_dashboard_host(make_window):
    assert isinstance(make_window(None), DashboardHost)


def test_runs_live_beside_the_project_and_a_run_does_not_modify_it(make_window, tmp_path):
    w = make_window("lenet")
    target = tmp_path / "net.nbproj"
    assert w.files.save_to(target)
    w.project.runs = [dict(A_RUN, loss={"step": list(range(400)), "value": [1.0] * 400})]
    w.runs_changed()
    assert not w.is_dirty and not w.windowTitle().endswith("*")
    assert runs_path(target).is_file() and load_runs(target)[0]["started"] == A_RUN["started"]
    assert load_project(target).runs == []  # the project file holds no curves
    w.runner.push(cmds.SetParams(w.graph.node_by_name("fc1").id, {"out_features": 100}))
    assert w.files.save_to(target)
    assert target.stat().st_size < 8000
    w2 = make_window(None)
    assert w2.open_path(target)
    assert len(w2.project.runs) == 1 and not w2.is_dirty


def test_an_unsaved_template_after_a_run_does_not_ask_to_be_saved(make_window, boxes):
    w = make_window("lenet")
    w.project.runs = [A_RUN]
    w.runs_changed()
    assert not w.is_dirty
    w.close()
    assert not [b for b in boxes if b[0] == "warning"]


def test_close_question_says_what_would_be_lost(make_window, boxes):
    w = make_window("lenet")
    w.project.runs = [A_RUN, A_RUN]
    w.runs_changed()
    w.runner.push(cmds.SetParams(w.graph.node_by_name("fc1").id, {"out_features": 100}))
    w.close()
    kind, _title, text = boxes[-1]
    assert kind == "warning"
    assert "1 edit to the network" in text and "2 training runs" in text


def test_a_damaged_runs_file_is_named_and_the_network_still_opens(make_window, tmp_path):
    w = make_window("lenet")
    target = tmp_path / "net.nbproj"
    assert w.files.save_to(target)
    runs_path(target).write_text("{not json")
    with pytest.raises(ProjectError, match="net.runs.json"):
        load_runs(target)
    assert w.open_path(target) and "runs.json" in w.statusBar().currentMessage()


def test_save_runs_refuses_to_replace_a_folder(tmp_path):
    runs_path(tmp_path / "x.nbproj").mkdir()
    with pytest.raises(ProjectError, match="not a regular file"):
        save_runs(tmp_path / "x.nbproj", [A_RUN])


def test_template_opened_by_path_is_readable_and_stays_a_template(make_window, monkeypatch):
    w = make_window(None)
    assert w.open_path(REPO / "resources" / "templates" / "lenet.json")
    assert w.path is None and w.project_name() == "lenet"  # Save asks for a new file
    xs = [n.pos[0] for n in w.graph.nodes.values()]
    ys = [n.pos[1] for n in w.graph.nodes.values()]
    assert len(set(ys)) > 1  # wrapped into rows, not one long line
    width = max(xs) - min(xs) + NODE_WIDTH
    assert w.canvas.viewport().width() / width > 0.5  # blocks readable when fitted


def test_a_file_stored_as_one_long_row_is_laid_out(make_window, tmp_path):
    data = json.loads((REPO / "resources" / "templates" / "resnet.json").read_text())
    for i, n in enumerate(data["graph"]["nodes"]):
        n["pos"] = [i * 260, 0]
    target = tmp_path / "long.nbproj"
    target.write_text(json.dumps(data))
    w = make_window(None)
    assert w.open_path(target)
    assert len({n.pos[1] for n in w.graph.nodes.values()}) > 1
    assert "laid out" in w.statusBar().currentMessage()


def test_clipboard_part_copies_and_pastes(make_window, monkeypatch):
    w = make_window("lenet")
    fc1 = w.graph.node_by_name("fc1").id
    w.scene.select_nodes([fc1])
    before = len(w.graph.nodes)
    assert w.clipboard.copy()
    w.clipboard.paste()
    assert len(w.graph.nodes) == before + 1


def test_problems_panel_names_each_block_once(make_window):
    w = make_window("lenet")
    conv2 = w.graph.node_by_name("conv2").id
    w.runner.push(cmds.SetParams(conv2, {"kernel_size": 40}))
    rows = w.problems.rows()
    assert rows and rows[0][0] == conv2
    assert not rows[0][1].startswith("conv2: conv2")
    assert w.problems_dock.windowTitle().startswith("Problems (")


def test_save_dialog_adds_the_suffix(make_window, monkeypatch, tmp_path):
    w = make_window("mlp")
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "plain"), "")
    )
    assert w.save_as() and (tmp_path / "plain.nbproj").is_file()


def test_status_bar_and_block_read_unknown_counts_as_unknown(make_window):
    w = make_window("lenet")
    conv2 = w.graph.node_by_name("conv2").id
    w.runner.push(cmds.SetParams(conv2, {"kernel_size": 40}))
    assert w.params_label.text() == "? parameters" and "fc1" in w.params_label.toolTip()
    item = w.scene.node_items[w.graph.node_by_name("fc1").id]
    assert "unknown" in item.toolTip()


def test_resizing_the_window_refits_a_network_that_was_all_in_view(make_window, qtbot):
    w = make_window("lenet")
    w.resize(1000, 620)
    qtbot.wait(50)
    w.canvas.fit()
    before = w.canvas.zoom()
    assert before < 1.0  # room to grow: fit caps the zoom at 1.25
    w.resize(1600, 1000)
    qtbot.waitUntil(lambda: w.canvas.zoom() > before * 1.05, timeout=3000)
    visible = w.canvas.visible_scene_rect()
    assert visible.contains(w.scene.nodes_rect())


def test_a_layout_saved_for_another_screen_is_not_restored(make_window, tmp_path):
    w = make_window("lenet")
    w.resize(700, 500)
    w.close()
    w.settings.setValue("windowScreen", "1280x800")  # as if saved on a laptop
    w.settings.sync()
    again = make_window(None)
    assert not again._restored_state
    from netbuilder.ui.mainwindow import _screen_key

    again.settings.setValue("windowScreen", _screen_key())  # the screen it was saved on
    assert again._layout_fits_screen()
