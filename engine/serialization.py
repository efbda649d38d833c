"""engine.save / engine.load: state dicts and checkpoints as safetensors files, never pickle.

Every file is a plain safetensors file: the tensors sit in its table and the structure around
them (nested dicts, lists, numbers, strings) is JSON in the header's metadata, so loading a file
can only ever build data. A model's state dict keeps PyTorch's key names as tensor names, so
``safetensors.torch.load_file(path)`` in PyTorch gives the same tensors; nested objects name
their tensors by path ("optimizer.state.0.exp_avg"). Any safetensors file written elsewhere (e.g.
by PyTorch) loads as a dict of tensors.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import safetensors.numpy

from engine.fileio import atomic_write, memory_budget
from engine.tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

_FORMAT_KEY = "engine.format"
_STRUCTURE_KEY = "engine.structure"
_CHECKSUM_KEY = "engine.crc32"  # per tensor, so flipped bytes are caught and named
_FORMAT_VERSION = 1

# safetensors dtype names -> numpy (little-endian on disk)
_DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}

_ZIP_MAGIC = b"PK\x03\x04"
_MAX_HEADER = 100 * 2**20  # safetensors' own limit on the header's size


def _crc(array: np.ndarray) -> int:
    little = np.require(array, dtype=array.dtype.newbyteorder("<"), requirements="C")
    return zlib.crc32(little.data)


class CheckpointError(ValueError):
    """A file engine.load cannot read, or an object engine.save cannot store; the message
    names the file (or the place in the object) and the problem."""


# ---- save ----------------------------------------------------------------------------------


class _Encoder:
    """Object tree -> (JSON-able structure, {tensor name: array})."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: list[str]) -> str:
        base = ".".join(path) or "tensor"
        name, n = base, 0
        while name in self.arrays:
            n += 1
            name = f"{base}#{n}"
        return name

    def _store(self, array: np.ndarray, path: list[str], where: str) -> str:
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise CheckpointError(
                f"engine.save cannot store the {array.dtype} array at {where}: "
                "safetensors holds bool, integer and float tensors"
            )
        name = self._name(path)
        # (np.ascontiguousarray would turn a 0-d array, such as an optimizer step, into 1-d)
        self.arrays[name] = np.require(array, requirements="C")
        return name

    def encode(self, obj, path: list[str], where: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            node = {"tensor": self._store(obj._data, path, where)}
            if obj.requires_grad:  # torch keeps the flag (a saved loss loads as a leaf)
                node["requires_grad"] = True
            return node
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._store(obj, path, where)}
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return self.encode(obj.item(), path, where)
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise CheckpointError(
                        f"engine.save cannot store the {type(key).__name__} key {key!r} at "
                        f"{where}: dict keys must be strings, numbers, booleans or None"
                    )
                items.append(
                    [self.encode(key, path, where),
                     self.encode(value, [*path, str(key)], f"{where}[{key!r}]")]
                )
            return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
        if isinstance(obj, (list, tuple)):
            values = [
                self.encode(v, [*path, str(i)], f"{where}[{i}]") for i, v in enumerate(obj)
            ]
            return {"tuple" if isinstance(obj, tuple) else "list": values}
        hint = (
            " (save model.state_dict() rather than the model)"
            if hasattr(obj, "state_dict") else ""
        )
        raise CheckpointError(
            f"engine.save cannot store the {type(obj).__module__}.{type(obj).__qualname__} at "
            f"{where}{hint}: it stores tensors, numpy arrays, numbers, strings, None, and "
            "dicts, lists and tuples of them; other objects would need pickle, which can run "
            "code when loaded"
        )


def _to_bytes(obj) -> bytes:
    encoder = _Encoder()
    try:
        structure = encoder.encode(obj, [], "obj")
    except RecursionError:
        raise CheckpointError("engine.save cannot store obj: it is nested too deeply") from None
    checksums = {key: _crc(array) for key, array in encoder.arrays.items()}
    metadata = {
        "format": "pt",  # what PyTorch tools expect in a safetensors header
        _FORMAT_KEY: str(_FORMAT_VERSION),
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False),
        _CHECKSUM_KEY: json.dumps(checksums, separators=(",", ":")),
    }
    return safetensors.numpy.save(encoder.arrays, metadata=metadata)


def save(obj, f) -> None:
    """Write a state dict (or any tree of dicts, lists, tuples, tensors, arrays, numbers and
    strings) to ``f``: a path (written atomically, see engine.fileio) or a binary file object.

    The file is safetensors whatever its suffix; ``.safetensors`` is the natural one.
    """
    data = _to_bytes(obj)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = Path(os.fspath(f))
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{path}: cannot save there, the folder {path.parent} does not exist"
        )
    try:
        atomic_write(path, data)
    except PermissionError:
        raise PermissionError(
            f"{path}: cannot save there, no permission to write in {path.parent}"
        ) from None


# ---- load ----------------------------------------------------------------------------------


def _fail(name: str, problem: str):
    raise CheckpointError(f"{name}: {problem}")


def _parse(data: bytes, name: str) -> tuple[dict[str, np.ndarray], dict]:
    """Check and read a safetensors file: (tensors in file order, metadata)."""
    size = len(data)
    # A safetensors file starts with its header length, then "{": anything else is foreign.
    # (Only then look for other formats: a header length's bytes may be anything.)
    if data[8:9] != b"{":
        if data[:4] == _ZIP_MAGIC:
            _fail(
                name,
                "this is a zip archive, as PyTorch's torch.save writes (a pickle inside); "
                "engine.load never unpickles, because unpickling can run code. In PyTorch, "
                "save the state dict with safetensors.torch.save_file(model.state_dict(), path) "
                "instead",
            )
        if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            _fail(
                name,
                "this is a pickle file; engine.load never unpickles, because unpickling can "
                "run code. Save it as safetensors instead",
            )
        if size <= 8:
            _fail(
                name,
                f"not a safetensors file: it is {size} bytes long, too short to hold a header",
            )
        _fail(name, "not a safetensors file: it does not start with a safetensors header")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > _MAX_HEADER:
        _fail(name, f"corrupt safetensors header: it claims {header_len:,} bytes")
    if header_len > size - 8:
        _fail(
            name,
            f"truncated: its header should be {header_len} bytes but only {size - 8} bytes "
            "follow the length field",
        )
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        _fail(name, f"corrupt safetensors header ({exc})")
    except RecursionError:
        _fail(name, "corrupt safetensors header: nested too deeply")
    if not isinstance(header, dict):
        _fail(name, "corrupt safetensors header: it is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        _fail(name, "corrupt safetensors header: __metadata__ is not an object")

    start = 8 + header_len
    body = size - start
    entries = []
    for key, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except KeyError as exc:
            if isinstance(info, dict) and "dtype" in info and exc.args[0] == info["dtype"]:
                _fail(name, f"tensor '{key}' has dtype {info['dtype']}, which engine cannot hold")
            _fail(name, f"corrupt safetensors header: tensor '{key}' lacks {exc}")
        except (TypeError, ValueError):
            _fail(name, f"corrupt safetensors header: tensor '{key}' has a malformed entry")
        if any(s < 0 for s in shape) or not 0 <= begin <= end:
            _fail(name, f"corrupt safetensors header: tensor '{key}' has a malformed entry")
        if end > body:
            _fail(
                name,
                f"truncated: tensor '{key}' ends at byte {start + end} but the file has "
                f"only {size} bytes",
            )
        count = math.prod(shape)
        if end - begin != count * dtype.itemsize:
            _fail(
                name,
                f"corrupt: tensor '{key}' of shape {list(shape)} needs "
                f"{count * dtype.itemsize} bytes but the header gives it {end - begin}",
            )
        entries.append((key, dtype, shape, count, start + begin))
    total = sum(count * dtype.itemsize for _, dtype, _, count, _ in entries)
    budget = memory_budget()
    if total > budget:
        _fail(
            name,
            f"its tensors need {total:,} bytes, more than the {budget / 2**30:.1f} GB this "
            "machine can spare for one file",
        )
    arrays: dict[str, np.ndarray] = {}
    for key, dtype, shape, count, offset in entries:
        array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        arrays[key] = array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
        del array  # a view of a memory map must be gone before the map closes
    return arrays, metadata


def _parse_file(path: Path, name: str):
    """_parse on a memory map of the file: only the tensors are copied into memory, after
    the header's sizes were checked against the file's real size and the memory budget."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < (1 << 16):
                return _parse(file.read(), name)
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, name)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{name}: is a folder, not a checkpoint file") from None
    except (ValueError, OSError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        reason = getattr(exc, "strerror", None) or exc
        raise CheckpointError(f"{name}: cannot read it ({reason})") from None


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], name: str) -> None:
        self.arrays = arrays
        self.name = name

    def _array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            _fail(self.name, f"corrupt: its structure refers to a tensor {key!r} it does not hold")
        return self.arrays[key]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict) and len(node) == 2 and node.get("requires_grad") is True:
            if "tensor" in node:
                t = Tensor._wrap(self._array(node["tensor"]))
                if t._data.dtype.kind == "f":
                    t.requires_grad = True
                return t
        if isinstance(node, dict) and len(node) == 1:
            (tag, value), = node.items()
            if tag == "tensor":
                return Tensor._wrap(self._array(value))
            if tag == "ndarray":
                return self._array(value)
            if tag == "float" and value in ("inf", "-inf", "nan"):
                return float(value)
            if tag in ("list", "tuple") and isinstance(value, list):
                items = [self.decode(v) for v in value]
                return tuple(items) if tag == "tuple" else items
            if tag in ("dict", "odict") and isinstance(value, list):
                out = OrderedDict() if tag == "odict" else {}
                for pair in value:
                    if not isinstance(pair, list) or len(pair) != 2:
                        break
                    out[self.decode(pair[0])] = self.decode(pair[1])
                else:
                    return out
        _fail(self.name, f"corrupt: its structure holds an entry engine cannot read: {node!r:.80}")


def load(f, map_location=None, weights_only=None, **_ignored_by_design):
    """Read what ``save`` wrote (or any safetensors file, as a dict of tensors) from a path or
    a binary file object.

    ``map_location`` may name the CPU (engine has no other device); ``weights_only`` is
    accepted for PyTorch scripts: loading is always data-only here.
    """
    if map_location is not None and not str(map_location).startswith("cpu"):
        raise ValueError(f"engine runs on the CPU only; cannot load to {map_location!r}")
    if hasattr(f, "read"):
        name = str(getattr(f, "name", "<stream>"))
        arrays, metadata = _parse(bytes(f.read()), name)
    else:
        path = Path(os.fspath(f))
        name = str(path)
        arrays, metadata = _parse_file(path, name)

    version = metadata.get(_FORMAT_KEY)
    if version is None:  # a plain safetensors file from elsewhere
        return {key: Tensor._wrap(array) for key, array in arrays.items()}
    if not str(version).isdigit() or int(version) > _FORMAT_VERSION:
        _fail(
            name,
            f"written in engine checkpoint format {version}; this engine reads format "
            f"{_FORMAT_VERSION} (update engine to read it)",
        )
    try:
        structure = json.loads(metadata.get(_STRUCTURE_KEY, ""))
        checksums = json.loads(metadata.get(_CHECKSUM_KEY, "{}"))
    except (TypeError, ValueError) as exc:
        _fail(name, f"corrupt: its engine metadata is not valid JSON ({exc})")
    except RecursionError:
        _fail(name, "corrupt: its structure is nested too deeply")
    if not isinstance(checksums, dict):
        _fail(name, "corrupt: its checksum metadata is not a JSON object")
    for key, array in arrays.items():
        expected = checksums.get(key)
        if expected is not None and _crc(array) != expected:
            _fail(name, f"corrupt: the bytes of tensor '{key}' do not match their checksum")
    try:
        return _Decoder(arrays, name).decode(structure)
    except RecursionError:
        _fail(name, "corrupt: its structure is nested too deeply")
