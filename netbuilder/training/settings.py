"""Training settings: what the project file stores under "training" and the CLI overrides.

`TrainSettings` is generated from the schema (netbuilder/training/schema.py): one field per
setting, with the schema's default; `validated()` applies the schema's checks.
"""

from __future__ import annotations

import dataclasses

from .schema import BY_NAME, SETTINGS, SettingsError, choices

LOSSES = choices("loss")
OPTIMIZERS = choices("optimizer")
SCHEDULES = choices("schedule")
# the settings field holding each optimizer's momentum (the others have none)
MOMENTUM_FIELDS = {"sgd": "momentum", "rmsprop": "rmsprop_momentum"}

__all__ = [
    "LOSSES",
    "MOMENTUM_FIELDS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SettingsError",
    "TrainSettings",
    "check_training",
]


def _cross_checks(s) -> None:
    """Rules between settings (one setting's range is in the schema)."""
    if s.nesterov and s.optimizer == "sgd":
        if s.momentum == 0:
            raise SettingsError("nesterov", "needs a momentum above 0; set momentum (e.g. 0.9)")
        if s.dampening != 0:
            raise SettingsError("nesterov", "needs a dampening of 0")


class _Methods:
    def momentum_for(self, optimizer: str | None = None) -> float | None:
        """The momentum `optimizer` (default: the chosen one) uses; None if it has none."""
        field_name = MOMENTUM_FIELDS.get(optimizer or self.optimizer)
        return None if field_name is None else getattr(self, field_name)

    def to_dict(self) -> dict:
        """The settings as the project file stores them (JSON types)."""
        return {s.name: s.to_json(getattr(self, s.name)) for s in SETTINGS}

    @classmethod
    def from_dict(cls, d: dict | None):
        """Settings from a project's "training" dict; missing keys take defaults, unknown
        keys are ignored (a newer file may hold more), bad values raise SettingsError."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise SettingsError("training settings", f"must be an object, got {type(d).__name__}")
        return cls(**{k: v for k, v in d.items() if k in BY_NAME}).validated()

    def replace(self, **changes):
        """A validated copy with some fields changed (None values are left unchanged)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes).validated()

    def validated(self):
        """A copy with values coerced to their types; raises SettingsError naming the field."""
        values = {s.name: s.check(getattr(self, s.name)) for s in SETTINGS}
        out = dataclasses.replace(self, **values)
        _cross_checks(out)
        return out


TrainSettings = dataclasses.make_dataclass(
    "TrainSettings",
    [
        (s.name, object, dataclasses.field(default=s.default))
        if not isinstance(s.default, list | dict)
        else (s.name, object, dataclasses.field(default_factory=lambda d=s.default: list(d)))
        for s in SETTINGS
    ],
    bases=(_Methods,),
    namespace={"__module__": __name__},
)
TrainSettings.__doc__ = (
    "Everything a run needs besides the graph and the data (the classic recipe by default); "
    "one field per setting of netbuilder.training.schema.SETTINGS."
)


def check_training(d) -> dict:
    """A project's "training" dict checked against the schema: the known settings validated
    (SettingsError naming the first bad one), unknown keys kept as they are (a newer version
    may have written them)."""
    settings = TrainSettings.from_dict(d)
    out = dict(d or {})
    for s in SETTINGS:
        if s.name in out:
            out[s.name] = s.to_json(getattr(settings, s.name))
    return out
