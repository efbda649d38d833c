"""The plots of a run laid out together: loss, accuracy, gradient norms and a tab column with
histograms, confusion matrix, test images and feature maps. Imports pyqtgraph (built lazily)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from .plot_theme import Theme
from .plots import (
    AccuracyPlot,
    ConfusionMatrixView,
    FeatureMapView,
    GradNormPlot,
    HistogramPlots,
    LossPlot,
    SampleGrid,
)
from .runs import RunCurves


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

        views = QTabWidget()
        views.setDocumentMode(True)
        # short titles: the tab bar fits a narrow column without cutting a word off
        for widget, title, tip in (
            (self.histograms, "Histograms", "Gradient and weight histograms of the selected block"),
            (self.confusion, "Confusion", "Confusion matrix on the test set, after each epoch"),
            (
                self.samples,
                "Images",
                "Test images with true and predicted labels, after each epoch",
            ),
            (self.features, "Maps", "Feature maps of the selected block for one test image"),
        ):
            views.setTabToolTip(views.addTab(widget, title), tip)
        views.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        views.setStyleSheet("QTabBar::tab { padding: 4px 9px; }")
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.one_row: bool | None = None
        self._arrange(one_row=False)

    def _arrange(self, one_row: bool) -> None:
        if one_row == self.one_row:
            return
        self.one_row = one_row
        if one_row:
            rows = [(self.loss_plot, 8), (self.accuracy_plot, 5), (self.grad_plot, 8)]
            rows += [(self.views, 11)]
            for i, (w, _s) in enumerate(rows):
                self.top.insertWidget(i, w)
            self.bottom.hide()
            self.top.setSizes([100 * s for _w, s in rows])
        else:
            self.top.insertWidget(0, self.loss_plot)
            self.top.insertWidget(1, self.accuracy_plot)
            self.bottom.insertWidget(0, self.grad_plot)
            self.bottom.insertWidget(1, self.views)
            self.bottom.show()
            self.top.setSizes([640, 360])
            self.bottom.setSizes([560, 440])
            self.splitter.setSizes([500, 500])

    def all_views(self) -> tuple:
        return (
            self.loss_plot,
            self.accuracy_plot,
            self.grad_plot,
            self.histograms,
            self.confusion,
            self.samples,
            self.features,
        )

    def apply_theme(self, theme: Theme) -> None:
        for view in self.all_views():
            view.apply_theme(theme)

    def show_run(self, run: RunCurves | None, previous: RunCurves | None) -> None:
        run = run or RunCurves()
        self.loss_plot.show_previous(previous)
        self.accuracy_plot.show_previous(previous)
        self.loss_plot.show_run(run)
        self.accuracy_plot.show_run(run)
        self.grad_plot.show_run(run)

    def clear_epoch_views(self) -> None:
        self.confusion.set_matrix(None, None)
        self.samples.set_samples([], [], [], None)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # short and wide (a strip across the window): one row; else two, each plot readable
        self._arrange(one_row=self.height() < 330 and self.width() > 3.2 * self.height())
