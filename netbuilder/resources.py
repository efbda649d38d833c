"""Where NetBuilder's bundled files (templates, icons, styles, the data sample) live.

The one place that knows the layout: everything else asks `resource_path("templates", ...)`.
The folder is the repository's `resources/`, beside the `netbuilder` package; the environment
variable NETBUILDER_RESOURCES points elsewhere (a packaged install, a test).
"""

from __future__ import annotations

import os
from pathlib import Path

import netbuilder

ENV_VAR = "NETBUILDER_RESOURCES"


def resources_dir() -> Path:
    """The resources folder (it is not checked to exist; `resource_path` does that)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(netbuilder.__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str, must_exist: bool = True) -> Path:
    """`resources/<parts...>`; FileNotFoundError naming the path when it is missing."""
    path = resources_dir().joinpath(*parts)
    if must_exist and not path.exists():
        raise FileNotFoundError(
            f"NetBuilder resource not found: {path} (the resources folder is "
            f"{resources_dir()}; set {ENV_VAR} if it lives elsewhere)"
        )
    return path
