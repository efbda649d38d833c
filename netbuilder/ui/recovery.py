"""Autosave to a recovery file while there are unsaved changes, and find what a crash left.

Each running NetBuilder writes ``autosave-<pid>.nbproj`` plus ``autosave-<pid>.meta.json``
(original path, time) in the user data folder and deletes them when it closes cleanly. A pair
whose process is gone is the work of a NetBuilder that crashed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from netbuilder.graph.project import atomic_write, save_project

APP_NAME = "NetBuilder"


def default_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "recovery"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would terminate it there: ask for a handle instead
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or the platform cannot tell: leave it alone
    return True


class Recovery:
    def __init__(self, folder: str | os.PathLike | None = None, pid: int | None = None):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.pid = pid if pid is not None else os.getpid()

    @property
    def project_file(self) -> Path:
        return self.folder / f"autosave-{self.pid}.nbproj"

    @property
    def meta_file(self) -> Path:
        return self.folder / f"autosave-{self.pid}.meta.json"

    def save(self, project, original_path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        save_project(project, self.project_file)
        meta = {
            "pid": self.pid,
            "path": str(original_path) if original_path else None,
            "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "project": self.project_file.name,
        }
        atomic_write(self.meta_file, json.dumps(meta).encode())

    def discard(self) -> None:
        for f in (self.project_file, self.meta_file):
            try:
                f.unlink()
            except FileNotFoundError:
                pass

    def find_orphan(self) -> tuple[dict, Path] | None:
        """(meta, project file) of the newest autosave whose NetBuilder is no longer running."""
        if not self.folder.is_dir():
            return None
        found = []
        for meta_file in self.folder.glob("autosave-*.meta.json"):
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                pid = int(meta["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            project_file = self.folder / f"autosave-{pid}.nbproj"
            if pid == self.pid or _alive(pid) or not project_file.is_file():
                continue
            found.append((project_file.stat().st_mtime, meta, project_file))
        if not found:
            return None
        _, meta, project_file = max(found, key=lambda f: f[0])
        return meta, project_file

    def remove_orphan(self, meta: dict) -> None:
        pid = meta.get("pid")
        for name in (f"autosave-{pid}.nbproj", f"autosave-{pid}.meta.json"):
            try:
                (self.folder / name).unlink()
            except FileNotFoundError:
                pass
