"""Autograd: graph node names and shape, accumulation, backward errors, deep graphs, user
Functions, hooks, grad mode, and gradcheck (float64) on every differentiable op."""

import sys
import threading

import numpy as np
import pytest

import engine
import engine.nn.functional as F
from engine.autograd import Function, gradcheck


def t64(*shape, low=-1.0, high=1.0, seed=0):
    rng = np.random.default_rng(seed + len(shape) * 7 + int(np.prod(shape)))
    return engine.tensor(rng.uniform(low, high, shape), dtype=engine.float64, requires_grad=True)


def test_leaf_grads_accumulate_across_backward_calls():
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    assert x.is_leaf and x.grad_fn is None


def test_backward_on_non_scalar_without_gradient_fails_clearly():
    x = engine.ones(2, 3, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        (x * 2).backward()


def test_backward_on_tensor_without_grad_fails_clearly():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        engine.ones(2).sum().backward()


def test_backward_twice_needs_retain_graph():
    x = engine.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.allclose(x.grad.numpy(), 4 * np.e)
    z = (x.exp() * 2).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_gradient_argument_shape_is_checked():
    x = engine.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(engine.ones(3, 2))


def test_node_names_and_next_functions_like_torch():
    w = engine.nn.Linear(4, 3)
    x = engine.randn(2, 4)
    out = F.mse_loss(w(x).relu(), engine.zeros(2, 3))
    assert out.grad_fn.name() == "MseLossBackward0"
    relu = out.grad_fn.next_functions[0][0]
    assert type(relu).__name__ == "ReluBackward0"
    addmm = relu.next_functions[0][0]
    assert addmm.name() == "AddmmBackward0"
    names = [None if f is None else f.name() for f, _ in addmm.next_functions]
    assert names == ["AccumulateGrad", None, "TBackward0"]
    assert addmm.next_functions[0][0].variable is w.bias
    t_node = addmm.next_functions[2][0]
    assert t_node.next_functions[0][0].variable is w.weight
    # the target needs no gradient: its edge is (None, 0), as in PyTorch
    assert out.grad_fn.next_functions[1] == (None, 0)


def test_same_leaf_reuses_one_accumulate_grad_node():
    x = engine.ones(3, requires_grad=True)
    y = x * 2 + x
    mul = y.grad_fn.next_functions[0][0]
    assert mul.next_functions[0][0] is y.grad_fn.next_functions[1][0]


def test_deep_graph_does_not_hit_recursion_limit():
    x = engine.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0]


def test_diamond_graph_sums_both_paths():
    x = engine.tensor(2.0, requires_grad=True)
    a = x * 3
    b = a * a + a.exp()
    b.backward()
    assert np.isclose(x.grad.item(), 2 * 6 * 3 + 3 * np.exp(6), rtol=1e-5)


def test_no_grad_context_decorator_and_set_grad_enabled():
    x = engine.ones(2, requires_grad=True)
    with engine.no_grad():
        assert not (x * 2).requires_grad
        assert not engine.is_grad_enabled()
    assert engine.is_grad_enabled()

    @engine.no_grad()
    def f(v):
        return v * 2

    assert f(x).grad_fn is None
    with engine.set_grad_enabled(False):
        assert (x + 1).grad_fn is None
    engine.set_grad_enabled(False)
    assert not engine.is_grad_enabled()
    engine.set_grad_enabled(True)
    with engine.no_grad(), engine.enable_grad():
        assert (x + 1).grad_fn is not None


def test_grad_mode_is_per_thread():
    seen = {}

    def worker():
        seen["worker"] = engine.is_grad_enabled()

    with engine.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["worker"] is True


def test_detach_and_data_share_storage_without_graph():
    x = engine.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    x.data.sub_(engine.ones(3))
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_in_place_on_leaf_requiring_grad_is_refused():
    x = engine.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with engine.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]


def test_in_place_on_graph_tensor_keeps_gradients_right():
    x = engine.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    y.relu_()
    y[0] = 0.0
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 6.0]


def test_autograd_grad_leaves_dot_grad_alone():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    w = engine.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = engine.autograd.grad((x * w).sum(), [x])
    assert gx.tolist() == [3.0, 4.0]
    assert x.grad is None and w.grad is None


def test_tensor_hooks_and_retain_grad():
    x = engine.ones(3, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert seen == [[20.0, 20.0, 20.0]]
    assert x.grad.tolist() == [20.0, 20.0, 20.0]
    assert y.grad.tolist() == [10.0, 10.0, 10.0]  # retain_grad sees the hooked gradient


class Cube(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2 * ctx.k, None


class SplitTwo(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, ga, gb):
        return ga * 2 + gb * 3


def test_user_function_has_pytorch_api_and_name():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert type(y.grad_fn).__name__ == "CubeBackward"
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert gradcheck(lambda v: Cube.apply(v, 1.5), (t64(3),))


def test_user_function_with_two_outputs():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    a, b = SplitTwo.apply(x)
    (a.sum() + b.sum() * 2).backward()
    assert x.grad.tolist() == [8.0, 8.0]
    x.grad = None
    a, _ = SplitTwo.apply(x)
    a.sum().backward()  # the unused output's gradient is materialised as zeros
    assert x.grad.tolist() == [2.0, 2.0]


def test_gradcheck_catches_a_wrong_gradient():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2x

    with pytest.raises(engine.autograd.GradcheckError):
        gradcheck(Wrong.apply, (t64(3),))
    assert gradcheck(Wrong.apply, (t64(3),), raise_exception=False) is False


def _running():
    return engine.tensor([0.5, -1.0, 2.0], dtype=engine.float64)


def _ce_target():
    return engine.tensor([1, 0, 3])


GRADCHECK = [
    ("add", lambda a, b: a + b, [(2, 3), (3,)]),
    ("sub", lambda a, b: a - b, [(2, 3), (2, 1)]),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 3)]),
    ("div", lambda a, b: a / (b + 3), [(2, 3), (3,)]),
    ("pow", lambda a: a**3, [(2, 3)]),
    ("pow_tensor", lambda a, b: (a + 2) ** b, [(2, 3), (2, 3)]),
    ("rpow", lambda a: 2.0**a, [(4,)]),
    ("neg", lambda a: -a, [(3,)]),
    ("exp", lambda a: a.exp(), [(3,)]),
    ("log", lambda a: (a + 2).log(), [(3,)]),
    ("log1p", lambda a: (a + 0.5).log1p(), [(3,)]),
    ("sqrt", lambda a: (a + 2).sqrt(), [(3,)]),
    ("abs", lambda a: (a + 0.05).abs(), [(4,)]),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [(6,)]),
    ("relu", lambda a: a.relu(), [(6,)]),
    ("sigmoid", lambda a: a.sigmoid(), [(6,)]),
    ("tanh", lambda a: a.tanh(), [(6,)]),
    ("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)]),
    ("matmul_batched", lambda a, b: a @ b, [(2, 2, 3), (3,)]),
    ("addmm", lambda b, x, w: engine.addmm(b, x, w), [(4,), (2, 3), (3, 4)]),
    ("sum", lambda a: a.sum(1), [(2, 3)]),
    ("mean", lambda a: a.mean((0, 1), keepdim=True), [(2, 3)]),
    ("var", lambda a: a.var(1), [(2, 3)]),
    ("std", lambda a: a.std(), [(2, 3)]),
    ("max_dim", lambda a: a.max(1).values, [(2, 3)]),
    ("max_all", lambda a: a.max(), [(2, 3)]),
    ("amax", lambda a: a.amax(0), [(2, 3)]),
    ("softmax", lambda a: a.softmax(1), [(2, 3)]),
    ("log_softmax", lambda a: a.log_softmax(0), [(2, 3)]),
    ("view", lambda a: a.view(3, 2), [(2, 3)]),
    ("flatten", lambda a: a.flatten(), [(2, 3)]),
    ("permute", lambda a: a.permute(1, 0, 2), [(2, 3, 2)]),
    ("transpose", lambda a: a.transpose(0, 1), [(2, 3)]),
    ("t", lambda a: a.t(), [(2, 3)]),
    ("squeeze_unsqueeze", lambda a: a.unsqueeze(0).squeeze(1), [(2, 1, 3)]),
    ("expand", lambda a: a.expand(2, 3), [(1, 3)]),
    ("repeat", lambda a: a.repeat(2, 1), [(1, 3)]),
    ("index", lambda a: a[1:, [0, 2, 0]], [(3, 3)]),
    ("gather", lambda a: a.gather(1, engine.tensor([[0, 0], [2, 1]])), [(2, 3)]),
    ("cat", lambda a, b: engine.cat([a, b], 1), [(2, 3), (2, 1)]),
    ("stack", lambda a, b: engine.stack([a, b]), [(2, 3), (2, 3)]),
    ("where", lambda a, b: engine.where(a > 0, a, b), [(2, 3), (2, 3)]),
    ("masked_fill", lambda a: a.masked_fill(a > 0, 1.0), [(2, 3)]),
    ("maximum", lambda a, b: engine.maximum(a, b), [(2, 3), (2, 3)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    ("linear_3d", lambda x, w: F.linear(x, w), [(2, 2, 3), (4, 3)]),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), [(6,)]),
    ("elu", lambda a: F.elu(a, 0.7), [(6,)]),
    ("gelu", lambda a: F.gelu(a), [(6,)]),
    ("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), [(6,)]),
    ("softplus", lambda a: F.softplus(a, beta=2.0), [(6,)]),
    ("hardtanh", lambda a: F.hardtanh(a * 2), [(6,)]),
    ("silu", lambda a: F.silu(a), [(6,)]),
    (
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
        [(4, 3), (3,), (3,)],
    ),
    ("batch_norm_2d_train", lambda x: F.batch_norm(x, None, None, training=True), [(2, 2, 2, 2)]),
    (
        "batch_norm_2d_train_affine_after_conv",
        lambda x, w, b: F.batch_norm(F.conv2d(x, w, padding=1), None, None, b, b * 2, True),
        [(2, 2, 3, 4), (3, 2, 3, 3), (3,)],
    ),
    (
        "batch_norm_eval",
        lambda x, w, b: F.batch_norm(x, _running(), _running() ** 2 + 0.5, w, b, False),
        [(3, 3, 2), (3,), (3,)],
    ),
    ("mse_loss", lambda a, b: F.mse_loss(a, b), [(2, 3), (2, 3)]),
    ("l1_loss", lambda a, b: F.l1_loss(a, b, reduction="sum"), [(2, 3), (2, 3)]),
    ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b * 2), [(2, 3), (2, 3)]),
    ("cross_entropy", lambda a: F.cross_entropy(a, _ce_target()), [(3, 4)]),
    (
        "cross_entropy_smooth",
        lambda a: F.cross_entropy(a, _ce_target(), label_smoothing=0.2),
        [(3, 4)],
    ),
    ("nll_loss", lambda a: F.nll_loss(a, _ce_target(), reduction="sum"), [(3, 4)]),
    ("bce", lambda a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid()), [(2, 3), (2, 3)]),
    (
        "bce_logits",
        lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()),
        [(2, 3), (2, 3)],
    ),
    ("pad_constant", lambda a: F.pad(a, (1, 2, 0, 1)), [(2, 3)]),
    ("pad_reflect", lambda a: F.pad(a, (1, 1), mode="reflect"), [(1, 2, 4)]),
    ("softmax_f", lambda a: F.softmax(a, -1), [(2, 3)]),
    ("norm", lambda a: a.norm(), [(2, 3)]),
    ("norm_dim", lambda a: a.norm(dim=0), [(2, 3)]),
    ("l1_loss_mean", lambda a, b: F.l1_loss(a, b), [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("case", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck_float64(case):
    _, fn, shapes = case
    inputs = [t64(*s, seed=i) for i, s in enumerate(shapes)]
    out = fn(*inputs)
    assert out.dtype == engine.float64, "float64 in must stay float64"
    assert gradcheck(fn, inputs)


CONV_POOL_GRADCHECK = [
    # (name, fn, input shapes): the kernels compute float64 in float64, so these use float64
    # finite differences at tolerances far tighter than gradcheck's defaults
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b), [(2, 2, 6, 5), (3, 2, 3, 3), (3,)]),
    (
        "conv2d_stride_pad",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        [(1, 2, 5, 5), (3, 2, 3, 3), (3,)],
    ),
    (
        "conv2d_dilation_groups",
        lambda x, w: F.conv2d(x, w, dilation=(2, 1), groups=2, padding=(1, 0)),
        [(2, 4, 7, 6), (4, 2, 2, 3)],
    ),
    ("conv2d_same", lambda x, w: F.conv2d(x, w, padding="same"), [(1, 2, 5, 6), (2, 2, 3, 2)]),
    # large enough for the shifted-planes gather (the grid at most 25% above the output)
    (
        "conv2d_3x3_pad1_planes",
        lambda x, w: F.conv2d(x, w, padding=1),
        [(2, 1, 18, 19), (2, 1, 3, 3)],
    ),
    (
        "conv2d_3x3_stride2_pad1_planes",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        [(1, 2, 19, 21), (2, 2, 3, 3), (2,)],
    ),
    ("conv2d_1x1_stride2", lambda x, w: F.conv2d(x, w, stride=2), [(2, 3, 5, 6), (2, 3, 1, 1)]),
    ("max_pool2d_2x2", lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 4)]),
    ("max_pool2d_3_s2", lambda x: F.max_pool2d(x, 3, 2), [(1, 2, 7, 7)]),
    (
        "max_pool2d_pad_dilation_ceil",
        lambda x: F.max_pool2d(x, (3, 2), 2, padding=1, dilation=(1, 2), ceil_mode=True),
        [(2, 2, 7, 8)],
    ),
    ("avg_pool2d_pad", lambda x: F.avg_pool2d(x, 2, padding=1), [(1, 2, 5, 5)]),
    (
        "avg_pool2d_ceil_exclude_pad",
        lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True, count_include_pad=False),
        [(2, 2, 6, 7)],
    ),
    ("avg_pool2d_divisor", lambda x: F.avg_pool2d(x, 2, divisor_override=3), [(1, 2, 4, 6)]),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(1, 2, 5, 5)]),
    ("adaptive_avg_pool2d_global", lambda x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 5)]),
    ("adaptive_avg_pool2d_upsample", lambda x: F.adaptive_avg_pool2d(x, (4, 3)), [(1, 1, 3, 2)]),
]


@pytest.mark.parametrize("case", CONV_POOL_GRADCHECK, ids=[c[0] for c in CONV_POOL_GRADCHECK])
def test_conv_and_pool_gradcheck_float64(case):
    _, fn, shapes = case
    inputs = [t64(*s, seed=i) for i, s in enumerate(shapes)]
    out = fn(*inputs)
    assert out.dtype == engine.float64, "float64 in must stay float64"
    out.sum().backward()
    assert all(t.grad.dtype == engine.float64 for t in inputs)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_double_conv_layer_trains_in_float64_like_torch():
    conv = engine.nn.Conv2d(2, 3, 3, padding=1).double()
    x = t64(2, 2, 6, 6)
    y = F.max_pool2d(F.relu(conv(x)), 2)
    assert y.dtype == engine.float64
    y.sum().backward()
    grads = (x.grad, conv.weight.grad, conv.bias.grad)
    assert all(g.dtype == engine.float64 for g in grads)
    with pytest.raises(RuntimeError, match="Float.*Double|Double.*Float"):
        conv(engine.randn(1, 2, 6, 6))  # float32 input into a float64 layer, as torch refuses


def test_no_grad_as_bare_decorator_and_inference_mode():
    x = engine.ones(2, requires_grad=True)

    @engine.no_grad
    def double(v):
        return v * 2

    assert double(x).grad_fn is None and engine.is_grad_enabled()
    with engine.inference_mode():
        assert (x * 2).grad_fn is None
    assert (x * 2).grad_fn is not None


def test_float32_graphs_never_carry_float64_gradients(monkeypatch):
    # float64 creeping into a float32 backward (numpy scalar promotion) would double the cost
    from engine.autograd import graph

    seen = []
    original = graph._accumulate

    def spy(buffers, node, nr, g):
        if g.dtype != np.float32:
            seen.append((type(node).__name__, g.dtype))
        return original(buffers, node, nr, g)

    monkeypatch.setattr(graph, "_accumulate", spy)
    nn = engine.nn
    x = engine.randn(4, 3, 8, 8, requires_grad=True)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(), nn.MaxPool2d(2),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 10), nn.GELU(), nn.ELU(), nn.Softplus(),
        nn.Tanh(), nn.Sigmoid(), nn.Dropout(0.2), nn.Linear(10, 5),
    )  # fmt: skip
    out = model(x)
    y = engine.tensor([0, 1, 2, 3])
    losses = [
        F.cross_entropy(out, y, label_smoothing=0.1), F.mse_loss(out, engine.zeros(4, 5)),
        F.l1_loss(out, engine.zeros(4, 5)), F.smooth_l1_loss(out, engine.ones(4, 5)),
        F.binary_cross_entropy_with_logits(out, engine.ones(4, 5)),
        F.binary_cross_entropy(out.sigmoid(), engine.ones(4, 5)), out.var(), out.std(1).mean(),
        out.max(), out.amax(0).sum(), (out.abs() ** 2.5).sqrt().mean(), (2**out).mean(),
        out.norm(), F.adaptive_avg_pool2d(x, 2).sum(), out.max(1).values.sum(), out.min(),
        (1 / (out.abs() + 1)).sum(), engine.maximum(out, out * 0.5).sum(),
        F.kl_div(out.log_softmax(1), out.softmax(1).detach(), reduction="batchmean"),
        nn.BatchNorm1d(5)(out).sum(), F.selu(out).sum(), out.softmax(1).sum() / 3,
    ]  # fmt: skip
    for loss in losses:
        assert loss.dtype is engine.float32
        loss.backward(retain_graph=True)
    assert seen == []
    assert all(p.grad.dtype is engine.float32 for p in model.parameters())
