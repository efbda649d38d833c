"""engine: a numpy autograd library with PyTorch's API.

``import engine as torch`` runs PyTorch tutorial code such as the LeNet walk-through and gives
PyTorch's numbers for the same weights and inputs.
"""

import numpy as _np

from engine import (
    _dtype,  # noqa: F401 - engine._dtype for the dtype helpers
    accelerator,
    autograd,
    backends,
    cuda,
    nn,
    optim,
    utils,
)
from engine._creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from engine._dtype import (
    Size,
    bool_,
    device,
    double,
    dtype,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from engine._random import Generator, default_generator, initial_seed, seed
from engine._tensor_types import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    finfo,
    iinfo,
)
from engine.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from engine.tensor import (
    Tensor,
    _numpy_aliases,
    abs,
    addmm,
    amax,
    argmax,
    argmin,
    bmm,
    cat,
    ceil,
    clamp,
    clone,
    cos,
    cosh,
    cumsum,
    diag,
    exp,
    flatten,
    flip,
    floor,
    gather,
    index_select,
    isclose,
    log,
    log1p,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mv,
    nonzero,
    permute,
    pow,
    relu,
    reshape,
    round,
    scatter,
    scatter_add,
    sigmoid,
    sin,
    sinh,
    softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    tanh,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
)


def _accepts_out(fn):
    """PyTorch's ``out=`` keyword: the result is written into ``out`` (resized if needed), which
    is returned. Public functions only; the engine's own code calls the unwrapped ones."""

    def wrapper(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if is_grad_enabled() and result.requires_grad:
            raise RuntimeError(
                f"{fn.__name__}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad."
            )
        r = result._data
        if out._data.shape == r.shape:
            _np.copyto(out._data, r, casting="same_kind")
        else:
            out._data = r.astype(out._data.dtype)
        return out

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    return wrapper


bool = bool_  # noqa: A001 - torch.bool
float = float32  # noqa: A001 - torch.float
int = int32  # noqa: A001 - torch.int

__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def add(a, b, alpha=1):
    return a.add(b, alpha=alpha) if isinstance(a, Tensor) else b.add(a, alpha=alpha)


def sub(a, b, alpha=1):
    return a.sub(b, alpha=alpha)


def mul(a, b):
    return a * b


def div(a, b, rounding_mode=None):
    from engine.tensor import div as _div

    return _div(a, b, rounding_mode)


def neg(a):
    return -a


def t(a):
    return a.t()


def split(a, split_size_or_sections, dim=0):
    return a.split(split_size_or_sections, dim)


def chunk(a, chunks, dim=0):
    return a.chunk(chunks, dim)


def unbind(a, dim=0):
    return a.unbind(dim)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return a.allclose(b, rtol, atol, equal_nan)


def equal(a, b):
    return a.equal(b)


def isnan(a):
    return a.isnan()


def isfinite(a):
    return a.isfinite()


def sort(a, dim=-1, descending=False):
    return a.sort(dim, descending)


def argsort(a, dim=-1, descending=False):
    return a.argsort(dim, descending)


def topk(a, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    return a.topk(k, dim, largest, sorted)


def norm(a, p="fro", dim=None, keepdim=False):
    return a.norm(2 if p == "fro" else p, dim, keepdim)


def set_default_device(device):
    """Only the CPU exists here; anything else is refused as engine.device refuses it
    (None resets to the default, as in PyTorch)."""
    if device is not None:
        _dtype.place(device)


def get_default_device():
    return _dtype.CPU


def get_default_dtype():
    return float32


def set_default_dtype(d):
    if d is not float32:
        raise ValueError("engine computes in float32 by default; only float32 is supported here")


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, **_):
    from engine import _tensor_str

    if precision is not None:
        _tensor_str.PRECISION = precision
    if threshold is not None:
        _tensor_str.THRESHOLD = threshold
    if edgeitems is not None:
        _tensor_str.EDGEITEMS = edgeitems
    if linewidth is not None:
        _tensor_str.LINEWIDTH = linewidth


def set_num_threads(n):
    """Threads the convolution and pooling kernels split a batch across (torch.set_num_threads)."""
    from engine._kernels import set_num_threads as _set_kernel_threads

    _set_kernel_threads(n)


def get_num_threads():
    from engine._kernels import num_threads

    return num_threads()


def save(obj, f, **kwargs):
    from engine import serialization

    return serialization.save(obj, f, **kwargs)


def load(f, **kwargs):
    from engine import serialization

    return serialization.load(f, **kwargs)


def hstack(tensors):
    """Concatenate along the columns (1-D tensors end to end), as ``torch.hstack``."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Stack rows: 1-D tensors become rows of a matrix, as ``torch.vstack``."""
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


row_stack = vstack


def meshgrid(*tensors, indexing=None):
    """Coordinate grids, as ``torch.meshgrid`` ('ij' by default; PyTorch warns when
    ``indexing`` is left out, and so does engine)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    tensors = list(tensors)
    if indexing is None:
        import warnings

        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}"
        )
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}"
            )
    flat = [t.reshape(-1) for t in tensors]
    if indexing == "xy" and len(flat) >= 2:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = []
    for i, t in enumerate(flat):
        view = [1] * len(flat)
        view[i] = -1
        grids.append(t.reshape(view).expand(shape))
    if indexing == "xy" and len(grids) >= 2:  # 'ij' grids of the swapped inputs, swapped back
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# the functions PyTorch tutorials call with out=
for _name in (
    "abs", "add", "cat", "clamp", "cos", "div", "exp", "log", "matmul", "maximum", "minimum",
    "mm", "mul", "pow", "sigmoid", "sin", "sqrt", "stack", "sub", "sum", "tanh",
):
    globals()[_name] = _accepts_out(globals()[_name])
# numpy's axis= / keepdims= spellings, which PyTorch accepts for dim= / keepdim=
for _name in (
    "sum", "mean", "var", "std", "max", "min", "amax", "argmax", "argmin", "logsumexp",
    "softmax", "log_softmax", "cumsum", "squeeze", "unsqueeze", "cat", "stack", "sort",
    "argsort", "topk", "gather", "index_select", "norm", "chunk", "split", "unbind", "flatten",
    "scatter", "scatter_add",
):
    globals()[_name] = _numpy_aliases(globals()[_name])
del _name
clip = clamp
concat = cat
concatenate = cat
dot = matmul

__all__ = [
    "mv",
    "vstack",
    "sinh",
    "scatter_add",
    "scatter",
    "row_stack",
    "meshgrid",
    "iinfo",
    "hstack",
    "finfo",
    "cosh",
    "ShortTensor",
    "LongTensor",
    "IntTensor",
    "HalfTensor",
    "FloatTensor",
    "DoubleTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
    "Generator",
    "Size",
    "Tensor",
    "abs",
    "accelerator",
    "add",
    "addmm",
    "allclose",
    "amax",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "as_tensor",
    "autograd",
    "backends",
    "bernoulli",
    "bmm",
    "bool",
    "bool_",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "concat",
    "concatenate",
    "cos",
    "cuda",
    "cumsum",
    "default_generator",
    "device",
    "diag",
    "div",
    "dot",
    "double",
    "dtype",
    "empty",
    "empty_like",
    "enable_grad",
    "equal",
    "exp",
    "eye",
    "flatten",
    "flip",
    "float",
    "float16",
    "float32",
    "float64",
    "floor",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "get_default_device",
    "get_default_dtype",
    "get_num_threads",
    "half",
    "index_select",
    "inference_mode",
    "initial_seed",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "is_grad_enabled",
    "is_tensor",
    "isclose",
    "isfinite",
    "isnan",
    "linspace",
    "load",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "long",
    "manual_seed",
    "masked_fill",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "multinomial",
    "neg",
    "nn",
    "no_grad",
    "nonzero",
    "norm",
    "normal",
    "numel",
    "ones",
    "ones_like",
    "optim",
    "permute",
    "pow",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "relu",
    "reshape",
    "round",
    "save",
    "seed",
    "set_default_device",
    "set_default_dtype",
    "set_grad_enabled",
    "set_num_threads",
    "set_printoptions",
    "short",
    "sigmoid",
    "sin",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "t",
    "tanh",
    "tensor",
    "topk",
    "transpose",
    "tril",
    "triu",
    "uint8",
    "unbind",
    "unsqueeze",
    "utils",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
