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

        # the curves in one splitter; with the tab column in a second one around it, so a tall
        # board can stack them (curves above, the epoch views below) and a wide one line them up
        self.curves = QSplitter(Qt.Orientation.Horizontal)
        self._shares = ((self.loss_plot, 8), (self.accuracy_plot, 5), (self.grad_plot, 8))
        for i, (widget, stretch) in enumerate(self._shares):
            self.curves.addWidget(widget)
            self.curves.setStretchFactor(i, stretch)
        self.curves.setChildrenCollapsible(False)
        self.curves.setSizes([100 * s for _w, s in self._shares])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.curves)
        self.splitter.addWidget(views)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 21)
        self.splitter.setStretchFactor(1, 11)
        self.splitter.setSizes([2100, 1100])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

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
        # tall and not very wide: stack the curves over the epoch views so both stay readable
        tall = self.height() > 420 and self.width() < 2.6 * self.height()
        wanted = Qt.Orientation.Vertical if tall else Qt.Orientation.Horizontal
        if self.splitter.orientation() != wanted:
            self.splitter.setOrientation(wanted)
            if tall:
                self.splitter.setSizes([600, 400])
            else:
                self.splitter.setSizes([2100, 1100])
