"""Composite definitions outside a project: the shipped ones (resources/composites) and the
user's "My blocks" (a folder in the user data directory), usable in every project.

A block file holds one definition and, before it, the definitions its body uses:
{"format": "netbuilder-block", "version": 1, "definitions": [...]}. Reading never executes
anything and is bounded by the file's size; writing is atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from netbuilder.graph.composite import Definition, definitions_from_list, definitions_in_order
from netbuilder.graph.model import GraphError
from netbuilder.graph.project import atomic_write
from netbuilder.resources import resource_path

FORMAT = "netbuilder-block"
VERSION = 1
MAX_BYTES = 5 * 1024 * 1024  # a definition is a few KB
SHIPPED = ("convbnrelu", "basicblock", "inception")
USER_DIR_ENV = "NETBUILDER_USER_DATA"  # tests and portable installs point it elsewhere


class LibraryError(Exception):
    """'<file>: <what>' for a block file that cannot be read or written."""


def user_blocks_dir() -> Path:
    base = os.environ.get(USER_DIR_ENV)
    if not base:
        import platformdirs

        base = platformdirs.user_data_dir("NetBuilder", appauthor=False)  # as recovery's
    return Path(base) / "blocks"


def read_block_file(path: str | os.PathLike) -> Definition:
    """The file's main (last) definition; the ones it uses hang off its body's registry."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LibraryError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise LibraryError(f"{source}: larger than {MAX_BYTES // 2**20} MB; not a block file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LibraryError(f"{source}: not a block file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LibraryError(f"{source}: not a NetBuilder block file")
    if data.get("version") != VERSION:
        raise LibraryError(
            f"{source}: block file version {data.get('version')!r}; this NetBuilder reads "
            f"version {VERSION}"
        )
    registry: dict = {}
    try:
        definitions_from_list(data.get("definitions"), registry, "definitions")
    except GraphError as exc:
        raise LibraryError(f"{source}: {exc}") from None
    except RecursionError:
        raise LibraryError(f"{source}: nested too deeply") from None
    if not registry:
        raise LibraryError(f"{source}: holds no definition")
    return list(registry.values())[-1]


def block_file_data(definition: Definition) -> dict:
    """The file content for a definition and every definition it uses."""
    needed: dict = {}

    def collect(defn):
        for name in defn.used_definitions():
            used = defn.body.definitions[name]
            collect(used)
            needed[name] = used
        needed[defn.name] = defn

    collect(definition)
    ordered = definitions_in_order(needed)
    return {"format": FORMAT, "version": VERSION, "definitions": [d.to_dict() for d in ordered]}


def save_to_library(definition: Definition, folder: Path | None = None) -> Path:
    """Write the definition to My blocks as <Name>.json (replacing an older copy)."""
    folder = folder or user_blocks_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{definition.name}.json"
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise LibraryError(f"{path}: exists and is not a plain file; move it away first")
        text = json.dumps(block_file_data(definition), indent=2) + "\n"
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise LibraryError(f"{folder}: cannot save: {exc.strerror or exc}") from None
    return path


def shipped_definitions() -> list[Definition]:
    return [read_block_file(resource_path("composites", f"{n}.json")) for n in SHIPPED]


def user_definitions() -> tuple[list[Definition], list[str]]:
    """(definitions in My blocks, one message per file that could not be read)."""
    folder = user_blocks_dir()
    found, errors = [], []
    if not folder.is_dir():
        return found, errors
    for path in sorted(folder.glob("*.json")):
        if not path.is_file():
            continue
        try:
            found.append(read_block_file(path))
        except LibraryError as exc:
            errors.append(str(exc))
    return found, errors
