"""One helper runs an op or layer in engine and in PyTorch with the same inputs and weights, and
compares forward values, input gradients and parameter gradients (after early tinygrad's
test_ops). Outside CI a missing torch skips; in CI (env CI set) it fails."""

import os
import types

import numpy as np
import pytest

import engine
import engine.nn
import engine.nn.functional


def import_torch():
    if os.environ.get("CI"):
        import torch  # noqa: PLC0415 - a missing torch must fail in CI

        return torch
    return pytest.importorskip("torch")


torch = import_torch()
ENGINE = types.SimpleNamespace(torch=engine, nn=engine.nn, F=engine.nn.functional, name="engine")
TORCH = types.SimpleNamespace(torch=torch, nn=torch.nn, F=torch.nn.functional, name="torch")


def to_numpy(x):
    if isinstance(x, engine.Tensor):
        return x.detach().numpy()
    return x.detach().numpy()


def assert_close(a, b, rtol, atol, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} (engine) != {b.shape} (torch)"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out if o is not None]
    return [out]


def check_op(
    fn,
    shapes=None,
    values=None,
    *,
    rtol=1e-4,
    atol=1e-5,
    grad=True,
    low=-2.0,
    high=2.0,
    seed=0,
    dtype=np.float32,
    no_grad_inputs=(),
    forward_only_outputs=(),
):
    """Run ``fn(lib, *inputs)`` with lib = engine's and torch's namespaces (``lib.torch``,
    ``lib.nn``, ``lib.F``); compare outputs and the gradients of every float input.
    ``values`` gives input arrays directly; ``shapes`` draws uniform(low, high) floats."""
    rng = np.random.default_rng(seed)
    if values is None:
        values = [rng.uniform(low, high, s).astype(dtype) for s in shapes]
    values = [np.asarray(v) for v in values]
    wants = [grad and v.dtype.kind == "f" and i not in no_grad_inputs for i, v in enumerate(values)]
    e_in = [engine.tensor(v, requires_grad=w) for v, w in zip(values, wants)]
    t_in = [torch.tensor(v, requires_grad=w) for v, w in zip(values, wants)]
    e_out, t_out = _outputs(fn(ENGINE, *e_in)), _outputs(fn(TORCH, *t_in))
    assert len(e_out) == len(t_out)
    for i, (eo, to) in enumerate(zip(e_out, t_out)):
        assert_close(to_numpy(eo), to_numpy(to), rtol, atol, f"forward output {i}")
        assert str(eo.dtype).split(".")[-1] == str(to.dtype).split(".")[-1], (
            f"output {i} dtype {eo.dtype} != {to.dtype}"
        )
    if not any(wants):
        return e_out, t_out
    seeds_e, seeds_t, outs_e, outs_t = [], [], [], []
    for i, (eo, to) in enumerate(zip(e_out, t_out)):
        if i in forward_only_outputs or not to.requires_grad:
            continue
        g = rng.standard_normal(tuple(to.shape)).astype(
            np.float32 if dtype == np.float32 else dtype
        )
        outs_e.append(eo)
        outs_t.append(to)
        seeds_e.append(engine.tensor(g))
        seeds_t.append(torch.tensor(g))
    engine.autograd.backward(outs_e, seeds_e)
    torch.autograd.backward(outs_t, seeds_t)
    for i, (et, tt, w) in enumerate(zip(e_in, t_in, wants)):
        if not w:
            continue
        if tt.grad is None:
            assert et.grad is None or not np.any(et.grad.numpy()), (
                f"input {i}: grad where torch has none"
            )
            continue
        assert et.grad is not None, f"input {i}: no gradient (torch has one)"
        assert_close(et.grad.numpy(), tt.grad.numpy(), rtol, atol, f"gradient of input {i}")
        assert et.grad.dtype is et.dtype, f"input {i}: grad dtype {et.grad.dtype} != {et.dtype}"
    return e_out, t_out


def check_module(
    make,
    shapes=None,
    values=None,
    *,
    rtol=1e-4,
    atol=1e-5,
    seed=0,
    train=True,
    input_grad=True,
    target=None,
    low=-2.0,
    high=2.0,
    check_repr=True,
):
    """Build ``make(lib.nn)`` in both libraries, copy engine's initial weights into torch's,
    run both on the same inputs and compare output, input and parameter gradients and repr."""
    e_mod, t_mod = make(engine.nn), make(torch.nn)
    if check_repr:
        assert repr(e_mod) == repr(t_mod)
    sd = {k: torch.tensor(v.numpy()) for k, v in e_mod.state_dict().items()}
    t_mod.load_state_dict(sd)
    e_mod.train(train)
    t_mod.train(train)
    rng = np.random.default_rng(seed)
    if values is None:
        values = [rng.uniform(low, high, s).astype(np.float32) for s in shapes]
    e_in = [
        engine.tensor(v, requires_grad=input_grad and np.asarray(v).dtype.kind == "f")
        for v in values
    ]
    t_in = [
        torch.tensor(v, requires_grad=input_grad and np.asarray(v).dtype.kind == "f")
        for v in values
    ]
    e_out, t_out = e_mod(*e_in), t_mod(*t_in)
    assert_close(to_numpy(e_out), to_numpy(t_out), rtol, atol, "forward")
    assert e_out.dtype.name == str(t_out.dtype).split(".")[-1], f"output dtype {e_out.dtype}"
    if t_out.requires_grad:
        g = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
        e_out.backward(engine.tensor(g))
        t_out.backward(torch.tensor(g))
        for i, (et, tt) in enumerate(zip(e_in, t_in)):
            if tt.grad is not None:
                assert_close(et.grad.numpy(), tt.grad.numpy(), rtol, atol, f"input grad {i}")
        t_params = dict(t_mod.named_parameters())
        for name, p in e_mod.named_parameters():
            tp = t_params[name]
            if tp.grad is None:
                assert p.grad is None, f"{name}: engine has a grad, torch none"
                continue
            assert_close(p.grad.numpy(), tp.grad.numpy(), rtol, atol, f"grad of {name}")
            assert p.grad.dtype is p.dtype, f"{name}: grad dtype {p.grad.dtype} != {p.dtype}"
    t_state = t_mod.state_dict()
    for name, b in e_mod.named_buffers():
        assert_close(b.numpy(), t_state[name].numpy(), rtol, atol, f"buffer {name}")
    return e_mod, t_mod, e_out, t_out
