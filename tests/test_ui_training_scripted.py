"""A scripted stand-in for the Trainer, run in the dashboard's child process by the tests.

Not a test module (it holds no tests): it is kept light (no Qt) because every training child
imports it to unpickle ScriptedFactory. It sends the real event types of netbuilder.training
at a steady pace, with pause/resume/stop as the real Trainer has them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from netbuilder.training import (
    EpochEnd,
    EpochSamples,
    Failed,
    Finished,
    Paused,
    Resumed,
    RunStarted,
    StepEnd,
    Stopped,
    TrainSettings,
)


@dataclass(frozen=True)
class ScriptedFactory:
    """trainer_factory for install(): picklable, so it crosses into the child process."""

    steps_per_epoch: int = 30
    step_s: float = 0.004
    nan_at: int | None = None
    layers: tuple[str, ...] = ("conv1", "fc1")  # the compiled names it reports norms for

    def __call__(self, graph_dict, settings_dict):
        return ScriptedTrainer(
            TrainSettings.from_dict(settings_dict),
            self.steps_per_epoch,
            self.step_s,
            self.nan_at,
            self.layers,
        )


class ScriptedTrainer:
    """Sends the Trainer's events with a fixed loss curve; pause/resume/stop as the real one."""

    LAYERS = ("conv1", "fc1")

    def __init__(self, settings, steps_per_epoch=30, step_s=0.004, nan_at=None, layers=None):
        self.settings = settings
        self.LAYERS = tuple(layers or self.LAYERS)
        self.steps_per_epoch, self.step_s, self.nan_at = steps_per_epoch, step_s, nan_at
        self._listeners = []
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self.step = 0
        rng = np.random.default_rng(0)
        self.data = SimpleNamespace(
            x_test=rng.integers(0, 255, (16, 28, 28), dtype=np.uint8),
            y_test=np.arange(16) % 10,
        )

    def subscribe(self, cb):
        self._listeners.append(cb)

    def unsubscribe(self, cb):
        self._listeners.remove(cb)

    def pause(self):
        self._go.clear()

    def resume(self):
        self._go.set()

    def stop(self):
        self._stop.set()
        self._go.set()

    def _emit(self, e):
        for cb in self._listeners:
            cb(e)

    def feature_maps(self, node_name, image):
        return np.random.default_rng(1).random((6, 24, 24)).astype(np.float32)

    def run(self):
        params = tuple(f"{n}.{p}" for n in self.LAYERS for p in ("weight", "bias"))
        self._emit(
            RunStarted(
                self.settings.epochs,
                self.steps_per_epoch,
                params,
                self.LAYERS,
                1,
                (1, 28, 28),
                10,
                64 * self.steps_per_epoch,
                100,
            )
        )
        for epoch in range(1, self.settings.epochs + 1):
            for _ in range(self.steps_per_epoch):
                if not self._go.is_set():
                    self._emit(Paused(self.step))
                    self._go.wait()
                    if not self._stop.is_set():
                        self._emit(Resumed(self.step))
                if self._stop.is_set():
                    self._emit(Stopped(self.step))
                    return
                time.sleep(self.step_s)
                self.step += 1
                loss = 2.3 / (1 + 0.05 * self.step)
                if self.nan_at is not None and self.step >= self.nan_at:
                    self._emit(
                        Failed(
                            self.step,
                            "the loss became NaN at step "
                            f"{self.step}; the learning rate is probably too high",
                        )
                    )
                    return
                norms = hists = None
                if self.step % 5 == 0:
                    norms = {p: 0.1 * (i + 1) for i, p in enumerate(params)}
                    h = (np.arange(32), np.linspace(-1, 1, 33))
                    hists = {p: {"grad": h, "weight": h} for p in params}
                self._emit(StepEnd(self.step, epoch, loss, 5000.0, 0.01, norms, hists))
            confusion = np.diag(np.full(10, 9)) + 1
            samples = EpochSamples(
                self.data.x_test,
                self.data.y_test,
                (self.data.y_test + (np.arange(16) % 4 == 0)) % 10,
            )
            self._emit(EpochEnd(epoch, 1.0, 0.9, 0.9, confusion, 0.1, samples))
        self._emit(Finished(self.step))
