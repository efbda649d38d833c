"""Reductions: sum/mean/var/std, max/min with indices, arg reductions, norms, and the ops that
normalise along a dim (logsumexp, softmax, log_softmax, cumsum), with their Tensor methods.
"""

import builtins

import numpy as np

from engine import _dtype
from engine._ops._graph import (
    _I64,
    _N,
    _make,
    _norm_dim,
    _norm_dims,
    _numpy_aliases,
    _return_type,
    _save,
    _wrap,
)
from engine._ops.elementwise import abs, maximum, minimum, pow, sqrt

Tensor = None  # set by engine.tensor once the class exists

max_result = _return_type("max")
min_result = _return_type("min")


def _reduce_grad(g, shape, axes, keepdim):
    if axes is not None and not keepdim:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def sum(a, dim=None, keepdim=False, dtype=None):  # noqa: A001
    ad = a._data
    axes = _norm_dims(dim, ad.ndim)
    if dtype is not None:
        out = ad.sum(axis=axes, keepdims=keepdim, dtype=_dtype.to_numpy_dtype(dtype))
    elif ad.dtype.kind in "biu":
        out = ad.sum(axis=axes, keepdims=keepdim, dtype=_I64)
    else:
        out = ad.sum(axis=axes, keepdims=keepdim)
    out = np.asarray(out)
    shape = ad.shape
    return _make(
        out,
        (a,),
        _N("SumBackward0" if dim is None else "SumBackward1"),
        lambda g: (_reduce_grad(g, shape, axes, keepdim),),
    )


def mean(a, dim=None, keepdim=False, dtype=None):
    ad = a._data
    if ad.dtype.kind != "f" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {a.dtype.name.capitalize()}"
        )
    axes = _norm_dims(dim, ad.ndim)
    out = np.asarray(ad.mean(axis=axes, keepdims=keepdim))
    if out.dtype != ad.dtype and ad.dtype.kind == "f":
        out = out.astype(ad.dtype)
    n = ad.size // builtins.max(out.size, 1) if ad.size else 0
    shape = ad.shape
    return _make(
        out,
        (a,),
        _N("MeanBackward0" if dim is None else "MeanBackward1"),
        lambda g: (_reduce_grad(g / n, shape, axes, keepdim),),
    )


def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if correction is None:
        correction = 0 if unbiased is False else 1
    ad = a._data
    axes = _norm_dims(dim, ad.ndim)
    mu = ad.mean(axis=axes, keepdims=True)
    diff = ad - mu
    n = ad.size // builtins.max(np.asarray(mu).size, 1)
    out = np.asarray(
        np.sum(diff * diff, axis=axes, keepdims=keepdim) / builtins.max(n - correction, 0)
    )
    out = out.astype(ad.dtype, copy=False)
    shape = ad.shape

    def backward(g):
        g = _reduce_grad(g, shape, axes, keepdim)
        return (g * 2 * diff / builtins.max(n - correction, 0),)

    return _make(out, (a,), _N("VarBackward0"), backward)


def _norm2(a, dim, keepdim):
    """The 2-norm as one node (LinalgVectorNormBackward0, as PyTorch)."""
    ad = a._data
    axes = _norm_dims(dim, ad.ndim)
    out = np.asarray(np.sqrt(np.sum(ad * ad, axis=axes, keepdims=keepdim)))
    shape = ad.shape

    def backward(g):
        o = out if keepdim or axes is None else np.expand_dims(out, axes)
        gg = g if keepdim or axes is None else np.expand_dims(g, axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(o == 0, 0, gg / o).astype(ad.dtype, copy=False)
        return (np.broadcast_to(scale, shape) * ad,)

    return _make(out, (a,), _N("LinalgVectorNormBackward0"), backward)


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction))


def _minmax(a, dim, keepdim, is_max):
    ad = a._data
    name = "Max" if is_max else "Min"
    if dim is None:
        if ad.size == 0:
            raise RuntimeError(
                f"{name.lower()}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        out = np.asarray(ad.max() if is_max else ad.min())

        def backward(g):
            # the gradient is shared evenly between tied extremes, as PyTorch
            mask = ad == out
            return (mask * (g / builtins.float(mask.sum())),)

        return _make(out, (a,), _N(name + "Backward1"), backward)
    d = _norm_dim(dim, ad.ndim)
    idx = np.argmax(ad, axis=d, keepdims=True) if is_max else np.argmin(ad, axis=d, keepdims=True)
    vals = np.take_along_axis(ad, idx, axis=d)
    shape = ad.shape
    if not keepdim:
        vals = vals.squeeze(d)

    def backward(g):
        full = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(full, idx, g if keepdim else np.expand_dims(g, d), axis=d)
        return (full,)

    values = _make(vals, (a,), _N(name + "Backward0"), backward)
    indices = _wrap(idx if keepdim else idx.squeeze(d))
    return (max_result if is_max else min_result)(values, indices)


def max(a, dim=None, keepdim=False):  # noqa: A001
    if isinstance(dim, Tensor):
        return maximum(a, dim)
    return _minmax(a, dim, keepdim, True)


def min(a, dim=None, keepdim=False):  # noqa: A001
    if isinstance(dim, Tensor):
        return minimum(a, dim)
    return _minmax(a, dim, keepdim, False)


def amax(a, dim=(), keepdim=False):
    ad = a._data
    axes = _norm_dims(dim, ad.ndim) if dim != () else None
    out = np.asarray(ad.max(axis=axes, keepdims=keepdim))

    def backward(g):
        o = out if keepdim or axes is None else np.expand_dims(out, axes)
        gg = g if keepdim or axes is None else np.expand_dims(g, axes)
        mask = ad == o
        return (mask * gg / mask.sum(axis=axes, keepdims=True).astype(g.dtype),)

    return _make(out, (a,), _N("AmaxBackward0"), backward)


def _check_arg_reduction(name, ad, dim):
    """PyTorch's IndexError for argmax/argmin over nothing (numpy raises ValueError)."""
    if dim is None:
        if ad.size == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
    elif ad.ndim and ad.shape[_norm_dim(dim, ad.ndim)] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")


def argmax(a, dim=None, keepdim=False):
    ad = a._data
    _check_arg_reduction("argmax", ad, dim)
    if dim is None:
        r = np.asarray(np.argmax(ad))
        return _wrap(r.reshape((1,) * ad.ndim) if keepdim else r)
    return _wrap(np.argmax(ad, axis=_norm_dim(dim, ad.ndim), keepdims=keepdim))


def argmin(a, dim=None, keepdim=False):
    ad = a._data
    _check_arg_reduction("argmin", ad, dim)
    if dim is None:
        return _wrap(np.asarray(np.argmin(ad)))
    return _wrap(np.argmin(ad, axis=_norm_dim(dim, ad.ndim), keepdims=keepdim))


# -------------------------------------------------------------------- along a dim
def _logsumexp_np(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def logsumexp(a, dim, keepdim=False):
    ad = a._data
    axes = _norm_dims(dim, ad.ndim)
    full = _logsumexp_np(ad, axes)
    out = full if keepdim else np.squeeze(full, axes)

    def backward(g):
        gg = g if keepdim else np.expand_dims(g, axes)
        return (gg * np.exp(ad - full),)

    return _make(out, (a,), _N("LogsumexpBackward0"), backward)


def softmax(a, dim=None, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    ad = a._data
    if dim is None:
        dim = 0 if ad.ndim in (0, 1, 3) else 1
    dim = _norm_dim(dim, ad.ndim)  # PyTorch's IndexError, not numpy's AxisError
    e = np.exp(ad - np.max(ad, axis=dim, keepdims=True))
    out = e / np.sum(e, axis=dim, keepdims=True)

    def backward(g):
        return ((g - np.sum(g * out, axis=dim, keepdims=True)) * out,)

    res = _make(out, (a,), _N("SoftmaxBackward0"), backward)
    return _save(res, res)


def log_softmax(a, dim=None, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    ad = a._data
    if dim is None:
        dim = 0 if ad.ndim in (0, 1, 3) else 1
    dim = _norm_dim(dim, ad.ndim)  # PyTorch's IndexError, not numpy's AxisError
    out = ad - _logsumexp_np(ad, dim)

    def backward(g):
        return (g - np.exp(out) * np.sum(g, axis=dim, keepdims=True),)

    res = _make(out, (a,), _N("LogSoftmaxBackward0"), backward)
    return _save(res, res)


def cumsum(a, dim, dtype=None):
    ad = a._data
    d = _norm_dim(dim, ad.ndim)
    if dtype is not None:
        out = np.cumsum(ad, axis=d, dtype=_dtype.to_numpy_dtype(dtype))
    else:
        out = np.cumsum(ad, axis=d, dtype=_I64 if ad.dtype.kind in "biu" else None)

    def backward(g):
        return (np.flip(np.cumsum(np.flip(g, d), axis=d), d),)

    return _make(out, (a,), _N("CumsumBackward0"), backward)


class ReductionMethods:
    """Tensor's reduction methods (numpy's axis= and keepdims= accepted too)."""

    __slots__ = ()

    # an op whose parameters are the method's (the tensor first) serves as the method itself
    sum = _numpy_aliases(sum)
    mean = _numpy_aliases(mean)
    var = _numpy_aliases(var)
    std = _numpy_aliases(std)
    max = _numpy_aliases(max)
    min = _numpy_aliases(min)
    amax = _numpy_aliases(amax)
    argmax = _numpy_aliases(argmax)
    argmin = _numpy_aliases(argmin)
    logsumexp = _numpy_aliases(logsumexp)
    cumsum = _numpy_aliases(cumsum)

    @_numpy_aliases
    def prod(self, dim=None, keepdim=False):
        d = self._data.prod() if dim is None else self._data.prod(axis=dim, keepdims=keepdim)
        if self.requires_grad:
            raise RuntimeError("prod() has no gradient in engine; detach() the input first")
        return _wrap(np.asarray(d))

    @_numpy_aliases
    def all(self, dim=None, keepdim=False):
        d = self._data
        return _wrap(np.asarray(d.all() if dim is None else d.all(axis=dim, keepdims=keepdim)))

    @_numpy_aliases
    def any(self, dim=None, keepdim=False):
        d = self._data
        return _wrap(np.asarray(d.any() if dim is None else d.any(axis=dim, keepdims=keepdim)))

    @_numpy_aliases
    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2 or p == "fro":
            return _norm2(self, dim, keepdim)
        if p == 1:
            return sum(abs(self), dim, keepdim)
        return pow(sum(pow(abs(self), p), dim, keepdim), 1.0 / p)

    @_numpy_aliases
    def softmax(self, dim, dtype=None):
        return softmax(self, dim)

    @_numpy_aliases
    def log_softmax(self, dim, dtype=None):
        return log_softmax(self, dim)
