"""Tensor: one numpy array plus autograd bookkeeping, with PyTorch's methods.

This module holds the core of the class: construction, metadata, conversion, dtype casts and the
autograd entry points. The ops live in engine._ops by theme, each module with a mixin of the
Tensor methods that call its ops, and are re-exported here, the import path the rest of the engine
uses. Arrays keep their memory layout through elementwise ops (numpy ufuncs use order 'K'), so the
conv kernels' NCHW views of CNHW memory flow on without copies.
"""

import builtins

import numpy as np

from engine import _dtype
from engine._dtype import Size
from engine._ops import _graph, elementwise, indexing, linalg, reductions
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
from engine._ops.reductions import (  # noqa: F401
    ReductionMethods,
    _check_arg_reduction,
    _logsumexp_np,
    _minmax,
    _norm2,
    _reduce_grad,
    amax,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    max_result,
    mean,
    min,
    min_result,
    softmax,
    std,
    sum,
    var,
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

_warned_float_of_grad = False


class Tensor(
    ElementwiseMethods, ReductionMethods, ViewMethods, IndexingMethods, LinalgMethods
):
    """A numpy array (``_data``) with autograd bookkeeping and PyTorch's methods."""

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

    # ---------------------------------------------------------------- in place
    # the mixins' in-place methods record themselves in the graph through these
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

    def share_memory_(self):
        return self

    def pin_memory(self):
        return self

    def apply_(self, fn):
        self._data[...] = np.vectorize(fn)(self._data)
        _bump(self)
        return self


# The op modules wrap their results in this class, which inherits their mixins and so can only
# be handed to them now that it exists.
_graph.Tensor = elementwise.Tensor = linalg.Tensor = indexing.Tensor = reductions.Tensor = Tensor


def _rebuild(data, requires_grad, cls=Tensor):
    return cls._wrap(data, requires_grad)
