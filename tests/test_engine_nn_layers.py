"""Every layer against PyTorch with the same weights and inputs: output, input gradient,
parameter gradients, buffers and the printed form; a case per option."""

import numpy as np
import pytest
from engine_parity import check_module, check_op, torch

import engine

LAYERS = [
    ("linear", lambda nn: nn.Linear(5, 3), [(4, 5)]),
    ("linear_nobias", lambda nn: nn.Linear(5, 3, bias=False), [(4, 5)]),
    ("linear_3d", lambda nn: nn.Linear(5, 3), [(2, 4, 5)]),
    ("linear_1d", lambda nn: nn.Linear(5, 3), [(5,)]),
    ("conv", lambda nn: nn.Conv2d(3, 4, 3), [(2, 3, 8, 8)]),
    ("conv_stride", lambda nn: nn.Conv2d(3, 4, 3, stride=2), [(2, 3, 9, 9)]),
    ("conv_stride_pair", lambda nn: nn.Conv2d(2, 4, (3, 2), stride=(2, 1)), [(2, 2, 7, 6)]),
    ("conv_padding", lambda nn: nn.Conv2d(3, 4, 3, padding=1), [(2, 3, 6, 6)]),
    ("conv_padding_pair", lambda nn: nn.Conv2d(3, 2, 3, padding=(2, 0)), [(1, 3, 5, 6)]),
    ("conv_same_odd", lambda nn: nn.Conv2d(2, 3, 5, padding="same"), [(2, 2, 7, 7)]),
    ("conv_same_even", lambda nn: nn.Conv2d(2, 3, 4, padding="same"), [(2, 2, 7, 6)]),
    (
        "conv_same_dilated",
        lambda nn: nn.Conv2d(2, 3, 3, padding="same", dilation=2),
        [(1, 2, 8, 8)],
    ),
    ("conv_valid", lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), [(1, 2, 6, 6)]),
    ("conv_dilation", lambda nn: nn.Conv2d(2, 3, 3, dilation=2), [(2, 2, 9, 9)]),
    ("conv_nobias", lambda nn: nn.Conv2d(3, 4, 3, bias=False), [(2, 3, 6, 6)]),
    ("conv_groups", lambda nn: nn.Conv2d(4, 6, 3, groups=2), [(2, 4, 6, 6)]),
    ("conv_1x1", lambda nn: nn.Conv2d(3, 5, 1), [(2, 3, 4, 4)]),
    ("conv_unbatched", lambda nn: nn.Conv2d(3, 4, 3), [(3, 6, 6)]),
    (
        "conv_reflect",
        lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        [(1, 2, 5, 5)],
    ),
    (
        "conv_replicate",
        lambda nn: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
        [(1, 2, 5, 5)],
    ),
    (
        "conv_circular",
        lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular"),
        [(1, 2, 5, 5)],
    ),
    ("maxpool", lambda nn: nn.MaxPool2d(2), [(2, 3, 8, 8)]),
    ("maxpool_odd_input", lambda nn: nn.MaxPool2d(2), [(2, 3, 7, 9)]),
    ("maxpool_stride", lambda nn: nn.MaxPool2d(3, stride=2), [(2, 3, 9, 9)]),
    ("maxpool_padding", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), [(1, 2, 8, 8)]),
    ("maxpool_dilation", lambda nn: nn.MaxPool2d(2, dilation=2), [(1, 2, 9, 9)]),
    ("maxpool_ceil", lambda nn: nn.MaxPool2d(2, ceil_mode=True), [(1, 2, 7, 7)]),
    ("maxpool_ceil_overhang", lambda nn: nn.MaxPool2d(3, stride=2, ceil_mode=True), [(1, 2, 2, 2)]),
    ("avgpool_ceil_overhang", lambda nn: nn.AvgPool2d(3, 2, ceil_mode=True), [(1, 2, 2, 4)]),
    ("maxpool_pair", lambda nn: nn.MaxPool2d((2, 3), stride=(2, 1)), [(1, 2, 6, 7)]),
    ("maxpool_unbatched", lambda nn: nn.MaxPool2d(2), [(3, 6, 6)]),
    ("avgpool", lambda nn: nn.AvgPool2d(2), [(2, 3, 8, 8)]),
    ("avgpool_stride_pad", lambda nn: nn.AvgPool2d(3, stride=2, padding=1), [(1, 2, 8, 8)]),
    (
        "avgpool_no_pad_count",
        lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        [(1, 2, 7, 7)],
    ),
    ("avgpool_ceil", lambda nn: nn.AvgPool2d(2, ceil_mode=True), [(1, 2, 7, 7)]),
    ("avgpool_divisor", lambda nn: nn.AvgPool2d(2, divisor_override=3), [(1, 2, 6, 6)]),
    ("adaptive_avg_1", lambda nn: nn.AdaptiveAvgPool2d(1), [(2, 3, 5, 5)]),
    ("adaptive_avg_pair", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), [(2, 3, 7, 5)]),
    ("adaptive_avg_none", lambda nn: nn.AdaptiveAvgPool2d((None, 2)), [(2, 3, 7, 5)]),
    ("relu", lambda nn: nn.ReLU(), [(3, 5)]),
    ("relu6", lambda nn: nn.ReLU6(), [(3, 5)]),
    ("leaky_relu", lambda nn: nn.LeakyReLU(), [(3, 5)]),
    ("leaky_relu_slope", lambda nn: nn.LeakyReLU(0.2), [(3, 5)]),
    ("elu", lambda nn: nn.ELU(), [(3, 5)]),
    ("elu_alpha", lambda nn: nn.ELU(alpha=0.5), [(3, 5)]),
    ("selu", lambda nn: nn.SELU(), [(3, 5)]),
    ("gelu", lambda nn: nn.GELU(), [(3, 5)]),
    ("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), [(3, 5)]),
    ("silu", lambda nn: nn.SiLU(), [(3, 5)]),
    ("sigmoid", lambda nn: nn.Sigmoid(), [(3, 5)]),
    ("tanh", lambda nn: nn.Tanh(), [(3, 5)]),
    ("hardtanh", lambda nn: nn.Hardtanh(-0.5, 1.5), [(3, 5)]),
    ("softplus", lambda nn: nn.Softplus(), [(3, 5)]),
    ("softplus_beta", lambda nn: nn.Softplus(beta=2, threshold=3), [(3, 5)]),
    ("softmax", lambda nn: nn.Softmax(dim=1), [(3, 5)]),
    ("softmax_dim0", lambda nn: nn.Softmax(dim=0), [(3, 5)]),
    ("log_softmax", lambda nn: nn.LogSoftmax(dim=1), [(3, 5)]),
    ("flatten", lambda nn: nn.Flatten(), [(2, 3, 4, 4)]),
    ("flatten_dims", lambda nn: nn.Flatten(0, 2), [(2, 3, 4, 4)]),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [(2, 6)]),
    ("identity", lambda nn: nn.Identity(), [(2, 3)]),
    ("dropout_eval", lambda nn: nn.Dropout(0.3), [(2, 3)]),
    ("batchnorm1d", lambda nn: nn.BatchNorm1d(3), [(6, 3)]),
    ("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(3), [(4, 3, 5)]),
    ("batchnorm2d", lambda nn: nn.BatchNorm2d(3), [(4, 3, 5, 5)]),
    ("batchnorm2d_no_affine", lambda nn: nn.BatchNorm2d(3, affine=False), [(4, 3, 2, 2)]),
    ("batchnorm2d_momentum", lambda nn: nn.BatchNorm2d(3, momentum=0.5, eps=1e-3), [(4, 3, 2, 2)]),
    ("batchnorm2d_cumulative", lambda nn: nn.BatchNorm2d(3, momentum=None), [(4, 3, 2, 2)]),
    ("batchnorm2d_no_bias", lambda nn: nn.BatchNorm2d(3, bias=False), [(4, 3, 2, 2)]),
    (
        "batchnorm2d_untracked",
        lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
        [(4, 3, 2, 2)],
    ),
    (
        "sequential",
        lambda nn: nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
        ),
        [(2, 1, 6, 6)],
    ),
]

EVAL_ONLY = {"dropout_eval"}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(case):
    name, make, shapes = case
    check_module(make, shapes, train=name not in EVAL_ONLY)


@pytest.mark.parametrize("name", ["batchnorm1d", "batchnorm2d"])
def test_batchnorm_eval_uses_running_stats_like_torch(name):
    shape = (6, 3) if name == "batchnorm1d" else (4, 3, 3, 3)
    e, t, _, _ = check_module(
        lambda nn: getattr(nn, name.replace("batchnorm", "BatchNorm"))(3), [shape]
    )
    for _ in range(2):
        x = np.random.default_rng(1).normal(2, 3, shape).astype(np.float32)
        e(engine.tensor(x))
        t(torch.tensor(x))
    e.eval()
    t.eval()
    x = np.random.default_rng(2).normal(0, 1, shape).astype(np.float32)
    np.testing.assert_allclose(
        e(engine.tensor(x)).detach().numpy(),
        t(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    assert int(e.num_batches_tracked.item()) == 3


def test_maxpool_ties_send_gradient_to_first_maximum_like_torch():
    # flat MNIST background: whole windows tie
    x = np.zeros((1, 1, 4, 6), np.float32)
    x[0, 0, 1, 1] = 1.0
    check_op(lambda m, a: m.F.max_pool2d(a, 2), values=[x])
    check_op(lambda m, a: m.F.max_pool2d(a.relu(), 3, 1), values=[x - 0.5])


def test_maxpool_return_indices_like_torch():
    e_out, t_out = check_op(
        lambda m, a: m.F.max_pool2d(a, 2, return_indices=True),
        [(2, 3, 6, 6)],
        forward_only_outputs=(1,),
    )
    assert e_out[1].tolist() == t_out[1].tolist()


def test_relu_gradient_at_zero_is_zero():
    check_op(lambda m, a: m.F.relu(a), values=[np.array([-1.0, 0.0, 2.0], np.float32)])


def test_dropout_train_zeroes_and_scales():
    engine.manual_seed(0)
    d = engine.nn.Dropout(0.25)
    x = engine.ones(1000, requires_grad=True)
    y = d(x)
    vals = np.unique(y.detach().numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75], rtol=1e-6)
    assert 150 < int((y == 0).sum()) < 350
    y.sum().backward()
    assert np.array_equal(x.grad.numpy() == 0, y.detach().numpy() == 0)
    d.eval()
    assert d(x) is x
    assert repr(d) == "Dropout(p=0.25, inplace=False)"


def test_relu_inplace_in_a_network():
    check_module(
        lambda nn: nn.Sequential(nn.Linear(4, 3), nn.ReLU(inplace=True), nn.Linear(3, 2)), [(5, 4)]
    )


def test_dropout2d_zeroes_whole_channels():
    engine.manual_seed(1)
    d = engine.nn.Dropout2d(0.5)
    x = engine.ones(8, 16, 3, 3, requires_grad=True)
    y = d(x)
    per_channel = y.detach().numpy().reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.2 < float((per_channel[..., 0] == 0).mean()) < 0.8
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.detach().numpy())
    assert repr(d) == repr(torch.nn.Dropout2d(0.5))
    d.eval()
    assert d(x) is x


def test_inplace_activation_writes_through_when_no_graph_needs_the_input():
    data = np.array([-1.0, 2.0, -3.0], np.float32)
    x = engine.from_numpy(data)
    assert engine.nn.ReLU(inplace=True)(x) is x
    assert data.tolist() == [0.0, 2.0, 0.0]
    leaf = engine.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        engine.nn.functional.leaky_relu(leaf, inplace=True)
