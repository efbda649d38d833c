"""Batch normalization on numpy arrays (no Tensor here).

Every channel is one contiguous row of a (C, M) array, M = N*H*W: convolutions already leave
their output in (C, N, H, W) memory order, so for them this is a free view (other layouts are
copied once). The work then runs over blocks of rows small enough to stay in L2, split across
the kernel threads; inside a block the temporaries (the centred rows) never reach main memory,
so the forward reads its input twice and writes its output once, and the backward reads the
input and the gradient and writes the input gradient once. Only the input and two numbers per
channel are kept for the backward; the normalized input is recomputed there.
"""

from __future__ import annotations

import numpy as np

from .dtypes import compute_dtype
from .parallel import parallel_for

__all__ = ["batch_norm_forward", "batch_norm_backward"]

# bytes of one block of channel rows
BLOCK_BYTES = 256 * 1024
# channel rows shorter than this run on one thread: each block is a handful of numpy calls,
# and on rows of 256 KB two threads were 15% slower than one (the GIL hand-offs), on rows of
# 1 MB 1.8x faster
PARALLEL_ROW_BYTES = 512 * 1024


def _channel_rows(x):
    """(C, M) channel-major rows of an (N, C, ...) array: a view when x is the (N, C, ...)
    view of channel-first memory (what the kernels produce), else a copy."""
    xc = np.moveaxis(x, 1, 0)
    return xc.reshape(xc.shape[0], -1)  # copies only when the memory is not channel-first


def _from_rows(rows, shape):
    """The (N, C, ...) view of (C, M) rows, for an input of this shape."""
    return np.moveaxis(rows.reshape((shape[1], shape[0]) + tuple(shape[2:])), 0, 1)


def _blocks(c, m, itemsize):
    per = max(1, min(c, BLOCK_BYTES // max(1, m * itemsize)))
    return [(s, min(c, s + per)) for s in range(0, c, per)]


def batch_norm_forward(x, mean, var, weight, bias, training, eps):
    """torch.nn.functional.batch_norm's arithmetic for an (N, C, ...) array.

    training: the statistics come from x (mean and var are ignored); otherwise from mean and
    var (the running statistics). Returns (out, ctx, batch_mean, batch_var): out in x's
    compute dtype (float64 for float64, else float32), channel-first memory behind an
    (N, C, ...) view; batch_mean and the biased batch_var (float64) when training, else None.
    """
    dt = compute_dtype(x)
    rows = _channel_rows(x.astype(dt, copy=False))
    c, m = rows.shape
    w = None if weight is None else weight.astype(dt, copy=False)
    b = None if bias is None else bias.astype(dt, copy=False)
    mu = np.empty(c, dtype=dt)
    inv = np.empty(c, dtype=dt)
    batch_var = np.empty(c, dtype=np.float64) if training else None
    if not training:
        mu[:] = mean
        inv[:] = 1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    out = np.empty((c, m), dtype=dt)
    blocks = _blocks(c, m, dt.itemsize)

    def block(i):
        s, e = blocks[i]
        xb = rows[s:e]
        if training:
            mu[s:e] = xb.sum(axis=1) / dt.type(m)
        d = xb - mu[s:e, None]
        if training:
            v = np.square(d).sum(axis=1, dtype=np.float64) / m
            batch_var[s:e] = v
            inv[s:e] = 1.0 / np.sqrt(v + eps)
        scale = inv[s:e] if w is None else inv[s:e] * w[s:e]
        d *= scale[:, None]
        if b is not None:
            d += b[s:e, None]
        out[s:e] = d

    parallel_for(block, len(blocks), m * dt.itemsize >= PARALLEL_ROW_BYTES)
    ctx = (x.shape, rows, mu, inv, w, training)
    return _from_rows(out, x.shape), ctx, (mu.astype(np.float64) if training else None), batch_var


def batch_norm_backward(grad_out, ctx, need_input, need_weight, need_bias):
    """(dx | None, dweight | None, dbias | None) of batch_norm_forward."""
    shape, rows, mu, inv, w, training = ctx
    dt = rows.dtype
    c, m = rows.shape
    g = _channel_rows(grad_out.astype(dt, copy=False))
    gsum = np.empty(c, dtype=dt)
    gdot = np.empty(c, dtype=dt)  # sum of g * (x - mean) per channel
    dx = np.empty((c, m), dtype=dt) if need_input else None
    need_dot = need_weight or (need_input and training)
    blocks = _blocks(c, m, dt.itemsize)

    def block(i):
        s, e = blocks[i]
        gb = g[s:e]
        gsum[s:e] = gb.sum(axis=1)
        d = None
        if need_dot:
            d = rows[s:e] - mu[s:e, None]
            gdot[s:e] = (gb * d).sum(axis=1)
        if not need_input:
            return
        k = inv[s:e] if w is None else inv[s:e] * w[s:e]
        if not training:
            np.multiply(gb, k[:, None], out=dx[s:e])
            return
        # dx = w*inv * (g - mean(g) - (x - mean) * inv^2 * mean(g * (x - mean)))
        d *= (-(inv[s:e] * inv[s:e]) * gdot[s:e] / dt.type(m))[:, None]
        d += (-gsum[s:e] / dt.type(m))[:, None]
        d += gb
        np.multiply(d, k[:, None], out=dx[s:e])

    parallel_for(block, len(blocks), m * dt.itemsize >= PARALLEL_ROW_BYTES)
    dw = gdot * inv if need_weight else None
    db = gsum if need_bias else None
    return (None if dx is None else _from_rows(dx, shape)), dw, db
