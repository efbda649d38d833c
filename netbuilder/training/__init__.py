"""Training: settings, the Trainer and its events (plain Python, no Qt)."""

from .events import (
    EpochEnd,
    EpochSamples,
    Failed,
    Finished,
    LayerDiagnostics,
    Paused,
    Resumed,
    RunStarted,
    StepEnd,
    Stopped,
)
from .settings import LOSSES, OPTIMIZERS, SCHEDULES, SettingsError, TrainSettings
from .trainer import Trainer, TrainingError

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "EpochEnd",
    "EpochSamples",
    "Failed",
    "Finished",
    "LayerDiagnostics",
    "Paused",
    "Resumed",
    "RunStarted",
    "SettingsError",
    "StepEnd",
    "Stopped",
    "TrainSettings",
    "Trainer",
    "TrainingError",
]
