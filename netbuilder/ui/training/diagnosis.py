"""Plain-words warnings about a run's layers, read from its gradient norms and diagnostics.

No Qt. Each warning names the block it is about, says what the numbers mean and what to try.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .runs import RunCurves

RECENT = 5  # measurements a warning looks at: one noisy batch does not raise it
VANISH_RATIO = 1e-3  # a layer's gradient this much smaller than the others' (geometric mean)
EXPLODE_RATIO = 1e3
EXPLODE_ABS = 1e3
UPDATE_HIGH = 1e-1  # |dw|/|w| per step: healthy near 1e-3
UPDATE_LOW = 1e-6
DEAD_SHARE = 0.5
HEALTHY_UPDATE = (1e-4, 1e-2)  # the band the update-ratio plot shades


@dataclass(frozen=True)
class Warning_:
    block: str  # the node name the warning points at
    kind: str  # "vanishing", "exploding", "update-high", "update-low", "dead"
    text: str


def _recent(series) -> float:
    if series is None or not len(series):
        return math.nan
    tail = series.y[-RECENT:]
    tail = tail[np.isfinite(tail)]
    if not len(tail):
        return math.inf if len(series.y[-RECENT:]) else math.nan
    positive = tail[tail > 0]
    if not len(positive):
        return 0.0
    return float(np.exp(np.log(positive).mean()))


def diagnose(run: RunCurves) -> list[Warning_]:
    out: list[Warning_] = []
    norms = {name: _recent(s) for name, s in run.grad_norms.items()}
    for name, value in norms.items():
        others = [v for k, v in norms.items() if k != name and math.isfinite(v) and v > 0]
        centre = math.exp(sum(math.log(v) for v in others) / len(others)) if others else math.nan
        if math.isfinite(value) and (
            value == 0 or (math.isfinite(centre) and value < VANISH_RATIO * centre)
        ):
            times = f", {centre / value:,.0f}× smaller than the other layers'" if value else ""
            out.append(
                Warning_(
                    name,
                    "vanishing",
                    f"{name}: its gradient is vanishing (norm {value:.2g}{times}), so it barely "
                    "learns. Try ReLU instead of Sigmoid or Tanh before it, BatchNorm, or fewer "
                    "layers between it and the loss.",
                )
            )
        elif not math.isnan(value) and (
            not math.isfinite(value)
            or value > EXPLODE_ABS
            or (math.isfinite(centre) and value > EXPLODE_RATIO * centre)
        ):
            out.append(
                Warning_(
                    name,
                    "exploding",
                    f"{name}: its gradient is exploding (norm {value:.2g}), so its steps are "
                    "huge and the loss may turn NaN. Lower the learning rate, or add BatchNorm.",
                )
            )
    for name, series in run.update_ratio.items():
        value = _recent(series)
        if not math.isfinite(value):
            continue
        if value > UPDATE_HIGH:
            out.append(
                Warning_(
                    name,
                    "update-high",
                    f"{name}: each step changes its weights by {100 * value:.0f} % "
                    f"(update/weight ratio {value:.2g}; healthy is near 0.001): the learning "
                    "rate is too high for it.",
                )
            )
        elif value < UPDATE_LOW:
            out.append(
                Warning_(
                    name,
                    "update-low",
                    f"{name}: its weights hardly move (update/weight ratio {value:.2g}; healthy "
                    "is near 0.001): the learning rate may be too low for it.",
                )
            )
    for name, series in run.dead_fraction.items():
        if not len(series):
            continue
        share = float(np.nanmean(series.y[-RECENT:]))
        if share > DEAD_SHARE:
            out.append(
                Warning_(
                    name,
                    "dead",
                    f"{name}: {100 * share:.0f} % of its units output zero for every image of "
                    "a batch (dead ReLUs). Lower the learning rate, or try LeakyReLU.",
                )
            )
    return out
