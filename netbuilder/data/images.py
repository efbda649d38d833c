"""Image folders, as torchvision's ImageFolder lays them out, decoded with Pillow.

    DIR/train/<class>/*.png|jpg|...   and   DIR/test/<class>/...
    or one tree DIR/<class>/... from which a seeded fifth of each class is held out as test

Classes are the folder names in sorted order. Every image becomes the same size (the Input
block's height and width when the caller knows them, else the most common size) by
prepare.py's bilinear resize, and grey when every image is grey, else RGB. The decoded arrays
are cached in the user cache, keyed by every file's path, size and modification time, so a
second load reads one compact file instead of decoding thousands.

Hostile folders are bounded: at most MAX_IMAGES files, MAX_PIXELS pixels per image (checked
from the header before decoding; Pillow's own bomb guard is set to the same figure), the
decoded set within the memory budget. An image that cannot be read stops the load with one
line naming it (and the others), never a silent skip.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
MAX_IMAGES = 1_000_000
MAX_PIXELS = 40_000_000  # per image: 40 megapixels, a big camera photo
MAX_CLASSES = 1000
TEST_FRACTION = 0.2  # held out of a single tree as the test set
CACHE_VERSION = 1
SHOWN_FAILURES = 5


def is_image_folder(path: Path) -> bool:
    """True when `path` looks like DIR/train/<class>/ or DIR/<class>/ holding images."""
    root = path / "train" if (path / "train").is_dir() else path
    try:
        for sub in root.iterdir():
            if sub.is_dir() and any(_image_files(sub)):
                return True
    except OSError:
        return False
    return False


def _image_files(folder: Path):
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(EXTENSIONS) and entry.is_file():
                    yield Path(entry.path)
    except OSError as exc:
        raise DataError(folder, f"cannot list the folder ({exc.strerror or exc})") from None


def _class_folders(root: Path) -> dict[str, list[Path]]:
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(root, f"cannot list the folder ({exc.strerror or exc})") from None
    classes = {}
    for sub in subs:
        files = sorted(_image_files(sub))
        if files:
            classes[sub.name] = files
    if not classes:
        raise DataError(
            root,
            "no class folders with images: expected <class>/*.png or *.jpg (one folder per class)",
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(root, f"{len(classes):,} class folders; at most {MAX_CLASSES} classes")
    return classes


def _listing(folder: Path):
    """(class names, [(path, label, split)]) of the folder's images."""
    train_root = folder / "train"
    if train_root.is_dir():
        train = _class_folders(train_root)
        test_root = folder / "test"
        test = _class_folders(test_root) if test_root.is_dir() else None
        names = sorted(train)
        if test is not None:
            unknown = sorted(set(test) - set(train))
            if unknown:
                raise DataError(
                    test_root,
                    f"test classes {', '.join(unknown)} have no training folder in {train_root}",
                )
    else:
        train, test = _class_folders(folder), None
        names = sorted(train)
    index = {name: k for k, name in enumerate(names)}
    items = []
    rng = np.random.default_rng(0)
    for name, files in train.items():
        if test is None:  # one tree: a seeded fifth of each class becomes the test set
            held = int(round(len(files) * TEST_FRACTION)) if len(files) > 1 else 0
            chosen = set(rng.permutation(len(files))[:held].tolist())
            items += [(f, index[name], "test" if i in chosen else "train")
                      for i, f in enumerate(files)]  # fmt: skip
        else:
            items += [(f, index[name], "train") for f in files]
    for name, files in (test or {}).items():
        items += [(f, index[name], "test") for f in files]
    if len(items) > MAX_IMAGES:
        raise DataError(folder, f"{len(items):,} images; at most {MAX_IMAGES:,} are read")
    if not any(split == "test" for _, _, split in items):
        raise DataError(folder, "no test images: add a test/<class>/ folder or more images")
    return tuple(names), items


def _open(path: Path):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's bomb guard at our figure
    image = Image.open(path)
    w, h = image.size
    if w * h > MAX_PIXELS:
        image.close()
        raise ValueError(f"{w}x{h}: over the {MAX_PIXELS:,} pixels allowed per image")
    return image


def _reason(exc: Exception) -> str:
    from PIL import Image

    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return f"over the {MAX_PIXELS:,} pixels allowed per image: a decompression bomb?"
    text = " ".join(str(exc).split())[:100]
    return text or type(exc).__name__


def _fail(folder: Path, failures: list) -> None:
    shown = "; ".join(f"{p.relative_to(folder)} ({why})" for p, why in failures[:SHOWN_FAILURES])
    more = len(failures) - SHOWN_FAILURES
    raise DataError(
        folder,
        f"{len(failures):,} image{'s' if len(failures) != 1 else ''} cannot be read: {shown}"
        + (f"; and {more:,} more" if more > 0 else "")
        + "; fix or remove them",
    )


def _headers(folder: Path, items):
    """Each image's (width, height) and whether all are grey; DataError naming bad files."""
    sizes, grey, failures = [], True, []
    for path, _, _ in items:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # Pillow's DecompressionBombWarning
                with _open(path) as image:
                    sizes.append(image.size)
                    grey = grey and image.mode in GREY_MODES
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad files
            failures.append((path, _reason(exc)))
    if failures:
        _fail(folder, failures)
    return sizes, grey


def _decode(path: Path, height: int, width: int, grey: bool) -> np.ndarray:
    from .prepare import resize_bilinear

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _open(path) as image:
            if image.format == "JPEG" and (image.width > 2 * width or image.height > 2 * height):
                image.draft("L" if grey else "RGB", (width, height))  # decode at a smaller scale
            pixels = np.asarray(image.convert("L" if grey else "RGB"))
    if pixels.shape[:2] != (height, width):
        planes = pixels[None] if grey else np.moveaxis(pixels, 2, 0)
        planes = resize_bilinear(planes.astype(np.float32), height, width)
        planes = np.clip(np.rint(planes), 0, 255).astype(np.uint8)
        pixels = planes[0] if grey else np.moveaxis(planes, 0, 2)
    return pixels


def _cache_key(folder: Path, items, size, grey) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_VERSION, str(folder.resolve()), size, grey]).encode())
    for path, label, split in items:
        st = path.stat()
        digest.update(f"\0{path}\0{label}\0{split}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _cache_path(key: str) -> Path:
    from .download import cache_dir

    return cache_dir() / "image-folders" / f"{key}.npz"


def _read_cache(path: Path):
    from .datasets import NPZ_KEYS, load_npz

    try:
        split = load_npz(path)
    except DataError:
        return None  # damaged or from elsewhere: decode again
    return {key: getattr(split, key) for key in NPZ_KEYS}


def _write_cache(path: Path, arrays) -> None:
    from engine.fileio import atomic_write

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buffer.getbuffer())
    except OSError:
        pass  # a read-only cache only costs the next load its speed


def load_image_folder(folder: str | Path, image_size=None, name: str | None = None, cache=True):
    """An image folder as a DataSplit. `image_size` (height, width) is the size every image
    is brought to; None takes the most common size among the images."""
    from engine.fileio import memory_budget

    from .datasets import make_split

    folder = Path(folder)
    names, items = _listing(folder)
    key = None
    if image_size is not None:
        height, width = (int(d) for d in image_size)
        if min(height, width) < 1 or height * width > MAX_PIXELS:
            raise DataError(folder, f"cannot bring images to {height}x{width}")
    arrays = None
    if cache and image_size is not None:
        # the grey/colour decision needs the headers; a cached colour set answers first
        for grey in (False, True):
            key = _cache_key(folder, items, (height, width), grey)
            if _cache_path(key).is_file():
                arrays = _read_cache(_cache_path(key))
                if arrays is not None:
                    break
    if arrays is None:
        sizes, grey = _headers(folder, items)
        if image_size is None:
            width, height = Counter(sizes).most_common(1)[0][0]
        need = len(items) * height * width * (1 if grey else 3)
        budget = memory_budget()
        if need > budget:
            raise DataError(
                folder,
                f"{len(items):,} images of {height}x{width} need {need:,} bytes, more than "
                f"the {budget / 2**30:.1f} GB this machine can spare for the data set",
            )
        key = _cache_key(folder, items, (height, width), grey) if cache else None
        cached = _read_cache(_cache_path(key)) if cache else None
        arrays = cached or _decode_all(folder, items, height, width, grey)
        if cache and cached is None:
            _write_cache(_cache_path(key), arrays)
    where = {k: folder for k in ("x_train", "y_train", "x_test", "y_test")}
    split = make_split(name or folder.name, str(folder), arrays, where)
    return replace(split, num_classes=len(names), class_names=names)


def _decode_all(folder: Path, items, height: int, width: int, grey: bool):
    shape = (height, width) if grey else (height, width, 3)
    out = {}
    failures = []
    for split in ("train", "test"):
        chosen = [(p, label) for p, label, s in items if s == split]
        images = np.empty((len(chosen), *shape), dtype=np.uint8)
        for i, (path, _) in enumerate(chosen):
            try:
                images[i] = _decode(path, height, width, grey)
            except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad files
                failures.append((path, _reason(exc)))
        out[f"x_{split}"] = images
        out[f"y_{split}"] = np.array([label for _, label in chosen], dtype=np.int64)
    if failures:
        _fail(folder, failures)
    return out
