"""The dashboard's views: loss, accuracy, gradient norms, histograms, confusion matrix,
test-image grid and feature maps.

Each view is cheap to refresh: curves are made once and get `setData` on the UI timer; long
curves are downsampled by pyqtgraph (peak mode, clipped to the view).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy

from .plot_theme import Theme
from .runs import RunCurves
from .tools import DEFAULT_SMOOTHING, X_LABELS, EmaCache, HoverReadout, ema, x_values

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


def _legend(plot: pg.PlotItem, theme: Theme, colCount: int = 4) -> pg.LegendItem:
    """A legend in its own row between the title and the curves: it can never cover data."""
    legend = pg.LegendItem(
        labelTextColor=theme.foreground,
        labelTextSize="8pt",
        brush=None,
        colCount=colCount,
        sampleType=LineSample,
    )
    legend.layout.setSpacing(0)
    legend.layout.setHorizontalSpacing(10)
    legend.layout.setContentsMargins(2, 0, 2, 0)
    plot.legend = legend  # plot(name=...) lists the curve here
    top = plot.getAxis("top")  # hidden, never shown: its row holds the legend instead
    plot.layout.removeItem(top)
    top.hide()
    plot.layout.addItem(legend, 1, 1)
    plot.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    return legend


class LineSample(pg.ItemSample):
    """A legend entry's sample: a short thick stroke of the curve's pen (and its symbol), which
    reads at 8 pt where pyqtgraph's thin diagonal did not."""

    def boundingRect(self):
        return QRectF(0, 0, 22, 14)

    def paint(self, p, *args):
        opts = self.item.opts
        if not self.item.isVisible():
            return
        pen = pg.mkPen(opts.get("pen"))
        if pen.style() != Qt.PenStyle.NoPen:
            pen = QPen(pen)
            pen.setWidthF(max(2.5, pen.widthF()))
            p.setPen(pen)
            p.drawLine(2, 7, 20, 7)
        if opts.get("symbol"):
            brush = pg.mkBrush(opts.get("symbolBrush"))
            p.setPen(pg.mkPen(None))
            p.setBrush(brush)
            p.drawEllipse(QRectF(7, 3, 8, 8))


def _style_hint(label: QLabel, theme: Theme) -> None:
    c = theme.foreground
    label.setStyleSheet(
        f"QLabel {{ color: rgba({c.red()}, {c.green()}, {c.blue()}, 170); background: none; }}"
    )


class HintedPlot(pg.PlotWidget):
    """A plot that, while it has nothing to draw, says what will appear and how, instead of
    showing bare 0..1 axes and a legend for curves that are not there.

    The mouse pans (drag) and zooms (wheel); once it has, the plot stops following the run
    until `reset_view` (a double-click, or the Reset zoom button) hands it back."""

    viewReset = Signal()
    user_view = False

    def _init_hint(self, theme: Theme, text: str) -> None:
        vb = self.getPlotItem().getViewBox()
        vb.sigRangeChangedManually.connect(self._user_moved)
        self.__dict__.setdefault("x_mode", "step")
        self.hint = QLabel(text, self)
        self.hint.setObjectName("plotHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        _style_hint(self.hint, theme)
        self.empty = False
        self.set_empty(True)

    def _user_moved(self, *_) -> None:
        self.user_view = True

    def reset_view(self) -> None:
        """Follow the run again: the ranges are recomputed at the next update."""
        self.user_view = False
        self._extent = self._log_range = None
        self.__dict__.pop("_held", None)
        self.viewReset.emit()

    def mouseDoubleClickEvent(self, event) -> None:
        self.reset_view()
        event.accept()

    def add_readout(self) -> HoverReadout:
        self.readout = HoverReadout(self, lambda: X_LABELS.get(self.x_mode, "step"))
        return self.readout

    def set_x_mode(self, mode: str) -> None:
        self.x_mode = mode
        axis = self.getPlotItem().getAxis("bottom")
        axis.setLabel(X_LABELS.get(mode, "step"), color=axis.labelStyle.get("color"))
        self.reset_view()

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
            self.fit_legend()
        self.hint.setVisible(empty)

    # a legend taller than this leaves the curves no room (a deep network's layers): it is
    # hidden then, and the hover readout names the curves
    MAX_LEGEND_ROWS = 3

    def fit_legend(self) -> bool:
        """As many legend columns as the widest entry allows, so no entry is cut; False (and the
        legend takes no room) when the entries need more than MAX_LEGEND_ROWS rows."""
        item = self.getPlotItem()  # None while the widget is being closed
        legend = item.legend if item is not None and self.__dict__.get("hint") else None
        if legend is None or not legend.items:
            return True
        font = QFont(self.font())
        font.setPointSizeF(8.0)  # the legend's label size
        metrics = QFontMetrics(font)
        entry = max(metrics.horizontalAdvance(label.text) for _, label in legend.items) + 40
        cols = max(1, (self.width() - 70) // entry)
        legend.setColumnCount(cols)
        fits = math.ceil(len(legend.items) / cols) <= self.MAX_LEGEND_ROWS
        legend.setMaximumHeight(1e6 if fits else 0)
        legend.setVisible(fits and not getattr(self, "empty", True))
        return fits

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        item = self.getPlotItem()
        legend = item.legend if item is not None and self.__dict__.get("hint") else None
        if legend is not None:
            self.fit_legend()
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
    if getattr(widget, "user_view", False):
        return  # the person zoomed or panned: their view stands
    vb = widget.getPlotItem().getViewBox()
    mode = getattr(widget, "x_mode", "step")
    if mode == "time":  # how long the run will take is not known: follow the data
        widget._extent = None
        vb.enableAutoRange(x=True)
        return
    planned = run.steps_per_epoch * run.total_epochs
    last = int(run.loss.x[-1]) if len(run.loss) else 0
    extent = max(planned, last, 1)
    if mode == "epoch" and run.steps_per_epoch:
        extent = extent / run.steps_per_epoch
    if getattr(widget, "_extent", None) == extent:
        return
    widget._extent = extent
    vb.enableAutoRange(x=False, y=False)
    vb.setXRange(0, extent, padding=0.01)


def set_log_range(widget: pg.PlotWidget, arrays, headroom: float = 0.0) -> None:
    """The y range of a log plot in quarter decades around the data: it moves only when the
    data crosses a quarter decade, not with every new minimum (each move redraws the axis)."""
    if getattr(widget, "user_view", False):
        return
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


OVERLAY_LEGEND_MAX = 6  # more overlaid runs than this: no legend rows, the readout names them


class Overlays:
    """Other runs drawn faintly on a plot, each in its own colour: thin solid lines (Qt draws
    dashed ones several times slower, and fifty of them made each frame take 200 ms)."""

    def __init__(self, plot: HintedPlot):
        self.plot = plot
        self.curves: list[pg.PlotDataItem] = []

    def show(self, entries: list[tuple[str, np.ndarray, np.ndarray]], theme: Theme, symbol=False):
        item, legend = self.plot.getPlotItem(), self.plot.getPlotItem().legend
        for curve in self.curves:
            if legend is not None:
                legend.removeItem(curve)
            item.removeItem(curve)
        self.curves = []
        listed = len(entries) <= OVERLAY_LEGEND_MAX
        for i, (name, x, y) in enumerate(entries):
            colour = layer_colour(i + 3, theme)
            colour.setAlpha(150)
            curve = pg.PlotDataItem(
                x,
                y,
                pen=pg.mkPen(colour, width=1),
                symbol="o" if symbol else None,
                symbolSize=5,
                symbolBrush=colour,
                symbolPen=None,
                name=name,
            )
            curve.setZValue(-5)
            item.addItem(curve)
            if legend is not None:
                legend.removeItem(curve)  # addItem listed it (it has a name)
                if listed:
                    legend.addItem(curve, name)
            self.curves.append(curve)


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
        self.legend = _legend(item, theme)
        self.previous = item.plot()
        self.raw = item.plot(name="train")
        self.smoothed = item.plot(name="smoothed")
        self.test = item.plot(symbol="o", symbolSize=7, symbolPen=None, name="test")
        self.val = item.plot(symbol="s", symbolSize=6, symbolPen=None)
        self._pens(theme)
        self.previous.hide()
        self._init_hint(theme, self.HINT)
        self.smoothing = DEFAULT_SMOOTHING
        self._ema = EmaCache()
        self._previous_run: RunCurves | None = None
        self.overlays = Overlays(self)
        self._overlay_runs: list[RunCurves] = []
        self._theme = theme
        self.add_readout()

    def show_overlays(self, runs: list[RunCurves]) -> None:
        """Other runs' smoothed losses, dashed, for comparison (the runs table's ticks)."""
        self._overlay_runs = list(runs)
        entries = [
            (r.title, x_values(r, r.loss.x, self.x_mode), ema(r.loss.y, self.smoothing))
            for r in runs
            if len(r.loss)
        ]
        self.overlays.show(entries, self._theme)
        if entries:
            self.set_empty(False)

    def set_smoothing(self, weight: float, run: RunCurves | None) -> None:
        self.smoothing = weight
        self.show_previous(self._previous_run)
        self.show_overlays(self._overlay_runs)
        if run is not None:
            self.show_steps(run)

    def _pens(self, theme: Theme) -> None:
        _pen_curve(self.previous, theme.previous, 1.5, Qt.PenStyle.DashLine)
        _pen_curve(self.raw, theme.raw, 1)
        _pen_curve(self.smoothed, theme.loss, 2.2)
        _pen_curve(self.test, theme.test, 2, symbol=True)
        _pen_curve(self.val, theme.validation, 2, Qt.PenStyle.DotLine, symbol=True)

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        retheme_plot(self, theme)
        self._pens(theme)
        self.show_overlays(self._overlay_runs)

    def show_run(self, run: RunCurves) -> None:
        set_step_extent(self, run)
        self.show_steps(run)
        self.show_epochs(run)

    def show_steps(self, run: RunCurves) -> None:
        self.set_empty(not len(run.loss) and not self.previous.isVisible())
        set_step_extent(self, run)
        x = x_values(run, run.loss.x, self.x_mode)
        self.raw.setData(*_finite_xy(x, run.loss.y))
        self.smoothed.setData(x, self._ema.smoothed(run, run.loss.y, self.smoothing))
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
        def at(steps):
            return x_values(run, steps, self.x_mode).tolist()

        pts = [(p.step, p.test_loss) for p in run.epochs if math.isfinite(p.test_loss)]
        self.test.setData(at([p[0] for p in pts]), [p[1] for p in pts])
        val = [(p.step, p.val_loss) for p in run.epochs if math.isfinite(p.val_loss)]
        val = list(zip(at([p[0] for p in val]), [p[1] for p in val]))
        _show_optional(self.legend, self.val, "validation", val)

    def show_previous(self, run: RunCurves | None) -> None:
        self._previous_run = run
        if run is None or not len(run.loss):
            _hide_previous(self.legend, self.previous)
            return
        x = x_values(run, run.loss.x, self.x_mode)
        self.previous.setData(x, ema(run.loss.y, self.smoothing))
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
        self.add_readout()
        self.x_mode = "epoch"  # one point per epoch, whatever the other plots show
        self.overlays = Overlays(self)
        self._overlaid: list[float] = []
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
        self._title_for(y)
        if self.user_view:
            return  # the person zoomed or panned: their view stands
        item.getViewBox().enableAutoRange(enable=False)  # both ranges set here, not guessed
        before = self.previous.yData if self.previous.isVisible() else None
        before = [] if before is None else [float(v) for v in before]
        before += self._overlaid
        shown = [v for v in (*y, *(p[1] for p in val), *before) if math.isfinite(v)]
        if shown:
            lo, hi = min(shown), max(shown)
            pad = max(0.5, 0.12 * (hi - lo))
            item.setYRange(max(0.0, lo - pad), min(100.0, hi + pad), padding=0)
        else:
            item.setYRange(0, 100, padding=0)
        overlaid = [len(c.xData) for c in self.overlays.curves if c.xData is not None]
        top = max([run.total_epochs, len(x), 1, *overlaid])
        every = max(1, math.ceil(top / 6))  # whole epochs only: "1.5" is not an epoch
        item.getAxis("bottom").setTicks([[(e, str(e)) for e in range(1, top + 1, every)], []])
        item.getViewBox().enableAutoRange(x=False)
        item.setXRange(0.5, top + 0.5, padding=0)

    def show_overlays(self, runs: list[RunCurves]) -> None:
        entries = []
        for r in runs:
            x, y = self._curve_data(r)
            if x:
                entries.append((r.title, np.asarray(x, float), np.asarray(y, float)))
        self.overlays.show(entries, self.theme, symbol=True)
        self._overlaid = [v for _n, _x, y in entries for v in y.tolist()]
        if entries:
            self.set_empty(False)

    def _title_for(self, y) -> None:
        wide = self.width() > 240  # a narrow column: the short title
        title = "Test accuracy"
        if y:
            title = f"Test accuracy {y[-1]:.1f} %" if wide else f"Acc. {y[-1]:.1f} %"
        if title != self._title:
            self._title = title
            self.getPlotItem().setTitle(title, color=self.theme.foreground.name(), size="10pt")

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
        self.legend = _legend(item, theme, colCount=5)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._init_hint(theme, self.HINT)
        self.add_readout()

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
        self.fit_legend()

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
            curve.setData(*_finite_xy(x_values(run, series.x, self.x_mode), y))
        self.set_empty(not any(len(s) for s in run.grad_norms.values()))
        set_log_range(self, [np.maximum(s.y, self.FLOOR) for s in run.grad_norms.values()])


if __name__ == "__main__":  # python -m netbuilder.ui.training.plots: a synthetic run
    from netbuilder.ui.training.demo import main

    raise SystemExit(main())
