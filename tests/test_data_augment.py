"""Batch augmentation: what each step does to known images, and the exported script's batches
equal the Trainer's for the same seed (the script carries prepare.py's functions)."""

import importlib.util

import numpy as np
import pytest

from netbuilder.data import DataError
from netbuilder.data.prepare import augment_batch, augment_rng, make_augment
from netbuilder.export import write_export
from netbuilder.graph.templates import load_template
from netbuilder.training import TrainSettings


def settings(**changes):
    return TrainSettings().replace(**changes)


def plain(c=1, h=6, w=6, mean=0.0, std=1.0):
    return make_augment(settings(augment_flip=True), (c, h, w), [mean] * c, [std] * c)


def test_off_is_none_and_feature_inputs_are_refused():
    assert make_augment(settings(), (1, 28, 28), [0.0], [1.0]) is None
    with pytest.raises(DataError, match=r"augmentation needs an image input .*\(784,\)"):
        make_augment(settings(augment_flip=True), (784,), [0.0], [1.0])


def test_flip_mirrors_about_half_and_keeps_the_rest():
    x = np.arange(200 * 36, dtype=np.float32).reshape(200, 1, 6, 6)
    out = augment_batch(x, np.random.default_rng(1), plain())
    mirrored = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x, strict=True)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 70 < sum(mirrored) < 130


def test_crop_shifts_by_whole_pixels_and_pads_with_normalised_black():
    aug = make_augment(settings(augment_crop=2), (1, 5, 5), [100.0], [50.0])
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5) + 10
    black = -100.0 / 50.0
    padded = np.pad(x[0, 0], 2, constant_values=black)
    windows = {(dy, dx): padded[dy : dy + 5, dx : dx + 5] for dy in range(5) for dx in range(5)}
    seen = set()
    for seed in range(40):
        out = augment_batch(x, np.random.default_rng(seed), aug)[0, 0]
        match = [k for k, window in windows.items() if np.array_equal(out, window)]
        assert len(match) == 1
        seen.add(match[0])
    assert len(seen) > 10  # the offsets vary


def test_window_copies_match_the_pixel_by_pixel_definition():
    """crop (top, left), then flip, then shift (dy, dx), each pixel from outside black."""
    from netbuilder.data.prepare import _shifted

    rng = np.random.default_rng(0)
    n, c, h, w = 40, 2, 5, 7
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    top, left = rng.integers(-3, 4, n), rng.integers(-3, 4, n)
    dy, dx = rng.integers(-4, 5, n), rng.integers(-4, 5, n)
    mirror = rng.random(n) < 0.5
    fill = np.array([-1.0, -2.0], dtype=np.float32)[:, None, None]
    out = _shifted(x, top, left, mirror, dy, dx, fill)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                u, v = i - dy[k], j - dx[k]  # before the shift
                if mirror[k]:
                    v = w - 1 - v
                src_i, src_j = u + top[k], v + left[k]
                ok = 0 <= u < h and 0 <= j - dx[k] < w and 0 <= src_i < h and 0 <= src_j < w
                expected = x[k, :, src_i, src_j] if ok else fill[:, 0, 0]
                assert np.array_equal(out[k, :, i, j], expected), (k, i, j)


def test_rotation_by_zero_and_no_shift_is_identity_and_rotation_keeps_the_centre():
    x = np.random.default_rng(0).random((4, 3, 9, 9)).astype(np.float32)
    aug = make_augment(settings(augment_rotate=30.0), (3, 9, 9), [0.5] * 3, [0.2] * 3)
    out = augment_batch(x, np.random.default_rng(3), aug)
    np.testing.assert_allclose(out[:, :, 4, 4], x[:, :, 4, 4], rtol=1e-5)  # the centre
    assert not np.allclose(out, x)
    tiny = aug._replace(rotate=1e-9)
    np.testing.assert_allclose(augment_batch(x, np.random.default_rng(3), tiny), x, atol=1e-5)


def test_jitter_keeps_pixels_in_range_and_changes_colour():
    aug = make_augment(settings(augment_jitter=0.5), (3, 4, 4), [120.0] * 3, [60.0] * 3)
    x = np.random.default_rng(0).uniform(-2, 2, (50, 3, 4, 4)).astype(np.float32)
    out = augment_batch(x, np.random.default_rng(0), aug)
    pixels = out * 60.0 + 120.0
    assert pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3
    assert out.dtype == np.float32 and out.shape == x.shape and not np.allclose(out, x)


def test_exported_script_augments_each_batch_as_the_trainer_does(tmp_path):
    """The script's own prepare_arrays, make_augment, augment_rng and augment_batch give the
    batches the app gives for the same seed and settings."""
    from netbuilder.data import DataSplit, prepare

    rng = np.random.default_rng(5)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 32, 32, 3)).astype(np.uint8),
        "y_train": np.arange(40) % 10,
        "x_test": rng.integers(0, 256, (10, 32, 32, 3)).astype(np.uint8),
        "y_test": np.arange(10),
    }
    training = dict(augment_crop=4, augment_flip=True, augment_rotate=10.0,
                    augment_translate=0.1, augment_jitter=0.3, seed=7)  # fmt: skip
    project = load_template("lenet")
    for node in project.graph.nodes.values():
        if node.type == "Input":
            node.params["shape"] = [3, 32, 32]
    project.training = training
    script = write_export(project, tmp_path / "net.py", "engine")
    spec = importlib.util.spec_from_file_location("augment_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.parse_args(["--data", "unused"])

    shape = (3, 32, 32)
    x, _y, _vx, _vy, _tx, _ty, mean, std = module.prepare_arrays(
        *arrays.values(), shape, 0.0, args.seed
    )
    theirs_aug = module.make_augment(args, shape, mean, std)
    theirs_rng = module.augment_rng(args.seed)

    split = DataSplit("t", *arrays.values(), 10, "memory")
    prepared = prepare(split, shape, 0.0, 7)
    ours_settings = TrainSettings.from_dict(training)
    mean255 = np.array(prepared.mean) * 255.0
    std255 = np.array(prepared.std) * 255.0
    ours_aug = make_augment(ours_settings, shape, mean255, std255)
    ours_rng = augment_rng(7)
    for start in (0, 16, 32):
        index = np.arange(start, min(start + 16, 40))
        theirs = module.augment_batch(x[index], theirs_rng, theirs_aug)
        ours = augment_batch(prepared.train_x[index], ours_rng, ours_aug)
        np.testing.assert_array_equal(theirs, ours)
