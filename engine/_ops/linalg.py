"""Linear algebra: matrix products (mm, matmul, bmm, mv, dot, addmm) with PyTorch's shape and
dtype checks, matrix-structure ops (tril, triu, diag), and the Tensor methods that call them.
"""

import builtins

import numpy as np

from engine._kernels.blas import matmul as _threaded_matmul
from engine._ops._graph import _N, _make, _raw, _save_cross, _tensorize, _unbroadcast

Tensor = None  # set by engine.tensor once the class exists

_MmBackward0 = _N("MmBackward0")


def _mm_error(sa, sb):
    return RuntimeError(
        f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and {sb[0]}x{sb[1]})"
    )


# numpy dtype -> (PyTorch's C++ name, its scalar type name), for dtype-mismatch messages
_MM_TYPE_NAMES = {
    "float32": ("float", "Float"), "float64": ("double", "Double"),
    "float16": ("c10::Half", "Half"), "int64": ("long int", "Long"), "int32": ("int", "Int"),
    "int16": ("short int", "Short"), "int8": ("signed char", "Char"),
    "uint8": ("unsigned char", "Byte"), "bool": ("bool", "Bool"),
}  # fmt: skip


def _check_mm_dtypes(ad, bd):
    """Matrix products need one dtype, as in PyTorch (no promotion), with its messages."""
    if ad.dtype == bd.dtype:
        return
    names = (_MM_TYPE_NAMES.get(d.name, (d.name, d.name)) for d in (ad.dtype, bd.dtype))
    (ca, sa), (cb, sb) = names
    if ad.ndim == 1 and bd.ndim == 1:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {sa} and {sb}"
        )
    if ad.ndim == 2 and bd.ndim == 1:
        raise RuntimeError(
            f"addmv input tensors must have the same dtype, but got {sb}, {sa}, and {sb}"
        )
    if bd.ndim >= 3:
        raise RuntimeError(f"expected scalar type {sa} but found {sb}")
    raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {ca} != {cb}")


def bmm(a, b):
    if a._data.ndim != 3 or b._data.ndim != 3:
        raise RuntimeError(
            "batch1 must be a 3D tensor" if a._data.ndim != 3 else "batch2 must be a 3D tensor"
        )
    return matmul(a, b)


def mv(a, vec):
    """Matrix times vector (MvBackward0), with PyTorch's checks."""
    ad, vd = a._data, _raw(vec)
    if ad.ndim != 2 or vd.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {ad.ndim}, {vd.ndim}")
    if ad.shape[1] != vd.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({ad.shape[0]}), mat ({ad.shape[0]}x{ad.shape[1]}), "
            f"vec ({vd.shape[0]})"
        )
    return matmul(a, vec)


def mm(a, b):
    ad, bd = a._data, b._data
    if ad.ndim != 2 or bd.ndim != 2:
        raise RuntimeError(f"{'self' if ad.ndim != 2 else 'mat2'} must be a matrix")
    _check_mm_dtypes(ad, bd)
    if ad.shape[1] != bd.shape[0]:
        raise _mm_error(ad.shape, bd.shape)
    out = _threaded_matmul(ad, bd)

    def backward(g):
        return (
            _threaded_matmul(g, bd.T) if a.requires_grad else None,
            _threaded_matmul(ad.T, g) if b.requires_grad else None,
        )

    return _save_cross(_make(out, (a, b), _MmBackward0, backward), a, b)


def matmul(a, b):
    if not isinstance(b, Tensor):
        b = _tensorize(b)
    ad, bd = a._data, b._data
    if ad.ndim == 2 and bd.ndim == 2:
        return mm(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError(
            "both arguments to matmul need to be at least 1D, but they are "
            f"{ad.ndim}D and {bd.ndim}D"
        )
    _check_mm_dtypes(ad, bd)
    try:
        out = np.matmul(ad, bd)
    except ValueError:
        if ad.ndim == 1 and bd.ndim == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{ad.shape[0]}] and src "
                f"[{bd.shape[0]}] to have the same number of elements, but got {ad.shape[0]} and "
                f"{bd.shape[0]} elements respectively"
            ) from None
        a2 = ad.reshape(-1, ad.shape[-1]) if ad.ndim > 1 else ad.reshape(1, -1)
        b2 = bd if bd.ndim > 1 else bd.reshape(-1, 1)
        raise _mm_error(a2.shape, b2.shape[-2:]) from None
    sa, sb = ad.shape, bd.shape

    def backward(g):
        a2 = ad if ad.ndim > 1 else ad.reshape(1, -1)
        b2 = bd if bd.ndim > 1 else bd.reshape(-1, 1)
        g2 = g
        if bd.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if ad.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if a.requires_grad:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if ad.ndim == 1:
                ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],))
            ga = _unbroadcast(ga, sa)
        if b.requires_grad and ad.ndim == bd.ndim == 2:
            gb = _mm_grad_rhs(ad, g2, bd)
        elif b.requires_grad:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if bd.ndim == 1:
                gb = gb.reshape(gb.shape[:-1])
            gb = _unbroadcast(gb, sb)
        return ga, gb

    name = (
        "DotBackward0"
        if ad.ndim == bd.ndim == 1
        else ("MvBackward0" if ad.ndim == 2 and bd.ndim == 1 else "BmmBackward0")
    )
    return _save_cross(_make(out, (a, b), _N(name), backward), a, b)


_AddmmBackward0 = _N("AddmmBackward0")


def _mm_grad_rhs(d1, g, d2):
    """d1.T @ g in d2's memory order. Linear's d2 is weight.t(): its gradient then reaches the
    weight as C-ordered memory, which the leaf stores with a plain copy instead of a transposing
    one (a 512x3072 weight: 1 ms instead of 10)."""
    if d2.flags.f_contiguous and not d2.flags.c_contiguous:
        return _threaded_matmul(g.T, d1).T
    return _threaded_matmul(d1.T, g)


def addmm(bias, m1, m2, beta=1, alpha=1):
    """bias + m1 @ m2 as one node (Linear's forward, as PyTorch)."""
    d1, d2, bd = m1._data, m2._data, bias._data
    if d1.shape[1] != d2.shape[0]:
        raise _mm_error(d1.shape, d2.shape)
    out = _threaded_matmul(d1, d2)
    if alpha != 1:
        out *= alpha
    if beta == 1:
        out += bd
    elif beta != 0:
        out += beta * bd
    if out.dtype != d1.dtype and d1.dtype == d2.dtype:
        out = out.astype(d1.dtype)
    bs = bd.shape

    def backward(g):
        gb = gm1 = gm2 = None
        if bias.requires_grad:
            gb = _unbroadcast(g, bs)
            if beta != 1:
                gb = gb * beta
        if m1.requires_grad:
            gm1 = _threaded_matmul(g, d2.T)
        if m2.requires_grad:
            gm2 = _mm_grad_rhs(d1, g, d2)
        if alpha != 1:
            gm1 = None if gm1 is None else gm1 * alpha
            gm2 = None if gm2 is None else gm2 * alpha
        return gb, gm1, gm2

    return _save_cross(_make(out, (bias, m1, m2), _AddmmBackward0, backward), m1, m2)


# -------------------------------------------------------------------- matrix structure
def tril(a, diagonal=0):
    return _make(
        np.tril(a._data, diagonal), (a,), _N("TrilBackward0"), lambda g: (np.tril(g, diagonal),)
    )


def triu(a, diagonal=0):
    return _make(
        np.triu(a._data, diagonal), (a,), _N("TriuBackward0"), lambda g: (np.triu(g, diagonal),)
    )


def diag(a, diagonal=0):
    ad = a._data
    if ad.ndim == 1:
        out = np.diag(ad, diagonal)
        return _make(
            out, (a,), _N("DiagEmbedBackward0"), lambda g: (np.diagonal(g, diagonal).copy(),)
        )
    if ad.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ad.ndim}D")
    out = np.diagonal(ad, diagonal).copy()
    shape = ad.shape

    def backward(g):
        full = np.zeros(shape, dtype=g.dtype)
        rows = np.arange(g.shape[0]) + builtins.max(-diagonal, 0)
        full[rows, rows + diagonal] = g
        return (full,)

    return _make(out, (a,), _N("DiagonalBackward0"), backward)


class LinalgMethods:
    """Tensor's matrix-product and matrix-structure methods."""

    __slots__ = ()

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        return matmul(_tensorize(other), self)

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, other):
        return mm(self, other)

    def dot(self, other):
        if self._data.ndim != 1 or _raw(other).ndim != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self._data.ndim}D and {_raw(other).ndim}D tensors"
            )
        return matmul(self, other)

    def bmm(self, other):
        return bmm(self, other)

    # an op whose parameters are the method's (the tensor first) serves as the method itself
    mv = mv
    tril = tril
    triu = triu
    diag = diag
