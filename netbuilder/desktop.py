"""A launcher entry for Linux desktops: a .desktop file and the app icon in the user's XDG data
folder ($XDG_DATA_HOME, by default ~/.local/share), per the freedesktop.org specifications."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from netbuilder.graph.project import atomic_write
from netbuilder.resources import resource_path

APP_ID = "netbuilder"  # the .desktop file's name, the icon's name and Qt's desktopFileName


class DesktopError(Exception):
    """Why the launcher could not be written or removed, in one line."""


@dataclass(frozen=True)
class LauncherFiles:
    entry: Path  # applications/netbuilder.desktop
    icon: Path  # icons/hicolor/scalable/apps/netbuilder.svg


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or not absolute (as the spec says)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def launcher_files() -> LauncherFiles:
    home = data_home()
    return LauncherFiles(
        entry=home / "applications" / f"{APP_ID}.desktop",
        icon=home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
    )


def _quote_exec_arg(arg: str) -> str:
    """One Exec argument as the spec wants it: quoted when it holds a reserved character
    (with ", `, $ and \\ escaped inside), % doubled, then \\ escaped again as in any value."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return quoted.replace("%", "%%").replace("\\", "\\\\")


def launch_command() -> list[str]:
    """This interpreter running this NetBuilder: right for a venv, a user or a system install."""
    return [sys.executable, "-m", "netbuilder"]


def desktop_entry(command: list[str]) -> str:
    if any(c in arg for arg in command for c in "\n\r"):
        raise DesktopError(f"cannot write a launcher for a path with a line break: {command!r}")
    exec_line = " ".join(_quote_exec_arg(a) for a in command) + " %f"
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.5",
            "Name=NetBuilder",
            "GenericName=Neural Network Designer",
            "Comment=Design, train and export neural networks",
            f"Exec={exec_line}",
            f"Icon={APP_ID}",
            "Terminal=false",
            "Categories=Education;Science;Development;",
            "Keywords=neural;network;deep;learning;PyTorch;training;",
            "StartupNotify=true",
            "StartupWMClass=NetBuilder",  # Qt's WM_CLASS is the application name,
            "",
        ]
    )


def _check_replaceable(path: Path) -> None:
    # a folder or a link in our place is someone else's: never replace it
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise DesktopError(f"{path}: exists and is not a regular file; move it away first")


def install(command: list[str] | None = None) -> LauncherFiles:
    """Write the launcher and its icon (each atomically); returns where they are."""
    _check_platform()
    files = launcher_files()
    for path in (files.icon, files.entry):
        _check_replaceable(path)
    try:
        icon = resource_path("icons", f"{APP_ID}.svg").read_bytes()
        # the icon first: a launcher that shows up must have its picture
        for path, data in (
            (files.icon, icon),
            (files.entry, desktop_entry(command or launch_command()).encode("utf-8")),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
    except OSError as exc:
        where = exc.filename or files.entry
        raise DesktopError(f"{where}: cannot write: {exc.strerror or exc}") from None
    return files


def remove() -> list[Path]:
    """Delete the launcher and its icon; returns the files that were there."""
    _check_platform()
    removed = []
    files = launcher_files()
    for path in (files.entry, files.icon):
        if path.is_symlink() or not path.exists():
            continue
        _check_replaceable(path)
        try:
            path.unlink()
        except OSError as exc:
            raise DesktopError(f"{path}: cannot remove: {exc.strerror or exc}") from None
        removed.append(path)
    return removed


def _check_platform() -> None:
    if sys.platform in ("win32", "darwin"):
        raise DesktopError(
            "install-desktop writes a freedesktop.org launcher for Linux desktops; "
            "on Windows and macOS start NetBuilder with the `netbuilder` command"
        )
