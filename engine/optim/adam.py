"""Adam (and, with decoupled weight decay, AdamW) with PyTorch's update rule."""

from __future__ import annotations

import functools

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _effective_grad,
    _in_pieces,
    _lerp_,
    _scalar_step,
)
from engine.tensor import Tensor


def _as_float(value):
    return float(value.item()) if isinstance(value, Tensor) else value


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected first and second moments, optional AMSGrad."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_non_negative({"lr": lr, "eps": eps})
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        _check_non_negative({"weight_decay": weight_decay})
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": tuple(_as_float(b) for b in betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            update = functools.partial(
                _update,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                coupled_decay=0 if decoupled else weight_decay,
                decoupled_decay=weight_decay if decoupled else 0,
                maximize=maximize,
            )
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                grad = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["exp_avg"] = Tensor._wrap(np.zeros_like(param))
                    state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(param))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(param))
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                _in_pieces(
                    functools.partial(update, step=float(step_t)),
                    self._scratch,
                    param,
                    grad,
                    state["exp_avg"]._data,
                    state["exp_avg_sq"]._data,
                    state["max_exp_avg_sq"]._data if amsgrad else None,
                )
        return loss


def _update(scratch, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
            coupled_decay, decoupled_decay, maximize, step):  # fmt: skip
    """One parameter's update, in place (or one piece of it: see _in_pieces)."""
    g = grad
    if coupled_decay != 0 or maximize:  # skips the call in the common case
        g = _effective_grad(param, grad, coupled_decay, maximize, scratch)
    if decoupled_decay:
        np.multiply(param, 1 - lr * decoupled_decay, out=param)

    tmp = scratch.get(1, param)
    _lerp_(exp_avg, g, 1 - beta1, tmp)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    np.multiply(g, 1 - beta2, out=tmp)
    np.multiply(tmp, g, out=tmp)
    np.add(exp_avg_sq, tmp, out=exp_avg_sq)

    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5

    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        second = max_exp_avg_sq
        np.maximum(second, exp_avg_sq, out=second)
    denom = scratch.get(0, param)  # the gradient is no longer needed
    np.sqrt(second, out=denom)
    np.divide(denom, bias_correction2_sqrt, out=denom)
    np.add(denom, eps, out=denom)
    np.multiply(exp_avg, step_size, out=tmp)
    np.divide(tmp, denom, out=tmp)
    np.subtract(param, tmp, out=param)
