"""Tensor factories of the torch-like namespace."""

import builtins

import numpy as np

from engine import _dtype, _random
from engine.tensor import Tensor, _as_tuple, _to_array, _wrap

_F32 = np.dtype(np.float32)


def _np_dtype(dtype, default=_F32):
    return default if dtype is None else _dtype.to_numpy_dtype(dtype)


def _finish(arr, requires_grad, device=None):
    if device is not None:
        _dtype.place(device)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    if device is not None:
        _dtype.place(device)
    if isinstance(data, Tensor):
        arr = data._data.copy() if dtype is None else data._data.astype(_np_dtype(dtype))
    else:
        arr = _to_array(data, None if dtype is None else _np_dtype(dtype))
        if arr is data:
            arr = arr.copy()
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    if isinstance(data, np.ndarray) and dtype is None:
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    if builtins.any(s < 0 for s in array.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with "
            "negative strides are not currently supported. (You can probably work around this "
            "by making a copy of your array  with array.copy().) "
        )
    _dtype.from_numpy_dtype(array.dtype)
    return _wrap(array)


def _shape(size):
    return tuple(builtins.int(s) for s in _as_tuple(size))


def _size(size, keyword, name):
    """The shape from positional sizes or PyTorch's ``size=`` keyword (not both)."""
    if keyword is not None:
        if size:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        return _shape((keyword,))
    return _shape(size)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, **kw):
    shape = _size(size, kw.pop("size", None), "zeros")
    _no_more(kw, "zeros")
    return _finish(np.zeros(shape, dtype=_np_dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, **kw):
    shape = _size(size, kw.pop("size", None), "ones")
    _no_more(kw, "ones")
    return _finish(np.ones(shape, dtype=_np_dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None, **kw):
    shape = _size(size, kw.pop("size", None), "empty")
    _no_more(kw, "empty")
    return _finish(np.empty(shape, dtype=_np_dtype(dtype)), requires_grad, device)


def _no_more(kw, name):
    if kw:
        raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(kw))}'")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dtype.bool_
        elif isinstance(fill_value, builtins.int):
            dtype = _dtype.int64
    arr = np.full(_shape((size,)), fill_value, dtype=_np_dtype(dtype))
    return _finish(arr, requires_grad, device)


def _like(t, dtype):
    return t._data.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)


def zeros_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.zeros(t._data.shape, dtype=_like(t, dtype)), requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.ones(t._data.shape, dtype=_like(t, dtype)), requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.empty(t._data.shape, dtype=_like(t, dtype)), requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return _finish(np.full(t._data.shape, fill_value, dtype=_like(t, dtype)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    shape = _size(size, kw.pop("size", None), "randn")
    _no_more(kw, "randn")
    dt = _np_dtype(dtype)
    arr = _random.rng(generator).standard_normal(shape, dtype=np.float64).astype(dt)
    return _finish(arr, requires_grad, device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    shape = _size(size, kw.pop("size", None), "rand")
    _no_more(kw, "rand")
    dt = _np_dtype(dtype)
    arr = _random.rng(generator).random(shape, dtype=np.float64).astype(dt)
    return _finish(arr, requires_grad, device)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t._data.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t._data.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randint(
    low, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False
):
    if size is None and isinstance(high, (tuple, list, _dtype.Size)):
        low, high, size = 0, low, high
    elif high is not None and size is None:
        raise TypeError("randint() missing required argument 'size'")
    elif high is None:
        if size is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high = 0, low  # randint(high, size=...)
    arr = _random.rng(generator).integers(low, high, _shape((size,)), dtype=np.int64)
    return _finish(arr.astype(_np_dtype(dtype, np.dtype(np.int64))), requires_grad, device)


def randint_like(t, low, high=None, dtype=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, t._data.shape, dtype=dtype)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    arr = _random.rng(generator).permutation(n).astype(_np_dtype(dtype, np.dtype(np.int64)))
    return _wrap(arr)


def normal(
    mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
):
    m, s = getattr(mean, "_data", mean), getattr(std, "_data", std)
    shape = _shape((size,)) if size is not None else np.broadcast(m, s).shape
    ref = m if isinstance(m, np.ndarray) else s
    default = ref.dtype if isinstance(ref, np.ndarray) and ref.dtype.kind == "f" else _F32
    arr = _random.rng(generator).normal(m, s, shape).astype(_np_dtype(dtype, default))
    return _finish(arr, requires_grad, device)


def bernoulli(input, generator=None):  # noqa: A002
    p = input._data
    return _wrap((_random.rng(generator).random(p.shape) < p).astype(p.dtype))


def multinomial(input, num_samples, replacement=False, generator=None):  # noqa: A002
    p = input._data.astype(np.float64)
    rng = _random.rng(generator)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack(
        [rng.choice(r.size, num_samples, replace=replacement, p=r / r.sum()) for r in rows]
    )
    return _wrap(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = (start, end, step)
    if dtype is None:
        is_float = builtins.any(isinstance(v, float) for v in vals)
        dt = _F32 if is_float else np.dtype(np.int64)
    else:
        dt = _np_dtype(dtype)
    arr = np.arange(start, end, step, dtype=np.float64).astype(dt)
    return _finish(arr, requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    dt = _np_dtype(dtype)
    if dt != _F32 or steps < 2:
        return _finish(np.linspace(start, end, steps).astype(dt), requires_grad)
    # PyTorch's float32 kernel: the first half counts up from start, the second down from end,
    # each value one fused multiply-add (float64 holds the exact product of two float32s)
    s, e = np.float32(start), np.float32(end)
    step = np.float64((e - s) / np.float32(steps - 1))
    i = np.arange(steps, dtype=np.float64)
    half = steps // 2
    out = np.empty(steps, dtype=_F32)
    out[:half] = np.float64(s) + step * i[:half]
    out[half:] = np.float64(e) - step * (steps - 1 - i[half:])
    return _finish(out, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype)), requires_grad, device)


def manual_seed(seed):
    return _random.manual_seed(seed)
