"""PyTorch model code -> graph: run the file with the engine standing in for torch, trace one
forward pass, and turn each layer call and functional call into a block.

The file's code runs (as `python` would run it, minus its `__main__` part). `torch`, its
submodules and packages built on torch (torchvision...) are swapped for the engine or for inert
stand-ins only while the file is imported and traced; sys.modules is put back afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import re
import sys
import threading
import traceback
import types
from pathlib import Path

import numpy as np

from netbuilder.blocks import BlockError, get_block
from netbuilder.blocks.spec import pair
from netbuilder.importers.common import (
    GraphBuilder,
    ModelImportError,
    block_name,
    parse_shape,
    prod,
)

MAX_SOURCE_BYTES = 4 << 20  # model code is a few KB
# packages that import torch themselves: inert stand-ins while the file runs
TORCH_PACKAGES = ("torchvision", "torchaudio", "torchtext", "torchinfo", "torchsummary")
TORCH_USERS = ("safetensors.torch",)
BATCH = 2  # traced batch size: tells the batch dimension apart from a feature size of 1


# -- torch -> engine for one file -----------------------------------------------------------


class NotAvailableDuringImport:
    """What an unavailable torch feature gives: an inert stand-in, so that a script's data
    loading and set-up at module level (datasets, transforms, devices) pass without effect."""

    last = ""  # the newest stand-in made, named in messages when one is used as a value

    def __init__(self, name):
        self._name = name
        NotAvailableDuringImport.last = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return NotAvailableDuringImport(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        return NotAvailableDuringImport(f"{self._name}()")

    def __getitem__(self, index):
        raise IndexError(index)

    def __len__(self):
        return 1  # a stand-in data set "has" one item, so loaders over it can be built

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False

    def __mro_entries__(self, bases):
        return (object,)


class _AbsentModule(types.ModuleType):
    def __init__(self, name):
        super().__init__(name)
        self.__path__ = []

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return NotAvailableDuringImport(f"{self.__name__}.{attr}")


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """torch.* modules the engine has no twin for, and packages built on torch: stand-ins."""

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if (
            top == "torch"
            or top in TORCH_PACKAGES
            or any(fullname == n or fullname.startswith(n + ".") for n in TORCH_USERS)
        ):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _AbsentModule(spec.name)

    def exec_module(self, module):
        pass


def _engine_aliases() -> dict:
    import engine
    import engine.nn
    import engine.nn.functional
    import engine.nn.init
    import engine.optim
    import engine.optim.lr_scheduler
    import engine.utils
    import engine.utils.data

    aliases = {"torch": engine}
    for name, module in list(sys.modules.items()):
        if name.startswith("engine.") and module is not None:
            aliases["torch" + name[len("engine") :]] = module
    return aliases


def _is_kept(name: str) -> bool:
    """Modules first imported during the swap that may stay: they never saw the stand-ins."""
    top = name.split(".")[0]
    return top in ("engine", "numpy") or top in sys.stdlib_module_names


@contextlib.contextmanager
def torch_is_engine(folder: Path):
    """sys.modules answers `import torch` with the engine until the block ends."""
    saved = dict(sys.modules)
    saved_path = list(sys.path)
    finder = _StandInFinder()
    aliases = _engine_aliases()
    for name in list(sys.modules):
        top = name.split(".")[0]
        if top == "torch" or top in TORCH_PACKAGES or name in TORCH_USERS:
            del sys.modules[name]
    sys.modules.update(aliases)
    sys.meta_path.insert(0, finder)
    sys.path.insert(0, str(folder))
    saved_argv = sys.argv
    sys.argv = [str(folder / "model.py")]  # a module-level argparse sees no options
    try:
        yield
    finally:
        sys.argv = saved_argv
        sys.meta_path.remove(finder)
        sys.path[:] = saved_path
        for name in list(sys.modules):
            if name not in saved and not _is_kept(name):
                del sys.modules[name]
        for name, module in saved.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
        for name in aliases:
            if name not in saved:
                sys.modules.pop(name, None)


# -- the tracer -------------------------------------------------------------------------------


class _Tracer:
    """Records module and function calls on traced tensors as blocks."""

    def __init__(self, source: Path, builder: GraphBuilder):
        self.source = source
        self.file = str(source.resolve())
        self.b = builder
        self.active = False
        self.depth = 0
        self.thread = threading.get_ident()
        self.producer: dict[int, str] = {}
        self.keep: list = []  # traced tensors stay alive so their ids stay theirs
        self.problems: list[str] = []
        self.module_paths: dict[int, str] = {}
        self.calls: dict[int, int] = {}

    def off(self) -> bool:
        return not self.active or self.depth > 0 or threading.get_ident() != self.thread

    def where(self) -> str:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.file:
                return f"{self.source.name}:{frame.f_lineno}"
            frame = frame.f_back
        return self.source.name

    def problem(self, text: str) -> None:
        line = f"{self.where()}: {text}"
        if line not in self.problems:
            self.problems.append(line)

    def mark(self, tensor, nid: str) -> None:
        self.producer[id(tensor)] = nid
        self.keep.append(tensor)

    def source_of(self, tensor, what: str) -> str | None:
        nid = self.producer.get(id(tensor))
        if nid is None:
            self.problem(f"{what} reads a value that no block computes (see the lines above)")
        return nid

    def shape(self, tensor) -> tuple:
        return tuple(int(d) for d in tensor.shape)

    # -- blocks ------------------------------------------------------------------------------
    def block(self, type_, params, inputs, out, hint=None, what=""):
        sources = [self.source_of(t, what) for t in inputs]
        if None in sources:
            return None
        try:
            get_block(type_).coerce_params(params)
        except BlockError as exc:
            self.problem(f"{what}: {exc}")
            return None
        nid = self.b.add(type_, params, sources, hint)
        self.mark(out, nid)
        return nid

    def alias(self, tensor, out) -> None:
        nid = self.producer.get(id(tensor))
        if nid is not None:
            self.mark(out, nid)


def _tensors(value):
    from engine import Tensor

    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v)


# functional calls: name -> handler(tracer, arguments by name, output, description)


def _fn_unary(type_, params_fn=lambda a: {}):
    def handle(t, a, out, what):
        t.block(type_, params_fn(a), [a["input"]], out, what=what)

    return handle


def _fn_softmax(type_):
    def handle(t, a, out, what):
        x, dim = a["input"], a.get("dim")
        if dim is None:
            t.problem(f"{what} needs dim (1 for classes)")
            return
        dim = dim + len(x.shape) if dim < 0 else dim
        if dim < 1:
            t.problem(f"{what} over the batch dimension has no block")
            return
        t.block(type_, {"dim": dim}, [x], out, what=what)

    return handle


def _fn_pool(type_):
    def handle(t, a, out, what):
        if a.get("return_indices") or pair(a.get("dilation", 1)) != (1, 1):
            t.problem(f"{what} with indices or dilation has no block")
            return
        if not a.get("count_include_pad", True) or a.get("divisor_override") is not None:
            t.problem(f"{what} with count_include_pad=False or a divisor has no block")
            return
        kernel = a["kernel_size"]
        stride = a.get("stride")
        if stride in ((), []) or (stride is not None and pair(stride) == pair(kernel)):
            stride = None
        params = {
            "kernel_size": kernel,
            "stride": stride,
            "padding": a.get("padding", 0),
            "ceil_mode": bool(a.get("ceil_mode", False)),
        }
        t.block(type_, params, [a["input"]], out, what=what)

    return handle


def _fn_flatten(t, a, out, what):
    x = a["input"]
    rank = len(x.shape)
    start, end = a.get("start_dim", 0), a.get("end_dim", -1)
    end = end + rank if end < 0 else end
    if start != 1 or end != rank - 1:
        t.problem(f"{what}: only flattening from dim 1 (torch.flatten(x, 1)) has a block")
        return
    if rank == 2:
        t.alias(x, out)
    else:
        t.block("Flatten", {}, [x], out, what=what)


def _fn_reshape(t, a, out, what):
    x = a["input"]
    in_shape, out_shape = t.shape(x), t.shape(out)
    if out_shape != (in_shape[0], prod(in_shape[1:])):
        t.problem(
            f"{what} to {tuple(out_shape[1:])} per sample has no block (only flattening each "
            "sample, as x.view(x.size(0), -1), does)"
        )
        return
    if len(in_shape) == 2:
        t.alias(x, out)
    else:
        t.block("Flatten", {}, [x], out, what=what)


def _fn_add(t, a, out, what):
    from engine import Tensor

    left, right = a["input"], a["other"]
    if not (isinstance(left, Tensor) and isinstance(right, Tensor)) or a.get("alpha", 1) != 1:
        t.problem(f"{what}: adding a constant or a scaled value has no block")
        return
    t.block("Add", {}, [left, right], out, what=what)


def _fn_cat(t, a, out, what):
    tensors = list(a["tensors"])
    rank = len(tensors[0].shape)
    dim = a.get("dim", 0)
    dim = dim + rank if dim < 0 else dim
    if dim != 1:
        t.problem(f"{what}: only joining along dim 1 (channels or features) has a block")
        return
    t.block("Concat", {}, tensors, out, what=what)


def _fn_dropout(t, a, out, what):
    t.block("Dropout", {"p": float(a.get("p", 0.5))}, [a["input"]], out, what=what)


def _alias(t, a, out, what):
    t.alias(a["input"], out)


def _upsample_params(t, x, out, a, what) -> dict | None:
    """Upsample's parameters for an interpolation call, or None after saying why none fit."""
    mode = a.get("mode", "nearest")
    if mode not in ("nearest", "bilinear") or a.get("antialias"):
        t.problem(f"{what} with mode={mode!r} or antialiasing has no block")
        return None
    (_, _, h, w), (_, _, oh, ow) = t.shape(x), t.shape(out)
    scale = a.get("scale_factor")
    if isinstance(scale, tuple | list):
        scale = scale[0] if len(set(scale)) == 1 else None
    if scale is None and a.get("size") is not None and oh % h == 0 and oh // h == ow // w:
        scale = oh // h  # a whole-number size ratio computes as that scale factor
    elif scale is not None and a.get("recompute_scale_factor") and float(scale) != int(scale):
        scale = None  # the sizes' ratio, not the factor, would place the samples
    if scale is None or (oh, ow) != (int(h * scale), int(w * scale)):
        t.problem(f"{what} to {oh}x{ow} is not one scale factor for height and width")
        return None
    params = {"scale_factor": float(scale), "mode": mode}
    if mode == "bilinear":
        params["align_corners"] = bool(a.get("align_corners"))
    return params


def _fn_interpolate(t, a, out, what):
    x = a["input"]
    params = _upsample_params(t, x, out, a, what)
    if params is not None:
        t.block("Upsample", params, [x], out, what=what)


def _unflatten_params(t, x, out, dim, what) -> dict | None:
    if len(t.shape(x)) != 2 or dim not in (1, -1) or len(t.shape(out)) != 4:
        t.problem(f"{what}: only a feature vector into C x H x W (x.unflatten(1, ...)) has a block")
        return None
    return {"unflattened_size": tuple(t.shape(out)[1:])}  # -1 in the sizes, worked out


def _fn_unflatten(t, a, out, what):
    params = _unflatten_params(t, a["input"], out, a.get("dim", 1), what)
    if params is not None:
        t.block("Unflatten", params, [a["input"]], out, what=what)


_RELU = _fn_unary("ReLU")
FUNCTIONS = {
    "F.relu": _RELU,
    "F.relu_": _RELU,
    "torch.relu": _RELU,
    "Tensor.relu": _RELU,
    "Tensor.relu_": _RELU,
    "F.leaky_relu": _fn_unary(
        "LeakyReLU", lambda a: {"negative_slope": float(a.get("negative_slope", 0.01))}
    ),
    "F.gelu": _fn_unary("GELU", lambda a: {"approximate": a.get("approximate", "none")}),
    "F.sigmoid": _fn_unary("Sigmoid"),
    "torch.sigmoid": _fn_unary("Sigmoid"),
    "Tensor.sigmoid": _fn_unary("Sigmoid"),
    "F.tanh": _fn_unary("Tanh"),
    "torch.tanh": _fn_unary("Tanh"),
    "Tensor.tanh": _fn_unary("Tanh"),
    "F.softmax": _fn_softmax("Softmax"),
    "torch.softmax": _fn_softmax("Softmax"),
    "Tensor.softmax": _fn_softmax("Softmax"),
    "F.log_softmax": _fn_softmax("LogSoftmax"),
    "torch.log_softmax": _fn_softmax("LogSoftmax"),
    "Tensor.log_softmax": _fn_softmax("LogSoftmax"),
    "F.max_pool2d": _fn_pool("MaxPool2d"),
    "F.avg_pool2d": _fn_pool("AvgPool2d"),
    "F.adaptive_avg_pool2d": _fn_unary(
        "AdaptiveAvgPool2d", lambda a: {"output_size": a["output_size"]}
    ),
    "F.dropout": _fn_dropout,
    "F.interpolate": _fn_interpolate,
    "F.upsample": _fn_interpolate,
    "Tensor.unflatten": _fn_unflatten,
    "torch.unflatten": _fn_unflatten,
    "torch.flatten": _fn_flatten,
    "Tensor.flatten": _fn_flatten,
    "Tensor.view": _fn_reshape,
    "Tensor.reshape": _fn_reshape,
    "torch.reshape": _fn_reshape,
    "Tensor.__add__": _fn_add,
    "Tensor.__radd__": _fn_add,
    "Tensor.__iadd__": _fn_add,
    "Tensor.add": _fn_add,
    "torch.add": _fn_add,
    "torch.cat": _fn_cat,
    "torch.concat": _fn_cat,
    "torch.concatenate": _fn_cat,
    "Tensor.contiguous": _alias,
    "Tensor.clone": _alias,
    "Tensor.float": _alias,
    "Tensor.to": _alias,
    "Tensor.cpu": _alias,
    "Tensor.detach": _alias,
    "torch.clone": _alias,
}
# the engine's functions take these names; torch's documentation uses the same
_FIRST = {"a": "input", "self": "input", "x": "input", "b": "other"}
_TENSOR_DUNDERS = (
    "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ "
    "__truediv__ __rtruediv__ __itruediv__ __matmul__ __rmatmul__ __pow__ __neg__ __getitem__"
).split()
_NOT_VALUES = frozenset(
    "size dim numel item tolist numpy element_size nelement is_contiguous data_ptr "
    "register_hook backward requires_grad_ retain_grad".split()
)


# torch's parameter names, for engine functions that take (*args, **kwargs)
_POSITIONAL = {
    "torch.cat": ("tensors", "dim"),
    "torch.concat": ("tensors", "dim"),
    "torch.concatenate": ("tensors", "dim"),
    "torch.add": ("input", "other", "alpha"),
}


def _arguments(fn, args, kwargs, qual) -> dict:
    if qual in ("Tensor.view", "Tensor.reshape"):
        return {"input": args[0]}
    try:
        signature = inspect.signature(fn)
        if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
            names = _POSITIONAL.get(qual, ("input",))
            return {**dict(zip(names, args)), **kwargs}
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {"input": args[0] if args else None}
    bound.apply_defaults()
    out = {}
    for name, value in bound.arguments.items():
        out[_FIRST.get(name, name)] = value
    if qual in ("Tensor.__radd__",):
        out["input"], out["other"] = out.get("other"), out.get("input")
    if "other" not in out and len(args) > 1:
        out["other"] = args[1]
    return out


def _fresh(tensor):
    """A new tensor object on the same data: an op that hands back its input unchanged (dropout
    when evaluating) gives a value of its own, and the input keeps the block that made it."""
    return tensor.view(*tensor.shape)


def _wrap(tracer: _Tracer, fn, qual: str):
    handler = FUNCTIONS.get(qual)

    def traced(*args, **kwargs):
        if tracer.off():
            return fn(*args, **kwargs)
        tracer.depth += 1
        try:
            out = fn(*args, **kwargs)
            inplace = kwargs.get("inplace") or qual.endswith("_") or ".__i" in qual
            if not inplace and any(out is a for a in args):
                out = _fresh(out)
        finally:
            tracer.depth -= 1
        if not any(True for _ in _tensors((args, list(kwargs.values())))):
            return out  # a constant made in forward; whoever reads it is reported
        outs = list(_tensors(out))
        if not outs:
            return out  # sizes and other plain values
        what = qual.replace("Tensor.", "x.")
        if handler is None or len(outs) != 1 or outs[0] is not out:
            tracer.problem(f"{what} has no block")
            return out
        handler(tracer, _arguments(fn, args, kwargs, qual), out, what)
        return out

    traced.__wrapped__ = fn
    traced.__name__ = getattr(fn, "__name__", qual)
    traced.__doc__ = getattr(fn, "__doc__", None)
    with contextlib.suppress(AttributeError, ValueError, TypeError):
        traced.__signature__ = inspect.signature(fn)
    return traced


@contextlib.contextmanager
def _patched(tracer: _Tracer):
    """Every engine function, functional and Tensor method reports to the tracer."""
    import engine
    import engine.nn.functional as F
    from engine import Tensor
    from engine.nn import Module

    undo = []

    def patch(owner, name, value):
        undo.append((owner, name, owner.__dict__[name] if name in owner.__dict__ else None))
        setattr(owner, name, value)

    for owner, prefix in ((engine, "torch"), (F, "F")):
        for name, value in list(vars(owner).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                patch(owner, name, _wrap(tracer, value, f"{prefix}.{name}"))
    for name, value in inspect.getmembers(Tensor):  # the methods live in the op modules' mixins
        public = not name.startswith("_") or name in _TENSOR_DUNDERS
        if public and inspect.isfunction(value) and name not in _NOT_VALUES:
            patch(Tensor, name, _wrap(tracer, value, f"Tensor.{name}"))
    original_call = Module.__call__
    patch(Module, "__call__", _module_call(tracer, original_call))
    try:
        yield
    finally:
        for owner, name, value in reversed(undo):
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


# -- modules ----------------------------------------------------------------------------------

# settings of a torch layer that its block cannot show: (attribute, the value the block has)
_MODULE_LIMITS = {
    "Conv2d": (("padding_mode", "zeros"),),
    "MaxPool2d": (("dilation", 1), ("return_indices", False)),
    "AvgPool2d": (("count_include_pad", True), ("divisor_override", None)),
    "BatchNorm1d": (("track_running_stats", True),),
    "BatchNorm2d": (("track_running_stats", True),),
    "Flatten": (("start_dim", 1), ("end_dim", -1)),
}


def _same(a, b) -> bool:
    if isinstance(a, int | tuple) and isinstance(b, int | tuple) and not isinstance(a, bool):
        with contextlib.suppress(Exception):
            return pair(a) == pair(b)
    return a == b


def _module_params(module, type_: str) -> tuple[dict, str | None]:
    """(block params from the layer's attributes, None) or ({}, why it has no block)."""
    for attr, value in _MODULE_LIMITS.get(type_, ()):
        if hasattr(module, attr) and not _same(getattr(module, attr), value):
            return {}, f"{attr}={getattr(module, attr)!r} (the block has {value!r})"
    params = {}
    for spec in get_block(type_).params:
        if not hasattr(module, spec.name):
            continue
        value = getattr(module, spec.name)
        if spec.kind == "bool" and not isinstance(value, bool):
            value = value is not None  # bias: a tensor or None
        params[spec.name] = value
    if type_ in ("MaxPool2d", "AvgPool2d") and _same(params.get("stride"), params["kernel_size"]):
        params["stride"] = None
    return params, None


def _module_call(tracer: _Tracer, original_call):
    from engine import nn

    passthrough = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

    def call(module, *args, **kwargs):
        if tracer.off():
            return original_call(module, *args, **kwargs)
        cls = type(module)
        builtin = cls.__module__.startswith("engine.")
        if not builtin or isinstance(module, passthrough):
            return original_call(module, *args, **kwargs)  # its own forward is traced
        tracer.depth += 1
        try:
            out = original_call(module, *args, **kwargs)
            if not getattr(module, "inplace", False) and any(out is a for a in args):
                out = _fresh(out)
        finally:
            tracer.depth -= 1
        _record_module(tracer, module, args, out)
        return out

    return call


def _record_module(tracer: _Tracer, module, args, out) -> None:
    from engine import Tensor, nn

    path = tracer.module_paths.get(id(module), type(module).__name__)
    what = f"self.{path}" if path and not path[0].isdigit() else f"layer {path}"
    inputs = [a for a in args if isinstance(a, Tensor)]
    type_ = type(module).__name__
    try:
        get_block(type_)
    except BlockError:
        if not isinstance(module, nn.Identity):
            tracer.problem(f"{what} (nn.{type_}) has no block")
            return
    if not inputs or not any(id(t) in tracer.producer for t in inputs):
        return
    if isinstance(module, nn.Identity):
        tracer.alias(inputs[0], out)
        return
    has_weights = any(True for _ in module.parameters())
    count = tracer.calls[id(module)] = tracer.calls.get(id(module), 0) + 1
    if has_weights and count > 1:
        tracer.problem(
            f"{what} is called a second time; its weights would be shared, which blocks "
            "(one set of weights each) cannot show"
        )
        return
    if type_ in ("Upsample", "Unflatten"):  # the parameters follow from the call
        if type_ == "Upsample":
            params = _upsample_params(tracer, inputs[0], out, vars(module), what)
        else:
            params = _unflatten_params(tracer, inputs[0], out, module.dim, what)
        if params is None:
            return
        why = None
    else:
        params, why = _module_params(module, type_)
    if why:
        tracer.problem(f"{what} (nn.{type_}) with {why} has no block")
        return
    if type_ in ("Softmax", "LogSoftmax") and params.get("dim") is not None and params["dim"] < 0:
        params["dim"] += len(inputs[0].shape)
    last = path.rsplit(".", 1)[-1]
    hint = None if last.isdigit() and "." not in path else path
    if len(inputs) != 1 or not isinstance(out, Tensor):
        tracer.problem(f"{what} takes or gives several values; its block takes one")
        return
    nid = tracer.block(type_, params, inputs, out, hint=hint, what=what)
    if nid is not None:
        name = tracer.b.name(nid)
        for key, value in module.state_dict().items():
            tracer.b.set_weight(f"{name}.{key}", np.array(value.numpy(), order="C"))


# -- the import -------------------------------------------------------------------------------


def _user_error(exc: BaseException, source: Path, doing: str) -> ModelImportError:
    """file:line: what went wrong, for an exception raised by the file's own code."""
    where = source.name
    file = str(source.resolve())
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == file:
            where = f"{source.name}:{frame.lineno}"
    text = " ".join(str(exc).split())[:300]
    if "NotAvailableDuringImport" in text:
        return ModelImportError(
            f"{where}: {doing} uses {NotAvailableDuringImport.last.removesuffix('()')}, which is "
            "not available while NetBuilder imports a model (only torch's layers run, on the "
            "engine)"
        )
    missing = re.fullmatch(r"module '(engine[\w.]*)' has no attribute '(\w+)'", text)
    if isinstance(exc, AttributeError) and missing:
        name = "torch" + missing.group(1)[len("engine") :] + "." + missing.group(2)
        return ModelImportError(
            f"{where}: uses {name}, which NetBuilder's engine does not have (so no block either)"
        )
    return ModelImportError(f"{where}: {doing} raised {type(exc).__name__}: {text}")


def _choose(module, source: Path, class_name: str | None):
    """(name, model class or instance) to import."""
    from engine import nn

    here = module.__name__
    classes = {
        k: v
        for k, v in vars(module).items()
        if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == here
    }
    instances = {k: v for k, v in vars(module).items() if isinstance(v, nn.Module)}
    if class_name is not None:
        found = classes.get(class_name, instances.get(class_name))
        if found is None:
            known = ", ".join([*classes, *instances]) or "none"
            raise ModelImportError(
                f"{source.name}: defines no model named {class_name} (models: {known})"
            )
        return class_name, found
    if "Net" in classes:
        return "Net", classes["Net"]

    def no_arguments(cls) -> bool:
        try:
            inspect.signature(cls).bind()
            return True
        except (TypeError, ValueError):
            return False

    ready = {k: v for k, v in classes.items() if no_arguments(v)}
    choices = ready or instances
    if len(choices) == 1:
        return next(iter(choices.items()))
    if not classes and not instances:
        raise ModelImportError(f"{source.name}: defines no nn.Module class or model")
    names = ", ".join([*classes, *instances])
    raise ModelImportError(
        f"{source.name}: defines several models ({names}); choose one with --class"
    )


def import_torch_code(source, class_name=None, input_shape=None, weights=None):
    """(graph, weights) from a Python file defining a PyTorch nn.Module. weights: a
    .safetensors file of the model's state_dict; without it the project has no weights."""
    source = Path(source)
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise ModelImportError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    if size > MAX_SOURCE_BYTES:
        raise ModelImportError(f"{source}: {size:,} bytes is too large for model code")
    import engine

    builder = GraphBuilder("Net")
    tracer = _Tracer(source, builder)
    unique = f"_netbuilder_model_{abs(hash(str(source.resolve())))}"
    with torch_is_engine(source.resolve().parent), _patched(tracer):
        spec = importlib.util.spec_from_file_location(unique, source)
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise ModelImportError(
                f"{source.name}:{exc.lineno}: not valid Python ({exc.msg})"
            ) from None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the file's own failures
            raise _user_error(exc, source, "running the file") from None
        name, found = _choose(module, source, class_name)
        if isinstance(found, type):
            try:
                inspect.signature(found).bind()
            except TypeError as exc:
                raise ModelImportError(
                    f"{source.name}: {name}() cannot be built without arguments ({exc}); give "
                    "their defaults in __init__, or define a model at module level and name it "
                    "with --class"
                ) from None
            except ValueError:
                pass  # no signature to read: just try
            try:
                model = found()
            except Exception as exc:  # noqa: BLE001 - the file's own failures
                raise _user_error(exc, source, f"{name}()") from None
        else:
            model = found
        if input_shape is None:
            input_shape = getattr(module, "INPUT_SHAPE", None)
            if input_shape is None:
                raise ModelImportError(
                    f"{source.name}: give the shape of one input sample with --input-shape "
                    "(C,H,W such as 1,28,28, or a feature count such as 784)"
                )
        shape = parse_shape(
            ",".join(map(str, input_shape))
            if isinstance(input_shape, tuple | list)
            else input_shape
        )
        if weights is not None:
            _load_weights(model, weights)
        builder.graph.name = block_name(name[:1].upper() + name[1:]) or "Net"
        tracer.module_paths = {id(m): p for p, m in model.named_modules()}
        model.eval()
        x = engine.randn(BATCH, *shape)
        tracer.mark(x, builder.add("Input", {"shape": list(shape)}, [], "input1"))
        tracer.active = True
        try:
            with engine.no_grad():
                out = model(x)
        except Exception as exc:  # noqa: BLE001 - a shape error in the file's forward
            if tracer.problems:
                raise _problems(source, tracer.problems) from None
            raise _user_error(exc, source, f"{name}'s forward on a {_text(shape)} input") from None
        finally:
            tracer.active = False
    if tracer.problems:
        raise _problems(source, tracer.problems)
    if not isinstance(out, engine.Tensor) or id(out) not in tracer.producer:
        raise ModelImportError(
            f"{source.name}: {name}'s forward must return one tensor computed by its layers"
        )
    if tracer.producer[id(out)] == next(iter(builder.graph.nodes)):
        raise ModelImportError(f"{source.name}: {name}'s forward returns its input unchanged")
    _drop_unused(builder, tracer.producer[id(out)])
    arrays = dict(builder.weights) if weights is not None else {}
    if weights is None:
        builder.weights.clear()
    graph = builder.finish(source.name)
    return graph, arrays


def _drop_unused(builder: GraphBuilder, out_id: str) -> None:
    """Blocks whose value never reaches the output (a debug print's softmax) are left out."""
    graph = builder.graph
    needed, stack = set(), [out_id]
    while stack:
        nid = stack.pop()
        if nid in needed:
            continue
        needed.add(nid)
        stack.extend(e.src for e in graph.edges if e.dst == nid)
    for nid in [n for n in graph.nodes if n not in needed and graph.nodes[n].type != "Input"]:
        name = graph.nodes.pop(nid).name
        for key in [k for k in builder.weights if k.startswith(name + ".")]:
            del builder.weights[key]
    graph.edges = [e for e in graph.edges if e.src in graph.nodes and e.dst in graph.nodes]


def _problems(source: Path, problems: list[str]) -> ModelImportError:
    causes = [p for p in problems if "reads a value that no block computes" not in p]
    problems = causes or problems  # the values after an unmapped step follow from it
    return ModelImportError(
        f"{source.name}: these parts of the model have no block: {'; '.join(problems)}"
    )


def _text(shape) -> str:
    return "x".join(map(str, shape))


def _load_weights(model, path) -> None:
    import engine

    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such weights file")
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors' own error types
        raise ModelImportError(f"{path}: not a readable .safetensors file ({exc})") from None
    try:
        model.load_state_dict({k: engine.from_numpy(np.array(v)) for k, v in arrays.items()})
    except (RuntimeError, KeyError, ValueError) as exc:
        text = " ".join(str(exc).split())[:400]
        raise ModelImportError(f"{path}: the weights do not fit the model ({text})") from None
