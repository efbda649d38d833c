"""Tensor basics: creation, dtypes, Size, conversion, printing like PyTorch, in-place updates,
views and memory layout, and PyTorch-quality error messages."""

import numpy as np
import pytest
from engine_parity import torch

import engine


def same_repr(values, **kw):
    e = engine.tensor(values, **kw)
    t = torch.tensor(values, **kw_torch(kw))
    return repr(e), repr(t).replace("torch.", "engine.")


def kw_torch(kw):
    out = dict(kw)
    if "dtype" in out:
        out["dtype"] = getattr(torch, out["dtype"].name)
    return out


PRINT_CASES = [
    [1.5, -2.25, 3.0],
    [1.0, 2.0, 3.0],
    [[0.1234, 5.6789], [-1.0, 2.0]],
    [1e-5, 1.0],
    [12345678.0, 1.0],
    [[1e10, 1.0]],
    [1, 2, 300],
    [[True, False], [False, True]],
    3.25,
    7,
    [0.0, 0.0],
    [float("nan"), 1.5, float("inf")],
    [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.5]]],
    np.linspace(-3, 3, 30).tolist(),
    [],
]


@pytest.mark.parametrize("values", PRINT_CASES, ids=[str(i) for i in range(len(PRINT_CASES))])
def test_printing_matches_torch(values):
    e, t = same_repr(values)
    assert e == t


def test_printing_with_dtype_grad_fn_and_requires_grad():
    e, t = same_repr([1.0, 2.0], dtype=engine.float64)
    assert e == t == "tensor([1., 2.], dtype=engine.float64)"
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    w = engine.nn.Parameter(engine.tensor([0.5]))
    assert repr(w) == "Parameter containing:\ntensor([0.5000], requires_grad=True)"


def test_printing_large_tensor_is_summarised_like_torch():
    data = np.arange(2000, dtype=np.float32).reshape(40, 50) / 7
    assert repr(engine.tensor(data)) == repr(torch.tensor(data))
    data = np.arange(3000).reshape(3, 1000)
    assert repr(engine.tensor(data)) == repr(torch.tensor(data))


def test_printing_empty_2d_tensor():
    assert repr(engine.zeros(0, 3)) == repr(torch.zeros(0, 3))


def test_size_prints_and_behaves_as_tuple():
    s = engine.zeros(6, 1, 5, 5).size()
    assert repr(s) == "engine.Size([6, 1, 5, 5])"
    assert s == (6, 1, 5, 5) and s[1:] == (1, 5, 5) and isinstance(s[1:], engine.Size)
    assert s.numel() == 150
    assert engine.zeros(2, 3).size(-1) == 3 and engine.zeros(2, 3).shape[0] == 2


def test_dtypes_defaults_and_conversions():
    assert engine.tensor([1.0]).dtype is engine.float32
    assert engine.tensor([1]).dtype is engine.int64
    assert engine.tensor([True]).dtype is engine.bool
    assert engine.tensor(np.zeros(2)).dtype is engine.float64  # numpy float64 stays, as torch
    assert engine.from_numpy(np.zeros(2, np.float32)).dtype is engine.float32
    x = engine.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.long().dtype is engine.int64
    assert x.double().dtype is engine.float64 and x.double().float().dtype is engine.float32
    assert x.to(engine.float64).dtype is engine.float64
    assert x.to("cpu") is x and x.to(engine.device("cpu")) is x
    assert (x > 0).dtype is engine.bool
    assert engine.float32 == engine.float and repr(engine.int64) == "engine.int64"
    assert (
        engine.arange(3).dtype is engine.int64 and engine.arange(0, 1, 0.5).dtype is engine.float32
    )
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        x.to("cuda")


def test_python_scalars_do_not_upcast_float32():
    x = engine.ones(3)
    for y in (x * 0.1, x + 1e-3, x / 3, 2.5 - x, x**2.0, x * np.float64(2.0), -x):
        assert y.dtype is engine.float32, y


def test_factories_shapes_and_dtypes():
    engine.manual_seed(0)
    assert engine.zeros(2, 3).shape == (2, 3) and engine.ones((2, 3)).sum().item() == 6
    assert engine.full((2,), 7).dtype is engine.int64 and engine.full((2,), 0.5).tolist() == [
        0.5,
        0.5,
    ]
    r = engine.randn(1000)
    assert (
        r.dtype is engine.float32 and abs(r.mean().item()) < 0.15 and 0.85 < r.std().item() < 1.15
    )
    u = engine.rand(1000)
    assert 0 <= u.min().item() and u.max().item() < 1
    i = engine.randint(0, 10, (100,))
    assert i.dtype is engine.int64 and 0 <= i.min().item() and i.max().item() < 10
    assert sorted(engine.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    assert engine.zeros_like(r).shape == r.shape and engine.ones_like(i).dtype is engine.int64
    assert engine.eye(3).sum().item() == 3 and engine.linspace(0, 1, 5).tolist()[2] == 0.5
    engine.manual_seed(3)
    a = engine.randn(4)
    engine.manual_seed(3)
    assert engine.randn(4).equal(a)


def test_item_numpy_tolist_and_their_errors():
    x = engine.tensor([[1.0, 2.0]])
    assert x.tolist() == [[1.0, 2.0]] and engine.tensor(3.5).item() == 3.5
    with pytest.raises(
        RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"
    ):
        x.item()
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        x.requires_grad_().numpy()
    assert isinstance(x.detach().numpy(), np.ndarray)
    assert x.numel() == 2 and x.dim() == 2 and x.ndim == 2 and len(x) == 1


def test_in_place_updates_used_by_training_code():
    x = engine.zeros(3)
    x.add_(1).mul_(4).sub_(engine.tensor([1.0, 2.0, 3.0])).div_(2)
    assert x.tolist() == [1.5, 1.0, 0.5]
    x.fill_(2.0)
    assert x.tolist() == [2.0, 2.0, 2.0]
    x.copy_(engine.tensor([3.0, 4.0, 5.0]))
    assert x.tolist() == [3.0, 4.0, 5.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.add_(engine.ones(3), alpha=-2)
    assert x.tolist() == [-2.0, -2.0, -2.0]
    y = engine.zeros(2, 2)
    y[0, 1] = 5
    y[1] = engine.tensor([7.0, 8.0])
    assert y.tolist() == [[0.0, 5.0], [7.0, 8.0]]


def test_view_shares_storage_and_accepts_non_contiguous_memory():
    x = engine.arange(6.0).view(2, 3)
    v = x.view(3, 2)
    v[0, 0] = 100.0
    assert x[0, 0].item() == 100.0
    # an NCHW view of CNHW memory, as the conv kernels return: view must work
    cnhw = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(3, 2, 4, 4)
    nchw = engine.from_numpy(cnhw.transpose(1, 0, 2, 3))
    flat = nchw.view(2, -1)
    assert flat.tolist() == cnhw.transpose(1, 0, 2, 3).reshape(2, -1).tolist()


def test_elementwise_ops_keep_memory_layout():
    cnhw = np.random.default_rng(0).normal(size=(3, 2, 4, 4)).astype(np.float32)
    x = engine.from_numpy(cnhw.transpose(1, 0, 2, 3))
    for y in (x.relu(), x * 2.0, x + x, x.sigmoid()):
        assert np.shares_memory(y._data, y._data) and not y._data.flags.c_contiguous
        assert y._data.transpose(1, 0, 2, 3).flags.c_contiguous


def test_shape_errors_read_like_torch():
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x256 and 400x120\)"
    ):
        engine.nn.Linear(400, 120)(engine.zeros(1, 256))
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"
    ):
        engine.zeros(2, 3) @ engine.zeros(4, 5)
    with pytest.raises(RuntimeError, match=r"shape '\[4, 4\]' is invalid for input of size 6"):
        engine.zeros(2, 3).view(4, 4)
    with pytest.raises(
        RuntimeError,
        match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
        r"non-singleton dimension 1",
    ):
        engine.zeros(2, 3) + engine.zeros(2, 4)
    with pytest.raises(
        IndexError,
        match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
    ):
        engine.zeros(2, 3).sum(2)
    with pytest.raises(IndexError, match="out of bounds"):
        engine.zeros(2, 3)[5]
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        engine.cat([engine.zeros(2, 3), engine.zeros(2, 4)])


def test_printing_matches_torch_on_random_tensors():
    # float32/int64/bool print with no dtype suffix, so the texts must be identical
    rng = np.random.default_rng(7)
    for i in range(300):
        shape = tuple(int(s) for s in rng.integers(1, 7, rng.integers(0, 4)))
        scale = 10.0 ** rng.integers(-6, 10)
        kind = i % 5
        if kind == 0:
            a = rng.normal(0, scale, shape).astype(np.float32)
        elif kind == 1:
            a = np.round(rng.normal(0, scale, shape)).astype(np.float32)
        elif kind == 2:
            a = rng.integers(-1000, 1000, shape)
        elif kind == 3:
            a = rng.normal(0, 1, shape) > 0
        else:
            a = rng.normal(0, scale, shape).astype(np.float32)
            a.reshape(-1)[0] = [np.nan, np.inf, -np.inf, 0.0, -0.0][i % 5]
        grad = kind in (0, 4) and i % 2 == 0
        assert repr(engine.tensor(a, requires_grad=grad)) == repr(
            torch.tensor(a, requires_grad=grad)
        ), a
