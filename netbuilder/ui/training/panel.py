"""The training dashboard: settings, controls, live plots, and what is left after a run.

The run itself (child process, event queue, curves) is a TrainingSession (session.py); this
controller installs the docks and the Train menu into a DashboardHost (host.py), and turns the
session's signals into view updates. The views are header.py (controls row), board.py (the plots)
and tint.py (the canvas tint); the plots are built lazily (pyqtgraph is imported then).
"""

from __future__ import annotations

import logging
import math
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from netbuilder.training.project_weights import project_weights

from .exports import RunExports
from .header import LOCK_REASON, START_HINT, TrainingHeader
from .plot_theme import Theme
from .runs import KEPT_RUNS, RunCurves
from .session import TrainingSession
from .settings_form import SettingsForm
from .tint import CanvasTint, entered_prefix, gradient_tint  # noqa: F401 - gradient_tint: API
from .worker import DefaultTrainer, FeatureMaps, warm_up

log = logging.getLogger(__name__)

SLOW_VIEWS_S = 0.25  # the progress bar's text and value: 4-8 Hz is plenty
RUN_DOCK_SHARE = 0.7  # the dock's share of the window's height once a run starts
RUN_DOCK_H = 300  # never less than this once a run starts: plots legible
EXPAND_SLACK = 60  # a dock dragged this far past its collapsed height shows the plots
PREBUILD_MS = 700  # after the window is shown: import pyqtgraph, build the plots, start helper
# the views of the PlotBoard (board.py); reading one builds them
VIEW_NAMES = (
    "loss_plot",
    "accuracy_plot",
    "grad_plot",
    "histograms",
    "confusion",
    "samples",
    "features",
    "views",
)


def _lazy_view(name: str) -> property:
    def get(self):
        return getattr(self.board, name)

    return property(get, doc=f"The dashboard's {name} (built on first use).")


def _session_value(name: str, settable: bool = False) -> property:
    def get(self):
        return getattr(self.session, name)

    def set_(self, value):
        setattr(self.session, name, value)

    return property(get, set_ if settable else None, doc=f"The session's {name}.")


class TrainingDashboard(RunExports, QObject):
    """Installed into a DashboardHost by `install(window)`.

    Until a run has happened the Training dock shows only its controls and a one-line hint,
    leaving the canvas its room; when a run starts the plots take most of the window's height
    (the canvas stays visible above them, fitted and tinted by gradient), and the person can
    drag the split anywhere."""

    for _name in VIEW_NAMES:
        locals()[_name] = _lazy_view(_name)
    del _name
    run = _session_value("run", settable=True)
    result = _session_value("result", settable=True)
    worker = _session_value("worker")
    step = _session_value("step")
    total_steps = _session_value("total_steps")
    paused = _session_value("paused")
    running = _session_value("running")
    _trainer_factory = _session_value("trainer_factory", settable=True)

    def __init__(self, window, trainer_factory=None):
        super().__init__(window)
        self.window = window
        self.theme = Theme()
        self.session = TrainingSession(trainer_factory, self)
        self.timer = self.session.timer
        self._board = None
        self._expanded = False
        self._refit_until = 0.0
        self._watch_height = False  # armed once the window's first layout has settled
        self.previous: RunCurves | None = None  # the run drawn dashed for comparison
        self.saved_runs: list[RunCurves] = []  # the project's runs, as the Runs table lists them
        self.message = ""  # the last failure, as shown in the window
        self.tint = CanvasTint(window)
        self._histograms: dict | None = None
        self._hist_step: int | None = None
        self._selected_block: str | None = None  # its compiled name: "layer2.conv1" inside
        self._selected_node: str | None = None
        self._grads_dirty = False
        self._diag_dirty = False
        self._warned: list = []
        self._epochs_dirty = False
        self._hist_dirty = False
        self._progress_at = 0.0
        self._tint_due = False
        self._slow_turn = 0
        self._slow_views = (
            self._update_grad_plot,
            self._update_tint,
            self._update_histograms,
            self._update_diagnostics,
            self._update_progress,
        )
        self._made_room = False

        self._build_actions()
        self._build_controls_dock()
        self._build_plots_dock()
        self._connect_session()

        self.form.changed.connect(self._setting_changed)
        window.projectReplaced.connect(self._project_replaced)
        window.selectionChangedTo.connect(self._selection_changed)
        window.installEventFilter(self)
        self._project_replaced()

    def _connect_session(self) -> None:
        s = self.session
        s.runBegan.connect(self._run_began)
        s.gradNormsAdded.connect(self._grads_added)
        s.diagnosticsAdded.connect(self._diagnostics_added)
        s.histogramsAdded.connect(self._histograms_added)
        s.epochEnded.connect(self._epoch_ended)
        s.pausedChanged.connect(self._paused_changed)
        s.featureMapsArrived.connect(self._feature_maps)
        s.batchHandled.connect(self._batch_handled)
        s.ended.connect(self._run_ended)
        s.failed.connect(lambda title, message: self._show_failure(message, title))

    def _prebuild(self) -> None:
        """Soon after the window shows: the plots and the training process helper, so that
        the first Train press starts fast without slowing the window's first appearance."""
        self.ensure_plots()
        try:
            warm_up()
        except (OSError, ValueError) as exc:  # training still works, its first start is slower
            log.warning("could not start the training process helper: %s", exc)

    # -- building ------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.window
        self.train_action = QAction("&Train", w)
        self.train_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.train_action.setToolTip("Train the network with the settings on the right (F5)")
        self.pause_action = QAction("&Pause", w)
        self.pause_action.setShortcut(QKeySequence(Qt.Key.Key_F6))
        self.pause_action.setToolTip("Pause or resume training (F6)")
        self.stop_action = QAction("&Stop", w)
        self.stop_action.setShortcut(QKeySequence(Qt.Modifier.SHIFT | Qt.Key.Key_F5))
        self.stop_action.setToolTip("Stop training; the weights so far are kept (Shift+F5)")
        self.save_weights_action = QAction("Save &Weights…", w)
        self.save_weights_action.setToolTip("Save the trained weights as .safetensors")
        self.export_action = QAction("E&xport with Weights…", w)
        self.export_action.setToolTip("Export the network as a script, with its trained weights")
        self.export_action.setIconText("Export")  # the dock's button: short, the menu says all
        for a in (self.train_action, self.pause_action, self.stop_action):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        menu = w.train_menu
        menu.addAction(self.train_action)
        menu.addAction(self.pause_action)
        menu.addAction(self.stop_action)
        menu.addSeparator()
        menu.addAction(self.save_weights_action)
        menu.addAction(self.export_action)
        self.train_action.triggered.connect(self.start)
        self.pause_action.triggered.connect(self.toggle_pause)
        self.stop_action.triggered.connect(self.stop)
        self.save_weights_action.triggered.connect(lambda: self.save_weights())
        self.export_action.triggered.connect(lambda: self.export_with_weights())
        self._update_actions()

    def _build_controls_dock(self) -> None:
        """The right dock: the settings form (a tab beside the editor's inspector)."""
        self.form = SettingsForm()
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.form)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(holder)
        self.controls_dock = QDockWidget("Training Settings")
        self.controls_dock.setObjectName("trainingSettingsDock")
        self.controls_dock.setWidget(scroll)
        self.window.add_dock(self.controls_dock, Qt.DockWidgetArea.RightDockWidgetArea)

    def _build_plots_dock(self) -> None:
        """The bottom dock: controls and progress above the plots."""
        body = QWidget()
        v = QVBoxLayout(body)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        self.header = TrainingHeader(
            self.train_action,
            self.pause_action,
            self.stop_action,
            self.save_weights_action,
            self.export_action,
        )
        h = self.header
        self.plots_toggle, self.progress = h.plots_toggle, h.progress
        self.train_button, self.pause_button, self.stop_button = (
            h.train_button,
            h.pause_button,
            h.stop_button,
        )
        self.save_button, self.export_button = h.save_button, h.export_button
        self.status_label, self.lock_label = h.status_label, h.lock_label
        self.message_label = h.message_label
        h.blockChosen.connect(self.window.show_block)
        self.plots_toggle.toggled.connect(lambda on: on != self._expanded and self.set_expanded(on))
        v.addWidget(self.header)
        self.plots_area = QWidget()
        self.plots_area.setObjectName("trainingPlots")
        area = QVBoxLayout(self.plots_area)
        area.setContentsMargins(0, 0, 0, 0)
        self.plots_area.hide()
        v.addWidget(self.plots_area, 1)
        v.addStretch(0)  # collapsed: the controls stay at the top of a taller dock
        body.installEventFilter(self)
        self.plots_body = body
        self.plots_dock = QDockWidget("Training")
        self.plots_dock.setObjectName("trainingDock")
        self.plots_dock.setWidget(body)
        self.window.add_dock(self.plots_dock, Qt.DockWidgetArea.BottomDockWidgetArea)

    @property
    def plots_ready(self) -> bool:
        return self._board is not None

    @property
    def board(self):
        """The PlotBoard (board.py), built on first use."""
        self.ensure_plots()
        return self._board

    @property
    def plots_splitter(self):
        return self.board.splitter

    def ensure_plots(self) -> None:
        """Build the plots now if they are not yet (pyqtgraph is imported here)."""
        if self._board is not None:
            return
        from .board import PlotBoard

        self._board = PlotBoard(self.theme)
        self._board.views.currentChanged.connect(lambda _i: self._refresh_histograms())
        self._board.default_folder = self._default_folder
        self._board.report = self.status_label.setText
        self._board.views.currentChanged.connect(lambda _i: self._refresh_distributions())
        table = self._board.runs_table
        table.overlayChanged.connect(self._overlay)
        table.renamed.connect(self._rename_run)
        table.deleteRequested.connect(self._delete_runs)
        table.set_runs(self.saved_runs)
        self.plots_area.layout().addWidget(self._board)
        # what happened before the views existed
        self._show_run()
        self._selection_changed(self._selected_node)

    # -- the dock's height ----------------------------------------------------------------------
    @property
    def expanded(self) -> bool:
        """True while the plots are shown (False: the controls row and a hint only)."""
        return self._expanded

    def collapsed_height(self) -> int:
        return self.header.sizeHint().height() + 2

    def run_height(self) -> int:
        """The dock's height during a run: most of the window, the canvas keeps a strip."""
        return max(RUN_DOCK_H, int(self.window.height() * RUN_DOCK_SHARE))

    def preferred_height(self) -> int:
        """The dock's height for a window's default layout."""
        return self.run_height() if self._expanded else self.collapsed_height()

    def set_expanded(self, on: bool, resize: bool = True, build_now: bool = True) -> None:
        dock, canvas = self.plots_dock, self.window.canvas
        resize = resize and not dock.isFloating() and self.window.isVisible()
        # measured before the plots show: showing them can grow the dock at once
        short = dock.height() < self.run_height() - 20
        if resize and hasattr(canvas, "fit"):  # (a stand-in window has none)
            # the network stays in view, smaller, as the canvas shrinks or grows
            self._refit_until = time.perf_counter() + 0.6
            canvas.viewport().installEventFilter(self)
        if on and build_now:
            self.ensure_plots()
        elif on:  # the window paints first; the plots follow a moment later
            QTimer.singleShot(50, self.ensure_plots)
        self._expanded = on
        if not on or self.running:
            self.window.set_training_workspace(on)
        self.plots_area.setVisible(on)  # may grow the dock at once (the plots' minimum size)
        self.header.set_expanded_arrow(on)
        if not resize:
            return
        if on and short:
            self.window.resizeDocks([dock], [self.run_height()], Qt.Orientation.Vertical)
        elif not on:
            self.window.resizeDocks([dock], [self.collapsed_height()], Qt.Orientation.Vertical)

    def _window_shown(self) -> None:
        """After the first layout: a dock restored (or dragged) taller than the controls shows
        its plots; the heavy parts are built shortly after."""
        self._watch_height = True
        self._check_height()
        QTimer.singleShot(PREBUILD_MS, self._prebuild)

    def _check_height(self) -> None:
        if (
            self._watch_height
            and not self._expanded
            and self.plots_body.height() > self.collapsed_height() + EXPAND_SLACK
        ):
            self.set_expanded(True, resize=False, build_now=False)

    # -- state ----------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        running = self.running
        self.train_action.setEnabled(not running)
        self.pause_action.setEnabled(running)
        self.pause_action.setText("&Resume" if self.paused else "&Pause")
        self.stop_action.setEnabled(running)
        trained = not running and self.result is not None
        self.save_weights_action.setEnabled(trained)
        self.export_action.setEnabled(trained)

    def _project(self):
        return self.window.project

    def _setting_changed(self, key: str, value) -> None:
        project = self._project()
        if project.training is None:
            project.training = {}
        if isinstance(value, tuple):
            value = list(value)
        if project.training.get(key) == value:
            return
        project.training[key] = value
        self.window.mark_dirty()

    def _project_replaced(self) -> None:
        if self.running:
            # the run belongs to the old project: end it without writing into the new one
            self.shutdown()
        project = self._project()
        self.form.load(project.training if isinstance(project.training, dict) else {})
        self.result = None
        self.message = ""
        self.message_label.hide()
        self.tint.clear()
        self._warned = []
        self.header.show_warnings([], {})
        self._histograms = None
        if self._board is not None:
            self.histograms.clear()
            self._board.clear_epoch_views()
            self.features.set_hint(self.features.hint)
        self.run = self.previous = None
        runs = self.saved_runs = self._saved_runs()
        if self._board is not None:
            self._board.runs_table.set_runs(runs)
            self._board.show_overlays([])
        if runs:
            self.run = runs[-1]
            self.previous = runs[-2] if len(runs) > 1 else None
            self.set_expanded(True)  # a project with runs opens with its curves in view
        self._show_run()
        if self.run is not None:
            self.status_label.setText(self._describe_saved(self.run))
            self.progress.setFormat("Last run: " + self.run.status)
        else:
            self.status_label.setText(START_HINT)
            self.progress.setFormat("Ready")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._update_actions()
        if self.form.load_problems:
            self.message = (
                "The project's training settings hold values the form cannot show; the "
                f"defaults stand in until you change them: {', '.join(self.form.load_problems)}"
            )
            self.header.show_message("Training settings", self.message)

    def _saved_runs(self) -> list[RunCurves]:
        out = []
        for d in getattr(self._project(), "runs", None) or []:
            try:
                out.append(RunCurves.from_dict(d))
            except ValueError as exc:  # a damaged record is skipped, the rest still shown
                log.warning("%s", exc)
        return out

    def _describe_saved(self, run: RunCurves) -> str:
        text = f"Last run ({run.started}): {run.status}"
        if run.epochs:
            e = run.epochs[-1]
            if math.isfinite(e.test_accuracy):
                text += f", {len(run.epochs)} epoch(s), test accuracy {100 * e.test_accuracy:.1f} %"
        return text + "."

    # -- controls -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a run with the form's settings; False (and a message) when it cannot."""
        if self.running:
            return False
        from netbuilder.training import SettingsError, TrainSettings

        values = {**(self._project().training or {}), **self.form.values()}
        try:
            settings = TrainSettings.from_dict(values)
        except SettingsError as exc:
            self._refuse(f"The training settings are not valid: {exc}")
            return False
        graph = self.window.graph
        problems = graph.problems()
        if problems:
            from netbuilder.graph.model import problem_line

            nid, msg = problems[0]
            name = graph.nodes[nid].name if nid in graph.nodes else nid
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._refuse(f"Fix the network before training: {problem_line(name, msg)}{more}")
            return False
        previous = self.run if self.run is not None and len(self.run.loss) else self.previous
        try:
            factory, start_from = None, None
            if self._trainer_factory is None:  # the real trainer: it goes on from the weights
                start_from = project_weights(
                    self._project(), getattr(self.window, "path", None), graph
                )
                factory = DefaultTrainer(str(start_from)) if start_from else None
            self.session.start(
                graph.to_dict(),
                settings.to_dict(),
                self._feature_node_name(self._selected_node),
                trainer_factory=factory,
            )
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._refuse(f"Training could not start: {exc}")
            return False
        self.previous = previous
        self.message = ""
        self.message_label.hide()
        self._histograms = None
        self.tint.follow(graph)
        self.tint.clear()
        self._warned = []
        self.header.show_warnings([], {})
        self.board.clear_epoch_views()
        self._show_run()
        self.progress.setRange(0, 0)  # busy until RunStarted says how many steps
        self.progress.setFormat("Loading data…")
        self.status_label.setText(
            f"Loading {settings.dataset}…"
            + (f" Starting from the weights in {start_from.name}." if start_from else "")
        )
        self.form.set_running(True)
        self.window.set_structure_locked(True, LOCK_REASON)
        self.lock_label.show()
        # the curves are made now (the click) rather than when the run has begun
        self.grad_plot.set_layers(self._parametrised_layers())
        self._make_room()
        self._update_actions()
        return True

    def _refuse(self, message: str) -> None:
        """A run that cannot start: said once, in the dock's banner (no pop-up on top)."""
        self.message = message
        self.header.show_message("Training", message)
        self.set_expanded(self._expanded)

    def _parametrised_layers(self) -> list[str]:
        graph = self.window.graph
        order = graph.topological_order() if hasattr(graph, "topological_order") else graph.nodes
        return [
            graph.nodes[i].name for i in order if getattr(graph.nodes[i], "param_count", 0) or 0
        ]

    def _make_room(self) -> None:
        """Give the plots most of the window when a run starts, unless the person has set the
        dock's size themselves (then it stands)."""
        self.window.set_training_workspace(True)
        if self._made_room and self._expanded:
            return
        self._made_room = True
        self.set_expanded(True, resize=self.plots_dock.isVisible())

    def toggle_pause(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        if self.running and not self.paused:
            self.session.pause()
            self.progress.setFormat("Pausing… · " + self._progress_text())
            self._update_actions()

    def resume(self) -> None:
        self.session.resume()

    def stop(self) -> None:
        if self.running:
            self.session.stop()
            self.status_label.setText("Stopping…")

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the run has ended and its events are shown (tests, scripts)."""
        return self.session.wait(timeout)

    def _tick(self) -> None:
        self.session.tick()

    def shutdown(self) -> None:
        """Stop a run and end its process (window closing, project replaced)."""
        if not self.session.shutdown():
            return
        self.window.set_structure_locked(False, "")
        self.lock_label.hide()
        self.form.set_running(False)
        self._update_actions()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window:
            kind = event.type()
            if kind == QEvent.Type.Close:
                # the window may still refuse to close (it asks first): look once it decided
                QTimer.singleShot(0, self._after_close)
            elif kind == QEvent.Type.ApplicationPaletteChange:
                self.retheme()
            elif kind == QEvent.Type.Show and not self._watch_height:
                QTimer.singleShot(0, self._window_shown)
        elif obj is self.plots_body and event.type() == QEvent.Type.Resize:
            self._check_height()
        elif event.type() == QEvent.Type.Resize and obj is self._canvas_viewport():
            # the dock grows in a step or two; after that the person's zoom stands
            if time.perf_counter() > self._refit_until:
                obj.removeEventFilter(self)
            else:
                QTimer.singleShot(0, self.window.canvas.fit)
        return False

    def _canvas_viewport(self):
        viewport = getattr(getattr(self.window, "canvas", None), "viewport", None)
        return viewport() if viewport is not None else None

    def retheme(self) -> None:
        """Follow the application palette (the system switched between light and dark)."""
        self.theme = Theme()
        if self._board is not None:
            self._board.apply_theme(self.theme)

    def _after_close(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    # -- the session's signals ------------------------------------------------------------------
    def _run_began(self, run: RunCurves) -> None:
        names = getattr(self.session, "class_names", None)
        self.samples.class_names = self.confusion.class_names = names
        if list(self.grad_plot.curves) != run.layer_names:
            self.grad_plot.set_layers(run.layer_names)
        self.progress.setRange(0, max(1, self.total_steps))
        self.progress.setValue(0)
        self.status_label.setText(
            f"Training on {run.train_samples:,} images, testing on "
            f"{run.test_samples:,} after each epoch."
        )
        if self._selected_layer is None and run.layer_names:
            self.histograms.clear(run.layer_names[0])

    def _grads_added(self, _step: int) -> None:
        self._grads_dirty = True

    def _diagnostics_added(self, _step: int) -> None:
        self._diag_dirty = True

    def _histograms_added(self, step: int, histograms: dict) -> None:
        self._histograms = histograms
        self._hist_step = step
        self._hist_dirty = True

    def _epoch_ended(self, e) -> None:
        epoch = self.run.epochs[-1].epoch
        self.confusion.set_matrix(e.confusion, epoch)
        samples = getattr(e, "samples", None)
        if samples is not None:
            self.samples.set_samples(samples.images, samples.labels, samples.predicted, epoch)
        self._epochs_dirty = True

    def _paused_changed(self, paused: bool) -> None:
        if paused:
            self.progress.setValue(min(self.step, self.total_steps))
            self.progress.setFormat("Paused · " + self._progress_text())
        self._update_actions()

    def _feature_maps(self, e: FeatureMaps) -> None:
        if e.node_name == self._feature_node_name(self._selected_node):
            self.features.set_maps(e.node_name, e.maps, e.image, e.label)

    def _batch_handled(self, final: bool) -> None:
        self._refresh(force=final)

    # -- drawing --------------------------------------------------------------------------------
    def _show_run(self) -> None:
        if self._board is not None:  # else ensure_plots shows it
            self._board.show_run(self.run, self.previous)

    def _refresh(self, force: bool = False) -> None:
        """Push what changed to the views. The loss on every tick; the slower views (gradient
        plot, canvas tint, histograms, progress bar) take turns, one per tick, so that no
        frame repaints them all at once: a frame's cost is what a busy machine stretches into
        a stall. `force` (the run's end) updates everything."""
        run = self.run
        self.loss_plot.show_steps(run)
        if self._epochs_dirty:
            self._epochs_dirty = False
            self.loss_plot.show_epochs(run)
            self.accuracy_plot.show_run(run)
        if force:
            for update in self._slow_views:
                update()
            return
        for _ in range(len(self._slow_views)):
            update = self._slow_views[self._slow_turn]
            self._slow_turn = (self._slow_turn + 1) % len(self._slow_views)
            if update():
                break  # one repaint per tick

    def _update_grad_plot(self) -> bool:
        if not self._grads_dirty:
            return False
        self._grads_dirty = False
        self._tint_due = True
        self.grad_plot.show_run(self.run)
        return True

    def _update_tint(self) -> bool:
        if not self._tint_due:
            return False
        self._tint_due = False
        self.tint.update(self.run)
        return True

    def _update_diagnostics(self) -> bool:
        if not self._diag_dirty:
            return False
        self._diag_dirty = False
        self.board.show_diagnostics(self.run, self._selected_layer or self._first_layer())
        self._show_warnings()
        return True

    def _first_layer(self) -> str | None:
        return self.run.layer_names[0] if self.run and self.run.layer_names else None

    def _show_warnings(self) -> None:
        """Plain-words warnings about layers, each a link that selects its block."""
        from .diagnosis import diagnose

        warnings = diagnose(self.run) if self.run is not None else []
        if [w.text for w in warnings] == [w.text for w in self._warned]:
            return
        self._warned = warnings
        self.header.show_warnings([(w.block, w.text) for w in warnings], self.tint.node_ids)

    def _update_histograms(self) -> bool:
        if not self._hist_dirty or not self.histograms.isVisible():
            return False
        self._refresh_histograms()
        return True

    def _update_progress(self) -> bool:
        # QProgressBar.setValue repaints at once: a few times a second reads as smooth
        now = time.perf_counter()
        if now - self._progress_at < SLOW_VIEWS_S / 2:
            return False
        self._progress_at = now
        if self.total_steps:
            self.progress.setValue(min(self.step, self.total_steps))
        if not self.paused and self.running:
            self.progress.setFormat(self._progress_text())
        return True

    def _refresh_distributions(self) -> None:
        if self.run is not None and self._board.distributions.isVisible():
            self._board.distributions.show_layer(
                self.run, self._selected_layer or self._first_layer()
            )
        if self.run is not None and self._board.dead_plot.isVisible():
            self._board.dead_plot.show_run(self.run)

    def _refresh_histograms(self) -> None:
        if self._histograms is None or not self.histograms.isVisible():
            return  # drawn when the tab is shown (currentChanged)
        self._hist_dirty = False
        layer = self._selected_layer or (
            self.run.layer_names[0] if self.run and self.run.layer_names else None
        )
        if layer is None:
            return
        entry = self._histograms.get(f"{layer}.weight")
        if entry is None:  # a layer without "weight": its first parameter
            entry = next(
                (v for k, v in self._histograms.items() if k.startswith(layer + ".")), None
            )
        if entry is None:
            return
        self.histograms.show_histograms(
            layer, self._hist_step, entry.get("grad"), entry.get("weight")
        )

    def _progress_text(self) -> str:
        """ "Epoch 2/5 · step 1,234/4,690 · 5.4k samples/s · ETA 1:05"; paused: no pace."""
        run, s = self.run, self.session
        if run is None or not run.steps_per_epoch:
            return "Starting…"
        epoch = min(run.total_epochs, s.step // run.steps_per_epoch + 1)
        parts = [f"Epoch {epoch}/{run.total_epochs}", f"step {s.step:,}/{s.total_steps:,}"]
        if not s.paused:
            parts.append(f"{_compact(s.rate)} samples/s")
            eta = s.eta()
            if eta is not None:
                parts.append(f"ETA {_clock(eta)}")
        return " · ".join(parts)

    # -- selection: histograms and feature maps -------------------------------------------------
    def _selection_changed(self, node_id) -> None:
        self._selected_node = node_id
        # inside an entered composite the selection is a block of the body the canvas shows
        shown = getattr(getattr(self.window, "scene", None), "graph", None) or self.window.graph
        node = shown.nodes.get(node_id) if node_id else None
        has_params = node is not None and (getattr(node, "param_count", 0) or 0) > 0
        self._selected_block = entered_prefix(self.window) + node.name if has_params else None
        if self._board is None:
            return  # ensure_plots calls this again
        if self._histograms is not None:
            self._refresh_histograms()
        else:
            self.histograms.clear(self._selected_layer)
        self._refresh_distributions()
        name = self._feature_node_name(node_id)
        if name is None and node is not None and entered_prefix(self.window):
            self.features.set_hint(
                "Feature maps show the network's top-level blocks: leave the composite "
                "(Ctrl+Up) and select a block there"
            )
            self.session.request_features(None)
            return
        if name is None:
            self.features.set_hint(
                "Select a Conv2d (or any block with an image-shaped output) to see its feature maps"
            )
            self.session.request_features(None)
            return
        if self.running:
            self.session.request_features(name)
            self.features.set_hint(f"Feature maps of {name} appear after the next step…")
        elif self.result is not None:
            r = self.result
            try:
                old = next(
                    n["name"] for n in self.session.graph_dict["nodes"] if n["id"] == node_id
                )
                maps = r.feature_maps(old)
            except Exception as exc:  # noqa: BLE001 - the view says why, the app goes on
                self.features.set_hint(f"No feature maps for {name}: {exc}")
                return
            self.features.set_maps(name, maps, r.probe_image, r.probe_label)
        else:
            self.features.set_hint(f"Train the network to see the feature maps of {name}.")

    @property
    def _selected_layer(self) -> str | None:
        """The measured layer of the selected block: a composite (or a block whose layers are
        numbered inside it, such as a Shortcut) stands for its first parametrised inner layer."""
        name = self._selected_block
        names = self.run.layer_names if self.run is not None else ()
        if name is None or name in names:
            return name
        return next((n for n in names if n.startswith(name + ".")), name)

    def _feature_node_name(self, node_id) -> str | None:
        if entered_prefix(self.window):  # a block of a composite's body, not of the network
            return None
        node = self.window.graph.nodes.get(node_id) if node_id else None
        if node is None or node.type == "Input":
            return None
        shape = getattr(node, "out_shape", None)
        return node.name if shape is not None and len(shape) == 3 else None

    # -- the end of a run -----------------------------------------------------------------------
    def _run_ended(self, run: RunCurves) -> None:
        self.window.set_structure_locked(False, "")
        self.lock_label.hide()
        self.form.set_running(False)
        step = self.step
        text = f"Run {run.status} after {step:,} steps in {_clock(self.session.elapsed)}"
        if run.epochs and math.isfinite(run.epochs[-1].test_accuracy):
            text += f"; test accuracy {100 * run.epochs[-1].test_accuracy:.2f} %"
        self.status_label.setText(text + ".")
        self.progress.setValue(min(step, self.total_steps))
        self.progress.setFormat(
            {"finished": "Finished", "stopped": "Stopped", "failed": "Failed"}[run.status]
            + f" · step {step:,}/{self.total_steps:,}"
        )
        if self._board is not None:
            self._refresh_distributions()  # its live redraw is throttled: the final state now
        self._record_run()
        self._update_actions()

    def _record_run(self) -> None:
        if self.step == 0 and self.run.status != "finished":
            return  # nothing trained: nothing worth keeping
        project = self._project()
        runs = list(getattr(project, "runs", None) or [])
        runs.append(self.run.to_dict())
        project.runs = runs[-KEPT_RUNS:]
        self.saved_runs = (self.saved_runs + [self.run])[-KEPT_RUNS:]
        if self._board is not None:
            table = self._board.runs_table
            checked = {i - (len(table.runs) + 1 - len(self.saved_runs)) for i in table.checked()}
            table.set_runs(self.saved_runs, {i for i in checked if i >= 0})
        self.window.runs_changed()  # kept beside the project; the network is not modified

    # -- the Runs table ---------------------------------------------------------------------------
    def _overlay(self, rows: list) -> None:
        self.board.show_overlays([self.saved_runs[r] for r in rows if r < len(self.saved_runs)])

    def _rename_run(self, row: int, name: str) -> None:
        project = self._project()
        if not (0 <= row < len(self.saved_runs)) or row >= len(project.runs):
            return
        self.saved_runs[row].name = name
        project.runs[row] = {**project.runs[row], "name": name}
        self.window.runs_changed()
        self._overlay(self.board.runs_table.checked())

    def _delete_runs(self, rows: list) -> None:
        project = self._project()
        doomed = set(rows)
        kept = [i for i in range(len(self.saved_runs)) if i not in doomed]
        checked = [kept.index(i) for i in self.board.runs_table.checked() if i in kept]
        project.runs = [project.runs[i] for i in kept if i < len(project.runs)]
        self.saved_runs = [self.saved_runs[i] for i in kept]
        self.board.runs_table.set_runs(self.saved_runs, set(checked))
        self._overlay(checked)
        self.window.runs_changed()

    def _show_failure(self, message: str, title: str = "Training") -> None:
        """A run that failed part way: a pop-up (the person may be looking elsewhere), and the
        banner keeps the message once the pop-up is closed."""
        self.message = message
        self.header.show_message(title, message)
        # after the current slot returns, so a modal box never runs inside the timer's tick
        QTimer.singleShot(0, lambda: self.window.show_error(title, message))


def _compact(rate: float) -> str:
    """5,370 -> "5.4k": the progress bar's text fits a narrow dock."""
    return f"{rate / 1000:.1f}k" if rate >= 1000 else f"{rate:.0f}"


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
