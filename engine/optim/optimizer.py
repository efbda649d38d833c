"""Optimizer base class: parameter groups, per-parameter state, state dicts (torch.optim's API).

Updates run with numpy directly on ``p._data`` and ``p.grad._data`` (docs/CONTRACTS.md, Tensor
internals), in place and with reused scratch buffers, because they run on every training step.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections import defaultdict
from itertools import chain

import numpy as np

from engine._kernels.parallel import parallel_slices
from engine.autograd.grad_mode import enable_grad
from engine.tensor import Tensor


class _RequiredParameter:
    """Singleton marking a hyperparameter every param group must give (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _Scratch:
    """Reusable flat buffers, so an update step allocates nothing once warm.

    Parameters are updated one after another, so one buffer per slot (sized for the largest
    parameter seen) serves all of them.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[int, np.dtype], np.ndarray] = {}
        self._lock = threading.Lock()  # pieces of one update ask from several threads

    def get(self, slot: int, like: np.ndarray) -> np.ndarray:
        key = (slot, like.dtype)
        with self._lock:
            buf = self._buffers.get(key)
            if buf is None or buf.size < like.size:
                buf = np.empty(like.size, dtype=like.dtype)
                self._buffers[key] = buf
        return buf[: like.size].reshape(like.shape)

    def __getstate__(self) -> dict:
        return {}  # buffers are scratch; a lock cannot be copied

    def __setstate__(self, state: dict) -> None:
        self.__init__()


class _ScratchPiece:
    """The part [start, stop) of each scratch buffer sized for a whole flat parameter."""

    def __init__(self, scratch: _Scratch, whole: np.ndarray, start: int, stop: int) -> None:
        self._scratch, self._whole, self._start, self._stop = scratch, whole, start, stop

    def get(self, slot: int, like: np.ndarray) -> np.ndarray:
        return self._scratch.get(slot, self._whole)[self._start : self._stop]


# parameters of at least this many elements are updated in one piece per kernel thread (a
# 3072x512 Linear weight: SGD with momentum 1.9 ms on one thread)
PARALLEL_ELEMENTS = 1 << 18


def _in_pieces(update, scratch: _Scratch, *arrays) -> None:
    """update(scratch, *arrays) for one parameter's element-wise update.

    arrays are the parameter, its gradient and its state (None where absent), all of one
    shape. A large parameter whose arrays are all C-contiguous is updated as one contiguous
    piece per kernel thread, each piece with its own part of the scratch buffers; element-wise
    arithmetic gives the same numbers either way.
    """
    whole = arrays[0]
    if whole.size < PARALLEL_ELEMENTS or not all(
        a is None or (a.shape == whole.shape and a.flags.c_contiguous) for a in arrays
    ):
        update(scratch, *arrays)
        return
    flat = whole.reshape(-1)
    flats = [None if a is None else a.reshape(-1) for a in arrays]

    def piece(s, e):
        update(
            _ScratchPiece(scratch, flat, s, e), *(None if a is None else a[s:e] for a in flats)
        )

    parallel_slices(piece, flat.size, min_slice=PARALLEL_ELEMENTS // 2)


def _scalar_step() -> Tensor:
    # PyTorch keeps `step` as a float32 0-d tensor on the CPU.
    return Tensor._wrap(np.zeros((), dtype=np.float32))


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """start <- start + weight * (end - start), with PyTorch's two-branch formula."""
    np.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        np.multiply(tmp, weight, out=tmp)
        np.add(start, tmp, out=start)
    else:
        np.multiply(tmp, 1.0 - weight, out=tmp)
        np.subtract(end, tmp, out=start)


def _effective_grad(
    param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool, scratch: _Scratch
) -> np.ndarray:
    """The gradient an update uses: negated when maximizing, plus ``weight_decay * param``
    (coupled L2 decay). It is ``grad`` itself when neither applies, else scratch slot 0."""
    if weight_decay != 0:
        g = scratch.get(0, param)
        np.multiply(param, weight_decay, out=g)
        if maximize:
            np.subtract(g, grad, out=g)
        else:
            np.add(grad, g, out=g)
        return g
    if maximize:
        g = scratch.get(0, param)
        np.negative(grad, out=g)
        return g
    return grad


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_non_negative(values: dict, nan_allowed: bool = False) -> None:
    """PyTorch's ``Invalid <hyperparameter>`` error for the first negative value.

    SGD tests ``value < 0`` as PyTorch's SGD does, which lets NaN through."""
    for name, value in values.items():
        if (value < 0.0) if nan_allowed else not (0.0 <= value):
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


def _check_implementation_flags(differentiable: bool, capturable: bool = False) -> None:
    # PyTorch's foreach/fused only pick a kernel (same numbers), so they are accepted as-is;
    # these two change what the update is, and engine updates run outside autograd.
    if differentiable:
        raise ValueError(
            "differentiable=True is not supported: engine optimizers update parameters "
            "outside autograd"
        )
    if capturable:
        raise ValueError("capturable=True is not supported: it is for CUDA graph capture")


class _HookHandle:
    """What ``register_step_*_hook`` returns: ``.remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _bump_versions(optimizer) -> None:
    """A step changed every parameter with a gradient in place: a graph that saved one of
    them can no longer be differentiated (PyTorch's version-counter check)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                p._bump_version()


def _run_step_hooks(step):
    """Wrap a subclass's ``step`` so registered pre/post hooks run around it."""

    @functools.wraps(step)
    def step_with_hooks(self, *args, **kwargs):
        # A subclass's step calling super().step() runs the hooks once, as in PyTorch.
        if self._in_hooked_step or not (self._step_pre_hooks or self._step_post_hooks):
            out = step(self, *args, **kwargs)
            _bump_versions(self)
            return out
        self._in_hooked_step = True
        try:
            for hook in tuple(self._step_pre_hooks):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"{hook} must return None or a tuple of (new_args, new_kwargs), "
                            f"but got {result}."
                        )
                    args, kwargs = result
            out = step(self, *args, **kwargs)
            _bump_versions(self)
            for hook in tuple(self._step_post_hooks):
                hook(self, args, kwargs)
            return out
        finally:
            self._in_hooked_step = False

    return step_with_hooks


class Optimizer:
    """Base class of all optimizers; subclasses implement ``step``."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _run_step_hooks(cls.__dict__["step"])

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        self._step_pre_hooks: list = []
        self._step_post_hooks: list = []
        self._in_hooked_step = False
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {_typename(params)}"
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch = _Scratch()

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_scratch" not in self.__dict__:
            self._scratch = _Scratch()
        self.__dict__.setdefault("_step_pre_hooks", [])
        self.__dict__.setdefault("_step_post_hooks", [])
        self._in_hooked_step = False

    def register_step_pre_hook(self, hook) -> _HookHandle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return new
        ``(args, kwargs)`` for the step."""
        self._step_pre_hooks.append(hook)
        return _HookHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> _HookHandle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        self._step_post_hooks.append(hook)
        return _HookHandle(self._step_post_hooks, hook)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to ``None`` (the default, as PyTorch) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad._data.fill(0)

    def step(self, closure=None):
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def _run_closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry (a list of Tensors)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. "
                    "Some param names are missing"
                )
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        if len({id(p) for p in tensors}) != len(tensors):
            raise ValueError(
                "optimizer contains a parameter group with duplicate parameters; "
                "list each parameter once"
            )
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- state dicts -------------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are replaced by their position across all groups, as in PyTorch; state
        tensors are the live ones (copy them, or save the dict, to keep a snapshot).
        """
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict) -> dict:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        packed_state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": packed_state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a dict from ``state_dict()`` (or ``engine.load``); the parameters stay ours."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                "optimizer state dict must be a dict with 'state' and 'param_groups' entries "
                "(the result of optimizer.state_dict())"
            )
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                "of optimizer's group"
            )
        for i, saved in enumerate(saved_groups):
            missing = sorted(k for k in self.defaults if k not in saved)
            if missing:
                raise ValueError(
                    f"loaded state dict's parameter group {i} lacks {', '.join(missing)}: "
                    f"it was not saved from a {type(self).__name__} optimizer"
                )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = self._cast_state(param, key, value)
            else:
                state[key] = value

        def update_group(group: dict, new_group: dict) -> dict:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    @staticmethod
    def _cast_state(param: Tensor, index, value):
        """Deep-copy one parameter's state; tensors take the parameter's float dtype."""
        if not isinstance(value, dict):
            raise ValueError(
                f"loaded state for parameter {index} must be a dict, got {_typename(value)}"
            )
        out = {}
        for key, item in value.items():
            if isinstance(item, Tensor):
                array = np.array(item._data, copy=True)
                if key == "step":
                    out[key] = Tensor._wrap(array)
                    continue
                # NAdam's mu_product is one number per parameter, as in PyTorch
                if array.shape != param._data.shape and key != "mu_product":
                    raise ValueError(
                        f"loaded state for parameter {index} has '{key}' of shape "
                        f"{tuple(array.shape)}, but the parameter has shape "
                        f"{tuple(param._data.shape)}: the state dict belongs to another model"
                    )
                if np.issubdtype(param._data.dtype, np.floating):
                    array = array.astype(param._data.dtype, copy=False)
                out[key] = Tensor._wrap(array)
            else:
                out[key] = copy.deepcopy(item)
        return out


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return type(obj).__module__ + "." + type(obj).__name__
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
