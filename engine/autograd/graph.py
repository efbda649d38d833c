"""The autograd graph: nodes named as PyTorch names them, and an iterative backward pass.

A node holds ``next_functions`` (one ``(node or None, output_nr)`` pair per input, as PyTorch)
and a ``_backward`` callable: numpy gradient(s) of its output(s) in, one numpy gradient (or None)
per input out. Gradients travel as numpy arrays; only leaves get Tensor ``.grad``s.
"""

import re

import numpy as np

_node_types = {}


class Node:
    __slots__ = (
        "next_functions",
        "_backward",
        "_pre_hooks",
        "_hooks",
        "_saved_versions",
        "__weakref__",
    )
    num_outputs = 1

    def __init__(self, backward=None, next_functions=()):
        self._backward = backward
        self.next_functions = next_functions
        self._pre_hooks = None
        self._hooks = None
        self._saved_versions = None  # (version counter, version then, shape, dtype, producer, nr)

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def apply(self, grad):
        return self._backward(grad)

    def register_hook(self, hook):
        """hook(grad_inputs, grad_outputs) after this node ran (Tensors, as in PyTorch)."""
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def register_prehook(self, hook):
        """hook(grad_outputs) -> None or replacement grad_outputs (Tensors)."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(hook)
        return _RemovableHandle(self._pre_hooks, hook)

    @property
    def metadata(self):
        return {}


class _RemovableHandle:
    __slots__ = ("_list", "_item")

    def __init__(self, lst, item):
        self._list = lst
        self._item = item

    def remove(self):
        try:
            self._list.remove(self._item)
        except ValueError:
            pass


def node_type(name):
    """The Node subclass called ``name`` (created once): ``type(t.grad_fn).__name__`` reads
    as PyTorch's, e.g. ``AddmmBackward0``."""
    cls = _node_types.get(name)
    if cls is None:
        cls = type(name, (Node,), {"__slots__": ()})
        _node_types[name] = cls
    return cls


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the arriving gradient into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        Node.__init__(self, None, ())
        self.variable = variable

    def apply(self, grad):
        var = self.variable
        if var._hooks:
            grad = _run_tensor_hooks(var._hooks, grad)
        vd = var._data
        if grad.shape != vd.shape:
            grad = np.broadcast_to(grad, vd.shape)
        old = var.grad
        if old is None:
            # A copy in the variable's own layout: the arriving array may be shared with
            # another input's gradient (e.g. both sides of an add) or be a transposed view.
            new = np.empty_like(vd)
            np.copyto(new, grad, casting="unsafe")
            from engine.tensor import Tensor

            var.grad = Tensor._wrap(new)
        else:
            np.add(old._data, grad, out=old._data, casting="unsafe")
        return ()


def _run_tensor_hooks(hooks, grad):
    from engine.tensor import Tensor

    for hook in list(hooks):
        r = hook(Tensor._wrap(grad))
        if r is not None:
            grad = r._data
    return grad


def _node_hooks_pre(node, grads):
    from engine.tensor import Tensor

    single = not isinstance(grads, tuple)
    gs = (grads,) if single else grads
    # retain_grad() hooks run after every other hook, as in PyTorch 2.x
    hooks = sorted(node._pre_hooks, key=lambda h: getattr(h, "_retains_grad", False))
    for hook in hooks:
        r = hook(tuple(None if g is None else Tensor._wrap(g) for g in gs))
        if r is not None:
            gs = tuple(None if g is None else g._data for g in r)
    return gs[0] if single else gs


def _node_hooks_post(node, grad_inputs, grads):
    from engine.tensor import Tensor

    gs = grads if isinstance(grads, tuple) else (grads,)
    w = lambda seq: tuple(None if g is None else Tensor._wrap(g) for g in seq)  # noqa: E731
    out = tuple(grad_inputs)
    for hook in list(node._hooks):
        r = hook(w(out), w(gs))
        if r is not None:
            out = tuple(None if g is None else g._data for g in r)
    return out


def run_backward(roots, grads, retain_graph=False, capture=None):
    """Walk the graph from ``roots`` (nodes) seeded with ``grads`` (numpy arrays), without
    recursion: count each node's consumers, then run a node once all of them have reported.
    With ``capture`` (a dict keyed by node), gradients arriving at those nodes are stored there
    and no leaf's ``.grad`` changes (``autograd.grad``)."""
    root_nodes = [n for n, _ in roots]
    deps = {}
    stack = list(dict.fromkeys(root_nodes))
    seen = set(map(id, stack))
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)

    buffers = {}
    for (node, nr), g in zip(roots, grads):
        _accumulate(buffers, node, nr, g)
    ready = [n for n in dict.fromkeys(root_nodes) if deps.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        buf = buffers.pop(node, None)
        if buf is not None and node._backward is None and not isinstance(node, AccumulateGrad):
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time."
            )
        if capture is not None:
            if node in capture:
                capture[node] = buf
            if isinstance(node, AccumulateGrad):
                buf = None
        if buf is not None:
            g = buf[0] if node.num_outputs == 1 else _materialize(node, buf)
            if node._pre_hooks:
                g = _node_hooks_pre(node, g)
            if node._saved_versions is not None:
                _check_saved(node)
            in_grads = node.apply(g)
            if node._hooks:
                in_grads = _node_hooks_post(node, in_grads, g)
            if not retain_graph and not isinstance(node, AccumulateGrad):
                node._backward = None
        else:
            in_grads = ()
        nf = node.next_functions
        for i in range(len(nf)):
            nxt, nr = nf[i]
            if nxt is None:
                continue
            if i < len(in_grads):
                ig = in_grads[i]
                if ig is not None:
                    _accumulate(buffers, nxt, nr, ig)
            d = deps[nxt] - 1
            deps[nxt] = d
            if d == 0:
                ready.append(nxt)


_LEGACY_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


_BACKWARD_SUFFIX = re.compile(r"Backward\d+$")


def _check_saved(node):
    """PyTorch's refusal to differentiate through a tensor changed in place after an op saved
    it (the gradient would silently use the new values)."""
    for vc, version, shape, dt, producer, nr in node._saved_versions:
        if vc[0] == version:
            continue
        name = _LEGACY_NAMES.get(dt.name, dt.name)
        made_by = ""
        if producer is not None:
            made_by = f", which is output {nr} of {_BACKWARD_SUFFIX.sub('', producer)},"
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [engine.{name}Tensor [{', '.join(map(str, shape))}]]{made_by} "
            f"is at version {vc[0]}; expected version {version} instead. Hint: {node.name()} "
            "saved it for backward; clone() it before changing it in place, or use the "
            "out-of-place operation."
        )


def _accumulate(buffers, node, nr, g):
    buf = buffers.get(node)
    if buf is None:
        buf = [None] * node.num_outputs
        buffers[node] = buf
        buf[nr] = g
    elif buf[nr] is None:
        buf[nr] = g
    else:
        # never in place: g may be shared with another edge
        buf[nr] = buf[nr] + g


def _materialize(node, buf):
    shapes = node._output_meta
    return tuple(
        np.zeros(shape, dtype=dt) if g is None else g for g, (shape, dt) in zip(buf, shapes)
    )
