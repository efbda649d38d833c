"""CIFAR-10's binary version (cifar-10-binary.tar.gz): never the pickled Python version.

A folder `cifar-10-batches-bin` holds data_batch_1.bin ... data_batch_5.bin, test_batch.bin
and batches.meta.txt. Each .bin file is a run of 3,073-byte records: one label byte (0-9),
then a 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, rows top to bottom.
There is no header, so the record count comes from the file's real size, and the whole
data set is checked against the memory budget before anything is allocated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .errors import DataError

FOLDER_NAME = "cifar-10-batches-bin"
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE  # label byte + RGB planes
NUM_CLASSES = 10
TEST_FILE = "test_batch.bin"
META_FILE = "batches.meta.txt"
MAX_META_BYTES = 64 * 1024  # ten short names; a bigger file is not CIFAR's
_TRAIN_RE = re.compile(r"^data_batch_(\d{1,3})\.bin$")


def cifar_folder(path: Path) -> Path | None:
    """The folder holding the batches when `path` is one or its parent, else None."""
    for folder in (path, path / FOLDER_NAME):
        if (folder / TEST_FILE).is_file() or (folder / "data_batch_1.bin").is_file():
            return folder
    return None


def train_files(folder: Path) -> list[Path]:
    """data_batch_1.bin, data_batch_2.bin, ... in order; DataError when one is missing."""
    try:
        numbers = sorted(
            int(m[1]) for p in folder.iterdir() if (m := _TRAIN_RE.match(p.name)) and p.is_file()
        )
    except OSError as exc:
        raise DataError(folder, f"cannot list the folder ({exc.strerror or exc})") from None
    if not numbers:
        raise DataError(
            folder,
            "not a complete CIFAR-10 binary folder: no data_batch_1.bin (the training "
            "batches of cifar-10-binary.tar.gz)",
        )
    missing = [n for n in range(1, numbers[-1] + 1) if n not in numbers]
    if missing:
        names = ", ".join(f"data_batch_{n}.bin" for n in missing)
        raise DataError(folder, f"not a complete CIFAR-10 binary folder: {names} missing")
    return [folder / f"data_batch_{n}.bin" for n in numbers]


def _record_count(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if size == 0:
        raise DataError(path, "empty file: a CIFAR-10 batch holds 3,073-byte records")
    if size % RECORD:
        hint = (
            " (CIFAR-100's binary files have 3,074-byte records: only CIFAR-10 is read)"
            if size % (RECORD + 1) == 0
            else " (truncated download?)"
        )
        raise DataError(
            path,
            f"{size:,} bytes is not a whole number of 3,073-byte CIFAR-10 records: "
            f"{size // RECORD:,} records and {size % RECORD:,} bytes over{hint}",
        )
    return size // RECORD


def _read_records(path: Path, out: np.ndarray) -> None:
    """Fill `out` (uint8 (n, RECORD)) with the file's records, exactly its size."""
    view = memoryview(out.reshape(-1))
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != len(view):
                raise DataError(path, "changed size while being read")
            done = 0
            while done < len(view):
                n = f.readinto(view[done : done + (1 << 22)])
                if not n:
                    break
                done += n
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if done < len(view):
        raise DataError(path, f"truncated while reading: {done:,} of {len(view):,} bytes")


def read_batches(paths: list[Path], budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 32, 32, 3) and labels int64 (N,) of CIFAR-10 binary batch files."""
    counts = [_record_count(p) for p in paths]
    total = sum(counts)
    if total * RECORD > budget:
        raise DataError(
            paths[0].parent,
            f"{total:,} images ({total * RECORD:,} bytes) are more than the "
            f"{max(budget, 0) / 2**30:.1f} GB this machine can spare for the data set",
        )
    records = np.empty((total, RECORD), dtype=np.uint8)
    start = 0
    for path, count in zip(paths, counts, strict=True):
        _read_records(path, records[start : start + count])
        labels = records[start : start + count, 0]
        if labels.max() >= NUM_CLASSES:
            first = int(np.flatnonzero(labels >= NUM_CLASSES)[0])
            raise DataError(
                path,
                f"labels out of range: record {first} has label {int(labels[first])}; "
                "CIFAR-10 labels are 0-9 (is this a CIFAR-100 file?)",
            )
        start += count
    images = records[:, 1:].reshape(total, 3, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].astype(np.int64)


def read_class_names(folder: Path) -> tuple[str, ...]:
    """The names in batches.meta.txt (one a line), or () when the file is absent."""
    path = folder / META_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_META_BYTES + 1)
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_META_BYTES:
        raise DataError(path, f"over {MAX_META_BYTES:,} bytes: not CIFAR-10's class names")
    text = raw.decode("utf-8", errors="replace")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != NUM_CLASSES:
        raise DataError(
            path,
            f"holds {len(names)} class names; CIFAR-10 has {NUM_CLASSES}, one a line",
        )
    return tuple(name[:40] for name in names)


def load_cifar_folder(path: str | Path, name: str | None = None):
    """A CIFAR-10 binary folder (or its parent) as a DataSplit with the class names."""
    from engine.fileio import memory_budget

    from .datasets import DataSplit

    path = Path(path)
    folder = cifar_folder(path)
    if folder is None:
        raise DataError(path, f"no CIFAR-10 binary batches here ({TEST_FILE} and data_batch_N.bin)")
    if not (folder / TEST_FILE).is_file():
        raise DataError(folder, f"not a complete CIFAR-10 binary folder: {TEST_FILE} missing")
    budget = memory_budget()
    x_train, y_train = read_batches(train_files(folder), budget)
    x_test, y_test = read_batches([folder / TEST_FILE], budget - x_train.nbytes)
    classes = read_class_names(folder)
    num_classes = NUM_CLASSES if classes else int(max(y_train.max(), y_test.max())) + 1
    label = name or (path.name if folder == path else f"{path.name}/{FOLDER_NAME}")
    return DataSplit(
        label, x_train, y_train, x_test, y_test, num_classes, str(folder), class_names=classes
    )
