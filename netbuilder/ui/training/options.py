"""What the settings form offers: the settings schema's choices with their readable labels."""

from __future__ import annotations

from netbuilder.training import TrainSettings
from netbuilder.training.schema import BY_NAME


def label(key: str) -> str:
    """The readable label of any choice value ("sgd" -> "SGD")."""
    for setting in BY_NAME.values():
        found = dict(setting.choices).get(key)
        if found is not None:
            return found
    return key.replace("_", " ").capitalize()


LOSS_CHOICES = list(BY_NAME["loss"].choices)
OPTIMIZER_CHOICES = list(BY_NAME["optimizer"].choices)
SCHEDULE_CHOICES = list(BY_NAME["schedule"].choices)


def defaults() -> dict:
    """TrainSettings' defaults as the project stores them."""
    return TrainSettings().to_dict()
