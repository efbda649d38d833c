"""Every tensor op against PyTorch: forward values and gradients, a case per option."""

import numpy as np
import pytest
from engine_parity import check_op

# (id, fn(lib, *inputs), input shapes, extra options)
CASES = [
    ("add", lambda m, a, b: a + b, [(3, 4), (3, 4)], {}),
    ("add_broadcast_row", lambda m, a, b: a + b, [(3, 4), (4,)], {}),
    ("add_broadcast_both", lambda m, a, b: a + b, [(3, 1, 5), (4, 1)], {}),
    ("add_scalar", lambda m, a: a + 2.5, [(3, 4)], {}),
    ("radd_scalar", lambda m, a: 2.5 + a, [(3, 4)], {}),
    ("add_alpha", lambda m, a, b: m.torch.add(a, b, alpha=2), [(3, 4), (3, 4)], {}),
    ("sub", lambda m, a, b: a - b, [(2, 3), (3,)], {}),
    ("rsub_scalar", lambda m, a: 1 - a, [(2, 3)], {}),
    ("mul", lambda m, a, b: a * b, [(2, 3, 4), (3, 1)], {}),
    ("mul_scalar", lambda m, a: a * -3.0, [(5,)], {}),
    ("div", lambda m, a, b: a / b, [(3, 4), (3, 4)], {"low": 0.5, "high": 2.0}),
    ("div_broadcast", lambda m, a, b: a / b, [(3, 4), (1, 4)], {"low": 0.5, "high": 2.0}),
    ("div_scalar", lambda m, a: a / 4, [(3, 4)], {}),
    ("rdiv_scalar", lambda m, a: 2 / a, [(3, 4)], {"low": 0.5, "high": 2.0}),
    ("pow_scalar", lambda m, a: a**3, [(3, 4)], {}),
    ("pow_half", lambda m, a: a**0.5, [(3, 4)], {"low": 0.5, "high": 2.0}),
    ("pow_tensor", lambda m, a, b: a**b, [(3, 4), (3, 4)], {"low": 0.5, "high": 2.0}),
    ("rpow", lambda m, a: 2**a, [(3, 4)], {}),
    ("neg", lambda m, a: -a, [(3, 4)], {}),
    ("exp", lambda m, a: a.exp(), [(3, 4)], {}),
    ("log", lambda m, a: a.log(), [(3, 4)], {"low": 0.1, "high": 3.0}),
    ("sqrt", lambda m, a: m.torch.sqrt(a), [(3, 4)], {"low": 0.1, "high": 3.0}),
    ("abs", lambda m, a: a.abs(), [(3, 4)], {}),
    ("clamp_both", lambda m, a: a.clamp(-0.5, 0.7), [(4, 5)], {}),
    ("clamp_min", lambda m, a: a.clamp(min=0.1), [(4, 5)], {}),
    ("clamp_max", lambda m, a: m.torch.clamp(a, max=0.1), [(4, 5)], {}),
    ("relu", lambda m, a: a.relu(), [(4, 5)], {}),
    ("sigmoid", lambda m, a: m.torch.sigmoid(a), [(4, 5)], {"low": -30, "high": 30}),
    ("tanh", lambda m, a: a.tanh(), [(4, 5)], {}),
    ("matmul_2d", lambda m, a, b: a @ b, [(3, 4), (4, 5)], {}),
    ("matmul_mv", lambda m, a, b: a @ b, [(3, 4), (4,)], {}),
    ("matmul_vm", lambda m, a, b: a @ b, [(4,), (4, 5)], {}),
    ("matmul_dot", lambda m, a, b: a @ b, [(4,), (4,)], {}),
    ("matmul_batched", lambda m, a, b: m.torch.matmul(a, b), [(2, 3, 4), (4, 5)], {}),
    ("matmul_batched_both", lambda m, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], {}),
    ("mm", lambda m, a, b: m.torch.mm(a, b), [(3, 4), (4, 2)], {}),
    ("t", lambda m, a: a.t() * 2, [(3, 4)], {}),
    ("sum_all", lambda m, a: a.sum(), [(3, 4)], {}),
    ("sum_dim", lambda m, a: a.sum(1), [(3, 4, 5)], {}),
    ("sum_dims_keepdim", lambda m, a: a.sum((0, 2), keepdim=True), [(3, 4, 5)], {}),
    ("sum_negative_dim", lambda m, a: m.torch.sum(a, dim=-1), [(3, 4)], {}),
    ("mean_all", lambda m, a: a.mean(), [(3, 4)], {}),
    ("mean_dim", lambda m, a: a.mean(0), [(3, 4)], {}),
    ("mean_dim_keepdim", lambda m, a: a.mean(-1, keepdim=True), [(3, 4)], {}),
    ("var", lambda m, a: a.var(), [(3, 4)], {}),
    ("var_dim_biased", lambda m, a: a.var(1, unbiased=False), [(3, 4)], {}),
    ("std_dim", lambda m, a: a.std(0, keepdim=True), [(3, 4)], {}),
    ("max_all", lambda m, a: a.max(), [(3, 4)], {}),
    ("max_dim", lambda m, a: a.max(1), [(3, 4)], {}),
    ("max_dim_keepdim", lambda m, a: a.max(0, keepdim=True), [(3, 4)], {}),
    ("min_dim", lambda m, a: a.min(-1), [(3, 4)], {}),
    ("min_all", lambda m, a: m.torch.min(a), [(3, 4)], {}),
    ("maximum", lambda m, a, b: m.torch.maximum(a, b), [(3, 4), (3, 4)], {}),
    ("amax", lambda m, a: a.amax(1), [(3, 4)], {}),
    ("softmax", lambda m, a: a.softmax(1), [(3, 4)], {}),
    ("softmax_dim0", lambda m, a: m.torch.softmax(a, 0), [(3, 4)], {}),
    ("log_softmax", lambda m, a: a.log_softmax(-1), [(3, 4)], {"low": -50, "high": 50}),
    ("view", lambda m, a: a.view(4, 3) * 2, [(3, 4)], {}),
    ("view_infer", lambda m, a: a.view(-1, 2), [(3, 4)], {}),
    ("reshape", lambda m, a: a.reshape(2, 6), [(3, 4)], {}),
    ("reshape_noncontiguous", lambda m, a: a.t().reshape(-1), [(3, 4)], {}),
    ("flatten", lambda m, a: m.torch.flatten(a, 1), [(2, 3, 4, 5)], {}),
    ("flatten_mid", lambda m, a: a.flatten(1, 2), [(2, 3, 4, 5)], {}),
    ("squeeze", lambda m, a: a.squeeze(), [(3, 1, 4, 1)], {}),
    ("squeeze_dim", lambda m, a: a.squeeze(1), [(3, 1, 4)], {}),
    ("unsqueeze", lambda m, a: a.unsqueeze(1), [(3, 4)], {}),
    ("unsqueeze_neg", lambda m, a: a.unsqueeze(-1), [(3, 4)], {}),
    ("permute", lambda m, a: a.permute(2, 0, 1), [(2, 3, 4)], {}),
    ("transpose", lambda m, a: a.transpose(0, 2), [(2, 3, 4)], {}),
    ("T", lambda m, a: a.T, [(2, 3)], {}),
    ("expand", lambda m, a: a.expand(3, 4), [(1, 4)], {}),
    ("expand_new_dim", lambda m, a: a.expand(2, 3, 4), [(3, 1)], {}),
    ("repeat", lambda m, a: a.repeat(2, 3), [(2, 3)], {}),
    ("index_int", lambda m, a: a[1], [(3, 4)], {}),
    ("index_slice", lambda m, a: a[:, 1:3], [(3, 4)], {}),
    (
        "index_step",
        lambda m, a: a[::2, ::-1] if m.name == "engine" else a[::2].flip(1),
        [(5, 4)],
        {},
    ),
    ("index_none_ellipsis", lambda m, a: a[None, ..., 0], [(3, 4)], {}),
    ("index_list", lambda m, a: a[[0, 2, 0]], [(3, 4)], {}),
    ("index_tensor", lambda m, a, i: a[i], [(3, 4)], {"values_int": [[2, 0, 2]]}),
    ("index_bool_mask", lambda m, a: a[a > 0], [(3, 4)], {}),
    (
        "gather",
        lambda m, a, i: a.gather(1, i),
        [(3, 4)],
        {"values_int": [[[0, 0], [1, 3], [2, 2]]]},
    ),
    ("cat", lambda m, a, b: m.torch.cat([a, b], 1), [(2, 3), (2, 5)], {}),
    ("cat_dim0", lambda m, a, b: m.torch.cat((a, b)), [(2, 3), (4, 3)], {}),
    ("stack", lambda m, a, b: m.torch.stack([a, b], 1), [(2, 3), (2, 3)], {}),
    ("where", lambda m, a, b: m.torch.where(a > 0, a, b), [(3, 4), (3, 4)], {}),
    ("masked_fill", lambda m, a: a.masked_fill(a < 0, 0.5), [(3, 4)], {}),
    ("split", lambda m, a: a.split(2, 1), [(3, 5)], {}),
    ("chunk", lambda m, a: a.chunk(2), [(5, 3)], {}),
    ("unbind", lambda m, a: a.unbind(1), [(2, 3)], {}),
    ("clone", lambda m, a: a.clone() * 2, [(2, 3)], {}),
    ("norm", lambda m, a: a.norm(), [(3, 4)], {}),
    ("norm_dim", lambda m, a: a.norm(dim=1, keepdim=True), [(3, 4)], {}),
    ("norm_dim_p1", lambda m, a: a.norm(1, dim=0), [(3, 4)], {}),
    (
        "chain",
        lambda m, a, b: ((a @ b).relu() * 3 - 1).exp().mean(),
        [(3, 4), (4, 2)],
        {"high": 0.5},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_op_matches_torch(case):
    _, fn, shapes, opts = case
    opts = dict(opts)
    values_int = opts.pop("values_int", None)
    if values_int is not None:
        rng = np.random.default_rng(0)
        values = [rng.uniform(-2, 2, shapes[0]).astype(np.float32)] + [
            np.array(v, dtype=np.int64) for v in values_int
        ]
        check_op(fn, values=values, **opts)
    else:
        check_op(fn, shapes, **opts)


def test_max_dim_returns_indices_like_torch():
    e_out, t_out = check_op(lambda m, a: a.max(1), [(4, 6)], forward_only_outputs=(1,))
    assert e_out[1].tolist() == t_out[1].tolist()
    assert e_out[1].dtype.name == "int64"


def test_max_with_dim_prints_like_torch_return_types():
    from engine_parity import torch

    import engine

    data = [[1.0, 3.0], [4.0, 2.0]]
    assert repr(engine.tensor(data).max(1)) == repr(torch.tensor(data).max(1)).replace(
        "torch.", "engine."
    )


def test_argmax_argmin_match_torch():
    check_op(
        lambda m, a: (a.argmax(), a.argmax(1), a.argmin(0, keepdim=True)), [(4, 6)], grad=False
    )


def test_comparisons_give_bool_tensors():
    check_op(lambda m, a, b: (a > b, a <= 0.5, a == a, a != b), [(3, 4), (3, 4)], grad=False)


def test_mixed_dtype_arithmetic_stays_float32():
    check_op(
        lambda m, a, i: (a * i, i / 2, i + 1.5, a + i.sum()),
        values=[np.ones((2, 3), np.float32), np.arange(6, dtype=np.int64).reshape(2, 3)],
        grad=False,
    )


def test_integer_ops_keep_int64():
    check_op(lambda m, i: (i + 1, i * 2, i.sum(), i // 2), values=[np.arange(6).reshape(2, 3)])


def test_random_broadcasting_shapes_match_torch():
    rng = np.random.default_rng(3)
    ops = [
        lambda m, a, b: a + b,
        lambda m, a, b: a - b,
        lambda m, a, b: a * b,
        lambda m, a, b: a / (b.abs() + 0.5),
        lambda m, a, b: m.torch.maximum(a, b),
        lambda m, a, b: m.torch.where(a > b, a * 2, b),
    ]
    for i in range(40):
        nd = int(rng.integers(1, 5))
        full = [int(s) for s in rng.integers(1, 4, nd)]
        sa = [s if rng.random() < 0.6 else 1 for s in full]
        sb = [s if rng.random() < 0.6 else 1 for s in full][int(rng.integers(0, nd)) :]
        check_op(ops[i % len(ops)], [tuple(sa), tuple(sb)], seed=i)


def test_legacy_tensor_constructor_is_float32():
    import engine

    assert engine.Tensor([1, 2]).dtype is engine.float32
    assert engine.Tensor(2, 3).shape == (2, 3)
