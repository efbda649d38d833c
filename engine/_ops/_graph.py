"""The autograd plumbing every op module shares.

An op computes its numpy result and calls ``_make``, which wraps it in a Tensor and, when an input
wants a gradient, hangs a graph node (named as PyTorch names it) whose closure maps the output
gradient to the input gradients. Also here: version counters for in-place changes, gradient
un-broadcasting, dtype rules and dim normalisation.
"""

import builtins
from collections import namedtuple

import numpy as np

from engine._dtype import Size
from engine.autograd.grad_mode import _state as _grad_state
from engine.autograd.graph import AccumulateGrad, node_type

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)
_Number = (int, float, bool, np.number, np.bool_)

# The Tensor class inherits the op modules' method mixins, so it is made after them;
# engine.tensor hands it to this module and to each op module as soon as it exists.
Tensor = None

_N = node_type  # short: _N("MulBackward0")


def _return_type(name):
    """A (values, indices) named tuple printed as PyTorch prints torch.return_types."""
    base = namedtuple(name, ["values", "indices"])

    def __repr__(self):  # noqa: N807
        return f"engine.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__})


def _init_fields(t, data, requires_grad):
    """Give a new Tensor (or subclass instance) its array and a fresh, graph-free state."""
    t._data = data
    t.grad = None
    t.grad_fn = None
    t.requires_grad = requires_grad
    t._accum = None
    t._hooks = None
    t._output_nr = 0
    t._vc = None
    t._tstrides = None


def _wrap(data, requires_grad=False):
    # _init_fields written out: this runs for every op's result, and the call costs ~2%.
    if data.__class__ is not np.ndarray:
        data = np.asarray(data)  # numpy answers 0-d arithmetic with scalars
    t = object.__new__(Tensor)
    t._data = data
    t.grad = None
    t.grad_fn = None
    t.requires_grad = requires_grad
    t._accum = None
    t._hooks = None
    t._output_nr = 0
    t._vc = None  # version counter, a one-item list shared with views; None: version 0
    t._tstrides = None  # PyTorch's strides when its layout would not be contiguous
    return t


def _edge(t):
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t.requires_grad:
        acc = t._accum
        if acc is None:
            acc = t._accum = AccumulateGrad(t)
        return (acc, 0)
    return (None, 0)


def _make(data, inputs, cls, backward):
    """The op's result; with a graph node when grad mode is on and an input wants a gradient."""
    if _grad_state.enabled:
        for t in inputs:
            if t.requires_grad:
                out = _wrap(data, True)
                out.grad_fn = cls(backward, tuple(map(_edge, inputs)))
                return out
    return _wrap(data)


# ---------------------------------------------------------------- version counters
# Every in-place op bumps its tensor's version (shared with views of the same memory); a node
# records the versions of the tensors its backward reads and refuses to run on changed ones.
def _share_version(out, base):
    """``out`` views ``base``'s memory: an in-place change to either is one to both."""
    vc = base._vc
    if vc is None:
        vc = base._vc = [0]
    out._vc = vc
    return out


def _bump(t):
    vc = t._vc
    if vc is None:
        t._vc = [1]
    else:
        vc[0] += 1


def _save(out, *tensors):
    """Record the versions of ``tensors`` (inputs or ``out`` itself) that ``out``'s backward
    reads; returns ``out``."""
    node = out.grad_fn
    if node is not None:
        node._saved_versions = tuple(map(_version_entry, tensors))
    return out


def _version_entry(t):
    """What backward checks of a saved tensor, and what its error message names."""
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    fn = t.grad_fn
    return (vc, vc[0], t._data.shape, t._data.dtype, fn and type(fn).__name__, t._output_nr)


def _save_cross(out, a, b):
    """Products: ``a``'s gradient reads ``b`` and ``b``'s reads ``a``."""
    if out.grad_fn is None:
        return out
    return _save(out, *([b] if a.requires_grad else []), *([a] if b.requires_grad else []))


def _needs(t):
    return t.requires_grad


# ---------------------------------------------------------------- shared helpers
def _unbroadcast(g, shape):
    """Sum a gradient back to the shape of a broadcast input (the one place that does it)."""
    if g.shape == shape:
        return g
    nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _fix_dtype(out, a, b):
    """numpy gives float64 for int/float mixes that PyTorch computes in float32."""
    if out.dtype == _F64 and a.dtype != _F64 and (not isinstance(b, np.ndarray) or b.dtype != _F64):
        return out.astype(_F32)
    return out


def _to_array(data, dtype=None):
    if isinstance(data, Tensor):
        arr = data._data
        return arr if dtype is None else arr.astype(dtype)
    if dtype is not None:
        return np.array(data, dtype=dtype)
    arr = np.array(data)
    k = arr.dtype.kind
    if k == "f":
        if arr.dtype != _F64 or not isinstance(data, np.ndarray):
            arr = arr.astype(_F32)
    elif k in "iu":
        if not isinstance(data, np.ndarray):
            arr = arr.astype(_I64)
    elif k == "O":
        arr = np.array(arr.tolist(), dtype=_F32)
    return arr


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _as_tuple(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        return tuple(args[0])
    return args


def _norm_dim(dim, ndim):
    n = builtins.max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim + n if dim < 0 else dim


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(_norm_dim(d, ndim) for d in dim)
    return (_norm_dim(dim, ndim),)


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _tensorize(x):
    if isinstance(x, Tensor):
        return x
    return _wrap(_to_array(x))


def _numpy_aliases(fn):
    """PyTorch also takes numpy's ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``."""

    def wrapper(*args, **kwargs):
        if kwargs:
            for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(
                            f"{fn.__name__}() got an unexpected keyword argument '{alias}'"
                        )
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper
