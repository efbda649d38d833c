"""What the settings form offers: the Trainer's own choices (one source), with readable labels."""

from __future__ import annotations

from netbuilder.training import LOSSES, OPTIMIZERS, SCHEDULES, TrainSettings
from netbuilder.training.settings import MOMENTUM_FIELDS  # noqa: F401 - the form reads it here

_LABELS = {
    "cross_entropy": "Cross-entropy",
    "nll": "Negative log-likelihood",
    "mse": "Mean squared error (one-hot)",
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "none": "Constant",
    "step": "Step decay",
    "multistep": "Decay at milestones",
    "exponential": "Exponential decay",
    "cosine": "Cosine annealing",
    "plateau": "Lower on plateau",
}


def label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " ").capitalize())


LOSS_CHOICES = [(k, label(k)) for k in LOSSES]
OPTIMIZER_CHOICES = [(k, label(k)) for k in OPTIMIZERS]
SCHEDULE_CHOICES = [(k, label(k)) for k in SCHEDULES]

# which hyperparameters each optimizer and schedule reads (the others are hidden)
NESTEROV_OPTIMIZERS = {"sgd"}
BETAS_OPTIMIZERS = {"adam", "adamw"}
SCHEDULE_FIELDS = {
    "none": (),
    "step": ("step_size", "gamma"),
    "multistep": ("milestones", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("t_max",),
    "plateau": ("gamma", "patience"),
}


def defaults() -> dict:
    """TrainSettings' defaults as the project stores them."""
    return TrainSettings().to_dict()
