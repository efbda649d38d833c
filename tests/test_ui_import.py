"""File > Import Model in the editor window: ONNX and PyTorch code open as laid-out projects with
their weights, errors are message boxes, and a Python file runs only after the person agrees."""

# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDialog, QFileDialog
from test_ui_editor import boxes, make_window  # noqa: F401  (fixtures)

from netbuilder.compile import compile_graph
from netbuilder.export.onnx import write_onnx
from netbuilder.graph.project import load_project
from netbuilder.graph.templates import load_template
from netbuilder.training.project_weights import project_weights
from netbuilder.ui import import_action
from netbuilder.ui.project_files import blocks_overlap
from netbuilder.ui.training.worker import DefaultTrainer

MODELS = Path(__file__).parent / "models"


def _lenet_onnx(tmp_path):
    graph = load_template("lenet").graph
    state = {k: v.numpy().copy() for k, v in compile_graph(graph).state_dict().items()}
    return write_onnx(graph, tmp_path / "lenet.onnx", weights=state), state


def test_the_file_menu_imports_an_onnx_model(make_window, monkeypatch, tmp_path):
    w = make_window(None)
    source, state = _lenet_onnx(tmp_path)
    target = tmp_path / "imported.nbproj"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(source), ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert w.act_import in w.menuBar().actions()[0].menu().actions()
    w.act_import.trigger()
    assert w.path == target and w.windowTitle() == "imported[*]"
    assert [n.name for n in w.graph.nodes.values()][:3] == ["input1", "conv1", "relu1"]
    assert not blocks_overlap(w.graph) and not w.is_dirty
    assert "with its weights" in w.statusBar().currentMessage()
    project = load_project(target)
    weights = project.weights_file(target)
    assert weights.name == "imported.safetensors"
    # the next run starts from the imported weights
    assert project_weights(w.project, w.path, w.graph) == weights
    trainer = DefaultTrainer(str(weights))(w.graph.to_dict(), {"epochs": 1})
    np.testing.assert_array_equal(
        trainer.model.state_dict()["conv1.weight"].numpy(), state["conv1.weight"]
    )


def test_python_import_says_the_code_will_run_and_asks_first(
    make_window, monkeypatch, tmp_path, boxes
):
    w = make_window(None)
    marker = tmp_path / "ran.txt"
    source = tmp_path / "net.py"
    source.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        + (MODELS / "tutorial_net.py").read_text()
    )
    seen = []

    def refuse(dialog):
        seen.append(dialog.findChildren(import_action.QLabel)[0].text())
        return QDialog.Rejected

    monkeypatch.setattr(import_action.PythonImportDialog, "exec", refuse)
    assert not import_action.import_model(w, source=source)
    assert "runs the code in net.py" in seen[0] and not marker.exists()

    def accept(dialog):
        dialog.input_shape.setText("1,32,32")
        return QDialog.Accepted

    monkeypatch.setattr(import_action.PythonImportDialog, "exec", accept)
    assert import_action.import_model(w, source=source, output=str(tmp_path / "net.nbproj"))
    assert marker.exists()
    assert {"conv1", "conv2", "fc1", "fc2", "fc3"} <= {n.name for n in w.graph.nodes.values()}
    assert w.project.weights_path is None  # no weights given: training starts fresh


def test_import_errors_are_a_message_box(make_window, tmp_path, boxes):
    w = make_window("lenet")
    before = w.graph.to_dict()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00 not a model \xff" * 10)
    assert not import_action.import_model(w, source=bad, output=str(tmp_path / "P.nbproj"))
    kind, title, text = boxes[-1]
    assert kind == "critical" and title == "Cannot import model" and "not an ONNX model" in text
    code = tmp_path / "odd.py"
    code.write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        "    def forward(self, x):\n        return x * 2\n"
    )
    options = {"input_shape": "4"}
    assert not import_action.import_model(
        w, source=code, output=str(tmp_path / "Q.nbproj"), options=options
    )
    kind, title, text = boxes[-1]
    assert kind == "critical" and "odd.py:6: x.__mul__ has no block" in text
    assert w.graph.to_dict() == before and not (tmp_path / "Q.nbproj").exists()


def test_the_export_dialog_writes_onnx(make_window, monkeypatch, tmp_path, boxes):
    import onnx

    from netbuilder.ui.export_dialog import ExportDialog

    w = make_window("lenet")

    def run_dialog(dialog):
        dialog.path.setText(str(tmp_path / "lenet.py"))
        dialog.target.setCurrentIndex(dialog.target.findData("onnx"))
        assert dialog.path.text().endswith("lenet.onnx")  # the suffix follows the target
        dialog.export_button.click()
        return 1

    monkeypatch.setattr(ExportDialog, "exec", run_dialog)
    w.act_export.trigger()
    model = onnx.load(str(tmp_path / "lenet.onnx"))
    assert [n.name for n in model.graph.node][:2] == ["conv1", "relu1"]
    kind, title, text = boxes[-1]
    assert kind == "information" and "lenet.onnx" in text
