"""ConvTranspose2d, Upsample/interpolate, LayerNorm, Dropout2d, Identity and Unflatten against
PyTorch (same weights and inputs: values, input and parameter gradients, printed form) and
against float64 finite differences."""

import warnings

import numpy as np
import pytest
from engine_parity import check_module, check_op, torch

import engine
import engine.nn.functional as F
from engine.autograd import gradcheck

LAYERS = [
    ("convT", lambda nn: nn.ConvTranspose2d(3, 4, 3), [(2, 3, 5, 5)]),
    ("convT_stride2", lambda nn: nn.ConvTranspose2d(3, 2, 2, stride=2), [(2, 3, 4, 4)]),
    (
        "convT_stride_pad_outpad",
        lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
        [(2, 2, 4, 5)],
    ),
    (
        "convT_pair_dilation",
        lambda nn: nn.ConvTranspose2d(2, 3, (3, 2), stride=(1, 2), dilation=(2, 1)),
        [(1, 2, 4, 3)],
    ),
    (
        "convT_groups_nobias",
        lambda nn: nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False),
        [(2, 4, 3, 3)],
    ),
    ("convT_unbatched", lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2), [(2, 4, 4)]),
    ("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), [(2, 3, 4, 5)]),
    ("upsample_nearest_3", lambda nn: nn.Upsample(scale_factor=3, mode="nearest"), [(1, 2, 3, 2)]),
    ("upsample_nearest_size", lambda nn: nn.Upsample(size=(7, 5)), [(1, 2, 3, 4)]),
    ("upsample_bilinear", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), [(2, 3, 4, 5)]),
    (
        "upsample_bilinear_size",
        lambda nn: nn.Upsample(size=(7, 3), mode="bilinear"),
        [(1, 2, 4, 5)],
    ),
    (
        "upsample_bilinear_corners",
        lambda nn: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        [(2, 2, 3, 4)],
    ),
    (
        "upsample_bilinear_fraction",
        lambda nn: nn.Upsample(scale_factor=1.5, mode="bilinear"),
        [(1, 2, 5, 4)],
    ),
    ("layernorm", lambda nn: nn.LayerNorm(5), [(3, 5)]),
    ("layernorm_image", lambda nn: nn.LayerNorm([3, 4, 4]), [(2, 3, 4, 4)]),
    ("layernorm_eps_nobias", lambda nn: nn.LayerNorm(4, eps=1e-3, bias=False), [(2, 3, 4)]),
    ("layernorm_no_affine", lambda nn: nn.LayerNorm((2, 3), elementwise_affine=False), [(4, 2, 3)]),
    ("identity_image", lambda nn: nn.Identity(), [(2, 3, 4, 4)]),
    ("unflatten_image", lambda nn: nn.Unflatten(1, (2, 3, 4)), [(2, 24)]),
    ("dropout2d_eval", lambda nn: nn.Dropout2d(0.3), [(2, 3, 4, 4)]),
]

EVAL_ONLY = {"dropout2d_eval"}


@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(case):
    name, make, shapes = case
    check_module(make, shapes, train=name not in EVAL_ONLY)


def test_conv_transpose_output_size_argument_like_torch():
    e = engine.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(1, 2, 4, 4)).astype(np.float32)
    ye = e(engine.tensor(x), output_size=[8, 8])
    yt = t(torch.tensor(x), output_size=[8, 8])
    assert tuple(ye.shape) == tuple(yt.shape) == (1, 3, 8, 8)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        e(engine.tensor(x), output_size=[9, 9])


def test_conv_transpose_rejects_output_padding_not_below_stride():
    x = engine.zeros(1, 2, 3, 3)
    w = engine.zeros(2, 3, 3, 3)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(x, w, stride=1, output_padding=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale_factor": 2},
        {"size": (5, 9)},
        {"scale_factor": 2, "mode": "bilinear"},
        {"scale_factor": (2, 3), "mode": "bilinear", "align_corners": True},
        {"size": 3, "mode": "bilinear"},  # a downsample
        {"size": (2, 3)},
    ],
    ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()),
)
def test_interpolate_matches_torch(kwargs):
    check_op(lambda m, a: m.F.interpolate(a, **kwargs), [(2, 3, 4, 5)])


def test_interpolate_errors_name_the_problem():
    x = engine.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, scale_factor=2, mode="bicubic")


def test_layer_norm_functional_matches_torch():
    check_op(
        lambda m, x, w, b: m.F.layer_norm(x, (3, 4), w, b, 1e-3), [(2, 5, 3, 4), (3, 4), (3, 4)]
    )
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\]"):
        F.layer_norm(engine.zeros(2, 3), (4,))


def _t64(*shape, seed=0):
    data = np.random.default_rng(seed).normal(size=shape)
    return engine.tensor(data, dtype=engine.float64, requires_grad=True)


GRADCHECK = [
    (
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b),
        [(2, 2, 3, 4), (2, 3, 3, 2), (3,)],
    ),
    (
        "conv_transpose2d_stride_pad_groups",
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2),
        [(1, 4, 3, 3), (4, 1, 3, 3)],
    ),
    (
        "conv_transpose2d_dilation",
        lambda x, w: F.conv_transpose2d(x, w, stride=(2, 1), dilation=(1, 2)),
        [(1, 2, 3, 3), (2, 2, 2, 3)],
    ),
    ("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2), [(1, 2, 3, 3)]),
    (
        "interpolate_bilinear",
        lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"),
        [(1, 2, 3, 4)],
    ),
    (
        "interpolate_bilinear_corners",
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
        [(2, 1, 3, 3)],
    ),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("layer_norm_2d", lambda x: F.layer_norm(x, (2, 3)), [(2, 2, 3)]),
]


@pytest.mark.parametrize("case", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck_float64(case):
    _, fn, shapes = case
    inputs = [_t64(*s, seed=i) for i, s in enumerate(shapes)]
    assert fn(*inputs).dtype == engine.float64
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_dropout2d_masks_channels_of_a_batch_like_torch():
    engine.manual_seed(0)
    x = engine.ones(6, 8, 3, 3, requires_grad=True)
    y = F.dropout2d(x, 0.5)
    per_channel = y.detach().numpy().reshape(6, 8, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


@pytest.mark.parametrize("shape", [(4, 6), (3, 4, 5)])
def test_dropout2d_other_ranks_warn_and_mask_dims_0_and_1_like_torch(shape):
    for lib in (engine, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = lib.nn.functional.dropout2d(lib.ones(*shape), 0.5)
        messages = [str(w.message) for w in caught]
        assert messages and all(m.startswith("dropout2d: Received a") for m in messages), lib
        if len(shape) == 3:
            assert any("(N, C, L)" in m for m in messages)
        flat = np.asarray(y.detach().numpy()).reshape(shape[0], shape[1], -1)
        assert np.all((flat == 0).all(-1) | (flat == 2).all(-1))


def test_dropout2d_warning_text_equals_torch():
    texts = []
    for lib in (engine, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.functional.dropout2d(lib.ones(2, 3), 0.5, training=False)
        texts.append([str(w.message) for w in caught])
    assert texts[0] == texts[1] and texts[0]
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.dropout2d(engine.ones(4), 0.5)


def test_a_layer_without_bias_loads_its_own_state_dict_like_torch():
    for lib in (engine, torch):
        conv = lib.nn.Conv2d(1, 2, 3, bias=False)
        assert list(conv.state_dict()) == ["weight"]
        result = conv.load_state_dict(conv.state_dict())
        assert not result.missing_keys and not result.unexpected_keys
    bn = engine.nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bn.load_state_dict({}).missing_keys == []
