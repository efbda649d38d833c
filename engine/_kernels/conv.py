"""2-D convolution on numpy arrays (no Tensor here).

Layout trick: activations live in (C, N, H, W) memory order behind an NCHW view. The columns
of im2col are then (C*kh*kw, N*OH*OW) rows and the matmul ``w @ cols`` yields (O, N*OH*OW),
which *is* the (O, N, OH, OW) output: no transposes anywhere. Callers see ordinary NCHW views.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv2d_forward", "conv2d_backward", "conv2d_output_size"]

# Convolutions over more samples than this run in micro-batches: the columns of a
# micro-batch stay in cache, which beats one huge im2col at large batch sizes.
MICRO_BATCH = 64


def conv2d_output_size(size, kernel, stride, pad_before, pad_after, dilation):
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _channels_first(x):
    """(C, N, H, W) view of an NCHW array: contiguous when x came from one of our kernels."""
    return x.transpose(1, 0, 2, 3)


def _pad_cnhw(xc, padding):
    top, bottom, left, right = padding
    if not (top or bottom or left or right):
        return xc
    c, n, h, w = xc.shape
    xp = np.zeros((c, n, h + top + bottom, w + left + right), dtype=xc.dtype)
    xp[:, :, top : top + h, left : left + w] = xc
    return xp


def _im2col(xp, kh, kw, oh, ow, stride, dilation, out=None):
    """Columns (C, kh, kw, N, OH, OW) of a padded (C, N, Hp, Wp) array, one copy per offset."""
    c, n = xp.shape[:2]
    sh, sw = stride
    dh, dw = dilation
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=xp.dtype) if out is None else out
    hspan = (oh - 1) * sh + 1
    wspan = (ow - 1) * sw + 1
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            cols[:, i, j] = xp[:, :, r0 : r0 + hspan : sh, c0 : c0 + wspan : sw]
    return cols


def conv2d_forward(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation as torch.nn.functional.conv2d.

    x (N, C, H, W) with any strides, w (O, C/groups, kh, kw), b (O,) or None,
    stride and dilation (int, int), padding (top, bottom, left, right).
    Returns (out, ctx); out is an NCHW view of (O, N, OH, OW)-contiguous memory.
    """
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    sh, sw = stride
    dh, dw = dilation
    top, bottom, left, right = padding
    if c != cg * groups:
        raise ValueError(
            f"conv2d: input has {c} channels but the weight {tuple(w.shape)} with "
            f"groups={groups} expects {cg * groups}"
        )
    oh = conv2d_output_size(h, kh, sh, top, bottom, dh)
    ow = conv2d_output_size(wd, kw, sw, left, right, dw)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"conv2d: input {h}x{wd} (padded {h + top + bottom}x{wd + left + right}) is smaller "
            f"than the effective kernel {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1}"
        )
    xp = _pad_cnhw(_channels_first(x), padding)
    k = cg * kh * kw
    og = o // groups
    w_mat = w.reshape(groups, og, k)
    out = np.empty((o, n, oh, ow), dtype=np.float32)
    out_g = out.reshape(groups, og, n, oh * ow)
    saved_cols = []
    step = MICRO_BATCH if n > MICRO_BATCH else n
    for s in range(0, n, step):
        e = min(s + step, n)
        cols = _im2col(xp[:, s:e], kh, kw, oh, ow, stride, dilation)
        cols_g = cols.reshape(groups, k, (e - s) * oh * ow)
        if step == n:
            np.matmul(w_mat, cols_g, out=out.reshape(groups, og, n * oh * ow))
        else:
            out_g[:, :, s:e] = np.matmul(w_mat, cols_g).reshape(groups, og, e - s, oh * ow)
        saved_cols.append(cols_g)
    if b is not None:
        out += b.reshape(o, 1, 1, 1)
    ctx = (x.shape, w, saved_cols, step, stride, padding, dilation, groups, (oh, ow))
    return out.transpose(1, 0, 2, 3), ctx


def conv2d_backward(grad_out, ctx, need_input, need_weight, need_bias):
    """Gradients of conv2d_forward; returns (dx | None, dw | None, db | None)."""
    (n, c, h, wd), w, saved_cols, step, stride, padding, dilation, groups, (oh, ow) = ctx
    o, cg, kh, kw = w.shape
    og = o // groups
    k = cg * kh * kw
    # (O, N, OH, OW): free when grad_out is the NCHW view of channel-first memory
    g = np.ascontiguousarray(_channels_first(grad_out), dtype=np.float32)
    db = g.sum(axis=(1, 2, 3), dtype=np.float32) if need_bias else None
    g_mat = g.reshape(groups, og, n, oh * ow)
    dw = None
    if need_weight:
        dw = np.zeros((groups, og, k), dtype=np.float32)
        for idx, s in enumerate(range(0, n, step)):
            e = min(s + step, n)
            gs = g_mat[:, :, s:e].reshape(groups, og, (e - s) * oh * ow)
            dw += np.matmul(gs, saved_cols[idx].transpose(0, 2, 1))
        dw = dw.reshape(o, cg, kh, kw)
    dx = None
    if need_input:
        dx = _conv2d_input_grad(g_mat, w, n, c, h, wd, stride, padding, dilation, groups, oh, ow)
    return dx, dw, db


def _conv2d_input_grad(g_mat, w, n, c, h, wd, stride, padding, dilation, groups, oh, ow):
    """col2im: (w^T @ grad) columns scattered back by one strided add per kernel offset."""
    o, cg, kh, kw = w.shape
    og = o // groups
    k = cg * kh * kw
    sh, sw = stride
    dh, dw = dilation
    top, bottom, left, right = padding
    hp, wp = h + top + bottom, wd + left + right
    w_t = w.reshape(groups, og, k).transpose(0, 2, 1)
    dxp = np.zeros((c, n, hp, wp), dtype=np.float32)
    hspan = (oh - 1) * sh + 1
    wspan = (ow - 1) * sw + 1
    dcols = np.matmul(w_t, g_mat.reshape(groups, og, n * oh * ow))
    dcols = dcols.reshape(c, kh, kw, n, oh, ow)
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            dxp[:, :, r0 : r0 + hspan : sh, c0 : c0 + wspan : sw] += dcols[:, i, j]
    dx = dxp[:, :, top : top + h, left : left + wd]
    return dx.transpose(1, 0, 2, 3)
