"""The editor's writers refuse what the command line refuses: an output that replaces an input,
a non-regular file, weights whose bytes were changed."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import os

from test_ui_editor import boxes, make_window  # noqa: F401  (fixtures)

import engine
from netbuilder.compile import compile_graph
from netbuilder.graph.project import save_project
from netbuilder.ui.export_dialog import ExportDialog


def _trained(w, tmp_path):
    weights = tmp_path / "trained.safetensors"
    engine.save(compile_graph(w.graph).state_dict(), weights)
    w.project.weights_path = str(weights)
    return weights


def _export(w, path, boxes):
    dialog = ExportDialog(w)
    dialog.path.setText(str(path))
    assert not dialog.do_export()
    kind, _, text = boxes[-1]
    assert kind == "critical"
    return text


def test_export_refuses_weights_with_flipped_bytes(make_window, boxes, tmp_path):
    w = make_window("lenet")
    weights = _trained(w, tmp_path)
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    text = _export(w, tmp_path / "net.py", boxes)
    assert "checksum" in text and not (tmp_path / "net.py").exists()


def test_export_refuses_a_fifo_and_a_script_named_as_the_project(make_window, boxes, tmp_path):
    w = make_window("lenet")
    os.mkfifo(tmp_path / "pipe.py")
    assert "FIFO" in _export(w, tmp_path / "pipe.py", boxes)
    project = tmp_path / "net.py"  # a project file may have any name
    save_project(w.project, project)
    w.path = project
    before = project.read_bytes()
    assert "is the same file as the project" in _export(w, project, boxes)
    assert project.read_bytes() == before


def test_save_as_refuses_to_replace_the_trained_weights(make_window, boxes, tmp_path):
    w = make_window("lenet")
    weights = _trained(w, tmp_path)
    before = weights.read_bytes()
    assert not w.files.save_to(weights)
    kind, _, text = boxes[-1]
    assert kind == "critical" and "trained weights file of this project" in text
    assert weights.read_bytes() == before
