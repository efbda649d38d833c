"""default_collate / default_convert: samples -> batched tensors, with PyTorch's rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableSequence, Sequence

import numpy as np

from engine.tensor import Tensor

_ERROR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}"
)


def _stack(arrays: list[np.ndarray]) -> Tensor:
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    return Tensor._wrap(np.stack(arrays))


def _same_mapping_type(original, values: dict):
    """``values`` in a copy of ``original`` (keeping its mapping type), or as a plain dict
    where that type cannot be copied and updated, as PyTorch."""
    try:
        clone = copy.copy(original)
        clone.update(values)
        return clone
    except TypeError:
        return values


def default_collate(batch):
    """Stack tensors, arrays and numbers along a new first dimension; recurse into dicts,
    named tuples and sequences (a batch of ``(x, y)`` pairs becomes ``[xs, ys]``)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b._data for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(_ERROR.format(elem.dtype))
        return _stack([np.asarray(b) for b in batch])
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USO":
            raise TypeError(_ERROR.format(elem.dtype))
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _same_mapping_type(elem, collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [list(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        try:
            if isinstance(elem, MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = default_collate(samples)
                return clone
            return type(elem)([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data):
    """Numpy arrays and scalars become tensors, inside dicts and sequences too (no batching)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return Tensor._wrap(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "USO":
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        return _same_mapping_type(data, converted)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
