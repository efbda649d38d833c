"""Tensor: one numpy array plus autograd bookkeeping, with PyTorch's methods.

Each differentiable op computes its numpy result and, when a gradient is wanted, hangs a graph
node (named as PyTorch names it) holding a closure from the output gradient to the input
gradients. Arrays keep their memory layout through elementwise ops (numpy ufuncs use order 'K'),
so the conv kernels' NCHW views of CNHW memory flow on without copies.
"""

import builtins

import numpy as np

from engine import _dtype
from engine._dtype import Size
from engine._ops import _graph, elementwise, indexing, linalg

# the plumbing is re-exported: engine.nn, engine.autograd and engine._creation import it from here
from engine._ops._graph import (  # noqa: F401
    _BOOL,
    _F32,
    _F64,
    _I64,
    _N,
    _as_tuple,
    _bump,
    _edge,
    _fix_dtype,
    _init_fields,
    _make,
    _needs,
    _norm_dim,
    _norm_dims,
    _Number,
    _numpy_aliases,
    _raw,
    _return_type,
    _save,
    _save_cross,
    _shape_str,
    _share_version,
    _tensorize,
    _to_array,
    _unbroadcast,
    _version_entry,
    _wrap,
)
from engine._ops.elementwise import (  # noqa: F401
    _LEGACY,
    ElementwiseMethods,
    _AddBackward0,
    _AddBackward1,
    _cast,
    _check_int_inplace,
    _compare,
    _DivBackward0,
    _DivBackward1,
    _MulBackward0,
    _MulBackward1,
    _rdiv,
    _round0,
    _rounding,
    _rpow,
    _rsub,
    _RsubBackward1,
    _shape_mismatch,
    _SubBackward0,
    _SubBackward1,
    abs,
    add,
    ceil,
    clamp,
    cos,
    cosh,
    div,
    exp,
    floor,
    isclose,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    round,
    sigmoid,
    sin,
    sinh,
    sqrt,
    sub,
    tanh,
    where,
)
from engine._ops.indexing import (  # noqa: F401
    IndexingMethods,
    _basic_index_name,
    _basic_view,
    _convert_key,
    _is_basic,
    _scatter_grid,
    _src_part,
    gather,
    index,
    index_select,
    masked_fill,
    nonzero,
    scatter,
    scatter_add,
    setitem,
    sort_result,
    topk_result,
)
from engine._ops.linalg import (  # noqa: F401
    _MM_TYPE_NAMES,
    LinalgMethods,
    _AddmmBackward0,
    _check_mm_dtypes,
    _mm_error,
    _mm_grad_rhs,
    _MmBackward0,
    addmm,
    bmm,
    diag,
    matmul,
    mm,
    mv,
    tril,
    triu,
)
from engine._ops.views import (  # noqa: F401
    ViewMethods,
    _contiguous_strides,
    _infer_shape,
    _repeat,
    _set_strides,
    _strides_contiguous,
    _torch_strides,
    _transpose2,
    _view_strides,
    cat,
    clone,
    expand,
    flatten,
    flip,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from engine.autograd.grad_mode import _state as _grad_state

max_result = _return_type("max")
min_result = _return_type("min")

_warned_float_of_grad = False


class Tensor(ElementwiseMethods, LinalgMethods, ViewMethods, IndexingMethods):
    __slots__ = (
        "_data",
        "grad",
        "grad_fn",
        "requires_grad",
        "_accum",
        "_hooks",
        "_output_nr",
        "_vc",
        "_tstrides",
        "__weakref__",
    )
    __array_priority__ = 1000
    __array_ufunc__ = None  # numpy defers to our reflected operators
    __module__ = "engine"  # type(t) prints <class 'engine.Tensor'>, as torch.Tensor

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, requires_grad=False, dtype=None):
        if len(args) == 1 and not isinstance(args[0], int):
            data = _to_array(args[0], _dtype.to_numpy_dtype(dtype) if dtype else None)
            if dtype is None:  # the legacy constructor is always float32, as torch.Tensor
                data = data.astype(_F32, copy=False)
        else:
            shape = _as_tuple(args)
            data = np.zeros(shape, dtype=_dtype.to_numpy_dtype(dtype) if dtype else _F32)
        _init_fields(self, data, requires_grad)

    @classmethod
    def _wrap(cls, data, requires_grad=False):
        """No-copy constructor for internal use (see docs/CONTRACTS.md, Tensor internals)."""
        if cls is Tensor:
            return _wrap(data, requires_grad)
        t = object.__new__(cls)
        _init_fields(t, data, requires_grad)
        return t

    # ---------------------------------------------------------------- metadata
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_norm_dim(dim, self._data.ndim)]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    nelement = numel

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return _dtype.CPU

    is_cuda = False

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def element_size(self):
        return self._data.itemsize

    def stride(self, dim=None):
        """PyTorch's strides for this tensor (the numpy array underneath may be laid out
        differently, e.g. a convolution's output)."""
        st = _torch_strides(self)
        return st if dim is None else st[dim]

    def is_contiguous(self, memory_format=None):
        ts = self._tstrides
        return ts is None or _strides_contiguous(self._data.shape, ts)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def data(self):
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else _to_array(value)

    def _bump_version(self):
        """Record an in-place change made to the array directly (optimizer steps)."""
        _bump(self)

    @property
    def _version(self):
        vc = self._vc
        return 0 if vc is None else vc[0]

    # ---------------------------------------------------------------- conversion
    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def tolist(self):
        return self._data.tolist()

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def __float__(self):
        global _warned_float_of_grad
        if self.requires_grad and not _warned_float_of_grad:
            _warned_float_of_grad = True  # once per process, as PyTorch
            import warnings

            warnings.warn(
                "Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
                "behavior.\nConsider using tensor.detach() first.",
                UserWarning,
                stacklevel=2,
            )
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
                if self._data.size > 1
                else "Boolean value of Tensor with no values is ambiguous"
            )
        return builtins.bool(self._data.reshape(()).item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self, *, tensor_contents=None):
        from engine._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and (spec or type(self) is Tensor):
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else self.__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._data, self.requires_grad, type(self)))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        new = type(self)._wrap(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            new.grad = _wrap(self.grad._data.copy())
        memo[id(self)] = new
        return new

    def to(self, *args, **kwargs):
        dt = kwargs.get("dtype")
        copy = kwargs.get("copy", False)
        for a in args:
            if isinstance(a, _dtype.dtype):
                dt = a
            elif isinstance(a, Tensor):
                dt = a.dtype
            elif isinstance(a, (str, _dtype.device)):
                _dtype.place(a)
        if "device" in kwargs and kwargs["device"] is not None:
            _dtype.place(kwargs["device"])
        if dt is None or dt.np == self._data.dtype:
            return self.clone() if copy else self
        return _cast(self, dt.np)

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        _dtype.place("cuda" if device is None else device)
        return self

    def get_device(self):
        return -1

    def type(self, dtype=None):
        if dtype is None:
            return {
                "float32": "engine.FloatTensor",
                "float64": "engine.DoubleTensor",
                "int64": "engine.LongTensor",
                "int32": "engine.IntTensor",
                "bool": "engine.BoolTensor",
                "uint8": "engine.ByteTensor",
            }.get(self.dtype.name, f"engine.{self.dtype.name}")
        from engine._tensor_types import resolve

        return self.to(resolve(dtype))

    def float(self):
        return _cast(self, _F32) if self._data.dtype != _F32 else self

    def double(self):
        return _cast(self, _F64) if self._data.dtype != _F64 else self

    def half(self):
        return _cast(self, np.dtype(np.float16))

    def long(self):
        return _cast(self, _I64) if self._data.dtype != _I64 else self

    def int(self):
        return _cast(self, np.dtype(np.int32))

    def bool(self):
        return _cast(self, _BOOL) if self._data.dtype != _BOOL else self

    def byte(self):
        return _cast(self, np.dtype(np.uint8))

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from engine._creation import tensor

        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        d = dtype.np if dtype is not None else self._data.dtype
        return _wrap(np.zeros(_as_tuple(size), dtype=d), requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        d = dtype.np if dtype is not None else self._data.dtype
        return _wrap(np.ones(_as_tuple(size), dtype=d), requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        d = dtype.np if dtype is not None else self._data.dtype
        return _wrap(np.full(tuple(size), fill_value, dtype=d), requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        d = dtype.np if dtype is not None else self._data.dtype
        return _wrap(np.empty(_as_tuple(size), dtype=d), requires_grad)

    # ---------------------------------------------------------------- autograd
    def detach(self):
        return _share_version(_wrap(self._data), self)

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            return

        nr = self._output_nr

        def keep(grads):
            g = grads[nr]
            if g is not None:
                g = _wrap(g._data.copy())
                self.grad = g if self.grad is None else self.grad + g

        keep._retains_grad = True
        self.grad_fn.register_prehook(keep)

    @property
    def retains_grad(self):
        fn = self.grad_fn
        return fn is not None and any(
            getattr(h, "_retains_grad", False) for h in (fn._pre_hooks or ())
        )

    def register_hook(self, hook):
        """hook(grad) -> None or a replacement grad, called when this tensor's gradient is
        computed."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            from engine.autograd.graph import _RemovableHandle

            return _RemovableHandle(self._hooks, hook)
        nr = self._output_nr

        def pre(grads):
            if grads[nr] is None:
                return None
            r = hook(grads[nr])
            if r is None:
                return None
            return grads[:nr] + (r,) + grads[nr + 1 :]

        return self.grad_fn.register_prehook(pre)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from engine.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    # ---------------------------------------------------------------- arithmetic

    def cumsum(self, dim, dtype=None):
        return cumsum(self, dim, dtype)

    def softmax(self, dim, dtype=None):
        return softmax(self, dim)

    def log_softmax(self, dim, dtype=None):
        return log_softmax(self, dim)

    def logsumexp(self, dim, keepdim=False):
        return logsumexp(self, dim, keepdim)

    def sum(self, dim=None, keepdim=False, dtype=None):
        return sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, dtype=None):
        return mean(self, dim, keepdim, dtype=dtype)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return std(self, dim, unbiased, keepdim, correction=correction)

    def max(self, dim=None, keepdim=False):
        return max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return amax(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return argmin(self, dim, keepdim)

    def prod(self, dim=None, keepdim=False):
        d = self._data.prod() if dim is None else self._data.prod(axis=dim, keepdims=keepdim)
        if self.requires_grad:
            raise RuntimeError("prod() has no gradient in engine; detach() the input first")
        return _wrap(np.asarray(d))

    def all(self, dim=None, keepdim=False):
        d = self._data
        return _wrap(np.asarray(d.all() if dim is None else d.all(axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        d = self._data
        return _wrap(np.asarray(d.any() if dim is None else d.any(axis=dim, keepdims=keepdim)))

    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2 or p == "fro":
            return _norm2(self, dim, keepdim)
        if p == 1:
            return sum(abs(self), dim, keepdim)
        return pow(sum(pow(abs(self), p), dim, keepdim), 1.0 / p)

    # ---------------------------------------------------------------- shape

    # ---------------------------------------------------------------- in place
    def _inplace(self, result):
        """In-place op on a tensor in the graph: take over the out-of-place result's data and
        node, so gradients stay right (other views of the old data are not updated)."""
        self._data = result._data
        self.grad_fn = result.grad_fn
        self._output_nr = result._output_nr
        self.requires_grad = result.requires_grad
        self._tstrides = None
        _bump(self)
        return self

    def _check_inplace(self):
        """True when the op must be recorded in the graph rather than done on the array."""
        if not _grad_state.enabled:
            return False
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        return True

    def _inplace_result(self, result):
        """Take over an out-of-place result: in the graph, or by writing the array."""
        if self._check_inplace() and result.requires_grad:
            return self._inplace(result)
        np.copyto(self._data, result._data, casting="unsafe")
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

    def share_memory_(self):
        return self

    def pin_memory(self):
        return self

    def apply_(self, fn):
        self._data[...] = np.vectorize(fn)(self._data)
        _bump(self)
        return self


_DIM_METHODS = (
    "sum", "mean", "var", "std", "max", "min", "amax", "argmax", "argmin", "prod", "all",
    "any", "norm", "logsumexp", "softmax", "log_softmax", "cumsum",
)
for _name in _DIM_METHODS:
    setattr(Tensor, _name, _numpy_aliases(getattr(Tensor, _name)))
del _name

# the op functions wrap their results in this class
_graph.Tensor = elementwise.Tensor = linalg.Tensor = indexing.Tensor = Tensor


def _rebuild(data, requires_grad, cls=Tensor):
    return cls._wrap(data, requires_grad)


# -------------------------------------------------------------------- elementwise binary


# -------------------------------------------------------------------- elementwise unary


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


# -------------------------------------------------------------------- matmul


# -------------------------------------------------------------------- reductions
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


