"""Adagrad with PyTorch's update rule and learning-rate decay."""

from __future__ import annotations

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _effective_grad,
    _scalar_step,
)
from engine.tensor import Tensor


class Adagrad(Optimizer):
    """torch.optim.Adagrad: ``s += g^2``; ``p -= lr / (1 + (t - 1) * lr_decay) * g /
    (sqrt(s) + eps)``. Its state exists from construction, as in PyTorch."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_non_negative(
            {
                "lr": lr,
                "lr_decay": lr_decay,
                "weight_decay": weight_decay,
                "initial_accumulator_value": initial_accumulator_value,
                "eps": eps,
            }
        )
        _check_implementation_flags(differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        # Groups given here get their state now; groups added later get it on their first step.
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p: Tensor) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _scalar_step()
            # PyTorch fills with the constructor's value even for groups added later.
            state["sum"] = Tensor._wrap(
                np.full_like(p._data, self.defaults["initial_accumulator_value"])
            )
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        scratch = self._scratch
        for group in self.param_groups:
            lr = group["lr"]
            lr_decay = group["lr_decay"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            maximize = group["maximize"]
            adjust_grad = weight_decay != 0 or maximize  # skips the call in the common case
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                grad = p.grad._data
                state = self._init_state(p)
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                step = float(step_t)
                state_sum = state["sum"]._data

                g = grad
                if adjust_grad:
                    g = _effective_grad(param, grad, weight_decay, maximize, scratch)

                clr = lr / (1 + (step - 1) * lr_decay)
                tmp = scratch.get(1, param)
                np.multiply(g, g, out=tmp)
                np.add(state_sum, tmp, out=state_sum)
                std = scratch.get(2, param)
                np.sqrt(state_sum, out=std)
                np.add(std, eps, out=std)
                np.multiply(g, clr, out=tmp)
                np.divide(tmp, std, out=tmp)
                np.subtract(param, tmp, out=param)
        return loss
