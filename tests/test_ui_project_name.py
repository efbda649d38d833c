"""The project's names in the editor: the window title (Qt's "name[*]" with the modified mark),
the network's own name edited in the inspector, and templates opened by name."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QFileDialog
from test_ui_editor import boxes, make_window, node  # noqa: F401  (fixtures)

from netbuilder.graph import commands as cmds
from netbuilder.graph.project import load_project

REPO = Path(__file__).resolve().parent.parent


def _shown_title(w) -> str:
    # what the platform shows: "[*]" becomes "*" while modified, else disappears
    return w.windowHandle().title()


def test_title_is_the_project_name_with_the_modified_mark(make_window, monkeypatch, tmp_path):
    w = make_window("lenet")
    assert w.windowTitle() == "lenet[*]" and not w.isWindowModified()
    assert _shown_title(w).startswith("lenet") and "*" not in _shown_title(w)
    assert "NetBuilder —" not in _shown_title(w)
    w.runner.push(cmds.Rename(node(w, "fc3").id, "logits"))
    assert w.isWindowModified() and _shown_title(w).startswith("lenet*")
    target = tmp_path / "my-lenet.nbproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert w.save()
    assert w.windowTitle() == "my-lenet[*]" and not w.isWindowModified()
    assert w.windowFilePath() == str(target.resolve())
    w.act_new.trigger()
    assert w.windowTitle() == "Untitled[*]" and w.windowFilePath() == ""


def test_the_network_name_is_edited_in_the_inspector_when_nothing_is_selected(make_window):
    w = make_window("lenet")
    w.scene.clearSelection()
    inspector = w.inspector
    assert inspector.network_row.isVisible() and not inspector.name_row.isVisible()
    assert "Network" in inspector.title.text()
    assert inspector.network_name_edit.text() == w.graph.name == "Net"
    assert "61,706 parameters" in inspector.description.text()

    inspector.network_name_edit.setText("LeNet5")
    inspector.network_name_edit.editingFinished.emit()
    assert w.graph.name == "LeNet5" and w.isWindowModified()
    assert w.runner.stack.undoText() == "Rename Network to LeNet5"
    w.undo()
    assert w.graph.name == "Net" and inspector.network_name_edit.text() == "Net"
    assert not w.isWindowModified()
    w.redo()
    assert w.graph.name == "LeNet5" and inspector.network_name_edit.text() == "LeNet5"

    # a name that cannot be a class is refused with the reason, and the field shows the name
    inspector.network_name_edit.setText("my net")
    inspector.network_name_edit.editingFinished.emit()
    assert w.graph.name == "LeNet5" and inspector.network_name_edit.text() == "LeNet5"
    assert "my net" in inspector.error.text()

    # one block selected: the block's own name, not the network's
    w.scene.select_nodes([node(w, "conv1").id])
    QApplication.processEvents()
    assert inspector.name_row.isVisible() and not inspector.network_row.isVisible()


def test_the_network_name_is_saved_with_the_project(make_window, monkeypatch, tmp_path):
    w = make_window("mlp")
    w.runner.push(cmds.RenameNetwork("Classifier"))
    target = tmp_path / "classifier.nbproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert w.save()
    assert load_project(target).graph.name == "Classifier"


def test_the_network_name_is_locked_while_training(make_window):
    w = make_window("lenet")
    w.scene.clearSelection()
    w.set_structure_locked(True, "Training is running")
    assert not w.inspector.network_name_edit.isEnabled()
    assert not w.runner.push(cmds.RenameNetwork("Other")) and w.graph.name == "Net"
    w.set_structure_locked(False, "")
    assert w.inspector.network_name_edit.isEnabled()


def test_create_window_opens_a_template_by_name_and_a_file_of_that_name_first(
    qtbot, tmp_path, monkeypatch
):
    from netbuilder.ui.app import create_window

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    monkeypatch.chdir(tmp_path)
    w = create_window("mlp", settings=settings, recovery_dir=tmp_path / "r", install_training=False)
    qtbot.addWidget(w)
    assert w.path is None and w.windowTitle() == "mlp[*]" and not w.is_dirty
    assert w.graph.total_params == 235_146

    shutil.copy(REPO / "resources" / "templates" / "resnet.json", tmp_path / "mlp")
    w2 = create_window(
        "mlp", settings=settings, recovery_dir=tmp_path / "r", install_training=False
    )
    qtbot.addWidget(w2)
    assert w2.path == Path("mlp") and w2.graph.node_by_name("add1") is not None
