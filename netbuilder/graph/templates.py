"""The starter networks in resources/templates/ (project files like any other).

Every `<name>.json` there is a template, listed by name; its one-line title is the headline of
the file's own description (up to the first ':', ' (' or sentence end), so a new template needs
no change here.
"""

from __future__ import annotations

import re
from functools import cache

from netbuilder.graph.project import Project, ProjectError, load_project
from netbuilder.resources import resource_names, resource_path

DEFAULT_TEMPLATE = "lenet"  # the network the app opens with, first in every list
TITLE_LIMIT = 70


def template_names() -> list[str]:
    names = [name.removesuffix(".json") for name in resource_names("templates", ".json")]
    return sorted(names, key=lambda name: (name != DEFAULT_TEMPLATE, name))


def template_path(name: str):
    return resource_path("templates", f"{name}.json")


def headline(description: str, fallback: str) -> str:
    """The first clause of a description, short enough for a menu or a terminal line."""
    text = " ".join(description.split())
    title = re.split(r":\s| \(|\.(?:\s|$)", text, maxsplit=1)[0].strip() if text else ""
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    return title or fallback


@cache
def _title(name: str) -> str:
    try:
        description = load_template(name).description
    except (ProjectError, FileNotFoundError, KeyError):
        return name
    return headline(description, name)


def list_templates() -> list[tuple[str, str]]:
    """[(name, title)] for the File > New from Template menu and `netbuilder templates`."""
    return [(name, _title(name)) for name in template_names()]


def load_template(name: str) -> Project:
    if name not in template_names():
        raise KeyError(f"unknown template {name!r}; choose one of {', '.join(template_names())}")
    return load_project(template_path(name))
