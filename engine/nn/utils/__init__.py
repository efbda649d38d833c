"""engine.nn.utils: gradient clipping and parameter/vector conversion, as torch.nn.utils."""

import math

import numpy as np

from engine.tensor import Tensor, _wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _params(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so their joint norm is at most max_norm; returns the norm
    before clipping (a 0-d tensor), as PyTorch."""
    grads = [p.grad._data for p in _params(parameters) if p.grad is not None]
    if not grads:
        return _wrap(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = float(
            sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
            ** (1.0 / norm_type)
        )
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1:
        for g in grads:
            np.multiply(g, coef, out=g, casting="unsafe")
    return _wrap(np.array(total, dtype=np.float32))


def clip_grad_value_(parameters, clip_value, foreach=None):
    for p in _params(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters):
    return _wrap(np.concatenate([p._data.reshape(-1) for p in parameters]))


def vector_to_parameters(vec, parameters):
    offset = 0
    for p in parameters:
        n = p._data.size
        p._data[...] = vec._data[offset : offset + n].reshape(p._data.shape)
        offset += n
