"""Lazy layers (LazyLinear, LazyConv2d, LazyBatchNorm1d/2d): the input size is read from the
first batch, as PyTorch's, which d2l-style code relies on. On that first call the weights take
their shape and PyTorch's default initialisation, and the module becomes the plain layer
(``Linear``, ``Conv2d``, ...), keeping the same Parameter objects (an optimizer built before
the first call keeps working)."""

import numpy as np

from engine.nn.modules.conv import Conv2d
from engine.nn.modules.linear import Linear
from engine.nn.modules.module import Module
from engine.nn.modules.normalization import BatchNorm1d, BatchNorm2d
from engine.nn.parameter import Buffer, Parameter, _module_np_dtype


class UninitializedParameter(Parameter):
    """A Parameter whose shape is not known yet; ``materialize(shape)`` makes it a Parameter."""

    __slots__ = ()

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return object.__new__(cls)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), dtype=_module_np_dtype(dtype)), requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        dt = self._data.dtype if dtype is None else dtype.np
        self._data = np.empty(tuple(shape), dtype=dt)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes."
        )

    def __repr__(self):
        return "<UninitializedParameter>"


class UninitializedBuffer(Buffer):
    __slots__ = ()

    def materialize(self, shape, device=None, dtype=None):
        dt = self._data.dtype if dtype is None else dtype.np
        self._data = np.empty(tuple(shape), dtype=dt)
        self.__class__ = Buffer


class _LazyMixin:
    """Shape the parameters from the first input, then become ``cls_to_become``."""

    cls_to_become = None

    def has_uninitialized_params(self):
        return any(
            isinstance(t, (UninitializedParameter, UninitializedBuffer))
            for t in list(self._parameters.values()) + list(self._buffers.values())
        )

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(*args, **kwargs)
        self.__class__ = self.cls_to_become  # also after load_state_dict shaped the weights
        return Module.__call__(self, *args, **kwargs)


def _uninitialized(dtype):
    return UninitializedParameter(dtype=dtype)


class LazyLinear(_LazyMixin, Linear):
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self.weight = _uninitialized(dtype)
        if bias:
            self.bias = _uninitialized(dtype)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        self.in_features = input._data.shape[-1]
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()


class LazyConv2d(_LazyMixin, Conv2d):
    cls_to_become = Conv2d

    def __init__(
        self,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        Conv2d.__init__(
            self,
            0,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.weight = _uninitialized(dtype)
        if bias:
            self.bias = _uninitialized(dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        shape = input._data.shape
        self.in_channels = shape[1] if len(shape) == 4 else shape[0]
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        self.weight.materialize(
            (self.out_channels, self.in_channels // self.groups) + tuple(self.kernel_size)
        )
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyBatchNorm(_LazyMixin):
    def _lazy_init(self, affine, track_running_stats, dtype):
        if affine:
            self.weight = _uninitialized(dtype)
            if self.bias is not None:
                self.bias = _uninitialized(dtype)
        if track_running_stats:
            for name in ("running_mean", "running_var"):
                self._buffers[name] = UninitializedBuffer(
                    np.empty((0,), _module_np_dtype(dtype))
                )

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        self.num_features = input._data.shape[1] if input._data.ndim > 1 else 0
        for t in list(self._parameters.values()) + list(self._buffers.values()):
            if isinstance(t, (UninitializedParameter, UninitializedBuffer)):
                t.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d

    def __init__(
        self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None
    ):
        BatchNorm1d.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        self._lazy_init(affine, track_running_stats, dtype)


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d

    def __init__(
        self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None
    ):
        BatchNorm2d.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype)
        self._lazy_init(affine, track_running_stats, dtype)
