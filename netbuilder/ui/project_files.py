"""Project files for the editor window: new, open, templates, save, recent files, autosave and
recovery after a crash. The window holds the document (project, path, modified flag); this part
moves it to and from disk and asks the person before anything unsaved is dropped."""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.fileio import same_file
from netbuilder.graph import commands as cmds
from netbuilder.graph.model import Graph
from netbuilder.graph.project import SUFFIX, Project, ProjectError, load_project, save_project
from netbuilder.graph.runs_file import load_runs, save_runs
from netbuilder.graph.templates import list_templates, template_path
from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH
from netbuilder.ui.recovery import Recovery

PROJECT_FILTER = f"NetBuilder projects (*{SUFFIX} *.json);;All files (*)"
MAX_RECENT = 8
AUTOSAVE_SECONDS = 30
LIVE_LOAD_BYTES = 256 * 1024  # project files from this size on are read on a helper thread


def templates() -> list[tuple[str, Path]]:
    """(menu title, path) for every bundled template, in the catalogue's menu order."""
    found = []
    for name, title in list_templates():
        try:
            found.append((title, template_path(name)))
        except FileNotFoundError:
            continue
    return found


def is_template(path: Path) -> bool:
    """True for a file among the bundled templates (opened by path, it is still a template)."""
    try:
        resolved = path.resolve()
    except OSError:
        return False
    return any(resolved == p.resolve() for _title, p in templates())


def blocks_overlap(graph) -> bool:
    """True when two blocks would cover each other on the canvas. Linear: blocks are put in
    cells of one block's size, and a block can only cover one in its own or a next cell."""
    cells: dict[tuple[int, int], tuple[float, float]] = {}
    for x, y in (n.pos for n in graph.nodes.values()):
        col, row = int(x // NODE_WIDTH), int(y // NODE_HEIGHT)
        for dc in (-1, 0, 1):
            for dr in (-1, 0, 1):
                other = cells.get((col + dc, row + dr))
                if other and abs(other[0] - x) < NODE_WIDTH and abs(other[1] - y) < NODE_HEIGHT:
                    return True
        cells[(col, row)] = (x, y)  # a second one in the same cell would have overlapped
    return False


def load_project_live(path) -> Project:
    """`load_project`, for a large file on a helper thread while the window keeps painting and
    running its timers (keys and clicks wait until it is read; a 10,000-block file takes a
    few hundred ms). A small file is read directly, as before."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # load_project says what is wrong
    if size < LIVE_LOAD_BYTES:
        return load_project(path)
    result: dict = {}

    def read() -> None:
        try:
            result["project"] = load_project(path)
        except BaseException as exc:  # handed to the caller, whatever it is
            result["error"] = exc

    thread = threading.Thread(target=read, name="open-project", daemon=True)
    thread.start()
    while thread.is_alive():
        QCoreApplication.processEvents(QEventLoop.ExcludeUserInputEvents, 10)
        thread.join(0.005)
    if "error" in result:
        raise result["error"]
    return result["project"]


def needs_layout(graph, canvas_size: tuple[float, float]) -> bool:
    """True when stored positions would show unreadably: blocks on top of each other, or laid
    out so wide (one long row) that fitting them in the canvas shrinks blocks below half size."""
    if not graph.nodes:
        return False
    if blocks_overlap(graph):
        return True
    # more blocks than any layout shows at half size: keep the places they were given (and
    # spare a 10,000-block project a layout of several seconds)
    room = (canvas_size[0] / 0.5) * (canvas_size[1] / 0.5)
    if len(graph.nodes) * (NODE_WIDTH + 40) * (NODE_HEIGHT + 40) > room:
        return False
    xs = [p[0] for p in (n.pos for n in graph.nodes.values())]
    ys = [p[1] for p in (n.pos for n in graph.nodes.values())]
    width = max(xs) - min(xs) + NODE_WIDTH
    height = max(ys) - min(ys) + NODE_HEIGHT
    scale = min(canvas_size[0] / width, canvas_size[1] / height)
    return scale < 0.5


class ProjectFiles(QObject):
    """The File menu's work. `window` is the MainWindow: it gives project, path, runner,
    settings, statusBar, show_error, replace_project, canvas_size and the modified flag."""

    def __init__(self, window, recovery_dir=None, autosave_seconds: float = AUTOSAVE_SECONDS):
        super().__init__(window)
        self.window = window
        self.opening = False  # a large file is being read (the event loop runs meanwhile)
        self.recovery = Recovery(recovery_dir)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(int(autosave_seconds * 1000))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

    # -- asking before dropping work -------------------------------------------------------
    def maybe_save(self, action: str = "continuing") -> bool:
        """Ask about unsaved changes; True when it is fine to drop the current project."""
        w = self.window
        if not w.is_dirty:
            return True
        what = w.unsaved_description()
        answer = QMessageBox.warning(
            w,
            "Unsaved changes",
            f"“{w.project_name()}” has changes that are not saved:\n{what}\n\n"
            f"Save them before {action}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def _can_replace(self) -> bool:
        return not self.window.runner.locked_reason and self.maybe_save()

    # -- new and open ----------------------------------------------------------------------
    def new_blank(self) -> None:
        if not self._can_replace():
            return
        self.window.replace_project(Project(Graph("Untitled")), None)
        self.recovery.discard()

    def new_from_template(self, path) -> bool:
        if not self._can_replace():
            return False
        return self.load_template(path)

    def load_template(self, path) -> bool:
        """Open a template as a new, unsaved project (Save asks for a file name)."""
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = template_path(path.stem)
        try:
            project = load_project(path)
        except ProjectError as exc:
            self.window.show_error("Cannot open template", str(exc))
            return False
        # templates are stored as one long row; wrap them to fit this window
        self.lay_out_before_showing(project.graph)
        # titled by the template's name: Save As proposes "<template>.nbproj"
        self.window.replace_project(project, None, untitled_name=path.stem)
        return True

    def lay_out_before_showing(self, graph) -> None:
        """Place the blocks of a graph nobody sees yet (no undo step: it is not an edit)."""
        size = self.window.canvas_size()
        positions = cmds.layout_positions(graph, size, (NODE_WIDTH, NODE_HEIGHT))
        with graph.batch():
            for node_id, pos in positions.items():
                graph.set_pos(node_id, pos)

    def open_dialog(self) -> None:
        if not self._can_replace():
            return
        w = self.window
        start = str(w.path.parent) if w.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(w, "Open project", start, PROJECT_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path) -> bool:
        """Open a project file; a message box (not a traceback) when it cannot be read."""
        path = Path(path)
        if is_template(path):  # a bundled template opens as one, so Save never overwrites it
            return self.load_template(path)
        w = self.window
        self.opening = True
        try:
            project = load_project_live(path)
        except ProjectError as exc:
            w.show_error("Cannot open project", str(exc))
            self.forget_recent(str(path))
            return False
        finally:
            self.opening = False
        try:
            kept = load_runs(path)
        except ProjectError as exc:  # the network still opens; its run history does not
            kept = None
            w.statusBar().showMessage(f"Training runs not loaded: {exc}", 10000)
        if kept is not None:
            project.runs = kept
        unreadable = needs_layout(project.graph, w.canvas_size())
        if unreadable:  # hand-written without positions, or stored as one long row
            self.lay_out_before_showing(project.graph)
        w.replace_project(project, path)
        self.add_recent(str(path.resolve()))
        if unreadable:
            w.statusBar().showMessage(
                "The blocks in this file overlapped or did not fit, so they were laid out; "
                "Save keeps the new places",
                10000,
            )
        return True

    # -- save ------------------------------------------------------------------------------
    def save(self) -> bool:
        path = self.window.path
        if path is None or path.suffix.lower() not in (SUFFIX, ".json"):
            return self.save_as()
        return self.save_to(path)

    def save_as(self) -> bool:
        w = self.window
        start = w.path or Path.home() / f"{w.project_name()}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(w, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += SUFFIX
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        w = self.window
        try:
            # the project must not replace the trained weights it refers to
            weights = w.project.weights_file(w.path)
            if weights is not None and same_file(path, weights):
                raise ProjectError(
                    f"{path}: is the trained weights file of this project; save the project "
                    "under another name"
                )
            # the runs go beside the project file, which keeps only the network and settings
            save_project(dataclasses.replace(w.project, runs=[]), path)
            save_runs(path, w.project.runs)
            w.document_saved(path)
        except (ProjectError, OSError) as exc:
            w.show_error("Cannot save project", str(exc))
            return False
        self.add_recent(str(path.resolve()))
        self.recovery.discard()
        w.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    # -- recent files ----------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.window.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.window.settings.setValue("recentFiles", files[:MAX_RECENT])

    def forget_recent(self, path: str) -> None:
        resolved = str(Path(path).resolve())
        kept = [f for f in self.recent_files() if f != resolved]
        self.window.settings.setValue("recentFiles", kept)

    def fill_recent_menu(self, menu) -> None:
        """ "1 mynet.nbproj — ~/projects": the name first (paths share long prefixes), the
        folder after it, the full path as tooltip; files that are gone are shown disabled."""
        menu.clear()
        menu.setToolTipsVisible(True)
        files = self.recent_files()
        if not files:
            menu.addAction("(no recent files)").setEnabled(False)
            return
        home = str(Path.home())
        for i, f in enumerate(files, 1):
            path = Path(f)
            folder = str(path.parent)
            if folder == home or folder.startswith(home + os.sep):
                folder = "~" + folder[len(home) :]
            act = menu.addAction(f"&{i} {path.name}  —  {folder}")
            act.setData(f)
            act.setToolTip(f if path.exists() else f"{f} (no longer there)")
            act.setEnabled(path.exists())
            act.triggered.connect(lambda _=False, p=f: self._can_replace() and self.open_path(p))
        menu.addSeparator()
        menu.addAction("Clear Menu", self.clear_recent)

    def clear_recent(self) -> None:
        self.window.settings.setValue("recentFiles", [])

    # -- autosave and recovery -------------------------------------------------------------
    def autosave(self) -> None:
        w = self.window
        if w.is_dirty:
            try:
                self.recovery.save(w.project, w.path)
            except (OSError, ProjectError) as exc:
                w.statusBar().showMessage(f"Autosave failed: {exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosave left by a dead NetBuilder; True if taken."""
        found = self.recovery.find_orphan()
        if found is None:
            return False
        meta, project_file = found
        w = self.window
        original = meta.get("path") or "an unsaved project"
        answer = QMessageBox.question(
            w,
            "Recover unsaved work?",
            f"NetBuilder closed unexpectedly while editing {original}.\n"
            f"Recover the work autosaved at {meta.get('saved_at', '?')}?",
            QMessageBox.Yes | QMessageBox.No,
            QMessageBox.Yes,
        )
        if answer != QMessageBox.Yes:
            self.recovery.remove_orphan(meta)
            return False
        try:
            project = load_project(project_file)
        except ProjectError as exc:
            w.show_error("Cannot recover", str(exc))
            return False
        w.replace_project(project, meta.get("path"))
        self.recovery.remove_orphan(meta)
        w.mark_dirty()
        self.autosave()
        return True

    def keep_runs(self) -> bool:
        """Write the project's runs beside its file now; False while it has no file."""
        w = self.window
        if w.path is None:
            return False
        try:
            save_runs(w.path, w.project.runs)
        except ProjectError as exc:
            w.statusBar().showMessage(f"The run was not kept: {exc}", 10000)
            return False
        return True

    def close(self) -> None:
        """The window closes cleanly: nothing to recover."""
        self.autosave_timer.stop()
        self.recovery.discard()
