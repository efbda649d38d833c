"""Views and movement: reshape/view, squeeze/unsqueeze, permute/transpose, expand, repeat,
flip, clone, joining (cat, stack), PyTorch's strides, and the Tensor methods that call them.
"""

import builtins
import math

import numpy as np

from engine import _dtype
from engine._ops._graph import (
    _F32,
    _F64,
    _N,
    _as_tuple,
    _make,
    _norm_dim,
    _norm_dims,
    _numpy_aliases,
    _shape_str,
    _share_version,
    _unbroadcast,
    _wrap,
)


# PyTorch's strides are tracked only where its layout would not be contiguous (transposes,
# strided slices, expands), so that view() refuses exactly where PyTorch's view() does; the
# numpy arrays underneath keep whatever layout is fastest.
# PyTorch's strides are tracked only where its layout would not be contiguous (transposes,
# strided slices, expands), so that view() refuses exactly where PyTorch's view() does; the
# numpy arrays underneath keep whatever layout is fastest.
def _contiguous_strides(shape):
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= builtins.max(n, 1)
    return tuple(reversed(strides))


def _torch_strides(t):
    ts = t._tstrides
    return ts if ts is not None else _contiguous_strides(t._data.shape)


def _set_strides(t, strides):
    """Give ``t`` PyTorch's ``strides`` (kept only when they are not the contiguous ones)."""
    strides = tuple(strides)
    t._tstrides = None if strides == _contiguous_strides(t._data.shape) else strides
    return t


def _strides_contiguous(shape, strides):
    """PyTorch's is_contiguous: strides of size-1 dimensions do not matter."""
    return builtins.all(
        n == 1 or st == c for n, st, c in zip(shape, strides, _contiguous_strides(shape))
    )


def _view_strides(old_shape, old_strides, new_shape):
    """The strides a view of ``new_shape`` would have, or None where no view can exist
    (PyTorch's computeStride)."""
    if not old_shape:
        return (1,) * len(new_shape)
    numel = math.prod(old_shape)
    if numel == 0:
        return _contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        if d == 0 or (
            old_shape[d - 1] != 1 and old_strides[d - 1] != tensor_numel * chunk_base
        ):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = old_strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


# -------------------------------------------------------------------- reshaping and movement
def _infer_shape(shape, size, src_shape):
    shape = tuple(builtins.int(s) for s in shape)
    neg_at = [i for i, s in enumerate(shape) if s == -1]
    if len(neg_at) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg_at:
        if known == 0 or size % known:
            raise RuntimeError(f"shape '{_shape_str(shape)}' is invalid for input of size {size}")
        shape = shape[: neg_at[0]] + (size // known,) + shape[neg_at[0] + 1 :]
    elif known != size:
        raise RuntimeError(f"shape '{_shape_str(shape)}' is invalid for input of size {size}")
    return shape


def reshape(a, shape, name="ViewBackward0", view=False):
    """reshape(), or with ``view`` PyTorch's view(), which refuses where its layout needs a copy."""
    ad = a._data
    shape = _infer_shape(shape, ad.size, ad.shape)
    strides = None
    if a._tstrides is not None:
        strides = _view_strides(ad.shape, a._tstrides, shape)
        if strides is None:
            if view:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                    "instead."
                )
            name = "UnsafeViewBackward0"
    # numpy copies only when the memory layout forces it (e.g. an NCHW view of CNHW memory)
    out = ad.reshape(shape)
    src = ad.shape
    res = _make(out, (a,), _N(name), lambda g: (g.reshape(src),))
    if strides is not None:
        _set_strides(res, strides)
    if view or np.may_share_memory(out, ad):
        _share_version(res, a)
    return res


def flatten(a, start_dim=0, end_dim=-1):
    shape = a._data.shape
    if not shape:
        return reshape(a, (1,))
    s = _norm_dim(start_dim, len(shape))
    e = _norm_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return a
    n = 1
    for x in shape[s : e + 1]:
        n *= x
    return reshape(a, shape[:s] + (n,) + shape[e + 1 :])


def squeeze(a, dim=None):
    ad = a._data
    if dim is None:
        out = ad.squeeze()
        name = "SqueezeBackward0"
    else:
        dims = _norm_dims(dim, ad.ndim)
        dims = tuple(d for d in dims if ad.ndim and ad.shape[d] == 1)
        out = ad.squeeze(dims) if dims else ad
        name = "SqueezeBackward1"
    src = ad.shape
    res = _make(out, (a,), _N(name), lambda g: (g.reshape(src),))
    if a._tstrides is not None:
        gone = (
            [i for i in range(ad.ndim) if ad.shape[i] == 1] if dim is None else dims
        )
        _set_strides(res, tuple(st for i, st in enumerate(a._tstrides) if i not in gone))
    return _share_version(res, a)


def unsqueeze(a, dim):
    ad = a._data
    d = _norm_dim(dim, ad.ndim + 1)
    out = np.expand_dims(ad, d)
    res = _make(out, (a,), _N("UnsqueezeBackward0"), lambda g: (g.squeeze(d),))
    if a._tstrides is not None:
        st, shp = a._tstrides, ad.shape
        inner = st[d] * shp[d] if d < len(shp) else 1
        _set_strides(res, st[:d] + (inner,) + st[d:])
    return _share_version(res, a)


def permute(a, dims):
    ad = a._data
    if len(dims) != ad.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {ad.ndim} is not "
            f"equal to len(dims) = {len(dims)}"
        )
    dims = tuple(_norm_dim(d, ad.ndim) for d in dims)
    inv = tuple(np.argsort(dims))
    res = _make(ad.transpose(dims), (a,), _N("PermuteBackward0"), lambda g: (g.transpose(inv),))
    st = _torch_strides(a)
    _set_strides(res, tuple(st[d] for d in dims))
    return _share_version(res, a)


def transpose(a, dim0, dim1):
    ad = a._data
    d0, d1 = _norm_dim(dim0, ad.ndim), _norm_dim(dim1, ad.ndim)
    out = np.swapaxes(ad, d0, d1)
    res = _make(out, (a,), _N("TransposeBackward0"), lambda g: (np.swapaxes(g, d0, d1),))
    st = list(_torch_strides(a))
    st[d0], st[d1] = st[d1], st[d0]
    _set_strides(res, st)
    return _share_version(res, a)


def _transpose2(a):
    res = _make(a._data.T, (a,), _N("TBackward0"), lambda g: (g.T,))
    _set_strides(res, _torch_strides(a)[::-1])
    return _share_version(res, a)


def expand(a, sizes):
    ad = a._data
    nd = len(sizes) - ad.ndim
    if nd < 0:
        raise RuntimeError(
            f"expand(engine.FloatTensor{{{_shape_str(ad.shape)}}}, size={_shape_str(sizes)}): the "
            "number of sizes provided must be greater or equal to the number of dimensions in "
            "the tensor"
        )
    shape = tuple(ad.shape[i - nd] if s == -1 else s for i, s in enumerate(sizes))
    for i in range(len(shape) - 1, nd - 1, -1):  # PyTorch names the last dimension that fails
        have = ad.shape[i - nd]
        if have != 1 and have != shape[i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({shape[i]}) must match the existing size "
                f"({have}) at non-singleton dimension {i}.  Target sizes: "
                f"{_shape_str(sizes)}.  Tensor sizes: {_shape_str(ad.shape)}"
            )
    out = np.broadcast_to(ad, shape)
    src = ad.shape
    res = _make(out, (a,), _N("ExpandBackward0"), lambda g: (_unbroadcast(g, src),))
    st = _torch_strides(a)
    _set_strides(
        res,
        tuple(
            0 if i < nd or src[i - nd] != shape[i] else st[i - nd] for i in range(len(shape))
        ),
    )
    return _share_version(res, a)


def _repeat(a, sizes):
    ad = a._data
    out = np.tile(ad, sizes)
    src = ad.shape

    def backward(g):
        split = []
        for r, s in zip(sizes, src):
            split += [r, s]
        return (g.reshape(split).sum(axis=tuple(range(0, len(split), 2))),)

    return _make(out, (a,), _N("RepeatBackward0"), backward)


def flip(a, dims):
    axes = _norm_dims(dims, a._data.ndim)
    return _make(np.flip(a._data, axes), (a,), _N("FlipBackward0"), lambda g: (np.flip(g, axes),))


def clone(a):
    return _make(a._data.copy(), (a,), _N("CloneBackward0"), lambda g: (g,))


# -------------------------------------------------------------------- joining
def cat(tensors, dim=0):
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ref = tensors[0]._data
    d = _norm_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        s = t._data.shape
        if len(s) != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {len(s)}"
            )
        for k in range(len(s)):
            if k != d and s[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {s[k]} for tensor number {i} in the list."
                )
    datas = [t._data for t in tensors]
    out = np.concatenate(datas, axis=d)
    if out.dtype == _F64 and not builtins.any(x.dtype == _F64 for x in datas):
        out = out.astype(_F32)
    bounds = np.cumsum([x.shape[d] for x in datas])[:-1]

    def backward(g):
        parts = np.split(g, bounds, axis=d)
        return tuple(p if t.requires_grad else None for p, t in zip(parts, tensors))

    return _make(out, tuple(tensors), _N("CatBackward0"), backward)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {_shape_str(ref)} at entry "
                f"0 and {_shape_str(t._data.shape)} at entry {i}"
            )
    d = _norm_dim(dim, len(ref) + 1)
    out = np.stack([t._data for t in tensors], axis=d)

    def backward(g):
        return tuple(
            np.take(g, i, axis=d) if t.requires_grad else None for i, t in enumerate(tensors)
        )

    return _make(out, tuple(tensors), _N("StackBackward0"), backward)


class ViewMethods:
    """Tensor's view, reshape and movement methods."""

    __slots__ = ()

    @property
    def T(self):  # noqa: N802
        return self.permute(*range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self):  # noqa: N802
        if self._data.ndim < 2:
            raise RuntimeError(
                f"tensor.mT is only supported on matrices or batches of matrices. Got "
                f"{self._data.ndim}-D tensor."
            )
        return transpose(self, -2, -1)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
            return _wrap(self._data.view(shape[0].np))
        return reshape(self, _as_tuple(shape), "ViewBackward0", view=True)

    def reshape(self, *shape):
        return reshape(self, _as_tuple(shape), "ViewBackward0")

    def view_as(self, other):
        return reshape(self, other._data.shape, "ViewBackward0", view=True)

    def reshape_as(self, other):
        return reshape(self, other._data.shape, "ViewBackward0")

    def unflatten(self, dim, sizes):
        shape = self._data.shape
        d = _norm_dim(dim, len(shape))
        return reshape(self, shape[:d] + tuple(sizes) + shape[d + 1 :], "ViewBackward0")

    def permute(self, *dims):
        return permute(self, _as_tuple(dims))

    def t(self):
        if self._data.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D"
            )
        if self._data.ndim < 2:
            return self
        return _transpose2(self)

    def expand(self, *sizes):
        return expand(self, _as_tuple(sizes))

    def expand_as(self, other):
        return expand(self, other._data.shape)

    def repeat(self, *sizes):
        sizes = _as_tuple(sizes)
        x = self
        if len(sizes) > x.ndim:
            x = x.reshape((1,) * (len(sizes) - x.ndim) + x._data.shape)
        return _repeat(x, sizes)

    def contiguous(self, memory_format=None):
        return self if self.is_contiguous() else clone(self)

    def clone(self, memory_format=None):
        return clone(self)

    def flip(self, *dims):
        return flip(self, _as_tuple(dims))

    # an op whose parameters are the method's (the tensor first) serves as the method itself
    flatten = _numpy_aliases(flatten)
    squeeze = _numpy_aliases(squeeze)
    unsqueeze = _numpy_aliases(unsqueeze)
    transpose = transpose

    # ---------------------------------------------------------------- in place
    def squeeze_(self, dim=None):
        return self._inplace(self.squeeze(dim))

    def unsqueeze_(self, dim):
        return self._inplace(self.unsqueeze(dim))

    def resize_(self, *shape):
        self._data = np.resize(self._data, _as_tuple(shape))
        return self
