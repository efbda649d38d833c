"""Training runs kept beside a project file (`net.nbproj` -> `net.runs.json`).

The runs' curves are the bulk of what a project would otherwise hold, and they change when the
network does not: kept apart, the project file stays small and a run does not make the network
"modified". Written atomically; read with a size bound.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from netbuilder.graph.project import ProjectError, atomic_write

RUNS_SUFFIX = ".runs.json"
RUNS_FORMAT = "netbuilder-runs"
MAX_RUNS_BYTES = 64 * 1024 * 1024  # a sidecar larger than this is refused, not read


def runs_path(project_path: str | os.PathLike) -> Path:
    """The sidecar of `project_path`: same folder, same stem, `.runs.json`."""
    path = Path(project_path)
    return path.with_name(path.stem + RUNS_SUFFIX)


def save_runs(project_path: str | os.PathLike, runs: list) -> Path | None:
    """Write `runs` beside the project (or remove a sidecar when there are none)."""
    target = runs_path(project_path)
    if not runs:
        if target.is_file():
            target.unlink()
        return None
    if target.exists() and not target.is_file():
        raise ProjectError(f"{target}: cannot save runs: not a regular file")
    text = json.dumps({"format": RUNS_FORMAT, "runs": runs}, separators=(",", ":"))
    try:
        atomic_write(target, text.encode("utf-8"))
    except OSError as exc:
        raise ProjectError(f"{target}: cannot save runs: {exc.strerror or exc}") from None
    return target


def load_runs(project_path: str | os.PathLike) -> list | None:
    """The runs kept beside the project; None when there is no sidecar. Raises ProjectError
    naming the file when it is there but cannot be used."""
    target = runs_path(project_path)
    if not target.exists():
        return None
    if not target.is_file():
        raise ProjectError(f"{target}: not a regular file")
    try:
        with open(target, "rb") as f:
            raw = f.read(MAX_RUNS_BYTES + 1)
    except OSError as exc:
        raise ProjectError(f"{target}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_RUNS_BYTES:
        raise ProjectError(f"{target}: larger than {MAX_RUNS_BYTES // 2**20} MiB; not read")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectError(f"{target}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUNS_FORMAT:
        raise ProjectError(f"{target}: not a NetBuilder runs file")
    runs = data.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ProjectError(f"{target}: runs: must be a list of objects")
    return runs
