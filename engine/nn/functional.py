"""engine.nn.functional: the functional twin of every layer, plus pad and one_hot.

Conv and pooling call the numpy kernels of ``engine._kernels`` (docs/CONTRACTS.md, numpy kernels);
all their state lives in the kernel's ctx, held by the node's closure.
"""

import builtins
import math
import warnings

import numpy as np

from engine import _random
from engine._kernels import conv as _conv
from engine._kernels import norm as _norm
from engine._kernels import pool as _pool
from engine.autograd.grad_mode import _state as _grad_state
from engine.autograd.graph import node_type as _N
from engine.tensor import (
    _make,
    _shape_str,
    _unbroadcast,
    _wrap,
    addmm,
    matmul,
    sigmoid,
    tanh,
)
from engine.tensor import flatten as _flatten
from engine.tensor import log_softmax as _log_softmax_t
from engine.tensor import relu as _relu_t
from engine.tensor import softmax as _softmax_t

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "gelu",
    "hardtanh",
    "interpolate",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "embedding",
    "pad",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "flatten",
    "identity",
]

_TYPE_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def _dtype_mismatch(first, second):
    return _TYPE_NAMES.get(first.name, first.name), _TYPE_NAMES.get(second.name, second.name)


def _pair(v, name="value"):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]), int(v[0]))
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    return _flatten(input, start_dim, end_dim)


def identity(input):  # noqa: A002
    return input


# -------------------------------------------------------------------- linear
def linear(input, weight, bias=None):  # noqa: A002
    xd, wd = input._data, weight._data
    if xd.shape[-1] != wd.shape[-1] if xd.ndim else True:
        rows = int(np.prod(xd.shape[:-1])) if xd.ndim > 1 else 1
        cols = xd.shape[-1] if xd.ndim else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
            f"{wd.shape[1]}x{wd.shape[0]})"
        )
    if xd.dtype != wd.dtype:
        a, b = _dtype_mismatch(xd.dtype, wd.dtype)
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {a} and {b} (convert the input "
            f"with .float(), or the layer with .double())"
        )
    wt = weight.t()
    if xd.ndim == 2 and bias is not None:
        return addmm(bias, input, wt)
    if xd.ndim == 2:
        return matmul(input, wt)
    if xd.ndim == 1:
        out = matmul(input, wt)
        return out + bias if bias is not None else out
    lead = xd.shape[:-1]
    x2 = input.reshape(-1, xd.shape[-1])
    out = addmm(bias, x2, wt) if bias is not None else matmul(x2, wt)
    return out.reshape(lead + (wd.shape[0],))


def bilinear(input1, input2, weight, bias=None):
    out = (
        input1.unsqueeze(1).unsqueeze(-2) @ weight.unsqueeze(0) @ input2.unsqueeze(1).unsqueeze(-1)
    )
    out = out.squeeze(-1).squeeze(-1)
    return out + bias if bias is not None else out


# -------------------------------------------------------------------- convolution
_ConvolutionBackward0 = _N("ConvolutionBackward0")


def _conv_padding(padding, kernel, stride, dilation):
    """Explicit (top, bottom, left, right), as PyTorch pads for each form."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            th = dilation[0] * (kernel[0] - 1)
            tw = dilation[1] * (kernel[1] - 1)
            # an odd total puts the extra row/column at the bottom/right, as PyTorch
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(
            f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
        )
    ph, pw = _pair(padding, "padding")
    return (ph, ph, pw, pw)


def _as_input_dtype(out, xd):
    """A kernel's result in its input's dtype (kernels return float32 for half and integers)."""
    return out if out.dtype == xd.dtype else out.astype(xd.dtype)


def _grad_as(dx, xd):
    return (_as_input_dtype(dx, xd),)


def _check_conv_args(pad, stride, dilation, groups):
    """PyTorch's checks, in its order and words."""
    if any(p < 0 for p in pad):
        raise RuntimeError("negative padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(
            f"dilation should be greater than zero, but got {_shape_str(dilation)}"
        )
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    xd, wd = input._data, weight._data
    if xd.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(
            0
        )
    if xd.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
            f"{_shape_str(xd.shape)}"
        )
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = wd.shape[2:]
    pad = _conv_padding(padding, kernel, stride, dilation)
    _check_conv_args(pad, stride, dilation, groups)
    if xd.shape[1] != wd.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape_str(wd.shape)}, expected "
            f"input{_shape_str(xd.shape)} to have {wd.shape[1] * groups} channels, but got "
            f"{xd.shape[1]} channels instead"
        )
    if xd.dtype != wd.dtype:
        a, b = _dtype_mismatch(xd.dtype, wd.dtype)
        raise RuntimeError(
            f"expected scalar type {a} but found {b} (the input is {a} and the weight {b}: "
            "convert the input with .float(), or the layer with .double())"
        )
    ph, pw = xd.shape[2] + pad[0] + pad[1], xd.shape[3] + pad[2] + pad[3]
    eh, ew = dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1
    if ph < eh or pw < ew:
        raise RuntimeError(
            f"Calculated padded input size per channel: ({ph} x {pw}). Kernel size: "
            f"({eh} x {ew}). Kernel size can't be greater than actual input size"
        )
    # the kernel computes float64 as float64 and everything else (half, integers) as float32
    out, ctx = _conv.conv2d_forward(
        xd, wd, None if bias is None else bias._data, stride, pad, dilation, groups
    )
    out = _as_input_dtype(out, xd)
    if not _grad_state.enabled:
        return _wrap(out)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    dtypes = [t._data.dtype for t in inputs]

    def backward(g):
        dx, dw, db = _conv.conv2d_backward(
            g,
            ctx,
            input.requires_grad,
            weight.requires_grad,
            bias is not None and bias.requires_grad,
        )
        res = (dx, dw) if bias is None else (dx, dw, db)
        return tuple(r if r is None or r.dtype == d else r.astype(d) for r, d in zip(res, dtypes))

    return _make(out, inputs, _ConvolutionBackward0, backward)


def _transpose_out_size(size, kernel, stride, pad, dilation, output_padding):
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def conv_transpose2d(
    input,  # noqa: A002
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """The gradient of conv2d with respect to its input, used as a layer (PyTorch's weight
    layout: in_channels x out_channels/groups x kH x kW).

    Each input pixel scatters kernel-sized patches into the output: one tensordot per
    group, then one strided add per kernel offset.
    """
    xd, wd = input._data, weight._data
    if xd.ndim == 3:
        return conv_transpose2d(
            input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation
        ).squeeze(0)
    if xd.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input "
            f"of size: {_shape_str(xd.shape)}"
        )
    if xd.shape[1] != wd.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_shape_str(wd.shape)}, expected input"
            f"{_shape_str(xd.shape)} to have {wd.shape[0]} channels, but got {xd.shape[1]} "
            f"channels instead"
        )
    if xd.dtype != wd.dtype:
        a, b = _dtype_mismatch(xd.dtype, wd.dtype)
        raise RuntimeError(f"expected scalar type {a} but found {b}")
    s, p = _pair(stride, "stride"), _pair(padding, "padding")
    op, d = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    for i in range(2):
        if op[i] >= max(s[i], d[i]):
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                f"output_padding_height: {op[0]} output_padding_width: {op[1]} stride_height: "
                f"{s[0]} stride_width: {s[1]} dilation_height: {d[0]} dilation_width: {d[1]}"
            )
    n, cin, h, w = xd.shape
    kh, kw = wd.shape[2:]
    cout_g = wd.shape[1]
    cin_g = cin // groups
    oh = _transpose_out_size(h, kh, s[0], p[0], d[0], op[0])
    ow = _transpose_out_size(w, kw, s[1], p[1], d[1], op[1])
    if oh < 1 or ow < 1:
        raise RuntimeError(
            f"Given input size per channel: ({h} x {w}). Calculated output size per channel: "
            f"({oh} x {ow}). Output size is too small"
        )
    full_h, full_w = oh + 2 * p[0], ow + 2 * p[1]
    span_h, span_w = (h - 1) * s[0] + 1, (w - 1) * s[1] + 1

    def offsets():
        for i in range(kh):
            for j in range(kw):
                yield (
                    i,
                    j,
                    (
                        slice(i * d[0], i * d[0] + span_h, s[0]),
                        slice(j * d[1], j * d[1] + span_w, s[1]),
                    ),
                )

    full = np.zeros((n, groups * cout_g, full_h, full_w), dtype=xd.dtype)
    for gi in range(groups):
        xs = xd[:, gi * cin_g : (gi + 1) * cin_g]
        ws = wd[gi * cin_g : (gi + 1) * cin_g]
        # (N, H, W, Cout_g, kH, kW): every input pixel times the whole kernel
        cols = np.tensordot(xs, ws, axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)
        block = full[:, gi * cout_g : (gi + 1) * cout_g]
        for i, j, (rows, cols_) in offsets():
            block[:, :, rows, cols_] += cols[:, :, i, j]
    out = full[:, :, p[0] : p[0] + oh, p[1] : p[1] + ow]
    if bias is not None:
        out = out + bias._data.reshape(1, -1, 1, 1)
    out = np.ascontiguousarray(out, dtype=xd.dtype)
    inputs = (input, weight) if bias is None else (input, weight, bias)

    def backward(g):
        gfull = np.zeros((n, groups * cout_g, full_h, full_w), dtype=g.dtype)
        gfull[:, :, p[0] : p[0] + oh, p[1] : p[1] + ow] = g
        gx = np.zeros(xd.shape, dtype=g.dtype) if input.requires_grad else None
        gw = np.zeros(wd.shape, dtype=g.dtype) if weight.requires_grad else None
        for gi in range(groups):
            xs = xd[:, gi * cin_g : (gi + 1) * cin_g]
            ws = wd[gi * cin_g : (gi + 1) * cin_g]
            gblock = gfull[:, gi * cout_g : (gi + 1) * cout_g]
            for i, j, (rows, cols_) in offsets():
                picked = gblock[:, :, rows, cols_]  # (N, Cout_g, H, W)
                if gx is not None:
                    gx[:, gi * cin_g : (gi + 1) * cin_g] += np.einsum(
                        "nohw,co->nchw", picked, ws[:, :, i, j], optimize=True
                    )
                if gw is not None:
                    gw[gi * cin_g : (gi + 1) * cin_g, :, i, j] += np.einsum(
                        "nchw,nohw->co", xs, picked, optimize=True
                    )
        res = [gx, gw]
        if bias is not None:
            res.append(g.sum(axis=(0, 2, 3)) if bias.requires_grad else None)
        return tuple(
            r if r is None else r.astype(t._data.dtype, copy=False) for r, t in zip(res, inputs)
        )

    return _make(out, inputs, _N("ConvolutionBackward0"), backward)


# -------------------------------------------------------------------- resampling
def _resize_matrix(in_size, out_size, mode, align_corners, scale):
    """(out_size, in_size) weights that resample one axis; nearest and bilinear are both a
    matrix, so forward is two matmuls and backward their transposes.

    ``scale`` is the user's scale factor (or None when a size was given): PyTorch maps output
    to input coordinates with 1/scale_factor then, and with in/out otherwise.
    """
    m = np.zeros((out_size, in_size), dtype=np.float64)
    dst = np.arange(out_size, dtype=np.float64)
    ratio = (1.0 / scale) if scale is not None else in_size / out_size
    if mode == "nearest":
        src = np.minimum(np.floor(dst * np.float32(ratio)).astype(np.int64), in_size - 1)
        m[np.arange(out_size), src] = 1.0
        return m
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = dst * ratio
    else:
        src = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    frac = src - i0
    rows = np.arange(out_size)
    np.add.at(m, (rows, i0), 1.0 - frac)
    np.add.at(m, (rows, i1), frac)
    return m


def interpolate(
    input,  # noqa: A002
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    """Resize the last two dims of an (N, C, H, W) input: 'nearest' or 'bilinear'."""
    xd = input._data
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported here; use 'nearest' or 'bilinear'"
        )
    if xd.ndim != 4:
        raise NotImplementedError(
            f"Input Error: Only 4D input Tensors are supported here (got {xd.ndim}D) for the "
            f"modes: nearest | bilinear (got {mode})"
        )
    if mode == "nearest" and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    h, w = xd.shape[2:]
    if size is not None:
        oh, ow = _pair(size, "size")
        scales = (None, None)
    else:
        sh, sw = (
            tuple(float(v) for v in scale_factor)
            if isinstance(scale_factor, (tuple, list))
            else (float(scale_factor),) * 2
        )
        oh, ow = int(math.floor(h * sh)), int(math.floor(w * sw))
        scales = (None, None) if recompute_scale_factor else (sh, sw)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"Input and output sizes should be greater than 0, but got input (H: {h}, W: {w}) "
            f"output (H: {oh}, W: {ow})"
        )
    corners = bool(align_corners)
    mh = _resize_matrix(h, oh, mode, corners, scales[0]).astype(xd.dtype)
    mw = _resize_matrix(w, ow, mode, corners, scales[1]).astype(xd.dtype)
    out = np.matmul(np.matmul(mh, xd), mw.T)
    node = "UpsampleNearest2DBackward0" if mode == "nearest" else "UpsampleBilinear2DBackward0"
    return _make(
        out, (input,), _N(node), lambda g: (np.matmul(np.matmul(mh.T, g), mw).astype(xd.dtype),)
    )


# -------------------------------------------------------------------- layer norm
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the last len(normalized_shape) dims of each sample, then scale/shift."""
    xd = input._data
    shape = (
        (int(normalized_shape),)
        if isinstance(normalized_shape, int)
        else tuple(int(v) for v in normalized_shape)
    )
    k = len(shape)
    if xd.shape[xd.ndim - k :] != shape or k > xd.ndim:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(str(v) for v in shape)}], but got input of size{_shape_str(xd.shape)}"
        )
    axes = tuple(range(xd.ndim - k, xd.ndim))
    mu = xd.mean(axis=axes, keepdims=True, dtype=np.float64)
    var = ((xd - mu) ** 2).mean(axis=axes, keepdims=True)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(xd.dtype)
    xhat = (xd - mu.astype(xd.dtype)) * inv_std
    wd = None if weight is None else weight._data
    out = xhat * wd if wd is not None else xhat
    if bias is not None:
        out = out + bias._data
    inputs = tuple(t for t in (input, weight, bias) if t is not None)
    lead = tuple(range(xd.ndim - k))

    def backward(g):
        res = []
        if input.requires_grad:
            gxhat = g * wd if wd is not None else g
            m1 = gxhat.mean(axis=axes, keepdims=True)
            m2 = (gxhat * xhat).mean(axis=axes, keepdims=True)
            res.append((gxhat - m1 - xhat * m2) * inv_std)
        else:
            res.append(None)
        if weight is not None:
            res.append((g * xhat).sum(axis=lead) if weight.requires_grad else None)
        if bias is not None:
            res.append(g.sum(axis=lead) if bias.requires_grad else None)
        return tuple(res)

    return _make(out.astype(xd.dtype, copy=False), inputs, _N("NativeLayerNormBackward0"), backward)


# -------------------------------------------------------------------- pooling
def _pool_args(kernel_size, stride, padding, dilation=1):
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else _pair(stride)
    return k, s, _pair(padding, "padding"), _pair(dilation, "dilation")


def _check_pool_input(name, xd):
    if xd.ndim not in (3, 4):
        raise RuntimeError(
            f"{name}: Expected 3D or 4D (batch mode) tensor for input, but got input of size: "
            f"{_shape_str(xd.shape)}"
        )


def _pool_validate(name, xd, k, s, p, dilation=(1, 1), ceil_mode=False):
    """PyTorch's checks and messages, before the kernel sees the input."""
    for i in range(2):
        if p[i] * 2 > k[i]:
            raise RuntimeError(
                f"{name}: pad should be at most half of effective kernel size, but got pad="
                f"{p[i]}, kernel_size={k[i]} and dilation={dilation[i]}"
            )
        if s[i] <= 0:
            raise RuntimeError(f"{name}: stride should be greater than zero, but got stride={s[i]}")
    h, w = xd.shape[-2:]
    oh = _pool.pool_output_size(h, k[0], s[0], p[0], dilation[0], ceil_mode)
    ow = _pool.pool_output_size(w, k[1], s[1], p[1], dilation[1], ceil_mode)
    if oh < 1 or ow < 1:
        c = xd.shape[-3]
        raise RuntimeError(
            f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{oh}x{ow}). "
            "Output size is too small"
        )


def _unbatched(fn, input, *args, **kwargs):  # noqa: A002
    out = fn(input.unsqueeze(0), *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) for o in out)
    return out.squeeze(0)


_MaxPoolBackward = _N("MaxPool2DWithIndicesBackward0")


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,  # noqa: A002
    return_indices=False,
):
    xd = input._data
    _check_pool_input("max_pool2d", xd)
    if xd.ndim == 3:
        return _unbatched(
            max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
        )
    k, s, p, d = _pool_args(kernel_size, stride, padding, dilation)
    _pool_validate("max_pool2d", xd, k, s, p, d, ceil_mode)
    out, indices, ctx = _pool.max_pool2d_forward(xd, k, s, p, d, ceil_mode, return_indices)
    res = _make(
        _as_input_dtype(out, xd),
        (input,),
        _MaxPoolBackward,
        lambda g: _grad_as(_pool.max_pool2d_backward(g, ctx), xd),
    )
    if return_indices:
        return res, _wrap(indices)
    return res


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,  # noqa: A002
    count_include_pad=True,
    divisor_override=None,
):
    xd = input._data
    _check_pool_input("avg_pool2d", xd)
    if xd.ndim == 3:
        return _unbatched(
            avg_pool2d,
            input,
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
    k, s, p, _ = _pool_args(kernel_size, stride, padding)
    _pool_validate("avg_pool2d", xd, k, s, p, ceil_mode=ceil_mode)
    out, ctx = _pool.avg_pool2d_forward(xd, k, s, p, ceil_mode, count_include_pad, divisor_override)
    return _make(
        _as_input_dtype(out, xd),
        (input,),
        _N("AvgPool2DBackward0"),
        lambda g: _grad_as(_pool.avg_pool2d_backward(g, ctx), xd),
    )


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    xd = input._data
    _check_pool_input("adaptive_avg_pool2d", xd)
    if xd.ndim == 3:
        return _unbatched(adaptive_avg_pool2d, input, output_size)
    if isinstance(output_size, (tuple, list)):
        osz = tuple(xd.shape[2 + i] if v is None else int(v) for i, v in enumerate(output_size))
    else:
        osz = (int(output_size), int(output_size))
    out, ctx = _pool.adaptive_avg_pool2d_forward(xd, osz)
    return _make(
        _as_input_dtype(out, xd),
        (input,),
        _N("MeanBackward1" if osz == (1, 1) else "AdaptiveAvgPool2DBackward0"),
        lambda g: _grad_as(_pool.adaptive_avg_pool2d_backward(g, ctx), xd),
    )


# -------------------------------------------------------------------- activations
def _maybe_inplace(input, out, inplace):  # noqa: A002
    """inplace=True: write into the input's memory when no graph needs the old values, else
    rebind the input to the result (gradients stay right; other views keep the old values)."""
    if not inplace:
        return out
    if _grad_state.enabled and input.requires_grad:
        if input.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        return input._inplace(out)
    if input._data.flags.writeable:
        np.copyto(input._data, out._data, casting="unsafe")
        return input
    return input._inplace(out)


def relu_(input):  # noqa: A002
    return input.relu_()


def _relu(input, inplace=False):  # noqa: A002
    return _maybe_inplace(input, _relu_t(input), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    xd = input._data
    pos = xd > 0
    out = np.where(pos, xd, xd * np.asarray(negative_slope, dtype=xd.dtype))
    res = _make(
        out,
        (input,),
        _N("LeakyReluBackward0"),
        lambda g: (np.where(pos, g, g * np.asarray(negative_slope, dtype=g.dtype)),),
    )
    return _maybe_inplace(input, res, inplace)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    xd = input._data
    pos = xd > 0
    em1 = np.expm1(np.minimum(xd, 0)) * np.asarray(alpha, dtype=xd.dtype)
    out = np.where(pos, xd, em1)
    res = _make(
        out,
        (input,),
        _N("EluBackward0"),
        lambda g: (np.where(pos, g, g * (em1 + np.asarray(alpha, dtype=g.dtype))),),
    )
    return _maybe_inplace(input, res, inplace)


def selu(input, inplace=False):  # noqa: A002
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return elu(input, alpha) * scale


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def _erf(x):
    """erf for a float64 array: exact (math.erf) for float64 tensors, else Abramowitz-Stegun
    7.1.26 (absolute error < 1.5e-7, below float32 resolution) without a Python loop."""
    if x.size <= 4096:
        return np.vectorize(math.erf, otypes=[np.float64])(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - poly * np.exp(-a * a))


def gelu(input, approximate="none"):  # noqa: A002
    xd = input._data
    dt = xd.dtype
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (xd + 0.044715 * xd**3)
        th = np.tanh(inner)
        out = (0.5 * xd * (1 + th)).astype(dt)

        def backward(g):
            dinner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * xd * xd)
            return ((g * (0.5 * (1 + th) + 0.5 * xd * (1 - th * th) * dinner)).astype(dt),)

    elif approximate == "none":
        x64 = xd.astype(np.float64)
        cdf = 0.5 * (1 + _erf(x64 * _INV_SQRT_2))
        out = (x64 * cdf).astype(dt)

        def backward(g):
            pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
            return ((g * (cdf + x64 * pdf)).astype(dt),)

    else:
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _make(out, (input,), _N("GeluBackward0"), backward)


def silu(input, inplace=False):  # noqa: A002
    return _maybe_inplace(input, input * sigmoid(input), inplace)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    xd = input._data
    bx = xd * np.asarray(beta, dtype=xd.dtype)
    lin = bx > threshold
    out = np.where(
        lin, xd, np.log1p(np.exp(np.minimum(bx, threshold))) / np.asarray(beta, dtype=xd.dtype)
    )
    out = out.astype(xd.dtype, copy=False)

    def backward(g):
        s = 1 / (1 + np.exp(-np.minimum(bx, threshold)))
        return (np.where(lin, g, g * s).astype(g.dtype, copy=False),)

    return _make(out, (input,), _N("SoftplusBackward0"), backward)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    xd = input._data
    out = np.clip(xd, min_val, max_val).astype(xd.dtype, copy=False)
    inside = (xd > min_val) & (xd < max_val)
    res = _make(out, (input,), _N("HardtanhBackward0"), lambda g: (g * inside,))
    return _maybe_inplace(input, res, inplace)


def relu6(input, inplace=False):  # noqa: A002
    return hardtanh(input, 0.0, 6.0, inplace)


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    return _softmax_t(input, _softmax_dim(input.ndim) if dim is None else dim, dtype)


def _log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    return _log_softmax_t(input, _softmax_dim(input.ndim) if dim is None else dim, dtype)


def logsigmoid(input):  # noqa: A002
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12):  # noqa: A002
    n = input.norm(p, dim, keepdim=True).clamp_min(eps)
    return input / n


# -------------------------------------------------------------------- dropout and batch norm
def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    xd = input._data
    if p == 1.0:
        mask = np.zeros(xd.shape, dtype=xd.dtype)
    else:
        keep = _random.rng().random(xd.shape, dtype=np.float32) >= p
        # the scaled mask in one pass (no separate cast)
        mask = np.multiply(keep, np.asarray(1.0 / (1.0 - p), dtype=xd.dtype), dtype=xd.dtype)
    out = xd * mask
    res = _make(out, (input,), _N("MulBackward0"), lambda g: (g * mask,))
    return _maybe_inplace(input, res, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels (dim 1) of an (N, C, H, W) input, as PyTorch's Dropout2d.

    Like PyTorch, other ranks are accepted with a warning: a 3-D input counts as (N, C, L)
    and a 2-D input as (N, C), so the mask covers dims 0 and 1 and broadcasts over the rest.
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    xd = input._data
    if xd.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {xd.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if xd.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    if xd.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    mask_shape = xd.shape[:2] + (1,) * (xd.ndim - 2)
    if p == 1.0:
        mask = np.zeros(mask_shape, dtype=xd.dtype)
    else:
        keep = _random.rng().random(mask_shape, dtype=np.float32) >= p
        mask = keep.astype(xd.dtype) * np.asarray(1.0 / (1.0 - p), dtype=xd.dtype)
    res = _make(xd * mask, (input,), _N("MulBackward0"), lambda g: (g * mask,))
    return _maybe_inplace(input, res, inplace)


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,  # noqa: A002
    momentum=0.1,
    eps=1e-05,
):
    xd = input._data
    if xd.ndim < 2:
        raise ValueError(f"expected at least 2D input (got {xd.ndim}D input)")
    n = xd.size // xd.shape[1]
    if training and n <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{_shape_str(xd.shape)}"
        )
    out, ctx, mu, var = _norm.batch_norm_forward(
        xd,
        None if training else running_mean._data,
        None if training else running_var._data,
        None if weight is None else weight._data,
        None if bias is None else bias._data,
        training,
        eps,
    )
    if training:
        if running_mean is not None:
            rm = running_mean._data
            rm *= 1 - momentum
            rm += (momentum * mu).astype(rm.dtype)
        if running_var is not None:
            rv = running_var._data
            rv *= 1 - momentum
            rv += (momentum * var * n / (n - 1)).astype(rv.dtype)
    out = _as_input_dtype(out, xd)
    inputs = tuple(t for t in (input, weight, bias) if t is not None)

    def backward(g):
        gx, gw, gb = _norm.batch_norm_backward(
            g,
            ctx,
            input.requires_grad,
            weight is not None and weight.requires_grad,
            bias is not None and bias.requires_grad,
        )
        res = [None if gx is None else _as_input_dtype(gx, xd)]
        if weight is not None:
            res.append(None if gw is None else gw.astype(weight._data.dtype, copy=False))
        if bias is not None:
            res.append(None if gb is None else gb.astype(bias._data.dtype, copy=False))
        return tuple(res)

    return _make(out, inputs, _N("NativeBatchNormBackward0"), backward)


# -------------------------------------------------------------------- losses
def _reduce(x, reduction):
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _loss_shapes(name, input, target):  # noqa: A002
    if input._data.shape != target._data.shape:
        import warnings

        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


def _pointwise_loss(name, node, fn, dfn, input, target, reduction):  # noqa: A002
    _check_reduction(reduction)
    xd, td = input._data, target._data
    try:
        diff = xd - td
    except ValueError:
        raise RuntimeError(
            f"The size of tensor a ({xd.shape[-1]}) must match the size of tensor b "
            f"({td.shape[-1]}) at non-singleton dimension {max(xd.ndim, td.ndim) - 1}"
        ) from None
    elem = fn(diff)
    if reduction == "none":
        out = elem
        scale = None
    elif reduction == "sum":
        out = np.asarray(elem.sum(dtype=elem.dtype))
        scale = 1.0
    else:
        out = np.asarray(elem.mean(dtype=elem.dtype))
        scale = 1.0 / builtins.max(elem.size, 1)

    def backward(g):
        d = dfn(diff)
        gd = d * g if scale is None else d * (g * np.asarray(scale, dtype=d.dtype))
        return (
            _unbroadcast(gd, xd.shape) if input.requires_grad else None,
            _unbroadcast(-gd, td.shape) if target.requires_grad else None,
        )

    return _make(out, (input, target), _N(node), backward)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):  # noqa: A002
    _loss_shapes("mse_loss", input, target)
    return _pointwise_loss(
        "mse_loss", "MseLossBackward0", lambda d: d * d, lambda d: 2 * d, input, target, reduction
    )


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    # composed as PyTorch composes it: AbsBackward0 then MeanBackward0 / SumBackward0
    _check_reduction(reduction)
    _loss_shapes("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):  # noqa: A002
    _loss_shapes("smooth_l1_loss", input, target)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)

    def f(d):
        a = np.abs(d)
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta).astype(d.dtype)

    def df(d):
        return np.where(np.abs(d) < beta, d / beta, np.sign(d)).astype(d.dtype)

    return _pointwise_loss(
        "smooth_l1_loss", "SmoothL1LossBackward0", f, df, input, target, reduction
    )


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    return smooth_l1_loss(input, target, reduction=reduction, beta=delta) * delta


def _class_targets(name, input, target, ignore_index):  # noqa: A002
    td = target._data
    if td.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected scalar type Long but found {target.dtype.name.capitalize()} "
            f"(class-index targets of {name} must be integers; for class probabilities pass a "
            "float target with the input's shape)"
        )
    xd = input._data
    c = xd.shape[1] if xd.ndim >= 2 else xd.shape[0]
    valid = td != ignore_index
    bad = valid & ((td < 0) | (td >= c))
    if bad.any():
        v = int(td[bad].reshape(-1)[0])
        raise IndexError(
            f"Target {v} is out of bounds: {name} got class index {v} but the input has {c} "
            f"classes (valid targets are 0..{c - 1})"
        )
    return td, valid, c


_NllLossBackward0 = _N("NllLossBackward0")


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,
    reduce=None,  # noqa: A002
    reduction="mean",
):
    _check_reduction(reduction)
    xd = input._data
    if xd.ndim < 1:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    unbatched = xd.ndim == 1
    if unbatched:
        xd = xd.reshape(1, -1)
    td = target._data.reshape(1) if unbatched else target._data
    if xd.shape[0] != td.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({xd.shape[0]}) to match target batch_size ({td.shape[0]})."
        )
    if xd.ndim > 2 and td.shape[1:] != xd.shape[2:]:
        raise RuntimeError(
            f"Expected target size {_shape_str((xd.shape[0],) + xd.shape[2:])}, got "
            f"{_shape_str(td.shape)}"
        )
    td, valid, c = _class_targets("nll_loss", _wrap(xd), _wrap(td), ignore_index)
    safe_t = np.where(valid, td, 0)
    # move the class axis last: (N, d1.., C)
    xl = np.moveaxis(xd, 1, -1)
    picked = np.take_along_axis(xl, safe_t[..., None], axis=-1)[..., 0]
    w = np.ones(c, dtype=xd.dtype) if weight is None else weight._data.astype(xd.dtype)
    wt = w[safe_t] * valid
    losses = -picked * wt
    if reduction == "none":
        out = losses.reshape(()) if unbatched else losses
        denom = None
    elif reduction == "sum":
        out = np.asarray(losses.sum(dtype=xd.dtype))
        denom = 1.0
    else:
        total_w = wt.sum(dtype=xd.dtype)
        out = np.asarray(losses.sum(dtype=xd.dtype) / total_w, dtype=xd.dtype)
        denom = total_w
    shape = input._data.shape

    def backward(g):
        coef = -wt * (g if denom is None else g / np.asarray(denom, dtype=g.dtype))
        if unbatched and denom is None:
            coef = coef.reshape(1)
        gl = np.zeros(xl.shape, dtype=xd.dtype)
        np.put_along_axis(gl, safe_t[..., None], coef[..., None].astype(xd.dtype), axis=-1)
        return (np.moveaxis(gl, -1, 1).reshape(shape),)

    return _make(out, (input,), _NllLossBackward0, backward)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index=-100,  # noqa: A002
    reduce=None,
    reduction="mean",
    label_smoothing=0.0,
):
    _check_reduction(reduction)
    xd = input._data
    cdim = 0 if xd.ndim == 1 else 1
    if target._data.dtype.kind == "f":
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim)
    logp = _log_softmax_t(input, cdim)
    if label_smoothing == 0.0:
        return nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    c = xd.shape[cdim]
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    # the smoothing term: mean over classes of -log p (weighted), ignored targets masked
    td = target._data
    valid = _wrap((td != ignore_index).astype(xd.dtype))
    if weight is not None:
        wshape = [1] * xd.ndim
        wshape[cdim] = c
        smooth = -(logp * weight.reshape(wshape)).sum(cdim)
    else:
        smooth = -logp.sum(cdim)
    smooth = smooth * valid
    if reduction == "none":
        smooth_r = smooth
    elif reduction == "sum":
        smooth_r = smooth.sum()
    else:
        if weight is not None:
            wt = weight._data[np.where(td != ignore_index, td, 0)] * valid._data
            smooth_r = smooth.sum() / float(wt.sum())
        else:
            smooth_r = smooth.sum() / float(valid._data.sum())
    return nll * (1 - label_smoothing) + smooth_r * (label_smoothing / c)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim):  # noqa: A002
    if input._data.shape != target._data.shape:
        raise RuntimeError(
            f"Expected target size {_shape_str(input._data.shape)}, got "
            f"{_shape_str(target._data.shape)}"
        )
    c = input._data.shape[cdim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    logp = _log_softmax_t(input, cdim)
    prod = logp * target
    if weight is not None:
        wshape = [1] * input._data.ndim
        wshape[cdim] = c
        prod = prod * weight.reshape(wshape)
    per = -prod.sum(cdim)
    if reduction == "mean":
        n = input._data.size // c
        return per.sum() / n
    return _reduce(per, reduction)


def binary_cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    reduce=None,  # noqa: A002
    reduction="mean",
):
    _check_reduction(reduction)
    xd, td = input._data, target._data
    if xd.shape != td.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    if (xd < 0).any() or (xd > 1).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    # PyTorch clamps the log terms at -100
    with np.errstate(divide="ignore"):
        logx = np.maximum(np.log(xd), -100)
        log1mx = np.maximum(np.log1p(-xd), -100)
    elem = -(td * logx + (1 - td) * log1mx)
    wd = None if weight is None else weight._data
    if wd is not None:
        elem = elem * wd
    out, scale = _reduce_np(elem, reduction)

    def backward(g):
        denom = np.maximum((1 - xd) * xd, 1e-12)
        d = (xd - td) / denom
        if wd is not None:
            d = d * wd
        gd = d * (g if scale is None else g * scale)
        gt = None
        if target.requires_grad:
            gt = (log1mx - logx) * (g if scale is None else g * scale)
            if wd is not None:
                gt = gt * wd
        return gd.astype(xd.dtype, copy=False), gt

    return _make(
        out.astype(xd.dtype, copy=False),
        (input, target),
        _N("BinaryCrossEntropyBackward0"),
        backward,
    )


def _reduce_np(elem, reduction):
    if reduction == "none":
        return elem, None
    if reduction == "sum":
        return np.asarray(elem.sum()), 1.0
    return np.asarray(elem.mean()), 1.0 / builtins.max(elem.size, 1)


def binary_cross_entropy_with_logits(
    input,
    target,
    weight=None,
    size_average=None,  # noqa: A002
    reduce=None,
    reduction="mean",
    pos_weight=None,
):
    _check_reduction(reduction)
    xd, td = input._data, target._data
    if xd.shape != td.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    # log(1 + exp(-|x|)) formulation: stable for large |x|
    sp_neg = np.log1p(np.exp(-np.abs(xd))) + np.maximum(-xd, 0)  # softplus(-x) = -log sigmoid(x)
    sp_pos = sp_neg + xd  # softplus(x) = -log(1 - sigmoid(x))
    pw = None if pos_weight is None else pos_weight._data
    if pw is None:
        elem = td * sp_neg + (1 - td) * sp_pos
    else:
        elem = pw * td * sp_neg + (1 - td) * sp_pos
    wd = None if weight is None else weight._data
    if wd is not None:
        elem = elem * wd
    out, scale = _reduce_np(elem, reduction)
    shape = xd.shape

    def backward(g):
        e = np.exp(-np.abs(xd))
        sig = np.where(xd >= 0, 1 / (1 + e), e / (1 + e))
        if pw is None:
            d = sig - td
        else:
            d = (1 - td) * sig - pw * td * (1 - sig)
        if wd is not None:
            d = d * wd
        gd = d * (g if scale is None else g * scale)
        gt = None
        if target.requires_grad:
            lg = sp_neg * (pw if pw is not None else 1) - sp_pos
            gt = lg * (g if scale is None else g * scale)
            if wd is not None:
                gt = gt * wd
        return _unbroadcast(gd.astype(xd.dtype, copy=False), shape), gt

    return _make(
        out.astype(xd.dtype, copy=False),
        (input, target),
        _N("BinaryCrossEntropyWithLogitsBackward0"),
        backward,
    )


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):  # noqa: A002
    if log_target:
        elem = target.exp() * (target - input)
    else:
        t = target._data
        logt = _wrap(np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0).astype(t.dtype))
        elem = target * (logt - input)
    if reduction == "batchmean":
        return elem.sum() / input._data.shape[0]
    return _reduce(elem, reduction)


# -------------------------------------------------------------------- pad and one_hot
def pad(input, pad, mode="constant", value=None):  # noqa: A002
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    xd = input._data
    if len(pad) // 2 > xd.ndim:
        raise RuntimeError("Padding length too large")
    widths = [(0, 0)] * xd.ndim
    for i in range(len(pad) // 2):
        widths[xd.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    # negative padding crops
    crop = tuple(slice(-lo if lo < 0 else 0, (hi if hi < 0 else None)) for lo, hi in widths)
    pos = [(builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths]
    src = xd[crop]
    np_mode = {
        "constant": "constant",
        "reflect": "reflect",
        "replicate": "edge",
        "circular": "wrap",
    }.get(mode)
    if np_mode is None:
        raise NotImplementedError(f"Unsupported padding mode: {mode}")
    if np_mode == "constant":
        out = np.pad(src, pos, mode="constant", constant_values=0 if value is None else value)
    else:
        out = np.pad(src, pos, mode=np_mode)
    shape = xd.shape

    def backward(g):
        if np_mode == "constant":
            inner = g[tuple(slice(lo, lo + s) for (lo, _), s in zip(pos, src.shape))]
        else:
            # reflect/replicate/circular: scatter every padded position back to its source
            idx = np.pad(np.arange(src.size).reshape(src.shape), pos, mode=np_mode)
            inner = (
                np.bincount(
                    idx.reshape(-1), weights=g.reshape(-1).astype(np.float64), minlength=src.size
                )
                .reshape(src.shape)
                .astype(g.dtype)
            )
        full = np.zeros(shape, dtype=g.dtype)
        full[crop] = inner
        return (full,)

    name = (
        "ConstantPadNdBackward0"
        if np_mode == "constant"
        else (
            {
                "reflect": "ReflectionPad2DBackward0",
                "edge": "ReplicationPad2DBackward0",
                "wrap": "CircularPad2DBackward0",
            }[np_mode]
        )
    )
    return _make(out, (input,), _N(name), backward)


def embedding(
    input,  # noqa: A002
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """Rows of ``weight`` picked by the integer ``input``; the padding row gets no gradient."""
    idx = input._data
    wd = weight._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= wd.shape[0]):
        raise IndexError(
            f"index out of range in self: embedding indices must be in 0..{wd.shape[0] - 1}, "
            f"got {int(idx.min()) if idx.min() < 0 else int(idx.max())}"
        )
    if max_norm is not None:
        rows = np.unique(idx)
        norms = np.linalg.norm(wd[rows], ord=norm_type, axis=1, keepdims=True)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(wd.dtype)
        wd[rows] *= scale  # in place, as PyTorch renormalises the weight itself
    out = wd[idx]
    pad = None if padding_idx is None else padding_idx % wd.shape[0]

    def backward(g):
        flat = idx.reshape(-1)
        g2 = g.reshape(-1, wd.shape[1])
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=wd.shape[0])
            g2 = g2 / counts[flat][:, None].astype(g2.dtype)
        full = np.zeros(wd.shape, dtype=g.dtype)
        np.add.at(full, flat, g2)
        if pad is not None:
            full[pad] = 0
        return (full,)

    return _make(out, (weight,), _N("EmbeddingBackward0"), backward)


def one_hot(tensor, num_classes=-1):
    td = tensor._data
    if td.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if td.size and td.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(td.max()) + 1 if td.size else 0
    elif td.size and td.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return _wrap(np.eye(num_classes, dtype=np.int64)[td])


relu = _relu
softmax = _softmax
log_softmax = _log_softmax
