"""CIFAR-10 binary folders: written in the real format, read back exactly; damaged ones
refused with one line naming the file; memory bounded by the files' real sizes."""

import numpy as np
import pytest
from data_files import CIFAR_CLASSES, cifar_images, write_cifar_folder

from netbuilder.data import DataError, load_dataset
from netbuilder.data.cifar import load_cifar_folder


def test_folder_and_parent_load_the_same_arrays(tmp_path):
    folder = write_cifar_folder(tmp_path, per_batch=12, test=7)
    for spec in (folder, tmp_path):
        data = load_dataset(str(spec))
        assert data.x_train.shape == (60, 32, 32, 3) and data.x_train.dtype == np.uint8
        assert data.x_test.shape == (7, 32, 32, 3)
        assert data.num_classes == 10 and data.class_names == CIFAR_CLASSES
        assert data.class_name(3) == "cat"
    images, labels = cifar_images(12, 1)  # data_batch_1 as written
    assert np.array_equal(data.x_train[:12], images)
    assert np.array_equal(data.y_train[:12], labels)
    assert "60 train + 7 test, 32x32 3 channels, 10 classes (airplane, automobile" in (
        data.describe()
    )


def test_pixel_layout_is_red_green_blue_planes(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    record = bytearray(3073)
    record[0] = 4
    record[1 + 0 * 1024 + 2 * 32 + 5] = 11  # red at row 2, column 5
    record[1 + 1 * 1024 + 2 * 32 + 5] = 22  # green
    record[1 + 2 * 1024 + 31 * 32 + 0] = 33  # blue at row 31, column 0
    (folder / "data_batch_1.bin").write_bytes(bytes(record))
    (folder / "test_batch.bin").write_bytes(bytes(record))
    data = load_cifar_folder(folder)
    assert data.y_train.tolist() == [4]
    assert data.x_train[0, 2, 5].tolist() == [11, 22, 0]
    assert data.x_train[0, 31, 0].tolist() == [0, 0, 33]
    assert data.class_names == () and data.class_name(4) == "4"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "data_batch_3.bin").unlink(), "data_batch_3.bin missing"),
        (lambda f: (f / "test_batch.bin").unlink(), "test_batch.bin missing"),
        (
            lambda f: (f / "data_batch_2.bin").write_bytes(b"\x01" * 5000),
            r"data_batch_2.bin: 5,000 bytes is not a whole number of 3,073-byte",
        ),
        (
            lambda f: (f / "test_batch.bin").write_bytes(b"\x02" * 3074 * 3),
            "CIFAR-100's binary files",
        ),
        (
            lambda f: (f / "data_batch_1.bin").write_bytes(b"\x0c" + bytes(3072)),
            r"data_batch_1.bin: labels out of range: record 0 has label 12",
        ),
        (
            lambda f: (f / "batches.meta.txt").write_text("cat\ndog\n"),
            "holds 2 class names; CIFAR-10 has 10",
        ),
        (lambda f: (f / "data_batch_4.bin").write_bytes(b""), "data_batch_4.bin: empty file"),
    ],
)
def test_damaged_folders_are_refused_by_name(tmp_path, damage, message):
    folder = write_cifar_folder(tmp_path, per_batch=3, test=3)
    damage(folder)
    with pytest.raises(DataError, match=message):
        load_dataset(str(folder))


def test_memory_is_checked_before_reading(tmp_path, monkeypatch):
    folder = write_cifar_folder(tmp_path, per_batch=10, test=3, batches=1)
    monkeypatch.setenv("ENGINE_MEMORY_BUDGET", str(3073 * 5))
    with pytest.raises(DataError, match="10 images .* more than the"):
        load_dataset(str(folder))


def test_sparse_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    """A huge (sparse) batch: refused from its size alone, nothing allocated."""
    folder = write_cifar_folder(tmp_path, per_batch=2, test=2, batches=1)
    with open(folder / "data_batch_1.bin", "r+b") as f:
        f.truncate(3073 * 10**7)  # 30 GB of holes
    monkeypatch.setenv("ENGINE_MEMORY_BUDGET", str(2**30))
    with pytest.raises(DataError, match="10,000,000 images"):
        load_dataset(str(folder))


def test_trains_a_colour_network(tmp_path):
    from netbuilder.graph.model import Graph
    from netbuilder.training import Trainer, TrainSettings

    write_cifar_folder(tmp_path, per_batch=40, test=40)
    graph = Graph.from_dict(
        {
            "name": "Tiny",
            "nodes": [
                {"id": "i", "type": "Input", "name": "input1", "params": {"shape": [3, 32, 32]}},
                {
                    "id": "c",
                    "type": "Conv2d",
                    "name": "conv1",
                    "params": {"out_channels": 4, "kernel_size": 3, "padding": 1},
                },
                {"id": "r", "type": "ReLU", "name": "relu1", "params": {}},
                {"id": "p", "type": "MaxPool2d", "name": "pool1", "params": {"kernel_size": 4}},
                {"id": "f", "type": "Flatten", "name": "flatten1", "params": {}},
                {"id": "l", "type": "Linear", "name": "fc1", "params": {"out_features": 10}},
            ],  # fmt: skip
            "edges": [
                {"src": a, "dst": b, "dst_port": 0}
                for a, b in (("i", "c"), ("c", "r"), ("r", "p"), ("p", "f"), ("f", "l"))
            ],
        }
    )
    settings = TrainSettings(
        dataset=str(tmp_path), epochs=4, batch_size=20, optimizer="adam", lr=0.01
    )
    trainer = Trainer(graph, settings)
    events = []
    trainer.subscribe(events.append)
    result = trainer.run()
    assert trainer.data.class_names == CIFAR_CLASSES
    accuracy = [e.test_accuracy for e in events if type(e).__name__ == "EpochEnd"]
    assert accuracy and accuracy[-1] > 0.5, (result, accuracy)
