"""Stochastic gradient descent, with PyTorch's momentum, dampening and Nesterov rules."""

from __future__ import annotations

import functools

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _effective_grad,
    _in_pieces,
)
from engine.tensor import Tensor


class SGD(Optimizer):
    """torch.optim.SGD: ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first
    step), ``g = g + momentum * b`` (Nesterov) or ``g = b``, then ``p -= lr * g``."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_non_negative(
            {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}, nan_allowed=True
        )
        _check_implementation_flags(differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            update = functools.partial(
                _update,
                lr=group["lr"],
                momentum=momentum,
                dampening=group["dampening"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
            )
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = None
                first = False
                if momentum != 0:
                    state = self.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = Tensor._wrap(np.empty_like(p._data))
                        first = True
                    buf = state["momentum_buffer"]._data
                _in_pieces(
                    functools.partial(update, first=first),
                    self._scratch,
                    p._data,
                    p.grad._data,
                    buf,
                )
        return loss


def _update(scratch, param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov,
            maximize, first):  # fmt: skip
    """One parameter's update, in place (or one piece of it: see _in_pieces)."""
    # `g` is the effective gradient; it may live in scratch slot 0 or 1 (free to overwrite) or
    # be the caller's grad / the momentum buffer (read only).
    if weight_decay != 0 or maximize:  # skips the call in the common case
        g = _effective_grad(param, grad, weight_decay, maximize, scratch)
        owned = True
    else:
        g = grad
        owned = False
    if momentum != 0:
        if first:
            np.copyto(buf, g)  # the first step's buffer is the gradient itself
        else:
            np.multiply(buf, momentum, out=buf)
            if dampening == 0:
                np.add(buf, g, out=buf)
            else:
                t = scratch.get(1, param)
                np.multiply(g, 1 - dampening, out=t)
                np.add(buf, t, out=buf)
        if nesterov:
            t = scratch.get(1, param)
            np.multiply(buf, momentum, out=t)
            np.add(g, t, out=t)
            g = t
            owned = True
        else:
            g = buf
            owned = False
    update = g if owned else scratch.get(0, param)
    np.multiply(g, lr, out=update)
    np.subtract(param, update, out=param)
