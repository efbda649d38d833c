"""netbuilder.data loaders: IDX folders (gz and raw, name variants), .npz, the bundled sample,
the "mnist" cache, and a clear DataError for every kind of bad file."""

import gzip
import importlib.util
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from netbuilder.data import (
    DataError,
    load_dataset,
    load_idx_folder,
    load_npz,
    read_idx,
    sample_path,
)
from netbuilder.resources import resource_path

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
GZ_NAMES = {
    "train-images-idx3-ubyte": ("train", "images"),
    "train-labels-idx1-ubyte": ("train", "labels"),
    "t10k-images-idx3-ubyte": ("test", "images"),
    "t10k-labels-idx1-ubyte": ("test", "labels"),
}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    """Full MNIST, loaded once for this module."""
    return load_idx_folder(mnist_dir)


def assert_is_mnist(split):
    assert split.x_train.shape == (60000, 28, 28) and split.x_train.dtype == np.uint8
    assert split.x_test.shape == (10000, 28, 28) and split.x_test.dtype == np.uint8
    assert split.y_train.dtype == np.int64 and split.y_test.dtype == np.int64
    assert np.bincount(split.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(split.y_test).tolist() == TEST_COUNTS
    assert split.num_classes == 10


# -- formats -----------------------------------------------------------------------------------


def test_gzip_idx_folder_is_mnist(mnist, mnist_dir):
    assert_is_mnist(mnist)
    assert mnist.x_train.mean() == pytest.approx(33.318, abs=1e-3)
    assert mnist.source == str(mnist_dir) and mnist.name == "mnist"
    assert mnist.image_shape == (28, 28) and mnist.channels == 1
    assert "60,000 train + 10,000 test, 28x28 grey, 10 classes" in mnist.describe()


def test_raw_idx_folder_with_variant_names(mnist, mnist_dir, tmp_path):
    # the common ".idx3-ubyte" spelling, uncompressed
    for name in GZ_NAMES:
        variant = name.replace("-idx", ".idx")
        (tmp_path / variant).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    raw = load_dataset(str(tmp_path))
    assert_is_mnist(raw)
    assert np.array_equal(raw.x_train, mnist.x_train)
    assert np.array_equal(raw.y_test, mnist.y_test)


def test_idx_folder_prefers_raw_when_both_present(mnist_dir, tmp_path):
    for name in GZ_NAMES:
        os.symlink(mnist_dir / f"{name}.gz", tmp_path / f"{name}.gz")
    labels = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels)
    (tmp_path / "notes.txt").write_text("not data")
    split = load_dataset(tmp_path)
    assert np.bincount(split.y_test).tolist() == TEST_COUNTS


def test_read_single_idx_file(mnist_dir):
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", "labels")
    assert labels.shape == (10000,) and np.bincount(labels).tolist() == TEST_COUNTS


def test_npz_file_is_mnist(mnist, tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=mnist.x_train,
        y_train=mnist.y_train.astype(np.uint8),
        x_test=mnist.x_test,
        y_test=mnist.y_test,
    )
    split = load_dataset(str(path))
    assert_is_mnist(split)
    assert split.name == "mnist" and split.source == str(path)
    assert np.array_equal(split.x_test, mnist.x_test)


def small_arrays(n_train=20, n_test=10, shape=(8, 8), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train) % classes,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test) % classes,
    }


def test_npz_colour_channels_last_and_first(tmp_path):
    arrays = small_arrays(shape=(8, 8, 3))
    np.savez_compressed(tmp_path / "last.npz", **arrays)
    last = load_npz(tmp_path / "last.npz")
    assert last.x_train.shape == (20, 8, 8, 3) and last.channels == 3
    assert last.num_classes == 4
    first = {k: (np.moveaxis(v, 3, 1) if k.startswith("x") else v) for k, v in arrays.items()}
    np.savez(tmp_path / "first.npz", **first)
    assert np.array_equal(load_npz(tmp_path / "first.npz").x_train, arrays["x_train"])


def test_npz_variants_are_normalised(tmp_path):
    arrays = small_arrays(shape=(8, 8, 4))  # RGBA: alpha dropped
    arrays["x_test"] = arrays["x_test"][..., :3].astype(np.float32) / 255.0  # floats in 0-1
    arrays["y_train"] = arrays["y_train"].astype(np.float64)  # integral floats
    arrays["y_test"] = arrays["y_test"][:, None]  # (N, 1)
    np.savez(tmp_path / "v.npz", **arrays)
    split = load_npz(tmp_path / "v.npz")
    assert split.x_train.shape == (20, 8, 8, 3) and split.x_test.dtype == np.uint8
    assert np.array_equal(split.x_test, small_arrays(shape=(8, 8, 4))["x_test"][..., :3])
    assert split.y_train.dtype == np.int64 and split.y_test.shape == (10,)

    grey = small_arrays(shape=(8, 8, 1))
    np.savez(tmp_path / "g.npz", **grey)
    assert load_npz(tmp_path / "g.npz").x_train.shape == (20, 8, 8)


def test_bundled_sample_is_the_default(mnist):
    split = load_dataset()
    assert split.name == "sample" and Path(split.source) == sample_path()
    assert split.x_train.shape == (6000, 28, 28) and split.x_test.shape == (1000, 28, 28)
    assert np.bincount(split.y_train).tolist() == [600] * 10
    assert np.bincount(split.y_test).tolist() == [100] * 10
    # every sample image is the MNIST image of the same label
    train_rows = {row.tobytes(): label for row, label in zip(mnist.x_train, mnist.y_train)}
    picked = zip(split.x_train[::50], split.y_train[::50])
    assert all(train_rows[x.tobytes()] == y for x, y in picked)
    assert sample_path().stat().st_size < 3_000_000
    credits = (sample_path().parent / "README.md").read_text()
    assert "LeCun" in credits and "Cortes" in credits and "Burges" in credits
    assert "CC BY-SA 3.0" in credits and (sample_path().parent / "LICENSE").is_file()


def test_make_sample_rebuilds_the_bundled_file_byte_for_byte(mnist, tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", REPO / "scripts/make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    out = tmp_path / "sample.npz"
    make_sample.write_npz(make_sample.build_sample(mnist), out)
    assert out.read_bytes() == sample_path().read_bytes()


def test_mnist_spec_reads_the_cache(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataError, match="MNIST is not downloaded yet") as err:
        load_dataset("mnist")
    assert str(tmp_path / "mnist") in str(err.value)
    (tmp_path / "mnist").mkdir()
    for name in GZ_NAMES:
        os.symlink(mnist_dir / f"{name}.gz", tmp_path / "mnist" / f"{name}.gz")
    split = load_dataset("mnist")
    assert split.name == "mnist" and np.bincount(split.y_test).tolist() == TEST_COUNTS


def test_resources_helper(tmp_path, monkeypatch):
    import netbuilder.resources

    assert resource_path("data", "mnist-sample.npz") == sample_path()
    assert not resource_path("x", must_exist=False).exists()
    monkeypatch.setattr(netbuilder.resources, "resources_root", lambda: tmp_path)
    with pytest.raises(DataError, match="bundled sample is missing"):
        load_dataset("sample")


# -- bad files ---------------------------------------------------------------------------------


def idx_bytes(array, type_code=0x08, dims=None):
    array = np.asarray(array)
    dims = array.shape if dims is None else dims
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.astype(dtype[type_code]).tobytes()


def write_idx_folder(folder, n_train=12, n_test=6, **overrides):
    """A valid tiny IDX folder; overrides replace a file's bytes by name."""
    rng = np.random.default_rng(1)
    files = {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 5, 5))),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(n_train) % 3),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 5, 5))),
        "t10k-labels-idx1-ubyte": idx_bytes(np.arange(n_test) % 3),
    }
    files.update({k.replace("_", "-"): v for k, v in overrides.items()})
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def expect_error(spec, *phrases, blame=None):
    with pytest.raises(DataError) as err:
        load_dataset(spec)
    message = str(err.value)
    assert str(blame or spec) in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_tiny_valid_folder_loads(tmp_path):
    split = load_dataset(write_idx_folder(tmp_path / "d"))
    assert split.x_train.shape == (12, 5, 5) and split.num_classes == 3


def test_wrong_magic_number(tmp_path):
    folder = write_idx_folder(tmp_path / "d", t10k_images_idx3_ubyte=b"PK\x03\x04" + bytes(40))
    expect_error(
        folder,
        "wrong magic number 0x504B0304",
        "expected 0x00000803",
        blame=folder / "t10k-images-idx3-ubyte",
    )


def test_labels_file_in_place_of_images(tmp_path):
    folder = write_idx_folder(tmp_path / "d", train_images_idx3_ubyte=idx_bytes(np.arange(12)))
    expect_error(
        folder,
        "wrong magic number 0x00000801",
        "is this a labels file?",
        blame=folder / "train-images-idx3-ubyte",
    )


def test_truncated_idx(tmp_path):
    good = idx_bytes(np.zeros((12, 5, 5)))
    folder = write_idx_folder(tmp_path / "d", train_images_idx3_ubyte=good[:-30])
    expect_error(
        folder,
        "truncated",
        "12 images of 5x5 (300 bytes of data)",
        "holds 270",
        blame=folder / "train-images-idx3-ubyte",
    )


def test_truncated_gzip(mnist_dir, tmp_path):
    folder = write_idx_folder(tmp_path / "d")
    cut = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()[:2000]
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(cut)
    expect_error(folder, "gzip data is truncated", blame=folder / "t10k-labels-idx1-ubyte.gz")


def test_extra_bytes_after_idx_data(tmp_path):
    extra = idx_bytes(np.arange(6) % 3) + b"\x00\x01"
    folder = write_idx_folder(tmp_path / "d", t10k_labels_idx1_ubyte=extra)
    expect_error(folder, "2 unexpected bytes", blame=folder / "t10k-labels-idx1-ubyte")


def test_label_count_differs_from_image_count(tmp_path):
    folder = write_idx_folder(tmp_path / "d", train_labels_idx1_ubyte=idx_bytes(np.arange(11) % 3))
    message = expect_error(
        folder,
        "label count != image count: 11 train labels for 12 train images",
        blame=folder / "train-images-idx3-ubyte",
    )
    assert "train-labels-idx1-ubyte" in message


def test_test_labels_out_of_range(tmp_path):
    folder = write_idx_folder(tmp_path / "d", t10k_labels_idx1_ubyte=idx_bytes([0, 1, 2, 3, 0, 1]))
    expect_error(
        folder,
        "labels out of range",
        "go up to 3 but training labels only to 2",
        blame=folder / "t10k-labels-idx1-ubyte",
    )


def test_negative_labels(tmp_path):
    signed = idx_bytes([0, 1, -2, 0, 1, 2], type_code=0x09)
    folder = write_idx_folder(tmp_path / "d", t10k_labels_idx1_ubyte=signed)
    expect_error(
        folder, "labels out of range", "-2 at position 2", blame=folder / "t10k-labels-idx1-ubyte"
    )
    arrays = small_arrays()
    arrays["y_train"][5] = -1
    np.savez(tmp_path / "n.npz", **arrays)
    expect_error(tmp_path / "n.npz", "labels out of range: y_train[5] is -1")


def test_wrong_dtype_in_idx(tmp_path):
    floats = idx_bytes(np.zeros((12, 5, 5)), type_code=0x0D)
    folder = write_idx_folder(tmp_path / "d", train_images_idx3_ubyte=floats)
    expect_error(folder, "wrong dtype", "32-bit floats", blame=folder / "train-images-idx3-ubyte")


def test_wrong_dtype_in_npz(tmp_path):
    arrays = small_arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.complex64)
    np.savez(tmp_path / "c.npz", **arrays)
    expect_error(tmp_path / "c.npz", "wrong dtype", "x_train holds complex64")
    arrays = small_arrays()
    arrays["y_test"] = arrays["y_test"] + 0.5
    np.savez(tmp_path / "f.npz", **arrays)
    expect_error(tmp_path / "f.npz", "wrong dtype", "y_test holds fractional values")
    arrays = small_arrays()
    arrays["y_train"] = np.eye(4)[arrays["y_train"]]
    np.savez(tmp_path / "o.npz", **arrays)
    expect_error(tmp_path / "o.npz", "y_train has shape (20, 4)", "one-hot")


def test_nan_pixels(tmp_path):
    arrays = small_arrays()
    arrays["x_test"] = arrays["x_test"].astype(np.float32)
    arrays["x_test"][3, 2, 2] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    expect_error(tmp_path / "nan.npz", "x_test contains 1 NaN or infinite values", "NaN in image 3")
    arrays = small_arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.float32) * 2  # up to 510
    np.savez(tmp_path / "big.npz", **arrays)
    expect_error(tmp_path / "big.npz", "must lie in 0-1 or 0-255")


def test_empty_arrays(tmp_path):
    arrays = small_arrays()
    arrays["x_train"], arrays["y_train"] = arrays["x_train"][:0], arrays["y_train"][:0]
    np.savez(tmp_path / "e.npz", **arrays)
    expect_error(tmp_path / "e.npz", "x_train is empty (shape (0, 8, 8))")
    folder = write_idx_folder(tmp_path / "d", t10k_images_idx3_ubyte=idx_bytes(np.zeros((0, 5, 5))))
    expect_error(folder, "empty", blame=folder / "t10k-images-idx3-ubyte")


def test_missing_files_in_folder(tmp_path):
    folder = write_idx_folder(tmp_path / "d")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "readme.txt").write_text("hi")
    message = expect_error(
        folder,
        "missing t10k-labels-idx1-ubyte[.gz]",
        "found readme.txt, t10k-images-idx3-ubyte, train-images-idx3-ubyte",
    )
    assert "missing train" not in message
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", "found no files", "missing train-images-idx3-ubyte[.gz]")


def test_not_an_npz(tmp_path):
    (tmp_path / "x.npz").write_text("this is text")
    expect_error(tmp_path / "x.npz", "not a .npz file")
    np.save(tmp_path / "a.npy", np.zeros(3))
    expect_error(tmp_path / "a.npy", "not a .npz file")
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("hello.txt", "hi")
    expect_error(
        tmp_path / "z.npz", "missing arrays x_train, y_train, x_test, y_test", "holds hello.txt"
    )
    np.savez(tmp_path / "k.npz", x_train=np.zeros((2, 4, 4), np.uint8), y_train=[0, 1])
    expect_error(tmp_path / "k.npz", "missing arrays x_test, y_test", "holds x_train, y_train")


def test_damaged_npz(tmp_path):
    np.savez_compressed(tmp_path / "ok.npz", **small_arrays())
    data = bytearray((tmp_path / "ok.npz").read_bytes())
    data[100:140] = bytes(40)  # inside the first compressed entry
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    expect_error(tmp_path / "bad.npz")
    np.savez(
        tmp_path / "obj.npz",
        x_train=np.array([None, 1], dtype=object),
        y_train=[0],
        x_test=np.zeros((1, 2, 2)),
        y_test=[0],
    )
    expect_error(tmp_path / "obj.npz", "x_train cannot be read")


def test_mismatched_image_sizes(tmp_path):
    arrays = small_arrays()
    arrays["x_test"] = arrays["x_test"][:, :6, :6]
    np.savez(tmp_path / "m.npz", **arrays)
    expect_error(tmp_path / "m.npz", "test images are 6x6 but training images are 8x8")


def test_no_such_dataset(tmp_path):
    expect_error(tmp_path / "nope", "no such file or folder", "'sample', 'mnist'")


def test_folder_with_an_npz_suggests_giving_the_file(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"")
    expect_error(tmp_path, "found mnist.npz", "to use mnist.npz, give the file itself")


def test_idx_names_with_a_common_prefix_load_and_two_sets_are_refused(tmp_path):
    # EMNIST names its files emnist-digits-train-images-idx3-ubyte.gz and so on
    plain = write_idx_folder(tmp_path / "plain")
    folder = tmp_path / "emnist"
    folder.mkdir()
    for path in plain.iterdir():
        (folder / f"emnist-digits-{path.name}").write_bytes(path.read_bytes())
    split = load_dataset(folder)
    assert split.x_train.shape == (12, 5, 5) and split.num_classes == 3
    write_idx_folder(folder)  # a second, unprefixed set beside it: which one is meant?
    expect_error(folder, "holds 2 data sets", "emnist-digits-train-images", "folder of its own")
