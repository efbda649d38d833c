"""A training run seen from the UI: the child process, the queue of its events and the run's data.

TrainingSession owns no widget. A QTimer on the UI thread (10 Hz) drains the child's queue for
at most TICK_BUDGET_S, turns each event into the run's curves (RunCurves) and says what changed
through typed signals; the dashboard's views redraw from them once per batch (`batchHandled`).
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from .result import TrainedModel
from .runs import EpochPoint, RunCurves
from .worker import FeatureMaps, RunResult, TrainingProcess, WorkerDone

log = logging.getLogger(__name__)

TICK_MS = 100  # UI refresh: 10 Hz (each frame a busy machine can stretch; fewer is smoother)
TICK_BUDGET_S = 0.010  # most of one tick spent handling events; the rest wait for the next
CHILD_GRACE_S = 1.0  # a child gone without a word: wait this long for its last messages


class TrainingSession(QObject):
    """Starts, pauses, stops and follows one run at a time.

    Signals (all on the UI thread):
      started(RunCurves)            a run's process is up; its curves are empty
      runBegan(RunCurves)           the trainer said how many steps and which layers
      gradNormsAdded(int)           per-layer gradient norms at that step (in run.grad_norms)
      diagnosticsAdded(int)         update ratios, dead ReLU shares, quantiles at that step
      histogramsAdded(int, dict)    {param: {"grad": (counts, edges), "weight": ...}} at a step
      epochEnded(object)            the trainer's EpochEnd (confusion matrix, sample images)
      pausedChanged(bool)
      featureMapsArrived(object)    FeatureMaps for the block asked for with request_features
      resultReady(object)           TrainedModel: the weights at the run's end
      batchHandled(bool)            a batch of events is in the run; True when it was the last
      ended(RunCurves)              the run ended (run.status: finished, stopped or failed)
      failed(str, str)              (title, message) for a person, after `ended`
    """

    started = Signal(object)
    runBegan = Signal(object)
    gradNormsAdded = Signal(int)
    diagnosticsAdded = Signal(int)  # update ratios, dead units, quantiles (in the run)
    histogramsAdded = Signal(int, dict)
    epochEnded = Signal(object)
    pausedChanged = Signal(bool)
    featureMapsArrived = Signal(object)
    resultReady = Signal(object)
    batchHandled = Signal(bool)
    ended = Signal(object)
    failed = Signal(str, str)

    def __init__(self, trainer_factory=None, parent=None):
        super().__init__(parent)
        self.trainer_factory = trainer_factory  # tests and benchmarks may give their own
        self.worker: TrainingProcess | None = None
        self.graph_dict: dict = {}
        self.run: RunCurves | None = None
        self.result: TrainedModel | None = None
        self.paused = False
        self.step = 0  # steps done in the current run
        self.total_steps = 0
        self.rate = 0.0  # samples/s, smoothed
        self.started_at = 0.0
        self.elapsed = 0.0  # seconds the last run took
        self._first_step = 1
        self._progress_times: deque = deque(maxlen=64)
        self._gone_since: float | None = None
        self._pending_error: tuple[str, str] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    @property
    def running(self) -> bool:
        return self.worker is not None

    # -- controls -------------------------------------------------------------------------------
    def start(
        self,
        graph_dict: dict,
        settings_dict: dict,
        features_of: str | None = None,
        trainer_factory=None,
    ):
        """Start the child process; raises what made it fail (the caller shows it).
        `trainer_factory` replaces this session's factory for this run only."""
        worker = TrainingProcess(graph_dict, settings_dict, trainer_factory or self.trainer_factory)
        worker.start()
        self.graph_dict = graph_dict
        self.run = RunCurves(settings=dict(settings_dict))
        self.run.total_epochs = int(settings_dict.get("epochs", 0) or 0)
        self.result = None
        self.step = self.total_steps = 0
        self.paused = False
        self.rate = 0.0
        self._progress_times.clear()
        self._gone_since = None
        self._pending_error = None
        self.worker = worker
        if features_of:
            worker.request_features(features_of)
        self.started_at = time.perf_counter()
        self.timer.start()
        self.started.emit(self.run)

    def pause(self) -> None:
        if self.worker is not None and not self.paused:
            self.worker.pause()
            self.paused = True  # asked; pausedChanged follows when the trainer has paused

    def resume(self) -> None:
        if self.worker is not None and self.paused:
            self.worker.resume()
            self.paused = False
            self._progress_times.clear()
            self.pausedChanged.emit(False)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def request_features(self, node_name: str | None) -> None:
        if self.worker is not None:
            self.worker.request_features(node_name)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the run has ended and its events are handled (tests, scripts)."""
        deadline = time.perf_counter() + timeout
        while self.worker is not None and time.perf_counter() < deadline:
            self.worker.join(0.05)
            self.tick()
        return self.worker is None

    def shutdown(self) -> bool:
        """End the run's process at once (window closing, project replaced); True if one ran."""
        if self.worker is None:
            return False
        self.worker.close()
        self.timer.stop()
        self.worker = None
        self.paused = False
        return True

    # -- progress -------------------------------------------------------------------------------
    def eta(self) -> float | None:
        """Seconds left at the recent pace; None while unknown or paused."""
        if self.paused or len(self._progress_times) < 2:
            return None
        (t0, s0), (t1, s1) = self._progress_times[0], self._progress_times[-1]
        if s1 <= s0 or t1 <= t0:
            return None
        return (self.total_steps - self.step) * (t1 - t0) / (s1 - s0)

    # -- the queue ------------------------------------------------------------------------------
    def tick(self) -> None:
        worker = self.worker
        if worker is None:
            self.timer.stop()
            return
        deadline = time.perf_counter() + TICK_BUDGET_S
        done = False
        while time.perf_counter() < deadline:
            try:
                event = worker.events.get_nowait()
            except queue.Empty:
                if not worker.is_alive() and self._child_gone(worker):
                    done = True
                break
            if isinstance(event, WorkerDone):
                done = True
                break
            handler = getattr(self, "_on_" + type(event).__name__, None)
            if handler is not None:
                handler(event)
        self.batchHandled.emit(done)
        if done:
            self._finish()

    def _child_gone(self, worker: TrainingProcess) -> bool:
        """The child ended without saying so (killed, out of memory, a crash in native code):
        after a moment for its last messages, report it as the run's failure."""
        if self._gone_since is None:
            self._gone_since = time.perf_counter()
            return False
        if time.perf_counter() - self._gone_since < CHILD_GRACE_S:
            return False
        code = worker.exitcode
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else f"exited with code {code}"
        )
        self.run.status = "failed"
        self.run.message = (
            f"The training process {how} before the run ended (out of memory?). "
            "The curves so far are kept; lower the batch size or the network's size and try again."
        )
        self._pending_error = ("Training stopped", self.run.message)
        return True

    def _finish(self) -> None:
        self.timer.stop()
        self.worker.close()  # the child has sent everything; reap it
        self.worker = None
        self.paused = False
        self.elapsed = time.perf_counter() - self.started_at
        self.run.seconds = self.elapsed
        if self.run.status == "running":
            self.run.status = "stopped"
        self.ended.emit(self.run)
        if self._pending_error is not None:
            title, message = self._pending_error
            self._pending_error = None
            self.failed.emit(title, message)

    # -- events ---------------------------------------------------------------------------------
    def _on_RunStarted(self, e) -> None:
        run = self.run
        run.steps_per_epoch = int(e.steps_per_epoch)
        run.total_epochs = int(e.epochs)
        run.layer_names = list(e.layer_names)
        run.train_samples = int(getattr(e, "train_samples", 0))
        run.test_samples = int(getattr(e, "test_samples", 0))
        self._first_step = int(getattr(e, "first_step", 1))
        self.total_steps = run.steps_per_epoch * run.total_epochs
        self.runBegan.emit(run)

    def _on_StepEnd(self, e) -> None:
        step = int(e.step) - self._first_step + 1
        self.step = step
        run = self.run
        run.add_step(step, float(e.loss), time.perf_counter() - self.started_at)
        rate = float(e.samples_per_s)
        if math.isfinite(rate) and rate > 0:
            self.rate = rate if self.rate == 0 else 0.9 * self.rate + 0.1 * rate
            run.samples_per_s = self.rate
        self._progress_times.append((time.perf_counter(), step))
        if e.grad_norms:
            run.add_grad_norms(step, layer_norms(e.grad_norms))
            self.gradNormsAdded.emit(step)
        if e.histograms:
            self.histogramsAdded.emit(step, e.histograms)

    def _on_LayerDiagnostics(self, e) -> None:
        step = int(e.step) - self._first_step + 1
        self.run.add_diagnostics(
            step, e.update_ratio, e.dead_fraction, e.weight_quantiles, e.grad_quantiles
        )
        self.diagnosticsAdded.emit(step)

    def _on_EpochEnd(self, e) -> None:
        run = self.run
        run.add_epoch(
            EpochPoint(
                int(e.epoch) - self._first_epoch_offset(),
                self.step,
                float(e.train_loss),
                float(e.test_loss),
                float(e.test_accuracy),
                float(e.seconds),
                _or_nan(getattr(e, "val_loss", None)),
                _or_nan(getattr(e, "val_accuracy", None)),
            )
        )
        self.epochEnded.emit(e)

    def _first_epoch_offset(self) -> int:
        # a Trainer that goes on from an earlier run counts epochs on; the plots count this run's
        if self.run is None or self.run.steps_per_epoch == 0:
            return 0
        return (self._first_step - 1) // self.run.steps_per_epoch

    def _on_Paused(self, e) -> None:
        # the trainer has finished its step: the figures shown are where it stands
        self.paused = True
        self.pausedChanged.emit(True)

    def _on_Resumed(self, e) -> None:
        self.paused = False
        self.pausedChanged.emit(False)

    def _on_Stopped(self, e) -> None:
        self.run.status = "stopped"

    def _on_Finished(self, e) -> None:
        self.run.status = "finished"

    def _on_Failed(self, e) -> None:
        self.run.status = "failed"
        self.run.message = str(e.message)
        self._pending_error = ("Training stopped", str(e.message))

    def _on_WorkerFailed(self, e) -> None:
        log.error("training process failed:\n%s", e.details)
        self.run.status = "failed"
        self.run.message = e.message
        self._pending_error = ("Training stopped", e.message)

    def _on_FeatureMaps(self, e: FeatureMaps) -> None:
        self.featureMapsArrived.emit(e)

    def _on_RunResult(self, e: RunResult) -> None:
        self.result = TrainedModel(self.graph_dict, e)
        self.resultReady.emit(self.result)


def layer_norms(norms: dict) -> dict[str, float]:
    """{param name: norm} -> {layer: L2 norm over the layer's parameters}."""
    out: dict[str, float] = {}
    for name, value in norms.items():
        layer = name.rpartition(".")[0] or name
        out[layer] = out.get(layer, 0.0) + float(value) ** 2
    return {k: math.sqrt(v) for k, v in out.items()}


def _or_nan(value) -> float:
    return math.nan if value is None else float(value)
