"""dtypes, Size and device: the small value types of the torch-like namespace."""

import builtins

import numpy as np


class dtype:  # noqa: N801 - PyTorch's spelling
    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name, np_dtype, is_floating_point):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = is_floating_point
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"engine.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


float32 = dtype("float32", np.float32, True)
float64 = dtype("float64", np.float64, True)
float16 = dtype("float16", np.float16, True)
int64 = dtype("int64", np.int64, False)
int32 = dtype("int32", np.int32, False)
int16 = dtype("int16", np.int16, False)
int8 = dtype("int8", np.int8, False)
uint8 = dtype("uint8", np.uint8, False)
bool_ = dtype("bool", np.bool_, False)

float = float32  # noqa: A001 - torch.float
double = float64
half = float16
long = int64
int = int32  # noqa: A001 - torch.int
short = int16

_ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)
_FROM_NP = {d.np: d for d in _ALL}
_NAMES = {d.name: d for d in _ALL}


def _by_name(name):
    return _NAMES[name]


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"numpy dtype {np.dtype(np_dtype)} has no engine equivalent") from None


def to_numpy_dtype(d):
    """engine dtype, numpy dtype or Python type -> numpy dtype."""
    if isinstance(d, dtype):
        return d.np
    if d is builtins.float:
        return np.dtype(np.float32)
    if d is builtins.int:
        return np.dtype(np.int64)
    if d is builtins.bool:
        return np.dtype(np.bool_)
    return np.dtype(d)


class Size(tuple):
    """A shape: a tuple that prints as ``engine.Size([6, 1, 5, 5])``."""

    __slots__ = ()

    def __repr__(self):
        return f"engine.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class device:  # noqa: N801 - PyTorch's spelling
    """Only the CPU exists; ``device("cpu")`` is accepted everywhere PyTorch takes a device."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index  # noqa: A001
        if type.split(":")[0] != "cpu":
            raise RuntimeError(
                f"engine runs on the CPU only; device {type!r} is not available "
                "(use 'cpu' or leave the device out)"
            )
        self.type = "cpu"
        self.index = index

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"

    def __eq__(self, other):
        if isinstance(other, str):
            return other.split(":")[0] == "cpu"
        return isinstance(other, device)

    def __hash__(self):
        return hash("cpu")


CPU = device("cpu")
