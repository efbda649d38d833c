"""The data view (samples per class, counts, size, mean/std, the adaptation before/after), the
settings form's "Look at the data" button and the inspector's "Match the data" button."""

import numpy as np
import pytest
from data_files import CIFAR_CLASSES, write_cifar_folder
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QLabel

from netbuilder.ui.data_view import DataView
from netbuilder.ui.mainwindow import MainWindow


def test_sample_view_shows_every_class_and_the_padding(qtbot):
    view = DataView("sample", (1, 32, 32))
    qtbot.addWidget(view)
    assert view.data is not None and view.error is None
    assert len(view.sample_labels) == 10 * 8
    assert view.summary.train_counts == (600,) * 10
    assert view.adaptation_text.startswith("centre-padded to 32x32")
    assert not view.sample_labels[0].pixmap().isNull()


def test_cifar_folder_view_names_the_classes_and_the_grey_conversion(qtbot, tmp_path):
    folder = write_cifar_folder(tmp_path, per_batch=10, test=10)
    view = DataView(str(folder), (1, 28, 28))
    qtbot.addWidget(view)
    assert view.bars.names == list(CIFAR_CLASSES)
    assert view.bars.train == [5] * 10
    assert "colour turned grey; resized to 28x28" in view.adaptation_text
    view.resize(1280, 800)
    view.show()
    QApplication.processEvents()
    assert not view.grab().isNull()


def test_a_bad_data_set_is_a_message_not_a_crash(qtbot, tmp_path):
    view = DataView(str(tmp_path / "missing"), (1, 28, 28))
    qtbot.addWidget(view)
    assert view.data is None and "no such file or folder" in view.error
    texts = [w.text() for w in view.findChildren(QLabel)]
    assert any("cannot be shown" in t for t in texts)


def test_an_input_the_images_cannot_fit_is_explained(qtbot):
    view = DataView("sample", (2, 28, 28))
    qtbot.addWidget(view)
    texts = " ".join(w.text() for w in view.findChildren(QLabel))
    assert "Cannot feed these images to an input of (2, 28, 28)" in texts


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
        recovery_dir=tmp_path / "recovery",
    )
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.load_template("lenet")
    w.show()
    qtbot.waitExposed(w)
    yield w
    if getattr(w, "training", None) is not None:
        w.training.shutdown()


def input_node(window):
    return next(n for n in window.project.graph.nodes.values() if n.type == "Input")


def test_look_button_opens_the_view_for_the_chosen_data_and_input(window, qtbot):
    chooser = window.training.form.dataset
    chooser.look_button.click()
    view = chooser.data_view
    qtbot.addWidget(view)
    assert view.spec == "sample" and view.input_shape == (1, 32, 32)
    assert view.adaptation_text.startswith("centre-padded to 32x32")


def test_match_the_data_sets_the_input_shape_undoably(window, tmp_path):
    folder = write_cifar_folder(tmp_path, per_batch=2, test=2, batches=1)
    window.project.training["dataset"] = str(folder)
    node = input_node(window)
    window.scene.select_nodes([node.id])
    QApplication.processEvents()
    inspector = window.inspector
    assert inspector.match_button.isVisibleTo(inspector)
    inspector.match_button.click()
    assert list(input_node(window).params["shape"]) == [3, 32, 32]
    window.runner.undo()
    assert list(input_node(window).params["shape"]) == [1, 32, 32]
    conv = next(n for n in window.project.graph.nodes.values() if n.type == "Conv2d")
    window.scene.select_nodes([conv.id])
    QApplication.processEvents()
    assert not inspector.match_button.isVisibleTo(inspector)
    assert np.prod(input_node(window).params["shape"]) == 1024
