"""Views of the layer diagnostics: update-to-weight ratio with its healthy band, the share of
dead units per ReLU block, and each layer's weight and gradient quantiles over time."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QWidget

from .diagnosis import HEALTHY_UPDATE
from .plot_theme import Theme
from .plots import (
    HintedPlot,
    LogAxis,
    _finite_xy,
    _legend,
    _make_plot_widget,
    _style_plot,
    layer_colour,
    retheme_plot,
    set_log_range,
    set_step_extent,
)
from .runs import RunCurves
from .tools import x_values


class _LayerCurves(HintedPlot):
    """One curve per layer (or block), coloured as in the gradient plot."""

    def _setup(self, theme: Theme, title: str, left: str, hint: str, log: bool) -> None:
        self.theme = theme
        item = self.getPlotItem()
        _style_plot(item, theme, title, left, "step")
        if log:
            item.setLogMode(x=False, y=True)
        self.legend = _legend(item, theme, colCount=5)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._init_hint(theme, hint)
        self.add_readout()

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        retheme_plot(self, theme)
        for i, curve in enumerate(self.curves.values()):
            curve.setPen(pg.mkPen(layer_colour(i, theme), width=2))

    def _show(self, run: RunCurves, data: dict, floor: float | None) -> None:
        set_step_extent(self, run)
        names = list(data)
        if list(self.curves) != names:
            item = self.getPlotItem()
            for curve in self.curves.values():
                item.removeItem(curve)
            self.legend.clear()
            self.curves = {
                name: item.plot(pen=pg.mkPen(layer_colour(i, self.theme), width=2), name=name)
                for i, name in enumerate(names)
            }
        for name, curve in self.curves.items():
            s = data[name]
            y = s.y if floor is None else np.maximum(s.y, floor)
            curve.setData(*_finite_xy(x_values(run, s.x, self.x_mode), y))
        self.set_empty(not any(len(s) for s in data.values()))


class UpdateRatioPlot(_LayerCurves):
    """|dw|/|w| per step for each layer, log scale, the healthy band (1e-4 to 1e-2) shaded and
    1e-3 dashed: the learning-rate check of Karpathy's "Recipe for training neural networks"."""

    HINT = "Each layer's update/weight ratio appears here while it trains"
    FLOOR = 1e-12

    def __init__(self, theme: Theme):
        super().__init__(background=theme.background, axisItems={"left": LogAxis("left")})
        self.setMinimumSize(170, 130)
        self._setup(theme, "Update / weight per step", "|Δw| / |w| (log)", self.HINT, True)
        self.getPlotItem().getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)"
        lo, hi = (math.log10(v) for v in HEALTHY_UPDATE)
        self.band = pg.LinearRegionItem(
            (lo, hi), orientation="horizontal", movable=False, brush=QColor(89, 161, 79, 40)
        )
        for line in self.band.lines:
            line.setPen(pg.mkPen(None))
        self.getPlotItem().addItem(self.band, ignoreBounds=True)
        self.target = pg.InfiniteLine(
            pos=-3, angle=0, movable=False, pen=pg.mkPen(QColor(89, 161, 79), style=Qt.DashLine)
        )
        self.getPlotItem().addItem(self.target, ignoreBounds=True)
        self.setToolTip(
            "How much each step changes a layer's weights, relative to their size.\n"
            "Around 0.001 (the dashed line; the green band 0.0001–0.01) is healthy; far above, "
            "the learning rate is too high for that layer; far below, too low."
        )

    def show_run(self, run: RunCurves) -> None:
        self._show(run, run.update_ratio, self.FLOOR)
        arrays = [np.maximum(s.y, self.FLOOR) for s in run.update_ratio.values()]
        set_log_range(self, [*arrays, list(HEALTHY_UPDATE)])


class DeadUnitsPlot(_LayerCurves):
    """The share of each ReLU block's units that output zero for a whole batch, in percent."""

    HINT = "Each ReLU block's share of dead units appears here while it trains"

    def __init__(self, theme: Theme):
        super().__init__(background=theme.background)
        self.setMinimumSize(170, 130)
        self._setup(theme, "Dead units per ReLU", "% never active", self.HINT, False)
        self.getPlotItem().setYRange(0, 100, padding=0.02)
        self.getPlotItem().getViewBox().setLimits(yMin=-2, yMax=102)

    def show_run(self, run: RunCurves) -> None:
        percent = {}
        for name, s in run.dead_fraction.items():
            scaled = type(s)(max(16, len(s)))
            scaled._x[: len(s)], scaled._y[: len(s)], scaled.n = s.x, 100 * s.y, len(s)
            percent[name] = scaled
        self._show(run, percent, None)
        if not self.user_view:
            self.getPlotItem().setYRange(0, 100, padding=0.02)


class DistributionPlots(QWidget):
    """The selected layer's weights and gradients over time: 5-95 % and 25-75 % bands and the
    median, as TensorBoard's distributions."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.theme = theme
        layout = QHBoxLayout(self)  # side by side: each keeps the tab's full height
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.plots = {}
        for key, colour in (("weight", "#4e79a7"), ("grad", "#f28e2b")):
            w = _make_plot_widget(theme, "Drawn while it trains: select a block with parameters")
            item = w.getPlotItem()
            axis = item.getAxis("left")
            axis.setStyle(maxTickLevel=0, textFillLimits=[(0, 0.6)])  # labels never collide
            axis.enableAutoSIPrefix(False)
            w.setToolTip("Bands: 5–95 % and 25–75 % of the values; line: the median")
            c = QColor(colour)
            outer, inner = QColor(c), QColor(c)
            outer.setAlpha(60)
            inner.setAlpha(120)
            lines = [item.plot(pen=pg.mkPen(None)) for _ in range(4)]
            median = item.plot(pen=pg.mkPen(c, width=2))
            bands = (
                pg.FillBetweenItem(lines[0], lines[3], brush=outer),
                pg.FillBetweenItem(lines[1], lines[2], brush=inner),
            )
            for band in bands:
                item.addItem(band)
            self.plots[key] = (w, lines, median)
            layout.addWidget(w)
        self.layer: str | None = None
        self._title(None)

    def _title(self, layer: str | None) -> None:
        colour = self.theme.foreground.name()
        for key, text in (("weight", "Weights"), ("grad", "Gradients")):
            title = f"{text} of {layer}" if layer else text
            self.plots[key][0].getPlotItem().setTitle(title, color=colour, size="10pt")

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for w, _lines, _median in self.plots.values():
            retheme_plot(w, theme)
        self._title(self.layer)

    def show_layer(self, run: RunCurves | None, layer: str | None) -> None:
        if layer != self.layer:
            self.layer = layer
            self._title(layer)
        entry = run.quantiles.get(layer) if run is not None and layer else None
        for key, (w, lines, median) in self.plots.items():
            if not entry or not entry["step"]:
                w.set_empty(True)
                for line in (*lines, median):
                    line.setData([], [])
                continue
            w.set_empty(False)
            x = x_values(run, entry["step"], w.x_mode)
            q = np.vstack(entry[key])
            for i, line in enumerate(lines):
                line.setData(x, q[:, (0, 1, 3, 4)[i]])
            median.setData(x, q[:, 2])
