"""Stochastic gradient descent, with PyTorch's momentum, dampening and Nesterov rules."""

from __future__ import annotations

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _effective_grad,
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
        scratch = self._scratch
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            weight_decay = group["weight_decay"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            adjust_grad = weight_decay != 0 or maximize  # skips the call in the common case
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                grad = p.grad._data
                # `g` is the effective gradient; it may live in scratch slot 0 or 1 (free to
                # overwrite) or be the caller's grad / the momentum buffer (read only).
                if adjust_grad:
                    g = _effective_grad(param, grad, weight_decay, maximize, scratch)
                    owned = True
                else:
                    g = grad
                    owned = False

                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = Tensor._wrap(np.array(g, copy=True))
                        state["momentum_buffer"] = buf
                        b = buf._data
                    else:
                        b = buf._data
                        np.multiply(b, momentum, out=b)
                        if dampening == 0:
                            np.add(b, g, out=b)
                        else:
                            t = scratch.get(1, param)
                            np.multiply(g, 1 - dampening, out=t)
                            np.add(b, t, out=b)
                    if nesterov:
                        t = scratch.get(1, param)
                        np.multiply(b, momentum, out=t)
                        np.add(g, t, out=t)
                        g = t
                        owned = True
                    else:
                        g = b
                        owned = False

                update = g if owned else scratch.get(0, param)
                np.multiply(g, lr, out=update)
                np.subtract(param, update, out=param)
        return loss
