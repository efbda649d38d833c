"""Adadelta, Adamax, NAdam and RAdam with PyTorch's update rules, defaults and argument
errors (its single-tensor formulas, in the same order of float32 operations)."""

from __future__ import annotations

import math

import numpy as np

from engine.optim.optimizer import (
    Optimizer,
    _check_implementation_flags,
    _check_non_negative,
    _lerp_,
    _scalar_step,
)
from engine.tensor import Tensor


def _check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def _grad(param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool):
    """The gradient an update uses: negated when maximizing, plus coupled L2 decay."""
    g = -grad if maximize else grad
    return g + weight_decay * param if weight_decay != 0 else g


def _zeros(param: np.ndarray) -> Tensor:
    return Tensor._wrap(np.zeros_like(param))


class Adadelta(Optimizer):
    """torch.optim.Adadelta: ``v = rho v + (1 - rho) g^2``; ``d = sqrt(u + eps) / sqrt(v +
    eps) * g``; ``u = rho u + (1 - rho) d^2``; ``p -= lr * d``."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_non_negative({"lr": lr})
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_non_negative({"eps": eps, "weight_decay": weight_decay})
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["square_avg"] = _zeros(param)
                    state["acc_delta"] = _zeros(param)
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                g = _grad(param, p.grad._data, group["weight_decay"], group["maximize"])
                square_avg = state["square_avg"]._data
                acc_delta = state["acc_delta"]._data
                np.multiply(square_avg, rho, out=square_avg)
                square_avg += (1 - rho) * (g * g)
                std = np.sqrt(square_avg + eps)
                delta = np.sqrt(acc_delta + eps)
                delta /= std
                delta *= g
                np.multiply(acc_delta, rho, out=acc_delta)
                acc_delta += (1 - rho) * (delta * delta)
                param += -lr * delta
        return loss


class Adamax(Optimizer):
    """torch.optim.Adamax: Adam with the infinity norm, ``u = max(beta2 u, |g| + eps)``."""

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_non_negative({"lr": lr, "eps": eps})
        _check_betas(betas)
        _check_non_negative({"weight_decay": weight_decay})
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps = group["lr"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["exp_avg"] = _zeros(param)
                    state["exp_inf"] = _zeros(param)
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                g = _grad(param, p.grad._data, group["weight_decay"], group["maximize"])
                exp_avg = state["exp_avg"]._data
                exp_inf = state["exp_inf"]._data
                _lerp_(exp_avg, g, 1 - beta1, np.empty_like(param))
                np.multiply(exp_inf, beta2, out=exp_inf)
                np.maximum(exp_inf, np.abs(g) + eps, out=exp_inf)
                clr = lr / (1 - beta1 ** float(step_t))
                param += -clr * (exp_avg / exp_inf)
        return loss


class NAdam(Optimizer):
    """torch.optim.NAdam: Adam with Nesterov momentum and a momentum schedule
    (``momentum_decay``); ``decoupled_weight_decay`` gives NAdamW."""

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_non_negative({"lr": lr, "eps": eps})
        _check_betas(betas)
        _check_non_negative({"weight_decay": weight_decay, "momentum_decay": momentum_decay})
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            momentum_decay = group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    # a float32 0-d tensor, as PyTorch keeps it
                    state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                    state["exp_avg"] = _zeros(param)
                    state["exp_avg_sq"] = _zeros(param)
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                step = float(step_t)
                bias_correction2 = 1 - beta2**step
                coupled = wd
                if wd != 0 and group["decoupled_weight_decay"]:
                    np.multiply(param, 1 - lr * wd, out=param)
                    coupled = 0
                g = _grad(param, p.grad._data, coupled, group["maximize"])
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product_t = state["mu_product"]._data
                np.multiply(mu_product_t, mu, out=mu_product_t)
                mu_product = float(mu_product_t)
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                _lerp_(exp_avg, g, 1 - beta1, np.empty_like(param))
                np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
                exp_avg_sq += (1 - beta2) * (g * g)
                denom = np.sqrt(exp_avg_sq / bias_correction2)
                denom += eps
                param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
                mu_product_next = mu_product * mu_next
                param += ((-lr * mu_next) / (1.0 - mu_product_next)) * (exp_avg / denom)
        return loss


class RAdam(Optimizer):
    """torch.optim.RAdam: Adam whose adaptive step is switched on, rectified, once the
    variance estimate is tractable (SMA length above 5); ``decoupled_weight_decay`` gives
    RAdamW."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_non_negative({"lr": lr, "eps": eps})
        _check_betas(betas)
        _check_non_negative({"weight_decay": weight_decay})
        _check_implementation_flags(differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                param = p._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["exp_avg"] = _zeros(param)
                    state["exp_avg_sq"] = _zeros(param)
                step_t = state["step"]._data
                np.add(step_t, 1, out=step_t)
                step = float(step_t)
                coupled = wd
                if wd != 0 and group["decoupled_weight_decay"]:
                    np.multiply(param, 1 - lr * wd, out=param)
                    coupled = 0
                g = _grad(param, p.grad._data, coupled, group["maximize"])
                exp_avg = state["exp_avg"]._data
                exp_avg_sq = state["exp_avg_sq"]._data
                _lerp_(exp_avg, g, 1 - beta1, np.empty_like(param))
                np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
                exp_avg_sq += (1 - beta2) * (g * g)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                corrected = exp_avg / bias_correction1
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
                if rho_t > 5.0:
                    rect = math.sqrt(
                        (rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                    )
                    adaptive = bias_correction2**0.5 / (np.sqrt(exp_avg_sq) + eps)
                    param -= corrected * lr * adaptive * rect
                else:
                    param -= corrected * lr
        return loss
