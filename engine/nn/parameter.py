"""Parameter: a Tensor that a Module registers as a learnable weight."""

import numpy as np

from engine.tensor import Tensor, _init_fields, _wrap


class Parameter(Tensor):
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        return object.__new__(cls)

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data._data  # shares storage, as PyTorch
        else:
            arr = np.asarray(data)
            if arr.dtype not in (np.float32, np.float64):
                arr = arr.astype(np.float32)  # lists, ints, float16: the engine's default dtype
        _init_fields(self, arr, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(_wrap(self._data, self.requires_grad))

    def __deepcopy__(self, memo):
        new = Parameter(_wrap(self._data.copy()), self.requires_grad)
        if self.grad is not None:
            new.grad = _wrap(self.grad._data.copy())
        memo[id(self)] = new
        return new


def _module_np_dtype(dtype):
    """A module constructor's ``dtype=`` as a numpy dtype (``None``: float32, engine's default)."""
    return np.float32 if dtype is None else dtype.np


def _empty_parameter(shape, dtype=None, requires_grad=True):
    """An uninitialised Parameter for a module's ``__init__`` (``reset_parameters`` fills it)."""
    return Parameter(np.empty(shape, dtype=_module_np_dtype(dtype)), requires_grad=requires_grad)


class Buffer(Tensor):
    """``nn.Buffer(tensor)``: assigning one to a module attribute registers it as a buffer."""

    __slots__ = ("persistent",)

    def __new__(cls, data=None, *, persistent=True):
        return object.__new__(cls)

    def __init__(self, data=None, *, persistent=True):
        Tensor.__init__(self, data if data is not None else np.empty((0,), dtype=np.float32))
        self.persistent = persistent
