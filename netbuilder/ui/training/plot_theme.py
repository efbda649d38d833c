"""The dashboard's colours, read from the application palette (no pyqtgraph: the panel needs
them before its plots are built)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


class Theme:
    """Colours taken from the application palette, so plots follow light and dark themes."""

    def __init__(self, palette: QPalette | None = None):
        palette = palette or QApplication.palette()
        self.background = palette.color(QPalette.ColorRole.Base)
        self.foreground = palette.color(QPalette.ColorRole.Text)
        self.dark = self.background.lightness() < 128
        self.muted = QColor(self.foreground)
        self.muted.setAlpha(110)
        self.loss = QColor("#4e79a7") if not self.dark else QColor("#7aa6d6")
        self.raw = QColor(self.loss)
        self.raw.setAlpha(70)
        self.test = QColor("#e15759")
        self.accuracy = QColor("#59a14f")
        self.validation = QColor("#f28e2b")
        self.previous = QColor(self.foreground)
        self.previous.setAlpha(120)
        self.wrong = QColor("#e03131")
        self.right = QColor("#2f9e44") if not self.dark else QColor("#69db7c")
