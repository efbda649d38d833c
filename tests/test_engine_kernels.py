"""The numpy kernels against torch.nn.functional: forward values and every gradient."""

import zlib

import numpy as np
import pytest

from engine._kernels import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from engine._kernels import conv as conv_module
from engine._kernels import norm as norm_module

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-4
ATOL = 1e-5
# float64 kernels against torch's double ops: only summation order differs
RTOL64 = 1e-10
ATOL64 = 1e-12
DTYPES = [np.float32, np.float64]


def close(actual, expected, what, atol=ATOL):
    """Agreement in the expected dtype (float32: torch's float ops, float64: its double ops);
    the absolute slack scales with the values' size, since a sum of terms ~10 that cancels to
    ~0 keeps an error of ~1e-6 (float32) times the terms in any order."""
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    rtol, atol = (RTOL64, ATOL64) if actual.dtype == np.float64 else (RTOL, atol)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- conv2d

CONV_CASES = {
    # name: (N, C, H, W, O, kh, kw, stride, padding (t, b, l, r), dilation, groups, bias)
    "plain": (2, 3, 9, 8, 4, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "lenet_conv1": (3, 1, 32, 32, 6, 5, 5, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "lenet_conv2": (3, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "no_bias": (2, 3, 7, 7, 5, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1), 1, False),
    "stride": (2, 3, 11, 10, 4, 3, 3, (2, 3), (0, 0, 0, 0), (1, 1), 1, True),
    "stride_uncovered_rows": (2, 2, 8, 8, 3, 2, 2, (3, 3), (0, 0, 0, 0), (1, 1), 1, True),
    "padding_symmetric": (2, 3, 7, 7, 4, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1, True),
    "padding_asymmetric": (2, 3, 7, 6, 4, 3, 4, (1, 1), (0, 2, 1, 3), (1, 1), 1, True),
    "dilation": (2, 3, 11, 12, 4, 3, 3, (1, 1), (0, 0, 0, 0), (2, 3), 1, True),
    "groups": (2, 4, 8, 8, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 2, True),
    "depthwise": (2, 3, 8, 8, 3, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 3, True),
    "everything": (2, 4, 13, 12, 4, 3, 2, (2, 1), (2, 1, 0, 1), (2, 2), 2, True),
    "1x1": (2, 5, 6, 6, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    "3x3_pad1_odd": (2, 3, 9, 7, 4, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1, False),
    "3x3_stride2_pad1": (2, 3, 9, 8, 5, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 1, False),
    "3x3_stride2_pad1_batch1": (1, 4, 7, 7, 3, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 1, True),
    "1x1_stride2": (2, 4, 7, 6, 5, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1, False),
    "stride2_dilation2": (2, 2, 11, 10, 3, 3, 3, (2, 2), (2, 2, 2, 2), (2, 2), 1, True),
}

# Both ways of building the columns on every case: shifted phase planes (contiguous copies,
# computed on a grid a little larger than the output) and per-window im2col, which the kernel
# picks by how much of the grid the output fills; forcing each covers both on small inputs.
GATHERS = {"planes": float("inf"), "windows": 0.0}


@pytest.fixture(params=sorted(GATHERS))
def gather(request, monkeypatch):
    monkeypatch.setattr(conv_module, "MAX_GRID_WASTE", GATHERS[request.param])
    return request.param


def torch_conv(x, w, b, stride, padding, dilation, groups):
    top, bottom, left, right = padding
    xt = F.pad(x, (left, right, top, bottom))
    return F.conv2d(xt, w, b, stride=stride, dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv2d_matches_torch(name, dtype, gather):
    n, c, h, wd, o, kh, kw, stride, padding, dilation, groups, bias = CONV_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rand(rng, n, c, h, wd, dtype=dtype)
    w = rand(rng, o, c // groups, kh, kw, dtype=dtype)
    b = rand(rng, o, dtype=dtype) if bias else None
    out, ctx = conv2d_forward(x, w, b, stride, padding, dilation, groups)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    expected = torch_conv(xt, wt, bt, stride, padding, dilation, groups)
    close(out, expected, f"{name}: forward")

    g = rand(rng, *expected.shape, dtype=dtype)
    expected.backward(torch.tensor(g))
    dx, dw, db = conv2d_backward(g, ctx, True, True, bias)
    close(dx, xt.grad, f"{name}: input gradient")
    close(dw, wt.grad, f"{name}: weight gradient", atol=1e-4)
    if bias:
        close(db, bt.grad, f"{name}: bias gradient", atol=1e-4)
    else:
        assert db is None


def test_conv2d_output_is_nchw_view_of_channel_first_memory():
    rng = np.random.default_rng(0)
    out, _ = conv2d_forward(rand(rng, 4, 1, 12, 12), rand(rng, 6, 1, 5, 5), None,
                            (1, 1), (0, 0, 0, 0), (1, 1), 1)  # fmt: skip
    assert out.shape == (4, 6, 8, 8)
    assert out.transpose(1, 0, 2, 3).flags.c_contiguous


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 1)])
def test_conv2d_accepts_strided_views_of_any_layout(gather, stride, pad):
    rng = np.random.default_rng(1)
    base = rand(rng, 6, 3, 10, 20)
    x = base[::2, :, :, ::2]  # non-contiguous NCHW view
    w = rand(rng, 4, 3, 3, 3)
    out, ctx = conv2d_forward(x, w, None, (stride, stride), (pad,) * 4, (1, 1), 1)
    xt = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    expected = F.conv2d(xt, wt, stride=stride, padding=pad)
    close(out, expected, "strided input")
    g = rand(rng, *out.shape)[:, :, ::-1]  # a reversed, non-contiguous gradient
    expected.backward(torch.tensor(np.ascontiguousarray(g)))
    dx, dw, _ = conv2d_backward(g, ctx, True, True, False)
    close(dx, xt.grad, "strided input: input gradient")
    close(dw, wt.grad, "strided input: weight gradient", atol=1e-4)


def test_conv2d_picks_planes_for_padded_3x3_and_windows_for_small_images():
    # the grid of 3x3 padding-1 convolutions on 32x32 is 13% larger than the output: planes;
    # LeNet's 5x5 on 14x14 would compute 196 positions for 100 outputs: windows
    rng = np.random.default_rng(8)
    _, ctx = conv2d_forward(rand(rng, 2, 3, 32, 32), rand(rng, 4, 3, 3, 3), None,
                            (1, 1), (1, 1, 1, 1), (1, 1), 1)  # fmt: skip
    assert isinstance(ctx[2], conv_module._Planes)
    _, ctx = conv2d_forward(rand(rng, 2, 6, 14, 14), rand(rng, 4, 6, 5, 5), None,
                            (1, 1), (0, 0, 0, 0), (1, 1), 1)  # fmt: skip
    assert isinstance(ctx[2], conv_module._Windows)


def test_conv2d_backward_skips_gradients_nobody_needs():
    rng = np.random.default_rng(2)
    x, w, b = rand(rng, 2, 1, 8, 8), rand(rng, 3, 1, 3, 3), rand(rng, 3)
    out, ctx = conv2d_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    dx, dw, db = conv2d_backward(np.ones_like(out), ctx, False, True, False)
    assert dx is None and db is None and dw.shape == w.shape


def test_conv2d_micro_batches_give_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(3)
    n = 11
    x, w, b = rand(rng, n, 3, 10, 10), rand(rng, 5, 3, 3, 3), rand(rng, 5)
    whole_out, whole_ctx = conv2d_forward(x, w, b, (1, 1), (1, 0, 0, 1), (1, 1), 1)
    g = rand(rng, *whole_out.shape)
    whole = conv2d_backward(g, whole_ctx, True, True, True)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 4 * 27 * 81 * 4)  # 4 + 4 + 3 samples
    out, ctx = conv2d_forward(x, w, b, (1, 1), (1, 0, 0, 1), (1, 1), 1)
    parts = conv2d_backward(g, ctx, True, True, True)
    np.testing.assert_allclose(out, whole_out, rtol=1e-5, atol=1e-5)
    for a, e in zip(parts, whole):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_planes_micro_batches_give_the_same_numbers(monkeypatch, stride):
    # micro-batch boundaries inside the planes: each batch's last windows read past its samples
    monkeypatch.setattr(conv_module, "MAX_GRID_WASTE", float("inf"))
    rng = np.random.default_rng(9)
    n = 7
    x, w, b = rand(rng, n, 3, 9, 11), rand(rng, 4, 3, 3, 3), rand(rng, 4)
    args = ((stride, stride), (1, 1, 1, 1), (1, 1), 1)
    whole_out, whole_ctx = conv2d_forward(x, w, b, *args)
    g = rand(rng, *whole_out.shape)
    whole = conv2d_backward(g, whole_ctx, True, True, True)
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)  # one sample per micro-batch
    out, ctx = conv2d_forward(x, w, b, *args)
    assert ctx[4] == 1
    parts = conv2d_backward(g, ctx, True, True, True)
    np.testing.assert_allclose(out, whole_out, rtol=1e-5, atol=1e-5)
    for a, e in zip(parts, whole):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-4)


def test_conv2d_rejects_channel_mismatch_and_tiny_input():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="3 channels"):
        conv2d_forward(rand(rng, 1, 3, 8, 8), rand(rng, 2, 2, 3, 3), None,
                       (1, 1), (0, 0, 0, 0), (1, 1), 1)  # fmt: skip
    with pytest.raises(ValueError, match="smaller than the effective kernel"):
        conv2d_forward(rand(rng, 1, 1, 4, 4), rand(rng, 2, 1, 5, 5), None,
                       (1, 1), (0, 0, 0, 0), (1, 1), 1)  # fmt: skip


# ----------------------------------------------------------------------------- batch_norm


def channel_first(x):
    """The NCHW view of channel-first memory, as a convolution leaves its output."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


BN_INPUTS = {
    # name: (make input from an NCHW/NC/NCL array)
    "channel_first_view": channel_first,
    "nchw_contiguous": lambda x: x,
    "strided_slice": lambda x: np.repeat(x, 2, axis=-1)[..., ::2],
}
BN_SHAPES = {"2d": (5, 3), "3d": (4, 3, 5), "4d": (4, 3, 5, 6), "4d_batch1": (1, 3, 4, 5)}


@pytest.mark.parametrize("block_bytes", [1, 1 << 20])  # a block per channel / one block
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", sorted(BN_INPUTS))
@pytest.mark.parametrize("shape", sorted(BN_SHAPES))
def test_batch_norm_matches_torch(shape, layout, dtype, training, block_bytes, monkeypatch):
    monkeypatch.setattr(norm_module, "BLOCK_BYTES", block_bytes)
    shape = BN_SHAPES[shape]
    if layout == "channel_first_view" and len(shape) != 4:
        layout = "nchw_contiguous"
    rng = np.random.default_rng(zlib.crc32(f"{shape}{layout}".encode()))
    x = BN_INPUTS[layout](rand(rng, *shape, dtype=dtype) * 3 + 1)
    c = shape[1]
    w, b = rand(rng, c, dtype=dtype), rand(rng, c, dtype=dtype)
    mean, var = rand(rng, c, dtype=dtype), np.abs(rand(rng, c, dtype=dtype)) + 0.5
    out, ctx, bmean, bvar = norm_module.batch_norm_forward(x, mean, var, w, b, training, 1e-5)
    xt = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    rm, rv = torch.tensor(mean), torch.tensor(var)
    expected = F.batch_norm(xt, rm, rv, wt, bt, training, 0.0, 1e-5)
    close(out, expected, "forward")
    if training:
        axes = (0,) + tuple(range(2, len(shape)))
        close(bmean.astype(dtype), xt.detach().numpy().mean(axes), "batch mean")
        close(bvar.astype(dtype), xt.detach().numpy().var(axes), "biased batch variance")
    else:
        assert bmean is None and bvar is None
    g = rand(rng, *shape, dtype=dtype)
    expected.backward(torch.tensor(g))
    dx, dw, db = norm_module.batch_norm_backward(g, ctx, True, True, True)
    close(dx, xt.grad, "input gradient")
    close(dw, wt.grad, "weight gradient", atol=1e-4)
    close(db, bt.grad, "bias gradient", atol=1e-4)


def test_batch_norm_keeps_channel_first_memory_and_skips_unneeded_gradients():
    rng = np.random.default_rng(5)
    x = channel_first(rand(rng, 4, 3, 5, 6))
    out, ctx, _, _ = norm_module.batch_norm_forward(x, None, None, None, None, True, 1e-5)
    assert out.transpose(1, 0, 2, 3).flags.c_contiguous
    assert np.shares_memory(ctx[1], x)  # the input is kept, not copied
    dx, dw, db = norm_module.batch_norm_backward(channel_first(np.ones_like(x)), ctx,
                                                 True, False, False)  # fmt: skip
    assert dw is None and db is None
    assert dx.transpose(1, 0, 2, 3).flags.c_contiguous
    np.testing.assert_allclose(dx, 0, atol=1e-6)  # a constant gradient has none left after BN


# ----------------------------------------------------------------------------- max_pool2d

MAXPOOL_CASES = {
    # name: (N, C, H, W, kernel, stride, padding, dilation, ceil_mode)
    "2x2": (2, 3, 8, 8, (2, 2), (2, 2), (0, 0), (1, 1), False),
    "2x2_odd": (2, 3, 9, 7, (2, 2), (2, 2), (0, 0), (1, 1), False),
    "2x2_odd_ceil": (2, 3, 9, 7, (2, 2), (2, 2), (0, 0), (1, 1), True),
    "3x3_s2_overlap": (2, 2, 9, 9, (3, 3), (2, 2), (0, 0), (1, 1), False),
    "3x3_s1": (1, 2, 6, 7, (3, 3), (1, 1), (0, 0), (1, 1), False),
    "padding": (2, 2, 7, 8, (3, 3), (2, 2), (1, 1), (1, 1), False),
    "padding_ceil": (2, 2, 8, 8, (3, 2), (2, 2), (1, 1), (1, 1), True),
    "dilation": (2, 2, 11, 10, (3, 2), (1, 2), (0, 0), (2, 3), False),
    "rect_everything": (2, 2, 12, 11, (3, 4), (2, 3), (1, 2), (2, 1), True),
    "ceil_kernel_overhangs_input": (2, 2, 3, 3, (4, 4), (4, 4), (0, 0), (1, 1), True),
}


def torch_max_pool(x, kernel, stride, padding, dilation, ceil_mode):
    return F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)


def check_max_pool(x, case_args, what, g=None):
    """Values, indices and input gradient against torch, in x's dtype (float32 or float64)."""
    kernel, stride, padding, dilation, ceil_mode = case_args
    out, indices, ctx = max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    xt = torch.tensor(x, requires_grad=True)
    expected, expected_idx = torch_max_pool(xt, kernel, stride, padding, dilation, ceil_mode)
    close(out, expected, f"{what}: forward")
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected_idx.numpy(), err_msg=f"{what}: indices")
    if g is None:
        g = np.random.default_rng(7).standard_normal(expected.shape).astype(x.dtype)
    expected.backward(torch.tensor(g))
    dx = max_pool2d_backward(g, ctx)
    # exact: each input receives a sum of the same few grad values
    close(dx, xt.grad, f"{what}: input gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MAXPOOL_CASES))
def test_max_pool2d_matches_torch(name, dtype):
    n, c, h, w, *args = MAXPOOL_CASES[name]
    x = rand(np.random.default_rng(zlib.crc32(name.encode())), n, c, h, w, dtype=dtype)
    check_max_pool(x, args, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MAXPOOL_CASES))
def test_max_pool2d_ties_go_to_the_first_max_like_torch(name, dtype):
    # MNIST-like: mostly exact zeros (flat background) with a few equal bright pixels
    n, c, h, w, *args = MAXPOOL_CASES[name]
    rng = np.random.default_rng(11)
    x = rng.choice(np.array([0.0, 0.0, 0.0, 1.5, -0.4], dtype=dtype), size=(n, c, h, w))
    check_max_pool(x, args, f"{name} with ties")
    check_max_pool(np.zeros((n, c, h, w), dtype), args, f"{name} all zero")


def test_max_pool2d_after_relu_on_mnist_like_data_sends_one_gradient_per_window():
    x = np.maximum(np.random.default_rng(5).standard_normal((4, 6, 28, 28)), 0) * (
        np.random.default_rng(6).random((4, 6, 28, 28)) > 0.7
    )
    x = x.astype(np.float32)
    out, _, ctx = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    dx = max_pool2d_backward(np.ones_like(out), ctx)
    assert dx.sum() == out.size  # a mask-based backward would count every tied zero
    check_max_pool(x, ((2, 2), (2, 2), (0, 0), (1, 1), False), "relu'd sparse")


def test_max_pool2d_accepts_channel_first_views_and_keeps_that_layout():
    rng = np.random.default_rng(8)
    x = rand(rng, 6, 4, 8, 8).transpose(1, 0, 2, 3)  # NCHW view of (C, N, H, W) memory
    out, _, ctx = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert out.transpose(1, 0, 2, 3).flags.c_contiguous
    check_max_pool(x, ((2, 2), (2, 2), (0, 0), (1, 1), False), "channel-first view")


def test_max_pool2d_nan_wins_like_torch():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    out, indices, _ = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    xt = torch.tensor(x, requires_grad=True)
    expected, expected_idx = F.max_pool2d(xt, 2, return_indices=True)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected.detach().numpy()))
    np.testing.assert_array_equal(indices, expected_idx.numpy())
    _, _, lean_ctx = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False, False)
    g = np.arange(1, 5, dtype=np.float32).reshape(1, 1, 2, 2)
    expected.backward(torch.tensor(g))
    np.testing.assert_array_equal(max_pool2d_backward(g, lean_ctx), xt.grad.numpy())


def test_max_pool2d_rejects_bad_padding_and_tiny_input():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="at most half"):
        max_pool2d_forward(x, (2, 2), (2, 2), (2, 2), (1, 1), False)
    with pytest.raises(ValueError, match="too small"):
        max_pool2d_forward(x, (5, 5), (1, 1), (0, 0), (1, 1), False)


# ----------------------------------------------------------------------------- avg_pool2d

AVGPOOL_CASES = {
    # name: (N, C, H, W, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    "2x2": (2, 3, 8, 8, (2, 2), (2, 2), (0, 0), False, True, None),
    "3x3_s2_overlap": (2, 2, 9, 9, (3, 3), (2, 2), (0, 0), False, True, None),
    "padding_include": (2, 2, 7, 8, (3, 3), (2, 2), (1, 1), False, True, None),
    "padding_exclude": (2, 2, 7, 8, (3, 3), (2, 2), (1, 1), False, False, None),
    "ceil_include": (2, 2, 8, 7, (3, 3), (2, 2), (1, 1), True, True, None),
    "ceil_exclude": (2, 2, 8, 7, (3, 2), (2, 2), (1, 1), True, False, None),
    "ceil_no_pad": (2, 2, 9, 7, (2, 2), (2, 2), (0, 0), True, True, None),
    "divisor_override": (2, 2, 8, 7, (3, 3), (2, 2), (1, 1), True, True, 5),
    "rect": (2, 2, 10, 9, (2, 3), (3, 1), (1, 0), False, False, None),
    "ceil_kernel_overhangs_input": (2, 2, 3, 3, (4, 4), (4, 4), (0, 0), True, True, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(AVGPOOL_CASES))
def test_avg_pool2d_matches_torch(name, dtype):
    n, c, h, w, kernel, stride, padding, ceil_mode, include, divisor = AVGPOOL_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rand(rng, n, c, h, w, dtype=dtype)
    out, ctx = avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, include, divisor)
    xt = torch.tensor(x, requires_grad=True)
    expected = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode, include, divisor)
    close(out, expected, f"{name}: forward")
    g = rand(rng, *expected.shape, dtype=dtype)
    expected.backward(torch.tensor(g))
    close(avg_pool2d_backward(g, ctx), xt.grad, f"{name}: input gradient")


# ----------------------------------------------------------------------------- adaptive


@pytest.mark.parametrize(
    "shape, output_size",
    [
        ((2, 3, 8, 8), 1),
        ((2, 3, 7, 9), (3, 4)),
        ((2, 3, 10, 6), (4, None)),
        ((1, 2, 5, 5), 7),
        ((2, 3, 6, 6), (6, 6)),
    ],  # fmt: skip
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_avg_pool2d_matches_torch(shape, output_size, dtype):
    rng = np.random.default_rng(sum(shape))
    x = rand(rng, *shape, dtype=dtype)
    out, ctx = adaptive_avg_pool2d_forward(x, output_size)
    xt = torch.tensor(x, requires_grad=True)
    expected = F.adaptive_avg_pool2d(xt, output_size)
    close(out, expected, "adaptive forward")
    g = rand(rng, *expected.shape, dtype=dtype)
    expected.backward(torch.tensor(g))
    close(adaptive_avg_pool2d_backward(g, ctx), xt.grad, "adaptive input gradient")


# ----------------------------------------------------------------------------- chained layout


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet_chain_on_channel_first_views_matches_torch(dtype):
    """conv -> relu -> pool -> conv -> relu -> pool, passing our NCHW views straight through."""
    rng = np.random.default_rng(9)
    x = rand(rng, 5, 1, 32, 32, dtype=dtype)
    w1, b1 = rand(rng, 6, 1, 5, 5, dtype=dtype) * 0.3, rand(rng, 6, dtype=dtype)
    w2, b2 = rand(rng, 16, 6, 5, 5, dtype=dtype) * 0.1, rand(rng, 16, dtype=dtype)
    nopad, one = (0, 0, 0, 0), (1, 1)
    c1, k1 = conv2d_forward(x, w1, b1, one, nopad, one, 1)
    r1 = np.maximum(c1, 0)
    p1, _, kp1 = max_pool2d_forward(r1, (2, 2), (2, 2), (0, 0), one, False)
    c2, k2 = conv2d_forward(p1, w2, b2, one, nopad, one, 1)
    r2 = np.maximum(c2, 0)
    p2, _, kp2 = max_pool2d_forward(r2, (2, 2), (2, 2), (0, 0), one, False)
    g = rand(rng, *p2.shape, dtype=dtype)
    g_r2 = max_pool2d_backward(g, kp2) * (c2 > 0)
    g_p1, dw2, db2 = conv2d_backward(g_r2, k2, True, True, True)
    g_r1 = max_pool2d_backward(g_p1, kp1) * (c1 > 0)
    none, dw1, db1 = conv2d_backward(g_r1, k1, False, True, True)
    assert none is None

    ts = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    y = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), ts[0], ts[1])), 2)
    y = F.max_pool2d(F.relu(F.conv2d(y, ts[2], ts[3])), 2)
    close(p2, y, "chain forward")
    y.backward(torch.tensor(g))
    for got, t, what in zip((dw1, db1, dw2, db2), ts, ("dw1", "db1", "dw2", "db2")):
        close(got, t.grad, what, atol=1e-4)


@pytest.mark.parametrize("name", ["2x2", "2x2_odd", "padding", "dilation"])
def test_max_pool2d_without_indices_gives_the_same_values_and_gradient(name):
    n, c, h, w, *args = MAXPOOL_CASES[name]
    rng = np.random.default_rng(12)
    x = rng.choice(np.array([0.0, 0.0, 2.0, -1.0], dtype=np.float32), size=(n, c, h, w))
    out, indices, ctx = max_pool2d_forward(x, *args)
    lean_out, none, lean_ctx = max_pool2d_forward(x, *args, return_indices=False)
    assert none is None
    np.testing.assert_array_equal(lean_out, out)
    g = rand(rng, *out.shape)
    np.testing.assert_array_equal(max_pool2d_backward(g, lean_ctx), max_pool2d_backward(g, ctx))
    check_max_pool(x, args, f"{name} lean", g=g)


# ----------------------------------------------------------------------------- BLAS threads


def test_blas_threads_can_be_read_and_set():
    from engine._kernels import blas_threads, set_blas_threads

    before = blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS this process can reach")
    try:
        assert set_blas_threads(2) is True
        assert blas_threads() == 2
        assert set_blas_threads(1) is True
        assert blas_threads() == 1
    finally:
        set_blas_threads(before)
    with pytest.raises(ValueError, match="at least 1"):
        set_blas_threads(0)


# ----------------------------------------------------------------------------- kernel threads


def _share_everything(monkeypatch):
    """Hand even these small tests' ops to the helper threads (the kernels keep small work on
    one thread)."""
    from engine._kernels import blas, conv, norm, pool
    from engine.optim import optimizer

    monkeypatch.setattr(conv, "PARALLEL_FLOPS", 0)
    monkeypatch.setattr(norm, "PARALLEL_ROW_BYTES", 0)
    monkeypatch.setattr(pool, "_PARALLEL_MIN", 0)
    monkeypatch.setattr(blas, "PARALLEL_FLOPS", 0)
    monkeypatch.setattr(optimizer, "PARALLEL_ELEMENTS", 2)


def test_kernel_results_do_not_depend_on_the_thread_count(monkeypatch):
    from engine._kernels import parallel
    from engine._kernels.blas import matmul

    _share_everything(monkeypatch)
    rng = np.random.default_rng(13)
    x = np.maximum(rand(rng, 37, 3, 20, 20), 0)
    w, b = rand(rng, 5, 3, 3, 3), rand(rng, 5)
    tall, wide = rand(rng, 300, 70), rand(rng, 70, 90)
    results = []
    before = parallel.num_threads()
    try:
        for threads in (1, 2, 3):
            parallel.set_num_threads(threads)
            out, ctx = conv2d_forward(x, w, b, (1, 1), (1, 1, 1, 1), (1, 1), 1)
            grads = conv2d_backward(np.ones_like(out), ctx, True, True, True)
            pooled, _, pctx = max_pool2d_forward(out, (2, 2), (2, 2), (0, 0), (1, 1), False, False)
            results.append((out, *grads, pooled, max_pool2d_backward(pooled, pctx)))
            normed, nctx, mean, var = norm_module.batch_norm_forward(
                out, None, None, w[:, 0, 0, 0], b, True, 1e-5
            )
            results[-1] += (normed, mean, var, *norm_module.batch_norm_backward(
                out, nctx, True, True, True))  # fmt: skip
            results[-1] += (matmul(tall, wide), matmul(wide.T, tall.T), matmul(tall.T, tall))
    finally:
        parallel.set_num_threads(before)
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            np.testing.assert_array_equal(a, e)
    np.testing.assert_array_equal(results[0][-3], tall @ wide)


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.3, maximize=True),
        lambda lib, ps: lib.optim.SGD(ps, lr=0.1),
        lambda lib, ps: lib.optim.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
        lambda lib, ps: lib.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.9), maximize=True),
    ],
    ids=["sgd-nesterov-decay", "sgd-dampening-maximize", "sgd-plain", "adam-amsgrad", "adamw"],
)
def test_optimizer_updates_in_pieces_match_torch(monkeypatch, make):
    """Parameters split across threads (and one whose gradient is a transposed view, which is
    updated whole) get PyTorch's update, and the same numbers on one thread as on three."""
    import engine
    from engine._kernels import parallel

    torch = pytest.importorskip("torch")
    _share_everything(monkeypatch)
    rng = np.random.default_rng(5)
    start = [rand(rng, 40, 30), rand(rng, 20, 30), rand(rng, 7)]
    grads = [[rand(rng, *a.shape) for a in start] for _ in range(3)]

    def as_grad(lib, i, g):
        return lib.tensor(g.T.copy()).t() if i == 1 else lib.tensor(g.copy())

    def run(lib, threads):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in start]
        opt = make(lib, params)
        before = parallel.num_threads()
        try:
            parallel.set_num_threads(threads)
            for step in grads:
                for i, (p, g) in enumerate(zip(params, step)):
                    p.grad = as_grad(lib, i, g)
                opt.step()
        finally:
            parallel.set_num_threads(before)
        return [p.detach().numpy() for p in params]

    one, three = run(engine, 1), run(engine, 3)
    for a, e in zip(three, one):
        np.testing.assert_array_equal(a, e)
    for a, e in zip(three, run(torch, 1)):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_parallel_for_runs_every_item_once_and_reraises():
    from engine._kernels import parallel

    before = parallel.num_threads()
    try:
        parallel.set_num_threads(3)
        seen = []
        parallel.parallel_for(seen.append, 10)
        assert sorted(seen) == list(range(10))

        def boom(i):
            if i == 9:
                raise RuntimeError("item 9 failed")

        with pytest.raises(RuntimeError, match="item 9"):
            parallel.parallel_for(boom, 10)
        with pytest.raises(ValueError, match="at least 1"):
            parallel.set_num_threads(0)
    finally:
        parallel.set_num_threads(before)


def test_parallel_for_inside_parallel_for_finishes():
    """A kernel called from a helper thread (one task per thread) must not wait for the pool
    it is running on."""
    from engine._kernels import parallel

    before = parallel.num_threads()
    try:
        parallel.set_num_threads(2)
        seen = []
        parallel.parallel_for(lambda i: parallel.parallel_for(lambda j: seen.append((i, j)), 4), 2)
        assert sorted(seen) == [(i, j) for i in range(2) for j in range(4)]
    finally:
        parallel.set_num_threads(before)


def test_callers_numpy_error_settings_reach_the_helper_threads():
    from engine._kernels import parallel

    before = parallel.num_threads()
    try:
        parallel.set_num_threads(2)
        seen = {}
        parallel.parallel_for(lambda i: seen.__setitem__(i, np.geterr()["over"]), 2)
        with np.errstate(over="ignore"):
            parallel.parallel_for(lambda i: seen.__setitem__(i, np.geterr()["over"]), 2)
            assert seen == {0: "ignore", 1: "ignore"}
    finally:
        parallel.set_num_threads(before)


def test_kernel_threads_work_in_a_forked_child():
    import os

    from engine._kernels import parallel

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    before = parallel.num_threads()
    parallel.set_num_threads(2)
    try:
        parallel.parallel_for(lambda i: None, 4)  # the parent's helper thread exists now
        pid = os.fork()
        if pid == 0:  # child: a fresh helper, not a hang on the parent's dead one
            seen = []
            parallel.parallel_for(seen.append, 4)
            os._exit(0 if sorted(seen) == [0, 1, 2, 3] else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        parallel.set_num_threads(before)


# ----------------------------------------------------------------------------- dtypes


def test_kernels_keep_float64_and_compute_other_types_in_float32():
    rng = np.random.default_rng(14)
    x64, w64 = rand(rng, 2, 2, 6, 6, dtype=np.float64), rand(rng, 3, 2, 3, 3, dtype=np.float64)
    out, ctx = conv2d_forward(x64, w64, None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    assert out.dtype == np.float64
    assert all(r.dtype == np.float64 for r in conv2d_backward(out, ctx, True, True, True))
    pooled, _, pctx = max_pool2d_forward(out, (2, 2), (2, 2), (0, 0), (1, 1), False, False)
    assert pooled.dtype == max_pool2d_backward(pooled, pctx).dtype == np.float64
    # half and integer inputs compute in float32 (the functional layer casts back)
    xi = np.arange(2 * 2 * 4 * 4).reshape(2, 2, 4, 4)
    for x in (xi, xi.astype(np.float16)):
        out, _ = conv2d_forward(x, np.ones((1, 2, 2, 2), x.dtype), None,
                                (1, 1), (0, 0, 0, 0), (1, 1), 1)  # fmt: skip
        assert out.dtype == np.float32
        assert out[0, 0, 0, 0] == xi[0, :, :2, :2].sum()
        assert max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)[0].dtype == np.float32
        assert avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0), False, True, None)[0].dtype == (
            np.float32
        )
        assert adaptive_avg_pool2d_forward(x, 1)[0].dtype == np.float32


def test_double_conv_net_through_the_engine_matches_torch_double():
    """A Conv2d made .double() trains end to end in float64, as PyTorch's does."""
    import engine
    import engine.nn as enn

    rng = np.random.default_rng(15)
    x = rand(rng, 3, 2, 12, 12, dtype=np.float64)
    target = rng.integers(0, 4, size=3)

    def run(lib, nn, conv, fc):
        xt = lib.tensor(x)
        h = nn.functional.max_pool2d(nn.functional.relu(conv(xt)), 2)
        h = nn.functional.avg_pool2d(h, 2, ceil_mode=True)
        logits = fc(nn.functional.adaptive_avg_pool2d(h, (2, 2)).flatten(1))
        loss = nn.functional.cross_entropy(logits, lib.tensor(target))
        loss.backward()
        return logits, [conv.weight.grad, conv.bias.grad, fc.weight.grad, fc.bias.grad]

    e_conv, e_fc = enn.Conv2d(2, 4, 3, padding=1).double(), enn.Linear(16, 4).double()
    t_conv = torch.nn.Conv2d(2, 4, 3, padding=1).double()
    t_fc = torch.nn.Linear(16, 4).double()
    for e, t in ((e_conv, t_conv), (e_fc, t_fc)):
        with torch.no_grad():
            t.weight.copy_(torch.tensor(e.weight.detach().numpy()))
            t.bias.copy_(torch.tensor(e.bias.detach().numpy()))
    e_out, e_grads = run(engine, enn, e_conv, e_fc)
    t_out, t_grads = run(torch, torch.nn, t_conv, t_fc)
    close(e_out.detach().numpy(), t_out, "double net: logits")
    for what, eg, tg in zip(("conv w", "conv b", "fc w", "fc b"), e_grads, t_grads):
        close(eg.numpy(), tg, f"double net: {what} gradient")


def test_set_num_threads_takes_a_positive_int_like_torch():
    import engine

    before = engine.get_num_threads()
    try:
        engine.set_num_threads(1)
        assert engine.get_num_threads() == 1
        for bad, message in ((0, "positive integer"), (-2, "positive integer"),
                             (2.5, "expects an int, but got float"),
                             ("2", "expects an int, but got str")):  # fmt: skip
            with pytest.raises(RuntimeError, match=message):
                engine.set_num_threads(bad)
            with pytest.raises(RuntimeError, match=message):
                torch.set_num_threads(bad)
        assert engine.get_num_threads() == 1
    finally:
        engine.set_num_threads(before)


def test_omp_num_threads_sets_the_kernel_threads_but_not_blas():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from engine._kernels import parallel

    probe = (
        "import engine, engine._kernels as k; "
        "print(engine.get_num_threads(), k.blas_threads())"
    )
    root = str(Path(__file__).resolve().parent.parent)
    default = min(parallel.available_cores(), parallel.MAX_DEFAULT_THREADS)
    for omp, expected in (("3", 3), ("5,2", 5), ("0", default), ("many", default)):
        env = {**os.environ, "OMP_NUM_THREADS": omp, "PYTHONPATH": root}
        env.pop("OPENBLAS_NUM_THREADS", None)
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
        assert int(out[0]) == expected, omp
        assert out[1] in ("1", "None")  # the kernels call BLAS from their threads: BLAS stays 1
