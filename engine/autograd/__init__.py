"""engine.autograd: the graph, backward, grad, Function, gradcheck and grad mode."""

import numpy as np

from engine.autograd.function import Function, FunctionCtx, once_differentiable
from engine.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from engine.autograd.gradcheck import GradcheckError, gradcheck
from engine.autograd.graph import AccumulateGrad, Node, run_backward

__all__ = [
    "AccumulateGrad",
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "Node",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "once_differentiable",
    "Variable",
]


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - the old PyTorch API
    """The pre-0.4 wrapper: today a Variable is just a Tensor."""
    if requires_grad:
        data.requires_grad_(True)
    return data


def _seed(t, g):
    from engine.tensor import Tensor

    if g is None:
        if t._data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones_like(t._data)
    arr = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t._data.dtype)
    if arr.shape != t._data.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of engine.Size("
            f"[{', '.join(map(str, arr.shape))}]) and output[0] has a shape of engine.Size("
            f"[{', '.join(map(str, t._data.shape))}])."
        )
    return arr


def _roots(tensors, grad_tensors):
    from engine.tensor import Tensor, _edge

    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,) * len(tensors) if grad_tensors is None else (grad_tensors,)
    nodes, grads = [], []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        node, nr = _edge(t)
        if nr != 0 or node.num_outputs != 1:
            seed = [None] * node.num_outputs
            seed[nr] = _seed(t, g)
            nodes.append(node)
            grads.append(seed)
        else:
            nodes.append(node)
            grads.append(_seed(t, g))
    return nodes, grads


def _run(nodes, grads, retain_graph, capture=None):
    # multi-output roots arrive as lists: seed each output separately
    flat_nodes, flat_grads = [], []
    for n, g in zip(nodes, grads):
        if isinstance(g, list):
            for nr, gi in enumerate(g):
                if gi is not None:
                    flat_nodes.append((n, nr))
                    flat_grads.append(gi)
        else:
            flat_nodes.append((n, 0))
            flat_grads.append(g)
    run_backward(flat_nodes, flat_grads, retain_graph, capture)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    if create_graph:
        raise RuntimeError(
            "engine does not support create_graph=True (higher-order gradients); "
            "compute first-order gradients only"
        )
    nodes, grads = _roots(tensors, grad_tensors)
    if inputs is not None:
        res = grad(tensors, inputs, grad_tensors, retain_graph=retain_graph, allow_unused=True)
        for t, g in zip(inputs, res):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    _run(nodes, grads, bool(retain_graph))


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone."""
    from engine.tensor import Tensor, _edge

    if create_graph:
        raise RuntimeError("engine does not support create_graph=True (higher-order gradients)")
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    nodes, grads = _roots(outputs, grad_outputs)
    edges = [_edge(t) for t in inputs]
    capture = {n: None for n, _ in edges if n is not None}
    _run(nodes, grads, bool(retain_graph), capture)
    result = []
    for i, (n, nr) in enumerate(edges):
        buf = capture.get(n) if n is not None else None
        g = None if buf is None else buf[nr]
        if g is None:
            if materialize_grads:
                g = np.zeros_like(inputs[i]._data)
            elif not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
        result.append(None if g is None else Tensor._wrap(np.array(g)))
    return tuple(result)
