"""Runs a Trainer in a child process and hands its events to the UI through a queue.

Why a process and not a thread: the training loop and pyqtgraph's painting are both partly
Python, so in one process they take turns on the GIL. Measured here (LeNet, batch 64), a thread
trained at ~65 % of `netbuilder train` with p99 UI stalls of ~200 ms; a child process leaves the
UI its own interpreter (benchmarks/gui_training_perf.py).

No Qt here, and nothing here runs on the UI thread except the small TrainingProcess methods.
The child sends the Trainer's own events (small frozen dataclasses), the feature maps the UI
asked for, the final weights (RunResult) and WorkerDone.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import traceback
from dataclasses import dataclass

import numpy as np

from netbuilder.training.trainer import describe_error

log = logging.getLogger(__name__)

MAX_MAPS = 32  # channels sent per feature-map view (a 512-channel block would be unreadable)
FEATURE_IMAGE = 0  # index of the test image whose feature maps are shown


@dataclass(frozen=True)
class FeatureMaps:
    """The output of one block for the feature image: (C, H, W) float32, at most MAX_MAPS."""

    node_name: str
    maps: np.ndarray
    image: np.ndarray | None = None  # the input image as the data set holds it (uint8)
    label: int = -1


@dataclass(frozen=True)
class RunResult:
    """What the child leaves behind: the weights and the test image the feature maps use."""

    weights: dict  # {state_dict key: ndarray}
    probe_input: np.ndarray | None  # the prepared (normalised) image, (1, *input_shape)
    probe_image: np.ndarray | None  # the same image as the data set holds it (uint8)
    probe_label: int


@dataclass(frozen=True)
class WorkerFailed:
    """The trainer could not be built, or raised (Trainer.run() itself reports as events)."""

    message: str
    details: str


@dataclass(frozen=True)
class WorkerDone:
    """The child has ended; everything it sent is before this in the queue."""


class DefaultTrainer:
    """Builds the real Trainer in the child (a picklable recipe; tests pass their own)."""

    def __call__(self, graph_dict: dict, settings_dict: dict):
        from netbuilder.graph.model import Graph
        from netbuilder.training import Trainer, TrainSettings

        return Trainer(Graph.from_dict(graph_dict), TrainSettings.from_dict(settings_dict))


def trim_maps(maps) -> np.ndarray:
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 3:
        maps = maps[:MAX_MAPS]
    return np.ascontiguousarray(maps)


def _context():
    # forkserver: children fork from a clean helper process, never from the Qt process (whose
    # threads a fork would copy half-way), and start in ~0.1 s once the helper is up
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "engine", "netbuilder.training"])
        return ctx
    return mp.get_context("spawn")


def warm_up() -> None:
    """Start the forkserver helper early so that the first Train press starts fast."""
    if mp.parent_process() is not None:
        return  # a script without a __main__ guard re-runs in the child: start nothing there
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class TrainingProcess:
    """One training run in a child process; `events` receives everything it reports."""

    def __init__(self, graph_dict: dict, settings_dict: dict, make_trainer=None):
        ctx = _context()
        self.events = ctx.Queue()
        self._commands = ctx.Queue()
        self._process = ctx.Process(
            target=_child_main,
            args=(
                make_trainer or DefaultTrainer(),
                graph_dict,
                settings_dict,
                self.events,
                self._commands,
            ),
            name="netbuilder-training",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def stop(self) -> None:
        self._send("stop")

    def request_features(self, node_name: str | None) -> None:
        """Send `node_name`'s feature maps after the next step and after every epoch."""
        self._send("features", node_name)

    def _send(self, *command) -> None:
        try:
            self._commands.put(command)
        except (OSError, ValueError):  # the child is gone: nothing left to tell
            pass

    def is_alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def join(self, timeout: float | None = None) -> bool:
        if self._process.pid is not None:
            self._process.join(timeout)
        return not self._process.is_alive()

    def close(self, timeout: float = 3.0) -> None:
        """Stop the child and reap it; kill it if it does not end in `timeout` seconds."""
        if self._process.pid is None:
            return
        if self._process.is_alive():
            self.stop()
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(1.0)
        self._commands.cancel_join_thread()
        self.events.cancel_join_thread()


# -- the child process ------------------------------------------------------------------------


def _child_main(make_trainer, graph_dict, settings_dict, events, commands) -> None:
    try:
        _child_run(make_trainer, graph_dict, settings_dict, events, commands)
    finally:
        events.put(WorkerDone())
        events.close()
        events.join_thread()  # everything reaches the pipe before the process ends
        os._exit(0)  # skip interpreter teardown: the parent has all it needs


def _child_run(make_trainer, graph_dict, settings_dict, events, commands) -> None:
    try:
        trainer = make_trainer(graph_dict, settings_dict)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the window
        events.put(WorkerFailed(describe_error(exc), traceback.format_exc()))
        return
    lock = threading.Lock()
    wanted = {"node": None, "due": False}

    def listen(event) -> None:
        events.put(event)
        kind = type(event).__name__
        if kind not in ("StepEnd", "EpochEnd"):
            return
        with lock:
            node = wanted["node"] if (wanted["due"] or kind == "EpochEnd") else None
            wanted["due"] = False
        if node:
            try:
                maps = trim_maps(trainer.feature_maps(node, FEATURE_IMAGE))
                image, label = _probe_image(trainer)
                events.put(FeatureMaps(node, maps, image, label))
            except Exception:  # noqa: BLE001 - a view that cannot be drawn must not end the run
                log.debug("feature maps of %s failed", node, exc_info=True)

    def obey() -> None:
        while True:
            try:
                command = commands.get()
            except (EOFError, OSError):
                return
            if command[0] == "pause":
                trainer.pause()
            elif command[0] == "resume":
                trainer.resume()
            elif command[0] == "stop":
                trainer.stop()
            elif command[0] == "features":
                with lock:
                    wanted["node"] = command[1]
                    wanted["due"] = command[1] is not None

    trainer.subscribe(listen)
    threading.Thread(target=obey, name="commands", daemon=True).start()
    try:
        trainer.run()
    except Exception as exc:  # noqa: BLE001
        events.put(WorkerFailed(describe_error(exc), traceback.format_exc()))
    try:
        result = _result(trainer)
    except Exception:  # noqa: BLE001 - no weights to keep (the model never compiled)
        log.debug("no run result", exc_info=True)
        result = None
    if result is not None:
        events.put(result)


def _result(trainer) -> RunResult | None:
    if getattr(trainer, "_model", None) is None:
        return None
    state = trainer.model.state_dict()
    weights = {k: np.array(v.detach().numpy(), copy=True) for k, v in state.items()}
    probe_input = None
    prepared = getattr(trainer, "prepared", None)
    if prepared is not None and len(prepared.test_x) > FEATURE_IMAGE:
        probe_input = np.ascontiguousarray(prepared.test_x[FEATURE_IMAGE : FEATURE_IMAGE + 1])
    image, label = _probe_image(trainer)
    return RunResult(weights, probe_input, image, label)


def _probe_image(trainer) -> tuple[np.ndarray | None, int]:
    data = getattr(trainer, "data", None)
    if data is None or len(data.y_test) <= FEATURE_IMAGE:
        return None, -1
    return np.ascontiguousarray(data.x_test[FEATURE_IMAGE]), int(data.y_test[FEATURE_IMAGE])
