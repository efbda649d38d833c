"""The curves of one training run: filled from events, drawn by the plots, saved in the project.

No Qt here. A run saved in the project ("runs" list) is a small dict: curves are thinned to a few
hundred points and every number is a finite float or None, so the project file stays small and
valid JSON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

RUN_FORMAT = 1
SMOOTHING = 0.95  # EMA weight of the smoothed loss (as TensorBoard's slider at 0.95)
SAVED_POINTS = 400  # points kept per curve in the project file
KEPT_RUNS = 100  # older runs drop out of the runs file


class Series:
    """A growable pair of float arrays (x, y) with O(1) append and zero-copy views."""

    def __init__(self, capacity: int = 1024):
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def __len__(self) -> int:
        return self.n

    @classmethod
    def from_arrays(cls, x, y) -> Series:
        s = cls(max(16, len(x)))
        for a, b in zip(x, y):
            s.append(float(a), math.nan if b is None else float(b))
        return s


@dataclass
class EpochPoint:
    epoch: int
    step: int
    train_loss: float
    test_loss: float
    test_accuracy: float
    seconds: float
    val_loss: float = math.nan  # only when the run held out a validation split
    val_accuracy: float = math.nan


@dataclass
class RunCurves:
    """Everything the plots draw for one run."""

    loss: Series = field(default_factory=Series)
    wall: Series = field(default_factory=Series)  # step -> seconds since the run began
    smoothed: Series = field(default_factory=Series)
    epochs: list[EpochPoint] = field(default_factory=list)
    grad_norms: dict[str, Series] = field(default_factory=dict)
    update_ratio: dict[str, Series] = field(default_factory=dict)  # |dw|/|w| per layer
    dead_fraction: dict[str, Series] = field(default_factory=dict)  # per ReLU block
    # per layer: {"step": [int], "weight": [(5,) quantiles], "grad": [...]}; not saved
    quantiles: dict[str, dict] = field(default_factory=dict)
    layer_names: list[str] = field(default_factory=list)
    steps_per_epoch: int = 0
    total_epochs: int = 0
    samples_per_s: float = 0.0
    status: str = "running"
    message: str = ""
    settings: dict = field(default_factory=dict)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
    name: str = ""  # the person's name for the run; "" shows its start time
    seconds: float = 0.0  # how long the run took
    train_samples: int = 0
    test_samples: int = 0
    _ema: float = math.nan
    _ema_weight: float = 0.0

    def add_step(self, step: int, loss: float, seconds: float = math.nan) -> None:
        self.loss.append(step, loss)
        self.wall.append(step, seconds)
        if math.isfinite(loss):
            prev = 0.0 if math.isnan(self._ema) else self._ema
            self._ema = SMOOTHING * prev + (1.0 - SMOOTHING) * loss
            self._ema_weight = SMOOTHING * self._ema_weight + (1.0 - SMOOTHING)
            # debiased, so the first steps are not pulled towards zero
            self.smoothed.append(step, self._ema / self._ema_weight)

    def add_grad_norms(self, step: int, norms: dict[str, float]) -> None:
        for name, value in norms.items():
            series = self.grad_norms.get(name)
            if series is None:
                series = self.grad_norms[name] = Series(256)
            series.append(step, value)

    def add_diagnostics(self, step: int, update_ratio, dead_fraction, weights, grads) -> None:
        for target, values in (
            (self.update_ratio, update_ratio),
            (self.dead_fraction, dead_fraction),
        ):
            for name, value in values.items():
                series = target.get(name)
                if series is None:
                    series = target[name] = Series(256)
                series.append(step, float(value))
        for name, q in weights.items():
            entry = self.quantiles.setdefault(name, {"step": [], "weight": [], "grad": []})
            entry["step"].append(step)
            entry["weight"].append(np.asarray(q, dtype=np.float64))
            entry["grad"].append(np.asarray(grads.get(name, np.full(5, np.nan)), dtype=np.float64))

    def add_epoch(self, point: EpochPoint) -> None:
        self.epochs.append(point)

    @property
    def title(self) -> str:
        return self.name or self.started

    @property
    def last_step(self) -> int:
        return int(self.loss.x[-1]) if len(self.loss) else 0

    # -- the project file ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": RUN_FORMAT,
            "started": self.started,
            "name": self.name,
            "seconds": _num(self.seconds),
            "status": self.status,
            "message": self.message,
            "settings": _clean(self.settings),
            "steps_per_epoch": int(self.steps_per_epoch),
            "epochs_planned": int(self.total_epochs),
            "samples_per_s": _num(self.samples_per_s),
            "layers": list(self.layer_names),
            "loss": _thin(self.loss),
            "wall": _thin(self.wall),
            "smoothed": _thin(self.smoothed),
            "epochs": [
                {
                    "epoch": p.epoch,
                    "step": p.step,
                    "train_loss": _num(p.train_loss),
                    "test_loss": _num(p.test_loss),
                    "test_accuracy": _num(p.test_accuracy),
                    "seconds": _num(p.seconds),
                    "val_loss": _num(p.val_loss),
                    "val_accuracy": _num(p.val_accuracy),
                }
                for p in self.epochs
            ],
            "grad_norms": {name: _thin(s) for name, s in self.grad_norms.items()},
            "update_ratio": {name: _thin(s) for name, s in self.update_ratio.items()},
            "dead_fraction": {name: _thin(s) for name, s in self.dead_fraction.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> RunCurves:
        """Rebuild a saved run; raises ValueError naming the bad field."""
        if not isinstance(d, dict):
            raise ValueError("a saved run must be an object")
        run = cls()
        try:
            run.started = str(d.get("started", ""))
            run.status = str(d.get("status", "finished"))
            run.name = str(d.get("name", "") or "")
            run.seconds = float(d.get("seconds") or 0.0)
            run.message = str(d.get("message", ""))
            run.settings = dict(d.get("settings", {}))
            run.steps_per_epoch = int(d.get("steps_per_epoch", 0))
            run.total_epochs = int(d.get("epochs_planned", 0))
            run.samples_per_s = float(d.get("samples_per_s") or 0.0)
            run.layer_names = [str(n) for n in d.get("layers", [])]
            run.loss = _unthin(d.get("loss"))
            run.wall = _unthin(d.get("wall"))
            run.smoothed = _unthin(d.get("smoothed"))
            for e in d.get("epochs", []):
                run.epochs.append(
                    EpochPoint(
                        int(e["epoch"]),
                        int(e["step"]),
                        _flt(e.get("train_loss")),
                        _flt(e.get("test_loss")),
                        _flt(e.get("test_accuracy")),
                        _flt(e.get("seconds")),
                        _flt(e.get("val_loss")),
                        _flt(e.get("val_accuracy")),
                    )
                )
            run.grad_norms = {str(k): _unthin(v) for k, v in d.get("grad_norms", {}).items()}
            for key in ("update_ratio", "dead_fraction"):
                setattr(run, key, {str(k): _unthin(v) for k, v in d.get(key, {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"saved run from {d.get('started', '?')} is damaged: {exc}") from exc
        return run


def _num(v) -> float | None:
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


def _flt(v) -> float:
    return math.nan if v is None else float(v)


def _clean(obj):
    """A JSON-safe copy of a settings dict (tuples to lists, non-finite floats to None)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def _thin(series: Series) -> dict:
    """At most SAVED_POINTS points: bin means, so the saved curve keeps the run's shape."""
    x, y = series.x, series.y
    if len(x) > SAVED_POINTS:
        edges = np.linspace(0, len(x), SAVED_POINTS + 1).astype(int)
        xs, ys = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            seg = y[a:b]
            finite = seg[np.isfinite(seg)]
            xs.append(x[b - 1])
            ys.append(finite.mean() if len(finite) else math.nan)
        x, y = np.asarray(xs), np.asarray(ys)
    return {
        "step": [int(v) for v in x],
        "value": [float(f"{v:.6g}") if math.isfinite(v) else None for v in y],
    }


def _unthin(d) -> Series:
    if not d:
        return Series(16)
    steps, values = d["step"], d["value"]
    if len(steps) != len(values):
        raise ValueError("step and value lists differ in length")
    return Series.from_arrays(steps, values)
