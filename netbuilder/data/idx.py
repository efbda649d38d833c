"""IDX files (the MNIST format, also Fashion-MNIST and KMNIST), raw or gzip-compressed.

Format: 2 zero bytes, a type byte, a dimension-count byte, then one big-endian uint32 per
dimension, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import zlib
from pathlib import Path

import numpy as np

from netbuilder.blocks.spec import fmt_shape

from .errors import DataError

# IDX type byte -> (numpy dtype, readable name)
IDX_TYPES = {
    0x08: (np.dtype(np.uint8), "unsigned bytes"),
    0x09: (np.dtype(np.int8), "signed bytes"),
    0x0B: (np.dtype(">i2"), "16-bit integers"),
    0x0C: (np.dtype(">i4"), "32-bit integers"),
    0x0D: (np.dtype(">f4"), "32-bit floats"),
    0x0E: (np.dtype(">f8"), "64-bit floats"),
}
_INTEGER_TYPES = (0x08, 0x09, 0x0B, 0x0C)

# The four files of an MNIST-style folder, by role.
ROLES = (
    ("train", "images"),
    ("train", "labels"),
    ("test", "images"),
    ("test", "labels"),
)
# train-images-idx3-ubyte, train-images.idx3-ubyte, t10k-labels-idx1-ubyte.gz, test_images...
# with an optional common prefix, as EMNIST's emnist-digits-train-images-idx3-ubyte.gz
_NAME_RE = re.compile(
    r"^(?P<prefix>.*?[-_.])?(?P<split>train|t10k|test)[-_.](?P<kind>images|labels)[-_.]idx(?P<ndim>\d)[-_.]ubyte"
    r"(?P<gz>\.gz)?$",
    re.IGNORECASE,
)


def canonical_name(split: str, kind: str) -> str:
    """The file name MNIST uses for a role: train-images-idx3-ubyte, t10k-labels-idx1-ubyte."""
    prefix = "train" if split == "train" else "t10k"
    return f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"


_MAX_DEFLATE_RATIO = 1032  # the most one compressed byte can expand to (zlib's limit)
_CHUNK = 1 << 20


def _header(head: bytes, path: Path, kind: str, more: bytes = b""):
    """Check an IDX header: (dtype, type code, dims, header length). `head` holds at least
    the first 4 bytes when the file has them; `more` the dimension fields after them."""
    want = "0x00000803 (IDX images)" if kind == "images" else "0x00000801 (IDX labels)"
    if len(head) < 4:
        raise DataError(path, f"only {len(head)} bytes long: too short to be an IDX file")
    magic = int.from_bytes(head[:4], "big")
    type_code, ndim = head[2], head[3]
    if head[0] != 0 or head[1] != 0 or type_code not in IDX_TYPES or ndim == 0:
        raise DataError(
            path, f"wrong magic number 0x{magic:08X}, expected {want}: this is not an IDX file"
        )
    dtype, type_name = IDX_TYPES[type_code]
    if kind == "images":
        if ndim not in (3, 4):
            hint = "; is this a labels file?" if ndim == 1 else ""
            raise DataError(
                path,
                f"wrong magic number 0x{magic:08X}: holds {ndim}-dimensional data, images need "
                f"3 (N, height, width) or 4 (N, height, width, channels){hint}",
            )
        if type_code != 0x08:
            raise DataError(
                path,
                f"wrong dtype: holds {type_name} (IDX type 0x{type_code:02X}), images "
                "must be unsigned bytes (type 0x08, pixel values 0-255)",
            )
    else:
        if ndim != 1:
            hint = "; is this an images file?" if ndim in (3, 4) else ""
            raise DataError(
                path,
                f"wrong magic number 0x{magic:08X}: holds {ndim}-dimensional data, labels need "
                f"1 dimension{hint}",
            )
        if type_code not in _INTEGER_TYPES:
            raise DataError(
                path,
                f"wrong dtype: holds {type_name} (IDX type 0x{type_code:02X}), labels "
                "must be integers (type 0x08)",
            )
    header = 4 + 4 * ndim
    if 4 + len(more) < header:
        raise DataError(
            path, f"truncated: the header needs {header} bytes, the file has {4 + len(more)}"
        )
    dims = tuple(int.from_bytes(more[4 * i : 4 + 4 * i], "big") for i in range(ndim))
    if dims[0] == 0:
        raise DataError(path, f"empty: the header says it holds 0 {kind}")
    if any(d == 0 for d in dims[1:]):
        raise DataError(path, f"empty: the header gives an item size of {dims[1:]}")
    return dtype, type_code, dims, header


def _shape_text(dims, kind) -> str:
    return f"{dims[0]:,} {kind}" + (f" of {fmt_shape(dims[1:])}" if len(dims) > 1 else "")


def _read_into(stream, array: np.ndarray) -> int:
    """Fill `array` from `stream` in chunks; the number of bytes read."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        n = stream.readinto(view[done : done + _CHUNK])
        if not n:
            break
        done += n
    return done


def _count_rest(stream, cap: int) -> int:
    """Bytes left in `stream`, counted up to `cap` (a bomb is not decompressed to its end)."""
    rest = 0
    while rest <= cap:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        rest += len(chunk)
    return rest


def _read_stream(stream, size: int | None, path: Path, kind: str, compressed: int | None):
    """Read an IDX file from `stream`: the header first, then exactly as much data as it
    promises, once that is known to fit the file (`size`, when not compressed) and the memory
    budget. Compressed data is never decompressed past what the header promises."""
    from engine.fileio import memory_budget

    head = stream.read(4)
    ndim = head[3] if len(head) >= 4 else 0
    more = stream.read(4 * ndim) if ndim else b""
    dtype, type_code, dims, header = _header(head, path, kind, more)
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    shape_text = _shape_text(dims, kind)
    have = None if size is None else size - header
    if have is not None and have < expected:
        raise DataError(
            path,
            f"truncated: the header promises {shape_text} ({expected:,} bytes of data), "
            f"the file holds {have:,}",
        )
    if have is not None and have > expected:
        raise DataError(
            path,
            f"{have - expected:,} unexpected bytes after the {shape_text} the header "
            "promises (wrong header or two files joined?)",
        )
    if compressed is not None and expected > compressed * _MAX_DEFLATE_RATIO:
        raise DataError(
            path,
            f"truncated: the header promises {shape_text} ({expected:,} bytes of data), more "
            f"than {compressed:,} compressed bytes can hold",
        )
    budget = memory_budget()
    if expected > budget:
        raise DataError(
            path,
            f"the header promises {shape_text} ({expected:,} bytes of data), more than the "
            f"{budget / 2**30:.1f} GB this machine can spare for one file",
        )
    data = np.empty(dims, dtype=dtype)
    got = _read_into(stream, data)
    if got < expected:
        raise DataError(
            path,
            f"truncated: the header promises {shape_text} ({expected:,} bytes of data), "
            f"the file holds {got:,}",
        )
    if compressed is not None:
        extra = _count_rest(stream, max(expected, _CHUNK))
        if extra:
            many = f"{extra:,}" if extra <= max(expected, _CHUNK) else f"more than {expected:,}"
            raise DataError(
                path,
                f"{many} unexpected bytes after the {shape_text} the header promises "
                "(wrong header or two files joined?)",
            )
    return data, type_code


def parse_idx(raw: bytes, path: Path, kind: str) -> np.ndarray:
    """Parse IDX bytes already in memory (see read_idx)."""
    return _finish(*_read_stream(io.BytesIO(raw), len(raw), path, kind, None), path, kind)


def _finish(data: np.ndarray, type_code: int, path: Path, kind: str) -> np.ndarray:
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    if kind == "labels":
        labels = data.astype(np.int64)
        if type_code != 0x08 and labels.min() < 0:
            first = int(np.flatnonzero(labels < 0)[0])
            raise DataError(
                path,
                f"labels out of range: label {int(labels[first])} at position {first} is "
                "negative; labels must be class indices 0, 1, 2, ...",
            )
        return labels
    return data


def read_idx(path: str | Path, kind: str) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed, recognised by its magic, not its name); kind
    is "images" or "labels". Memory is bounded by what the header promises, checked against
    the file's real size and the memory budget before anything is allocated."""
    if kind not in ("images", "labels"):
        raise ValueError(f"kind must be 'images' or 'labels', not {kind!r}")
    path = Path(path)
    if path.exists() and not (path.is_file() or path.is_dir()):  # a FIFO would block
        raise DataError(path, "is not a regular file, so not an IDX file")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(2) == b"\x1f\x8b":
                f.seek(0)
                with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                    result = _read_stream(stream, None, path, kind, size)
            else:
                f.seek(0)
                result = _read_stream(f, size, path, kind, None)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a folder, not an IDX file") from None
    except EOFError:
        raise DataError(path, "gzip data is truncated (the download was cut short?)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(path, f"damaged gzip file ({exc}); download it again") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    return _finish(*result, path, kind)


def find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """The four MNIST-style files of a folder by (split, kind); DataError naming what is
    missing and what was found."""
    try:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise DataError(folder, f"cannot list the folder ({exc.strerror or exc})") from None
    sets: dict[str, dict[tuple[str, str], list[str]]] = {}  # by name prefix
    for name in names:
        m = _NAME_RE.match(name)
        if m:
            split = "train" if m["split"].lower() == "train" else "test"
            files = sets.setdefault((m["prefix"] or "").lower(), {})
            files.setdefault((split, m["kind"].lower()), []).append(name)
    complete = [p for p, files in sets.items() if all(role in files for role in ROLES)]
    if len(complete) > 1:
        shown = ", ".join(f"{p}train-images..." if p else "train-images..." for p in complete)
        raise DataError(
            folder,
            f"holds {len(complete)} data sets ({shown}); move each into a folder of its own "
            "and give that folder",
        )
    found = sets[complete[0]] if complete else {}
    if not complete:  # report what the fullest set lacks
        for files in sets.values():
            if len(files) > len(found):
                found = files
    missing = [role for role in ROLES if role not in found]
    if missing:
        wanted = ", ".join(canonical_name(*role) + "[.gz]" for role in missing)
        npzs = [n for n in names if n.lower().endswith(".npz")]
        npz_hint = f"; to use {npzs[0]}, give the file itself" if npzs else ""
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        raise DataError(
            folder,
            f"not a complete MNIST-style IDX folder: missing {wanted}; found "
            f"{shown or 'no files'} (the folder needs train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, "
            "each raw or .gz)" + npz_hint,
        )
    # prefer the uncompressed copy when both are present: it loads faster
    return {
        role: folder / sorted(found[role], key=lambda n: n.lower().endswith(".gz"))[0]
        for role in ROLES
    }
