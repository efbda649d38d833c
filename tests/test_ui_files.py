"""Editor files: save/open/recent, close prompt, autosave and crash recovery, export, app main."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_ui_editor import boxes, key, make_window, node  # noqa: F401  (fixtures)

from netbuilder.graph import commands as cmds
from netbuilder.graph.project import load_project, save_project

REPO = Path(__file__).resolve().parent.parent


def _save_dialog_returns(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def test_save_close_reopen_gives_the_same_graph(qtbot, make_window, monkeypatch, tmp_path):
    w = make_window("resnet")
    w.runner.push(cmds.SetParams(node(w, "conv4").id, {"out_channels": 24}))
    assert w.windowTitle() == "resnet[*]" and w.isWindowModified()
    target = tmp_path / "mine.nbproj"
    _save_dialog_returns(monkeypatch, target)
    key(qtbot, w, Qt.Key_S, Qt.ControlModifier)
    assert target.is_file()
    assert w.windowTitle() == "mine[*]" and not w.isWindowModified()
    saved = w.graph.to_dict()
    assert w.recent_files()[0] == str(target.resolve())
    assert w.close()

    w2 = make_window(None)
    assert w2.open_path(target)
    assert w2.graph.to_dict() == saved
    assert node(w2, "conv4").out_shape[0] == 24
    assert not w2.is_dirty and w2.windowTitle() == "mine[*]"
    w2.recent_menu.aboutToShow.emit()
    entries = [a for a in w2.recent_menu.actions() if a.data()]
    assert [a.data() for a in entries] == [str(target.resolve())]
    assert entries[0].text().startswith(f"&1 {target.name}  —  ")  # name first, then folder
    assert entries[0].toolTip() == str(target.resolve()) and entries[0].isEnabled()
    # Ctrl+S on an opened file writes it again without asking
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: pytest.fail("asked"))
    w2.runner.push(cmds.Rename(node(w2, "fc1").id, "classifier"))
    key(qtbot, w2, Qt.Key_S, Qt.ControlModifier)
    assert load_project(target).graph.node_by_name("classifier") is not None


def test_ctrl_o_opens_a_project_and_announces_it(qtbot, make_window, monkeypatch, tmp_path):
    target = tmp_path / "mlp.nbproj"
    save_project(load_project(REPO / "resources" / "templates" / "mlp.json"), target)
    w = make_window("lenet")
    replaced = []
    w.projectReplaced.connect(lambda: replaced.append(w.graph))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    key(qtbot, w, Qt.Key_O, Qt.ControlModifier)
    assert replaced == [w.graph] and w.path == target
    assert w.windowTitle() == "mlp[*]" and w.windowFilePath() == str(target.resolve())
    assert not w.runner.stack.canUndo()  # a new document starts a new history
    assert set(w.scene.node_items) == set(w.graph.nodes)


def test_open_a_file_whose_blocks_all_sit_at_the_origin_lays_them_out(make_window, tmp_path):
    import json

    from netbuilder.ui.project_files import blocks_overlap

    data = json.loads((REPO / "resources" / "templates" / "mlp.json").read_text())
    for n in data["graph"]["nodes"]:
        n["pos"] = [0, 0]
    target = tmp_path / "hand_written.nbproj"
    target.write_text(json.dumps(data))
    w = make_window("lenet")
    assert w.open_path(target)
    assert not blocks_overlap(w.graph)
    assert "laid out" in w.statusBar().currentMessage()
    assert not w.is_dirty and not w.runner.stack.canUndo()
    assert not blocks_overlap(load_project(REPO / "resources" / "templates" / "lenet.json").graph)


def test_open_bad_file_shows_message_not_traceback(make_window, boxes, tmp_path):  # noqa: F811
    w = make_window("lenet")
    bad = tmp_path / "broken.nbproj"
    bad.write_text('{"format": "netbuilder-project", "version": 1, "graph": {"nodes": [')
    before = w.graph.to_dict()
    assert not w.open_path(bad)
    kind, title, text = boxes[-1]
    assert kind == "critical" and "broken.nbproj" in text and "truncated" in text
    assert w.graph.to_dict() == before


def test_new_from_template_and_new_blank(qtbot, make_window, boxes):  # noqa: F811
    w = make_window("lenet")
    replaced = []
    w.projectReplaced.connect(lambda: replaced.append(w.project))
    labels = [a.text() for a in w.template_menu.actions()]
    assert labels[0].startswith("LeNet") and len(labels) >= 4
    resnet = next(a for a in w.template_menu.actions() if "residual" in a.text())
    resnet.trigger()
    assert w.graph.node_by_name("add1") is not None and len(replaced) == 1
    w.runner.push(cmds.AddNode("ReLU", (0, 500)))
    w.act_new.trigger()  # unsaved: asks (the fake box says Discard)
    assert boxes[-1][0] == "warning"
    assert not w.graph.nodes and len(replaced) == 2
    assert w.windowTitle() == "Untitled[*]" and not w.isWindowModified()


def test_close_prompt_on_unsaved_work(qtbot, make_window, monkeypatch, tmp_path):
    w = make_window("lenet")
    assert w.close()  # nothing to save: no question
    w = make_window("lenet")
    w.runner.push(cmds.AddNode("ReLU", (0, 500)))
    asked = []

    def answer(value):
        def box(parent, title, text, *a, **k):
            asked.append(text)
            return value

        return box

    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.Cancel))
    assert not w.close()
    assert w.isVisible() and "not saved" in asked[-1]
    target = tmp_path / "kept.nbproj"
    _save_dialog_returns(monkeypatch, target)
    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.Save))
    assert w.close()
    assert load_project(target).graph.node_by_name("relu5") is not None


def test_autosave_while_dirty_and_cleanup_on_close(qtbot, make_window):
    w = make_window("lenet", autosave_seconds=0.05)
    assert not w.recovery.project_file.exists()  # clean: nothing written
    w.runner.push(cmds.AddNode("ReLU", (0, 500)))
    qtbot.waitUntil(w.recovery.project_file.exists, timeout=3000)
    assert load_project(w.recovery.project_file).graph.node_by_name("relu5") is not None
    w.runner.stack.setClean()
    assert w.close()
    assert not w.recovery.project_file.exists()


CRASHING_EDITOR = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings
    from netbuilder.graph import commands as cmds
    from netbuilder.ui.app import make_app
    from netbuilder.ui.mainwindow import MainWindow
    app = make_app()
    w = MainWindow(settings=QSettings(sys.argv[1], QSettings.IniFormat),
                   recovery_dir=sys.argv[2], install_training=False)
    w.load_template("lenet")
    w.runner.push(cmds.AddNode("Dropout", (100, 600)))
    w.runner.push(cmds.Rename(w.graph.node_by_name("fc3").id, "logits"))
    w.autosave()
    os._exit(1)  # a crash: no close, no cleanup
    """
)


def test_recovery_after_a_crash(make_window, boxes, tmp_path):  # noqa: F811
    recovery = tmp_path / "recovery"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_EDITOR, str(tmp_path / "crashed.ini"), str(recovery)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert list(recovery.glob("autosave-*.nbproj"))

    w = make_window("lenet")
    assert w.offer_recovery()
    assert boxes[-1][0] == "question" and "Recover" in boxes[-1][1]
    assert w.graph.node_by_name("logits") is not None
    assert any(n.type == "Dropout" for n in w.graph.nodes.values())
    assert w.is_dirty and w.isWindowModified()
    # the orphan is gone; this window's own autosave replaces it
    assert not [p for p in recovery.glob("autosave-*.nbproj") if p != w.recovery.project_file]
    assert not w.offer_recovery()


def _import_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_action_writes_a_script_that_imports(
    qtbot,
    make_window,
    boxes,
    monkeypatch,  # noqa: F811
    tmp_path,
):
    from safetensors.numpy import save_file

    from netbuilder.compile import compile_graph
    from netbuilder.ui.export_dialog import ExportDialog

    w = make_window("lenet")
    model = compile_graph(w.graph)
    weights = {k: v._data for k, v in model.state_dict().items()}
    save_file(
        {k: np.ascontiguousarray(v) for k, v in weights.items()},
        str(tmp_path / "trained.safetensors"),
    )
    w.project.weights_path = str(tmp_path / "trained.safetensors")
    dialogs = []

    def run_dialog(dialog):
        dialogs.append(dialog)
        dialog.path.setText(str(tmp_path / "out" / "lenet_engine.py"))
        dialog.target.setCurrentIndex(dialog.target.findData("engine"))
        assert dialog.weights.isEnabled() and dialog.weights.isChecked()
        dialog.export_button.click()
        return 1

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(ExportDialog, "exec", run_dialog)
    key(qtbot, w, Qt.Key_E, Qt.ControlModifier)
    assert dialogs, "Ctrl+E opened no export dialog"
    script = tmp_path / "out" / "lenet_engine.py"
    assert script.is_file() and script.with_suffix(".safetensors").is_file()
    kind, title, text = boxes[-1]
    assert kind == "information" and str(script) in text and "safetensors" in text
    module = _import_script(script)
    import engine

    net = module.Net()
    assert sorted(net.state_dict()) == sorted(weights)
    out = net(engine.zeros(2, 1, 32, 32))
    assert tuple(out.shape) == (2, 10)


def test_export_refused_for_invalid_graph(make_window, boxes):  # noqa: F811
    w = make_window("lenet")
    w.runner.push(cmds.AddNode("ReLU", (0, 600)))
    w.act_export.trigger()
    kind, title, text = boxes[-1]
    assert kind == "critical" and "problem" in text


APP_MAIN = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox
    from netbuilder.ui import app as app_module
    from netbuilder.ui.mainwindow import MainWindow

    def box(parent, title, text, *a, **k):
        print("BOX", title, "|", text.replace("\\n", " "), flush=True)
        return QMessageBox.Ok

    QMessageBox.critical = box

    def inspect_and_quit():
        wins = [w for w in QApplication.topLevelWidgets()
                if isinstance(w, MainWindow) and w.isVisible()]
        if not wins:  # main() has not shown its window yet
            QTimer.singleShot(100, inspect_and_quit)
            return
        for w in wins:
            print("WINDOW", w.windowTitle(), len(w.graph.nodes), w.graph.total_params,
                  w.focusWidget() is w.canvas, flush=True)
            w.close()
        QTimer.singleShot(0, QApplication.instance().quit)  # delivered inside app.exec()

    app_module.make_app()  # main() takes over this QApplication
    QTimer.singleShot(500, inspect_and_quit)
    sys.exit(app_module.main(["netbuilder", *sys.argv[1:]]))
    """
)


def test_app_main_opens_lenet_and_reports_bad_file(tmp_path):
    """`netbuilder [FILE]` in its own process (app.exec and quit would disturb other tests)."""
    bad = tmp_path / "nope.nbproj"
    bad.write_text("not json")
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )

    def run(*args):
        proc = subprocess.run(
            [sys.executable, "-c", APP_MAIN, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [line for line in proc.stdout.splitlines() if line.startswith(("BOX", "WINDOW"))]

    lines = run(str(bad))
    assert lines[0].startswith("BOX Cannot open project |") and "nope.nbproj" in lines[0]
    assert lines[1] == "WINDOW lenet[*] 13 61706 True"
    good = tmp_path / "mine.nbproj"
    save_project(load_project(REPO / "resources" / "templates" / "mlp.json"), good)
    assert run(str(good))[0].startswith("WINDOW mine[*] ")
