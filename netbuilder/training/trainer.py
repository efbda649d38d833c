"""The Trainer: one training run of a graph on a data set, reporting through small events.

Plain Python (no Qt): the CLI calls run() on its main thread, the GUI on a worker thread.
pause(), resume(), stop(), save_weights(), save_checkpoint() and feature_maps() may be called
from any other thread; they take effect between two steps.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from .events import (
    QUANTILES,
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
from .settings import TrainSettings

log = logging.getLogger(__name__)

HISTOGRAM_BINS = 32
EVAL_BATCH = 500
GRID_SAMPLES = 16  # test images sent with every EpochEnd
SNAPSHOT_EVERY = 10  # steps between copies of the weights kept to undo a divergence


class TrainingError(Exception):
    """A problem that stops a run before or while it trains; the message is for a person."""


class _NonFiniteLoss(TrainingError):
    pass


class Trainer:
    """Trains `graph` with `settings` on `data` (a DataSplit; by default the settings' data set).

    Usable again after a run: a second run() goes on from the current weights and optimizer
    state. A stop() issued while no run is going cancels the next run at its first step.
    """

    def __init__(
        self,
        graph,
        settings: TrainSettings | None = None,
        data=None,
        checkpoint_path: str | os.PathLike | None = None,
    ):
        self.graph = graph
        self.settings = settings if settings is not None else TrainSettings()
        self.data = data  # the DataSplit, loaded at the start of run() when None
        self.checkpoint_path = checkpoint_path  # written at the end of each run when set
        self.prepared = None  # netbuilder.data.Prepared: the arrays the network sees
        self.optimizer = None
        self.scheduler = None
        self.loss_fn = None
        self.step = 0  # optimizer steps done
        self.epoch = 0  # epochs done
        self.event_seconds = 0.0  # time spent on statistics and listeners (overhead figure)
        self._model = None
        self._listeners = []
        self._stop = threading.Event()
        self._go = threading.Event()  # cleared while paused
        self._go.set()
        # Held by the training thread while it uses the model, so that other threads can
        # read weights or run a forward pass between two steps.
        self._lock = threading.RLock()
        self._running = False
        self._rng = None
        self._num_classes = 0

    # -- listeners and control ---------------------------------------------------------------

    def subscribe(self, callback):
        """callback(event) is called on the training thread for every event."""
        self._listeners.append(callback)

    def unsubscribe(self, callback):
        self._listeners.remove(callback)

    def pause(self):
        self._go.clear()

    def resume(self):
        self._go.set()

    def stop(self):
        self._stop.set()
        self._go.set()  # a paused run must wake up to stop

    @property
    def running(self) -> bool:
        return self._running

    @property
    def paused(self) -> bool:
        return not self._go.is_set()

    # -- the model ---------------------------------------------------------------------------

    @property
    def model(self):
        """The compiled engine module (compiled on first use; kept after a stop or failure)."""
        if self._model is None:
            self._model = self._compile()
        return self._model

    def _compile(self):
        import engine
        from netbuilder.compile import compile_graph

        problems = self.graph.problems()
        if problems:
            names = {nid: node.name for nid, node in self.graph.nodes.items()}
            lines = "; ".join(problem_line(names.get(nid, nid), msg) for nid, msg in problems)
            raise TrainingError(f"the network cannot be trained until it is fixed: {lines}")
        if not self.graph.is_valid:
            raise TrainingError(
                "the network has no output to train: wire the Input block through the other "
                "blocks to a last block that gives one score per class"
            )
        engine.manual_seed(self.settings.seed)
        return compile_graph(self.graph)

    def input_shape(self) -> tuple[int, ...]:
        inputs = [n for n in self.graph.nodes.values() if n.type == "Input"]
        if len(inputs) != 1:
            raise TrainingError(
                f"training needs exactly one Input block, the network has {len(inputs)}"
            )
        if inputs[0].out_shape is None:
            raise TrainingError(f"the Input block {inputs[0].name} has no valid shape")
        return tuple(inputs[0].out_shape)

    # -- the run -----------------------------------------------------------------------------

    def run(self):
        """Train for settings.epochs epochs; blocks. Returns the last event (Finished, Stopped
        or Failed) and never raises: every problem becomes a Failed event."""
        if self._running:
            raise RuntimeError("this Trainer is already running")
        self._running = True
        try:
            event = self._run()
        except Exception as exc:  # noqa: BLE001 - every failure must reach the listeners
            log.debug("training failed", exc_info=True)
            event = Failed(self.step, _describe(exc))
        finally:
            self._running = False
        # A checkpoint asked for at the end is written whatever the outcome, so a failed run
        # still leaves its last good weights behind.
        if self.checkpoint_path is not None and self._model is not None:
            try:
                self.save_checkpoint(self.checkpoint_path)
            except Exception as exc:  # noqa: BLE001
                if not isinstance(event, Failed):
                    event = Failed(self.step, f"could not write the checkpoint: {exc}")
        self._stop.clear()
        self._go.set()
        self._emit_safely(event)
        return event

    def _run(self):
        import engine

        settings = self.settings.validated()
        model = self.model
        self._prepare_data(settings)
        prepared = self.prepared
        self._ensure_optimizer(settings)
        check_loss_fits(self.graph, settings.loss)
        self._check_output(model)

        named = list(model.named_parameters())
        param_names = tuple(name for name, _ in named)
        layer_names = tuple(dict.fromkeys(name.rpartition(".")[0] for name in param_names))
        train_x, train_y = prepared.train_x, prepared.train_y
        n = len(train_x)
        if n == 0:
            raise TrainingError("the training set is empty")
        bs = settings.batch_size
        steps_per_epoch = math.ceil(n / bs)
        grad_every = settings.grad_every
        loss_fn, optimizer = self.loss_fn, self.optimizer
        targets = _target_maker(settings.loss, self._num_classes)
        tensor = _tensor_maker()
        emit = self._emit
        diagnostics = _Diagnostics(model, named) if grad_every > 0 else None

        emit(
            RunStarted(
                epochs=settings.epochs,
                steps_per_epoch=steps_per_epoch,
                param_names=param_names,
                layer_names=layer_names,
                first_step=self.step + 1,
                input_shape=tuple(train_x.shape[1:]),
                num_classes=self._num_classes,
                train_samples=n,
                test_samples=len(prepared.test_x),
            )
        )
        model.train()
        snapshot = None  # (step, weights) from a recent step, to undo a divergence
        for _ in range(settings.epochs):
            epoch = self.epoch + 1
            t_epoch = time.perf_counter()
            order = self._rng.permutation(n)
            loss_sum = 0.0
            t_last = t_epoch
            for start in range(0, n, bs):
                if not self._go.is_set():
                    emit(Paused(self.step))
                    self._go.wait()
                    if not self._stop.is_set():
                        emit(Resumed(self.step))
                    t_last = time.perf_counter()
                if self._stop.is_set():
                    return Stopped(self.step)
                index = order[start : start + bs]
                xb = tensor(train_x[index])
                yb = targets(train_y[index])
                sampled = grad_every > 0 and (self.step + 1) % grad_every == 0
                if self.step % SNAPSHOT_EVERY == 0 or snapshot is None:
                    snapshot = (self.step, _copy_state(model))
                if sampled and diagnostics is not None:
                    diagnostics.arm()
                # a diverging run overflows inside numpy; the loss check below reports it
                with self._lock, np.errstate(over="ignore", invalid="ignore"):
                    optimizer.zero_grad()
                    loss = loss_fn(model(xb), yb)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        message = _nan_message(value, self.step + 1, epoch, optimizer)
                        raise _NonFiniteLoss(message + self._recover(snapshot))
                    loss.backward()
                    if sampled and diagnostics is not None:
                        diagnostics.before_step()
                    optimizer.step()
                    diag = None
                    if sampled:
                        t_stats = time.perf_counter()
                        norms, hists = _gradient_statistics(named)
                        if diagnostics is not None:
                            diag = diagnostics.measure(self.step + 1)
                        self.event_seconds += time.perf_counter() - t_stats
                    else:
                        norms = hists = None
                self.step += 1
                loss_sum += value * len(index)
                now = time.perf_counter()
                rate = len(index) / max(now - t_last, 1e-9)
                t_last = now
                emit(
                    StepEnd(
                        self.step, epoch, value, rate, optimizer.param_groups[0]["lr"], norms, hists
                    )
                )
                if diag is not None:
                    emit(diag)

            with self._lock, engine.no_grad(), np.errstate(over="ignore", invalid="ignore"):
                test = self._evaluate(prepared.test_x, prepared.test_y)
                val = None
                if prepared.val_x is not None and len(prepared.val_x):
                    val = self._evaluate(prepared.val_x, prepared.val_y)
            if test is None or (prepared.val_x is not None and len(prepared.val_x) and val is None):
                return Stopped(self.step)  # stopped during the evaluation
            self.epoch = epoch
            if self.scheduler is not None:
                if settings.schedule == "plateau":
                    self.scheduler.step((val or test)[0])
                else:
                    self.scheduler.step()
            emit(
                EpochEnd(
                    epoch=epoch,
                    train_loss=loss_sum / n,
                    test_loss=test[0],
                    test_accuracy=test[1],
                    confusion=test[2],
                    seconds=time.perf_counter() - t_epoch,
                    samples=self._grid(test[3]),
                    lr=optimizer.param_groups[0]["lr"],
                    val_loss=val[0] if val else None,
                    val_accuracy=val[1] if val else None,
                )
            )
            if self._stop.is_set():
                return Stopped(self.step)
        return Finished(self.step)

    def _ensure_optimizer(self, settings):
        """Loss, optimizer, schedule and shuffling order, made once per Trainer (a later run
        goes on with their state)."""
        import engine

        if self.optimizer is not None:
            return
        self.loss_fn = _make_loss(settings.loss)
        self.optimizer = _make_optimizer(settings, self.model.parameters())
        self.scheduler = _make_scheduler(settings, self.optimizer)
        self._rng = np.random.default_rng(settings.seed)
        engine.manual_seed(settings.seed)  # dropout masks follow the seed too

    def _recover(self, snapshot) -> str:
        """After a NaN/Inf loss the weights that gave it are of no use: put back the recent
        snapshot and drop the optimizer state (its moments are poisoned too)."""
        step, state = snapshot
        self.model.load_state_dict(state)
        self.optimizer = self.scheduler = None  # rebuilt fresh by the next run
        return f"; the weights are back to those after step {step}"

    def _prepare_data(self, settings):
        if self.prepared is not None:
            return
        from netbuilder.data import load_dataset, prepare

        if self.data is None:
            self.data = load_dataset(settings.dataset)
        self.prepared = prepare(
            self.data, self.input_shape(), val_split=settings.val_split, seed=settings.seed
        )
        self._num_classes = int(self.data.num_classes)

    def _check_output(self, model):
        """The network must give one score per class; say how to fix it when it does not."""
        import engine

        sample = self.prepared.train_x[:1]
        with self._lock, engine.no_grad():
            was_training = model.training
            model.eval()
            try:
                shape = tuple(model(_tensor_maker()(sample)).shape[1:])
            finally:
                model.train(was_training)
        k = self._num_classes
        if len(shape) != 1:
            dims = "x".join(str(d) for d in shape)
            raise TrainingError(
                f"the network's output is {dims} but classifying needs one score per class "
                f"({k}); end the network with Flatten and a Linear block with {k} outputs"
            )
        if shape[0] != k:
            last = _last_linear(self.graph)
            block = f"{last}'s out_features" if last else "the last Linear block's out_features"
            raise TrainingError(
                f"the network gives {shape[0]} outputs but the data set has {k} classes; "
                f"set {block} to {k}"
            )

    def _evaluate(self, x, y):
        """(mean loss, accuracy, confusion, predictions) over x, y, or None if stopped."""
        model = self.model
        targets = _target_maker(self.settings.loss, self._num_classes)
        tensor = _tensor_maker()
        was_training = model.training
        model.eval()
        try:
            loss_sum = 0.0
            predictions = []
            for start in range(0, len(x), EVAL_BATCH):
                if self._stop.is_set():
                    return None
                out = model(tensor(x[start : start + EVAL_BATCH]))
                yb = y[start : start + EVAL_BATCH]
                loss_sum += float(self.loss_fn(out, targets(yb)).item()) * len(yb)
                predictions.append(out.numpy().argmax(axis=1))
        finally:
            model.train(was_training)
        pred = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
        k = self._num_classes
        confusion = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.int64)
        accuracy = float((pred == y).mean()) if len(y) else 0.0
        return loss_sum / max(len(y), 1), accuracy, confusion, pred

    def _grid(self, predictions) -> EpochSamples | None:
        images = getattr(self.data, "x_test", None)
        if images is None or len(images) != len(predictions):
            return None
        k = min(GRID_SAMPLES, len(predictions))
        return EpochSamples(
            images=np.ascontiguousarray(images[:k]),
            labels=np.asarray(self.data.y_test[:k], dtype=np.int64),
            predicted=predictions[:k].astype(np.int64),
        )

    # -- events ------------------------------------------------------------------------------

    def _emit(self, event):
        t = time.perf_counter()
        for callback in self._listeners:
            callback(event)
        self.event_seconds += time.perf_counter() - t

    def _emit_safely(self, event):
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - the run is over; a listener must not raise here
                log.exception("a training listener failed on %r", event)

    # -- weights, checkpoints, feature maps ---------------------------------------------------

    def save_weights(self, path):
        """The model's weights as .safetensors with PyTorch's key names (atomic write)."""
        with self._lock:
            state = self.model.state_dict()
            _save(state, path)

    def save_checkpoint(self, path):
        """Weights, optimizer state and progress, to go on training later (atomic write)."""
        with self._lock:
            checkpoint = {"model": self.model.state_dict()}
            if self.optimizer is not None:
                checkpoint["optimizer"] = self.optimizer.state_dict()
            if self.scheduler is not None:
                checkpoint["scheduler"] = self.scheduler.state_dict()
            checkpoint["progress"] = {"step": self.step, "epoch": self.epoch}
            if self._rng is not None:
                # the shuffling order and dropout masks go on as an unbroken run's would
                checkpoint["rng"] = {
                    "shuffle": json.dumps(self._rng.bit_generator.state),
                    "engine": json.dumps(_engine_rng().bit_generator.state),
                }
            _save(checkpoint, path)

    def load_checkpoint(self, path):
        """Restore what save_checkpoint wrote, so that the next run() goes on from there
        (with this Trainer's settings: the optimizer must be the same kind)."""
        import engine

        checkpoint = engine.load(path)
        if not isinstance(checkpoint, dict) or "model" not in checkpoint:
            raise TrainingError(f"{path}: not a NetBuilder checkpoint (no model weights in it)")
        _check_weights_finite(checkpoint["model"], path)
        progress = checkpoint.get("progress") or {}
        for key in ("step", "epoch"):
            value = progress.get(key, 0) if isinstance(progress, dict) else None
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TrainingError(
                    f"{path}: damaged progress: the {key} count is {value!r}, not a whole "
                    "number 0 or more"
                )
        with self._lock:
            self.model.load_state_dict(checkpoint["model"])
            self._ensure_optimizer(self.settings.validated())
            if "optimizer" in checkpoint:
                self.optimizer.load_state_dict(checkpoint["optimizer"])
            if self.scheduler is not None and "scheduler" in checkpoint:
                self.scheduler.load_state_dict(checkpoint["scheduler"])
            progress = checkpoint.get("progress") or {}
            self.step = int(progress.get("step", self.step))
            self.epoch = int(progress.get("epoch", self.epoch))
            rng = checkpoint.get("rng")
            if isinstance(rng, dict):
                try:  # JSON text, never unpickled; a checkpoint without it still loads
                    self._rng.bit_generator.state = json.loads(rng["shuffle"])
                    _engine_rng().bit_generator.state = json.loads(rng["engine"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise TrainingError(f"{path}: damaged random state ({exc})") from None

    def load_weights(self, path):
        import engine

        state = engine.load(path)
        _check_weights_finite(state, path)
        with self._lock:
            self.model.load_state_dict(state)

    def feature_maps(self, node_name: str, image) -> np.ndarray:
        """The output of node `node_name` for one input, without the batch dimension (for a
        conv block: (channels, H, W) float32). `image` is an index into the prepared test set
        or an array shaped like the Input block. Safe during a run (waits for one step)."""
        from netbuilder.compile import node_outputs

        x = self._single_input(image)
        import engine

        with self._lock, engine.no_grad(), np.errstate(over="ignore", invalid="ignore"):
            model = self.model
            was_training = model.training
            model.eval()
            try:
                outputs = node_outputs(model, self.graph, _tensor_maker()(x), [node_name])
            finally:
                model.train(was_training)
        return outputs[node_name].numpy()[0].copy()

    def _single_input(self, image) -> np.ndarray:
        if isinstance(image, int | np.integer):
            if self.prepared is None:
                raise TrainingError("no test data yet: train first or pass an image array")
            count = len(self.prepared.test_x)
            if not 0 <= image < count:
                raise TrainingError(f"there is no test image {image}; the test set has {count}")
            return self.prepared.test_x[int(image)][None]
        arr = np.asarray(image, dtype=np.float32)
        shape = self.input_shape()
        if arr.shape == shape:
            return arr[None]
        if arr.shape == (1, *shape):
            return arr
        raise TrainingError(f"the image has shape {arr.shape} but the Input block expects {shape}")


# -- building blocks ------------------------------------------------------------------------


def _engine_rng():
    """The numpy Generator behind engine's default generator (dropout, init)."""
    from engine._random import rng

    return rng()


def _check_weights_finite(state, path) -> None:
    """Weights holding NaN or infinity come from a diverged run; training on from them would
    fail at once and blame the learning rate, so say what is wrong with the file."""
    if not isinstance(state, dict):
        return
    for name, value in state.items():
        array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise TrainingError(
                f"{path}: the weights {name} hold {bad:,} NaN or infinite value(s) (saved from "
                "a run that diverged?); start from other weights"
            )


def problem_line(name: str, message: str) -> str:
    """'name: message', unless the message already starts with the name (as inference's do)."""
    return (
        message
        if message.startswith(f"{name}:") or message.startswith(f"{name} ")
        else (f"{name}: {message}")
    )


def check_loss_fits(graph, loss: str) -> None:
    """Refuse a loss that cannot work with the network's last block, before any step: NLL on
    raw scores has no minimum (the loss runs to -inf and looks like a too-high lr)."""
    from netbuilder.graph.inference import output_node

    if loss != "nll":
        return
    nid = output_node(graph)
    if nid is None:
        return
    last = graph.nodes[nid]
    if last.type != "LogSoftmax":
        raise TrainingError(
            f"the nll loss expects log-probabilities, but the network ends in {last.name} "
            f"({last.type}); add a LogSoftmax block after {last.name}, or use the "
            "cross_entropy loss (it applies log-softmax itself)"
        )


def _last_linear(graph) -> str | None:
    """The Linear block that sets the output size: from the output back through one-input
    blocks without parameters of their own (ReLU, Softmax, Dropout ...)."""
    from netbuilder.graph.inference import output_node

    nid = output_node(graph)
    seen = set()
    while nid is not None and nid not in seen:
        seen.add(nid)
        node = graph.nodes[nid]
        if node.type == "Linear":
            return node.name
        edges = graph.edges_into(nid)
        nid = edges[0].src if len(edges) == 1 else None
    return None


def _copy_state(model) -> dict:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _make_loss(name):
    from engine import nn

    return {"cross_entropy": nn.CrossEntropyLoss, "nll": nn.NLLLoss, "mse": nn.MSELoss}[name]()


def _make_optimizer(s: TrainSettings, params):
    from engine import optim

    params = list(params)
    if s.optimizer == "sgd":
        return optim.SGD(
            params, lr=s.lr, momentum=s.momentum, nesterov=s.nesterov, weight_decay=s.weight_decay
        )
    if s.optimizer == "adam":
        return optim.Adam(params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay)
    if s.optimizer == "adamw":
        return optim.AdamW(params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay)
    if s.optimizer == "rmsprop":
        return optim.RMSprop(
            params, lr=s.lr, momentum=s.rmsprop_momentum, weight_decay=s.weight_decay
        )
    if s.optimizer == "adagrad":
        return optim.Adagrad(params, lr=s.lr, weight_decay=s.weight_decay)
    raise TrainingError(f"unknown optimizer {s.optimizer!r}")


def _make_scheduler(s: TrainSettings, optimizer):
    from engine.optim import lr_scheduler

    if s.schedule == "none":
        return None
    if s.schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.schedule == "multistep":
        if not s.milestones:
            raise TrainingError("the multistep schedule needs milestones (epochs), e.g. [2, 4]")
        return lr_scheduler.MultiStepLR(optimizer, milestones=list(s.milestones), gamma=s.gamma)
    if s.schedule == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=s.gamma)
    if s.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=s.t_max or s.epochs)
    if s.schedule == "plateau":
        if s.gamma >= 1:
            raise TrainingError("the plateau schedule needs gamma below 1 (the lr factor)")
        return lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=s.gamma, patience=s.patience
        )
    raise TrainingError(f"unknown schedule {s.schedule!r}")


def _tensor_maker():
    import engine

    return engine.from_numpy


def _target_maker(loss, num_classes):
    """Labels (int64 numpy) -> the tensor the loss wants: class indices, or one-hot for MSE."""
    import engine

    if loss == "mse":
        eye = np.eye(num_classes, dtype=np.float32)
        return lambda y: engine.from_numpy(eye[y])
    return lambda y: engine.from_numpy(np.ascontiguousarray(y, dtype=np.int64))


def _gradient_statistics(named):
    """{name: L2 norm of its gradient}, {name: {"grad": hist, "weight": hist}}."""
    norms, hists = {}, {}
    for name, p in named:
        if p.grad is None:
            continue
        g = p.grad.numpy().ravel()
        w = p.detach().numpy().ravel()
        norms[name] = float(np.sqrt(np.dot(g, g)))
        hists[name] = {"grad": _histogram(g), "weight": _histogram(w)}
    return norms, hists


# -- layer diagnostics: update-to-weight ratio, dead ReLU units, quantiles ----------------------
# Kept apart from the run loop, which only calls arm(), before_step() and measure() on the
# steps that measure gradients: nothing here runs on the other steps.

QUANTILE_SAMPLE = 20_000  # at most this many values per layer go into its quantiles


class _Diagnostics:
    def __init__(self, model, named):
        self.named = named
        self.layer_of = {name: name.rpartition(".")[0] or name for name, _ in named}
        self.relus = [(n, m) for n, m in model.named_modules() if type(m).__name__ == "ReLU"]
        self._hooks: list = []
        self._dead: dict[str, float] = {}
        self._before: dict[str, np.ndarray] = {}

    def arm(self) -> None:
        """The next forward pass records which ReLU units stay at zero."""
        self.disarm()
        self._dead = {}
        for name, module in self.relus:
            self._hooks.append(module.register_forward_hook(self._recorder(name)))

    def _recorder(self, name):
        def hook(_module, _args, out):
            a = out.detach().numpy()
            alive = (a > 0).reshape(a.shape[0], -1).any(axis=0) if a.ndim > 1 else a > 0
            self._dead[name] = float(1.0 - alive.mean()) if alive.size else 0.0

        return hook

    def disarm(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()

    def before_step(self) -> None:
        self.disarm()  # the forward pass is over
        self._before = {name: p.detach().numpy().copy() for name, p in self.named}

    def measure(self, step: int) -> LayerDiagnostics:
        moved: dict[str, float] = {}
        size: dict[str, float] = {}
        weights: dict[str, list] = {}
        grads: dict[str, list] = {}
        for name, p in self.named:
            layer = self.layer_of[name]
            w = p.detach().numpy()
            before = self._before.get(name)
            if before is not None:
                d = (w - before).ravel()
                b = before.ravel()
                moved[layer] = moved.get(layer, 0.0) + float(np.dot(d, d))
                size[layer] = size.get(layer, 0.0) + float(np.dot(b, b))
            weights.setdefault(layer, []).append(w.ravel())
            if p.grad is not None:
                grads.setdefault(layer, []).append(p.grad.numpy().ravel())
        self._before = {}
        ratio = {
            layer: math.sqrt(moved[layer] / size[layer]) if size[layer] > 0 else math.nan
            for layer in moved
        }
        return LayerDiagnostics(
            step=step,
            update_ratio=ratio,
            dead_fraction=dict(self._dead),
            weight_quantiles={k: _quantiles(v) for k, v in weights.items()},
            grad_quantiles={k: _quantiles(v) for k, v in grads.items()},
        )


def _quantiles(parts: list) -> np.ndarray:
    a = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if a.size > QUANTILE_SAMPLE:  # a strided sample: the same values each time, no RNG
        a = a[:: a.size // QUANTILE_SAMPLE + 1]
    a = a[np.isfinite(a)]
    if not a.size:
        return np.full(len(QUANTILES), np.nan)
    return np.quantile(a, QUANTILES)


def _histogram(a: np.ndarray):
    lo, hi = float(a.min()), float(a.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        a = a[np.isfinite(a)]
        if a.size == 0:
            return np.zeros(HISTOGRAM_BINS, np.int64), np.linspace(-1.0, 1.0, HISTOGRAM_BINS + 1)
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    # np.histogram's bins (the last one closed), by bincount: 3x faster on small arrays
    index = ((a - lo) * (HISTOGRAM_BINS / (hi - lo))).astype(np.intp)
    np.clip(index, 0, HISTOGRAM_BINS - 1, out=index)
    counts = np.bincount(index, minlength=HISTOGRAM_BINS).astype(np.int64)
    return counts, np.linspace(lo, hi, HISTOGRAM_BINS + 1)


def _nan_message(value, step, epoch, optimizer):
    lr = optimizer.param_groups[0]["lr"]
    kind = "NaN" if math.isnan(value) else "infinite"
    return (
        f"the loss became {kind} at step {step} (epoch {epoch}), so training stopped; the "
        f"learning rate {lr:g} is probably too high: try a lower one such as {lr / 10:g}"
    )


def _describe(exc: BaseException) -> str:
    """One message for a person; our own errors already are, others get their origin."""
    from netbuilder.blocks import BlockError
    from netbuilder.data import DataError

    from .settings import SettingsError

    if isinstance(exc, TrainingError | SettingsError | DataError | BlockError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (in {Path(frames[-1].filename).name}, line {frames[-1].lineno})" if frames else ""
    return f"training failed: {type(exc).__name__}: {exc}{where}"


def _save(obj, path):
    """engine.save (an atomic write), into a folder made if missing."""
    import engine

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine.save(obj, path)
