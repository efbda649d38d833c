"""prepare(): channels, centre padding, resizing, flattening, normalisation, validation split."""

import numpy as np
import pytest

from netbuilder.data import DataError, load_dataset, load_idx_folder, prepare, resize_bilinear
from netbuilder.data.datasets import make_split


def synthetic(n_train=40, n_test=10, shape=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train) % 5,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test) % 5,
    }
    return make_split("synthetic", "memory", arrays, dict.fromkeys(arrays, "memory"))


@pytest.fixture(scope="module")
def sample():
    return load_dataset("sample")


def test_full_mnist_statistics_match_the_readme(mnist_dir):
    prepared = prepare(load_idx_folder(mnist_dir), (1, 28, 28))
    assert prepared.mean[0] == pytest.approx(0.1307, abs=1e-4)
    assert prepared.std[0] == pytest.approx(0.3081, abs=1e-4)
    assert prepared.train_x.shape == (60000, 1, 28, 28) and prepared.test_x.shape[0] == 10000


def test_same_size_normalises_to_zero_mean_unit_std(sample):
    p = prepare(sample, (1, 28, 28))
    assert p.train_x.dtype == np.float32 and p.train_y.dtype == np.int64
    assert p.train_x.shape == (6000, 1, 28, 28) and p.test_x.shape == (1000, 1, 28, 28)
    assert float(p.train_x.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(p.train_x.std()) == pytest.approx(1.0, abs=1e-4)
    x = sample.x_train.astype(np.float64) / 255
    assert p.mean[0] == pytest.approx(x.mean(), rel=1e-6)
    assert p.std[0] == pytest.approx(x.std(), rel=1e-6)
    # test images use the training statistics, not their own
    expected = (sample.x_test[7] / 255 - p.mean[0]) / p.std[0]
    np.testing.assert_allclose(p.test_x[7, 0], expected, atol=1e-5)
    assert p.num_classes == 10 and p.input_shape == (1, 28, 28)
    assert np.array_equal(p.test_y, sample.y_test)


def test_centre_padding_28_into_32(sample):
    p = prepare(sample, (1, 32, 32))
    assert p.train_x.shape == (6000, 1, 32, 32)
    background = (0.0 - p.mean[0]) / p.std[0]
    x = p.train_x[:, 0]
    # two rows/columns of background on every side, the image in the middle
    for border in (x[:, :2, :], x[:, -2:, :], x[:, :, :2], x[:, :, -2:]):
        np.testing.assert_allclose(border, background, atol=1e-6)
    expected = (sample.x_train[123] / 255 - p.mean[0]) / p.std[0]
    np.testing.assert_allclose(x[123, 2:30, 2:30], expected, atol=1e-5)
    # statistics come from the images, not the padding
    assert p.mean == prepare(sample, (1, 28, 28)).mean


def test_odd_padding_puts_the_extra_row_after(sample):
    p = prepare(synthetic(shape=(5, 6)), (1, 6, 7))
    background = -p.mean[0] / p.std[0]
    x = p.train_x[:, 0]
    np.testing.assert_allclose(x[:, 5, :], background, atol=1e-6)  # bottom row
    np.testing.assert_allclose(x[:, :, 6], background, atol=1e-6)  # right column
    assert not np.allclose(x[:, 0, :6], background)  # top row holds image


def test_resizing_when_much_smaller_or_larger(sample):
    small = prepare(sample, (1, 14, 14))
    assert small.train_x.shape == (6000, 1, 14, 14)
    large = prepare(sample, (1, 64, 64))  # 28 -> 64 is no "little" padding: resize
    background = -large.mean[0] / large.std[0]
    assert not np.allclose(large.train_x[:, 0, 20:40, 20:40], background)
    assert large.train_x.shape == (6000, 1, 64, 64)
    assert float(large.train_x.mean()) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("size", [(14, 14), (32, 32), (64, 40), (7, 30)])
def test_bilinear_matches_pytorch(size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).random((2, 3, 28, 28), dtype=np.float32)
    ours = resize_bilinear(x, *size)
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_flatten_for_feature_inputs(sample):
    flat = prepare(sample, (784,))
    image = prepare(sample, (1, 28, 28))
    assert flat.train_x.shape == (6000, 784)
    assert np.array_equal(flat.train_x, image.train_x.reshape(6000, 784))
    assert prepare(sample, (256,)).train_x.shape == (6000, 256)  # 16x16 resized
    assert prepare(sample, (2352,)).mean == (image.mean[0],) * 3  # 3x28x28
    with pytest.raises(DataError, match="cannot flatten 28x28 images into 1000 features: use 784"):
        prepare(sample, (1000,))


def test_grey_to_three_channels(sample):
    p = prepare(sample, (3, 32, 32))
    assert p.train_x.shape == (6000, 3, 32, 32)
    assert np.array_equal(p.train_x[:, 0], p.train_x[:, 1])
    assert np.array_equal(p.train_x[:, 0], p.train_x[:, 2])
    assert len(p.mean) == 3 and p.mean[0] == p.mean[2]


def test_colour_to_grey_by_luminance_and_per_channel_stats():
    split = synthetic(shape=(8, 8, 3))
    x = split.x_train.astype(np.float64)
    grey = prepare(split, (1, 8, 8))
    luma = x @ [0.299, 0.587, 0.114]
    assert grey.mean[0] == pytest.approx(luma.mean() / 255, rel=1e-5)
    np.testing.assert_allclose(
        grey.train_x[4, 0], (luma[4] / 255 - grey.mean[0]) / grey.std[0], atol=1e-4
    )
    colour = prepare(split, (3, 8, 8))
    np.testing.assert_allclose(colour.mean, x.mean(axis=(0, 1, 2)) / 255, rtol=1e-6)
    np.testing.assert_allclose(colour.std, x.std(axis=(0, 1, 2)) / 255, rtol=1e-5)
    np.testing.assert_allclose(colour.train_x.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(
        colour.train_x[2, 1], (x[2, :, :, 1] / 255 - colour.mean[1]) / colour.std[1], atol=1e-5
    )


def test_validation_split_sizes_and_seed(sample):
    a = prepare(sample, (784,), val_split=0.1, seed=1)
    assert len(a.train_y) == 5400 and len(a.val_y) == 600 and a.val_x.shape == (600, 784)
    b = prepare(sample, (784,), val_split=0.1, seed=1)
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.val_x, b.val_x)
    assert np.array_equal(a.val_y, b.val_y)
    c = prepare(sample, (784,), val_split=0.1, seed=2)
    assert not np.array_equal(a.val_x, c.val_x)
    # statistics come from the training portion only
    assert a.mean != prepare(sample, (784,)).mean
    # a random 10% keeps every class
    assert np.bincount(a.val_y, minlength=10).min() > 30


def test_validation_split_partitions_the_training_set():
    split = synthetic(n_train=50)
    p = prepare(split, (1, 28, 28), val_split=0.2, seed=5)
    scale = np.float32(p.std[0] * 255)
    shift = np.float32(p.mean[0] * 255)
    back = lambda x: np.rint(x[:, 0] * scale + shift).astype(np.uint8)  # noqa: E731
    seen = [x.tobytes() for x in back(p.train_x)] + [x.tobytes() for x in back(p.val_x)]
    assert sorted(seen) == sorted(x.tobytes() for x in split.x_train)
    assert len(p.val_y) == 10 and len(p.train_y) == 40
    by_pixels = {x.tobytes(): y for x, y in zip(split.x_train, split.y_train)}
    assert [by_pixels[x.tobytes()] for x in back(p.val_x)] == p.val_y.tolist()


def test_no_validation_split_gives_empty_arrays(sample):
    p = prepare(sample, (1, 32, 32))
    assert p.val_x.shape == (0, 1, 32, 32) and p.val_y.shape == (0,)
    assert p.val_x.dtype == np.float32


def test_bad_arguments():
    split = synthetic()
    with pytest.raises(DataError, match="validation split 1.0 must be"):
        prepare(split, (1, 28, 28), val_split=1.0)
    with pytest.raises(DataError, match="validation split -0.1 must be"):
        prepare(split, (1, 28, 28), val_split=-0.1)
    with pytest.raises(DataError, match="wants 4 channels"):
        prepare(split, (4, 28, 28))
    with pytest.raises(DataError, match="leaves no training images"):
        prepare(synthetic(n_train=2, n_test=2), (1, 28, 28), val_split=0.9)
    with pytest.raises(DataError, match="use \\(channels, height, width\\) or \\(features,\\)"):
        prepare(split, (1, 1, 28, 28))
