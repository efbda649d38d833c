"""Runs a Trainer on a background thread and hands its events to the UI through a queue.

No Qt here: the worker never touches a widget. The dashboard drains `worker.events` from a
QTimer on the UI thread. Besides the Trainer's own small events, the worker adds the feature
maps the UI asked for (computed on the training thread between two steps, so the UI never
waits for the model) and WorkerDone when the thread ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureMaps:
    """The output of one block for one test image: (C, H, W) float32, at most MAX_MAPS."""

    node_name: str
    maps: np.ndarray


@dataclass(frozen=True)
class WorkerFailed:
    """Trainer.run() raised (it should not: it reports failures as events); for the user."""

    message: str
    details: str


@dataclass(frozen=True)
class WorkerDone:
    """The training thread has ended; the run's last event is already in the queue."""


MAX_MAPS = 32  # channels sent per feature-map view (a 512-channel block would be unreadable)
FEATURE_IMAGE = 0  # index of the test image whose feature maps are shown


def feature_maps_of(trainer, node_name: str) -> FeatureMaps:
    """The feature maps of `node_name` for the test image, trimmed to what the view shows."""
    maps = np.asarray(trainer.feature_maps(node_name, FEATURE_IMAGE), dtype=np.float32)
    if maps.ndim == 3:
        maps = maps[:MAX_MAPS]
    return FeatureMaps(node_name, np.ascontiguousarray(maps))


class TrainingWorker:
    """One `trainer.run()` on a daemon thread; `events` receives everything it reports."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._feature_node: str | None = None
        self._feature_due = False
        self._thread = threading.Thread(target=self._run, name="netbuilder-training", daemon=True)

    # -- called from the UI thread -------------------------------------------------------
    def start(self) -> None:
        self.trainer.subscribe(self._on_event)
        self._thread.start()

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def stop(self) -> None:
        self.trainer.stop()

    def request_features(self, node_name: str | None) -> None:
        """Show `node_name`'s feature maps: computed after the next step and every epoch."""
        with self._lock:
            self._feature_node = node_name
            self._feature_due = node_name is not None

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the training thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.trainer.run()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the window
            self.events.put(
                WorkerFailed(
                    f"training failed: {type(exc).__name__}: {exc}", traceback.format_exc()
                )
            )
        finally:
            self.trainer.unsubscribe(self._on_event)
            self.events.put(WorkerDone())

    def _on_event(self, event) -> None:
        self.events.put(event)
        kind = type(event).__name__
        if kind not in ("StepEnd", "EpochEnd"):
            return
        with self._lock:
            wanted = self._feature_node if (self._feature_due or kind == "EpochEnd") else None
            self._feature_due = False
        if wanted:
            try:
                self.events.put(feature_maps_of(self.trainer, wanted))
            except Exception:  # noqa: BLE001 - a view that cannot be drawn must not end the run
                log.debug("feature maps of %s failed", wanted, exc_info=True)
