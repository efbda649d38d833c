"""`netbuilder train` on colour data: a 3x32x32 LeNet on a CIFAR-format folder and on an
image folder, the data line naming the classes."""

import json

import numpy as np
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


def test_data_command_prints_counts_classes_shape_and_statistics(tmp_path, capsys):
    data = write_cifar_folder(tmp_path / "data", per_batch=10, test=20)
    assert main(["data", str(data), "--for", colour_lenet(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "images: 32x32 RGB (3 channels), bytes 0-255"
    assert out[2] == "train: 50 images; test: 20 images; 10 classes"
    assert out[4].split() == ["0", "airplane", "5", "2"]
    mean = [float(v) for v in out[-3].split(":")[1].split(",")]
    from netbuilder.data import load_dataset

    pixels = load_dataset(str(data)).x_train.reshape(-1, 3) / 255.0
    assert np.allclose(mean, pixels.mean(0), atol=1e-4)
    assert out[-1].startswith("for colour.nbproj: ")


def test_data_command_on_the_sample_and_a_bad_folder(tmp_path, capsys):
    assert main(["data", "sample"]) == 0
    out = capsys.readouterr().out
    assert "images: 28x28 grey (1 channel)" in out and "6,000 images; test: 1,000" in out
    (tmp_path / "empty").mkdir()
    assert main(["data", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("netbuilder: error: ") and "\n" not in err


def test_exported_script_trains_on_the_cifar_folder_with_augmentation(tmp_path, capsys):
    import importlib.util

    data = write_cifar_folder(tmp_path / "data", per_batch=20, test=30)
    project = colour_lenet(tmp_path)
    script = tmp_path / "net.py"
    assert main(["export", project, "-o", str(script), "--target", "engine"]) == 0
    spec = importlib.util.spec_from_file_location("cifar_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x_train, y_train, x_test, y_test = module.load_data(str(tmp_path / "data"))
    from netbuilder.data import load_dataset

    ours = load_dataset(str(data))
    assert np.array_equal(x_train, ours.x_train) and np.array_equal(y_test, ours.y_test)
    capsys.readouterr()
    module.main(["--data", str(data), "--epochs", "1", "--augment-crop", "4", "--augment-flip",
                 "--threads", "1"])  # fmt: skip
    assert "test accuracy" in capsys.readouterr().out
