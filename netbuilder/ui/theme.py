"""Light and dark palettes for the whole app and the canvas colours that go with them.

The app follows the system colour scheme (Qt's style hints); ``NETBUILDER_THEME=light|dark``
forces one (screenshots, tests).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from netbuilder.resources import resource_path

# Accent colour per palette category; categories the catalogue adds later fall back to grey.
CATEGORY_COLORS = {
    "input": "#3d8bfd",
    "layers": "#e8833a",
    "pooling": "#2fa39a",
    "activations": "#c9a21a",
    "normalization": "#d9488b",
    "structure": "#8e5cd9",
    "composites": "#5b6b8c",
}
DEFAULT_CATEGORY_COLOR = "#8a8f98"


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category.lower(), DEFAULT_CATEGORY_COLOR))


@dataclass(frozen=True)
class Theme:
    name: str
    canvas_bg: QColor
    grid_minor: QColor
    grid_major: QColor
    node_bg: QColor
    node_border: QColor
    node_selected: QColor
    node_text: QColor
    node_subtext: QColor
    node_error_bg: QColor
    node_error_border: QColor
    edge: QColor
    edge_selected: QColor
    edge_label_bg: QColor
    edge_label_text: QColor
    port_fill: QColor
    port_ok: QColor
    port_bad: QColor
    window: QColor
    base: QColor
    alt_base: QColor
    text: QColor
    button: QColor
    highlight: QColor
    mid: QColor


LIGHT = Theme(
    name="light",
    canvas_bg=QColor("#f4f5f7"),
    grid_minor=QColor("#e6e8ec"),
    grid_major=QColor("#d5d8de"),
    node_bg=QColor("#ffffff"),
    node_border=QColor("#b9bec7"),
    node_selected=QColor("#2f7bf6"),
    node_text=QColor("#1d2128"),
    node_subtext=QColor("#5b6370"),
    node_error_bg=QColor("#fdecec"),
    node_error_border=QColor("#d93636"),
    edge=QColor("#7d8594"),
    edge_selected=QColor("#2f7bf6"),
    edge_label_bg=QColor("#ffffff"),
    edge_label_text=QColor("#384150"),
    port_fill=QColor("#ffffff"),
    port_ok=QColor("#22a05a"),
    port_bad=QColor("#d93636"),
    window=QColor("#eceef1"),
    base=QColor("#ffffff"),
    alt_base=QColor("#f5f6f8"),
    text=QColor("#1d2128"),
    button=QColor("#f3f4f6"),
    highlight=QColor("#2f7bf6"),
    mid=QColor("#c4c8cf"),
)

DARK = Theme(
    name="dark",
    canvas_bg=QColor("#1e2127"),
    grid_minor=QColor("#262a31"),
    grid_major=QColor("#2e333b"),
    node_bg=QColor("#2c313a"),
    node_border=QColor("#4a515d"),
    node_selected=QColor("#5b9cff"),
    node_text=QColor("#e8eaed"),
    node_subtext=QColor("#a4abb6"),
    node_error_bg=QColor("#4a2529"),
    node_error_border=QColor("#ff5c5c"),
    edge=QColor("#8790a0"),
    edge_selected=QColor("#5b9cff"),
    edge_label_bg=QColor("#262a31"),
    edge_label_text=QColor("#cfd4dc"),
    port_fill=QColor("#1e2127"),
    port_ok=QColor("#3ccf7a"),
    port_bad=QColor("#ff5c5c"),
    window=QColor("#24272d"),
    base=QColor("#1c1f24"),
    alt_base=QColor("#23262c"),
    text=QColor("#e3e5e8"),
    button=QColor("#2d3138"),
    highlight=QColor("#3d7ef0"),
    mid=QColor("#3a3f47"),
)

_current: Theme = LIGHT


def current() -> Theme:
    return _current


def system_prefers_dark() -> bool:
    forced = os.environ.get("NETBUILDER_THEME", "").lower()
    if forced in ("light", "dark"):
        return forced == "dark"
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def _palette(t: Theme) -> QPalette:
    p = QPalette()
    roles = {
        QPalette.Window: t.window,
        QPalette.WindowText: t.text,
        QPalette.Base: t.base,
        QPalette.AlternateBase: t.alt_base,
        QPalette.ToolTipBase: t.base,
        QPalette.ToolTipText: t.text,
        QPalette.PlaceholderText: t.node_subtext,
        QPalette.Text: t.text,
        QPalette.Button: t.button,
        QPalette.ButtonText: t.text,
        QPalette.BrightText: QColor("#ff5c5c"),
        QPalette.Highlight: t.highlight,
        QPalette.HighlightedText: QColor("#ffffff"),
        QPalette.Link: t.highlight,
        QPalette.Mid: t.mid,
        QPalette.Midlight: t.mid.lighter(110),
        QPalette.Dark: t.mid.darker(130),
        QPalette.Light: t.button.lighter(110),
        QPalette.Shadow: QColor(0, 0, 0, 80),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.Text, QPalette.WindowText, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, t.node_subtext)
    return p


def apply(app: QApplication, dark: bool | None = None) -> Theme:
    """Style the whole app light or dark (None: follow the system) and return the theme."""
    global _current
    if dark is None:
        dark = system_prefers_dark()
    _current = DARK if dark else LIGHT
    app.setStyle("Fusion")
    app.setPalette(_palette(_current))
    font = QFont(app.font())
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    app.setFont(font)
    try:
        qss = resource_path("styles", f"{_current.name}.qss").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a broken install still opens, plainer
        print(f"netbuilder: warning: no stylesheet: {exc}", file=sys.stderr)
        qss = ""
    app.setStyleSheet(qss)
    return _current
