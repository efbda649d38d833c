"""A look at the data before training: samples of every class, images per class, the image
size and channels, per-channel mean and std, and what the adaptation to the Input block does to
an image (before and after). The figures are netbuilder.data.summary's, as `netbuilder data`
prints them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

SAMPLES_PER_CLASS = 8
MAX_ROWS = 20  # classes shown in the sample grid; the counts list all
THUMB_RANGE = (36, 96)  # pixels of one sample: as large as the rows leave room for


def to_qimage(image: np.ndarray) -> QImage:
    """uint8 (H, W) grey or (H, W, 3) RGB as a QImage that owns its pixels."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if image.ndim == 2:
        q = QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        q = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return q.copy()


def pixmap(image: np.ndarray, side: int) -> QPixmap:
    """The image scaled to fit side x side; blocky (nearest) when enlarged, so pixels show."""
    q = to_qimage(image)
    mode = (
        Qt.TransformationMode.FastTransformation
        if max(q.width(), q.height()) <= side
        else Qt.TransformationMode.SmoothTransformation
    )
    return QPixmap.fromImage(q.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))


class CountBars(QWidget):
    """Horizontal bars: training and test images per class, with the class names."""

    def __init__(self, names, train, test):
        super().__init__()
        self.names, self.train, self.test = list(names), list(train), list(test)
        self.setMinimumWidth(260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def row_height(self) -> int:
        return max(16, QFontMetrics(self.font()).height() + 2)

    def sizeHint(self) -> QSize:
        return QSize(320, self.row_height() * (len(self.names) + 1) + 6)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        metrics = QFontMetrics(self.font())
        row = self.row_height()
        label_w = min(140, max(metrics.horizontalAdvance(n) for n in self.names) + 8)
        number_w = metrics.horizontalAdvance("000,000 / 00,000") + 8
        bar_w = max(20, self.width() - label_w - number_w - 8)
        top = max(max(self.train, default=0), 1)
        text = self.palette().windowText().color()
        train_colour, test_colour = QColor("#4e79a7"), QColor("#f28e2b")
        p.setPen(text)
        p.drawText(QRectF(label_w, 0, bar_w, row), Qt.AlignmentFlag.AlignLeft, "train")
        p.setPen(test_colour.darker(130))
        p.drawText(QRectF(label_w + 40, 0, bar_w, row), Qt.AlignmentFlag.AlignLeft, "test")
        for i, name in enumerate(self.names):
            y = row * (i + 1)
            p.setPen(text)
            shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, label_w - 6)
            p.drawText(QRectF(0, y, label_w - 6, row), Qt.AlignmentFlag.AlignRight, shown)
            length = bar_w * self.train[i] / top
            p.fillRect(QRectF(label_w, y + 2, length, row * 0.45), train_colour)
            p.fillRect(
                QRectF(label_w, y + 2 + row * 0.45, bar_w * self.test[i] / top, row * 0.35),
                test_colour,
            )
            p.drawText(
                QRectF(label_w + bar_w + 6, y, number_w, row),
                Qt.AlignmentFlag.AlignLeft,
                f"{self.train[i]:,} / {self.test[i]:,}",
            )
        p.end()


class DataView(QDialog):
    """The data set `spec` as the Trainer would load it, for the Input block `input_shape`."""

    def __init__(self, spec: str, input_shape=None, parent=None, data=None):
        super().__init__(parent)
        self.spec = spec
        self.input_shape = tuple(input_shape) if input_shape else None
        self.setWindowTitle("Look at the data")
        self.error = None
        self.data = data
        layout = QVBoxLayout(self)
        if self.data is None:
            self.data = self._load()
        if self.data is None:
            message = QLabel(f"<b>This data set cannot be shown.</b><br>{_html(self.error)}")
            message.setWordWrap(True)
            message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(message)
        else:
            self._build(layout)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(self.sizeHint().boundedTo(QSize(1180, 760)).expandedTo(QSize(560, 300)))

    def _load(self):
        from netbuilder.data import DataError, load_dataset

        # an image folder at its own most common size: "before" shows the files as they are
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return load_dataset(self.spec)
        except DataError as exc:
            self.error = str(exc)
        except (OSError, ValueError, MemoryError) as exc:
            self.error = f"{self.spec}: {exc}"
        finally:
            QGuiApplication.restoreOverrideCursor()
        return None

    # -- layout ------------------------------------------------------------------------------
    def _build(self, layout) -> None:
        from netbuilder.data.summary import samples_per_class, summarize

        data = self.data
        self.summary = summary = summarize(data)
        head = QLabel(
            f"<b>{_html(data.name)}</b> &nbsp; <span style='color:gray'>{_html(data.source)}"
            "</span><br>"
            f"{summary.height}×{summary.width} {summary.colour} · "
            f"{sum(summary.train_counts):,} training and {sum(summary.test_counts):,} test images"
            f" · {len(summary.class_names)} classes<br>"
            f"mean {_numbers(summary.mean)} · std {_numbers(summary.std)} "
            "<span style='color:gray'>(per channel, 0-1 scale: what Normalize uses)</span>"
        )
        head.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.setWordWrap(True)
        layout.addWidget(head)

        body = QHBoxLayout()
        layout.addLayout(body, 1)
        grid_box = QWidget()
        grid = QGridLayout(grid_box)
        grid.setHorizontalSpacing(3)
        grid.setVerticalSpacing(3)
        chosen = samples_per_class(data, SAMPLES_PER_CLASS)
        rows = min(len(chosen), MAX_ROWS)
        low, high = THUMB_RANGE
        thumb = max(low, min(high, 540 // max(rows, 1) - 4, 600 // SAMPLES_PER_CLASS - 4))
        self.sample_labels = []
        metrics = QFontMetrics(self.font())
        for row, (k, indices) in enumerate(list(enumerate(chosen))[:MAX_ROWS]):
            name = QLabel(
                metrics.elidedText(summary.class_names[k], Qt.TextElideMode.ElideRight, 110)
            )
            name.setToolTip(f"class {k}: {summary.class_names[k]}")
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(name, row, 0)
            for col, index in enumerate(indices):
                cell = QLabel()
                cell.setPixmap(pixmap(data.x_train[index], thumb))
                cell.setFixedSize(thumb, thumb)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cell.setToolTip(f"training image {index:,}")
                grid.addWidget(cell, row, col + 1)
                self.sample_labels.append(cell)
        if data.num_classes > MAX_ROWS:
            more = QLabel(f"… and {data.num_classes - MAX_ROWS} more classes (counts at right)")
            grid.addWidget(more, MAX_ROWS, 0, 1, SAMPLES_PER_CLASS + 1)
        scroll = QScrollArea()
        scroll.setWidget(grid_box)
        scroll.setWidgetResizable(False)
        scroll.setMinimumWidth(min(grid_box.sizeHint().width() + 24, 560))
        samples_box = QVBoxLayout()
        samples_box.addWidget(_title("Training samples per class"))
        samples_box.addWidget(scroll, 1)
        body.addLayout(samples_box, 3)

        side = QVBoxLayout()
        side.addWidget(_title("Images per class (train / test)"))
        self.bars = CountBars(summary.class_names, summary.train_counts, summary.test_counts)
        bars_scroll = QScrollArea()
        bars_scroll.setWidget(self.bars)
        bars_scroll.setWidgetResizable(True)
        bars_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        bars_scroll.setMaximumHeight(self.bars.sizeHint().height() + 4)
        side.addWidget(bars_scroll, 1)
        side.addSpacing(12)
        side.addWidget(_title("What the network sees"))
        side.addWidget(self._adaptation())
        side.addStretch(1)
        body.addLayout(side, 2)

    def _adaptation(self) -> QWidget:
        """One image before and after the adaptation to the Input block, with the steps."""
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        data = self.data
        image = data.x_train[0]
        before = QLabel()
        before.setPixmap(pixmap(image, 96))
        h, w = image.shape[:2]
        row.addWidget(_captioned(before, f"stored: {h}×{w} {_colour(data.channels)}"))
        shape = self.input_shape
        if not shape:
            note = QLabel("The network has no valid Input block yet.")
            note.setWordWrap(True)
            row.addWidget(note, 1)
            return box
        from netbuilder.data import DataError
        from netbuilder.data.prepare import adaptation_steps, adapted_image

        try:
            after_image = adapted_image(image, shape)
            steps = adaptation_steps(data.image_shape, shape)
        except DataError as exc:
            note = QLabel(f"Cannot feed these images to an input of {shape}: {exc.problem}")
            note.setWordWrap(True)
            row.addWidget(note, 1)
            return box
        arrow = QLabel("→")
        arrow.setStyleSheet("font-size: 20px")
        row.addWidget(arrow)
        after = QLabel()
        after.setPixmap(pixmap(after_image, 96))
        row.addWidget(_captioned(after, f"input {_shape_text(shape)}"))
        text = QLabel(
            ("; ".join(steps) if steps else "used as stored") + "; then normalised with the "
            "mean and std above"
        )
        text.setWordWrap(True)
        row.addWidget(text, 1)
        self.adaptation_text = text.text()
        return box


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


def _captioned(widget: QWidget, caption: str) -> QWidget:
    box = QWidget()
    col = QVBoxLayout(box)
    col.setContentsMargins(0, 0, 0, 0)
    col.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
    label = QLabel(caption)
    label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
    col.addWidget(label)
    return box


def _colour(channels: int) -> str:
    return "grey" if channels == 1 else "RGB"


def _shape_text(shape) -> str:
    return "×".join(str(d) for d in shape)


def _numbers(values) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def _html(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
