"""Icons drawn for NetBuilder (SVG files in resources/icons/), cached per name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICONS_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"


@cache
def icon(name: str) -> QIcon:
    """An icon by file name ("conv2d.svg" or "conv2d"); a null QIcon when there is none."""
    if not name:
        return QIcon()
    path = ICONS_DIR / (name if name.endswith(".svg") else f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


def block_icon(name: str) -> QIcon:
    return icon(name)


def category_icon(category: str) -> QIcon:
    return icon("category-" + category.lower().replace(" ", "-"))


def app_icon() -> QIcon:
    return icon("netbuilder")
