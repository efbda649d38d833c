"""Icons drawn for NetBuilder (SVG files in resources/icons/), cached per name."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from netbuilder.resources import resource_path


@cache
def icon(name: str) -> QIcon:
    """An icon by file name ("conv2d.svg" or "conv2d"); a null QIcon when there is none."""
    if not name:
        return QIcon()
    try:
        path = resource_path("icons", name if name.endswith(".svg") else f"{name}.svg")
    except FileNotFoundError:
        return QIcon()
    return QIcon(str(path))


def block_icon(name: str) -> QIcon:
    return icon(name)


def category_icon(category: str) -> QIcon:
    return icon("category-" + category.lower().replace(" ", "-"))


def app_icon() -> QIcon:
    return icon("netbuilder")
