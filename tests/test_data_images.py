"""Image folders written as real PNG/JPEG files by Pillow: decoded, sized, cached (the second
load reads the cache), unreadable and hostile files named in one line."""

import shutil

import numpy as np
import pytest
from data_files import write_image_folder
from PIL import Image

from netbuilder.data import DataError, load_dataset
from netbuilder.data import images as images_module
from netbuilder.data.images import load_image_folder


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_train_and_test_trees_load_with_class_names(tmp_path):
    root = write_image_folder(tmp_path / "pets", per_class=(4, 2), size=(20, 24))
    data = load_dataset(str(root))
    assert data.class_names == ("cat", "dog", "fox") and data.num_classes == 3
    assert data.x_train.shape == (12, 20, 24, 3) and data.x_test.shape == (6, 20, 24, 3)
    assert data.y_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    # PNG is lossless: the pixels are the file's
    first = np.asarray(Image.open(root / "train" / "cat" / "000.png"))
    assert np.array_equal(data.x_train[0], first)
    assert data.x_train[4, ..., 1].mean() > 150  # dog: green
    assert "pets: 12 train + 6 test, 20x24 3 channels, 3 classes (cat, dog, fox)" in (
        data.describe()
    )


def test_sizes_follow_the_input_and_grey_stays_grey(tmp_path):
    root = write_image_folder(tmp_path / "g", per_class=(3, 1), size=(40, 40), mode="L")
    data = load_dataset(str(root), image_size=(32, 32))
    assert data.x_train.shape == (9, 32, 32) and data.channels == 1
    # the resize is prepare.py's bilinear one
    from netbuilder.data.prepare import resize_bilinear

    source = np.asarray(Image.open(root / "train" / "cat" / "000.png")).astype(np.float32)
    expected = np.clip(np.rint(resize_bilinear(source[None], 32, 32)[0]), 0, 255)
    assert np.array_equal(data.x_train[0], expected.astype(np.uint8))


def test_mixed_sizes_take_the_most_common_and_jpeg_decodes(tmp_path):
    root = write_image_folder(tmp_path / "j", per_class=(3, 1), size=(16, 16), ext="jpg")
    Image.new("RGB", (50, 30), (200, 10, 10)).save(root / "train" / "cat" / "big.jpg")
    data = load_dataset(str(root))
    assert data.x_train.shape == (10, 16, 16, 3)
    big = data.x_train[3]  # sorted: 000, 001, 002, big
    assert big[..., 0].mean() > 180 and big[..., 1].mean() < 40


def test_one_tree_holds_out_a_seeded_fifth_per_class(tmp_path):
    root = write_image_folder(tmp_path / "t", per_class=(10, 0), size=(8, 8))
    for split in ("cat", "dog", "fox"):
        (root / "train" / split).rename(root / split)
    (root / "train").rmdir()
    shutil.rmtree(root / "test")
    a, b = load_dataset(str(root)), load_image_folder(root, cache=False)
    assert len(a.y_train) == 24 and np.bincount(a.y_test).tolist() == [2, 2, 2]
    assert np.array_equal(a.x_test, b.x_test)


def test_second_load_reads_the_cache(tmp_path, cache, monkeypatch):
    root = write_image_folder(tmp_path / "c", per_class=(3, 2), size=(12, 12))
    first = load_dataset(str(root), image_size=(12, 12))
    assert len(list((cache / "image-folders").glob("*.npz"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(images_module, "_decode", no_decoding)
    second = load_dataset(str(root), image_size=(12, 12))
    assert np.array_equal(first.x_train, second.x_train)
    assert second.class_names == first.class_names
    monkeypatch.undo()
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(cache))
    # a changed file changes the key: decoded afresh
    Image.new("RGB", (12, 12), (1, 2, 3)).save(root / "train" / "cat" / "000.png")
    third = load_dataset(str(root), image_size=(12, 12))
    assert third.x_train[0].tolist() == [[[1, 2, 3]] * 12] * 12


def test_unreadable_images_are_named_in_one_line(tmp_path):
    root = write_image_folder(tmp_path / "bad", per_class=(3, 1), size=(8, 8))
    (root / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (root / "test" / "fox" / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError) as err:
        load_dataset(str(root))
    text = str(err.value)
    assert "\n" not in text and "2 images cannot be read" in text
    assert "train/dog/broken.png" in text and "test/fox/empty.jpg" in text


def test_decompression_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "bomb", per_class=(2, 1), size=(8, 8))
    Image.new("L", (4000, 3000)).save(root / "train" / "cat" / "bomb.png")  # small on disk
    monkeypatch.setattr(images_module, "MAX_PIXELS", 1_000_000)
    with pytest.raises(DataError, match=r"bomb.png \(.*over the 1,000,000 pixels allowed"):
        load_dataset(str(root))


def test_memory_is_checked_before_decoding(tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "m", per_class=(3, 1), size=(8, 8))
    monkeypatch.setenv("ENGINE_MEMORY_BUDGET", "100")
    with pytest.raises(DataError, match="12 images of 8x8 need 2,304 bytes"):
        load_dataset(str(root))


def test_test_classes_must_exist_in_training(tmp_path):
    root = write_image_folder(tmp_path / "x", per_class=(2, 1), size=(8, 8))
    (root / "test" / "fox").rename(root / "test" / "wolf")
    with pytest.raises(DataError, match="test classes wolf have no training folder"):
        load_dataset(str(root))
