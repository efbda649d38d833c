"""Adapting a DataSplit to the network's Input block.

Steps, all numpy: colour to grey by luminance (or grey replicated to 3 channels); centre
padding when the images are a little smaller than the input (MNIST 28x28 into LeNet's 32x32),
bilinear resizing otherwise; flattening for feature inputs such as (784,); normalisation
(x/255 - mean) / std with the training portion's per-channel statistics, as
torchvision's ToTensor + Normalize would do; a seeded validation split.

The exported training script carries the functions of EMBEDDED verbatim (with LUMA and
CHUNK), so the app and the script accept the same data and feed the network the same numbers:
they use only numpy, math, NamedTuple and DataError(path, problem).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .datasets import DataSplit
from .errors import DataError

# ITU-R BT.601 luma, the weights PIL's convert("L") uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
LUMA = np.array(LUMA_WEIGHTS, dtype=np.float32)
CHUNK = 4096  # images per step, to bound temporary memory


@dataclass(frozen=True, eq=False, repr=False)
class Prepared:
    train_x: np.ndarray  # float32 (N, *input_shape)
    train_y: np.ndarray  # int64 (N,)
    val_x: np.ndarray  # (0, *input_shape) when val_split is 0
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mean: tuple[float, ...]  # per channel, on the 0-1 pixel scale (transforms.Normalize's)
    std: tuple[float, ...]
    num_classes: int = 0
    input_shape: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Prepared(input_shape={self.input_shape}, train={len(self.train_y)}, "
            f"val={len(self.val_y)}, test={len(self.test_y)}, mean={self.mean}, std={self.std})"
        )


class Plan(NamedTuple):
    """How images become the network's input."""

    channels: int  # output channels, 1 or 3
    height: int
    width: int
    pad: tuple | None  # (top, left) when centre padding, None when resizing


def plan_geometry(image_shape, input_shape):
    """How images of `image_shape` ((H, W) or (H, W, C)) become `input_shape`."""
    h, w = image_shape[:2]
    src_c = 1 if len(image_shape) == 2 else image_shape[2]
    if len(input_shape) == 3:
        c, th, tw = input_shape
    elif len(input_shape) == 2:
        c, (th, tw) = 1, input_shape
    elif len(input_shape) == 1:
        c, th, tw = _feature_geometry(input_shape[0], h, w, src_c)
    else:
        raise DataError(
            None,
            f"cannot feed images into an input of shape {input_shape}; "
            "use (channels, height, width) or (features,)",
        )
    if c not in (1, 3):
        raise DataError(
            None,
            f"the input wants {c} channels; images give 1 (grey) or 3 "
            "(colour): set the Input block's channels to 1 or 3",
        )
    if min(th, tw) < 1:
        raise DataError(None, f"the input shape {input_shape} has an empty dimension")
    pad = None
    if th >= h and tw >= w and (th - h) <= th // 4 and (tw - w) <= tw // 4:
        pad = ((th - h) // 2, (tw - w) // 2)
    return Plan(c, th, tw, pad)


def _feature_geometry(features, h, w, src_c):
    """(channels, height, width) whose flattening gives `features` values."""
    if features == src_c * h * w:
        return src_c, h, w
    if features in (h * w, 3 * h * w):
        return features // (h * w), h, w
    for c in (src_c, 1, 3):
        side = math.isqrt(features // c)
        if c * side * side == features:
            return c, side, side
    raise DataError(
        None,
        f"cannot flatten {h}x{w} images into {features} features: use "
        f"{h * w} ({h}x{w} grey) or {3 * h * w} (colour), or a square size "
        "such as 28x28 = 784",
    )


def resize_bilinear(x, height, width):
    """Resize the last two axes of a float array; the same numbers as PyTorch's
    F.interpolate(mode="bilinear", align_corners=False, antialias=False)."""

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(np.float32)

    i0, i1, a = axis(x.shape[-2], height)
    x = x[..., i0, :] * (1 - a)[:, None] + x[..., i1, :] * a[:, None]
    j0, j1, b = axis(x.shape[-1], width)
    return x[..., j0] * (1 - b) + x[..., j1] * b


def _geometry(images, plan):
    """uint8 (n, h, w[, 3]) -> float32 (n, 1 or 3, h', w') on the 0-255 scale, before padding.
    Grey stays one channel here even for 3-channel inputs: the caller broadcasts it."""
    if images.ndim == 4 and plan.channels == 1:
        x = (images.astype(np.float32) @ LUMA)[:, None]
    elif images.ndim == 4:
        x = np.moveaxis(images, 3, 1).astype(np.float32)
    else:
        x = images[:, None].astype(np.float32)
    if plan.pad is None and x.shape[2:] != (plan.height, plan.width):
        x = resize_bilinear(x, plan.height, plan.width)
    return x


def _fill(images, plan):
    """Unnormalised float32 (n, c, H, W), zeros around the centred images when padding."""
    n = len(images)
    out = np.zeros((n, plan.channels, plan.height, plan.width), dtype=np.float32)
    if plan.pad is None:
        rows, cols = slice(None), slice(None)
    else:
        top, left = plan.pad
        rows = slice(top, top + images.shape[1])
        cols = slice(left, left + images.shape[2])
    for start in range(0, n, CHUNK):
        out[start : start + CHUNK, :, rows, cols] = _geometry(images[start : start + CHUNK], plan)
    return out, (rows, cols)


def _channel_stats(x):
    """Per-channel mean and std of float32 (n, c, h, w), accumulated in float64."""
    total = np.zeros(x.shape[1])
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), CHUNK):
        block = x[start : start + CHUNK].astype(np.float64)
        total += block.sum(axis=(0, 2, 3))
        squares += np.square(block).sum(axis=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean, std


def prepare_arrays(
    x_train, y_train, x_test, y_test, input_shape, val_split=0.0, seed=0, source=None
):
    """float32 arrays shaped (N, *input_shape), normalised with the statistics of the training
    portion (after the validation split is taken out); see the module docstring. Returns
    (train_x, train_y, val_x, val_y, test_x, test_y, mean, std), mean and std per channel on
    the 0-255 scale."""
    input_shape = tuple(int(d) for d in input_shape)
    if not 0.0 <= val_split < 1.0:
        raise DataError(None, f"validation split {val_split} must be at least 0 and below 1")
    plan = plan_geometry(tuple(x_train.shape[1:]), input_shape)

    n = len(y_train)
    n_val = int(round(n * val_split))
    if n - n_val < 1:
        raise DataError(
            source, f"a validation split of {val_split} leaves no training images out of {n}"
        )
    order = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])

    # no copy of the images when nothing is held out
    train_images = x_train[train_idx] if n_val else x_train
    train_x, (rows, cols) = _fill(train_images, plan)
    mean, std = _channel_stats(train_x[:, :, rows, cols])
    std = np.where(std > 0, std, 255.0)  # constant images: keep values finite
    shift = mean.astype(np.float32)[:, None, None]
    scale = (1.0 / std).astype(np.float32)[:, None, None]

    def finish(x):
        x -= shift
        x *= scale
        return x.reshape((len(x), *input_shape))

    val_x = finish(_fill(x_train[val_idx], plan)[0])
    test_x = finish(_fill(x_test, plan)[0])
    return (
        finish(train_x),
        y_train[train_idx].copy(),
        val_x,
        y_train[val_idx].copy(),
        test_x,
        y_test.copy(),
        mean,
        std,
    )


def adaptation_steps(image_shape, input_shape) -> list[str]:
    """What preparation does to images of `image_shape` for `input_shape`, in words
    ("colour turned grey", "resized to 32x32", ...); DataError when they cannot fit."""
    plan = plan_geometry(tuple(image_shape), tuple(input_shape))
    channels = 1 if len(image_shape) == 2 else image_shape[2]
    steps = []
    if channels != plan.channels:
        steps.append("colour turned grey" if plan.channels == 1 else "grey copied to 3 channels")
    if tuple(image_shape[:2]) != (plan.height, plan.width):
        how = "centre-padded" if plan.pad is not None else "resized"
        steps.append(f"{how} to {plan.height}x{plan.width}")
    if len(input_shape) == 1:
        steps.append(f"flattened to {input_shape[0]} features")
    return steps


def adapted_image(image, input_shape):
    """One uint8 image as the network receives it, before normalisation: (H, W) grey or
    (H, W, 3), after the colour change, padding or resizing that preparation applies."""
    plan = plan_geometry(tuple(image.shape), tuple(input_shape))
    x, _ = _fill(image[None], plan)
    if plan.channels == 3 and x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    x = np.clip(np.rint(x[0]), 0, 255).astype(np.uint8)
    return x[0] if plan.channels == 1 else np.moveaxis(x, 0, 2)


# -- augmentation ---------------------------------------------------------------------------------


class Augment(NamedTuple):
    """Random changes to each training batch (the augment_* training settings)."""

    crop: int  # pixels of padding each side before a random crop back to size
    flip: bool  # mirror half the images left to right
    rotate: float  # largest rotation, degrees either way
    translate: float  # largest shift, as a fraction of the height and width
    jitter: float  # largest change of brightness, contrast and saturation (a fraction)
    geometry: tuple  # (channels, height, width) of one image
    mean: np.ndarray  # float32 (c, 1, 1), per channel, 0-255 scale (prepare_arrays' statistics)
    std: np.ndarray


def make_augment(settings, input_shape, mean, std):
    """An Augment from the settings (a TrainSettings or the script's options; they share the
    names), or None when every augmentation is off. mean/std as prepare_arrays returns them."""
    values = (
        int(settings.augment_crop),
        bool(settings.augment_flip),
        float(settings.augment_rotate),
        float(settings.augment_translate),
        float(settings.augment_jitter),
    )
    if not any(values):
        return None
    if len(input_shape) not in (2, 3):
        raise DataError(
            None,
            f"augmentation needs an image input (channels, height, width); the Input block "
            f"is {tuple(input_shape)}: give it an image shape and a Flatten block after it, "
            "or turn augmentation off",
        )
    geometry = tuple(input_shape) if len(input_shape) == 3 else (1, *input_shape)
    column = (geometry[0], 1, 1)
    mean = np.asarray(mean, dtype=np.float32).reshape(column)
    std = np.asarray(std, dtype=np.float32).reshape(column)
    return Augment(*values, geometry, mean, std)


def augment_rng(seed):
    """The augmentation's own random stream: the shuffling order stays the seed's alone."""
    return np.random.default_rng([int(seed), 0xA06])


def _geometric(x, rng, augment, fill):
    """Crop with padding, flip, rotation and shift, composed: each output pixel's source is
    found by undoing the steps in reverse order; sources outside the image take `fill`.
    Angles are continuous, shifts and crop offsets whole pixels, sampling nearest-pixel
    (torchvision's RandomCrop, RandomHorizontalFlip and RandomAffine with its defaults)."""
    n, c, h, w = x.shape
    zeros = np.zeros(n, dtype=np.intp)
    top = left = shift_y = shift_x = zeros
    mirror = np.zeros(n, dtype=bool)
    angle = None
    if augment.crop:  # the window's corner within the padded image, relative to the image
        p = augment.crop
        top = rng.integers(0, 2 * p + 1, size=n) - p
        left = rng.integers(0, 2 * p + 1, size=n) - p
    if augment.flip:
        mirror = rng.random(n) < 0.5
    if augment.rotate:
        angle = np.deg2rad(rng.uniform(-augment.rotate, augment.rotate, size=n))
    if augment.translate:
        shift = rng.uniform(-augment.translate, augment.translate, size=(n, 2)) * (h, w)
        shift = np.rint(shift).astype(np.intp)
        shift_y, shift_x = shift[:, 0], shift[:, 1]
    if angle is None:
        return _shifted(x, top, left, mirror, shift_y, shift_x, fill)
    # float32 coordinates: half the time of float64, and sampling rounds to whole pixels
    cy, cx = np.float32((h - 1) / 2.0), np.float32((w - 1) / 2.0)
    rows = (np.arange(h, dtype=np.float32) - cy)[None, :, None] - shift_y[:, None, None]
    cols = (np.arange(w, dtype=np.float32) - cx)[None, None, :] - shift_x[:, None, None]
    rows, cols = rows.astype(np.float32), cols.astype(np.float32)
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    rows, cols = cos * rows - sin * cols + cy, sin * rows + cos * cols + cx
    rows, cols = np.rint(rows).astype(np.intp), np.rint(cols).astype(np.intp)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    cols = np.where(mirror[:, None, None], w - 1 - cols, cols)
    rows, cols = rows + top[:, None, None], cols + left[:, None, None]
    inside &= (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    flat = np.clip(rows, 0, h - 1) * w + np.clip(cols, 0, w - 1)
    flat = flat + (np.arange(n) * (c * h * w))[:, None, None]
    index = flat[:, None] + (np.arange(c) * (h * w))[None, :, None, None]
    return np.where(inside[:, None], x.reshape(-1).take(index), fill[None])


def _shifted(x, top, left, mirror, shift_y, shift_x, fill):
    """_geometric without rotation: whole-pixel windows copied image by image (much cheaper
    than a gather). Output pixel (i, j) = source (i - dy + top, f(j - dx) + left), f the flip."""
    n, c, h, w = x.shape
    out = np.empty_like(x)
    out[:] = fill[None]
    for k in range(n):
        dy, dx, t, lf = int(shift_y[k]), int(shift_x[k]), int(top[k]), int(left[k])
        r0, r1 = max(0, -t, -dy), min(h, h - t, h - dy)  # u = i - dy over these
        if mirror[k]:
            c0, c1 = max(0, lf, -dx), min(w, w + lf, w - dx)  # source column w - 1 + lf - u
            source = x[k, :, r0 + t : r1 + t, w + lf - c1 : w + lf - c0][..., ::-1]
        else:
            c0, c1 = max(0, -lf, -dx), min(w, w - lf, w - dx)  # source column u + lf
            source = x[k, :, r0 + t : r1 + t, c0 + lf : c1 + lf]
        if r0 < r1 and c0 < c1:
            out[k, :, r0 + dy : r1 + dy, c0 + dx : c1 + dx] = source
    return out


def _jitter(x, rng, augment):
    """Brightness b, contrast k and saturation s, each a random factor within 1 +- jitter, as
    one linear map per image on the 0-255 pixels p (grey g = luminance, A = mean of b*g):
    b*k*s*p + b*k*(1-s)*g + (1-k)*A, clipped to 0-255, normalised again. Written over the
    normalised x directly (p = x*std + mean) to spare passes over the batch."""
    c = x.shape[1]
    j = augment.jitter
    b, k, s = rng.uniform(1 - j, 1 + j, size=(3, len(x), 1, 1, 1)).astype(np.float32)
    mean, std = augment.mean, augment.std
    if c == 3:
        grey = np.einsum("nchw,c->nhw", x, LUMA * std[:, 0, 0])[:, None]
        grey += np.float32(LUMA @ mean[:, 0, 0])
    else:
        grey, s = x * std + mean, np.ones_like(s)  # saturation means nothing for grey
    average = grey.mean(axis=(2, 3), keepdims=True) * b
    pixels = (b * k * s * std) * x
    pixels += (b * k * s) * mean + (b * k * (1 - s)) * grey + (1 - k) * average
    np.clip(pixels, 0.0, 255.0, out=pixels)
    pixels -= mean
    pixels *= 1 / std
    return pixels


def augment_batch(x, rng, augment):
    """A randomly changed copy of the prepared (normalised) batch x (n, *input_shape): crop
    with padding, horizontal flip, rotation and shift, then colour jitter (torchvision's
    RandomCrop, RandomHorizontalFlip, RandomAffine, ColorJitter, in that order). Padding and
    uncovered corners are black, as before normalisation."""
    shape = x.shape
    c, h, w = augment.geometry
    x = x.reshape(len(x), c, h, w)
    if augment.crop or augment.flip or augment.rotate or augment.translate:
        fill = (-augment.mean / augment.std).astype(np.float32)  # black, normalised
        x = _geometric(x, rng, augment, fill)
    if augment.jitter:
        x = _jitter(x, rng, augment)
    return np.ascontiguousarray(x, dtype=np.float32).reshape(shape)


# what the exported script carries, in this order
EMBEDDED = (
    Plan,
    plan_geometry,
    _feature_geometry,
    resize_bilinear,
    _geometry,
    _fill,
    _channel_stats,
    prepare_arrays,
    Augment,
    make_augment,
    augment_rng,
    _geometric,
    _shifted,
    _jitter,
    augment_batch,
)


def prepare(split: DataSplit, input_shape, val_split: float = 0.0, seed: int = 0) -> Prepared:
    """prepare_arrays on a DataSplit, as a Prepared."""
    train_x, train_y, val_x, val_y, test_x, test_y, mean, std = prepare_arrays(
        *(split.x_train, split.y_train, split.x_test, split.y_test),
        input_shape,
        val_split,
        seed,
        source=split.source,
    )
    return Prepared(
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        test_x=test_x,
        test_y=test_y,
        mean=tuple(float(m) / 255.0 for m in mean),
        std=tuple(float(s) / 255.0 for s in std),
        num_classes=split.num_classes,
        input_shape=tuple(int(d) for d in input_shape),
    )
