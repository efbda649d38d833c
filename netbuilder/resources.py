"""Where NetBuilder's bundled files (templates, icons, styles, the data sample) live.

The one place that knows the layout: every reader asks `resource_path("templates", "lenet.json")`
or lists a folder with `resource_names("templates", ".json")`. The repository keeps the files
in its top-level `resources/`; the wheel and the sdist install that folder as the package
`netbuilder._resources`, found through importlib.resources (a folder in site-packages, or
inside a zip archive, whose files are extracted once per process).
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from functools import cache
from importlib import resources as importlib_resources
from importlib.resources.abc import Traversable
from pathlib import Path

PACKAGE = "netbuilder._resources"
# A source checkout (run in place, or installed editable) has resources/ beside the package.
_CHECKOUT = Path(__file__).resolve().parent.parent
_extracted = ExitStack()
atexit.register(_extracted.close)


@cache
def resources_root() -> Traversable:
    """The folder of bundled files: the checkout's `resources/` when running from the
    repository, else the installed package data."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "resources").is_dir():
        return _CHECKOUT / "resources"
    try:
        return importlib_resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"NetBuilder's bundled files are missing: neither {_CHECKOUT / 'resources'} nor "
            f"the package {PACKAGE} exists; reinstall NetBuilder"
        ) from None


def resource_path(*parts: str, must_exist: bool = True) -> Path:
    """A real file path for `resources/<parts...>` (Qt and numpy open paths, not streams);
    FileNotFoundError naming the file when it is missing."""
    ref = _join(parts)
    if isinstance(ref, Path):
        if must_exist and not ref.exists():
            raise FileNotFoundError(f"NetBuilder resource not found: {ref}")
        return ref
    if not ref.is_file():
        if must_exist:
            raise FileNotFoundError(
                f"NetBuilder resource not found: {'/'.join(parts)} in {PACKAGE}"
            )
        return Path(str(ref))
    return _extract(parts)


@cache
def _extract(parts: tuple[str, ...]) -> Path:
    # kept until the process exits: a QIcon or a template may be read again at any time
    return _extracted.enter_context(importlib_resources.as_file(_join(parts)))


def _join(parts) -> Traversable:
    ref = resources_root()
    for part in parts:  # one at a time: not every Traversable joins several at once
        ref = ref / part
    return ref


def resource_names(folder: str, suffix: str = "") -> list[str]:
    """Sorted names of the files in `resources/<folder>` that end with `suffix`."""
    directory = _join([folder])
    if not directory.is_dir():
        return []
    return sorted(
        entry.name
        for entry in directory.iterdir()
        if entry.name.endswith(suffix) and entry.is_file()
    )
