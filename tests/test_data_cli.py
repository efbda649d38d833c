"""`netbuilder train` on colour data: a 3x32x32 LeNet on a CIFAR-format folder and on an
image folder, the data line naming the classes."""

import json

from data_files import write_cifar_folder, write_image_folder

from netbuilder.cli import main
from netbuilder.graph.templates import template_path


def colour_lenet(tmp_path, classes=10):
    project = json.loads(template_path("lenet").read_text())
    for node in project["graph"]["nodes"]:
        if node["type"] == "Input":
            node["params"]["shape"] = [3, 32, 32]
        if node["name"] == "fc3":
            node["params"]["out_features"] = classes
    path = tmp_path / "colour.nbproj"
    path.write_text(json.dumps(project))
    return str(path)


def test_train_on_a_cifar_folder(tmp_path, capsys):
    data = write_cifar_folder(tmp_path / "data", per_batch=40, test=50)
    status = main(["train", colour_lenet(tmp_path), "--data", str(data), "--epochs", "3",
                   "--optimizer", "adam", "--lr", "0.003", "--batch-size", "20",
                   "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 0, err
    assert "data: cifar-10-batches-bin: 200 train + 50 test, 32x32 3 channels, 10 classes " in err
    assert "(airplane, automobile, bird" in err


def test_train_on_an_image_folder_decoded_at_the_input_size(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    data = write_image_folder(tmp_path / "pets", per_class=(20, 5), size=(40, 40), ext="jpg")
    status = main(["train", colour_lenet(tmp_path, 3), "--data", str(data), "--epochs", "2",
                   "--optimizer", "adam", "--lr", "0.003", "--batch-size", "10",
                   "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "test accuracy: 1.0000" in out  # the classes differ by colour
    assert "data: pets: 60 train + 15 test, 32x32 3 channels, 3 classes (cat, dog, fox)" in err
