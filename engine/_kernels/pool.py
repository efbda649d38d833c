"""2-D pooling on numpy arrays (no Tensor here), with PyTorch's semantics and output sizes.

Outputs are NCHW views of (C, N, OH, OW)-contiguous memory, like the convolution's, so a
conv -> relu -> pool -> conv chain never transposes. Loops run over kernel offsets only.
"""

from __future__ import annotations

import sys

import numpy as np

from .._shapes import pool_output_size
from .dtypes import compute_dtype
from .parallel import parallel_slices

__all__ = [
    "pool_output_size",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
]


def _check_pool(name, shape, kernel_size, stride, padding, dilation, ceil_mode):
    if len(shape) != 4:
        raise ValueError(f"{name}: expected a 4-D (N, C, H, W) input, got shape {tuple(shape)}")
    h, w = shape[2:]
    for k, s, p, d in zip(kernel_size, stride, padding, dilation):
        if k < 1 or s < 1 or d < 1 or p < 0:
            raise ValueError(
                f"{name}: kernel_size {kernel_size}, stride {stride} and dilation {dilation} "
                f"must be positive and padding {padding} non-negative"
            )
        if p > k // 2:
            raise ValueError(
                f"{name}: pad should be at most half of effective kernel size, but got "
                f"padding {padding} for kernel_size {kernel_size}"
            )
    oh = pool_output_size(h, kernel_size[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool_output_size(w, kernel_size[1], stride[1], padding[1], dilation[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"{name}: output size is too small ({oh}x{ow}) for input {h}x{w} with "
            f"kernel_size {kernel_size}, stride {stride}, padding {padding}"
        )
    return oh, ow


def _padded_cnhw(x, kernel_size, stride, padding, dilation, oh, ow, fill):
    """(C, N, Hp, Wp) array covering every window (ceil_mode windows may pass the right pad)."""
    xc = x.transpose(1, 0, 2, 3)
    c, n, h, w = xc.shape
    ph, pw = padding
    need_h = (oh - 1) * stride[0] + dilation[0] * (kernel_size[0] - 1) + 1
    need_w = (ow - 1) * stride[1] + dilation[1] * (kernel_size[1] - 1) + 1
    bottom = max(0, need_h - ph - h)
    right = max(0, need_w - pw - w)
    if not (ph or pw or bottom or right):
        return xc
    xp = np.full((c, n, h + ph + bottom, w + pw + right), fill, dtype=xc.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = xc
    return xp


def _window(xp, i, j, kernel_size, stride, dilation, oh, ow):
    r0 = i * dilation[0]
    c0 = j * dilation[1]
    return xp[:, :, r0 : r0 + (oh - 1) * stride[0] + 1 : stride[0],
              c0 : c0 + (ow - 1) * stride[1] + 1 : stride[1]]  # fmt: skip


def _is_plain_2x2(x, kernel_size, stride, padding, dilation):
    return (
        kernel_size == (2, 2)
        and tuple(stride) == (2, 2)
        and tuple(padding) == (0, 0)
        and tuple(dilation) == (1, 1)
        and x.shape[2] % 2 == 0
        and x.shape[3] % 2 == 0
    )


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True):
    """torch.nn.functional.max_pool2d.

    Returns (out, indices, ctx): indices are int64 flat positions in each H*W input plane of
    each window's first maximum in row-major order (a NaN wins, as in PyTorch). With
    return_indices=False, indices is None and the common 2x2 case skips the argmax entirely
    (the backward finds the first maxima itself): -40% on LeNet's pooling.
    out is float64 for a float64 x and float32 otherwise.
    """
    x = _as_compute_dtype(x)
    kernel_size, stride = tuple(kernel_size), tuple(stride)
    padding, dilation = tuple(padding), tuple(dilation)
    oh, ow = _check_pool("max_pool2d", x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    kh, kw = kernel_size
    if _is_plain_2x2(x, kernel_size, stride, padding, dilation):
        xc = x.transpose(1, 0, 2, 3)
        out = np.empty((x.shape[1], x.shape[0], oh, ow), dtype=x.dtype)

        def part(s, e):
            # rows first (contiguous runs), then column pairs
            rows = np.maximum(xc[:, s:e, 0::2], xc[:, s:e, 1::2])
            np.maximum(rows[..., 0::2], rows[..., 1::2], out=out[:, s:e])

        _split_batch(part, x.shape[0], out.size)
        ctx = ("2x2", x, out)
        indices = None
        if return_indices:
            geometry = (kernel_size, stride, padding, dilation, (oh, ow))
            indices = _indices(_plain_args(ctx, out), x.shape, geometry)
        return out.transpose(1, 0, 2, 3), indices, ctx
    xp = _padded_cnhw(x, kernel_size, stride, padding, dilation, oh, ow, -np.inf)
    out = np.array(_window(xp, 0, 0, kernel_size, stride, dilation, oh, ow))
    arg = np.zeros(out.shape, dtype=np.uint8 if kh * kw <= 256 else np.int32)
    t = 0
    for i in range(kh):
        for j in range(kw):
            if t:
                v = _window(xp, i, j, kernel_size, stride, dilation, oh, ow)
                better = (v > out) | np.isnan(v)
                np.copyto(out, v, where=better)
                np.copyto(arg, t, where=better)
            t += 1
    ctx = ("general", x.shape, kernel_size, stride, padding, dilation, (oh, ow), arg, x.dtype)
    geometry = (kernel_size, stride, padding, dilation, (oh, ow))
    indices = _indices(arg, x.shape, geometry) if return_indices else None
    return out.transpose(1, 0, 2, 3), indices, ctx


def _as_compute_dtype(x):
    dt = compute_dtype(x)
    return x if x.dtype == dt else x.astype(dt)


def _quarters(xc):
    return xc[:, :, 0::2, 0::2], xc[:, :, 0::2, 1::2], xc[:, :, 1::2, 0::2], xc[:, :, 1::2, 1::2]


def _plain_args(ctx, out):
    """Offset (0..3, row-major) of each 2x2 window's first maximum."""
    xc = ctx[1].transpose(1, 0, 2, 3)
    a, b, c, d = _quarters(xc)
    top = np.maximum(a, b)
    low = np.maximum(c, d)
    # the low pair wins only when strictly larger: ties go to the first row
    low_wins = low > top
    arg = np.where(low_wins, d > c, b > a).astype(np.uint8)
    arg += low_wins.view(np.uint8) * np.uint8(2)
    # NaN propagates through np.maximum; point the index at a NaN as PyTorch does
    if np.isnan(out).any():
        arg = _nan_args(xc, arg, (2, 2), (2, 2), (1, 1), *out.shape[2:])
    return arg


def _nan_args(xc, arg, kernel_size, stride, dilation, oh, ow):
    t = 0
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            v = _window(xc, i, j, kernel_size, stride, dilation, oh, ow)
            np.copyto(arg, t, where=np.isnan(v))
            t += 1
    return arg


def _indices(arg, shape, geometry):
    (kh, kw), stride, padding, dilation, (oh, ow) = geometry
    w = shape[3]
    rows = np.arange(oh, dtype=np.int64) * stride[0] - padding[0]
    cols = np.arange(ow, dtype=np.int64) * stride[1] - padding[1]
    base = rows[:, None] * w + cols[None, :]
    offsets = (np.arange(kh, dtype=np.int64)[:, None] * dilation[0] * w
               + np.arange(kw, dtype=np.int64)[None, :] * dilation[1]).ravel()  # fmt: skip
    return (offsets[arg] + base).transpose(1, 0, 2, 3)


def max_pool2d_backward(grad_out, ctx):
    """Each window's gradient goes to its first maximum only (PyTorch's rule for ties)."""
    if ctx[0] == "2x2":
        dt = ctx[1].dtype
        return _plain_backward(grad_out.astype(dt, copy=False).transpose(1, 0, 2, 3), ctx)
    _, (n, c, h, w), kernel_size, stride, padding, dilation, (oh, ow), arg, dt = ctx
    g = grad_out.astype(dt, copy=False).transpose(1, 0, 2, 3)
    kh, kw = kernel_size
    zero = dt.type(0)
    ph, pw = padding
    hp = max(h + ph, (oh - 1) * stride[0] + dilation[0] * (kh - 1) + 1)
    wp = max(w + pw, (ow - 1) * stride[1] + dilation[1] * (kw - 1) + 1)
    dxp = np.zeros((c, n, hp, wp), dtype=dt)
    t = 0
    for i in range(kh):
        for j in range(kw):
            _window(dxp, i, j, kernel_size, stride, dilation, oh, ow)[...] += np.where(
                arg == t, g, zero
            )
            t += 1
    return dxp[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


# A pair of bools viewed as one uint16: "clear the second if the first is set" is then one
# dense integer op, where per-element pair logic would need slow stride-2 access.
_SECOND_OF_PAIR_SHIFT = 8 if sys.byteorder == "little" else -8


def _first_of_pairs(mask_u16):
    shifted = (
        mask_u16 << _SECOND_OF_PAIR_SHIFT
        if _SECOND_OF_PAIR_SHIFT > 0
        else mask_u16 >> -_SECOND_OF_PAIR_SHIFT
    )
    return mask_u16 & ~shifted


def _widen(a):
    """Each element twice along the last axis: (..., W) -> (..., 2W)."""
    up = np.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    up[..., 0::2] = a
    up[..., 1::2] = a
    return up


def _plain_backward(g, ctx):
    """2x2/2 backward: compare whole input rows with the widened output, then keep only the
    first maximum of each window (row 0 before row 1, left before right)."""
    _, x, out = ctx
    n, c, h, w = x.shape
    if np.isnan(out).any():
        arg = _plain_args(ctx, out)
        dx = np.empty((c, n, h, w), dtype=x.dtype)
        for t, quarter in enumerate(_quarters(dx)):
            np.multiply(g, arg == t, out=quarter)
        return dx.transpose(1, 0, 2, 3)
    xc = x.transpose(1, 0, 2, 3)
    dx = np.empty((c, n, h, w), dtype=x.dtype)

    def part(s, e):
        wide_out = _widen(out[:, s:e])
        hits = np.empty((2, c, e - s, h // 2, w), dtype=np.bool_)
        np.equal(xc[:, s:e, 0::2], wide_out, out=hits[0])
        np.equal(xc[:, s:e, 1::2], wide_out, out=hits[1])
        pairs = hits.view(np.uint16)
        first_row = _first_of_pairs(pairs[0])
        second_row = pairs[1] * (pairs[0] == 0)  # only where the first row holds no maximum
        second_row = _first_of_pairs(second_row)
        wide_g = _widen(g[:, s:e])
        np.multiply(wide_g, first_row.view(np.bool_), out=dx[:, s:e, 0::2])
        np.multiply(wide_g, second_row.view(np.bool_), out=dx[:, s:e, 1::2])

    _split_batch(part, n, out.size)
    return dx.transpose(1, 0, 2, 3)


# below this many output elements an op is not worth handing to a second thread (LeNet's
# 75k-element poolings ran 10-35% slower on two threads, CIFAR's 262k ones 13-40% faster)
_PARALLEL_MIN = 200_000


def _split_batch(part, n, work):
    """part(start, stop) over the batch axis, in one slice per kernel thread when worth it."""
    parallel_slices(part, n, work >= _PARALLEL_MIN)


def _is_plain_2x2_shape(h, w, kernel_size, stride, padding, dilation):
    return (
        tuple(kernel_size) == (2, 2)
        and tuple(stride) == (2, 2)
        and tuple(padding) == (0, 0)
        and tuple(dilation) == (1, 1)
        and h % 2 == 0
        and w % 2 == 0
    )


def _avg_divisor(size, kernel, stride, pad, out, count_include_pad):
    """Per-output-position divisor along one axis, as PyTorch counts it."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    pool = end - start
    real = np.minimum(end, size) - np.maximum(start, 0)
    return pool if count_include_pad else real


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override):  # fmt: skip
    """torch.nn.functional.avg_pool2d (float64 for a float64 x, float32 otherwise)."""
    x = _as_compute_dtype(x)
    kernel_size, stride, padding = tuple(kernel_size), tuple(stride), tuple(padding)
    dil = (1, 1)
    oh, ow = _check_pool("avg_pool2d", x.shape, kernel_size, stride, padding, dil, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("avg_pool2d: divisor_override must be non-zero")
    n, c, h, w = x.shape
    kh, kw = kernel_size
    xp = _padded_cnhw(x, kernel_size, stride, padding, dil, oh, ow, 0.0)
    out = np.array(_window(xp, 0, 0, kernel_size, stride, dil, oh, ow))
    for i in range(kh):
        for j in range(kw):
            if i or j:
                out += _window(xp, i, j, kernel_size, stride, dil, oh, ow)
    if divisor_override is not None:
        scale = x.dtype.type(1.0 / divisor_override)
    else:
        dh = _avg_divisor(h, kh, stride[0], padding[0], oh, count_include_pad)
        dw = _avg_divisor(w, kw, stride[1], padding[1], ow, count_include_pad)
        scale = (1.0 / (dh[:, None] * dw[None, :])).astype(x.dtype)
    out *= scale
    ctx = (x.shape, kernel_size, stride, padding, (oh, ow), scale)
    return out.transpose(1, 0, 2, 3), ctx


def avg_pool2d_backward(grad_out, ctx):
    (n, c, h, w), kernel_size, stride, padding, (oh, ow), scale = ctx
    kh, kw = kernel_size
    dil = (1, 1)
    g = grad_out.astype(scale.dtype, copy=False).transpose(1, 0, 2, 3) * scale
    ph, pw = padding
    hp = max(h + ph, (oh - 1) * stride[0] + kh)
    wp = max(w + pw, (ow - 1) * stride[1] + kw)
    dxp = np.zeros((c, n, hp, wp), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            _window(dxp, i, j, kernel_size, stride, dil, oh, ow)[...] += g
    return dxp[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix with PyTorch's bins: [floor(i*s/o), ceil((i+1)*s/o))."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    pos = np.arange(size)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d_forward(x, output_size):
    """torch.nn.functional.adaptive_avg_pool2d; output_size int or pair (None = input size).

    float64 for a float64 x, float32 otherwise."""
    if x.ndim != 4:
        raise ValueError(
            f"adaptive_avg_pool2d: expected a 4-D (N, C, H, W) input, got shape {x.shape}"
        )
    x = _as_compute_dtype(x)
    n, c, h, w = x.shape
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size}")
    if oh == 1 and ow == 1:
        return x.mean(axis=(2, 3), keepdims=True), (x.shape, None, x.dtype)
    ph = _adaptive_matrix(h, oh, x.dtype)
    pw = _adaptive_matrix(w, ow, x.dtype)
    return np.matmul(np.matmul(ph, x), pw.T), (x.shape, ph, pw)


def adaptive_avg_pool2d_backward(grad_out, ctx):
    shape, ph, pw = ctx
    n, c, h, w = shape
    if ph is None:  # global average: pw holds the dtype
        g = grad_out.astype(pw, copy=False) / pw.type(h * w)
        # in channel-first memory like the activations, so the next backward op (ReLU, batch
        # norm) reads both of its arrays in the same order
        dx = np.empty((c, n, h, w), dtype=pw)
        dx[...] = g.transpose(1, 0, 2, 3)
        return dx.transpose(1, 0, 2, 3)
    return np.matmul(np.matmul(ph.T, grad_out.astype(ph.dtype, copy=False)), pw)
