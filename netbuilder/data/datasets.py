"""Loading data sets: the bundled sample, IDX folders, Keras-style .npz files, the MNIST cache.

Every loader returns a `DataSplit` whose arrays passed the same checks: images uint8
(N, H, W) for grey or (N, H, W, C) with C = 3 for colour, labels int64 (N,) in 0..K-1.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.fileio import memory_budget
from netbuilder.blocks.spec import fmt_shape
from netbuilder.resources import resource_path

from .errors import DataError
from .idx import find_idx_files, read_idx

SAMPLE_FILE = "mnist-sample.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_CLASSES = 1000


@dataclass(frozen=True, eq=False, repr=False)
class DataSplit:
    name: str  # "sample", "mnist", the folder's or file's name
    x_train: np.ndarray  # uint8 (N, H, W) or (N, H, W, C)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str  # where it came from, for messages and run records
    class_names: tuple[str, ...] = ()  # one per class when the data set names them

    def class_name(self, index: int) -> str:
        """The name of class `index`, or its number when the data set gives no names."""
        if 0 <= index < len(self.class_names):
            return self.class_names[index]
        return str(index)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W) for grey images, (H, W, C) for colour."""
        return tuple(self.x_train.shape[1:])

    @property
    def channels(self) -> int:
        return 1 if self.x_train.ndim == 3 else int(self.x_train.shape[3])

    def describe(self) -> str:
        """One line for the GUI and CLI: "sample: 6,000 train + 1,000 test, 28x28 grey, ..."."""
        h, w = self.x_train.shape[1:3]
        colour = "grey" if self.channels == 1 else f"{self.channels} channels"
        return (
            f"{self.name}: {len(self.y_train):,} train + {len(self.y_test):,} test, "
            f"{h}x{w} {colour}, {self.num_classes} classes{self._names_text()}"
        )

    def _names_text(self, shown: int = 10) -> str:
        if not self.class_names:
            return ""
        names = ", ".join(self.class_names[:shown])
        more = len(self.class_names) - shown
        return f" ({names}{f' and {more} more' if more > 0 else ''})"

    def __repr__(self) -> str:
        return f"DataSplit({self.describe()!r}, source={self.source!r})"


# -- checks shared by every format -------------------------------------------------------------


def check_images(x, where: Path | str, name: str) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, 3) from what a user file may hold; DataError otherwise.

    Accepted besides: a trailing channel of 1 (dropped), RGBA (alpha dropped), channels-first
    (N, C, H, W) with C in 1/3/4, and floats in 0-1 or 0-255 (converted to 0-255 bytes).
    """
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise DataError(
            where,
            f"wrong dtype: {name} holds {x.dtype} values; images must be "
            "uint8 pixel values 0-255 (or floats in 0-1)",
        )
    if x.ndim not in (3, 4):
        raise DataError(
            where,
            f"{name} has shape {x.shape}; images must be (N, height, width) "
            "or (N, height, width, channels)",
        )
    if x.shape[0] == 0 or x.size == 0:
        raise DataError(where, f"{name} is empty (shape {x.shape})")
    if x.ndim == 4 and x.shape[3] not in (1, 3, 4) and x.shape[1] in (1, 3, 4):
        x = np.moveaxis(x, 1, 3)  # channels-first, as PyTorch stores it
    if x.ndim == 4:
        if x.shape[3] not in (1, 3, 4):
            # the channel axis is the short one: (N, 2, 28, 28) is channels-first with 2
            first = x.shape[1] < x.shape[3]
            channels = x.shape[1] if first else x.shape[3]
            layout = "channels-first (N, C, H, W)" if first else "(N, H, W, C)"
            raise DataError(
                where,
                f"{name} has shape {x.shape}: read as {layout}, {channels} channels; "
                "images need 1 (grey), 3 (RGB) or 4 (RGBA)",
            )
        x = x[..., 0] if x.shape[3] == 1 else x[..., :3]
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape)
            what = "NaN" if np.isnan(x[first]) else "infinite"
            raise DataError(
                where,
                f"{name} contains {int(bad.sum()):,} NaN or infinite "
                f"values (first: {what} in image {first[0]})",
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 255:
            raise DataError(
                where,
                f"{name} holds floats from {lo:g} to {hi:g}; pixel values must lie in 0-1 or 0-255",
            )
        scale = 255.0 if hi <= 1.0 else 1.0
        x = np.rint(x * scale).astype(np.uint8)
    elif x.dtype != np.uint8:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(
                where, f"{name} holds integers from {lo} to {hi}; pixel values must lie in 0-255"
            )
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def check_labels(y, where: Path | str, name: str) -> np.ndarray:
    """int64 (N,) class indices >= 0; DataError otherwise."""
    y = np.asarray(y)
    if y.dtype.kind not in "uif" or y.dtype == np.bool_:
        raise DataError(
            where,
            f"wrong dtype: {name} holds {y.dtype} values; labels must be integer class indices",
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = " (one-hot? store y.argmax(1))" if y.ndim == 2 else ""
        raise DataError(
            where, f"{name} has shape {y.shape}; labels must be (N,) class indices{hint}"
        )
    if y.size == 0:
        raise DataError(where, f"{name} is empty (shape {y.shape})")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DataError(
                where, f"{name} contains {int((~np.isfinite(y)).sum()):,} NaN or infinite labels"
            )
        if not (y == np.rint(y)).all():
            raise DataError(
                where,
                f"wrong dtype: {name} holds fractional values such as "
                f"{y[y != np.rint(y)][0]:g}; labels must be integer class indices",
            )
    # range checks on the values as stored: a uint64 2**64-1 must not turn into -1 first
    if y.min() < 0:
        first = int(np.flatnonzero(y < 0)[0])
        raise DataError(
            where,
            f"labels out of range: {name}[{first}] is {_number(y[first])}; "
            "labels must be class indices 0, 1, 2, ...",
        )
    if y.max() >= MAX_CLASSES:
        raise DataError(
            where,
            f"labels out of range: {name} goes up to {_number(y.max())}; "
            f"class indices must be below {MAX_CLASSES}",
        )
    return y.astype(np.int64)


def _number(value) -> str:
    value = value.item()
    return f"{value:g}" if isinstance(value, float) else str(value)


def make_split(name: str, source: str, arrays: dict, where: dict) -> DataSplit:
    """Check four arrays (keyed as NPZ_KEYS) and build the DataSplit. `where[key]` is the file
    to blame for each array; `where["pair"]` names both files of a pair in count messages."""
    x_train = check_images(arrays["x_train"], where["x_train"], "x_train")
    y_train = check_labels(arrays["y_train"], where["y_train"], "y_train")
    x_test = check_images(arrays["x_test"], where["x_test"], "x_test")
    y_test = check_labels(arrays["y_test"], where["y_test"], "y_test")
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            xw, yw = where[f"x_{split}"], where[f"y_{split}"]
            blame = xw if xw == yw else f"{xw} and {yw}"
            raise DataError(
                blame,
                f"label count != image count: {len(y):,} {split} labels "
                f"for {len(x):,} {split} images",
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            where["x_test"],
            f"test images are {_shape_text(x_test)} but training "
            f"images are {_shape_text(x_train)}; both must have the same size",
        )
    train_max = int(y_train.max())
    if int(y_test.max()) > train_max:
        raise DataError(
            where["y_test"],
            f"labels out of range: test labels go up to "
            f"{int(y_test.max())} but training labels only to {train_max}",
        )
    return DataSplit(name, x_train, y_train, x_test, y_test, train_max + 1, source)


def _shape_text(x: np.ndarray) -> str:
    """One image's shape: "28x28" or "32x32x3"."""
    return fmt_shape(x.shape[1:])


# -- formats ----------------------------------------------------------------------------------


def load_idx_folder(folder: str | Path, name: str | None = None) -> DataSplit:
    """An MNIST-style folder of four IDX files (raw or .gz, the usual name variants)."""
    folder = Path(folder)
    files = find_idx_files(folder)
    arrays, where = {}, {}
    for (split, kind), path in files.items():
        key = f"{'x' if kind == 'images' else 'y'}_{split}"
        arrays[key] = read_idx(path, kind)
        where[key] = path
    return make_split(name or folder.name, str(folder), arrays, where)


def load_npz(path: str | Path, name: str | None = None) -> DataSplit:
    """A Keras-style .npz with x_train, y_train, x_test, y_test (np.savez[_compressed])."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if not zipfile.is_zipfile(path):
        raise DataError(
            path,
            "not a .npz file (not a zip archive); expected a NumPy .npz "
            "with x_train, y_train, x_test, y_test, as np.savez writes",
        )
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            missing = [k for k in NPZ_KEYS if k not in members]
            if missing:
                raise DataError(
                    path,
                    f"missing arrays {', '.join(missing)}; the file holds "
                    f"{', '.join(members) or 'no arrays'} (expected x_train, "
                    "y_train, x_test, y_test)",
                )
            budget = memory_budget()
            for key in NPZ_KEYS:
                arrays[key] = _read_npy_member(archive, members[key], path, key, budget)
                budget -= arrays[key].nbytes
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise DataError(path, f"damaged .npz archive ({exc})") from None
    return make_split(name or path.stem, str(path), arrays, {k: path for k in NPZ_KEYS})


_MAX_DEFLATE_RATIO = 1032  # the most one compressed byte can expand to (zlib's limit)
_NPY_HEADER_MAX = 1 << 16


def _read_npy_member(archive, info, path: Path, key: str, budget: int) -> np.ndarray:
    """One array of a .npz, read without trusting it: its header is checked against the
    member's sizes and the memory budget before the array is allocated, and no more is
    decompressed than the header promises (np.load allocates first, so a forged header or a
    zip bomb would exhaust memory)."""
    fmt = np.lib.format
    with archive.open(info) as stream:
        try:
            version = fmt.read_magic(stream)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy format version {version}")
            read_header = (
                fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(stream, max_header_size=_NPY_HEADER_MAX)
            if any(d < 0 for d in shape):
                raise ValueError(f"negative dimension in shape {shape}")
        except Exception as exc:  # noqa: BLE001 - numpy raises ValueError, TokenError, ...
            text = " ".join(str(exc).split())[:160]
            raise DataError(path, f"{key} has a malformed .npy header ({text})") from None
        if dtype.hasobject:
            raise DataError(
                path,
                f"{key} cannot be read: it holds Python objects, which would need pickle to "
                "load (it can run code); store numbers",
            )
        count = math.prod(shape)
        need = count * dtype.itemsize
        data_size = info.file_size - stream.tell()
        if need != data_size:
            raise DataError(
                path,
                f"{key} is damaged: its header promises shape {tuple(shape)} ({need:,} bytes) "
                f"but the archive holds {max(data_size, 0):,} bytes for it",
            )
        if info.compress_type != zipfile.ZIP_STORED and need > (
            info.compress_size * _MAX_DEFLATE_RATIO + _NPY_HEADER_MAX
        ):
            raise DataError(
                path,
                f"{key} is damaged: it claims {need:,} bytes from {info.compress_size:,} "
                "compressed bytes, more than compression can give",
            )
        if need > budget:
            raise DataError(
                path,
                f"{key} has shape {tuple(shape)} ({need:,} bytes), more than the "
                f"{max(budget, 0) / 2**30:.1f} GB this machine can spare for the data set",
            )
        array = np.empty(count, dtype=dtype)
        view = memoryview(array.view(np.uint8))
        done = 0
        while done < need:
            n = stream.readinto(view[done : done + (1 << 20)])
            if not n:
                break
            done += n
        if done < need:
            raise DataError(path, f"{key} is truncated: {done:,} of {need:,} bytes")
    order = "F" if fortran else "C"
    array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape, order=order)
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def sample_path() -> Path:
    return resource_path("data", SAMPLE_FILE)


def _remote_names():
    from .download import REMOTES

    return REMOTES


def load_downloaded(name: str) -> DataSplit:
    """A named data set from the download cache; DataError saying how to download it."""
    from .cifar import load_cifar_folder
    from .download import REMOTES, dataset_cache_dir

    remote = REMOTES[name]
    folder = dataset_cache_dir(name)
    try:
        if name == "cifar10":
            split = load_cifar_folder(folder, name=name) if folder.is_dir() else None
        else:
            split = load_idx_folder(folder, name=name) if find_idx_files(folder) else None
    except DataError:
        split = None
    if split is None:
        raise DataError(
            folder,
            f"{remote.title} is not downloaded yet: download it with "
            f"`python3 -m netbuilder.data {name}` (or train with --data {name}, which "
            "downloads it first)",
        )
    if remote.class_names and not split.class_names:
        split = replace(split, class_names=remote.class_names)
    return split


def load_dataset(spec: str | Path = "sample", image_size=None) -> DataSplit:
    """A data set by spec: "sample" (bundled, the default), a downloaded data set by name
    ("mnist", "fashion-mnist", "kmnist", "cifar10"), an MNIST-style IDX folder, a CIFAR-10
    binary folder, an image folder (DIR/train/<class>/*.png ...) or a .npz file; DataError
    naming the file and the problem. `image_size` (height, width) is the size an image
    folder's images are brought to (the Input block's); other formats ignore it."""
    if isinstance(spec, str) and spec == "sample":
        try:
            path = sample_path()
        except FileNotFoundError as exc:
            raise DataError(None, f"the bundled sample is missing: {exc}") from None
        split = load_npz(path, name="sample")
        return split
    if isinstance(spec, str) and spec.lower() in _remote_names():
        return load_downloaded(spec.lower())
    path = Path(spec).expanduser()
    if path.is_dir():
        from .cifar import cifar_folder, load_cifar_folder
        from .images import is_image_folder, load_image_folder

        if cifar_folder(path) is not None:
            return load_cifar_folder(path)
        try:
            find_idx_files(path)
        except DataError:
            if is_image_folder(path):
                return load_image_folder(path, image_size)
            raise
        return load_idx_folder(path)
    if path.is_file():
        return load_npz(path)
    raise DataError(
        path,
        "no such file or folder; a data set is 'sample', 'mnist', 'fashion-mnist', "
        "'kmnist', 'cifar10', an MNIST-style IDX folder, a CIFAR-10 binary folder, "
        "an image folder (train/<class>/*.png ...) or a .npz file",
    )
