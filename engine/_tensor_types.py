"""PyTorch's legacy typed constructors (``torch.LongTensor([1, 2])``, ``torch.FloatTensor(2, 3)``)
and type checks (``isinstance(x, torch.FloatTensor)``, ``x.type(torch.LongTensor)``), which
older books and tutorials still use, plus ``finfo``/``iinfo``."""

import numpy as np

from engine import _dtype
from engine.tensor import Tensor


class _TensorTypeMeta(type):
    """The class of ``engine.FloatTensor`` etc.: calling it builds a tensor of its dtype,
    ``isinstance`` checks a tensor's dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.np

    def __call__(cls, *args, device=None):
        if device is not None:
            _dtype.place(device)
        if not args:
            return Tensor._wrap(np.zeros((0,), dtype=cls.dtype.np))
        if len(args) == 1 and isinstance(args[0], (Tensor, np.ndarray)):
            src = args[0]._data if isinstance(args[0], Tensor) else args[0]
            if src.dtype != cls.dtype.np:
                raise TypeError(
                    f"expected {cls.dtype!r} but got {_dtype.from_numpy_dtype(src.dtype)!r} "
                    f"(convert with .to({cls.dtype!r}))"
                )
            return Tensor._wrap(src)  # shares memory, as PyTorch's legacy constructor
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and isinstance(args[0], _dtype.Size)
        ):
            shape = tuple(args[0]) if isinstance(args[0], _dtype.Size) else args
            return Tensor._wrap(np.zeros(shape, dtype=cls.dtype.np))
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}() takes sizes or one sequence of data")
        data = np.array(args[0])
        if data.dtype.kind == "f" and cls.dtype.np.kind in "iu":
            data = np.trunc(data)
        return Tensor._wrap(data.astype(cls.dtype.np))

    def __repr__(cls):
        return f"<class 'engine.{cls.__name__}'>"


def _tensor_type(name, dt):
    return _TensorTypeMeta(name, (), {"dtype": dt, "__module__": "engine"})


FloatTensor = _tensor_type("FloatTensor", _dtype.float32)
DoubleTensor = _tensor_type("DoubleTensor", _dtype.float64)
HalfTensor = _tensor_type("HalfTensor", _dtype.float16)
LongTensor = _tensor_type("LongTensor", _dtype.int64)
IntTensor = _tensor_type("IntTensor", _dtype.int32)
ShortTensor = _tensor_type("ShortTensor", _dtype.int16)
CharTensor = _tensor_type("CharTensor", _dtype.int8)
ByteTensor = _tensor_type("ByteTensor", _dtype.uint8)
BoolTensor = _tensor_type("BoolTensor", _dtype.bool_)

BY_NAME = {
    t.__name__: t
    for t in (
        FloatTensor,
        DoubleTensor,
        HalfTensor,
        LongTensor,
        IntTensor,
        ShortTensor,
        CharTensor,
        ByteTensor,
        BoolTensor,
    )
}


def resolve(kind):
    """``x.type(...)``'s argument as a dtype: a typed class, its name ('torch.LongTensor'),
    or a dtype."""
    if isinstance(kind, _TensorTypeMeta):
        return kind.dtype
    if isinstance(kind, str):
        prefix, _, name = kind.rpartition(".")
        if prefix in ("torch.cuda", "engine.cuda"):
            _dtype.place("cuda")
        if prefix not in ("torch", "engine") or name not in BY_NAME:
            raise ValueError(f"invalid type: '{kind}'")
        return BY_NAME[name].dtype
    return kind


class finfo:  # noqa: N801 - PyTorch's spelling
    """Machine limits of a floating dtype (float32 by default), as ``torch.finfo``."""

    def __init__(self, type=None):  # noqa: A002
        dt = _dtype.float32 if type is None else type
        if not dt.is_floating_point:
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use "
                "torch.iinfo to handle 'torch.finfo'"
            )
        info = np.finfo(dt.np)
        self.dtype = dt.name
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0**-info.precision

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:  # noqa: N801 - PyTorch's spelling
    """Limits of an integer dtype, as ``torch.iinfo``."""

    def __init__(self, type):  # noqa: A002
        if type.is_floating_point:
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to "
                "handle 'torch.iinfo'"
            )
        info = np.iinfo(type.np) if type.np.kind != "b" else None
        if info is None:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        self.dtype = type.name
        self.bits = info.bits
        self.max = int(info.max)
        self.min = int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
