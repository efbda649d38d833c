"""The training dashboard: settings, controls, live plots, and what is left after a run.

Concurrency: the Trainer runs in a child process (worker.py says why) and only sends small
events through a queue. A QTimer on the UI thread (10 Hz) drains the queue in a batch, appends
to the run's curves and pushes them to pre-made plot items with setData.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .plot_theme import Theme
from .result import TrainedModel
from .runs import KEPT_RUNS, EpochPoint, RunCurves
from .settings_form import SettingsForm
from .worker import FeatureMaps, RunResult, TrainingProcess, WorkerDone, warm_up

log = logging.getLogger(__name__)

TICK_MS = 100  # UI refresh: 10 Hz (each frame a busy machine can stretch; fewer is smoother)
SLOW_VIEWS_S = 0.25  # the progress bar's text and value: 4-8 Hz is plenty
TICK_BUDGET_S = 0.010  # most of one tick spent handling events; the rest wait for the next
LOCK_REASON = "Training is running: stop it (Shift+F5) to change the network"
RUN_DOCK_H = 300  # the dock's height once a run starts: plots legible, canvas still roomy
EXPAND_SLACK = 60  # a dock dragged this far past its collapsed height shows the plots
PREBUILD_MS = 700  # after the window is shown: import pyqtgraph, build the plots, start helper
START_HINT = (
    "Press Train (F5) to train on the settings at the right: loss, accuracy and each "
    "layer's gradients appear here."
)
# the views made by _build_views (pyqtgraph is imported only then); reading one builds them
VIEW_NAMES = (
    "loss_plot",
    "accuracy_plot",
    "grad_plot",
    "histograms",
    "confusion",
    "samples",
    "features",
    "views",
    "plots_splitter",
)


def _lazy_view(name: str) -> property:
    def get(self):
        self.ensure_plots()
        return self._views[name]

    return property(get, doc=f"The dashboard's {name} (built on first use).")


class TrainingDashboard(QObject):
    """Everything of issue 7, installed into a MainWindow by `install(window)`.

    The plots are built after the window is first shown (or at once when something reads
    them): importing pyqtgraph and making them took a third of the start-up. Until a run has
    happened the Training dock shows only its controls and a one-line hint, leaving the canvas
    its room; it grows when training starts or when the person drags it taller."""

    for _name in VIEW_NAMES:
        locals()[_name] = _lazy_view(_name)
    del _name

    def __init__(self, window, trainer_factory=None):
        super().__init__(window)
        self.window = window
        self.theme = Theme()
        self._views: dict | None = None
        self._expanded = False
        self._refit_until = 0.0
        self._watch_height = False  # armed once the window's first layout has settled
        self._trainer_factory = trainer_factory  # tests and benchmarks may give their own
        self.result: TrainedModel | None = None  # the last run's weights, for save/export
        self.worker: TrainingProcess | None = None
        self._graph_dict: dict = {}
        self.run: RunCurves | None = None  # the run on the plots
        self.previous: RunCurves | None = None  # the run drawn dashed for comparison
        self.paused = False
        self.step = 0  # steps done in the current run
        self.total_steps = 0
        self.message = ""  # the last failure, as shown in the window
        self._first_step = 1
        self._node_ids: dict[str, str] = {}  # node name -> id, for the canvas tint
        self._tinted: set[str] = set()
        self._histograms: dict | None = None
        self._hist_step: int | None = None
        self._selected_layer: str | None = None
        self._selected_node: str | None = None
        self._rate = 0.0
        self._progress_times: deque = deque(maxlen=64)
        self._dirty = False
        self._grads_dirty = False
        self._epochs_dirty = False
        self._hist_dirty = False
        self._progress_at = 0.0
        self._tint_due = False
        self._slow_turn = 0
        self._slow_views = (
            self._update_grad_plot,
            self._update_tint,
            self._update_histograms,
            self._update_progress,
        )
        self._made_room = False
        self._gone_since: float | None = None
        self._pending_error: tuple[str, str] | None = None
        self._run_started_at = 0.0

        self._build_actions()
        self._build_controls_dock()
        self._build_plots_dock()
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

        self.form.changed.connect(self._setting_changed)
        window.projectReplaced.connect(self._project_replaced)
        window.selectionChangedTo.connect(self._selection_changed)
        window.installEventFilter(self)
        self._project_replaced()

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

    def _button(self, action: QAction, primary: bool = False) -> QToolButton:
        b = QToolButton()
        b.setDefaultAction(action)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        b.setMinimumHeight(30)
        if primary:
            f = b.font()
            f.setBold(True)
            b.setFont(f)
        return b

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

    def _build_header(self) -> QWidget:
        """Buttons, progress and messages above the plots, visible whenever the plots are."""
        header = QWidget()
        layout = QVBoxLayout(header)
        layout.setContentsMargins(6, 4, 6, 2)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.plots_toggle = QToolButton()
        self.plots_toggle.setObjectName("plotsToggle")
        self.plots_toggle.setCheckable(True)
        self.plots_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.plots_toggle.setAutoRaise(True)
        self.plots_toggle.setText("Plots")
        self.plots_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.plots_toggle.setToolTip("Show or hide the plots (they open when training starts)")
        self.plots_toggle.toggled.connect(lambda on: on != self._expanded and self.set_expanded(on))
        row.addWidget(self.plots_toggle)
        self.train_button = self._button(self.train_action, primary=True)
        self.pause_button = self._button(self.pause_action)
        self.stop_button = self._button(self.stop_action)
        for b in (self.train_button, self.pause_button, self.stop_button):
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            b.setMinimumWidth(58)
            row.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setMinimumHeight(26)
        self.progress.setMinimumWidth(150)
        row.addWidget(self.progress, 1)
        self.save_button = self._button(self.save_weights_action)
        self.export_button = self._button(self.export_action)
        for b in (self.save_button, self.export_button):
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            row.addWidget(b)
        layout.addLayout(row)

        info = QHBoxLayout()
        self.status_label = QLabel(START_HINT)
        self.status_label.setWordWrap(True)
        info.addWidget(self.status_label, 1)
        self.lock_label = QLabel("Network locked while training")
        self.lock_label.setToolTip(LOCK_REASON)
        self.lock_label.setStyleSheet(
            "QLabel { background: rgba(237, 201, 72, 70); border-radius: 4px; padding: 2px 6px;"
            " border: 1px solid rgba(237, 201, 72, 170); }"
        )
        self.lock_label.hide()
        info.addWidget(self.lock_label)
        layout.addLayout(info)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setStyleSheet(
            "QLabel { background: rgba(225, 87, 89, 45); border-radius: 4px; padding: 6px;"
            " border: 1px solid rgba(225, 87, 89, 170); }"
        )
        self.message_label.hide()
        layout.addWidget(self.message_label)
        return header

    def _build_plots_dock(self) -> None:
        """The bottom dock: controls and progress above loss, gradients and the epoch views."""
        body = QWidget()
        v = QVBoxLayout(body)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        self.header = self._build_header()
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
        return self._views is not None

    def ensure_plots(self) -> None:
        """Build the plots now if they are not yet (pyqtgraph is imported here)."""
        if self._views is None:
            self._build_views()

    def _build_views(self) -> None:
        from .plots import (
            AccuracyPlot,
            ConfusionMatrixView,
            FeatureMapView,
            GradNormPlot,
            HistogramPlots,
            LossPlot,
            SampleGrid,
        )

        t = self.theme
        loss, accuracy = LossPlot(t), AccuracyPlot(t)
        grad, histograms = GradNormPlot(t), HistogramPlots(t)
        confusion, samples, features = ConfusionMatrixView(t), SampleGrid(t), FeatureMapView(t)

        views = QTabWidget()
        views.setDocumentMode(True)
        # short titles: the tab bar fits a narrow column without cutting a word off
        for widget, title, tip in (
            (histograms, "Histograms", "Gradient and weight histograms of the selected block"),
            (confusion, "Confusion", "Confusion matrix on the test set, after each epoch"),
            (samples, "Images", "Test images with true and predicted labels, after each epoch"),
            (features, "Maps", "Feature maps of the selected block for one test image"),
        ):
            views.setTabToolTip(views.addTab(widget, title), tip)
        views.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        views.setStyleSheet("QTabBar::tab { padding: 4px 9px; }")  # four titles in ~300 px
        views.setUsesScrollButtons(True)
        views.setMinimumWidth(200)  # narrower than its tabs: scroll arrows, no cut words
        views.currentChanged.connect(lambda _i: self._refresh_histograms())

        # side by side, each the dock's full height: stacked, loss and accuracy were each too
        # short to read in a 300 px dock; accuracy (a few epoch points) takes a narrow column
        split = QSplitter(Qt.Orientation.Horizontal)
        shares = ((loss, 8), (accuracy, 5), (grad, 8), (views, 11))
        for i, (widget, stretch) in enumerate(shares):
            split.addWidget(widget)
            split.setStretchFactor(i, stretch)
        split.setChildrenCollapsible(False)
        # first sizes in the same shares (the splitter scales them to its width): left to the
        # widgets' size hints, the tab column got too little and cut its tab titles
        split.setSizes([100 * stretch for _w, stretch in shares])
        self.plots_area.layout().addWidget(split)
        self._views = {
            "loss_plot": loss,
            "accuracy_plot": accuracy,
            "grad_plot": grad,
            "histograms": histograms,
            "confusion": confusion,
            "samples": samples,
            "features": features,
            "views": views,
            "plots_splitter": split,
        }
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

    def preferred_height(self) -> int:
        """The dock's height for a window's default layout."""
        return RUN_DOCK_H if self._expanded else self.collapsed_height()

    def set_expanded(self, on: bool, resize: bool = True, build_now: bool = True) -> None:
        dock, canvas = self.plots_dock, self.window.canvas
        resize = resize and not dock.isFloating() and self.window.isVisible()
        # measured before the plots show: showing them can grow the dock at once
        short = dock.height() < min(RUN_DOCK_H, self.window.height() // 2)
        whole = False
        if resize and hasattr(canvas, "visible_scene_rect"):  # (a stand-in window has none)
            view = canvas.visible_scene_rect()
            items = getattr(canvas.scene(), "node_items", {}).values()
            whole = all(view.contains(i.sceneBoundingRect()) for i in items)
        if resize and whole:  # the network was all in view: keep it so as the canvas resizes
            self._refit_until = time.perf_counter() + 0.5
            canvas.viewport().installEventFilter(self)
        if on and build_now:
            self.ensure_plots()
        elif on:  # the window paints first; the plots follow a moment later
            QTimer.singleShot(50, self.ensure_plots)
        self._expanded = on
        self.plots_area.setVisible(on)  # may grow the dock at once (the plots' minimum size)
        self.plots_toggle.setChecked(on)
        self.plots_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        if not resize:
            return
        if on and short:
            wanted = min(RUN_DOCK_H, self.window.height() // 2)
            self.window.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)
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
    @property
    def running(self) -> bool:
        return self.worker is not None

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
        self.step = 0
        self.message = ""
        self.message_label.hide()
        self._clear_tint()
        self._histograms = None
        if self._views is not None:
            self.histograms.clear()
            self.confusion.set_matrix(None, None)
            self.samples.set_samples([], [], [], None)
            self.features.set_hint(self.features.hint)
        self.run = self.previous = None
        runs = self._saved_runs()
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
            self.message_label.setText(f"<b>Training settings</b><br>{_html(self.message)}")
            self.message_label.show()

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
            self._show_failure(f"The training settings are not valid: {exc}")
            return False
        problems = self.window.graph.problems()
        if problems:
            from netbuilder.graph.model import problem_line

            names = {nid: n.name for nid, n in self.window.graph.nodes.items()}
            nid, msg = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            line = problem_line(names.get(nid, nid), msg)
            self._show_failure(f"Fix the network before training: {line}{more}")
            return False
        try:
            self._graph_dict = self.window.graph.to_dict()
            worker = TrainingProcess(self._graph_dict, settings.to_dict(), self._trainer_factory)
            worker.start()
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._show_failure(f"Training could not start: {exc}")
            return False

        if self.run is not None and len(self.run.loss):
            self.previous = self.run
        self.run = RunCurves(settings=settings.to_dict())
        self.run.total_epochs = settings.epochs
        self.result = None
        self.step = 0
        self.total_steps = 0
        self.paused = False
        self.message = ""
        self.message_label.hide()
        self._histograms = None
        self._rate = 0.0
        self._progress_times.clear()
        self._node_ids = {n.name: nid for nid, n in self.window.graph.nodes.items()}
        self._clear_tint()
        self.confusion.set_matrix(None, None)
        self.samples.set_samples([], [], [], None)
        self._show_run()
        self.progress.setRange(0, 0)  # busy until RunStarted says how many steps
        self.progress.setFormat("Loading data…")
        self.status_label.setText(f"Loading {settings.dataset}…")

        self.worker = worker
        node = self._feature_node_name(self._selected_node)
        if node:
            self.worker.request_features(node)
        self.form.set_running(True)
        self.window.set_structure_locked(True, LOCK_REASON)
        self.lock_label.show()
        # the curves are made now (the click) rather than when the run has begun
        self.grad_plot.set_layers(self._parametrised_layers())
        self._run_started_at = time.perf_counter()
        self._gone_since = None
        self._make_room()
        self.timer.start()
        self._update_actions()
        return True

    def _parametrised_layers(self) -> list[str]:
        graph = self.window.graph
        order = graph.topological_order() if hasattr(graph, "topological_order") else graph.nodes
        return [graph.nodes[i].name for i in order if getattr(graph.nodes[i], "param_count", 0)]

    def _make_room(self) -> None:
        """Open the plots when a run starts, at a readable height, unless the person has set
        the dock's size themselves (then it stands)."""
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
        if self.worker is not None and not self.paused:
            self.worker.pause()
            self.paused = True
            self.progress.setFormat(self._progress_text(prefix="Pausing… · "))
            self._update_actions()

    def resume(self) -> None:
        if self.worker is not None and self.paused:
            self.worker.resume()
            self.paused = False
            self._progress_times.clear()
            self._update_actions()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status_label.setText("Stopping…")

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the run has ended and its events are shown (tests, scripts)."""
        deadline = time.perf_counter() + timeout
        while self.worker is not None and time.perf_counter() < deadline:
            self.worker.join(0.05)
            self._tick()
        return self.worker is None

    def shutdown(self) -> None:
        """Stop a run and end its process (window closing, project replaced)."""
        if self.worker is None:
            return
        worker = self.worker
        worker.close()
        self.timer.stop()
        self.worker = None
        self.paused = False
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
        if self._views is None:
            return  # built later in the new colours
        for view in (
            self.loss_plot,
            self.accuracy_plot,
            self.grad_plot,
            self.histograms,
            self.confusion,
            self.samples,
            self.features,
        ):
            view.apply_theme(self.theme)

    def _after_close(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    # -- events from the worker -----------------------------------------------------------------
    def _tick(self) -> None:
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
            self._handle(event)
        if self._dirty or self._grads_dirty or self._hist_dirty or self._tint_due:
            self._refresh(force=done)
        if done:
            self._finish_run()

    def _child_gone(self, worker: TrainingProcess) -> bool:
        """The child ended without saying so (killed, out of memory, a crash in native code):
        after a moment for its last messages, report it as the run's failure."""
        if self._gone_since is None:
            self._gone_since = time.perf_counter()
            return False
        if time.perf_counter() - self._gone_since < 1.0:
            return False
        code = worker.exitcode
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else (f"exited with code {code}")
        )
        self.run.status = "failed"
        self.run.message = (
            f"The training process {how} before the run ended (out of memory?). "
            "The curves so far are kept; lower the batch size or the network's size and try again."
        )
        self._pending_error = ("Training stopped", self.run.message)
        return True

    def _handle(self, event) -> None:
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event)

    def _on_RunStarted(self, e) -> None:
        run = self.run
        run.steps_per_epoch = int(e.steps_per_epoch)
        run.total_epochs = int(e.epochs)
        run.layer_names = list(e.layer_names)
        self._first_step = int(getattr(e, "first_step", 1))
        self.total_steps = run.steps_per_epoch * run.total_epochs
        names = list(getattr(e, "class_names", ())) or None
        self.samples.class_names = self.confusion.class_names = names
        if list(self.grad_plot.curves) != run.layer_names:
            self.grad_plot.set_layers(run.layer_names)
        self.progress.setRange(0, max(1, self.total_steps))
        self.progress.setValue(0)
        self.status_label.setText(
            f"Training on {getattr(e, 'train_samples', 0):,} images, testing on "
            f"{getattr(e, 'test_samples', 0):,} after each epoch."
        )
        if self._selected_layer is None and run.layer_names:
            self.histograms.clear(run.layer_names[0])
        self._dirty = True

    def _on_StepEnd(self, e) -> None:
        step = int(e.step) - self._first_step + 1
        self.step = step
        run = self.run
        run.add_step(step, float(e.loss))
        rate = float(e.samples_per_s)
        if math.isfinite(rate) and rate > 0:
            self._rate = rate if self._rate == 0 else 0.9 * self._rate + 0.1 * rate
            run.samples_per_s = self._rate
        self._progress_times.append((time.perf_counter(), step))
        if e.grad_norms:
            run.add_grad_norms(step, self._layer_norms(e.grad_norms))
            self._grads_dirty = True
        if e.histograms:
            self._histograms = e.histograms
            self._hist_step = step
            self._hist_dirty = True
        self._dirty = True

    def _on_EpochEnd(self, e) -> None:
        run = self.run
        run.add_epoch(
            EpochPoint(
                int(e.epoch) - (self._first_epoch_offset()),
                self.step,
                float(e.train_loss),
                float(e.test_loss),
                float(e.test_accuracy),
                float(e.seconds),
                _or_nan(getattr(e, "val_loss", None)),
                _or_nan(getattr(e, "val_accuracy", None)),
            )
        )
        self.confusion.set_matrix(e.confusion, run.epochs[-1].epoch)
        samples = getattr(e, "samples", None)
        if samples is not None:
            self.samples.set_samples(
                samples.images, samples.labels, samples.predicted, run.epochs[-1].epoch
            )
        self._epochs_dirty = True
        self._dirty = True

    def _first_epoch_offset(self) -> int:
        # a Trainer that goes on from an earlier run counts epochs on; the plots count this run's
        if self.run is None or self.run.steps_per_epoch == 0:
            return 0
        return (self._first_step - 1) // self.run.steps_per_epoch

    def _on_Paused(self, e) -> None:
        # the trainer has finished its step: the figures shown are where it stands
        self.paused = True
        self.progress.setValue(min(self.step, self.total_steps))
        self.progress.setFormat(self._progress_text(prefix=f"Paused at step {self.step:,} · "))
        self._update_actions()

    def _on_Resumed(self, e) -> None:
        self.paused = False
        self._update_actions()

    def _on_Stopped(self, e) -> None:
        self.run.status = "stopped"

    def _on_Finished(self, e) -> None:
        self.run.status = "finished"

    def _on_Failed(self, e) -> None:
        self.run.status = "failed"
        self.run.message = str(e.message)
        self._pending_error = ("Training stopped", str(e.message))

    def _on_WorkerFailed(self, e) -> None:
        log.error("training thread failed:\n%s", e.details)
        self.run.status = "failed"
        self.run.message = e.message
        self._pending_error = ("Training stopped", e.message)

    def _on_FeatureMaps(self, e: FeatureMaps) -> None:
        if e.node_name == self._feature_node_name(self._selected_node):
            self.features.set_maps(e.node_name, e.maps, e.image, e.label)

    def _on_RunResult(self, e: RunResult) -> None:
        self.result = TrainedModel(self._graph_dict, e)

    def _layer_norms(self, norms: dict) -> dict[str, float]:
        """{param name: norm} -> {layer: L2 norm over the layer's parameters}."""
        out: dict[str, float] = {}
        for name, value in norms.items():
            layer = name.rpartition(".")[0] or name
            out[layer] = out.get(layer, 0.0) + float(value) ** 2
        return {k: math.sqrt(v) for k, v in out.items()}

    # -- drawing --------------------------------------------------------------------------------
    def _show_run(self) -> None:
        if self._views is None:
            return  # _build_views shows it
        run = self.run or RunCurves()
        self.loss_plot.show_previous(self.previous)
        self.accuracy_plot.show_previous(self.previous)
        self.loss_plot.show_run(run)
        self.accuracy_plot.show_run(run)
        self.grad_plot.show_run(run)

    def _refresh(self, force: bool = False) -> None:
        """Push what changed to the views. The loss on every tick; the slower views (gradient
        plot, canvas tint, histograms, progress bar) take turns, one per tick, so that no
        frame repaints them all at once: a frame's cost is what a busy machine stretches into
        a stall. `force` (the run's end) updates everything."""
        self._dirty = False
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
        self._tint_canvas()
        return True

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
        if not self.paused:
            self.progress.setFormat(self._progress_text())
        return True

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

    def _progress_text(self, prefix: str = "") -> str:
        run = self.run
        if run is None or not run.steps_per_epoch:
            return prefix + "Starting…"
        epoch = min(run.total_epochs, self.step // run.steps_per_epoch + 1)
        parts = [
            f"Epoch {epoch}/{run.total_epochs}",
            f"step {self.step:,}/{self.total_steps:,}",
            f"{_compact(self._rate)} samples/s",
        ]
        eta = self._eta()
        if eta is not None:
            parts.append(f"ETA {_clock(eta)}")
        return prefix + " · ".join(parts)

    def _eta(self) -> float | None:
        if len(self._progress_times) < 2:
            return None
        (t0, s0), (t1, s1) = self._progress_times[0], self._progress_times[-1]
        if s1 <= s0 or t1 <= t0:
            return None
        return (self.total_steps - self.step) * (t1 - t0) / (s1 - s0)

    # -- the canvas tint ------------------------------------------------------------------------
    def _tint_canvas(self) -> None:
        run = self.run
        # each layer's last few measurements (geometric mean): one noisy batch does not flicker
        latest = {name: _recent(s.y) for name, s in run.grad_norms.items() if len(s)}
        finite = [v for v in latest.values() if math.isfinite(v) and v > 0]
        if not finite:
            return
        centre = math.exp(sum(math.log(v) for v in finite) / len(finite))  # geometric mean
        canvas = self.window.canvas
        for name, value in latest.items():
            nid = self._node_ids.get(name)
            if nid is None:
                continue
            colour, ratio = gradient_tint(value, centre)
            if ratio is None:
                tip = f"{name}: gradient norm {value:.3g} (no signal: a dead or frozen layer?)"
            else:
                tip = (
                    f"{name}: gradient L2 norm {value:.3g}, {ratio:.2g}× the layers' geometric mean"
                )
            canvas.set_node_overlay(nid, colour, tip)
            self._tinted.add(nid)

    def _clear_tint(self) -> None:
        canvas = getattr(self.window, "canvas", None)
        for nid in self._tinted:
            if canvas is not None and nid in self.window.graph.nodes:
                canvas.set_node_overlay(nid, None, None)
        self._tinted.clear()

    # -- selection: histograms and feature maps -------------------------------------------------
    def _selection_changed(self, node_id) -> None:
        self._selected_node = node_id
        node = self.window.graph.nodes.get(node_id) if node_id else None
        has_params = node is not None and getattr(node, "param_count", 0) > 0
        self._selected_layer = node.name if has_params else None
        if self._views is None:
            return  # _build_views calls this again
        if self._histograms is not None:
            self._refresh_histograms()
        else:
            self.histograms.clear(self._selected_layer)
        name = self._feature_node_name(node_id)
        if name is None:
            self.features.set_hint(
                "Select a Conv2d (or any block with an image-shaped output) to see its feature maps"
            )
            if self.worker is not None:
                self.worker.request_features(None)
            return
        if self.worker is not None:
            self.worker.request_features(name)
            self.features.set_hint(f"Feature maps of {name} appear after the next step…")
        elif self.result is not None:
            r = self.result
            try:
                old = next(n["name"] for n in self._graph_dict["nodes"] if n["id"] == node_id)
                maps = r.feature_maps(old)
            except Exception as exc:  # noqa: BLE001 - the view says why, the app goes on
                self.features.set_hint(f"No feature maps for {name}: {exc}")
                return
            self.features.set_maps(name, maps, r.probe_image, r.probe_label)
        else:
            self.features.set_hint(f"Train the network to see the feature maps of {name}.")

    def _feature_node_name(self, node_id) -> str | None:
        node = self.window.graph.nodes.get(node_id) if node_id else None
        if node is None or node.type == "Input":
            return None
        shape = getattr(node, "out_shape", None)
        return node.name if shape is not None and len(shape) == 3 else None

    # -- the end of a run -----------------------------------------------------------------------
    def _finish_run(self) -> None:
        worker = self.worker
        self.timer.stop()
        worker.close()  # the child has sent everything; reap it
        self.worker = None
        self.paused = False
        run = self.run
        if run.status == "running":
            run.status = "stopped"
        self._refresh(force=True)
        self.window.set_structure_locked(False, "")
        self.lock_label.hide()
        self.form.set_running(False)
        elapsed = time.perf_counter() - self._run_started_at
        text = f"Run {run.status} after {self.step:,} steps in {_clock(elapsed)}"
        if run.epochs and math.isfinite(run.epochs[-1].test_accuracy):
            text += f"; test accuracy {100 * run.epochs[-1].test_accuracy:.2f} %"
        self.status_label.setText(text + ".")
        self.progress.setFormat(
            {"finished": "Finished", "stopped": "Stopped", "failed": "Failed"}[run.status]
            + f" · step {self.step:,}/{self.total_steps:,}"
        )
        self._record_run()
        self._update_actions()
        if self._pending_error is not None:
            title, message = self._pending_error
            self._pending_error = None
            self._show_failure(message, title)

    def _record_run(self) -> None:
        if self.step == 0 and self.run.status != "finished":
            return  # nothing trained: nothing worth keeping
        project = self._project()
        runs = list(getattr(project, "runs", None) or [])
        runs.append(self.run.to_dict())
        project.runs = runs[-KEPT_RUNS:]
        self.window.mark_dirty()

    def _show_failure(self, message: str, title: str = "Training") -> None:
        self.message = message
        self.message_label.setText(f"<b>{title}</b><br>{_html(message)}")
        self.message_label.show()
        # after the current slot returns, so a modal box never runs inside the timer's tick
        QTimer.singleShot(0, lambda: self.window.show_error(title, message))

    # -- after a run ----------------------------------------------------------------------------
    def save_weights(self, path: str | Path | None = None) -> Path | None:
        """Save the trained weights (.safetensors); asks for a file when `path` is None."""
        if self.result is None or self.running:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window,
                "Save weights",
                self._default_path(".safetensors"),
                "safetensors (*.safetensors)",
            )
            if not path:
                return None
        path = Path(path)
        if path.suffix != ".safetensors":
            path = (
                path.with_suffix(path.suffix + ".safetensors")
                if path.suffix
                else path.with_suffix(".safetensors")
            )
        try:
            from netbuilder.safeio import check_outputs

            project_path = getattr(self.window, "path", None)
            check_outputs([("the weights", path)], [("the project", project_path)])
            self.result.save_weights(path, self.window.graph)
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._show_failure(f"Could not save the weights to {path}: {exc}", "Save weights")
            return None
        project = self._project()
        if hasattr(project, "weights_path"):
            project.weights_path = str(path)
            self.window.mark_dirty()
        self.status_label.setText(f"Weights saved to {path}.")
        return path

    def export_with_weights(
        self, path: str | Path | None = None, target: str = "torch"
    ) -> Path | None:
        """Export the network as a script (PyTorch or engine) beside a .safetensors of the
        trained weights; asks for the file and the target when `path` is None."""
        if self.result is None or self.running:
            return None
        from netbuilder.export import write_export

        if path is None:
            torch_filter = "PyTorch script (*.py)"
            path, chosen = QFileDialog.getSaveFileName(
                self.window,
                "Export with weights",
                self._default_path(".py"),
                f"{torch_filter};;engine script (*.py)",
            )
            if not path:
                return None
            target = "torch" if chosen == torch_filter else "engine"
        path = Path(path)
        if path.suffix != ".py":
            path = path.with_suffix(".py")
        try:
            from netbuilder.safeio import check_export_paths

            project_path = getattr(self.window, "path", None)
            check_export_paths(path, None, project_path)
            check_export_paths(path.with_suffix(".safetensors"), None, project_path)
            weights = self.result.weights_for(self.window.graph)
            name = getattr(self.window, "project_name", lambda: None)()
            written = write_export(
                self._project(), path, target=target, weights=weights, project_name=name
            )
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._show_failure(f"Could not export to {path}: {exc}", "Export with weights")
            return None
        written = Path(written)
        weights_file = written.with_suffix(".safetensors").name
        self.status_label.setText(f"Exported {written.name} with its weights in {weights_file}.")
        return written

    def _default_path(self, suffix: str) -> str:
        base = getattr(self.window, "path", None)
        name = (getattr(self.window.graph, "name", "") or "network").replace(" ", "_")
        folder = Path(base).parent if base else Path.home()
        return str(folder / f"{name}{suffix}")


def gradient_tint(value: float, centre: float) -> tuple[QColor, float | None]:
    """Tint for a layer whose gradient norm is `value` when the layers' centre is `centre`:
    blue when much smaller (vanishing), neutral near the centre, red when much larger."""
    if not (math.isfinite(value) and value > 0 and centre > 0):
        c = QColor("#7f7f7f") if not math.isfinite(value) or value == 0 else QColor("#4e79a7")
        c.setAlpha(150)
        return c, None
    ratio = value / centre
    t = max(-1.0, min(1.0, math.log10(ratio) / 2.0))  # 100x either way saturates
    neutral = (89, 161, 79)  # green: ordinary
    far = (78, 121, 167) if t < 0 else (225, 87, 89)  # blue small, red large
    a = abs(t)
    rgb = [round(n + (f - n) * a) for n, f in zip(neutral, far)]
    c = QColor(*rgb)
    c.setAlpha(round(70 + 110 * a))
    return c, ratio


def _or_nan(value) -> float:
    return math.nan if value is None else float(value)


def _recent(values, count: int = 5) -> float:
    tail = values[-count:]
    tail = tail[np.isfinite(tail) & (tail > 0)]
    if not len(tail):
        return float(values[-1])
    return float(np.exp(np.log(tail).mean()))


def _compact(rate: float) -> str:
    """5,370 -> "5.4k": the progress bar's text fits a narrow dock."""
    return f"{rate / 1000:.1f}k" if rate >= 1000 else f"{rate:.0f}"


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )
