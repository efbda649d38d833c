"""Training settings: what the project file stores under "training" and the CLI overrides."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

LOSSES = ("cross_entropy", "nll", "mse")
# the settings field holding each optimizer's momentum (the others have none)
MOMENTUM_FIELDS = {"sgd": "momentum", "rmsprop": "rmsprop_momentum"}
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "multistep", "exponential", "cosine", "plateau")


class SettingsError(ValueError):
    """A training setting has a bad value; the message names the setting and the fix."""


@dataclass
class TrainSettings:
    """Everything a run needs besides the graph and the data (the classic recipe by default)."""

    dataset: str = "sample"
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    lr: float = 0.01
    # Each optimizer keeps its own momentum, with its PyTorch/Keras default: SGD's is the classic
    # recipe's 0.9; RMSprop's is 0, as torch.optim.RMSprop's (a switch to RMSprop must not carry
    # SGD's 0.9 over). momentum_for() gives the one the chosen optimizer uses.
    momentum: float = 0.9  # SGD
    rmsprop_momentum: float = 0.0  # RMSprop
    nesterov: bool = False  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)  # Adam and AdamW
    weight_decay: float = 0.0
    schedule: str = "none"  # stepped once per epoch, as in PyTorch
    step_size: int = 1  # "step": multiply lr by gamma every step_size epochs
    gamma: float = 0.1  # "step", "multistep", "exponential"; the factor of "plateau"
    milestones: tuple[int, ...] = field(default_factory=tuple)  # "multistep": epochs
    t_max: int = 0  # "cosine": epochs of one half cosine; 0 = the run's epochs
    patience: int = 2  # "plateau": epochs without improvement before lowering lr
    batch_size: int = 64
    epochs: int = 1
    seed: int = 0
    val_split: float = 0.0  # fraction of the training set held out for validation
    grad_every: int = 20  # steps between gradient statistics; 0 = never

    def momentum_for(self, optimizer: str | None = None) -> float | None:
        """The momentum `optimizer` (default: the chosen one) uses; None if it has none."""
        field_name = MOMENTUM_FIELDS.get(optimizer or self.optimizer)
        return None if field_name is None else getattr(self, field_name)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainSettings:
        """Settings from a project's "training" dict; missing keys take defaults, unknown
        keys are ignored (a newer file may hold more), bad values raise SettingsError."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise SettingsError(f"training settings must be an object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        settings = cls(**{k: v for k, v in d.items() if k in known})
        return settings.validated()

    def replace(self, **changes) -> TrainSettings:
        """A validated copy with some fields changed (None values are left unchanged)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> TrainSettings:
        """A copy with values coerced to their types; raises SettingsError naming the field."""
        s = dataclasses.replace(self)
        s.dataset = _string(s.dataset, "dataset")
        s.loss = _choice(s.loss, "loss", LOSSES)
        s.optimizer = _choice(s.optimizer, "optimizer", OPTIMIZERS)
        s.schedule = _choice(s.schedule, "schedule", SCHEDULES)
        s.lr = _number(s.lr, "lr", low=0.0, low_open=True)
        s.momentum = _number(s.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        s.rmsprop_momentum = _number(
            s.rmsprop_momentum, "rmsprop_momentum", low=0.0, high=1.0, high_open=True
        )
        s.nesterov = _boolean(s.nesterov, "nesterov")
        if s.nesterov and s.optimizer == "sgd" and s.momentum == 0:
            raise SettingsError("nesterov needs a momentum above 0; set momentum (e.g. 0.9)")
        if not isinstance(s.betas, list | tuple) or len(s.betas) != 2:
            raise SettingsError(f"betas must be two numbers such as [0.9, 0.999], got {s.betas!r}")
        s.betas = tuple(
            _number(b, f"betas[{i}]", low=0.0, high=1.0, high_open=True)
            for i, b in enumerate(s.betas)
        )
        s.weight_decay = _number(s.weight_decay, "weight_decay", low=0.0)
        s.step_size = _integer(s.step_size, "step_size", low=1)
        s.gamma = _number(s.gamma, "gamma", low=0.0, low_open=True)
        if not isinstance(s.milestones, list | tuple):
            raise SettingsError(f"milestones must be a list of epochs, got {s.milestones!r}")
        s.milestones = tuple(sorted(_integer(m, "milestones", low=1) for m in s.milestones))
        s.t_max = _integer(s.t_max, "t_max", low=0)
        s.patience = _integer(s.patience, "patience", low=0)
        s.batch_size = _integer(s.batch_size, "batch_size", low=1)
        s.epochs = _integer(s.epochs, "epochs", low=1)
        s.seed = _integer(s.seed, "seed", low=0)
        s.val_split = _number(s.val_split, "val_split", low=0.0, high=1.0, high_open=True)
        s.grad_every = _integer(s.grad_every, "grad_every", low=0)
        return s


def _string(value, name):
    if not isinstance(value, str) or not value:
        raise SettingsError(f"{name} must be a non-empty text, got {value!r}")
    return value


def _choice(value, name, choices):
    if value not in choices:
        raise SettingsError(f"{name} {value!r} is unknown; choose one of: {', '.join(choices)}")
    return value


def _boolean(value, name):
    if not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false, got {value!r}")
    return value


def _integer(value, name, low=None):
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise SettingsError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise SettingsError(f"{name} must be at least {low}, got {value}")
    return value


def _number(value, name, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        bound = "above" if low_open else "at least"
        raise SettingsError(f"{name} must be {bound} {low:g}, got {value:g}")
    if high is not None and (value > high or (high_open and value == high)):
        bound = "below" if high_open else "at most"
        raise SettingsError(f"{name} must be {bound} {high:g}, got {value:g}")
    return value
