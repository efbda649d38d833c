"""The views that show one moment of a run: histograms of the selected block, the confusion
matrix and test images after each epoch, feature maps of the selected block."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from .plot_theme import Theme
from .plots import _hold_range, _make_plot_widget, retheme_plot


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
        # counts on a short axis: major ticks only, so their labels never run together
        widget.getPlotItem().getAxis("left").setStyle(maxTickLevel=0, textFillLimits=[(0, 0.6)])
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
        self.theme = theme
        self.matrix: np.ndarray | None = None
        self.epoch: int | None = None
        self.setMinimumSize(160, 150)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, 280)

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
        left, top = 34.0, 52.0
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
            p.drawText(
                QRectF(left - 20, top + i * cell, 18, cell), Qt.AlignmentFlag.AlignCenter, str(i)
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
