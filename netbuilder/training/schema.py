"""Every training setting, described once: its kind, default, range, the optimizer, schedule or
loss it applies to, its label and help text, and its command-line flag.

Everything else is generated from SETTINGS: the `TrainSettings` dataclass and its validation,
the project file's checks, the settings form in the app, the `netbuilder train` options and the
exported script's options and defaults.

Adding a setting:
  1. one `Setting(...)` entry in SETTINGS below (in the group and order the form shows it);
  2. if an optimizer, schedule or loss passes it to its constructor, one keyword in that
     entry's `kwargs` in netbuilder/training/recipe.py (the Trainer and both exports read it).
A data-preparation setting (e.g. an augmentation) also needs its step in
netbuilder/data/prepare.py, which the app runs and the exported script carries verbatim.

Kinds: "choice" (one of `choices`), "int", "float", "bool", "text", "pair" (two floats, such as
betas) and "ints" (a list of whole numbers, such as milestones). `applies` limits a setting to
some values of another ({"optimizer": ("adam", "adamw")}); the form hides it otherwise, and it is
still stored. `low`/`high` bound numbers (`low_open`/`high_open` exclude the bound).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

INT_MAX = 2**31 - 1  # the largest whole number a setting takes (Qt's spin boxes hold no more)
# the smallest non-zero size of a number setting: below it floats lose digits (subnormals), and
# no hyperparameter means anything there
TINY = 1e-300


class SettingsError(ValueError):
    """A training setting has a bad value; the message names the setting and the fix.

    `name` is the setting ("lr", "betas[1]"), `problem` the rest ("must be above 0, got -1");
    str() is "<name> <problem>"."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str
    default: object
    label: str
    help: str
    group: str = "optimisation"  # the form's box: "data", "optimisation" or "run"
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for kind "choice"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    applies: dict = field(default_factory=dict)  # {"optimizer": ("sgd",)}: only then
    flag: str | None = None  # the command-line option; None: derived from the name
    script: bool = True  # an option of the exported script too
    unit: str = ""  # the form's suffix ("epoch(s)")
    special_zero: str = ""  # what 0 means, shown by the form instead of 0 ("never")

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The argparse attribute of `option`."""
        return self.option[2:].replace("-", "_")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def applies_to(self, values) -> bool:
        """Whether this setting is used with `values` (a TrainSettings or a dict)."""
        get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
        return all(get(k) in allowed for k, allowed in self.applies.items())

    def check(self, value, name: str | None = None):
        """`value` coerced to this setting's type; SettingsError naming the setting if bad."""
        name = name or self.name
        kind = self.kind
        if kind == "choice":
            if not isinstance(value, str) or value not in self.keys:
                raise SettingsError(
                    name, f"{value!r} is unknown; choose one of: {', '.join(self.keys)}"
                )
            return value
        if kind == "text":
            if not isinstance(value, str) or not value:
                raise SettingsError(name, f"must be a non-empty text, got {value!r}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise SettingsError(name, f"must be true or false, got {value!r}")
            return value
        if kind == "int":
            return self._integer(value, name)
        if kind == "float":
            return self._number(value, name)
        if kind == "pair":
            if not isinstance(value, list | tuple) or len(value) != 2:
                example = ", ".join(repr(v) for v in self.default)
                raise SettingsError(name, f"must be two numbers such as [{example}], got {value!r}")
            return tuple(self._number(v, f"{name}[{i}]") for i, v in enumerate(value))
        if kind == "ints":
            if not isinstance(value, list | tuple):
                raise SettingsError(name, f"must be a list of epochs, got {value!r}")
            return tuple(sorted(self._integer(v, name) for v in value))
        raise AssertionError(f"unknown setting kind {kind!r}")

    def _integer(self, value, name):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise SettingsError(name, f"must be a whole number, got {value!r}")
        value = int(value)
        if self.low is not None and value < self.low:
            raise SettingsError(name, f"must be at least {self.low:g}, got {value}")
        high = INT_MAX if self.high is None else self.high
        if value > high:
            raise SettingsError(name, f"must be at most {high:g}, got {value}")
        return value

    def _number(self, value, name):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(name, f"must be a finite number, got {value!r}")
        try:
            value = float(value)
        except OverflowError:  # an int too large for a float
            raise SettingsError(name, f"must be a finite number, got {value!r}") from None
        if not math.isfinite(value):
            raise SettingsError(name, f"must be a finite number, got {value!r}")
        if value != 0 and abs(value) < TINY:
            raise SettingsError(name, f"must be 0 or at least {TINY:g} in size, got {value!r}")
        low, high = self.low, self.high
        if low is not None and (value < low or (self.low_open and value == low)):
            bound = "above" if self.low_open else "at least"
            raise SettingsError(name, f"must be {bound} {low:g}, got {value:g}")
        if high is not None and (value > high or (self.high_open and value == high)):
            bound = "below" if self.high_open else "at most"
            raise SettingsError(name, f"must be {bound} {high:g}, got {value:g}")
        return value

    def to_json(self, value):
        """The value as the project file stores it (tuples become lists)."""
        return list(value) if isinstance(value, tuple) else value


_SGD = {"optimizer": ("sgd",)}
_ADAM = {"optimizer": ("adam", "adamw")}
_RMSPROP = {"optimizer": ("rmsprop",)}

SETTINGS: tuple[Setting, ...] = (
    # -- data -----------------------------------------------------------------------------------
    Setting(
        "dataset", "text", "sample", "Data set",
        "'sample' (bundled); 'mnist', 'fashion-mnist', 'kmnist' or 'cifar10' (downloaded "
        "into the user cache on first use); an MNIST-style IDX folder, a CIFAR-10 binary "
        "folder, an image folder (train/<class>/*.png ...) or a Keras-style .npz file",
        group="data", script=False,
    ),
    Setting(
        "val_split", "float", 0.0, "Validation split",
        "fraction of the training set held out to validate each epoch (e.g. 0.1)",
        group="data", low=0.0, high=1.0, high_open=True,
    ),
    # augmentation: netbuilder/data/prepare.py's augment_batch, applied to each training batch
    Setting(
        "augment_crop", "int", 0, "Random crop",
        "pad each side by this many black pixels, then crop a random window of the input's "
        "size (4 is usual for 32x32 images; 0: off)",
        group="data", low=0, high=64, unit="px", special_zero="off",
    ),
    Setting(
        "augment_flip", "bool", False, "Random flip", "mirror half of the images left to right",
        group="data",
    ),
    Setting(
        "augment_rotate", "float", 0.0, "Random rotation",
        "rotate each image by up to this many degrees either way (0: off)",
        group="data", low=0.0, high=45.0, unit="°",
    ),
    Setting(
        "augment_translate", "float", 0.0, "Random shift",
        "shift each image by up to this fraction of its height and width (0: off)",
        group="data", low=0.0, high=0.5,
    ),
    Setting(
        "augment_jitter", "float", 0.0, "Colour jitter",
        "vary brightness, contrast and (colour images) saturation by up to this fraction "
        "(0: off)",
        group="data", low=0.0, high=1.0,
    ),
    # -- optimisation ---------------------------------------------------------------------------
    Setting(
        "loss", "choice", "cross_entropy", "Loss", "the loss minimised",
        choices=(
            ("cross_entropy", "Cross-entropy"),
            ("nll", "Negative log-likelihood"),
            ("mse", "Mean squared error (one-hot)"),
        ),
    ),
    Setting(
        "optimizer", "choice", "sgd", "Optimizer", "the optimizer",
        choices=(
            ("sgd", "SGD"),
            ("adam", "Adam"),
            ("adamw", "AdamW"),
            ("rmsprop", "RMSprop"),
            ("adagrad", "Adagrad"),
        ),
    ),
    Setting("lr", "float", 0.01, "Learning rate", "learning rate", low=0.0, low_open=True),
    # Each optimizer keeps its own momentum with its PyTorch default: SGD's is the classic
    # recipe's 0.9, RMSprop's is 0 (a switch to RMSprop must not carry SGD's 0.9 over).
    Setting(
        "momentum", "float", 0.9, "Momentum", "SGD's momentum (the classic recipe: 0.9)",
        low=0.0, high=1.0, high_open=True, applies=_SGD,
    ),
    Setting(
        "dampening", "float", 0.0, "Dampening", "SGD's momentum dampening",
        low=0.0, high=1.0, applies=_SGD,
    ),
    Setting(
        "nesterov", "bool", False, "Nesterov momentum", "SGD with Nesterov momentum",
        applies=_SGD,
    ),
    Setting(
        "betas", "pair", (0.9, 0.999), "Betas",
        "Adam's and AdamW's averaging coefficients of the gradient and its square",
        low=0.0, high=1.0, high_open=True, applies=_ADAM,
    ),
    Setting(
        "amsgrad", "bool", False, "AMSGrad", "Adam and AdamW: the AMSGrad variant",
        applies=_ADAM,
    ),
    Setting(
        "alpha", "float", 0.99, "Alpha", "RMSprop's smoothing constant",
        low=0.0, high=1.0, applies=_RMSPROP,
    ),
    Setting(
        "rmsprop_momentum", "float", 0.0, "Momentum",
        "RMSprop's momentum (torch.optim.RMSprop's default: 0)",
        low=0.0, high=1.0, high_open=True, applies=_RMSPROP,
    ),
    Setting(
        "centered", "bool", False, "Centered", "RMSprop: normalise by the gradient's variance",
        applies=_RMSPROP,
    ),
    Setting(
        "lr_decay", "float", 0.0, "LR decay", "Adagrad's learning-rate decay",
        low=0.0, applies={"optimizer": ("adagrad",)},
    ),
    Setting(
        "initial_accumulator_value", "float", 0.0, "Accumulator",
        "Adagrad's initial sum of squared gradients",
        low=0.0, applies={"optimizer": ("adagrad",)},
    ),
    Setting(
        "eps", "float", 1e-8, "Epsilon", "Adam, AdamW and RMSprop: added to the denominator",
        low=0.0, low_open=True, applies={"optimizer": ("adam", "adamw", "rmsprop")},
    ),
    Setting(
        "weight_decay", "float", 0.0, "Weight decay", "L2 penalty (AdamW: decoupled)", low=0.0
    ),
    Setting(
        "schedule", "choice", "none", "LR schedule",
        "learning-rate schedule, stepped once per epoch: step (x gamma every step-size "
        "epochs), multistep (x gamma at the milestones), exponential (x gamma each epoch), "
        "cosine (to 0 over t-max epochs), plateau (x gamma when the loss stalls)",
        choices=(
            ("none", "Constant"),
            ("step", "Step decay"),
            ("multistep", "Decay at milestones"),
            ("exponential", "Exponential decay"),
            ("cosine", "Cosine annealing"),
            ("plateau", "Lower on plateau"),
        ),
    ),
    Setting(
        "step_size", "int", 1, "Step every", "epochs per step (step)",
        low=1, applies={"schedule": ("step",)}, unit="epoch(s)",
    ),
    Setting(
        "gamma", "float", 0.1, "Gamma", "lr factor of step, multistep, exponential and plateau",
        low=0.0, low_open=True,
        applies={"schedule": ("step", "multistep", "exponential", "plateau")},
    ),
    Setting(
        "milestones", "ints", (), "Milestones",
        "epochs after which multistep multiplies the lr by gamma, e.g. 2,4",
        low=1, applies={"schedule": ("multistep",)},
    ),
    Setting(
        "t_max", "int", 0, "Cosine period", "epochs of one half cosine (0: the run's epochs)",
        low=0, applies={"schedule": ("cosine",)}, unit="epoch(s)",
        special_zero="the run's epochs",
    ),
    Setting(
        "patience", "int", 2, "Patience", "epochs without improvement before lowering the lr",
        low=0, applies={"schedule": ("plateau",)}, unit="epoch(s)",
    ),
    # -- run ------------------------------------------------------------------------------------
    Setting("batch_size", "int", 64, "Batch size", "samples per step", group="run", low=1),
    Setting("epochs", "int", 1, "Epochs", "passes over the data", group="run", low=1),
    Setting(
        "seed", "int", 0, "Seed", "initial weights, shuffling and dropout: same seed, same run",
        group="run", low=0,
    ),
    Setting(
        "grad_every", "int", 20, "Gradients every",
        "steps between gradient statistics (0: never)",
        group="run", low=0, script=False, unit="steps", special_zero="never",
    ),
)  # fmt: skip

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def default_recipe() -> str:
    """The defaults in words: "SGD, lr 0.01, momentum 0.9, batch 64, cross-entropy"."""
    d = {s.name: s.default for s in SETTINGS}
    return (
        f"{label('optimizer', d['optimizer'])}, lr {d['lr']:g}, momentum {d['momentum']:g}, "
        f"batch {d['batch_size']}, {label('loss', d['loss']).lower()}"
    )


def choices(name: str) -> tuple[str, ...]:
    return BY_NAME[name].keys


def label(name: str, value: str) -> str:
    """The readable label of a choice value ("sgd" -> "SGD")."""
    return dict(BY_NAME[name].choices).get(value, value)


# -- the command line ---------------------------------------------------------------------------


def argument_type(setting: Setting, element: bool = False):
    """An argparse type for `setting`: the text parsed and checked by the schema, its problem
    as argparse's message ("must be at least 1, got -1"). element: one number of a pair."""
    kind = "float" if element else setting.kind

    def parse(text: str):
        try:
            if kind == "int":
                value = int(text)
            elif kind == "float":
                value = float(text)
            elif kind == "ints":
                parts = [part for part in text.replace(" ", "").split(",") if part]
                if not parts:
                    raise argparse.ArgumentTypeError(
                        f"must be epochs separated by commas, got {text!r}"
                    )
                value = []
                for part in parts:
                    text = part  # the part a ValueError names
                    value.append(int(part))
            else:
                value = text
        except ValueError:
            what = "a number" if kind == "float" else "a whole number"
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        try:
            if element:
                return setting._number(value, setting.name)
            return setting.check(value)
        except SettingsError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None

    parse.__name__ = setting.name
    return parse


_METAVARS = {"int": "N", "float": "X", "text": "TEXT", "ints": "N,N"}


def add_arguments(parser, help_overrides: dict | None = None, metavars: dict | None = None):
    """One option per setting (its flag, type, choices and help); every default is None, so
    that an option left out keeps the project's value."""
    help_overrides = help_overrides or {}
    metavars = metavars or {}
    for s in SETTINGS:
        kwargs = {"help": help_overrides.get(s.name, s.help).replace("%", "%%"), "default": None}
        if s.kind == "choice":
            kwargs["choices"] = s.keys
        elif s.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif s.kind == "pair":
            kwargs.update(nargs=2, type=argument_type(s, element=True))
            kwargs["metavar"] = ("X", "X")
        else:
            kwargs.update(type=argument_type(s), metavar=metavars.get(s.name, _METAVARS[s.kind]))
        parser.add_argument(s.option, dest=s.name, **kwargs)


def given(args) -> dict:
    """{setting: value} of the options given on the command line."""
    values = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    return {name: value for name, value in values.items() if value is not None}
