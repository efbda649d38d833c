"""``engine.autograd.Function``: user-defined ops with PyTorch's API (static forward/backward
taking a ctx). The ctx is the graph node itself, as in PyTorch."""

import inspect

import numpy as np

from engine.autograd.grad_mode import _state, no_grad
from engine.autograd.graph import Node


class FunctionCtx:
    def save_for_backward(self, *tensors):
        from engine.tensor import Tensor, _version_entry

        self._saved = tensors
        if isinstance(self, Node):
            self._saved_versions = tuple(
                _version_entry(t) for t in tensors if isinstance(t, Tensor)
            )

    @property
    def saved_tensors(self):
        saved = getattr(self, "_saved", ())
        if saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed)."
            )
        return saved

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """A user Function's node; its class is named ``<Function>Backward`` as in PyTorch."""

    _function = None
    materialize_grads = True

    def __init__(self):
        Node.__init__(self, self._run_backward, ())

    def _run_backward(self, grads):
        from engine.tensor import Tensor

        single = self.num_outputs == 1
        gs = (grads,) if single else grads
        targs = tuple(None if g is None else Tensor._wrap(g) for g in gs)
        with no_grad():
            res = type(self)._function.backward(self, *targs)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(self._input_is_tensor)
        if len(res) < n_in:
            raise RuntimeError(
                f"function {type(self).__name__} returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(res)})"
            )
        out = []
        for is_tensor, shape, r in zip(self._input_is_tensor, self._input_shapes, res):
            if not is_tensor:
                continue
            if r is None:
                out.append(None)
                continue
            arr = r._data if isinstance(r, Tensor) else np.asarray(r)
            if arr.shape != shape:
                try:
                    arr = np.broadcast_to(arr, shape) if arr.size == 1 else arr.reshape(shape)
                except ValueError:
                    raise RuntimeError(
                        f"Function {type(self).__name__} returned an invalid gradient - got "
                        f"[{', '.join(map(str, arr.shape))}] but expected shape compatible with "
                        f"[{', '.join(map(str, shape))}]"
                    ) from None
            out.append(arr)
        return tuple(out)


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``;
    call ``MyFunction.apply(*args)``."""

    _node_cls = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._node_cls = type(cls.__name__ + "Backward", (BackwardCFunction,), {"_function": cls})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define a static backward(ctx, ...)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override it (PyTorch 2.x style) to get a ``forward(*args)`` without ctx: it is then
        called with the inputs and forward's output to fill the ctx."""
        raise NotImplementedError("setup_context is not overridden")

    @classmethod
    def apply(cls, *args, **kwargs):
        from engine.tensor import Tensor, _edge

        if cls._node_cls is None:
            raise RuntimeError("apply() is called on a subclass of Function, not Function itself")
        new_style = cls.setup_context is not Function.setup_context
        if new_style:  # setup_context sees every forward argument, defaults filled in (as torch)
            sig = cls.__dict__.get("_forward_signature")
            if sig is None:
                sig = inspect.signature(cls.forward)
                cls._forward_signature = sig
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        ctx = cls._node_cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx._input_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        ctx._input_shapes = tuple(a._data.shape if isinstance(a, Tensor) else None for a in args)
        with no_grad():
            if not new_style:
                outputs = cls.forward(ctx, *args, **kwargs)
            else:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
        track = _state.enabled and any(ctx.needs_input_grad)
        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        if not track:
            return outputs
        ctx.next_functions = tuple(_edge(a) for a in args if isinstance(a, Tensor))
        ctx.num_outputs = len(outs)
        ctx._output_meta = tuple(
            (o._data.shape, o._data.dtype) if isinstance(o, Tensor) else ((), np.float32)
            for o in outs
        )
        non_diff = getattr(ctx, "_non_diff", set())
        wrapped = []
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._data.dtype.kind == "f":
                t = Tensor._wrap(o._data, True)
                t.grad_fn = ctx
                t._output_nr = i
                wrapped.append(t)
            else:
                wrapped.append(o)
        return tuple(wrapped) if is_tuple else wrapped[0]


def once_differentiable(fn):
    """PyTorch's decorator for backward methods; engine never builds higher-order graphs, so
    every backward is already once-differentiable."""
    return fn
