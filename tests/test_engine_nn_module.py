"""The Module API: registration, traversal, state dicts, hooks, apply, modes, printing, init."""

import math
from collections import OrderedDict

import numpy as np
import pytest
from engine_parity import torch

import engine
import engine.nn as nn
import engine.nn.functional as F


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding="same")
        self.bn = nn.BatchNorm2d(2)
        self.register_buffer("scale", engine.ones(1))
        self.register_buffer("scratch", engine.zeros(1), persistent=False)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x))) * self.scale


def Model(lib=nn):  # noqa: N802 - a class per library, same body
    ones = engine.ones if lib is nn else torch.ones

    class Model(lib.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.Sequential(OrderedDict(c1=lib.Conv2d(1, 4, 3), act=lib.ReLU()))
            self.heads = lib.ModuleList([lib.Linear(4, 2), lib.Linear(4, 2), lib.Linear(4, 3)])
            self.extra = lib.ModuleDict({"drop": lib.Dropout(0.1), "id": lib.Identity()})
            self.alpha = lib.Parameter(ones(1))

    return Model()


def test_repr_matches_torch_for_nested_containers():
    assert repr(Model(nn)) == repr(Model(torch.nn))
    seq = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.LeakyReLU(0.1, inplace=True),
        nn.MaxPool2d(2, 2),
        nn.AvgPool2d(3),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Dropout(),
        nn.GELU(),
        nn.ELU(),
        nn.Softplus(),
        nn.Softmax(dim=1),
        nn.LogSoftmax(1),
        nn.Tanh(),
        nn.Sigmoid(),
        nn.Conv2d(1, 1, 2, padding="same", dilation=2, groups=1),
        nn.Linear(3, 4, bias=False),
        nn.CrossEntropyLoss(),
        nn.MSELoss(),
    )
    tseq = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.LeakyReLU(0.1, inplace=True),
        torch.nn.MaxPool2d(2, 2),
        torch.nn.AvgPool2d(3),
        torch.nn.AdaptiveAvgPool2d((1, 1)),
        torch.nn.Flatten(),
        torch.nn.Dropout(),
        torch.nn.GELU(),
        torch.nn.ELU(),
        torch.nn.Softplus(),
        torch.nn.Softmax(dim=1),
        torch.nn.LogSoftmax(1),
        torch.nn.Tanh(),
        torch.nn.Sigmoid(),
        torch.nn.Conv2d(1, 1, 2, padding="same", dilation=2, groups=1),
        torch.nn.Linear(3, 4, bias=False),
        torch.nn.CrossEntropyLoss(),
        torch.nn.MSELoss(),
    )
    assert repr(seq) == repr(tseq)


def test_traversal_names_and_order_match_torch():
    e, t = Model(nn), Model(torch.nn)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    b = Block()
    assert [n for n, _ in b.named_buffers()] == [
        "scale",
        "scratch",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert "scratch" not in b.state_dict() and "bn.num_batches_tracked" in b.state_dict()
    assert len(list(b.buffers())) == 5 and len(list(b.children())) == 2


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3


def test_state_dict_round_trip_and_strict_errors():
    a, b = Block(), Block()
    a.conv.weight.data.fill_(0.5)
    sd = a.state_dict()
    assert sd["conv.weight"].grad_fn is None and not sd["conv.weight"].requires_grad
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert np.array_equal(b.conv.weight.numpy(force=True), a.conv.weight.numpy(force=True))
    assert b.conv.weight is not a.conv.weight  # copied in place, not replaced
    bad = dict(sd)
    del bad["bn.bias"]
    bad["other.weight"] = engine.zeros(1)
    with pytest.raises(RuntimeError) as exc:
        b.load_state_dict(bad)
    msg = str(exc.value)
    assert msg.startswith("Error(s) in loading state_dict for Block:")
    assert 'Missing key(s) in state_dict: "bn.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "other.weight".' in msg
    res = b.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["bn.bias"] and res.unexpected_keys == ["other.weight"]
    wrong = dict(sd)
    wrong["conv.weight"] = engine.zeros(2, 1, 5, 5)
    with pytest.raises(
        RuntimeError,
        match=r"size mismatch for conv.weight: copying a param with "
        r"shape engine.Size\(\[2, 1, 5, 5\]\) from checkpoint, the shape in current "
        r"model is engine.Size\(\[2, 1, 3, 3\]\)",
    ):
        b.load_state_dict(wrong)


def test_state_dict_loads_into_torch_and_back():
    e, t = Model(nn), Model(torch.nn)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    e2 = Model(nn)
    e2.load_state_dict({k: engine.tensor(v.numpy()) for k, v in t.state_dict().items()})
    for (k, v), (_, w) in zip(e.state_dict().items(), e2.state_dict().items()):
        assert v.equal(w), k


def test_train_eval_zero_grad_requires_grad_and_apply():
    m = Model()
    assert m.training and m.extra["drop"].training
    m.eval()
    assert not m.training and not m.heads[2].training
    m.train()
    out = m.heads[0](engine.ones(1, 4)).sum()
    out.backward()
    assert m.heads[0].weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.heads[0].weight.grad.abs().sum().item() == 0
    m.zero_grad()
    assert m.heads[0].weight.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Model" and seen[0] == "Conv2d"


def test_assignment_rules():
    m = nn.Module()
    m.w = nn.Parameter(engine.ones(2))
    m.sub = nn.Linear(1, 1)
    m.plain = 3
    assert list(dict(m.named_parameters())) == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = engine.ones(2)
    m.w = None
    assert list(dict(m.named_parameters())) == ["sub.weight", "sub.bias"]
    del m.sub
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        m.missing
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", engine.ones(1))


def test_forward_hooks_and_pre_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = lin(engine.ones(3, 2))
    assert calls == [(3, 2)]
    assert np.allclose(out.detach().numpy(), lin.bias.detach().numpy() + 1)
    h1.remove()
    h2.remove()
    lin(engine.ones(3, 2))
    assert calls == [(3, 2)]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hook_matches_torch(input_grad):
    got = {}

    def run(lib, tensor_fn):
        lin = lib.Linear(3, 2)
        seen = []
        lin.register_full_backward_hook(
            lambda mod, gin, gout: seen.append(
                (
                    [None if g is None else g.detach().numpy().copy() for g in gin],
                    [g.detach().numpy().copy() for g in gout],
                )
            )
        )
        return lin, seen

    e_lin, e_seen = run(nn, engine.tensor)
    t_lin, t_seen = run(torch.nn, torch.tensor)
    t_lin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e_lin.state_dict().items()})
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    ex = engine.tensor(x, requires_grad=input_grad)
    tx = torch.tensor(x, requires_grad=input_grad)
    (e_lin(ex) * 2).sum().backward()
    (t_lin(tx) * 2).sum().backward()
    assert len(e_seen) == len(t_seen) == 1
    (e_in, e_out), (t_in, t_out) = e_seen[0], t_seen[0]
    assert len(e_in) == len(t_in)
    for a, b in zip(e_in, t_in):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(e_out[0], t_out[0])
    np.testing.assert_allclose(e_lin.weight.grad.numpy(), t_lin.weight.grad.numpy(), rtol=1e-5)
    got["ok"] = True


def test_backward_hook_can_replace_grad_input():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 0,))
    x = engine.ones(1, 2, requires_grad=True)
    lin(x).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0]]
    assert lin.weight.grad is not None


def test_to_float_double_and_cpu():
    m = nn.Linear(2, 2)
    assert m.to("cpu") is m and m.cpu() is m
    m.double()
    assert m.weight.dtype is engine.float64
    assert m(engine.ones(1, 2, dtype=engine.float64)).dtype is engine.float64
    m.to(engine.float32)
    assert m.weight.dtype is engine.float32 and isinstance(m.weight, nn.Parameter)
    with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
        m.to("cuda")


def test_get_submodule_and_parameter():
    m = Model()
    assert m.get_submodule("features.c1") is m.features.c1
    assert m.get_parameter("heads.2.bias") is m.heads[2].bias
    assert m.heads[-1] is m.heads[2] and len(m.heads) == 3 and len(m.features) == 2
    assert isinstance(m.features[0:1], nn.Sequential)


def _ks_uniform(values, low, high):
    v = np.sort(values.ravel())
    cdf = (v - low) / (high - low)
    emp = np.arange(1, v.size + 1) / v.size
    return np.max(np.abs(cdf - emp))


@pytest.mark.parametrize(
    "make,fan_in",
    [
        (lambda: nn.Linear(300, 200), 300),
        (lambda: nn.Conv2d(6, 16, 5), 150),
        (lambda: nn.Conv2d(8, 12, 3, groups=2), 36),
    ],
)
def test_default_init_has_pytorchs_distribution(make, fan_in):
    engine.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) and the bias rule both give this
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert _ks_uniform(w, -bound, bound) < 1.63 / math.sqrt(w.size)  # KS test at 1%
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_init_functions_match_torch_bounds_and_stds():
    engine.manual_seed(0)
    w = engine.empty(256, 128)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / (256 + 128))
    assert np.abs(w.numpy()).max() <= a and _ks_uniform(w.numpy(), -a, a) < 0.02
    nn.init.xavier_normal_(w, gain=2)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 384)) < 0.01
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2) / math.sqrt(256)) < 0.005
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(6 / 128)
    assert np.abs(w.numpy()).max() <= bound and _ks_uniform(w.numpy(), -bound, bound) < 0.02
    nn.init.uniform_(w, -2, 3)
    assert w.min().item() >= -2 and w.max().item() < 3
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.mean().item() - 1) < 0.01 and abs(w.std().item() - 0.5) < 0.01
    nn.init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    nn.init.zeros_(w)
    assert w.sum().item() == 0
    nn.init.ones_(w)
    assert w.sum().item() == w.numel()
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain(
        "leaky_relu", 0.2
    )
    assert w.dtype is engine.float32


def test_conv_channel_mismatch_and_small_input_errors():
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(
        RuntimeError,
        match=r"Given groups=1, weight of size \[6, 3, 5, 5\], expected "
        r"input\[1, 1, 32, 32\] to have 3 channels, but got 1 channels instead",
    ):
        conv(engine.zeros(1, 1, 32, 32))
    with pytest.raises(RuntimeError, match=r"Kernel size can't be greater than actual input size"):
        conv(engine.zeros(1, 3, 4, 4))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input"):
        conv(engine.zeros(3, 32))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 6, 5, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Output size is too small"):
        nn.MaxPool2d(2)(engine.zeros(1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(engine.zeros(2, 3))


def test_clip_grad_norm_and_value_match_torch():
    e = nn.Linear(4, 3)
    t = torch.nn.Linear(4, 3)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    (e(engine.tensor(x)) ** 2).sum().backward()
    (t(torch.tensor(x)) ** 2).sum().backward()
    en = nn.utils.clip_grad_norm_(e.parameters(), 1.5)
    tn = torch.nn.utils.clip_grad_norm_(t.parameters(), 1.5)
    np.testing.assert_allclose(en.item(), tn.item(), rtol=1e-5)
    np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5)
    nn.utils.clip_grad_value_(e.parameters(), 0.1)
    torch.nn.utils.clip_grad_value_(t.parameters(), 0.1)
    np.testing.assert_allclose(e.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-5)
    vec = nn.utils.parameters_to_vector(e.parameters())
    assert vec.shape == (15,)


def test_deepcopy_and_pickle_keep_parameters():
    import copy
    import pickle

    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    m(engine.randn(4, 2)).sum().backward()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
        assert clone[0].weight.equal(m[0].weight) and clone[0].weight is not m[0].weight
        assert clone[1].running_mean.equal(m[1].running_mean)
        assert repr(clone) == repr(m)


def test_dtype_mismatch_between_input_and_layer_is_refused_like_torch():
    with pytest.raises(
        RuntimeError, match="mat1 and mat2 must have the same dtype, but got Double and Float"
    ):
        nn.Linear(2, 3)(engine.zeros(1, 2, dtype=engine.float64))
    with pytest.raises(RuntimeError, match="but got Long and Float"):
        nn.Linear(2, 3)(engine.zeros(1, 2, dtype=engine.int64))
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        nn.Conv2d(1, 2, 3)(engine.zeros(1, 1, 5, 5, dtype=engine.float64))


@pytest.mark.parametrize(
    "make",
    [
        lambda nn, dt: nn.Linear(3, 2, dtype=dt),
        lambda nn, dt: nn.Conv2d(1, 2, 3, dtype=dt),
        lambda nn, dt: nn.BatchNorm2d(2, dtype=dt),
        lambda nn, dt: nn.Embedding(5, 2, dtype=dt),
    ],
)
def test_layer_dtype_argument_sets_every_tensor_dtype_as_pytorch(make):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow from casting uninitialised memory
        ours = make(engine.nn, engine.float64)
    theirs = make(torch.nn, torch.float64)
    assert {k: str(v.dtype).split(".")[1] for k, v in ours.state_dict().items()} == {
        k: str(v.dtype).split(".")[1] for k, v in theirs.state_dict().items()
    }


def test_a_module_without_bias_loads_its_own_state_dict():
    conv = engine.nn.Conv2d(2, 3, 3, bias=False)
    other = engine.nn.Conv2d(2, 3, 3, bias=False)
    assert list(conv.state_dict()) == ["weight"]
    other.load_state_dict(conv.state_dict())
    np.testing.assert_array_equal(other.weight.detach().numpy(), conv.weight.detach().numpy())
