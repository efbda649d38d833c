"""2-D convolution on numpy arrays (no Tensor here).

Layout trick: activations live in (C, N, H, W) memory order behind an NCHW view. The columns
of im2col are then (C*kh*kw, N*OH*OW) rows and the matmul ``w @ cols`` yields (O, N*OH*OW),
which *is* the (O, N, OH, OW) output: no transposes anywhere. Callers see ordinary NCHW views.
"""

from __future__ import annotations

import numpy as np

from .dtypes import compute_dtype
from .parallel import parallel_for

__all__ = ["conv2d_forward", "conv2d_backward", "conv2d_output_size"]

# Convolutions run in micro-batches whose im2col columns (or unfolded gradient) take about
# this many bytes: they stay in L2 between the copy that writes them and the matmul that reads
# them (LeNet's conv1: -40% against one whole-batch im2col); also bounds the memory traffic at
# large batch sizes.
CHUNK_BYTES = 640 * 1024
# column block of the weight-gradient matmul (see _matmul_nt)
DW_BLOCK = 1024


def _micro_batch(n, bytes_per_sample):
    return max(1, min(n, CHUNK_BYTES // max(1, bytes_per_sample)))


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


def _im2col(xp, kh, kw, oh, ow, stride, dilation):
    """Columns (C, kh, kw, N, OH, OW) of a padded (C, N, Hp, Wp) array, one copy per offset.

    Unfolding along the width first lets the kh*kw copies move whole runs of OH*OW floats
    instead of rows of OW (-20% on LeNet's convolutions).
    """
    c, n = xp.shape[:2]
    sh, sw = stride
    dh, dw = dilation
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=xp.dtype)
    hspan = (oh - 1) * sh + 1
    wspan = (ow - 1) * sw + 1
    if kh > 1 and kw > 1:
        xw = np.empty((c, kw, n, xp.shape[2], ow), dtype=xp.dtype)
        for j in range(kw):
            xw[:, j] = xp[:, :, :, j * dw : j * dw + wspan : sw]
        for i in range(kh):
            cols[:, i] = xw[:, :, :, i * dh : i * dh + hspan : sh]
        return cols
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            cols[:, i, j] = xp[:, :, r0 : r0 + hspan : sh, c0 : c0 + wspan : sw]
    return cols


def _matmul_nt(a, b):
    """a @ b.T for a (O, M), b (K, M) with a long M: OpenBLAS is 2-3x slower on one long
    inner dimension (M > ~16k) than on a batch of ~1k-wide blocks summed afterwards."""
    m = a.shape[1]
    nblocks = m // DW_BLOCK
    if nblocks < 2:
        return a @ b.T
    cut = nblocks * DW_BLOCK
    ab = a[:, :cut].reshape(a.shape[0], nblocks, DW_BLOCK).transpose(1, 0, 2)
    bb = b[:, :cut].reshape(b.shape[0], nblocks, DW_BLOCK).transpose(1, 2, 0)
    out = np.matmul(ab, bb).sum(axis=0)
    if cut < m:
        out += a[:, cut:] @ b[:, cut:].T
    return out


def conv2d_forward(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation as torch.nn.functional.conv2d.

    x (N, C, H, W) with any strides, w (O, C/groups, kh, kw), b (O,) or None,
    stride and dilation (int, int), padding (top, bottom, left, right).
    Returns (out, ctx); out is an NCHW view of (O, N, OH, OW)-contiguous memory, float64 for a
    float64 x and float32 otherwise (w and b are converted to that type).
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
    dt = compute_dtype(x)
    if x.dtype != dt:
        x = x.astype(dt)
    if w.dtype != dt:
        w = w.astype(dt)
    xp = _pad_cnhw(_channels_first(x), padding)
    k = cg * kh * kw
    og = o // groups
    w_mat = w.reshape(groups, og, k)
    out = np.empty((o, n, oh, ow), dtype=dt)
    out_g = out.reshape(groups, og, n * oh * ow)
    step = _micro_batch(n, k * groups * oh * ow * dt.itemsize)
    saved_cols = [None] * (-(-n // step))

    def chunk(idx):
        s = idx * step
        e = min(s + step, n)
        cols = _im2col(xp[:, s:e], kh, kw, oh, ow, stride, dilation)
        cols_g = cols.reshape(groups, k, (e - s) * oh * ow)
        # a column range of the (O, N*OH*OW) output: BLAS writes it in place
        np.matmul(w_mat, cols_g, out=out_g[:, :, s * oh * ow : e * oh * ow])
        saved_cols[idx] = cols_g

    parallel_for(chunk, len(saved_cols))
    if b is not None:
        out += b.reshape(o, 1, 1, 1).astype(dt, copy=False)
    ctx = (x.shape, w, saved_cols, step, stride, padding, dilation, groups, (oh, ow))
    return out.transpose(1, 0, 2, 3), ctx


def conv2d_backward(grad_out, ctx, need_input, need_weight, need_bias):
    """Gradients of conv2d_forward in its output dtype: (dx | None, dw | None, db | None)."""
    (n, c, h, wd), w, saved_cols, step, stride, padding, dilation, groups, (oh, ow) = ctx
    o, cg, kh, kw = w.shape
    og = o // groups
    # (O, N, OH, OW): free when grad_out is the NCHW view of channel-first memory
    dt = w.dtype
    g = np.ascontiguousarray(_channels_first(grad_out), dtype=dt)
    db = g.sum(axis=(1, 2, 3), dtype=dt) if need_bias else None
    g_mat = g.reshape(groups, og, n * oh * ow)
    dw = None
    if need_weight:
        partial = [None] * len(saved_cols)

        def chunk(idx):
            s = idx * step
            gs = g_mat[:, :, s * oh * ow : min(s + step, n) * oh * ow]
            cols = saved_cols[idx]
            # dw.T = cols @ g.T: OpenBLAS runs this orientation up to 2x faster than g @ cols.T
            # when the output has few rows (LeNet's conv2: 16 x 150)
            partial[idx] = [_matmul_nt(cols[grp], gs[grp]) for grp in range(groups)]

        parallel_for(chunk, len(saved_cols))
        # summed in chunk order: the same numbers whatever the thread count
        dw_t = np.array(partial[0], dtype=dt)
        for part in partial[1:]:
            dw_t += part
        dw = np.ascontiguousarray(dw_t.transpose(0, 2, 1)).reshape(o, cg, kh, kw)
    dx = None
    if need_input:
        dx = _conv2d_input_grad(g, w, n, c, h, wd, stride, padding, dilation, groups, oh, ow)
    return dx, dw, db


def _conv2d_input_grad(g, w, n, c, h, wd, stride, padding, dilation, groups, oh, ow):
    """Input gradient: unfold grad along the width only, one matmul, then kh row-shifted adds.

    U[(o, j), n, r, x] = grad[o, n, r, ox] placed where x = ox*sw + j*dw, so
    T = W[(i, c), (o, j)] @ U holds every kernel row's contribution, and
    dx[c, n, r*sh + i*dh, x] += T[i, c, n, r, x]. Versus the plain col2im (kh*kw strided adds)
    this is -30% on LeNet's conv2; np.add.at or a flipped full convolution are far slower.
    """
    o, cg, kh, kw = w.shape
    og = o // groups
    sh, sw = stride
    dh, dw = dilation
    top, bottom, left, right = padding
    hp, wp = h + top + bottom, wd + left + right
    hspan = (oh - 1) * sh + 1
    wspan = (ow - 1) * sw + 1
    # W[(i, c), (o, j)] per group
    w_g = w.reshape(groups, og, cg, kh, kw).transpose(0, 3, 2, 1, 4)
    w_g = w_g.reshape(groups, kh * cg, og * kw)
    dxp = np.zeros((c, n, hp, wp), dtype=g.dtype)
    step = _micro_batch(n, o * kw * oh * wp * g.itemsize)

    def chunk(idx):
        s = idx * step
        e = min(s + step, n)
        nb = e - s
        if sw == 1:
            u = np.empty((o, kw, nb, oh, wp), dtype=g.dtype)
            u[:, 0, :, :, :ow] = g[:, s:e]
            u[:, 0, :, :, ow:] = 0
            # u[:, j] is u[:, 0] shifted right by j*dw along the flattened (N, OH, Wp) axis:
            # what slides past a row's end is the zero tail (wp - ow = (kw-1)*dw columns), so
            # each shift is one contiguous copy per channel instead of nb*oh short rows
            flat = u.reshape(o, kw, nb * oh * wp)
            for j in range(1, kw):
                shift = j * dw
                flat[:, j, :shift] = 0
                flat[:, j, shift:] = flat[:, 0, :-shift]
        else:
            u = np.zeros((o, kw, nb, oh, wp), dtype=g.dtype)
            for j in range(kw):
                u[:, j, :, :, j * dw : j * dw + wspan : sw] = g[:, s:e]
        t = np.matmul(w_g, u.reshape(groups, og * kw, nb * oh * wp))
        if groups > 1:
            t = t.reshape(groups, kh, cg, nb * oh * wp).transpose(1, 0, 2, 3)
        t = t.reshape(kh, c, nb, oh, wp)
        dx_chunk = dxp[:, s:e]
        for i in range(kh):
            dx_chunk[:, :, i * dh : i * dh + hspan : sh] += t[i]

    parallel_for(chunk, -(-n // step))
    dx = dxp[:, :, top : top + h, left : left + wd]
    return dx.transpose(1, 0, 2, 3)
