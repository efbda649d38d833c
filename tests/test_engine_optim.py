"""engine.optim and engine.optim.lr_scheduler against torch.optim: trajectories, defaults,
argument checks, state dicts, parameter groups, lr sequences; and a LeNet that learns MNIST."""

import gzip
import math
import warnings

import numpy as np
import pytest
import torch

import engine
import engine.optim as eoptim
from engine.optim import lr_scheduler as esched
from engine.serialization import load, save
from engine.utils.data import DataLoader, TensorDataset

OPTIMIZERS = [
    "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
]

# Every option of every optimizer, including both branches of PyTorch's lerp (weight < 0.5
# and >= 0.5) where the update uses it.
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.2, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.4))),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, alpha=0.3, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.05, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-4, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-4)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.3, 0.9), momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]

RNG = np.random.default_rng(1234)
INIT = [RNG.standard_normal(s).astype(np.float32) * 0.5 for s in [(8, 5), (8,), (3, 8), (3,)]]
X = RNG.standard_normal((16, 5)).astype(np.float32)
Y = RNG.integers(0, 3, 16)


def _torch_loss(params):
    w1, b1, w2, b2 = params
    h = torch.tanh(torch.from_numpy(X) @ w1.T + b1)
    return torch.nn.functional.cross_entropy(h @ w2.T + b2, torch.from_numpy(Y))


def _engine_params():
    return [engine.nn.Parameter(engine.tensor(a.copy())) for a in INIT]


def _torch_params():
    return [torch.nn.Parameter(torch.tensor(a.copy())) for a in INIT]


def _set_engine_grads(params):
    """The model's gradient at the engine's current parameter values (computed by PyTorch, so
    these tests check the optimizer alone)."""
    copies = [torch.tensor(p._data.copy(), requires_grad=True) for p in params]
    loss = _torch_loss(copies)
    loss.backward()
    for p, c in zip(params, copies):
        p.grad = engine.tensor(c.grad.numpy().copy())
    return loss.item()


def _torch_step(opt, params):
    opt.zero_grad()
    _torch_loss(params).backward()
    opt.step()


def _engine_step(opt, params):
    opt.zero_grad()
    _set_engine_grads(params)
    opt.step()


def _assert_params_close(ours, theirs, rtol=1e-4, atol=1e-5):
    for i, (e, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(
            e._data, t.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"parameter {i}"
        )


# ---- trajectories -------------------------------------------------------------------------


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_trajectory_equals_pytorch(name, kwargs):
    tp, ep = _torch_params(), _engine_params()
    topt = getattr(torch.optim, name)(tp, **kwargs)
    eopt = getattr(eoptim, name)(ep, **kwargs)
    for _ in range(15):
        _torch_step(topt, tp)
        _engine_step(eopt, ep)
    _assert_params_close(ep, tp)
    moved = max(np.abs(p._data - a).max() for p, a in zip(ep, INIT))
    assert moved > 1e-3  # the run did move the parameters

    theirs, ours = topt.state_dict(), eopt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for idx, tstate in theirs["state"].items():
        assert ours["state"][idx].keys() == tstate.keys()
        for key, value in tstate.items():
            mine = ours["state"][idx][key]
            assert isinstance(mine, engine.Tensor)
            assert mine._data.dtype == np.float32 and mine._data.shape == tuple(value.shape)
            scale = max(1.0, float(np.abs(value.numpy()).max()))
            np.testing.assert_allclose(mine._data, value.numpy(), rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_equal_pytorch(name):
    ours = getattr(eoptim, name)(_engine_params())
    theirs = getattr(torch.optim, name)(_torch_params())
    assert ours.defaults == theirs.defaults
    assert repr(ours) == repr(theirs)


def test_trajectory_through_engine_autograd_and_nn():
    """Same model and data in both libraries, gradients from each library's own autograd."""
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    emodel = engine.nn.Sequential(engine.nn.Linear(5, 8), engine.nn.ReLU(), engine.nn.Linear(8, 3))
    emodel.load_state_dict(
        {k: engine.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    )
    for name, kwargs in [
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("Adam", dict(lr=0.01, amsgrad=True)),
    ]:
        topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
        eopt = getattr(eoptim, name)(emodel.parameters(), **kwargs)
        for _ in range(12):
            topt.zero_grad()
            tloss = torch.nn.functional.cross_entropy(
                tmodel(torch.from_numpy(X)), torch.from_numpy(Y)
            )
            tloss.backward()
            topt.step()
            eopt.zero_grad()
            eloss = engine.nn.functional.cross_entropy(emodel(engine.tensor(X)), engine.tensor(Y))
            eloss.backward()
            eopt.step()
            assert eloss.item() == pytest.approx(tloss.item(), rel=1e-4, abs=1e-5)
        _assert_params_close(list(emodel.parameters()), list(tmodel.parameters()))


def test_step_with_closure_returns_its_loss_with_grad_enabled():
    ep = _engine_params()
    opt = eoptim.SGD(ep, lr=0.1)
    seen = []

    def closure():
        seen.append(engine.is_grad_enabled())
        opt.zero_grad()
        return _set_engine_grads(ep)

    with engine.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert loss == pytest.approx(_torch_loss([torch.tensor(a) for a in INIT]).item())
    assert not np.array_equal(ep[0]._data, INIT[0])


def test_step_hooks_run_around_each_step_and_can_be_removed():
    ep = _engine_params()
    opt = eoptim.SGD(ep, lr=0.1)
    calls = []

    def pre(optimizer, args, kwargs):
        calls.append(("pre", optimizer is opt, float(ep[1]._data[0])))

    def post(optimizer, args, kwargs):
        calls.append(("post", optimizer is opt, float(ep[1]._data[0])))

    handles = [opt.register_step_pre_hook(pre), opt.register_step_post_hook(post)]
    _engine_step(opt, ep)
    assert [c[:2] for c in calls] == [("pre", True), ("post", True)]
    assert calls[0][2] != calls[1][2]  # the update happened between the two
    for handle in handles:
        handle.remove()
    _engine_step(opt, ep)
    assert len(calls) == 2
    opt.register_step_pre_hook(lambda o, a, k: ((), {"closure": lambda: 7.0}))
    assert opt.step() == 7.0  # a pre hook may replace the step's arguments
    opt.register_step_pre_hook(lambda o, a, k: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()

    class LoggingSGD(eoptim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    sub = LoggingSGD(ep, lr=0.1)
    seen = []
    sub.register_step_post_hook(lambda o, a, k: seen.append(1))
    _engine_step(sub, ep)
    assert seen == [1]  # once, though two step methods ran


def test_parameters_without_grad_are_skipped():
    ep = _engine_params()
    opt = eoptim.Adam(ep, lr=0.1)
    _set_engine_grads(ep)
    ep[1].grad = None
    opt.step()
    np.testing.assert_array_equal(ep[1]._data, INIT[1])
    assert not np.array_equal(ep[0]._data, INIT[0])
    assert len(opt.state_dict()["state"]) == 3


def test_zero_grad_to_none_or_to_zeros():
    ep = _engine_params()
    opt = eoptim.SGD(ep)
    _set_engine_grads(ep)
    grad = ep[0].grad
    opt.zero_grad(set_to_none=False)
    assert ep[0].grad is grad and not grad._data.any()
    opt.zero_grad()
    assert all(p.grad is None for p in ep)


def test_update_works_on_non_contiguous_parameter_views():
    base = np.ascontiguousarray(INIT[0].T)  # (5, 8) memory, parameter seen as (8, 5)
    p = engine.nn.Parameter(engine.tensor(INIT[0].copy()))
    p._data = base.T
    ref = torch.nn.Parameter(torch.tensor(INIT[0].copy()))
    eopt = eoptim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    topt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, weight_decay=0.01)
    g = RNG.standard_normal((8, 5)).astype(np.float32)
    for _ in range(3):
        p.grad = engine.tensor(g)
        ref.grad = torch.tensor(g)
        eopt.step()
        topt.step()
    assert p._data.base is base  # updated in place
    np.testing.assert_allclose(p._data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---- argument checks -----------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(eps=-1e-8)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, 1.0))),
    ("Adam", dict(betas=(-0.1, 0.999))),
    ("Adam", dict(betas=(0, 0.9))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1.0)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-1.0)),
    ("RMSprop", dict(weight_decay=-1.0)),
    ("RMSprop", dict(alpha=-1.0)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(weight_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)),
    ("Adamax", dict(lr=-1.0)),
    ("Adamax", dict(betas=(1.0, 0.9))),
    ("Adamax", dict(eps=-1.0)),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("NAdam", dict(momentum_decay=-1.0)),
    ("NAdam", dict(weight_decay=-1.0)),
    ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(weight_decay=-1.0)),
]


@pytest.mark.parametrize("name, kwargs", BAD_ARGUMENTS, ids=[f"{n}-{k}" for n, k in BAD_ARGUMENTS])
def test_bad_arguments_raise_pytorchs_errors(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)(_torch_params(), **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(eoptim, name)(_engine_params(), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_bad_parameter_lists():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        eoptim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        eoptim.SGD(_engine_params()[0], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        eoptim.SGD([{"params": set(_engine_params())}], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        eoptim.SGD([np.zeros(3)], lr=0.1)
    leaf = engine.nn.Parameter(engine.ones(3))
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        eoptim.SGD([leaf * 2], lr=0.1)
    p = _engine_params()
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        eoptim.SGD([{"params": p[:2]}, {"params": p[1:]}], lr=0.1)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        eoptim.Adam(p, differentiable=True)


# ---- state dicts and parameter groups -----------------------------------------------------

RESUME_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
    ("Adadelta", dict(lr=0.5)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01)),
]


@pytest.mark.parametrize("name, kwargs", RESUME_CASES, ids=[n for n, _ in RESUME_CASES])
def test_state_dict_through_a_file_continues_the_same_trajectory(name, kwargs, tmp_path):
    straight = _engine_params()
    opt = getattr(eoptim, name)(straight, **kwargs)
    for _ in range(12):
        _engine_step(opt, straight)

    first = _engine_params()
    opt1 = getattr(eoptim, name)(first, **kwargs)
    for _ in range(6):
        _engine_step(opt1, first)
    save(opt1.state_dict(), tmp_path / "opt.safetensors")
    save({f"p{i}": p for i, p in enumerate(first)}, tmp_path / "params.safetensors")

    saved = load(tmp_path / "params.safetensors")
    resumed = [engine.nn.Parameter(saved[f"p{i}"]) for i in range(len(first))]
    other_lr = {**kwargs, "lr": 123.0}  # the loaded groups must replace these
    opt2 = getattr(eoptim, name)(resumed, **other_lr)
    opt2.load_state_dict(load(tmp_path / "opt.safetensors"))
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    assert opt2.param_groups[0]["params"] == resumed
    for _ in range(6):
        _engine_step(opt2, resumed)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a._data, b._data)


def test_state_dict_layout_equals_pytorch_and_loads_from_pytorch():
    """A PyTorch optimizer's state dict, tensors converted, continues the run in the engine."""
    tp, ep = _torch_params(), _engine_params()
    topt = torch.optim.Adam(tp, lr=0.01)
    for _ in range(4):
        _torch_step(topt, tp)
    for e, t in zip(ep, tp):
        e._data[...] = t.detach().numpy()
    theirs = topt.state_dict()
    converted = {
        "state": {
            i: {k: engine.tensor(v.numpy().copy()) for k, v in s.items()}
            for i, s in theirs["state"].items()
        },
        "param_groups": theirs["param_groups"],
    }
    eopt = eoptim.Adam(ep, lr=0.5)
    eopt.load_state_dict(converted)
    for _ in range(5):
        _torch_step(topt, tp)
        _engine_step(eopt, ep)
    _assert_params_close(ep, tp)
    assert float(eopt.state_dict()["state"][0]["step"]) == 9.0


def test_load_state_dict_mismatches_are_named():
    p = _engine_params()
    opt = eoptim.Adam(p, lr=0.01)
    _engine_step(opt, p)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        eoptim.Adam([{"params": p[:2]}, {"params": p[2:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        eoptim.Adam(p[:3]).load_state_dict(sd)
    with pytest.raises(ValueError, match="lacks .*it was not saved from a SGD optimizer"):
        eoptim.SGD(p, lr=0.1).load_state_dict(sd)
    reshaped = [engine.nn.Parameter(engine.zeros(*reversed(a.shape))) for a in INIT]
    with pytest.raises(ValueError, match=r"parameter 0 has 'exp_avg' of shape \(8, 5\)"):
        eoptim.Adam(reshaped).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        eoptim.Adam(p).load_state_dict({"weights": 1})


def test_add_param_group_matches_pytorch():
    tp, ep = _torch_params(), _engine_params()
    topt = torch.optim.SGD(tp[:2], lr=0.05, momentum=0.9)
    eopt = eoptim.SGD(ep[:2], lr=0.05, momentum=0.9)
    for _ in range(3):
        _torch_step(topt, tp)
        _engine_step(eopt, ep)
    topt.add_param_group({"params": tp[2:], "lr": 0.2, "nesterov": True})
    eopt.add_param_group({"params": ep[2:], "lr": 0.2, "nesterov": True})
    assert eopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]
    for _ in range(8):
        _torch_step(topt, tp)
        _engine_step(eopt, ep)
    _assert_params_close(ep, tp)
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        eopt.add_param_group({"params": [ep[0]]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        eopt.add_param_group([ep[0]])


def test_named_parameters_are_kept_as_param_names():
    ep = _engine_params()
    opt = eoptim.SGD([("w1", ep[0]), ("b1", ep[1])], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w1", "b1"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w1", "b1"]


# ---- learning-rate schedulers ---------------------------------------------------------------

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=8)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch / (1 + epoch % 4))),
]


def _two_group_optimizers():
    tp, ep = _torch_params(), _engine_params()
    topt = torch.optim.SGD([{"params": tp[:2]}, {"params": tp[2:], "lr": 0.01}], lr=0.1)
    eopt = eoptim.SGD([{"params": ep[:2]}, {"params": ep[2:], "lr": 0.01}], lr=0.1)
    return topt, eopt


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_scheduler_lr_sequence_equals_pytorch(name, kwargs, tmp_path):
    topt, eopt = _two_group_optimizers()
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    esched_ = getattr(esched, name)(eopt, **kwargs)
    assert esched_.get_last_lr() == tsched.get_last_lr()
    for epoch in range(30):
        topt.step()
        eopt.step()
        tsched.step()
        esched_.step()
        assert esched_.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12), epoch
        assert [g["lr"] for g in eopt.param_groups] == esched_.get_last_lr()
    assert esched_.state_dict().keys() == tsched.state_dict().keys()

    # Resume a copy from the saved state dict; it continues the same sequence.
    save(esched_.state_dict(), tmp_path / "sched.safetensors")
    save(eopt.state_dict(), tmp_path / "opt.safetensors")
    _, eopt2 = _two_group_optimizers()
    # PyTorch's order: make the scheduler, then load the optimizer (its lrs), then the scheduler.
    resumed = getattr(esched, name)(eopt2, **kwargs)
    eopt2.load_state_dict(load(tmp_path / "opt.safetensors"))
    resumed.load_state_dict(load(tmp_path / "sched.safetensors"))
    for _ in range(10):
        eopt2.step()
        topt.step()
        resumed.step()
        tsched.step()
        assert resumed.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


def test_scheduler_step_with_epoch_uses_the_closed_form():
    for name, kwargs in SCHEDULES:
        topt, eopt = _two_group_optimizers()
        tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
        esched_ = getattr(esched, name)(eopt, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (4, 9, 2):
                topt.step()
                eopt.step()
                tsched.step(epoch)
                esched_.step(epoch)
                assert esched_.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


class _Warmup:
    """A callable object: LambdaLR's state dict keeps its attributes."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


def test_lambda_lr_per_group_lambdas_and_their_state():
    topt, eopt = _two_group_optimizers()
    lambdas = [_Warmup(4), lambda e: 0.5**e]
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, [_Warmup(4), lambdas[1]])
    ours = esched.LambdaLR(eopt, lambdas)
    for _ in range(6):
        topt.step()
        eopt.step()
        tsched.step()
        ours.step()
        assert ours.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    state = ours.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    assert state.keys() == tsched.state_dict().keys()
    _, eopt2 = _two_group_optimizers()
    other = esched.LambdaLR(eopt2, [_Warmup(9), lambdas[1]])
    other.load_state_dict(load_roundtrip(state))
    assert other.lr_lambdas[0].steps == 4 and other.last_epoch == 6
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        esched.LambdaLR(eopt, [lambdas[1]])
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        esched.LinearLR(eopt, start_factor=0)


def load_roundtrip(obj):
    import io

    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf)


ONE_CYCLE = [
    ("SGD", dict(max_lr=0.5, total_steps=40)),
    (
        "SGD",
        dict(
            max_lr=[0.5, 0.1],
            epochs=4,
            steps_per_epoch=9,
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.25,
        ),
    ),
    ("Adam", dict(max_lr=0.01, total_steps=30, base_momentum=0.8, max_momentum=0.9)),
    ("SGD", dict(max_lr=0.5, total_steps=20, cycle_momentum=False)),
]


@pytest.mark.parametrize("opt_name, kwargs", ONE_CYCLE, ids=[str(k) for _, k in ONE_CYCLE])
def test_one_cycle_lr_and_momentum_equal_pytorch(opt_name, kwargs):
    tp, ep = _torch_params(), _engine_params()
    topt = getattr(torch.optim, opt_name)([{"params": tp[:2]}, {"params": tp[2:]}], lr=0.1)
    eopt = getattr(eoptim, opt_name)([{"params": ep[:2]}, {"params": ep[2:]}], lr=0.1)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs)
    ours = esched.OneCycleLR(eopt, **kwargs)
    total = ours.total_steps
    for _ in range(total - 1):
        _torch_step(topt, tp)
        _engine_step(eopt, ep)
        tsched.step()
        ours.step()
        assert ours.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        for g, tg in zip(eopt.param_groups, topt.param_groups):
            key = "betas" if opt_name == "Adam" else "momentum"
            assert g[key] == pytest.approx(tg[key], rel=1e-12)
    _assert_params_close(ep, tp)
    with pytest.raises(ValueError, match="Tried to step"):
        ours.step()
        ours.step()
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        esched.OneCycleLR(eopt, max_lr=0.1)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        esched.OneCycleLR(eoptim.Adagrad(ep), max_lr=0.1, total_steps=5)


def test_scheduler_stepped_before_optimizer_warns():
    _, eopt = _two_group_optimizers()
    sched = esched.StepLR(eopt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_scheduler_resume_needs_initial_lr():
    _, eopt = _two_group_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        esched.StepLR(eopt, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        esched.StepLR(object(), step_size=2)


PLATEAUS = [
    dict(),
    dict(mode="min", factor=0.5, patience=1, cooldown=2, min_lr=0.004),
    dict(mode="max", factor=0.2, patience=0, threshold=0.05, threshold_mode="abs"),
    dict(mode="max", patience=2, threshold=0.01, min_lr=[0.05, 0.0], eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_lr_on_plateau_equals_pytorch(kwargs, tmp_path):
    rng = np.random.default_rng(7)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 6), 0.5 + 0.01 * rng.standard_normal(60)])
    topt, eopt = _two_group_optimizers()
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    ours = esched.ReduceLROnPlateau(eopt, **kwargs)
    for i, m in enumerate(metrics):
        tsched.step(torch.tensor(np.float32(m)))  # a 0-d float32 tensor, as a loss is
        ours.step(engine.tensor(np.float32(m)))
        assert ours.get_last_lr() == tsched.get_last_lr(), i
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == (
            tsched.num_bad_epochs,
            tsched.cooldown_counter,
            tsched.best,
        )
    assert ours.get_last_lr() != [0.1, 0.01]  # the plateau did cut the lr
    save(ours.state_dict(), tmp_path / "plateau.safetensors")
    _, eopt2 = _two_group_optimizers()
    resumed = esched.ReduceLROnPlateau(eopt2, **kwargs)
    resumed.load_state_dict(load(tmp_path / "plateau.safetensors"))
    assert resumed.state_dict() == ours.state_dict()


def test_reduce_lr_on_plateau_argument_errors():
    _, eopt = _two_group_optimizers()
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        esched.ReduceLROnPlateau(eopt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        esched.ReduceLROnPlateau(eopt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown!"):
        esched.ReduceLROnPlateau(eopt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        esched.ReduceLROnPlateau(eopt, min_lr=[0.1])


# ---- a LeNet learns ----------------------------------------------------------------------


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class _LeNet(engine.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = engine.nn.Conv2d(1, 6, 5)
        self.conv2 = engine.nn.Conv2d(6, 16, 5)
        self.fc1 = engine.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = engine.nn.Linear(120, 84)
        self.fc3 = engine.nn.Linear(84, 10)

    def forward(self, x):
        F = engine.nn.functional
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = engine.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def test_lenet_learns_mnist(mnist_dir):
    images = _read_idx(mnist_dir / "train-images-idx3-ubyte.gz")[:4800]
    labels = _read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")[:4800].astype(np.int64)
    x = np.zeros((len(images), 1, 32, 32), np.float32)
    x[:, 0, 2:30, 2:30] = (images / 255.0 - 0.1307) / 0.3081
    data = TensorDataset(engine.tensor(x), engine.tensor(labels))
    loader = DataLoader(
        data, batch_size=16, shuffle=True, generator=engine.Generator().manual_seed(0)
    )
    engine.manual_seed(0)
    model = _LeNet()
    opt = eoptim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for xb, yb in loader:
        opt.zero_grad()
        loss = engine.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert len(losses) == 300
    assert all(math.isfinite(v) for v in losses)
    first, last = np.mean(losses[:20]), np.mean(losses[-50:])
    assert first > 2.0  # chance level is ln(10) = 2.30
    assert last < 0.6, (first, last)  # about 0.3 after 300 steps of 16
