"""Events a Trainer sends to its listeners: small records (numbers and short arrays only).

Counting: `step` is the number of optimizer steps done so far in this Trainer (the first
StepEnd has step=1); `epoch` counts from 1. A run sends RunStarted first and exactly one of
Stopped, Finished or Failed last; Paused/Resumed come in pairs in between. A StepEnd that
carries gradient norms is followed by a LayerDiagnostics for the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class RunStarted:
    epochs: int  # epochs this run will do
    steps_per_epoch: int
    param_names: tuple[str, ...]  # "conv1.weight", ... (state_dict order)
    layer_names: tuple[str, ...]  # node names that hold parameters ("conv1", "fc3")
    first_step: int = 1  # step number of this run's first StepEnd (a resumed Trainer goes on)
    input_shape: tuple[int, ...] = ()  # the Input block's shape the data was prepared to
    num_classes: int = 0
    train_samples: int = 0
    test_samples: int = 0


@dataclass(frozen=True, slots=True)
class StepEnd:
    step: int
    epoch: int
    loss: float
    samples_per_s: float
    lr: float
    # every `grad_every` steps, else None: {param name: L2 norm of its gradient}
    grad_norms: dict | None = field(default=None, repr=False)
    # same steps: {param name: {"grad": (counts, edges), "weight": (counts, edges)}},
    # 32 bins; counts int64 (32,), edges float64 (33,)
    histograms: dict | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class EpochSamples:
    """A few test images for the dashboard's grid, the same images every epoch."""

    # uint8 (K, H, W) or (K, H, W, C), as the data set holds them
    images: np.ndarray = field(repr=False)
    labels: np.ndarray  # int64 (K,) true classes
    predicted: np.ndarray  # int64 (K,) the network's classes after this epoch


@dataclass(frozen=True, slots=True)
class EpochEnd:
    epoch: int
    train_loss: float  # mean over this epoch's training samples
    test_loss: float
    test_accuracy: float  # 0..1
    # int64 (classes, classes): rows true class, columns predicted
    confusion: np.ndarray = field(repr=False)
    seconds: float  # wall time of the epoch, its evaluation included
    samples: EpochSamples | None = None
    lr: float = 0.0  # learning rate after this epoch's schedule step
    val_loss: float | None = None  # only when settings.val_split > 0
    val_accuracy: float | None = None


@dataclass(frozen=True, slots=True)
class Paused:
    step: int


@dataclass(frozen=True, slots=True)
class Resumed:
    step: int


@dataclass(frozen=True, slots=True)
class Stopped:
    step: int


@dataclass(frozen=True, slots=True)
class Finished:
    step: int


@dataclass(frozen=True, slots=True)
class Failed:
    step: int
    message: str  # for a person: what went wrong and what to do


@dataclass(frozen=True, slots=True)
class LayerDiagnostics:
    """On the steps that measure gradients (every `grad_every`), right after their StepEnd:
    what gradient norms alone do not show. Keys are layer (node) names."""

    step: int
    # ||w_after - w_before|| / ||w_before|| over the layer's parameters: the learning-rate
    # health check (around 1e-3 is healthy; much larger, too high; much smaller, too low)
    update_ratio: dict = field(repr=False)
    # per ReLU block: the share of its units that were zero for every sample of the batch
    dead_fraction: dict = field(repr=False)
    # per layer: float64 (5,) quantiles (5, 25, 50, 75, 95 %) of its weights and gradients
    weight_quantiles: dict = field(repr=False)
    grad_quantiles: dict = field(repr=False)


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

TERMINAL = (Stopped, Finished, Failed)
