"""API paths that code copied from PyTorch books and tutorials takes, each checked against
torch itself: numpy-style keywords, factory keywords, legacy typed constructors, device names,
scatter and friends, printing, and the places where PyTorch is strict (in-place changes to
saved tensors, view() of non-contiguous tensors)."""

import warnings

import numpy as np
import pytest
from engine_parity import ENGINE, TORCH, check_op, torch

import engine
import engine.nn.functional as EF
from engine.autograd import gradcheck

X = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], dtype=np.float32)
INDEX = np.array([[0, 1], [2, 0]])

# ---- forward (and backward where differentiable) against torch, one line per op ----------
OPS = [
    ("argmax axis=", lambda L, x: x.argmax(axis=1), [X]),
    ("torch.argmax axis= keepdims=", lambda L, x: L.torch.argmax(x, axis=1, keepdims=True), [X]),
    ("argmin axis=", lambda L, x: x.argmin(axis=0), [X]),
    ("sum axis= keepdims=", lambda L, x: x.sum(axis=1, keepdims=True), [X]),
    ("mean axis=", lambda L, x: x.mean(axis=0), [X]),
    ("torch.mean axis= keepdims=", lambda L, x: L.torch.mean(x, axis=1, keepdims=True), [X]),
    ("max axis=", lambda L, x: x.max(axis=1)[0], [X]),
    ("std axis=", lambda L, x: x.std(axis=0), [X]),
    ("softmax axis=", lambda L, x: L.torch.softmax(x, axis=1), [X]),
    ("cat axis=", lambda L, x: L.torch.cat([x, x * 2], axis=1), [X]),
    ("scatter src", lambda L, x, s: x.scatter(1, L.torch.tensor(INDEX), s), [X, X[:, :2] * 3]),
    ("scatter value", lambda L, x: x.scatter(1, L.torch.tensor(INDEX), 1.5), [X]),
    ("scatter_add", lambda L, x, s: x.scatter_add(0, L.torch.tensor(INDEX[:1]), s),
     [X, X[:1, :2]]),
    ("scatter reduce=add", lambda L, x: x.detach().scatter(1, L.torch.tensor(INDEX), 2.0,
                                                        reduce="add"), [X]),
    ("scatter_ in place", lambda L, x: (x * 1).scatter_(1, L.torch.tensor(INDEX), 0.0), [X]),
    ("scatter_add_ in place", lambda L, x, s: (x * 1).scatter_add_(1, L.torch.tensor(INDEX), s),
     [X, X[:, :2]]),
    ("hstack", lambda L, x: L.torch.hstack([x, x * 2]), [X]),
    ("hstack 1-D", lambda L, x: L.torch.hstack([x[0], x[1]]), [X]),
    ("vstack", lambda L, x: L.torch.vstack([x, x * 2]), [X]),
    ("vstack 1-D", lambda L, x: L.torch.vstack([x[0], x[1]]), [X]),
    ("mT", lambda L, x: (x.reshape(1, 2, 3) * 1).mT, [X]),
    ("mv", lambda L, a, v: L.torch.mv(a, v) + a.mv(v), [X, X[0]]),
    ("sinh", lambda L, x: L.torch.sinh(x), [X / 4]),
    ("cosh", lambda L, x: x.cosh(), [X / 4]),
    ("meshgrid ij", lambda L, a, b: L.torch.meshgrid(a, b, indexing="ij"), [X[0], X[1, :2]]),
    ("meshgrid xy", lambda L, a, b: L.torch.meshgrid(a, b, indexing="xy"), [X[0], X[1, :2]]),
    ("select x[:, i]", lambda L, x: x[:, 1] * 2, [X]),
    ("dropout2d 2-D eval", lambda L, x: L.F.dropout2d(x, 0.5, training=False), [X]),
    ("ndarray / Tensor", lambda L, x: np.array([2.0]) / x.detach(), [X]),
    ("Tensor + ndarray", lambda L, x: x.detach() + np.ones(3), [X]),
]


@pytest.mark.parametrize("case", OPS, ids=[c[0] for c in OPS])
def test_op_matches_torch(case):
    _, fn, values = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(fn, values=values)


# ---- gradcheck in float64 for the new differentiable ops ----------------------------------
def test_new_ops_pass_gradcheck():
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = engine.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    idx = engine.tensor([[0, 3], [1, 2], [2, 0]])
    assert gradcheck(lambda a: a.sinh(), (x,))
    assert gradcheck(lambda a: a.cosh(), (x,))
    assert gradcheck(lambda a, s: a.scatter(1, idx, s), (x, src))
    assert gradcheck(lambda a: a.scatter(1, idx, 0.5), (x,))
    assert gradcheck(lambda a, s: a.scatter_add(1, idx, s), (x, src))
    assert gradcheck(lambda a, b: engine.hstack([a, b]), (x, src))
    assert gradcheck(lambda a: a.reshape(1, 3, 4).mT, (x,))
    assert gradcheck(lambda a: engine.meshgrid(a[0], a[1], indexing="xy")[0], (x,))


# ---- results that are not tensors: compare the Python values ------------------------------
def same(fn):
    return fn(ENGINE), fn(TORCH)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("normal size= requires_grad=", lambda L: (
            L.torch.normal(0, 0.01, size=(2, 1), requires_grad=True).requires_grad,
            tuple(L.torch.normal(0, 1, (3,)).shape))),
        ("size= keyword", lambda L: [tuple(f(size=(2, 3)).shape) for f in (
            L.torch.rand, L.torch.randn, L.torch.zeros, L.torch.ones, L.torch.empty)]),
        ("randint size=", lambda L: (tuple(L.torch.randint(5, size=(3,)).shape),
                                     tuple(L.torch.randint(1, 5, size=(4,)).shape),
                                     str(L.torch.randint(0, 3, (2,)).dtype).split(".")[1])),
        ("full size=", lambda L: L.torch.full(size=(2,), fill_value=3.0).tolist()),
        ("typed constructors", lambda L: [
            (str(t.dtype).split(".")[1], t.tolist()) for t in (
                L.torch.LongTensor([1, 2]), L.torch.FloatTensor([1, 2]),
                L.torch.ByteTensor([1, 2]), L.torch.BoolTensor([1, 0]),
                L.torch.DoubleTensor([0.5]), L.torch.IntTensor([3]),
                L.torch.LongTensor([1.7, -1.7]))] + [tuple(L.torch.FloatTensor(2, 3).shape)]),
        ("isinstance typed", lambda L: (
            isinstance(L.torch.ones(2), L.torch.FloatTensor),
            isinstance(L.torch.ones(2), L.torch.LongTensor),
            isinstance(L.torch.ones(2).long(), L.torch.LongTensor),
            isinstance(L.nn.Parameter(L.torch.ones(1)), L.torch.FloatTensor))),
        ("x.type(...)", lambda L: [str(t.dtype).split(".")[1] for t in (
            L.torch.ones(2).type(L.torch.LongTensor), L.torch.ones(2).type("torch.DoubleTensor"),
            L.torch.ones(2).type(L.torch.int32))] + [L.torch.ones(2).long().type()[-10:]]),
        ("device names", lambda L: [
            (repr(L.torch.device(d)), str(L.torch.device(d))) for d in (
                "cuda", "meta", "cuda:1", "cpu", "mps")] + [
            repr(L.torch.device("cuda", 0)), L.torch.device("cuda") == L.torch.device("cuda")]),
        ("correct += sum twice", lambda L: (lambda t: (0 + t.sum() + t.sum()).item())(
            L.torch.tensor([True, False, True]))),
        ("format 0-d", lambda L: ("{}".format(L.torch.tensor(2.5)), f"{L.torch.tensor(3)}",  # noqa: UP032
                                  f"{L.torch.tensor(0.25):.3f}", str(L.torch.tensor(2.5)))),
        ("finfo", lambda L: [(f.eps, f.max, f.min, f.tiny, f.resolution, f.bits) for f in (
            L.torch.finfo(L.torch.float32), L.torch.finfo(), L.torch.finfo(L.torch.float64),
            L.torch.finfo(L.torch.float16))]),
        ("finfo repr", lambda L: repr(L.torch.finfo(L.torch.float32))),
        ("iinfo", lambda L: [(i.max, i.min, i.bits, repr(i)) for i in (
            L.torch.iinfo(L.torch.int64), L.torch.iinfo(L.torch.uint8),
            L.torch.iinfo(L.torch.int32))]),
        ("grad_fn names of indexing", lambda L: [
            type(eval("x" + k, {"x": L.torch.ones(3, 4, 5, requires_grad=True)}).grad_fn).__name__
            for k in ("[:, 1]", "[0]", "[1:]", "[:]", "[0, 1:]", "[..., 0]", "[:, :]", "[None]",
                      "[None, 0]", "[[0, 1]]")]),
        ("strides and contiguity", lambda L: [
            (t.stride(), t.is_contiguous()) for t in (
                L.torch.ones(2, 3).t(), L.torch.ones(2, 3)[:, 1], L.torch.ones(2, 3, 4)[::2],
                L.torch.ones(3, 4).expand(2, 3, 4), L.torch.ones(2, 3).t().contiguous(),
                L.torch.ones(2, 3, 4).permute(2, 0, 1).reshape(4, 6),
                L.torch.ones(2, 3, 4).transpose(1, 2).view(2, 4, 3))]),
        ("version counter", lambda L: (lambda t: [t._version, t.add_(1)._version,
                                                  t.view(-1).mul_(2) is not None and t._version,
                                                  t.detach().zero_() is not None and t._version,
                                                  t.mul(2)._version])(L.torch.ones(2))),
    ],
)
def test_value_matches_torch(name, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = same(fn)
    assert ours == theirs


# ---- errors: same exception type and message (library names aside) -----------------------
def _error(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except Exception as e:  # noqa: BLE001 - the comparison is the point
            return type(e).__name__, str(e).replace("engine", "torch").replace("Torch", "torch")
    return None


def _modified_saved_output(L):
    a = L.torch.ones(3, requires_grad=True)
    b = a.exp()
    b.add_(1)
    b.sum().backward()


def _modified_saved_leaf(L):
    x = L.torch.ones(2, 3, requires_grad=True)
    w = L.torch.ones(3, 4, requires_grad=True)
    y = x @ w
    with L.torch.no_grad():
        w -= 0.1
    y.sum().backward()


def _modified_through_view(L):
    a = L.torch.ones(4, requires_grad=True)
    y = a.sigmoid()
    y[1:3].mul_(2)
    y.sum().backward()


def _modified_through_setitem(L):
    a = L.torch.ones(2, 2, requires_grad=True)
    y = a.tanh()
    y[0, 0] = 5
    y.sum().backward()


def _modified_through_detach(L):
    a = L.torch.ones(3, requires_grad=True)
    y = a.relu()
    y.detach().zero_()
    y.sum().backward()


ERRORS = [
    ("in-place on a saved output", _modified_saved_output),
    ("in-place on a saved leaf", _modified_saved_leaf),
    ("in-place through a view", _modified_through_view),
    ("in-place through setitem", _modified_through_setitem),
    ("in-place through detach()", _modified_through_detach),
    ("view of a transpose", lambda L: L.torch.ones(2, 3).t().view(6)),
    ("view of a permute", lambda L: L.torch.ones(2, 3, 4).transpose(1, 2).view(2, 12)),
    ("view of a column", lambda L: L.torch.ones(3, 4)[:, 1:3].view(-1)),
    ("view of an expand", lambda L: L.torch.ones(3, 1).expand(3, 4).view(12)),
    ("mT of 1-D", lambda L: L.torch.ones(3).mT),
    ("ndarray + Tensor", lambda L: np.ones(3) + L.torch.ones(3)),
    ("ndarray * Tensor", lambda L: np.ones((2, 3)) * L.torch.ones(3)),
    ("ndarray - Tensor", lambda L: np.ones(3) - L.torch.ones(3)),
    ("ndarray @ Tensor", lambda L: np.ones(3) @ L.torch.ones(3)),
    ("integer div_", lambda L: L.torch.tensor([1, 2]).div_(2)),
    ("integer /=", lambda L: L.torch.tensor([1, 2]).__itruediv__(2)),
    ("integer += float", lambda L: L.torch.tensor([1, 2]).add_(0.5)),
    ("from_numpy negative strides", lambda L: L.torch.from_numpy(np.arange(4)[::-1])),
    ("tensor on cuda", lambda L: L.torch.zeros(2, device="cuda")),
    ("to cuda", lambda L: L.torch.ones(2).to("cuda")),
    ("cuda()", lambda L: L.torch.ones(2).cuda()),
    ("bad device string", lambda L: L.torch.device("gpu")),
    ("bad device index", lambda L: L.torch.device("cuda:x")),
    ("scatter float index", lambda L: L.torch.ones(2, 3).scatter(
        1, L.torch.tensor([[0.0]]), 1.0)),
    ("mv of two matrices", lambda L: L.torch.mv(L.torch.ones(2, 3), L.torch.ones(2, 3))),
    ("mv size mismatch", lambda L: L.torch.mv(L.torch.ones(2, 3), L.torch.ones(2))),
    ("finfo of int", lambda L: L.torch.finfo(L.torch.int32)),
    ("iinfo of float", lambda L: L.torch.iinfo(L.torch.float32)),
    ("sum axis= and dim=", lambda L: L.torch.ones(2).sum(dim=0, axis=0)),
    ("dropout2d 1-D", lambda L: L.F.dropout2d(L.torch.ones(3), 0.5)),
]


@pytest.mark.parametrize("name, fn", ERRORS, ids=[n for n, _ in ERRORS])
def test_error_matches_torch(name, fn):
    ours, theirs = _error(fn, ENGINE), _error(fn, TORCH)
    assert theirs is not None, "torch accepts this"
    assert ours is not None, f"engine accepts what torch refuses: {theirs}"
    assert ours[0] == theirs[0]
    if "modified by an inplace operation" in theirs[1]:
        # same first sentence; engine's hint names the node instead of anomaly mode
        assert ours[1].split(" Hint:")[0] == theirs[1].split(" Hint:")[0]
    elif name.startswith("ndarray"):
        pass  # Python's own TypeError text, worded by numpy
    else:
        assert ours[1] == theirs[1]


def test_same_checks_pass_where_torch_passes():
    """What torch allows must stay allowed: unsaved inputs may change in place, a view of a
    contiguous layout works, reshape copies where view cannot."""
    a = engine.ones(3, requires_grad=True)
    y = a + 1
    z = y * 2  # saves no y: y may change
    y.add_(1)
    z.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]
    b = engine.ones(3, requires_grad=True)
    s = b * 2
    t = s.sigmoid()  # saves its output, not s
    s.add_(1)
    t.sum().backward()
    assert engine.ones(2, 3, 4).permute(2, 0, 1).view(4, 6).shape == (4, 6)
    assert engine.ones(2, 3).t().reshape(6).shape == (6,)
    conv = engine.nn.Conv2d(1, 2, 3)(engine.ones(2, 1, 5, 5))
    assert conv.is_contiguous() and conv.view(2, -1).shape == (2, 18)


def test_dropout2d_warns_like_torch_and_masks_whole_channels():
    for shape in [(3, 4), (2, 3, 4)]:
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            EF.dropout2d(engine.ones(*shape), 0.5, training=False)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            torch.nn.functional.dropout2d(torch.ones(*shape), 0.5, training=False)
        assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    engine.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = EF.dropout2d(engine.ones(4, 6, 5), 0.5).numpy()
    # (N, C, L): one decision per (sample, channel), as PyTorch's feature dropout
    assert np.all((out == 0).all(axis=2) | (out == 2).all(axis=2))


def test_saving_a_whole_module_says_to_save_the_state_dict(tmp_path):
    with pytest.raises(Exception, match=r"state_dict\(\)"):
        engine.save(engine.nn.Linear(2, 2), tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()


def _stale_graph_after_step(L):
    """The classic GAN-loop mistake: step the optimizer, then backward through a graph built
    with the old weights (the graph saved the weight for the input's gradient)."""
    lin = L.nn.Linear(3, 2)
    opt = L.torch.optim.SGD(lin.parameters(), lr=0.1)
    x = L.torch.ones(4, 3, requires_grad=True)
    loss = lin(x).pow(2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    loss.backward()


def test_backward_after_an_optimizer_step_fails_as_in_torch():
    ours, theirs = _error(_stale_graph_after_step, ENGINE), _error(_stale_graph_after_step, TORCH)
    assert theirs is not None and ours is not None and ours[0] == theirs[0]
    # same tensor named; PyTorch counts its internal view ops into the versions
    assert ours[1].split("]], ")[0] == theirs[1].split("]], ")[0]
    assert "[torch.FloatTensor [3, 2]]" in ours[1]
