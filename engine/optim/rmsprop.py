"""RMSprop with PyTorch's update rule (optionally centered, with momentum)."""

from __future__ import annotations

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _effective_grad,
    _lerp_,
    _scalar_step,
)
from engine.tensor import Tensor


class RMSprop(Optimizer):
    """torch.optim.RMSprop: ``v = alpha * v + (1 - alpha) * g^2``; divide by ``sqrt(v) + eps``
    (``sqrt(v - mean(g)^2) + eps`` when centered)."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_non_negative(
            {
                "lr": lr,
                "eps": eps,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "alpha": alpha,
            }
        )
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        scratch = self._scratch
        for group in self.param_groups:
            lr = group["lr"]
            alpha = group["alpha"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            centered = group["centered"]
            maximize = group["maximize"]
            adjust_grad = weight_decay != 0 or maximize  # skips the call in the common case
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                grad = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["square_avg"] = Tensor._wrap(np.zeros_like(param))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._wrap(np.zeros_like(param))
                    if centered:
                        state["grad_avg"] = Tensor._wrap(np.zeros_like(param))
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                square_avg = state["square_avg"]._data

                g = grad
                if adjust_grad:
                    g = _effective_grad(param, grad, weight_decay, maximize, scratch)

                tmp = scratch.get(1, param)
                np.multiply(square_avg, alpha, out=square_avg)
                np.multiply(g, 1 - alpha, out=tmp)
                np.multiply(tmp, g, out=tmp)
                np.add(square_avg, tmp, out=square_avg)

                avg = scratch.get(2, param)
                if centered:
                    grad_avg = state["grad_avg"]._data
                    _lerp_(grad_avg, g, 1 - alpha, tmp)
                    np.multiply(grad_avg, grad_avg, out=avg)
                    np.subtract(square_avg, avg, out=avg)
                    np.sqrt(avg, out=avg)
                else:
                    np.sqrt(square_avg, out=avg)
                np.add(avg, eps, out=avg)

                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    np.multiply(buf, momentum, out=buf)
                    np.divide(g, avg, out=tmp)
                    np.add(buf, tmp, out=buf)
                    np.multiply(buf, lr, out=tmp)
                else:
                    np.multiply(g, lr, out=tmp)
                    np.divide(tmp, avg, out=tmp)
                np.subtract(param, tmp, out=param)
        return loss
