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


_DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
    "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)


class device:  # noqa: N801 - PyTorch's spelling
    """A device name, as PyTorch's: any of its device types constructs (code that names
    ``"cuda"`` runs up to the point it puts a tensor there); only the CPU holds tensors
    (``place``)."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index  # noqa: A001
        elif isinstance(type, builtins.int) and not isinstance(type, builtins.bool):
            type, index = "cuda", type  # noqa: A001 - torch.device(0) is the first GPU
        elif not isinstance(type, str):
            raise TypeError(
                f"device() received an invalid combination of arguments - got "
                f"({builtins.type(type).__name__})"
            )
        else:
            name, sep, number = type.partition(":")
            if name not in _DEVICE_TYPES:
                raise RuntimeError(
                    f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                    f"string: {type}"
                )
            if sep:
                if not number.isdigit() or index is not None:
                    raise RuntimeError(f"Invalid device string: '{type}'")
                index = builtins.int(number)
            type = name  # noqa: A001
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            return self.type == "cpu" and other.split(":")[0] == "cpu"
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


def place(where):
    """Where a tensor may go: the CPU. Any other device fails as PyTorch's CPU build fails."""
    d = where if isinstance(where, device) else device(where)
    if d.type == "cpu":
        return CPU
    if d.type in ("cuda", "xpu", "hip"):
        raise AssertionError(f"engine not compiled with {d.type.upper()} enabled")
    raise RuntimeError(
        f"engine computes on the CPU only; it cannot put a tensor on device '{d}' "
        "(use 'cpu' or leave the device out)"
    )


CPU = device("cpu")
