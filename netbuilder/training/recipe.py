"""The training recipe: which constructor builds each optimizer, lr schedule and loss, and which
settings it takes. The Trainer calls them on the engine; the exporter writes the same calls as
code (`optim.Adam(parameters, lr=args.lr, betas=args.betas, ...)`), so nothing a setting says
can reach one and not the other.

An optimizer option is one keyword here: `"amsgrad": "amsgrad"` passes the setting of that
name (netbuilder/training/schema.py) as the keyword argument of that name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .schema import SettingsError


@dataclass(frozen=True)
class Call:
    """`<module>.<ctor>(<first>, keyword=setting, ...)`."""

    ctor: str
    kwargs: dict[str, str] = field(default_factory=dict)  # keyword -> setting name
    fixed: dict = field(default_factory=dict)  # keyword -> constant
    # keyword -> (value from settings, the same as code over `args`)
    derived: dict = field(default_factory=dict)

    def arguments(self, settings) -> dict:
        out = {k: getattr(settings, name) for k, name in self.kwargs.items()}
        out.update(self.fixed)
        out.update({k: make(settings) for k, (make, _code) in self.derived.items()})
        return {k: list(v) if k == "milestones" else v for k, v in out.items()}

    def code_arguments(self, first: str = "", args: str = "args") -> list[str]:
        """The call's arguments as code, with the settings read from `args`."""
        parts = [first] if first else []
        parts += [f"{k}={args}.{name}" for k, name in self.kwargs.items()]
        parts += [f"{k}={_literal(v)}" for k, v in self.fixed.items()]
        parts += [f"{k}={code.format(args=args)}" for k, (_make, code) in self.derived.items()]
        return parts

    def code(self, module: str, first: str = "", args: str = "args") -> str:
        return f"{module}.{self.ctor}({', '.join(self.code_arguments(first, args))})"


def _literal(value) -> str:
    """repr(), double-quoted for plain strings (the exported code's style)."""
    text = repr(value)
    if isinstance(value, str) and "'" not in value and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


OPTIMIZERS = {
    "sgd": Call(
        "SGD",
        {
            "lr": "lr",
            "momentum": "momentum",
            "dampening": "dampening",
            "weight_decay": "weight_decay",
            "nesterov": "nesterov",
        },
    ),
    "adam": Call(
        "Adam",
        {
            "lr": "lr",
            "betas": "betas",
            "eps": "eps",
            "weight_decay": "weight_decay",
            "amsgrad": "amsgrad",
        },
    ),
    "adamw": Call(
        "AdamW",
        {
            "lr": "lr",
            "betas": "betas",
            "eps": "eps",
            "weight_decay": "weight_decay",
            "amsgrad": "amsgrad",
        },
    ),
    "rmsprop": Call(
        "RMSprop",
        {
            "lr": "lr",
            "alpha": "alpha",
            "eps": "eps",
            "weight_decay": "weight_decay",
            "momentum": "rmsprop_momentum",
            "centered": "centered",
        },
    ),
    "adagrad": Call(
        "Adagrad",
        {
            "lr": "lr",
            "lr_decay": "lr_decay",
            "weight_decay": "weight_decay",
            "initial_accumulator_value": "initial_accumulator_value",
        },
    ),
}

# stepped once per epoch, as in PyTorch; "none" has no scheduler
SCHEDULES = {
    "none": None,
    "step": Call("StepLR", {"step_size": "step_size", "gamma": "gamma"}),
    "multistep": Call("MultiStepLR", {"milestones": "milestones", "gamma": "gamma"}),
    "exponential": Call("ExponentialLR", {"gamma": "gamma"}),
    "cosine": Call(
        "CosineAnnealingLR",
        derived={"T_max": (lambda s: s.t_max or s.epochs, "{args}.t_max or {args}.epochs")},
    ),
    "plateau": Call(
        "ReduceLROnPlateau", {"factor": "gamma", "patience": "patience"}, fixed={"mode": "min"}
    ),
}

# the network's scores and the labels -> the loss; "mse" compares with one-hot labels
LOSSES = {
    "cross_entropy": Call("CrossEntropyLoss"),
    "nll": Call("NLLLoss"),
    "mse": Call("MSELoss"),
}
ONE_HOT_LOSSES = frozenset({"mse"})


# what a schedule needs beyond each setting's own range:
# schedule -> (setting, the test that fails, the same test as code over `{args}`, problem)
NEEDS = {
    "multistep": (
        "milestones",
        lambda s: not s.milestones,
        "not {args}.milestones",
        "are needed by the multistep schedule (epochs), e.g. 2,4",
    ),
    "plateau": (
        "gamma",
        lambda s: s.gamma >= 1,
        "{args}.gamma >= 1",
        "must be below 1 for the plateau schedule (the lr factor)",
    ),
}


def check(settings) -> None:
    """What the chosen schedule needs beyond each setting's own range (SettingsError)."""
    need = NEEDS.get(settings.schedule)
    if need is not None and need[1](settings):
        raise SettingsError(need[0], need[3])


def make_optimizer(settings, parameters, optim):
    """The optimizer, from `optim` (engine.optim or torch.optim)."""
    call = OPTIMIZERS[settings.optimizer]
    return getattr(optim, call.ctor)(list(parameters), **call.arguments(settings))


def make_scheduler(settings, optimizer, lr_scheduler):
    check(settings)
    call = SCHEDULES[settings.schedule]
    if call is None:
        return None
    return getattr(lr_scheduler, call.ctor)(optimizer, **call.arguments(settings))


def make_loss(settings, nn):
    call = LOSSES[settings.loss]
    return getattr(nn, call.ctor)(**call.arguments(settings))
