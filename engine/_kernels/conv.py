"""2-D convolution on numpy arrays (no Tensor here).

Layout: activations live in (C, N, H, W) memory order behind an NCHW view, so the matmul
``w @ cols`` yields (O, N*OH*OW), which *is* the (O, N, OH, OW) output. Callers see ordinary
NCHW views.

Shifted flat planes: the padded input is stored once as ``stride_h*stride_w`` phase planes (the
rows and columns that share a remainder modulo the stride; one plane when the stride is 1), each
(C, N*Hq*Wq) with a zero tail. A stride-1 convolution over a phase plane computed at *every*
grid position reads, for kernel tap (i, j), the plane shifted by a constant offset; so each of
im2col's kh*kw row blocks is one copy of long contiguous runs (C rows of N*Hq*Wq floats) instead
of OH*OW-element or OW-element pieces. The grid holds Hq*Wq >= OH*OW positions: the extra ones
(windows that run off a row or a sample) are computed and dropped, ~13% more arithmetic on 3x3
padding-1 convolutions, against 3-5x fewer copy calls. The same shifts scatter the input gradient
back with contiguous adds, and stride 2 becomes a stride-1 problem on four planes (no 4x waste).
The columns are never kept: the weight gradient rebuilds them from the phase planes a
micro-batch at a time, so they stay in L2 and no step touches fresh pages (saving every
micro-batch's columns for the backward cost more in page faults than their copies do).
"""

from __future__ import annotations

import numpy as np

from .._shapes import conv_output_size as conv2d_output_size
from .dtypes import compute_dtype
from .parallel import parallel_for

__all__ = ["conv2d_forward", "conv2d_backward", "conv2d_output_size"]

# Convolutions run in micro-batches whose columns take about this many bytes: written by the
# tap copies and read by the matmul while still in L2 (2 MiB per core here).
CHUNK_BYTES = 640 * 1024
# column block of the weight-gradient matmul (see _matmul_nt)
DW_BLOCK = 1024
# products smaller than this (floating-point operations per call) run on one thread: below it
# a second thread lost more to the hand-off than it gained (measured on 2 cores: LeNet's
# 15-30 MFLOP convolutions 10-35% slower, CIFAR's 150-300 MFLOP ones 15-60% faster)
PARALLEL_FLOPS = 100e6


def _channels_first(x):
    """(C, N, H, W) view of an NCHW array: contiguous when x came from one of our kernels."""
    return x.transpose(1, 0, 2, 3)


class _Planes:
    """The padded input as stride phase planes, and where each kernel tap reads them.

    planes: (P, C, N*hq*wq + tail); taps: [(plane, offset)] in (i, j) row-major order;
    tap (i, j) of grid position q reads planes[plane][:, q + offset].
    """

    def __init__(self, shape, kernel, stride, padding, dilation, dtype):
        c, n, h, w = shape
        kh, kw = kernel
        sh, sw = stride
        dh, dw = dilation
        top, bottom, left, right = padding
        self.shape, self.stride, self.padding, self.dilation = shape, stride, padding, dilation
        self.hq = -(-(h + top + bottom) // sh)
        self.wq = -(-(w + left + right) // sw)
        self.cell = self.hq * self.wq  # grid positions per sample
        phase_of = {}
        self.taps = []
        for i in range(kh):
            for j in range(kw):
                phase = ((i * dh) % sh, (j * dw) % sw)
                plane = phase_of.setdefault(phase, len(phase_of))
                self.taps.append((plane, (i * dh // sh) * self.wq + j * dw // sw))
        self.phases = list(phase_of)
        self.tail = max(off for _, off in self.taps)
        self.dtype = dtype

    def _rows(self, phase_r, phase_c):
        """(grid slice, input slice) along rows and columns holding input pixels of a phase."""
        c, n, h, w = self.shape
        sh, sw = self.stride
        top, _, left, _ = self.padding

        def axis(phase, pad, size, step, extent):
            first = max(0, -(-(pad - phase) // step))
            last = min(extent, (pad + size - 1 - phase) // step + 1)
            if last <= first:
                return None, None
            start = first * step + phase - pad
            return slice(first, last), slice(start, start + (last - first - 1) * step + 1, step)

        gr, xr = axis(phase_r, top, h, sh, self.hq)
        gc, xc = axis(phase_c, left, w, sw, self.wq)
        return gr, xr, gc, xc

    def fill(self, xc):
        """planes from a (C, N, H, W) array."""
        c, n, h, w = self.shape
        if (
            len(self.phases) == 1
            and self.tail == 0
            and (self.hq, self.wq) == (h, w)
            and xc.flags.c_contiguous
        ):
            return xc.reshape(1, c, n * h * w)  # 1x1, stride 1, no padding: the input itself
        planes = np.empty((len(self.phases), c, n * self.cell + self.tail), dtype=self.dtype)
        planes[:, :, n * self.cell :] = 0
        for p, (a, b) in enumerate(self.phases):
            grid = planes[p, :, : n * self.cell].reshape(c, n, self.hq, self.wq)
            gr, xr, gc, xcol = self._rows(a, b)
            if gr is None or gc is None:
                grid[...] = 0
                continue
            # zero only the border the input does not cover
            grid[:, :, : gr.start] = 0
            grid[:, :, gr.stop :] = 0
            grid[:, :, gr, : gc.start] = 0
            grid[:, :, gr, gc.stop :] = 0
            grid[:, :, gr, gc] = xc[:, :, xr, xcol]
        return planes

    def gather(self, planes, s, e, out):
        """im2col of samples s:e into out (C, taps, L), L = (e-s)*cell."""
        start = s * self.cell
        length = (e - s) * self.cell
        for t, (p, off) in enumerate(self.taps):
            out[:, t] = planes[p, :, start + off : start + off + length]


def _pad_cnhw(xc, padding):
    top, bottom, left, right = padding
    if not (top or bottom or left or right):
        return xc
    c, n, h, w = xc.shape
    xp = np.zeros((c, n, h + top + bottom, w + left + right), dtype=xc.dtype)
    xp[:, :, top : top + h, left : left + w] = xc
    return xp


def _im2col(xp, kh, kw, oh, ow, stride, dilation, cols):
    """Columns (C, kh, kw, N, OH, OW) of a padded (C, N, Hp, Wp) array into cols, one copy per
    offset.

    Unfolding along the width first lets the kh*kw copies move whole runs of OH*OW floats
    instead of rows of OW (-20% on LeNet's convolutions).
    """
    c, n = xp.shape[:2]
    sh, sw = stride
    dh, dw = dilation
    hspan = (oh - 1) * sh + 1
    wspan = (ow - 1) * sw + 1
    if kh > 1 and kw > 1:
        xw = np.empty((c, kw, n, xp.shape[2], ow), dtype=xp.dtype)
        for j in range(kw):
            xw[:, j] = xp[:, :, :, j * dw : j * dw + wspan : sw]
        for i in range(kh):
            cols[:, i] = xw[:, :, :, i * dh : i * dh + hspan : sh]
        return
    for i in range(kh):
        r0 = i * dh
        for j in range(kw):
            c0 = j * dw
            cols[:, i, j] = xp[:, :, r0 : r0 + hspan : sh, c0 : c0 + wspan : sw]


class _Windows:
    """The plain im2col: the padded (C, N, Hp, Wp) input, gathered at the OH*OW real output
    positions only. For kernels large against the image (LeNet's 5x5 on 14x14: a grid of 196
    positions for 100 outputs) the shifted planes would waste more arithmetic than their
    contiguous copies save."""

    def __init__(self, shape, kernel, stride, padding, dilation, out_size):
        self.shape, self.kernel, self.stride = shape, kernel, stride
        self.padding, self.dilation = padding, dilation
        self.hq, self.wq = out_size
        self.cell = self.hq * self.wq

    def fill(self, xc):
        return _pad_cnhw(xc, self.padding)

    def gather(self, xp, s, e, out):
        kh, kw = self.kernel
        c = xp.shape[0]
        cols = out.reshape(c, kh, kw, e - s, self.hq, self.wq)
        _im2col(xp[:, s:e], kh, kw, self.hq, self.wq, self.stride, self.dilation, cols)


# the shifted planes compute at most this many grid positions per real output
MAX_GRID_WASTE = 1.25


def _geometry(shape, kernel, stride, padding, dilation, out_size, dtype):
    planes = _Planes(shape, kernel, stride, padding, dilation, dtype)
    if planes.cell <= MAX_GRID_WASTE * out_size[0] * out_size[1]:
        return planes
    return _Windows(shape, kernel, stride, padding, dilation, out_size)


def _micro_batch(n, bytes_per_sample):
    return max(1, min(n, CHUNK_BYTES // max(1, bytes_per_sample)))


def _matmul_nt(a, b):
    """a @ b.T for a (K, M), b (O, M) with a long M: OpenBLAS is 2-3x slower on one long
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
    xc = _channels_first(x)
    geo = _geometry(xc.shape, (kh, kw), stride, padding, dilation, (oh, ow), dt)
    planes = geo.fill(xc)
    cell = geo.cell
    ntaps = kh * kw
    k = cg * ntaps
    og = o // groups
    w_mat = w.reshape(groups, og, k)
    out = np.empty((o, n, oh, ow), dtype=dt)
    step = _micro_batch(n, c * ntaps * cell * dt.itemsize)
    exact = (geo.hq, geo.wq) == (oh, ow)  # no dropped grid positions (1x1, stride 2 exact)

    def chunk(idx):
        s = idx * step
        e = min(s + step, n)
        length = (e - s) * cell
        cols = np.empty((c, ntaps, length), dtype=dt)
        geo.gather(planes, s, e, cols)
        cols_g = cols.reshape(groups, k, length)
        if exact:
            out_g = out.reshape(groups, og, n * cell)
            np.matmul(w_mat, cols_g, out=out_g[:, :, s * cell : e * cell])
        else:
            res = np.matmul(w_mat, cols_g).reshape(o, e - s, geo.hq, geo.wq)
            out[:, s:e] = res[:, :, :oh, :ow]

    parallel_for(chunk, -(-n // step), 2 * o * k * n * cell >= PARALLEL_FLOPS)
    if b is not None:
        out += b.reshape(o, 1, 1, 1).astype(dt, copy=False)
    ctx = (x.shape, w, geo, planes, step, groups, (oh, ow))
    return out.transpose(1, 0, 2, 3), ctx


def conv2d_backward(grad_out, ctx, need_input, need_weight, need_bias):
    """Gradients of conv2d_forward in its output dtype: (dx | None, dw | None, db | None)."""
    (n, c, h, wd), w, geo, planes, step, groups, (oh, ow) = ctx
    dt = w.dtype
    # (O, N, OH, OW): free when grad_out is the NCHW view of channel-first memory
    g = np.ascontiguousarray(_channels_first(grad_out), dtype=dt)
    db = g.sum(axis=(1, 2, 3), dtype=dt) if need_bias else None
    dw = None
    if need_weight:
        dw = _conv2d_weight_grad(g, w, geo, planes, step, groups, (oh, ow))
    dx = None
    if need_input:
        dx = _conv2d_input_grad(
            g, w, n, c, h, wd, geo.stride, geo.padding, geo.dilation, groups, oh, ow
        )
    return dx, dw, db


def _conv2d_weight_grad(g, w, geo, planes, step, groups, out_size):
    """Rebuilds each micro-batch's columns from the saved planes and multiplies them with the
    output gradient placed on the same grid (zeros at the dropped positions)."""
    o, cg, kh, kw = w.shape
    c, n = geo.shape[:2]
    og = o // groups
    ntaps = kh * kw
    k = cg * ntaps
    cell = geo.cell
    dt = w.dtype
    oh, ow = out_size
    exact = (geo.hq, geo.wq) == (oh, ow)
    chunks = -(-n // step)
    partial = [None] * chunks

    def chunk(idx):
        s = idx * step
        e = min(s + step, n)
        length = (e - s) * cell
        if exact:
            gg = g[:, s:e].reshape(groups, og, length)
        else:
            grid = np.zeros((o, e - s, geo.hq, geo.wq), dtype=dt)
            grid[:, :, :oh, :ow] = g[:, s:e]
            gg = grid.reshape(groups, og, length)
        cols = np.empty((c, ntaps, length), dtype=dt)
        geo.gather(planes, s, e, cols)
        cols_g = cols.reshape(groups, k, length)
        # dw.T = cols @ g.T: OpenBLAS runs this orientation up to 2x faster than g @ cols.T
        # when the output has few rows
        partial[idx] = [_matmul_nt(cols_g[grp], gg[grp]) for grp in range(groups)]

    parallel_for(chunk, chunks, 2 * o * k * n * cell >= PARALLEL_FLOPS)
    # summed in chunk order: the same numbers whatever the thread count
    dw_t = np.array(partial[0], dtype=dt)
    for part in partial[1:]:
        dw_t += part
    return np.ascontiguousarray(dw_t.transpose(0, 2, 1)).reshape(o, cg, kh, kw)


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
    wp = wd + left + right
    wspan = (ow - 1) * sw + 1
    # W[(i, c), (o, j)] per group
    w_g = w.reshape(groups, og, cg, kh, kw).transpose(0, 3, 2, 1, 4)
    w_g = w_g.reshape(groups, kh * cg, og * kw)
    # accumulated straight into the unpadded (C, N, H, W) gradient: the rows and columns that
    # fall on the padding are skipped, and what the next op receives is contiguous
    dx = np.zeros((c, n, h, wd), dtype=g.dtype)
    row_ranges = []
    for i in range(kh):
        y0 = i * dh - top  # the image row that output row 0 reads with kernel row i
        first = max(0, -(y0 // sh))  # ceil(-y0 / sh)
        last = min(oh - 1, (h - 1 - y0) // sh)
        if last >= first:
            rows = slice(y0 + first * sh, y0 + last * sh + 1, sh)
            row_ranges.append((i, rows, slice(first, last + 1)))
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
        dx_chunk = dx[:, s:e]
        for i, rows, out_rows in row_ranges:
            dx_chunk[:, :, rows] += t[i, :, :, out_rows, left : left + wd]

    parallel_for(chunk, -(-n // step), 2 * kh * cg * o * kw * n * oh * wp >= PARALLEL_FLOPS)
    return dx.transpose(1, 0, 2, 3)
