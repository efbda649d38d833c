"""The dashboard's views: loss, accuracy, gradient norms, histograms, confusion matrix,
test-image grid and feature maps.

Each view is cheap to refresh: curves are made once and get `setData` on the UI timer; long
curves are downsampled by pyqtgraph (peak mode, clipped to the view).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QWidget

from .plot_theme import Theme
from .runs import RunCurves

# Tableau 10: distinct in light and dark themes, and for the common colour-vision deficiencies
LAYER_COLOURS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]


def layer_colour(i: int, theme: Theme) -> QColor:
    """The i-th layer's colour; a little lighter on a dark background, where the Tableau
    blues and browns sink into it."""
    colour = QColor(LAYER_COLOURS[i % len(LAYER_COLOURS)])
    return colour.lighter(125) if theme.dark else colour


def _style_plot(plot: pg.PlotItem, theme: Theme, title: str, left: str, bottom: str) -> None:
    plot.setTitle(title, color=theme.foreground.name(), size="10pt")
    for name, text in (("left", left), ("bottom", bottom)):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.muted))
        axis.setTextPen(pg.mkPen(theme.foreground))
        axis.setLabel(text, color=theme.foreground.name())
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    for name in ("left", "bottom", "top", "right"):
        # an axis is redrawn with every curve update near it; a cached pixmap is 1 ms cheaper
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def retheme_plot(widget: pg.PlotWidget, theme: Theme) -> None:
    """Background, axes, title and legend text in `theme`'s colours (the series keep theirs)."""
    widget.setBackground(theme.background)
    item = widget.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(theme.muted))
        axis.setTextPen(pg.mkPen(theme.foreground))
        axis.setLabel(axis.labelText, color=theme.foreground.name())
    if item.titleLabel.text:
        item.titleLabel.setText(item.titleLabel.text, color=theme.foreground.name())
    if item.legend is not None:
        item.legend.setLabelTextColor(theme.foreground)
        item.legend.setBrush(_legend_brush(theme))
    hint = getattr(widget, "hint", None)
    if isinstance(hint, QLabel):
        _style_hint(hint, theme)


def _make_plot_widget(theme: Theme, hint: str) -> HintedPlot:
    w = HintedPlot(background=theme.background)
    w.setMinimumSize(160, 60)
    w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    _style_plot(w.getPlotItem(), theme, "", "", "")
    w._init_hint(theme, hint)
    return w


def _legend_brush(theme: Theme) -> QColor:
    # mostly opaque: a curve running behind the labels made them unreadable (the loss starts
    # at the top, where the legend sits); not fully, so the curve still shows through
    fill = QColor(theme.background)
    fill.setAlpha(215)
    return fill


def _legend(plot: pg.PlotItem, theme: Theme, **kw) -> pg.LegendItem:
    legend = plot.addLegend(
        offset=(-6, 6),
        labelTextColor=theme.foreground,
        labelTextSize="8pt",
        brush=_legend_brush(theme),
        **kw,
    )
    legend.layout.setSpacing(0)
    legend.layout.setHorizontalSpacing(8)
    legend.layout.setContentsMargins(4, 2, 4, 2)
    return legend


def _style_hint(label: QLabel, theme: Theme) -> None:
    c = theme.foreground
    label.setStyleSheet(
        f"QLabel {{ color: rgba({c.red()}, {c.green()}, {c.blue()}, 170); background: none; }}"
    )


class HintedPlot(pg.PlotWidget):
    """A plot that, while it has nothing to draw, says what will appear and how, instead of
    showing bare 0..1 axes and a legend for curves that are not there."""

    def _init_hint(self, theme: Theme, text: str) -> None:
        self.hint = QLabel(text, self)
        self.hint.setObjectName("plotHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        _style_hint(self.hint, theme)
        self.empty = False
        self.set_empty(True)

    @property
    def hint_text(self) -> str:
        return self.hint.text() if self.empty else ""

    def set_empty(self, empty: bool) -> None:
        if empty == self.empty:
            return
        self.empty = empty
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            item.showAxis(name, not empty)
        item.showGrid(x=not empty, y=not empty, alpha=0.15)
        if item.legend is not None:
            item.legend.setVisible(not empty)
        self.hint.setVisible(empty)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        hint = self.__dict__.get("hint")  # None while PlotWidget.__init__ sizes the view
        if hint is not None:
            hint.setGeometry(self.rect().adjusted(12, 28, -12, -8))


def _show_previous(legend: pg.LegendItem, curve: pg.PlotDataItem) -> None:
    """The previous run's curve, listed first in the legend only while it is drawn."""
    if legend.getLabel(curve) is None:
        legend.addItem(curve, "previous run")
    curve.show()


def _show_optional(legend: pg.LegendItem, curve: pg.PlotDataItem, name: str, pts) -> None:
    """A curve that only some runs have (validation): in the legend only when it has points."""
    curve.setData([p[0] for p in pts], [p[1] for p in pts])
    listed = legend.getLabel(curve) is not None
    if pts and not listed:
        legend.addItem(curve, name)
    elif not pts and listed:
        legend.removeItem(curve)


def _hide_previous(legend: pg.LegendItem, curve: pg.PlotDataItem) -> None:
    curve.setData([], [])
    curve.hide()
    legend.removeItem(curve)


def set_step_extent(widget: pg.PlotWidget, run: RunCurves) -> None:
    """The x axis spans the whole run from the start, so it is not redrawn at every update
    (axis repaints were most of the UI's time) and the curve's end shows the progress."""
    planned = run.steps_per_epoch * run.total_epochs
    last = int(run.loss.x[-1]) if len(run.loss) else 0
    extent = max(planned, last, 1)
    vb = widget.getPlotItem().getViewBox()
    if getattr(widget, "_extent", None) == extent:
        return
    widget._extent = extent
    vb.enableAutoRange(x=False, y=False)
    vb.setXRange(0, extent, padding=0.01)


def set_log_range(widget: pg.PlotWidget, arrays, headroom: float = 0.0) -> None:
    """The y range of a log plot in quarter decades around the data: it moves only when the
    data crosses a quarter decade, not with every new minimum (each move redraws the axis)."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        a = a[np.isfinite(a) & (a > 0)]
        if len(a):
            lo, hi = min(lo, float(a.min())), max(hi, float(a.max()))
    if not math.isfinite(lo):
        return
    bottom = math.floor(math.log10(lo) * 4) / 4
    top = max(math.ceil(math.log10(hi) * 4) / 4, bottom + 0.25) + headroom
    if getattr(widget, "_log_range", None) == (bottom, top):
        return
    widget._log_range = (bottom, top)
    widget.getPlotItem().getViewBox().setYRange(bottom, top, padding=0.02)


def _hold_range(widget: pg.PlotWidget, axis: str, lo: float, hi: float) -> None:
    """Keep an axis range while the data stays inside it and fills over half of it: a new
    range redraws the axis, which costs more than the bars (histograms move every update)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return
    if hi <= lo:
        hi = lo + 1.0
    held = getattr(widget, "_held", {})
    widget._held = held
    a, b = held.get(axis, (math.inf, -math.inf))
    if a <= lo and hi <= b and (hi - lo) >= 0.5 * (b - a):
        return
    span = hi - lo
    a, b = (0.0 if lo == 0 else lo - 0.1 * span), hi + 0.1 * span
    held[axis] = (a, b)
    vb = widget.getPlotItem().getViewBox()
    vb.enableAutoRange(axis=axis, enable=False)
    (vb.setXRange if axis == "x" else vb.setYRange)(a, b, padding=0)


def _finite_xy(x: np.ndarray, y: np.ndarray):
    keep = np.isfinite(y)
    return (x, y) if keep.all() else (x[keep], y[keep])


class LogAxis(pg.AxisItem):
    """A log axis that labels only 1, 2 and 5 times a power of ten: pyqtgraph labels every
    minor tick when the range spans under three decades, and they run into each other."""

    def logTickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            mantissa = 10 ** (v - math.floor(v + 1e-9))
            keep = any(abs(mantissa - k) < 1e-3 for k in (1, 2, 5))
            out.append(f"{10**v:g}" if keep else "")
        return out


def _pen_curve(curve: pg.PlotDataItem, colour: QColor, width: float, style=None, symbol=False):
    """Give a curve (and its symbols) the colour of the current theme."""
    kw = {} if style is None else {"style": style}
    curve.setPen(pg.mkPen(colour, width=width, **kw))
    if symbol:
        curve.setSymbolBrush(colour)


class LossPlot(HintedPlot):
    """Training loss per step (raw, faint; smoothed, bold) and test loss per epoch."""

    HINT = "Press Train (F5) to see the loss fall"

    def __init__(self, theme: Theme):
        super().__init__(background=theme.background, axisItems={"left": LogAxis("left")})
        self.setMinimumSize(160, 110)
        item = self.getPlotItem()
        _style_plot(item, theme, "Loss", "loss (log)", "step")
        item.setLogMode(x=False, y=True)  # late progress stays visible beside the first drop
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.legend = _legend(item, theme, colCount=2)
        self.previous = item.plot()
        self.raw = item.plot(name="train")
        self.smoothed = item.plot(name="smoothed")
        self.test = item.plot(symbol="o", symbolSize=7, symbolPen=None, name="test")
        self.val = item.plot(symbol="s", symbolSize=6, symbolPen=None)
        self._pens(theme)
        self.previous.hide()
        self._init_hint(theme, self.HINT)

    def _pens(self, theme: Theme) -> None:
        _pen_curve(self.previous, theme.previous, 1.5, Qt.PenStyle.DashLine)
        _pen_curve(self.raw, theme.raw, 1)
        _pen_curve(self.smoothed, theme.loss, 2.2)
        _pen_curve(self.test, theme.test, 2, symbol=True)
        _pen_curve(self.val, theme.validation, 2, Qt.PenStyle.DotLine, symbol=True)

    def apply_theme(self, theme: Theme) -> None:
        retheme_plot(self, theme)
        self._pens(theme)

    def show_run(self, run: RunCurves) -> None:
        set_step_extent(self, run)
        self.show_steps(run)
        self.show_epochs(run)

    def show_steps(self, run: RunCurves) -> None:
        self.set_empty(not len(run.loss) and not self.previous.isVisible())
        set_step_extent(self, run)
        self.raw.setData(*_finite_xy(run.loss.x, run.loss.y))
        self.smoothed.setData(run.smoothed.x, run.smoothed.y)
        previous = self.previous.yData if self.previous.isVisible() else None
        set_log_range(
            self,
            [
                run.loss.y,
                [p.test_loss for p in run.epochs],
                [p.val_loss for p in run.epochs],
                [] if previous is None else previous,
            ],
        )

    def show_epochs(self, run: RunCurves) -> None:
        pts = [(p.step, p.test_loss) for p in run.epochs if math.isfinite(p.test_loss)]
        self.test.setData([p[0] for p in pts], [p[1] for p in pts])
        val = [(p.step, p.val_loss) for p in run.epochs if math.isfinite(p.val_loss)]
        _show_optional(self.legend, self.val, "validation", val)

    def show_previous(self, run: RunCurves | None) -> None:
        if run is None or not len(run.smoothed):
            _hide_previous(self.legend, self.previous)
            return
        self.previous.setData(run.smoothed.x, run.smoothed.y)
        _show_previous(self.legend, self.previous)
        self.set_empty(False)


class AccuracyPlot(HintedPlot):
    """Test accuracy per epoch, in percent, with the previous run for comparison."""

    HINT = "Test accuracy appears after each epoch"

    def __init__(self, theme: Theme):
        super().__init__(background=theme.background)
        self.setMinimumSize(110, 80)
        item = self.getPlotItem()
        _style_plot(item, theme, "Test accuracy", "%", "epoch")
        self.legend = _legend(item, theme)
        self.previous = item.plot(symbol="o", symbolSize=5, symbolPen=None)
        # not in the legend: "this run" alone says nothing; the other series name themselves
        self.current = item.plot(symbol="o", symbolSize=7, symbolPen=None)
        self.val = item.plot(symbol="s", symbolSize=6, symbolPen=None)
        self.theme = theme
        self._pens(theme)
        self.previous.hide()
        item.getViewBox().setLimits(yMin=0, yMax=100.5)
        item.setYRange(0, 100, padding=0)  # until the first epoch: the whole scale
        self._title = None
        self._init_hint(theme, self.HINT)

    def _pens(self, theme: Theme) -> None:
        _pen_curve(self.previous, theme.previous, 1.5, Qt.PenStyle.DashLine, symbol=True)
        _pen_curve(self.current, theme.accuracy, 2, symbol=True)
        _pen_curve(self.val, theme.validation, 2, Qt.PenStyle.DotLine, symbol=True)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        retheme_plot(self, theme)
        self._pens(theme)

    def _curve_data(self, run: RunCurves):
        pts = [(p.epoch, 100 * p.test_accuracy) for p in run.epochs]
        pts = [p for p in pts if math.isfinite(p[1])]
        return [p[0] for p in pts], [p[1] for p in pts]

    def _update_legend(self) -> None:
        """Listed only when there is something to tell apart: a previous run, validation."""
        listed = self.legend.getLabel(self.current) is not None
        others = len(self.legend.items) - listed
        if others and not listed:
            self.legend.addItem(self.current, "this run")
        elif not others and listed:
            self.legend.removeItem(self.current)

    def show_run(self, run: RunCurves) -> None:
        x, y = self._curve_data(run)
        self.current.setData(x, y)
        val = [(p.epoch, 100 * p.val_accuracy) for p in run.epochs if math.isfinite(p.val_accuracy)]
        _show_optional(self.legend, self.val, "validation", val)
        self._update_legend()
        self.set_empty(not y and not val and not self.previous.isVisible())
        item = self.getPlotItem()
        item.getViewBox().enableAutoRange(enable=False)  # both ranges set here, not guessed
        before = self.previous.yData if self.previous.isVisible() else None
        before = [] if before is None else [float(v) for v in before]
        shown = [v for v in (*y, *(p[1] for p in val), *before) if math.isfinite(v)]
        if shown:
            lo, hi = min(shown), max(shown)
            pad = max(0.5, 0.12 * (hi - lo))
            item.setYRange(max(0.0, lo - pad), min(100.0, hi + pad), padding=0)
        else:
            item.setYRange(0, 100, padding=0)
        title = f"Acc. {y[-1]:.1f} %" if y else "Test accuracy"  # a narrow column
        if title != self._title:
            self._title = title
            item.setTitle(title, color=self.theme.foreground.name(), size="10pt")
        top = max([run.total_epochs, len(x), 1])
        every = max(1, math.ceil(top / 6))  # whole epochs only: "1.5" is not an epoch
        item.getAxis("bottom").setTicks([[(e, str(e)) for e in range(1, top + 1, every)], []])
        item.getViewBox().enableAutoRange(x=False)
        item.setXRange(0.5, top + 0.5, padding=0)

    def show_previous(self, run: RunCurves | None) -> None:
        if run is None or not run.epochs:
            _hide_previous(self.legend, self.previous)
        else:
            self.previous.setData(*self._curve_data(run))
            _show_previous(self.legend, self.previous)
            self.set_empty(False)
        self._update_legend()


class GradNormPlot(HintedPlot):
    """Per-layer gradient L2 norm over steps, log scale; click a legend entry to hide a layer."""

    FLOOR = 1e-12  # log scale: zero gradients (a dead layer) sit on the floor, visibly
    HINT = "Each layer's gradient norm appears here while it trains"

    def __init__(self, theme: Theme):
        super().__init__(background=theme.background, axisItems={"left": LogAxis("left")})
        self.theme = theme
        self.setMinimumSize(170, 130)
        item = self.getPlotItem()
        _style_plot(item, theme, "Gradient norm per layer", "L2 ‖grad‖ (log)", "step")
        self.setToolTip(
            "L2 norm of each layer's gradient (weights and bias together), measured every few "
            "steps.\nOn the canvas each block is tinted by its norm against the other layers: "
            "blue smaller, green typical, red larger.\nClick a legend entry to hide that layer."
        )
        item.setLogMode(x=False, y=True)
        self.legend = _legend(item, theme, colCount=2)  # three columns overflowed the plot
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._init_hint(theme, self.HINT)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        retheme_plot(self, theme)
        for i, curve in enumerate(self.curves.values()):
            curve.setPen(pg.mkPen(layer_colour(i, theme), width=2))

    def set_layers(self, names: list[str]) -> None:
        item = self.getPlotItem()
        for curve in self.curves.values():
            item.removeItem(curve)
        self.legend.clear()
        self.curves = {}
        for i, name in enumerate(names):
            self.curves[name] = item.plot(
                pen=pg.mkPen(layer_colour(i, self.theme), width=2), name=name
            )

    def show_run(self, run: RunCurves) -> None:
        set_step_extent(self, run)
        names = run.layer_names or list(run.grad_norms)
        if list(self.curves) != names:
            self.set_layers(names)
        for name, curve in self.curves.items():
            series = run.grad_norms.get(name)
            if series is None or not len(series):
                curve.setData([], [])
                continue
            y = np.where(np.isfinite(series.y), np.maximum(series.y, self.FLOOR), np.nan)
            curve.setData(*_finite_xy(series.x, y))
        self.set_empty(not any(len(s) for s in run.grad_norms.values()))
        # headroom: the legend (a row per two layers) sits above the curves, not over them
        rows = math.ceil(len(self.curves) / 2)
        set_log_range(
            self,
            [np.maximum(s.y, self.FLOOR) for s in run.grad_norms.values()],
            headroom=0.25 * rows,
        )


class HistogramPlots(QWidget):
    """Histograms of one layer's gradients and weights (step-mode bars)."""

    def __init__(self, theme: Theme):
        super().__init__()
        from PySide6.QtWidgets import QVBoxLayout

        self.theme = theme
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.grad_plot = _make_plot_widget(theme, "Drawn live while it trains")
        self.weight_plot = _make_plot_widget(theme, "Drawn live while it trains")
        layout.addWidget(self.grad_plot)
        layout.addWidget(self.weight_plot)
        grad_colour = QColor("#f28e2b")
        weight_colour = QColor("#4e79a7")
        self.grad_curve = self._bars(self.grad_plot, grad_colour)
        self.weight_curve = self._bars(self.weight_plot, weight_colour)
        self.layer = None
        self._titles = None
        self.set_title(None)

    def _bars(self, widget: pg.PlotWidget, colour: QColor) -> pg.PlotDataItem:
        fill = QColor(colour)
        fill.setAlpha(120)
        return widget.getPlotItem().plot(
            stepMode="center", fillLevel=0, brush=fill, pen=pg.mkPen(colour)
        )

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        retheme_plot(self.grad_plot, theme)
        retheme_plot(self.weight_plot, theme)

    def set_title(self, layer: str | None) -> None:
        self.layer = layer
        if layer:
            titles = (f"Gradients of {layer}", f"Weights of {layer}")
        else:
            titles = ("Gradients: select a block on the canvas", "Weights: select a block")
        if titles == self._titles:
            return  # a new title re-lays out the plot: only when the layer changes
        self._titles = titles
        colour = self.theme.foreground.name()
        self.grad_plot.getPlotItem().setTitle(titles[0], color=colour, size="10pt")
        self.weight_plot.getPlotItem().setTitle(titles[1], color=colour, size="10pt")

    def show_histograms(self, layer: str, step: int | None, grad, weight) -> None:
        self.set_title(layer)
        for curve, hist in ((self.grad_curve, grad), (self.weight_curve, weight)):
            plot = self.grad_plot if curve is self.grad_curve else self.weight_plot
            plot.set_empty(hist is None)
            if hist is None:
                curve.clear()
                continue
            counts, edges = (np.asarray(a, dtype=np.float64) for a in hist)
            curve.setData(edges, counts)
            _hold_range(plot, "x", float(edges[0]), float(edges[-1]))
            _hold_range(plot, "y", 0.0, float(counts.max()) if len(counts) else 1.0)

    def clear(self, layer: str | None = None) -> None:
        self.grad_curve.clear()
        self.weight_curve.clear()
        self.grad_plot.set_empty(True)
        self.weight_plot.set_empty(True)
        self.set_title(layer)


class ConfusionMatrixView(QWidget):
    """Counts of (true, predicted) on the test set; cells coloured by their row's share."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.class_names: list[str] | None = None  # row labels, when the data names them
        self.theme = theme
        self.matrix: np.ndarray | None = None
        self.epoch: int | None = None
        self.setMinimumSize(160, 150)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, 280)

    def label(self, k: int) -> str:
        """Class k's name when the data set gives names, else its number."""
        names = self.class_names
        return names[k] if names and 0 <= k < len(names) else str(k)

    def set_matrix(self, matrix, epoch: int | None) -> None:
        self.matrix = None if matrix is None else np.asarray(matrix, dtype=np.int64)
        self.epoch = epoch
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.theme.background)
        p.setPen(self.theme.foreground)
        title = QFont(self.font())
        title.setBold(True)
        p.setFont(title)
        head = "Confusion matrix" + (f" · epoch {self.epoch}" if self.epoch else "")
        p.drawText(QRectF(0, 2, self.width(), 18), Qt.AlignmentFlag.AlignHCenter, head)
        if self.matrix is None or self.matrix.size == 0:
            p.setFont(self.font())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Shown after each epoch")
            return
        m = self.matrix
        k = m.shape[0]
        names = self.class_names
        metrics = QFontMetrics(self.font())
        label_width = 18.0
        if names:  # room for the names down the left, up to a quarter of the width
            widest = max(metrics.horizontalAdvance(self.label(i)) for i in range(k))
            label_width = float(min(widest + 4, self.width() // 4))
        left, top = 16.0 + label_width, 52.0
        side = max(4.0, min(self.width() - left - 8, self.height() - top - 8))
        cell = side / k
        rows = m.sum(axis=1, keepdims=True).clip(min=1)
        share = m / rows
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, min(9.0, cell * 0.32)))
        p.setFont(small)
        base = QColor("#4e79a7")
        bad = QColor("#e15759")
        for i in range(k):
            for j in range(k):
                r = QRectF(left + j * cell, top + i * cell, cell, cell)
                s = float(share[i, j])
                c = QColor(base if i == j else bad)
                c.setAlphaF(min(1.0, 0.06 + 0.94 * s**0.6) if m[i, j] else 0.03)
                p.fillRect(r, c)
                if m[i, j] and cell >= 16:
                    p.setPen(QColor("white") if s > 0.5 else self.theme.foreground)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(int(m[i, j])))
        p.setPen(self.theme.foreground)
        for i in range(k):
            name = metrics.elidedText(self.label(i), Qt.TextElideMode.ElideRight, label_width)
            p.drawText(
                QRectF(left - label_width - 2, top + i * cell, label_width, cell),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
            p.drawText(
                QRectF(left + i * cell, top - 16, cell, 14), Qt.AlignmentFlag.AlignCenter, str(i)
            )
        p.setFont(self.font())
        p.drawText(QRectF(left, 20, side, 14), Qt.AlignmentFlag.AlignHCenter, "predicted →")
        p.save()
        p.translate(10, top + side / 2)
        p.rotate(-90)
        p.drawText(QRectF(-40, -8, 80, 16), Qt.AlignmentFlag.AlignCenter, "true →")
        p.restore()
        p.end()


def _to_qimage(img: np.ndarray) -> QImage:
    img = np.ascontiguousarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = np.ascontiguousarray(img[:, :, 0])
    if img.ndim == 2:
        h, w = img.shape
        q = QImage(img.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        h, w, c = img.shape
        if c != 3:
            img = np.ascontiguousarray(img[:, :, :3])
        q = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return q.copy()  # own the pixels: the numpy array may go away


class SampleGrid(QWidget):
    """Test images with true and predicted labels; wrong predictions framed in red."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.theme = theme
        self.images: list[QImage] = []
        self.true = np.zeros(0, dtype=np.int64)
        self.predicted = np.zeros(0, dtype=np.int64)
        self.epoch: int | None = None
        self.class_names: list[str] | None = None
        self.setMinimumSize(160, 150)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, 280)

    @property
    def wrong_count(self) -> int:
        return int((self.true != self.predicted).sum())

    def set_samples(self, images, true, predicted, epoch: int | None) -> None:
        self.images = [_to_qimage(im) for im in images]
        self.true = np.asarray(true)
        self.predicted = np.asarray(predicted)
        self.epoch = epoch
        self.update()

    def _label(self, k: int) -> str:
        if self.class_names and 0 <= k < len(self.class_names):
            return self.class_names[k]
        return str(k)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.theme.background)
        p.setPen(self.theme.foreground)
        title = QFont(self.font())
        title.setBold(True)
        p.setFont(title)
        n = len(self.images)
        head = "Test images: true / predicted"
        if self.epoch:
            head = f"Epoch {self.epoch}: {n - self.wrong_count} of {n} right (true / predicted)"
        p.drawText(QRectF(0, 2, self.width(), 18), Qt.AlignmentFlag.AlignHCenter, head)
        if not n:
            p.setFont(self.font())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Shown after each epoch")
            return
        top = 24.0
        w, h = self.width(), self.height() - top
        # the most columns that keep cells roughly square and fill the space
        best = (1, 0.0)
        for cols in range(1, n + 1):
            rows = math.ceil(n / cols)
            size = min(w / cols, h / rows)
            if size > best[1]:
                best = (cols, size)
        cols, cell = best
        label_h = 14.0
        small = QFont(self.font())
        small.setPointSizeF(8.0)
        p.setFont(small)
        for i, img in enumerate(self.images):
            r, c = divmod(i, cols)
            x, y = c * cell, top + r * cell
            pic = min(cell - 6, cell - label_h - 4)
            if pic < 4:
                break
            target = QRectF(x + (cell - pic) / 2, y + 2, pic, pic)
            p.drawImage(target, img)
            wrong = self.true[i] != self.predicted[i]
            if wrong:
                p.setPen(QPen(self.theme.wrong, 2.5))
                p.drawRect(target.adjusted(-1, -1, 1, 1))
            p.setPen(self.theme.wrong if wrong else self.theme.foreground)
            text = f"{self._label(int(self.true[i]))} / {self._label(int(self.predicted[i]))}"
            p.drawText(QRectF(x, y + pic + 2, cell, label_h), Qt.AlignmentFlag.AlignHCenter, text)
        p.end()


class FeatureMapView(QWidget):
    """The channels a selected block outputs for one test image, each scaled to its own range."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.theme = theme
        self.maps: list[QImage] = []
        self.input: QImage | None = None
        self.caption = ""
        self.hint = "Select a Conv2d (or any image-shaped) block to see its feature maps"
        self.setMinimumSize(160, 150)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def set_hint(self, text: str) -> None:
        self.maps, self.input, self.caption, self.hint = [], None, "", text
        self.update()

    def set_maps(self, node_name: str, maps: np.ndarray, image: np.ndarray, label: int) -> None:
        maps = np.asarray(maps, dtype=np.float32)
        if maps.ndim == 2:
            maps = maps[None]
        lo = maps.reshape(len(maps), -1).min(axis=1)[:, None, None]
        hi = maps.reshape(len(maps), -1).max(axis=1)[:, None, None]
        scaled = ((maps - lo) / np.maximum(hi - lo, 1e-12) * 255).astype(np.uint8)
        self.maps = [_to_qimage(m) for m in scaled]
        self.input = _to_qimage(np.asarray(image))
        c, h, w = maps.shape
        self.caption = (
            f"{node_name}: {c} map{'s' if c != 1 else ''} of {h}×{w}, input label {label}"
        )
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.theme.background)
        p.setPen(self.theme.foreground)
        title = QFont(self.font())
        title.setBold(True)
        p.setFont(title)
        p.drawText(
            QRectF(0, 2, self.width(), 18),
            Qt.AlignmentFlag.AlignHCenter,
            "Feature maps" + (f" · {self.caption}" if self.caption else ""),
        )
        if not self.maps:
            p.setFont(self.font())
            p.drawText(
                self.rect().adjusted(8, 0, -8, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.hint,
            )
            return
        top = 24.0
        # the input image first, then each channel
        tiles = [self.input, *self.maps]
        n = len(tiles)
        w, h = self.width(), self.height() - top
        best = (1, 0.0)
        for cols in range(1, n + 1):
            size = min(w / cols, h / math.ceil(n / cols))
            if size > best[1]:
                best = (cols, size)
        cols, cell = best
        for i, img in enumerate(tiles):
            r, c = divmod(i, cols)
            target = QRectF(c * cell + 2, top + r * cell + 2, cell - 4, cell - 4)
            p.drawImage(target, img)
            if i == 0:
                p.setPen(QPen(self.theme.loss, 2))
                p.drawRect(target)
        p.end()
