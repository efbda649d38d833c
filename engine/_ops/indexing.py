"""Indexing: basic and advanced ``t[key]`` reads and writes, index_select, gather/scatter,
masked_fill, nonzero, sort/topk, and the Tensor methods that call them.
"""

import builtins

import numpy as np

from engine._ops._graph import (
    _I64,
    _N,
    _bump,
    _make,
    _norm_dim,
    _numpy_aliases,
    _raw,
    _return_type,
    _share_version,
    _unbroadcast,
    _wrap,
)
from engine._ops.views import _set_strides, _torch_strides
from engine.autograd.grad_mode import _state as _grad_state

Tensor = None  # set by engine.tensor once the class exists

sort_result = _return_type("sort")
topk_result = _return_type("topk")


# -------------------------------------------------------------------- t[key]
def _convert_key(key):
    if isinstance(key, Tensor):
        return key._data
    if isinstance(key, tuple):
        return tuple(k._data if isinstance(k, Tensor) else k for k in key)
    if isinstance(key, list):
        return np.asarray(key)
    return key


def _is_basic(key):
    if isinstance(key, tuple):
        return builtins.all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key)
    return key is None or key is Ellipsis or isinstance(key, (int, slice))


def index(a, key):
    ad = a._data
    key = _convert_key(key)
    try:
        out = ad[key]
    except IndexError as e:
        msg = str(e)
        if "out of bounds" in msg:
            raise IndexError(msg.replace("axis", "dimension")) from None
        raise IndexError(msg) from None
    basic = _is_basic(key)
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    if not (_grad_state.enabled and a.requires_grad):
        res = _wrap(out)
        return _basic_view(res, a, key) if basic else res
    shape, dt = ad.shape, ad.dtype

    def backward(g):
        full = np.zeros(shape, dtype=g.dtype if g.dtype.kind == "f" else dt)
        if basic:
            full[key] = g
        else:
            np.add.at(full, key, g)
        return (full,)

    if not basic:
        return _make(out, (a,), _N("IndexBackward0"), backward)
    return _basic_view(_make(out, (a,), _N(_basic_index_name(key)), backward), a, key)


def _basic_index_name(key):
    """PyTorch's node for a basic index: its last step, indices applied left to right and
    whole-dimension slices inside a tuple skipped."""
    if isinstance(key, slice):
        return "SliceBackward0"  # a lone slice, even a whole one, is a slice
    if not isinstance(key, tuple):
        key = (key,)
    name = "AliasBackward0"
    for k in key:
        if k is None:
            name = "UnsqueezeBackward0"
        elif isinstance(k, slice):
            if k != slice(None):
                name = "SliceBackward0"
        elif k is not Ellipsis:
            name = "SelectBackward0"
    return name


def _basic_view(res, a, key):
    """``res`` = ``a[key]`` for a basic key: a view in PyTorch, sharing the version counter,
    with PyTorch's strides."""
    items = key if isinstance(key, tuple) else (key,)
    shape, strides = a._data.shape, _torch_strides(a)
    explicit = builtins.sum(1 for k in items if k is not None and k is not Ellipsis)
    new_st, d = [], 0
    for k in items:
        if k is Ellipsis:
            for _ in range(len(shape) - explicit):
                new_st.append(strides[d])
                d += 1
        elif k is None:
            new_st.append(strides[d] * shape[d] if d < len(shape) else 1)
        elif isinstance(k, slice):
            new_st.append(strides[d] * (k.step or 1))
            d += 1
        else:
            d += 1
    new_st.extend(strides[d:])
    if len(new_st) == res._data.ndim:
        _set_strides(res, new_st)
    return _share_version(res, a)


def setitem(a, key, value):
    key = _convert_key(key)
    v = value._data if isinstance(value, Tensor) else value
    tracked = _grad_state.enabled and (
        a.requires_grad or (isinstance(value, Tensor) and value.requires_grad)
    )
    if not tracked:
        a._data[key] = v
        _bump(a)
        return
    if a.requires_grad and a.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    new = a._data.copy()
    new[key] = v
    basic = _is_basic(key)
    vshape = np.shape(v)
    ins = (a, value) if isinstance(value, Tensor) else (a,)

    def backward(g):
        ga = g.copy()
        ga[key] = 0
        if len(ins) == 1:
            return (ga,)
        gv = g[key] if basic else g[key]
        return ga, _unbroadcast(np.asarray(gv), vshape)

    a._inplace(_make(new, ins, _N("CopySlices"), backward))


# -------------------------------------------------------------------- selection along a dim
def index_select(a, dim, index):
    ad = a._data
    d = _norm_dim(dim, ad.ndim)
    idx = _raw(index).reshape(-1)
    out = np.take(ad, idx, axis=d)
    shape = ad.shape

    def backward(g):
        full = np.zeros(shape, dtype=g.dtype)
        np.add.at(full, (slice(None),) * d + (idx,), g)
        return (full,)

    return _make(out, (a,), _N("IndexSelectBackward0"), backward)


def nonzero(a, as_tuple=False):
    idx = np.nonzero(a._data)
    if as_tuple:
        return tuple(_wrap(i.astype(_I64, copy=False)) for i in idx)
    return _wrap(np.stack(idx, axis=1).astype(_I64, copy=False) if idx else np.zeros((1, 0), _I64))


def gather(a, dim, index):
    ad = a._data
    d = _norm_dim(dim, ad.ndim)
    idx = _raw(index)
    out = np.take_along_axis(ad, idx, axis=d)
    shape = ad.shape

    def backward(g):
        full = np.zeros(shape, dtype=g.dtype)
        # scatter-add: repeated indices add up
        grid = list(np.indices(idx.shape, sparse=True))
        grid[d] = idx
        np.add.at(full, tuple(grid), g)
        return (full,)

    return _make(out, (a,), _N("GatherBackward0"), backward)


def _scatter_grid(ad, dim, index, name):
    idx = _raw(index)
    if not isinstance(idx, np.ndarray) or idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    d = _norm_dim(dim, ad.ndim)
    if idx.ndim != builtins.max(ad.ndim, 1):
        raise RuntimeError(
            "Index tensor must have the same number of dimensions as self tensor"
        )
    grid = list(np.indices(idx.shape, sparse=True))
    grid[d] = idx
    return tuple(grid), idx.shape


def _src_part(src, shape):
    # PyTorch reads src only where index has entries
    return src[tuple(slice(0, n) for n in shape)]


def scatter(a, dim, index, src=None, value=None, reduce=None):
    """out = a with out[..., index[i], ...] = src[i] along ``dim`` (a number ``value`` too)."""
    if src is None:
        src = value
    ad = a._data
    grid, ishape = _scatter_grid(ad, dim, index, "scatter")
    out = ad.copy()
    if isinstance(src, Tensor):
        part = _src_part(src._data, ishape)
    else:
        part = np.asarray(src, dtype=ad.dtype)
    if reduce is None:
        out[grid] = part
    elif reduce == "add":
        np.add.at(out, grid, part)
    elif reduce == "multiply":
        np.multiply.at(out, grid, part)
    else:
        raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")
    if reduce is not None and (a.requires_grad or getattr(src, "requires_grad", False)):
        if _grad_state.enabled:
            raise RuntimeError(
                "scatter(): the derivative with reduce= is not implemented; use scatter_add "
                "for a differentiable sum"
            )
    sshape = src._data.shape if isinstance(src, Tensor) else None

    def backward(g):
        ga = g.copy()
        ga[grid] = 0
        if sshape is None:
            return (ga,)
        gs = np.zeros(sshape, dtype=g.dtype)
        gs[tuple(slice(0, n) for n in ishape)] = g[grid]
        return ga, gs

    if isinstance(src, Tensor):
        return _make(out, (a, src), _N("ScatterBackward0"), backward)
    return _make(out, (a,), _N("ScatterBackward1"), backward)


def scatter_add(a, dim, index, src):
    ad = a._data
    grid, ishape = _scatter_grid(ad, dim, index, "scatter_add")
    out = ad.copy()
    np.add.at(out, grid, _src_part(src._data, ishape).astype(ad.dtype, copy=False))
    sshape = src._data.shape

    def backward(g):
        gs = np.zeros(sshape, dtype=g.dtype)
        gs[tuple(slice(0, n) for n in ishape)] = g[grid]
        return g, gs

    return _make(out, (a, src), _N("ScatterAddBackward0"), backward)


def masked_fill(a, mask, value):
    m = _raw(mask)
    v = _raw(value)
    out = np.where(m, np.asarray(v, dtype=a._data.dtype), a._data)
    return _make(out, (a,), _N("MaskedFillBackward0"), lambda g: (np.where(m, 0, g),))


class IndexingMethods:
    """Tensor's indexing, slicing, gather/scatter and sorting methods."""

    __slots__ = ()

    def __getitem__(self, key):
        return index(self, key)

    def __setitem__(self, key, value):
        setitem(self, key, value)

    @_numpy_aliases
    def narrow(self, dim, start, length):
        d = _norm_dim(dim, self._data.ndim)
        key = (slice(None),) * d + (slice(start, start + length),)
        return self[key]

    @_numpy_aliases
    def select(self, dim, index):
        d = _norm_dim(dim, self._data.ndim)
        return self[(slice(None),) * d + (index,)]

    @_numpy_aliases
    def split(self, split_size, dim=0):
        n = self._data.shape[dim]
        if isinstance(split_size, int):
            sizes = [builtins.min(split_size, n - i) for i in range(0, n, split_size)]
        else:
            sizes = list(split_size)
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(dim, start, s))
            start += s
        return tuple(out)

    @_numpy_aliases
    def chunk(self, chunks, dim=0):
        n = self._data.shape[dim]
        step = -(-n // chunks)
        return self.split(step, dim)

    @_numpy_aliases
    def unbind(self, dim=0):
        return tuple(self.select(dim, i) for i in range(self._data.shape[dim]))

    @_numpy_aliases
    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return scatter(self, dim, index, src, value, reduce)

    @_numpy_aliases
    def sort(self, dim=-1, descending=False):
        idx = np.argsort(-self._data if descending else self._data, axis=dim, kind="stable")
        return sort_result(self.gather(dim, _wrap(idx)), _wrap(idx))

    @_numpy_aliases
    def argsort(self, dim=-1, descending=False):
        return self.sort(dim, descending).indices

    @_numpy_aliases
    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
        idx = np.argsort(-self._data if largest else self._data, axis=dim, kind="stable")
        idx = np.take(idx, np.arange(k), axis=dim)
        return topk_result(self.gather(dim, _wrap(idx)), _wrap(idx))

    # an op whose parameters are the method's (the tensor first) serves as the method itself
    index_select = _numpy_aliases(index_select)
    gather = _numpy_aliases(gather)
    scatter_add = _numpy_aliases(scatter_add)
    masked_fill = masked_fill
    nonzero = nonzero

    # ---------------------------------------------------------------- in place
    @_numpy_aliases
    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        return self._inplace_result(scatter(self, dim, index, src, value, reduce))

    @_numpy_aliases
    def scatter_add_(self, dim, index, src):
        return self._inplace_result(scatter_add(self, dim, index, src))

    def masked_fill_(self, mask, value):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(masked_fill(self, mask, value))
        np.copyto(self._data, _raw(value), where=np.broadcast_to(_raw(mask), self._data.shape))
        _bump(self)
        return self
