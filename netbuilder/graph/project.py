"""Project files: versioned JSON holding the graph, training settings, weights path and saved run
curves. Loading only parses data (never executes anything); saving is atomic."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.fileio import OutputError
from engine.fileio import atomic_write as _atomic_write
from netbuilder.graph.limits import lone_surrogate_path
from netbuilder.graph.model import Graph, GraphError

FORMAT = "netbuilder-project"
# 2: composite definitions, stored once in graph.definitions; version-1 files (no composites)
# read unchanged and are written back as version 2
VERSION = 2
MAX_BYTES = 50 * 1024 * 1024  # a project is a few KB; anything this big is not one
SUFFIX = ".nbproj"


class ProjectError(Exception):
    """'<file>: <where>: <what>' for a project file that cannot be read or written."""


@dataclass
class Project:
    graph: Graph = field(default_factory=Graph)
    training: dict = field(default_factory=dict)  # TrainSettings as a dict, kept verbatim
    weights_path: str | None = None  # trained weights (.safetensors), relative to the file
    runs: list = field(default_factory=list)  # saved run curves written by the dashboard
    description: str = ""

    def to_dict(self) -> dict:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "graph": self.graph.to_dict(),
            "training": self.training,
            "weights": self.weights_path,
            "runs": self.runs,
        }
        if self.description:
            data["description"] = self.description
        return data

    def weights_file(self, project_path: str | os.PathLike | None) -> Path | None:
        """The weights path made absolute against the project file's folder."""
        if not self.weights_path:
            return None
        path = Path(self.weights_path)
        if not path.is_absolute() and project_path is not None:
            path = Path(project_path).resolve().parent / path
        return path


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def project_from_dict(data, source: str = "project") -> Project:
    """Check and convert parsed JSON; raises ProjectError('<source>: <where>: <what>')."""

    def fail(where: str, what: str):
        raise ProjectError(f"{source}: {where}: {what}")

    if not isinstance(data, dict):
        fail("top level", "must be a JSON object; this is not a NetBuilder project")
    if data.get("format") != FORMAT:
        fail(
            "format", f"expected {FORMAT!r} (got {data.get('format')!r}); not a NetBuilder project"
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        fail("version", f"must be a positive whole number (got {version!r})")
    if version > VERSION:
        fail(
            "version",
            f"the file has format version {version}, but this NetBuilder reads up to version "
            f"{VERSION}; open it with a newer NetBuilder",
        )
    unknown = set(data) - {
        "format",
        "version",
        "graph",
        "training",
        "weights",
        "runs",
        "description",
    }
    if unknown:
        fail("top level", f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    if "graph" not in data:
        fail("graph", "missing; the file holds no network")
    if version < 2 and isinstance(data["graph"], dict) and "definitions" in data["graph"]:
        fail("graph.definitions", "composite blocks need format version 2; the file is damaged")
    try:
        graph = Graph.from_dict(data["graph"])
    except GraphError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    training = data.get("training", {})
    if not isinstance(training, dict):
        fail("training", "must be an object of training settings")
    from netbuilder.training.settings import SettingsError, check_training

    try:  # checked once here, by the settings schema; unknown keys kept for newer versions
        training = check_training(training)
    except SettingsError as exc:
        fail(f"training.{exc.name}", exc.problem)
    weights = data.get("weights")
    if weights is not None and (not isinstance(weights, str) or not weights):
        fail("weights", "must be a file path or null")
    runs = data.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        fail("runs", "must be a list of objects")
    description = data.get("description", "")
    if not isinstance(description, str):
        fail("description", "must be text")
    return Project(graph, training, weights, runs, description)


def load_project(path: str | os.PathLike) -> Project:
    source = str(path)
    try:
        # a FIFO or device would block the read or never end: only regular files are projects
        if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
            raise ProjectError(f"{source}: is not a regular file, so not a project file")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ProjectError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise ProjectError(f"{source}: is a folder, not a project file") from None
    except OSError as exc:
        raise ProjectError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ProjectError(f"{source}: file is larger than {MAX_BYTES // 2**20} MB; not a project")
    return loads_project(raw, source)


def loads_project(raw: bytes | str, source: str = "project") -> Project:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(
                f"{source}: byte {exc.start}: not UTF-8 text; the file is damaged or not a project"
            ) from None
    else:
        text = raw
    if not text.strip():
        raise ProjectError(f"{source}: the file is empty")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        hint = "the file is truncated" if exc.pos >= len(text.rstrip()) else "invalid JSON"
        raise ProjectError(
            f"{source}: line {exc.lineno} column {exc.colno}: {hint} ({exc.msg})"
        ) from None
    except ValueError as exc:
        raise ProjectError(f"{source}: {exc}") from None
    except RecursionError:
        raise ProjectError(f"{source}: top level: nested too deeply to be a project") from None
    # only a \uD800-\uDFFF escape can make one: skip the walk for the usual file
    where = lone_surrogate_path(data) if _SURROGATE_ESCAPE.search(text) else None
    if where is not None:
        raise ProjectError(
            f"{source}: {where}: holds a lone surrogate (an escape such as \\ud800 that is "
            "no character); the text is damaged"
        )
    try:
        return project_from_dict(data, source)
    except RecursionError:
        raise ProjectError(f"{source}: top level: nested too deeply to be a project") from None


# a list of numbers/booleans/null, as json.dumps(indent=2) spreads it over lines
_SCALAR = r"(?:-?[0-9][0-9.eE+-]*|true|false|null)"
_SCALAR_LIST = re.compile(rf"\[\s*({_SCALAR}(?:,\s*{_SCALAR})*)\s*\]")


def dumps_project(project: Project) -> str:
    try:
        text = json.dumps(project.to_dict(), indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"project: cannot be written as JSON: {exc}") from None
    # short lists of numbers on one line ("shape": [1, 32, 32]) so the file reads easily
    return (
        _SCALAR_LIST.sub(lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]", text)
        + "\n"
    )


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """All or nothing, never through a non-regular file; see engine.fileio.atomic_write."""
    _atomic_write(path, data)


def save_project(project: Project, path: str | os.PathLike) -> None:
    text = dumps_project(project)
    try:
        atomic_write(path, text.encode("utf-8"))
    except OutputError as exc:  # already names the file
        raise ProjectError(str(exc)) from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot save: {exc.strerror or exc}") from None
