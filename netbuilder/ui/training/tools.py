"""Tools over the run's plots, as TensorBoard has them: EMA smoothing with a slider, the x axis
by step, epoch or wall time, a hover readout of every curve, mouse zoom with reset, and saving a
plot (PNG/SVG) or a run's metrics (CSV), both written atomically."""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QWidget,
)

from netbuilder.graph.project import atomic_write

from .runs import RunCurves

X_MODES = (("step", "Step"), ("epoch", "Epoch"), ("time", "Wall time (s)"))
X_LABELS = {"step": "step", "epoch": "epoch", "time": "time (s)"}
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points are
    not pulled towards zero; NaN and inf points are skipped (they keep the last value)."""
    out = np.empty(len(values), dtype=np.float64)
    last, norm = 0.0, 0.0
    for i, v in enumerate(values.tolist()):
        if math.isfinite(v):
            last = weight * last + (1.0 - weight) * v
            norm = weight * norm + (1.0 - weight)
        out[i] = last / norm if norm > 0 else math.nan
    return out


class EmaCache:
    """The smoothed curve of a growing series, extended by the new points only."""

    def __init__(self):
        self.key = None
        self.values = np.empty(0)
        self._last = self._norm = 0.0

    def smoothed(self, owner, y: np.ndarray, weight: float) -> np.ndarray:
        key = (id(owner), weight)
        if key != self.key or len(y) < len(self.values):
            self.key, self.values, self._last, self._norm = key, np.empty(0), 0.0, 0.0
        start = len(self.values)
        if start == len(y):
            return self.values
        new = np.empty(len(y) - start)
        last, norm = self._last, self._norm
        for i, v in enumerate(y[start:].tolist()):
            if math.isfinite(v):
                last = weight * last + (1.0 - weight) * v
                norm = weight * norm + (1.0 - weight)
            new[i] = last / norm if norm > 0 else math.nan
        self._last, self._norm = last, norm
        self.values = np.concatenate([self.values, new])
        return self.values


def x_values(run: RunCurves, steps, mode: str) -> np.ndarray:
    """Steps as the x axis shows them: steps, epochs (fractional) or seconds since the start."""
    steps = np.asarray(steps, dtype=np.float64)
    if mode == "epoch" and run.steps_per_epoch:
        return steps / run.steps_per_epoch
    if mode == "time" and len(run.wall):
        known = np.isfinite(run.wall.y)
        if known.any():
            return np.interp(steps, run.wall.x[known], run.wall.y[known])
    return steps


def save_plot(widget: pg.PlotWidget, path: str | os.PathLike) -> Path:
    """The plot as PNG (at twice its size on screen) or SVG, by the file's suffix; written to a
    temporary file beside `path` and renamed, so a failed export leaves no half file."""
    from pyqtgraph.exporters import ImageExporter

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path.name}: save a plot as .png or .svg")
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    item = widget.getPlotItem()
    if suffix == ".svg":
        atomic_write(path, _svg_bytes(widget))
        return path
    exporter = ImageExporter(item)
    exporter.parameters()["width"] = int(widget.width() * 2)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        exporter.export(tmp)
        atomic_write(path, Path(tmp).read_bytes())
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _svg_bytes(widget) -> bytes:
    """The widget drawn as vector SVG by Qt's own generator (pyqtgraph's SVG exporter fails on
    the path syntax of Qt 6.11)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(widget.size())
    generator.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle(widget.getPlotItem().titleLabel.text or "plot")
    painter = QPainter(generator)
    try:
        widget.render(painter)
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


def metrics_csv(run: RunCurves, smoothing: float = DEFAULT_SMOOTHING) -> str:
    """One row per step: epoch, seconds, loss (raw and smoothed), the epoch's test and
    validation figures on the step that ended it, and each layer's gradient norm where
    measured. Empty cells where a value was not measured."""
    steps = run.loss.x
    smoothed = ema(run.loss.y, smoothing) if len(steps) else np.empty(0)
    epochs = {p.step: p for p in run.epochs}
    wall = dict(zip(run.wall.x.tolist(), run.wall.y.tolist()))
    grads = {name: dict(zip(s.x.tolist(), s.y.tolist())) for name, s in run.grad_norms.items()}
    layers = list(run.layer_names) or list(grads)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        ["step", "epoch", "seconds", "loss", "loss_smoothed", "test_loss", "test_accuracy"]
        + ["val_loss", "val_accuracy"]
        + [f"grad_norm.{name}" for name in layers]
    )

    def cell(v) -> str:
        return "" if v is None or not math.isfinite(v) else f"{v:.6g}"

    spe = run.steps_per_epoch or 0
    for i, step in enumerate(steps.tolist()):
        s = int(step)
        p = epochs.get(s)
        epoch = p.epoch if p else (math.floor((s - 1) / spe) + 1 if spe else "")
        w.writerow(
            [s, epoch, cell(wall.get(step)), cell(run.loss.y[i]), cell(smoothed[i])]
            + [cell(p.test_loss) if p else "", cell(p.test_accuracy) if p else ""]
            + [cell(p.val_loss) if p else "", cell(p.val_accuracy) if p else ""]
            + [cell(grads.get(name, {}).get(step)) for name in layers]
        )
    return out.getvalue()


def write_metrics_csv(run: RunCurves, path: str | os.PathLike, smoothing=DEFAULT_SMOOTHING):
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    atomic_write(path, metrics_csv(run, smoothing).encode("utf-8"))
    return path


class HoverReadout(QObject):
    """A vertical line at the cursor and, in the plot's corner, every named curve's value at
    that x (the nearest point of each)."""

    def __init__(self, widget: pg.PlotWidget, x_name=lambda: "step"):
        super().__init__(widget)
        self.widget, self.x_name = widget, x_name
        item = widget.getPlotItem()
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((128, 128, 128, 150)))
        self.line.hide()
        item.addItem(self.line, ignoreBounds=True)
        self.text = pg.TextItem(anchor=(0, 0), fill=None)
        self.text.hide()
        item.addItem(self.text, ignoreBounds=True)
        self.lines: list[str] = []
        self._proxy = pg.SignalProxy(widget.scene().sigMouseMoved, rateLimit=30, slot=self._moved)
        widget.viewport().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.Leave:
            self.hide()
        return False

    def hide(self) -> None:
        self.line.hide()
        self.text.hide()
        self.lines = []

    def _moved(self, args) -> None:
        self.show_at_scene(args[0])

    def show_at_scene(self, pos) -> None:
        item = self.widget.getPlotItem()
        vb = item.getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.hide()
            return
        x = vb.mapSceneToView(pos).x()
        self.show_at(x)

    def show_at(self, x: float) -> None:
        item = self.widget.getPlotItem()
        legend = item.legend
        lines = []
        for curve in item.listDataItems():
            if not curve.isVisible() or curve.xData is None or not len(curve.xData):
                continue
            label = legend.getLabel(curve) if legend is not None else None
            name = label.text if label is not None else curve.name()
            if not name:
                continue
            xs, ys = curve.xData, curve.yData
            i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
            if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
                i -= 1
            lines.append(f"{name}: {ys[i]:.4g}")
        if not lines:
            self.hide()
            return
        if len(lines) > 12:  # many overlaid runs: the first ones, and how many more
            lines = [*lines[:11], f"… {len(lines) - 11} more"]
        self.lines = [f"{self.x_name()} {x:.4g}", *lines]
        colour = self.widget.getPlotItem().getAxis("bottom").textPen().color().name()
        self.text.setHtml(
            f"<div style='color:{colour}; font-size:8pt'>" + "<br>".join(self.lines) + "</div>"
        )
        self.line.setPos(x)
        (x0, _x1), (_y0, y1) = item.getViewBox().viewRange()
        self.text.setPos(x0, y1)
        self.line.show()
        self.text.show()


class PlotTools(QWidget):
    """The row above the plots: smoothing, x axis, reset zoom, save plot, metrics CSV."""

    smoothingChanged = Signal(float)
    xModeChanged = Signal(str)
    resetRequested = Signal()
    savePlotRequested = Signal(str, str)  # plot key, "png" | "svg"
    csvRequested = Signal()

    def __init__(self, plots: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        row.addWidget(QLabel("Smoothing"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)
        self.slider.setValue(round(DEFAULT_SMOOTHING * 100))
        self.slider.setMaximumWidth(140)
        self.slider.setToolTip(
            "Exponential moving average of the training loss, as TensorBoard's slider: "
            "0 shows the raw curve, 0.99 the slowest trend. The raw curve stays, faint."
        )
        self.value = QLabel(f"{DEFAULT_SMOOTHING:.2f}")
        self.value.setMinimumWidth(self.value.fontMetrics().horizontalAdvance("0.00") + 4)
        self.slider.valueChanged.connect(self._slid)
        row.addWidget(self.slider)
        row.addWidget(self.value)
        row.addSpacing(8)
        row.addWidget(QLabel("x axis"))
        self.x_mode = QComboBox()
        for key, text in X_MODES:
            self.x_mode.addItem(text, key)
        self.x_mode.currentIndexChanged.connect(
            lambda _i: self.xModeChanged.emit(self.x_mode.currentData())
        )
        row.addWidget(self.x_mode)
        row.addStretch(1)
        self.reset = QToolButton()
        self.reset.setText("Reset zoom")
        self.reset.setToolTip(
            "Drag to pan, wheel to zoom (over an axis: that axis only); this, or a double-click "
            "on a plot, goes back to following the run"
        )
        self.reset.clicked.connect(self.resetRequested)
        row.addWidget(self.reset)
        self.save = QToolButton()
        self.save.setText("Save plot")
        self.save.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.save)
        for key, title in plots:
            for fmt in ("png", "svg"):
                act = menu.addAction(f"{title} as {fmt.upper()}…")
                act.triggered.connect(
                    lambda _=False, k=key, f=fmt: self.savePlotRequested.emit(k, f)
                )
        self.save.setMenu(menu)
        row.addWidget(self.save)
        self.csv = QToolButton()
        self.csv.setText("Metrics CSV")
        self.csv.setToolTip("Save the run's metrics, one row per step, as CSV")
        self.csv.clicked.connect(self.csvRequested)
        row.addWidget(self.csv)

    @property
    def smoothing(self) -> float:
        return self.slider.value() / 100.0

    def _slid(self, v: int) -> None:
        self.value.setText(f"{v / 100:.2f}")
        self.smoothingChanged.emit(v / 100.0)
