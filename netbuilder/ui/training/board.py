"""The plots of a run laid out together: loss, accuracy, gradient norms and a tab column with
histograms, confusion matrix, test images and feature maps. Imports pyqtgraph (built lazily)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QSplitter, QTabWidget, QVBoxLayout, QWidget

from .diagnostic_plots import DeadUnitsPlot, DistributionPlots, UpdateRatioPlot
from .epoch_views import ConfusionMatrixView, FeatureMapView, HistogramPlots, SampleGrid
from .plot_theme import Theme
from .plots import AccuracyPlot, GradNormPlot, LossPlot
from .runs import RunCurves
from .runs_table import RunsTable
from .tools import PlotTools, save_plot, write_metrics_csv

BANDS_EVERY_S = 1.0  # the distributions' redraw interval during a run
WIDE_BOARD = 1250  # from this width the update ratios get their own column beside the gradients
PLOT_TITLES = (
    ("loss", "Loss"),
    ("accuracy", "Test accuracy"),
    ("gradients", "Gradient norms"),
    ("updates", "Update/weight ratio"),
    ("dead", "Dead units"),
)


class PlotBoard(QWidget):
    """All the run's views. Wide (a dock across the window): one row, the curves side by side;
    tall (the plots given most of the window): curves above, the tab column below them."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        t = theme
        self.loss_plot, self.accuracy_plot = LossPlot(t), AccuracyPlot(t)
        self.grad_plot, self.histograms = GradNormPlot(t), HistogramPlots(t)
        self.confusion, self.samples = ConfusionMatrixView(t), SampleGrid(t)
        self.features = FeatureMapView(t)
        self.update_plot, self.dead_plot = UpdateRatioPlot(t), DeadUnitsPlot(t)
        self.distributions = DistributionPlots(t)
        self.runs_table = RunsTable()

        views = QTabWidget()
        views.setDocumentMode(True)
        # short titles: the tab bar fits a narrow column without cutting a word off
        for widget, title, tip in (
            (self.histograms, "Histograms", "Gradient and weight histograms of the selected block"),
            (
                self.distributions,
                "Distributions",
                "The selected block's weights and gradients over time: quantile bands",
            ),
            (self.dead_plot, "Dead units", "Share of each ReLU block's units that never fire"),
            (self.confusion, "Confusion", "Confusion matrix on the test set, after each epoch"),
            (
                self.samples,
                "Images",
                "Test images with true and predicted labels, after each epoch",
            ),
            (self.features, "Maps", "Feature maps of the selected block for one test image"),
            (self.runs_table, "Runs", "Every run kept with the project: overlay, compare, rename"),
        ):
            views.setTabToolTip(views.addTab(widget, title), tip)
        views.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        # the app's QToolButton padding would leave the tab bar's scroll arrows no room
        views.setStyleSheet(
            "QTabBar::tab { padding: 4px 8px; }"
            " QTabBar QToolButton { padding: 0px; border-radius: 0px; background: palette(window);"
            " border: 1px solid palette(mid); }"
        )
        views.setUsesScrollButtons(True)
        views.setMinimumWidth(200)  # narrower than its tabs: scroll arrows, no cut words
        self.views = views

        # two rows (loss and accuracy above, gradients and the tab column below) in a vertical
        # splitter; a board much wider than tall lines all four up in one row instead
        self.top = QSplitter(Qt.Orientation.Horizontal)
        self.bottom = QSplitter(Qt.Orientation.Horizontal)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for s in (self.top, self.bottom, self.splitter):
            s.setChildrenCollapsible(False)
        self.splitter.addWidget(self.top)
        self.splitter.addWidget(self.bottom)
        self.tools = PlotTools(list(PLOT_TITLES))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tools)
        layout.addWidget(self.splitter, 1)
        self.one_row: bool | None = None
        self._arrange(one_row=False)
        self.run: RunCurves | None = None
        self.previous: RunCurves | None = None
        self._bands_at = 0.0
        self.default_folder = Path.home  # the dashboard points it at the project's folder
        self.report = print  # a line for the person (the dashboard's status line)
        self.tools.smoothingChanged.connect(self._smoothing)
        self.tools.xModeChanged.connect(self._x_mode)
        self.tools.resetRequested.connect(self.reset_views)
        self.tools.savePlotRequested.connect(self._save_plot)
        self.tools.csvRequested.connect(self._save_csv)
        for plot in self.curve_plots().values():
            plot.viewReset.connect(self._redraw)

    def curve_plots(self) -> dict:
        return {
            "loss": self.loss_plot,
            "accuracy": self.accuracy_plot,
            "gradients": self.grad_plot,
            "updates": self.update_plot,
            "dead": self.dead_plot,
        }

    # -- the tools ---------------------------------------------------------------------------
    def _smoothing(self, weight: float) -> None:
        self.loss_plot.set_smoothing(weight, self.run)

    def _x_mode(self, mode: str) -> None:
        for plot in (self.loss_plot, self.grad_plot, self.update_plot, self.dead_plot):
            plot.set_x_mode(mode)
        for w, _lines, _median in self.distributions.plots.values():
            w.set_x_mode(mode)

    def reset_views(self) -> None:
        for plot in self.curve_plots().values():
            plot.reset_view()

    def _redraw(self) -> None:
        if self.run is not None:
            self.show_run(self.run, self.previous)

    def _save_plot(self, key: str, fmt: str) -> Path | None:
        title = dict(PLOT_TITLES)[key]
        run_name = (self.run.title if self.run else "run").replace(":", "-").replace(" ", "_")
        start = Path(self.default_folder()) / f"{key}-{run_name}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save the {title.lower()} plot", str(start), f"{fmt.upper()} (*.{fmt})"
        )
        if not path:
            return None
        return self.save_plot_to(key, Path(path).with_suffix(f".{fmt}"))

    def save_plot_to(self, key: str, path: Path) -> Path | None:
        try:
            saved = save_plot(self.curve_plots()[key], path)
        except (OSError, ValueError) as exc:
            self.report(f"Could not save the plot: {exc}")
            return None
        self.report(f"Plot saved to {saved}.")
        return saved

    def _save_csv(self) -> Path | None:
        if self.run is None or not len(self.run.loss):
            self.report("No run to save yet: train first.")
            return None
        run_name = self.run.title.replace(":", "-").replace(" ", "_")
        start = Path(self.default_folder()) / f"metrics-{run_name}.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Save metrics", str(start), "CSV (*.csv)")
        if not path:
            return None
        return self.save_csv_to(Path(path).with_suffix(".csv"))

    def save_csv_to(self, path: Path) -> Path | None:
        try:
            saved = write_metrics_csv(self.run, path, self.tools.smoothing)
        except (OSError, ValueError) as exc:
            self.report(f"Could not save the metrics: {exc}")
            return None
        self.report(f"Metrics saved to {saved}.")
        return saved

    def _arrange(self, one_row: bool, wide: bool = True) -> None:
        """One row (a short strip), or two: loss and accuracy above; gradients, updates and the
        tab column below, the updates becoming the first tab when the board is too narrow for
        three readable columns."""
        key = ("row" if one_row else "wide") if one_row or wide else "narrow"
        if key == self.one_row:
            return
        self.one_row = key
        tab = self.views.indexOf(self.update_plot)
        if key == "narrow":
            if tab < 0:
                self.views.insertTab(0, self.update_plot, "Updates")
                self.views.setTabToolTip(0, self.update_plot.toolTip().split("\n")[0])
        elif tab >= 0:
            self.views.removeTab(tab)
        if key == "row":
            rows = [(self.loss_plot, 8), (self.accuracy_plot, 5), (self.grad_plot, 8)]
            rows += [(self.update_plot, 7), (self.views, 11)]
            for i, (w, _s) in enumerate(rows):
                self.top.insertWidget(i, w)
            self.bottom.hide()
            self.top.setSizes([100 * s for _w, s in rows])
            return
        self.top.insertWidget(0, self.loss_plot)
        self.top.insertWidget(1, self.accuracy_plot)
        self.bottom.insertWidget(0, self.grad_plot)
        if key == "wide":
            self.bottom.insertWidget(1, self.update_plot)
            self.bottom.insertWidget(2, self.views)
            self.bottom.setSizes([340, 300, 360])
        else:
            self.bottom.insertWidget(1, self.views)
            self.bottom.setSizes([450, 550])
        self.update_plot.show()
        self.bottom.show()
        self.top.setSizes([640, 360])
        self.splitter.setSizes([500, 500])

    def all_views(self) -> tuple:
        return (
            self.loss_plot,
            self.accuracy_plot,
            self.grad_plot,
            self.update_plot,
            self.dead_plot,
            self.distributions,
            self.histograms,
            self.confusion,
            self.samples,
            self.features,
        )

    def apply_theme(self, theme: Theme) -> None:
        for view in self.all_views():
            view.apply_theme(theme)

    def show_run(self, run: RunCurves | None, previous: RunCurves | None) -> None:
        self.run, self.previous = run, previous
        run = run or RunCurves()
        self.loss_plot.show_previous(previous)
        self.accuracy_plot.show_previous(previous)
        self.loss_plot.show_run(run)
        self.accuracy_plot.show_run(run)
        self.grad_plot.show_run(run)
        self.show_diagnostics(run)

    def show_overlays(self, runs: list[RunCurves]) -> None:
        self.loss_plot.show_overlays(runs)
        self.accuracy_plot.show_overlays(runs)
        if self.run is not None:
            self.accuracy_plot.show_run(self.run)

    def show_diagnostics(self, run: RunCurves, layer: str | None = None) -> None:
        self.update_plot.show_run(run)
        if self.dead_plot.isVisible() or not run.dead_fraction:
            self.dead_plot.show_run(run)
        # the quantile bands are the costliest paint of the board: once a second is plenty
        now = time.perf_counter()
        if self.distributions.isVisible() and now - self._bands_at >= BANDS_EVERY_S:
            self._bands_at = now
            self.distributions.show_layer(run, layer or self.distributions.layer)

    def clear_epoch_views(self) -> None:
        self.confusion.set_matrix(None, None)
        self.samples.set_samples([], [], [], None)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # short and wide (a strip across the window): one row; else two, each plot readable
        self._arrange(
            one_row=self.height() < 330 and self.width() > 3.2 * self.height(),
            wide=self.width() >= WIDE_BOARD,
        )
