"""The shape of a catalogue entry: parameter schema, shape rule, builder and code emitters."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


class BlockError(ValueError):
    """A block's parameters or inputs are wrong; the message says what and how to fix it."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a block type, as the inspector shows it and the files store it.

    kind: "int" | "float" | "bool" | "choice" | "pair" (int or (int, int)) | "shape" (tuple of
    positive ints) | "padding" (int, (int, int), "same" or "valid").
    auto=True: None means "follow the input"; a number pins it.
    optional=True: None is allowed and means what `help` says (MaxPool2d stride = kernel size).
    """

    name: str
    kind: str
    default: Any
    label: str
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    auto: bool = False
    optional: bool = False

    # -- coercion: types only; ranges are checked separately so a hand-edited file with a zero
    # size still loads and the problem shows on its node.
    def coerce(self, value: Any) -> Any:
        if value is None:
            if self.auto or self.optional or self.default is None:
                return None
            raise BlockError(f"{self.name} needs a value")
        kind = self.kind
        if kind == "int":
            return _as_int(self.name, value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BlockError(f"{self.name} must be a number (got {value!r})")
            value = float(value)
            if not math.isfinite(value):
                raise BlockError(f"{self.name} must be a finite number (got {value!r})")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise BlockError(f"{self.name} must be true or false (got {value!r})")
            return value
        if kind == "choice":
            if value not in self.choices:
                options = ", ".join(repr(c) for c in self.choices)
                raise BlockError(f"{self.name} must be one of {options} (got {value!r})")
            return value
        if kind == "pair":
            return _as_pair(self.name, value)
        if kind == "padding":
            if isinstance(value, str):
                if value not in ("same", "valid"):
                    raise BlockError(
                        f"{self.name} must be a number, a pair, 'same' or 'valid' (got {value!r})"
                    )
                return value
            return _as_pair(self.name, value)
        if kind == "shape":
            if not isinstance(value, list | tuple) or len(value) not in (1, 3):
                raise BlockError(
                    f"{self.name} must be C x H x W (3 numbers) or a feature count "
                    f"(1 number), got {value!r}"
                )
            return tuple(_as_int(self.name, v) for v in value)
        raise AssertionError(f"unknown parameter kind {kind!r}")

    def check_range(self, value: Any) -> None:
        """Raise BlockError when a coerced value lies outside [min, max]."""
        if value is None or isinstance(value, str | bool):
            return
        numbers = value if isinstance(value, tuple) else (value,)
        for v in numbers:
            if self.min is not None and v < self.min:
                what = "positive" if self.min == 1 else f"at least {self.min:g}"
                raise BlockError(
                    f"{self.name} must be {what} (got {_fmt_value(value)}); set it to "
                    f"{self.min:g} or more"
                )
            if self.max is not None and v > self.max:
                raise BlockError(
                    f"{self.name} must be at most {self.max:g} (got {_fmt_value(value)}); lower it"
                )


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BlockError(f"{name} must be a whole number (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise BlockError(f"{name} must be a whole number (got {value!r})")


def _as_pair(name: str, value: Any) -> int | tuple[int, int]:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise BlockError(f"{name} must be one number or two (height, width), got {value!r}")
        return (_as_int(name, value[0]), _as_int(name, value[1]))
    return _as_int(name, value)


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


def _fmt_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def py(value) -> str:
    """Python source for a parameter value, strings in double quotes as ruff format writes."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def fmt_shape(shape: Shape | None) -> str:
    """(16, 5, 5) -> '16x5x5'; (120,) -> '120'."""
    if shape is None:
        return "?"
    return "x".join(str(d) for d in shape)


@dataclass(frozen=True)
class BlockType:
    """One block type: the single source of truth the palette, inspector, inference, compiler
    and exporters all read.

    The behaviour is given as small functions over the resolved parameters:
      shape_fn(p, in_shapes) -> out_shape (raises BlockError)
      count_fn(p, in_shapes) -> parameter count
      resolve_fn(p, in_shapes) -> p with auto values filled from the inputs
      summary_fn(p) -> short text for the node face
      ctor(p) -> (nn class name, positional args, keyword args) or None (Input/Add/Concat);
                 the engine builder and the exported `__init__` line both come from it
      expr_fn(p, args, attr) -> the exported forward expression; args are input expressions,
                 attr the attribute name (node name)
    fold: in exported code this block's call wraps its single input's expression
    (F.relu(self.conv1(x))); False blocks start a new statement.
    """

    type: str
    label: str
    category: str
    description: str
    params: tuple[ParamSpec, ...]
    inputs: int
    outputs: int
    name_prefix: str
    icon: str
    shape_fn: Callable = field(repr=False, default=None)
    count_fn: Callable = field(repr=False, default=None)
    resolve_fn: Callable | None = field(repr=False, default=None)
    summary_fn: Callable = field(repr=False, default=None)
    ctor: Callable | None = field(repr=False, default=None)
    expr_fn: Callable = field(repr=False, default=None)
    fold: bool = False
    exported_module: bool = False  # the exported script keeps it as `self.<name> = nn.X(...)`
    min_inputs: int = 0
    # a block that is more than one nn class: build_fn(p, nn) -> module, and
    # init_fn(p, attr) -> the exported __init__ statements (ctor is then unused)
    build_fn: Callable | None = field(repr=False, default=None)
    init_fn: Callable | None = field(repr=False, default=None)

    # -- schema
    def spec(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise BlockError(f"{self.label} has no parameter {name!r}")

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def coerce_params(self, params: dict | None) -> dict:
        """Defaults merged with `params`, types coerced; ranges left for infer() to report."""
        out = self.defaults()
        for name, value in (params or {}).items():
            out[name] = self.spec(name).coerce(value)
        return out

    def validate_params(self, params: dict | None) -> dict:
        """A coerced copy with defaults filled; raises BlockError(reason) on any bad value."""
        out = self.coerce_params(params)
        self.check_ranges(out)
        return out

    def check_ranges(self, params: dict) -> None:
        for spec in self.params:
            spec.check_range(params.get(spec.name))

    # -- shape rule
    def resolve(self, params: dict, in_shapes: list[Shape]) -> dict:
        p = dict(params)
        if self.resolve_fn is not None:
            p = self.resolve_fn(p, in_shapes)
        return p

    def infer(self, params: dict, in_shapes: list[Shape]) -> Shape:
        self.check_ranges(params)
        p = self.resolve(params, in_shapes)
        out = tuple(self.shape_fn(p, in_shapes))
        if any(d <= 0 for d in out):
            raise BlockError(
                f"output would be {fmt_shape(out)}, which has a zero or negative size; "
                f"make the input larger or the kernel/stride smaller"
            )
        return out

    def param_count(self, params: dict, in_shapes: list[Shape]) -> int | None:
        """The parameter count, or None while it depends on an input size not known yet
        (a Conv2d's in_channels before anything is wired into it)."""
        p = self.resolve(params, in_shapes)
        unknown = [s.name for s in self.params if s.auto and p.get(s.name) is None]
        if not unknown:
            return int(self.count_fn(p, in_shapes))
        # unknown only if the count moves with the missing sizes (BatchNorm without affine
        # has 0 parameters whatever its input)
        low = int(self.count_fn({**p, **dict.fromkeys(unknown, 1)}, in_shapes))
        high = int(self.count_fn({**p, **dict.fromkeys(unknown, 2)}, in_shapes))
        return low if low == high else None

    def summary(self, params: dict) -> str:
        return self.summary_fn(params) if self.summary_fn else ""

    # -- engine builder
    def build(self, resolved: dict):
        """The engine module for resolved parameters, or None for Input/Add/Concat."""
        import engine.nn as nn

        return self.build_with(nn, resolved)

    def build_with(self, nn, resolved: dict):
        """The module built with a torch-like `nn` (engine's or torch's), or None."""
        if self.build_fn is not None:
            return self.build_fn(resolved, nn)
        if self.ctor is None:
            return None
        cls_name, args, kwargs = self.ctor(resolved)
        return getattr(nn, cls_name)(*args, **kwargs)

    # -- code emitters (exported scripts)
    def init_code(self, resolved: dict) -> str | None:
        """`nn.Conv2d(1, 6, 5)`: the constructor call for the exported __init__, or None."""
        if self.ctor is None or not self.exported_module:
            return None
        cls_name, args, kwargs = self.ctor(resolved)
        parts = [py(a) for a in args] + [f"{k}={py(v)}" for k, v in kwargs.items()]
        return f"nn.{cls_name}({', '.join(parts)})"

    def forward_code(self, resolved: dict, args: list[str], attr: str) -> str:
        """The forward expression: `self.conv1(x)`, `F.relu(x)`, `a + b`."""
        return self.expr_fn(resolved, args, attr)
