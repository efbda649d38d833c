"""Elementwise ops: arithmetic with broadcasting, unary math, comparisons, where/clamp/maximum,
dtype casts, and the Tensor operators and methods (in-place ones included) that call them.
"""

import builtins
import math

import numpy as np

from engine._ops._graph import (
    _BOOL,
    _F32,
    _F64,
    _N,
    _bump,
    _fix_dtype,
    _make,
    _Number,
    _raw,
    _save,
    _save_cross,
    _tensorize,
    _unbroadcast,
    _wrap,
)

Tensor = None  # set by engine.tensor once the class exists

_LEGACY = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _check_int_inplace(t, other, true_division):
    """An integer tensor cannot hold a float result in place (PyTorch's rule and message)."""
    if isinstance(other, np.ndarray):
        kind, name = other.dtype.kind, other.dtype.name
    else:
        kind = "f" if isinstance(other, float) else "i"
        name = "float32"
    if true_division and kind != "f":
        kind, name = "f", "float32"
    if kind == "f":
        raise RuntimeError(
            f"result type {_LEGACY.get(name, name)} can't be cast to the desired output type "
            f"{_LEGACY[t._data.dtype.name]}"
        )


def _compare(ufunc, a, b):
    if b is None or not isinstance(b, (Tensor, _Number, np.ndarray, list, tuple)):
        return (
            NotImplemented
            if ufunc in (np.less, np.greater, np.less_equal, np.greater_equal)
            else _wrap(np.asarray(ufunc is np.not_equal))
        )
    return _wrap(ufunc(a._data, _raw(b)))


def _shape_mismatch(a, b):
    # PyTorch's wording, first mismatching dimension from the right
    sa, sb = a.shape, b.shape
    for i in range(1, builtins.max(len(sa), len(sb)) + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            d = builtins.max(len(sa), len(sb)) - i
            return RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {d}"
            )
    return RuntimeError(f"shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together")


# -------------------------------------------------------------------- binary
_AddBackward0 = _AddBackward1 = _N("AddBackward0")  # PyTorch wraps scalars: same names


_SubBackward0 = _SubBackward1 = _N("SubBackward0")


_RsubBackward1 = _N("RsubBackward1")


_MulBackward0 = _MulBackward1 = _N("MulBackward0")


_DivBackward0 = _DivBackward1 = _N("DivBackward0")


def add(a, b, alpha=1):
    if not isinstance(a, Tensor):
        a, b = b, a
    if isinstance(b, Tensor):
        ad, bd = a._data, b._data
        if alpha != 1:
            bd = bd * alpha
        try:
            out = ad + bd
        except ValueError:
            raise _shape_mismatch(ad, bd) from None
        out = _fix_dtype(out, ad, bd)
        sa, sb = ad.shape, bd.shape

        def backward(g):
            return (
                _unbroadcast(g, sa) if a.requires_grad else None,
                (_unbroadcast(g, sb) * alpha if alpha != 1 else _unbroadcast(g, sb))
                if b.requires_grad
                else None,
            )

        return _make(out, (a, b), _AddBackward0, backward)
    if isinstance(b, _Number):
        out = _fix_dtype(a._data + (b * alpha), a._data, None)
        return _make(out, (a,), _AddBackward1, lambda g: (g,))
    return add(a, _tensorize(b), alpha)


def sub(a, b, alpha=1):
    if isinstance(b, Tensor):
        ad, bd = a._data, b._data
        if alpha != 1:
            bd = bd * alpha
        try:
            out = ad - bd
        except ValueError:
            raise _shape_mismatch(ad, bd) from None
        out = _fix_dtype(out, ad, bd)
        sa, sb = ad.shape, bd.shape

        def backward(g):
            return (
                _unbroadcast(g, sa) if a.requires_grad else None,
                -_unbroadcast(g, sb) * alpha if b.requires_grad else None,
            )

        return _make(out, (a, b), _SubBackward0, backward)
    if isinstance(b, _Number):
        out = _fix_dtype(a._data - (b * alpha), a._data, None)
        return _make(out, (a,), _SubBackward1, lambda g: (g,))
    return sub(a, _tensorize(b), alpha)


def _rsub(a, b):
    if isinstance(b, _Number):
        out = _fix_dtype(b - a._data, a._data, None)
        return _make(out, (a,), _RsubBackward1, lambda g: (-g,))
    return sub(_tensorize(b), a)


def mul(a, b):
    if not isinstance(a, Tensor):
        a, b = b, a
    if isinstance(b, Tensor):
        ad, bd = a._data, b._data
        try:
            out = ad * bd
        except ValueError:
            raise _shape_mismatch(ad, bd) from None
        out = _fix_dtype(out, ad, bd)

        def backward(g):
            return (
                _unbroadcast(g * bd, ad.shape) if a.requires_grad else None,
                _unbroadcast(g * ad, bd.shape) if b.requires_grad else None,
            )

        return _save_cross(_make(out, (a, b), _MulBackward0, backward), a, b)
    if isinstance(b, _Number):
        out = _fix_dtype(a._data * b, a._data, None)
        return _make(out, (a,), _MulBackward1, lambda g: (g * b,))
    return mul(a, _tensorize(b))


def div(a, b, rounding_mode=None):
    if rounding_mode is not None:
        q = (
            np.floor_divide(a._data, _raw(b))
            if rounding_mode == "floor"
            else np.trunc(a._data / _raw(b))
        )
        return _wrap(q.astype(a._data.dtype) if a._data.dtype.kind != "f" else q)
    if isinstance(b, Tensor):
        ad, bd = a._data, b._data
        try:
            out = np.true_divide(ad, bd)
        except ValueError:
            raise _shape_mismatch(ad, bd) from None
        out = _fix_dtype(out, ad, bd)

        def backward(g):
            return (
                _unbroadcast(g / bd, ad.shape) if a.requires_grad else None,
                _unbroadcast(-g * out / bd, bd.shape) if b.requires_grad else None,
            )

        res = _make(out, (a, b), _DivBackward0, backward)
        return _save(res, b, a) if b.requires_grad else _save(res, b)
    if isinstance(b, _Number):
        out = _fix_dtype(np.true_divide(a._data, b), a._data, None)
        return _make(out, (a,), _DivBackward1, lambda g: (g / b,))
    return div(a, _tensorize(b))


def _rdiv(a, b):
    if isinstance(b, _Number):
        ad = a._data
        out = _fix_dtype(np.true_divide(b, ad), ad, None)
        res = _make(out, (a,), _MulBackward0, lambda g: (-g * out / ad,))
        return _save(res, a, res)
    return div(_tensorize(b), a)


def pow(a, b):  # noqa: A001
    if isinstance(b, _Number):
        ad = a._data
        out = _fix_dtype(np.power(ad, b), ad, None)
        if out.dtype.kind in "iu" and isinstance(b, float):
            out = out.astype(_F32)

        def backward(g):
            if b == 0:
                return (np.zeros_like(g),)
            if b == 2:
                return (g * 2.0 * ad,)
            return (g * b * np.power(ad, b - 1),)

        return _save(_make(out, (a,), _N("PowBackward0"), backward), a)
    if not isinstance(a, Tensor):
        return _rpow(b, a)
    ad, bd = a._data, b._data
    out = _fix_dtype(np.power(ad, bd), ad, bd)

    def backward(g):
        ga = gb = None
        if a.requires_grad:
            ga = _unbroadcast(g * bd * np.power(ad, bd - 1), ad.shape)
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.where(ad > 0, np.log(np.where(ad > 0, ad, 1)), 0)
            gb = _unbroadcast(g * out * lg, bd.shape)
        return ga, gb

    res = _make(out, (a, b), _N("PowBackward1"), backward)
    return _save(res, a, b, res)


def _rpow(a, base):
    if isinstance(base, _Number):
        out = _fix_dtype(np.power(base, a._data), a._data, None)
        lb = math.log(base) if base > 0 else 0.0
        res = _make(out, (a,), _N("PowBackward2"), lambda g: (g * out * lb,))
        return _save(res, res)
    return pow(_tensorize(base), a)


# -------------------------------------------------------------------- unary
def neg(a):
    return _make(np.negative(a._data), (a,), _N("NegBackward0"), lambda g: (-g,))


def exp(a):
    out = _fix_dtype(np.exp(a._data), a._data, None)
    res = _make(out, (a,), _N("ExpBackward0"), lambda g: (g * out,))
    return _save(res, res)


def _rounding(np_fn, name):
    """round/floor/ceil: integer tensors pass through; the gradient is zero, as PyTorch's."""

    def op(a):
        ad = a._data
        if ad.dtype.kind in "biu":
            return _wrap(ad.copy())
        return _make(np_fn(ad), (a,), _N(name), lambda g: (np.zeros_like(g),))

    return op


floor = _rounding(np.floor, "FloorBackward0")


ceil = _rounding(np.ceil, "CeilBackward0")


_round0 = _rounding(np.round, "RoundBackward0")  # numpy and PyTorch both round half to even


def round(a, decimals=0):  # noqa: A001
    if decimals == 0:
        return _round0(a)
    scale = 10.0**decimals
    return _make(
        (np.round(a._data * scale) / scale).astype(a._data.dtype),
        (a,),
        _N("RoundBackward1"),
        lambda g: (np.zeros_like(g),),
    )


def sin(a):
    ad = a._data
    out = _fix_dtype(np.sin(ad), ad, None)
    return _save(_make(out, (a,), _N("SinBackward0"), lambda g: (g * np.cos(ad),)), a)


def sinh(a):
    ad = a._data
    out = _fix_dtype(np.sinh(ad), ad, None)
    return _save(_make(out, (a,), _N("SinhBackward0"), lambda g: (g * np.cosh(ad),)), a)


def cosh(a):
    ad = a._data
    out = _fix_dtype(np.cosh(ad), ad, None)
    return _save(_make(out, (a,), _N("CoshBackward0"), lambda g: (g * np.sinh(ad),)), a)


def cos(a):
    ad = a._data
    out = _fix_dtype(np.cos(ad), ad, None)
    return _save(_make(out, (a,), _N("CosBackward0"), lambda g: (g * -np.sin(ad),)), a)


def log(a):
    ad = a._data
    out = np.log(ad)
    res = _make(_fix_dtype(out, ad, None), (a,), _N("LogBackward0"), lambda g: (g / ad,))
    return _save(res, a)


def log1p(a):
    ad = a._data
    res = _make(np.log1p(ad), (a,), _N("Log1PBackward0"), lambda g: (g / (1 + ad),))
    return _save(res, a)


def sqrt(a):
    out = _fix_dtype(np.sqrt(a._data), a._data, None)
    res = _make(out, (a,), _N("SqrtBackward0"), lambda g: (g / (2 * out),))
    return _save(res, res)


def abs(a):  # noqa: A001
    ad = a._data
    return _save(_make(np.abs(ad), (a,), _N("AbsBackward0"), lambda g: (g * np.sign(ad),)), a)


def clamp(a, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    ad = a._data
    lo, hi = _raw(min), _raw(max)
    out = np.clip(ad, lo, hi)
    if out.dtype != ad.dtype and ad.dtype.kind == "f":
        out = out.astype(ad.dtype)

    def backward(g):
        mask = True
        if lo is not None:
            mask = ad >= lo
        if hi is not None:
            mask = mask & (ad <= hi)
        return (g * mask,)

    return _save(_make(out, (a,), _N("ClampBackward1"), backward), a)


def relu(a):
    out = np.maximum(a._data, 0)
    if out.dtype != a._data.dtype:
        out = out.astype(a._data.dtype)
    # gradient 0 at exactly 0, as PyTorch
    res = _make(out, (a,), _N("ReluBackward0"), lambda g: (g * (out > 0),))
    return _save(res, res)


def sigmoid(a):
    ad = a._data
    # split by sign so exp never overflows
    e = np.exp(-np.abs(ad))
    out = np.where(ad >= 0, 1 / (1 + e), e / (1 + e)).astype(ad.dtype, copy=False)
    res = _make(out, (a,), _N("SigmoidBackward0"), lambda g: (g * out * (1 - out),))
    return _save(res, res)


def tanh(a):
    out = np.tanh(a._data)
    res = _make(out, (a,), _N("TanhBackward0"), lambda g: (g * (1 - out * out),))
    return _save(res, res)


# -------------------------------------------------------------------- selection and casts
def where(condition, a=None, b=None):
    if b is None and not isinstance(a, Tensor) and a is None:
        return tuple(_wrap(i) for i in np.nonzero(_raw(condition)))
    c = _raw(condition).astype(bool, copy=False)
    a = _tensorize(a) if not isinstance(a, (Tensor,) + _Number) else a
    b = _tensorize(b) if not isinstance(b, (Tensor,) + _Number) else b
    ad, bd = _raw(a), _raw(b)
    out = np.where(c, ad, bd)
    if (
        out.dtype == _F64
        and not (isinstance(ad, np.ndarray) and ad.dtype == _F64)
        and not (isinstance(bd, np.ndarray) and bd.dtype == _F64)
    ):
        out = out.astype(_F32)
    ins = tuple(t for t in (a, b) if isinstance(t, Tensor))

    def backward(g):
        r = []
        if isinstance(a, Tensor):
            r.append(_unbroadcast(np.where(c, g, 0), ad.shape) if a.requires_grad else None)
        if isinstance(b, Tensor):
            r.append(_unbroadcast(np.where(c, 0, g), bd.shape) if b.requires_grad else None)
        return tuple(r)

    return _make(out, ins, _N("WhereBackward0"), backward)


def maximum(a, b):
    ad, bd = a._data, b._data
    out = np.maximum(ad, bd)

    def backward(g):
        # ties share the gradient equally, as PyTorch
        ga = np.where(ad > bd, g, np.where(ad == bd, g / 2, 0))
        gb = np.where(bd > ad, g, np.where(ad == bd, g / 2, 0))
        return _unbroadcast(ga, ad.shape), _unbroadcast(gb, bd.shape)

    return _make(out, (a, b), _N("MaximumBackward0"), backward)


def minimum(a, b):
    return neg(maximum(neg(a), neg(b)))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _wrap(np.isclose(_raw(a), _raw(b), rtol, atol, equal_nan))


def _cast(a, np_dtype):
    np_dtype = np.dtype(np_dtype)
    ad = a._data
    out = ad.astype(np_dtype)
    if np_dtype.kind != "f" or not a.requires_grad:
        return _wrap(out)
    src = ad.dtype
    return _make(out, (a,), _N("ToCopyBackward0"), lambda g: (g.astype(src),))


class ElementwiseMethods:
    """Tensor's operators and elementwise methods."""

    __slots__ = ()

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented  # PyTorch refuses ndarray add Tensor (TypeError)
        return add(self, other)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented  # PyTorch refuses ndarray sub Tensor (TypeError)
        return _rsub(self, other)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented  # PyTorch refuses ndarray mul Tensor (TypeError)
        return mul(self, other)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return _rdiv(self, other)

    def __floordiv__(self, other):
        o = other._data if isinstance(other, Tensor) else other
        return _wrap(np.floor_divide(self._data, o))

    def __rfloordiv__(self, other):
        return _wrap(np.floor_divide(other, self._data))

    def __mod__(self, other):
        o = other._data if isinstance(other, Tensor) else other
        return _wrap(np.mod(self._data, o))

    def __pow__(self, other):
        return pow(self, other)

    def __rpow__(self, other):
        return _rpow(self, other)

    def __neg__(self):
        return neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return abs(self)

    # augmented assignment updates in place, as PyTorch (``w -= lr * w.grad`` under no_grad)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __invert__(self):
        if self._data.dtype == _BOOL:
            return _wrap(~self._data)
        return _wrap(np.invert(self._data))

    def __and__(self, other):
        return _wrap(self._data & _raw(other))

    def __or__(self, other):
        return _wrap(self._data | _raw(other))

    def __xor__(self, other):
        return _wrap(self._data ^ _raw(other))

    __rand__ = __and__
    __ror__ = __or__

    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # defining __eq__ would otherwise leave the class unhashable; tensors hash by identity
    def __hash__(self):
        return id(self)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def equal(self, other):
        return self._data.shape == other._data.shape and builtins.bool(
            np.array_equal(self._data, other._data)
        )

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return builtins.bool(np.allclose(self._data, _raw(other), rtol, atol, equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return isclose(self, other, rtol, atol, equal_nan)

    def isnan(self):
        return _wrap(np.isnan(self._data))

    def isinf(self):
        return _wrap(np.isinf(self._data))

    def isfinite(self):
        return _wrap(np.isfinite(self._data))

    # an op whose parameters are the method's (the tensor first) serves as the method itself
    neg = neg
    exp = exp
    sin = sin
    cos = cos
    sinh = sinh
    cosh = cosh
    log = log
    log1p = log1p
    sqrt = sqrt
    abs = abs
    relu = relu
    sigmoid = sigmoid
    tanh = tanh
    round = round
    clamp = clamp
    clip = clamp

    def add(self, other, alpha=1):
        return add(self, other, alpha=alpha)

    def sub(self, other, alpha=1):
        return sub(self, other, alpha=alpha)

    def mul(self, other):
        return mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return div(self, other, rounding_mode)

    divide = div

    def pow(self, exponent):
        return pow(self, exponent)

    def floor(self):
        return floor(self)

    def ceil(self):
        return ceil(self)

    def rsqrt(self):
        return pow(self, -0.5)

    def sign(self):
        return _wrap(np.sign(self._data))

    def square(self):
        return pow(self, 2)

    def clamp_min(self, min):  # noqa: A002
        return clamp(self, min, None)

    def clamp_max(self, max):  # noqa: A002
        return clamp(self, None, max)

    def where(self, condition, other):
        return where(condition, self, other)

    # ---------------------------------------------------------------- in place
    def _inplace_op(self, ufunc, other, out_of_place, true_division=False):
        o = other._data if isinstance(other, Tensor) else other
        if self._data.dtype.kind in "biu":
            _check_int_inplace(self, o, true_division)
        if self._check_inplace() and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)
        ):
            return self._inplace(out_of_place())
        ufunc(self._data, o, out=self._data, casting="unsafe")
        _bump(self)
        return self

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace_op(np.add, other, lambda: add(self, other))

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace_op(np.subtract, other, lambda: sub(self, other))

    def mul_(self, other):
        return self._inplace_op(np.multiply, other, lambda: mul(self, other))

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is not None:
            q = div(self, other, rounding_mode)
            if self._check_inplace() and q.requires_grad:
                return self._inplace(q)
            np.copyto(self._data, q._data, casting="unsafe")
            _bump(self)
            return self
        return self._inplace_op(np.divide, other, lambda: div(self, other), true_division=True)

    def pow_(self, other):
        return self._inplace_op(np.power, other, lambda: pow(self, other))

    def addcmul_(self, t1, t2, value=1):
        return self.add_(t1 * t2 * value)

    def addcdiv_(self, t1, t2, value=1):
        return self.add_(t1 / t2 * value)

    def lerp_(self, end, weight):
        return self.add_((end - self) * weight)

    def neg_(self):
        return self.mul_(-1)

    def sqrt_(self):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(sqrt(self))
        np.sqrt(self._data, out=self._data)
        _bump(self)
        return self

    def exp_(self):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(exp(self))
        np.exp(self._data, out=self._data)
        _bump(self)
        return self

    def abs_(self):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(abs(self))
        np.abs(self._data, out=self._data)
        _bump(self)
        return self

    def relu_(self):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(relu(self))
        np.maximum(self._data, 0, out=self._data)
        _bump(self)
        return self

    def clamp_(self, min=None, max=None):  # noqa: A002
        if self._check_inplace() and self.requires_grad:
            return self._inplace(clamp(self, min, max))
        np.clip(self._data, min, max, out=self._data)
        _bump(self)
        return self

    clip_ = clamp_

    def zero_(self):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(mul(self, 0.0))
        self._data[...] = 0
        _bump(self)
        return self

    def fill_(self, value):
        if self._check_inplace() and self.requires_grad:
            return self._inplace(add(mul(self, 0.0), value))
        self._data[...] = _raw(value)
        _bump(self)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from engine import _random

        self._data[...] = _random.rng(generator).uniform(a, b, self._data.shape)
        _bump(self)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from engine import _random

        self._data[...] = _random.rng(generator).normal(mean, std, self._data.shape)
        _bump(self)
        return self

    def bernoulli_(self, p=0.5, generator=None):
        from engine import _random

        self._data[...] = _random.rng(generator).random(self._data.shape) < p
        _bump(self)
        return self

    def random_(self, low=0, high=None, generator=None):
        from engine import _random

        if high is None:
            low, high = 0, low
        self._data[...] = _random.rng(generator).integers(low, high, self._data.shape)
        _bump(self)
        return self

    def copy_(self, src, non_blocking=False):
        s = src._data if isinstance(src, Tensor) else np.asarray(src)
        if s.shape != self._data.shape:
            try:
                np.broadcast_to(s, self._data.shape)
            except ValueError:
                raise RuntimeError(
                    f"The size of tensor a ({self._data.shape}) must match the size of tensor b "
                    f"({s.shape}) at non-singleton dimension"
                ) from None
        if self._check_inplace() and (
            self.requires_grad or (isinstance(src, Tensor) and src.requires_grad)
        ):
            return self._inplace(add(mul(self, 0.0), _cast(src, self._data.dtype)))
        np.copyto(self._data, s, casting="unsafe")
        _bump(self)
        return self
