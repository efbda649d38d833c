"""The editor window: canvas, palette, inspector, problems, menus, files, status bar.

Every edit goes through ``self.runner`` (graph commands on a QUndoStack); the canvas, inspector
and status bar only render the graph and redraw from its change events.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEventLoop,
    QPointF,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QGraphicsScene,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
)

from engine.fileio import same_file
from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds
from netbuilder.graph.model import Graph
from netbuilder.graph.project import (
    SUFFIX,
    Project,
    ProjectError,
    load_project,
    save_project,
)
from netbuilder.graph.templates import list_templates, template_path
from netbuilder.ui import icons, theme
from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH, format_count
from netbuilder.ui.canvas.scene import GraphScene
from netbuilder.ui.canvas.view import CanvasView
from netbuilder.ui.import_action import import_model
from netbuilder.ui.inspector import Inspector
from netbuilder.ui.palette import Palette, QuickAdd
from netbuilder.ui.recovery import Recovery
from netbuilder.ui.status import format_bytes, memory_estimate, validity_text
from netbuilder.ui.undo import CommandRunner

# Copied blocks travel as JSON text under this key: a QMimeData made in Python and handed to
# the clipboard crashes PySide 6.11 when the app exits, plain text does not.
FRAGMENT_KEY = "netbuilder-fragment"
PROJECT_FILTER = f"NetBuilder projects (*{SUFFIX} *.json);;All files (*)"
MAX_RECENT = 8
AUTOSAVE_SECONDS = 30
PALETTE_W, INSPECTOR_W = 205, 310  # default dock widths at 1440x900
BOTTOM_H = 90  # the Training dock before any run: its controls row and a one-line hint
# rows the Problems list shows (a 10,000-block loop has 10,000 problems: a list nobody reads,
# rebuilt on every edit); the rest are counted in the last row and in the dock's title
MAX_PROBLEM_ROWS = 500
LIVE_LOAD_BYTES = 256 * 1024  # project files from this size on are read on a helper thread


def templates() -> list[tuple[str, Path]]:
    """(menu title, path) for every bundled template, the default first."""
    found = []
    for name, title in list_templates():
        try:
            found.append((title, template_path(name)))
        except FileNotFoundError:
            continue
    return found


def default_size() -> tuple[int, int]:
    """1440x900, or most of a smaller screen."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return 1440, 900
    avail = screen.availableGeometry()
    return min(1440, int(avail.width() * 0.95)), min(900, int(avail.height() * 0.92))


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


def _tooltip_with_keys(action: QAction) -> str:
    """ "Fit to View (F)": toolbar buttons teach their shortcuts, as mature editors' do."""
    text = action.text().replace("&", "").split("\t")[0].rstrip("…")
    keys = action.shortcuts()
    if not keys:
        return text
    return f"{text} ({keys[0].toString(QKeySequence.NativeText)})"


class MainWindow(QMainWindow):
    projectReplaced = Signal()
    selectionChangedTo = Signal(object)  # str node id, or None

    def __init__(
        self,
        project: Project | None = None,
        path: str | os.PathLike | None = None,
        settings: QSettings | None = None,
        recovery_dir: str | os.PathLike | None = None,
        autosave_seconds: float = AUTOSAVE_SECONDS,
        install_training: bool = True,
    ):
        super().__init__()
        self.setObjectName("NetBuilderMainWindow")
        self.setWindowIcon(icons.app_icon())
        self.settings = settings if settings is not None else QSettings("NetBuilder", "NetBuilder")
        self.project = project if project is not None else Project(Graph("Untitled"))
        self.path: Path | None = Path(path) if path else None
        self._extra_dirty = False
        self._selected: str | None = None
        self._paste_count = 0
        self._untitled_name: str | None = None  # a template's name until first saved
        self._bottom_docks: list[QDockWidget] = []
        self._shown_once = False
        self._restored_state = False
        self._shortcuts_dialog: ShortcutsDialog | None = None
        self._validity: tuple[str, bool] = ("", True)
        self._opening = False  # a large file is being read (the event loop runs meanwhile)

        self.runner = CommandRunner(self.project.graph, self)
        self.runner.refused.connect(self._on_refused)
        self.runner.touched.connect(self._select_touched)
        self.runner.stack.cleanChanged.connect(self._update_title)
        self.runner.stack.indexChanged.connect(self._update_title)
        self.scene = GraphScene(self.runner, self)
        self.canvas = CanvasView(self.scene, self.runner, self)
        self.canvas.setObjectName("canvas")
        self.setCentralWidget(self.canvas)
        self.quick_add = QuickAdd(self)
        self._quick_add_at = QPointF()

        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()

        self.scene.graphChanged.connect(self._on_graph_changed)
        self.scene.buildProgress.connect(self._show_build_progress)
        self.scene.selectionChanged.connect(self._on_selection)
        self.canvas.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.canvas.quickAddRequested.connect(self._open_quick_add)
        self.quick_add.chosen.connect(
            lambda t: self.canvas.add_block(t, self._quick_add_at, avoid_overlap=True)
        )
        self.palette.blockActivated.connect(
            lambda t: self.canvas.add_block(t, self.canvas.center_scene_pos(), avoid_overlap=True)
        )

        self.recovery = Recovery(recovery_dir)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(int(autosave_seconds * 1000))
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self._attach(self.project)
        self.resize(*default_size())
        self._restore_layout()
        if install_training:
            self._install_training()
        self.restore_dock_state()

    # -- building --------------------------------------------------------------------------
    def _build_docks(self) -> None:
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.palette = Palette()
        self.palette_dock = self._dock("Blocks", "paletteDock", self.palette)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.palette_dock)
        self.inspector = Inspector(self.runner, self.scene.block_for)
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector)
        self.addDockWidget(Qt.RightDockWidgetArea, self.inspector_dock)
        self.problems = QListWidget()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.itemClicked.connect(self._problem_clicked)
        self.problems.itemActivated.connect(self._problem_clicked)
        self.problems_dock = self._dock("Problems", "problemsDock", self.problems)
        self.addDockWidget(Qt.RightDockWidgetArea, self.problems_dock)
        self.splitDockWidget(self.inspector_dock, self.problems_dock, Qt.Vertical)
        self.palette.setMinimumWidth(170)
        self.inspector.setMinimumWidth(250)

    def _dock(self, title: str, name: str, widget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetMovable
            | QDockWidget.DockWidgetClosable
            | QDockWidget.DockWidgetFloatable
        )
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.params_label = QLabel()
        self.params_label.setObjectName("paramsLabel")
        self.valid_label = QLabel()
        self.valid_label.setObjectName("validLabel")
        self.memory_label = QLabel()
        self.memory_label.setObjectName("memoryLabel")
        self.lock_label = QLabel()
        self.lock_label.setObjectName("lockLabel")
        self.lock_label.hide()
        for w in (self.lock_label, self.valid_label, self.params_label, self.memory_label):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)

    def _action(self, text, slot, shortcut=None, canvas_only=False, icon=None, tip=None):
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list | tuple):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            a.setIcon(icon)
        if tip:
            a.setStatusTip(tip)
        a.setToolTip(_tooltip_with_keys(a))
        a.triggered.connect(slot)
        if canvas_only:
            # single keys and clipboard keys belong to the canvas, not to text fields
            a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            self.canvas.addAction(a)
        else:
            self.addAction(a)
        return a

    def _build_actions(self) -> None:
        A = self._action
        self.act_new = A("&New", self.new_blank, QKeySequence.New, icon=icons.icon("action-new"))
        self.act_open = A(
            "&Open…", self.open_dialog, QKeySequence.Open, icon=icons.icon("action-open")
        )
        self.act_save = A("&Save", self.save, QKeySequence.Save, icon=icons.icon("action-save"))
        self.act_save_as = A("Save &As…", self.save_as, QKeySequence("Ctrl+Shift+S"))
        self.act_import = A(
            "&Import Model…",
            lambda: import_model(self),
            tip="Open an ONNX model or a PyTorch model's code as a project",
        )
        self.act_export = A(
            "&Export…",
            self.export_dialog,
            QKeySequence("Ctrl+E"),
            icon=icons.icon("action-export"),
            tip="Write a runnable PyTorch or engine script, or an ONNX model",
        )
        self.act_quit = A("&Quit", self.close, QKeySequence.Quit)
        self.act_undo = A("&Undo", self.undo, QKeySequence.Undo, icon=icons.icon("action-undo"))
        self.act_redo = A(
            "&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], icon=icons.icon("action-redo")
        )
        self.act_cut = A("Cu&t", self.cut, QKeySequence.Cut, canvas_only=True)
        self.act_copy = A("&Copy", self.copy, QKeySequence.Copy, canvas_only=True)
        self.act_paste = A("&Paste", self.paste, QKeySequence.Paste, canvas_only=True)
        self.act_duplicate = A("&Duplicate", self.duplicate, "Ctrl+D", canvas_only=True)
        self.act_delete = A(
            "De&lete", self.delete_selection, [QKeySequence.Delete, "Backspace"], canvas_only=True
        )
        self.act_select_all = A(
            "Select &All", self.select_all, QKeySequence.SelectAll, canvas_only=True
        )
        self.act_add = A(
            "&Add Block…\tTab",
            self._quick_add_at_center,
            None,
            canvas_only=True,
            tip="Search for a block to add (Tab or Space on the canvas)",
        )
        self.act_fit = A(
            "&Fit to View", self.canvas.fit, "F", canvas_only=True, icon=icons.icon("action-fit")
        )
        self.act_layout = A(
            "Auto &Layout",
            self.auto_layout,
            "L",
            canvas_only=True,
            icon=icons.icon("action-layout"),
        )
        self.act_zoom_in = A(
            "Zoom &In", lambda: self.canvas.zoom_by(1.25), QKeySequence.ZoomIn, canvas_only=True
        )
        self.act_zoom_reset = A("&Actual Size", self.canvas.reset_zoom, "Ctrl+0", canvas_only=True)
        self.act_zoom_out = A(
            "Zoom &Out", lambda: self.canvas.zoom_by(0.8), QKeySequence.ZoomOut, canvas_only=True
        )
        self.runner.stack.canUndoChanged.connect(self._update_undo_actions)
        self.runner.stack.canRedoChanged.connect(self._update_undo_actions)
        self.runner.stack.undoTextChanged.connect(self._update_undo_actions)
        self.runner.stack.redoTextChanged.connect(self._update_undo_actions)
        self.act_undo.setIconText("Undo")
        self.act_redo.setIconText("Redo")
        self._update_undo_actions()

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.act_new)
        self.template_menu = file_menu.addMenu("New from &Template")
        for label, path in templates():
            act = self.template_menu.addAction(label)
            act.triggered.connect(lambda _=False, p=path: self.new_from_template(p))
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.act_import)
        file_menu.addSeparator()
        file_menu.addAction(self.act_save)
        file_menu.addAction(self.act_save_as)
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)

        self.edit_menu = edit = mb.addMenu("&Edit")
        for a in (
            self.act_undo,
            self.act_redo,
            None,
            self.act_cut,
            self.act_copy,
            self.act_paste,
            self.act_duplicate,
            self.act_delete,
            None,
            self.act_select_all,
            self.act_add,
        ):
            edit.addSeparator() if a is None else edit.addAction(a)

        view = mb.addMenu("&View")
        for a in (
            self.act_fit,
            self.act_layout,
            self.act_zoom_in,
            self.act_zoom_out,
            self.act_zoom_reset,
        ):
            view.addAction(a)
        view.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock):
            view.addAction(dock.toggleViewAction())
        self.view_menu = view

        self.train_menu = mb.addMenu("&Train")
        help_menu = mb.addMenu("&Help")
        self.act_shortcuts = self._action(
            "&Keyboard Shortcuts", self._show_shortcuts, QKeySequence.HelpContents
        )
        self.act_about = self._action("&About NetBuilder", self._show_about)
        help_menu.addAction(self.act_shortcuts)
        help_menu.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        for a in (
            self.act_new,
            self.act_open,
            self.act_save,
            None,
            self.act_undo,
            self.act_redo,
            None,
            self.act_fit,
            self.act_layout,
            None,
            self.act_export,
        ):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.addToolBar(Qt.TopToolBarArea, tb)
        self.toolbar = tb

    def _install_training(self) -> None:
        from netbuilder.ui import training

        training.install(self)

    # -- contract section 7 ------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self.project.graph

    def set_structure_locked(self, locked: bool, reason: str) -> None:
        reason_text = reason or "the network is locked"
        self.runner.locked_reason = reason_text if locked else None
        self.inspector.set_locked(reason_text if locked else None)
        self.lock_label.setText(reason_text if locked else "")
        self.lock_label.setVisible(locked)
        for a in (
            self.act_new,
            self.act_open,
            self.act_import,
            self.template_menu.menuAction(),
            self.recent_menu.menuAction(),
        ):
            a.setEnabled(not locked)
        self._update_undo_actions()

    def mark_dirty(self) -> None:
        self._extra_dirty = True
        self._update_title()

    def show_error(self, title: str, message: str) -> None:
        QMessageBox.critical(self, title, message)

    def add_dock(self, dock: QDockWidget, area=Qt.BottomDockWidgetArea) -> None:
        """Docks on the right become tabs beside the Inspector; bottom docks share one strip."""
        if not dock.objectName():
            dock.setObjectName(dock.windowTitle().replace(" ", "") + "Dock")
        self.addDockWidget(area, dock)
        if area == Qt.RightDockWidgetArea:
            self.tabifyDockWidget(self.inspector_dock, dock)
            self.inspector_dock.raise_()
        elif area == Qt.BottomDockWidgetArea:
            if self._bottom_docks:
                self.tabifyDockWidget(self._bottom_docks[0], dock)
                self._bottom_docks[0].raise_()
            self._bottom_docks.append(dock)
        self.view_menu.addAction(dock.toggleViewAction())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if not self._restored_state:
                self.apply_default_layout()

    def apply_default_layout(self) -> None:
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock], [PALETTE_W, INSPECTOR_W], Qt.Horizontal
        )
        if self._bottom_docks:
            self.resizeDocks(self._bottom_docks[:1], [self._bottom_height()], Qt.Vertical)
        self.resizeDocks([self.inspector_dock, self.problems_dock], [560, 150], Qt.Vertical)

    def _bottom_height(self) -> int:
        training = getattr(self, "training", None)
        return training.preferred_height() if training is not None else BOTTOM_H

    # -- project ---------------------------------------------------------------------------
    def _attach(self, project: Project) -> None:
        self.project = project
        self.runner.set_graph(project.graph)
        self.scene.set_graph(project.graph)
        self.inspector.set_graph(project.graph)
        self._extra_dirty = False
        self._selected = None
        self.runner.stack.setClean()
        self._update_title()

    def replace_project(self, project: Project, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self._untitled_name = None
        self._attach(project)
        QTimer.singleShot(0, self.canvas.fit)
        self.canvas.fit()
        self.projectReplaced.emit()
        self.selectionChangedTo.emit(None)

    def _show_build_progress(self, blocks: int, of_blocks: int, wires: int, of_wires: int) -> None:
        """A large project's items are made a slice at a time: say how far it has got."""
        name = self.path.name if self.path is not None else self.project_name()
        if blocks < of_blocks:
            text = f"Opening {name}: {blocks:,} of {of_blocks:,} blocks"
        elif wires < of_wires:
            text = f"Opening {name}: {of_blocks:,} blocks, {wires:,} of {of_wires:,} wires"
        else:
            text = f"Opened {name}: {of_blocks:,} blocks, {of_wires:,} wires"
            self.statusBar().showMessage(text, 5000)
            return
        self.statusBar().showMessage(text)

    @property
    def is_dirty(self) -> bool:
        return self._extra_dirty or not self.runner.stack.isClean()

    def project_name(self) -> str:
        if self.path is not None:
            return self.path.stem if self.path.suffix else self.path.name
        return self._untitled_name or "Untitled"

    def _update_title(self, *_) -> None:
        # Qt's convention: "[*]" shows the modified mark and the platform adds " — NetBuilder"
        # (the application display name); the file path gives macOS its proxy icon
        self.setWindowTitle(f"{self.project_name()}[*]")
        self.setWindowFilePath(str(self.path.resolve()) if self.path is not None else "")
        self.setWindowModified(self.is_dirty)

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the current project."""
        if not self.is_dirty:
            return True
        answer = QMessageBox.warning(
            self,
            "Unsaved changes",
            f"“{self.project_name()}” has changes that are not saved.\nSave them first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new_blank(self) -> None:
        if self.runner.locked_reason or not self.maybe_save():
            return
        self.replace_project(Project(Graph("Untitled")), None)
        self.recovery.discard()

    def new_from_template(self, path) -> bool:
        if self.runner.locked_reason or not self.maybe_save():
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
            self.show_error("Cannot open template", str(exc))
            return False
        # templates are stored as one long row; wrap them to fit this window
        self._lay_out_before_showing(project.graph)
        self.replace_project(project, None)
        self._untitled_name = path.stem  # Save As proposes "<template>.nbproj"
        self._update_title()
        return True

    def _lay_out_before_showing(self, graph) -> None:
        """Place the blocks of a graph nobody sees yet (no undo step: it is not an edit)."""
        positions = cmds.layout_positions(graph, self._canvas_size(), (NODE_WIDTH, NODE_HEIGHT))
        with graph.batch():
            for node_id, pos in positions.items():
                graph.set_pos(node_id, pos)

    def _canvas_size(self) -> tuple[float, float]:
        if self.canvas.isVisible():
            size = self.canvas.viewport().size()
            return float(size.width()), float(size.height())
        bottom = self._bottom_height() if self._bottom_docks else 0
        width = self.width() - PALETTE_W - INSPECTOR_W - 20
        return float(max(400, width)), float(max(300, self.height() - 145 - bottom))

    def open_dialog(self) -> None:
        if self.runner.locked_reason or not self.maybe_save():
            return
        start = str(self.path.parent) if self.path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, PROJECT_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path) -> bool:
        """Open a project file; a message box (not a traceback) when it cannot be read."""
        self._opening = True
        try:
            project = load_project_live(path)
        except ProjectError as exc:
            self.show_error("Cannot open project", str(exc))
            self._forget_recent(str(path))
            return False
        finally:
            self._opening = False
        stacked = blocks_overlap(project.graph)
        if stacked:  # a hand-written file without positions: every block at (0, 0)
            self._lay_out_before_showing(project.graph)
        self.replace_project(project, path)
        self._add_recent(str(Path(path).resolve()))
        if stacked:
            self.statusBar().showMessage(
                "Blocks in this file overlapped, so they were laid out; Save keeps the new places",
                10000,
            )
        return True

    def save(self) -> bool:
        if self.path is None or self.path.suffix.lower() not in (SUFFIX, ".json"):
            return self.save_as()
        return self._save_to(self.path)

    def save_as(self) -> bool:
        start = self.path or Path.home() / f"{self.project_name()}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            # the project must not replace the trained weights it refers to
            weights = self.project.weights_file(self.path)
            if weights is not None and same_file(path, weights):
                raise ProjectError(
                    f"{path}: is the trained weights file of this project; save the project "
                    "under another name"
                )
            save_project(self.project, path)
        except ProjectError as exc:
            self.show_error("Cannot save project", str(exc))
            return False
        self.path = path
        self.runner.stack.setClean()
        self._extra_dirty = False
        self._add_recent(str(path.resolve()))
        self.recovery.discard()
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    # recent files
    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])

    def _forget_recent(self, path: str) -> None:
        resolved = str(Path(path).resolve())
        self.settings.setValue("recentFiles", [f for f in self.recent_files() if f != resolved])

    def _fill_recent_menu(self) -> None:
        """ "1 mynet.nbproj — ~/projects": the name first (paths share long prefixes), the
        folder after it, the full path as tooltip; files that are gone are shown disabled."""
        self.recent_menu.clear()
        self.recent_menu.setToolTipsVisible(True)
        files = self.recent_files()
        if not files:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)
            return
        home = str(Path.home())
        for i, f in enumerate(files, 1):
            path = Path(f)
            folder = str(path.parent)
            if folder == home or folder.startswith(home + os.sep):
                folder = "~" + folder[len(home) :]
            act = self.recent_menu.addAction(f"&{i} {path.name}  —  {folder}")
            act.setData(f)
            act.setToolTip(f if path.exists() else f"{f} (no longer there)")
            act.setEnabled(path.exists())
            act.triggered.connect(lambda _=False, p=f: self.maybe_save() and self.open_path(p))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Menu", self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.setValue("recentFiles", [])

    # autosave and recovery
    def autosave(self) -> None:
        if self.is_dirty:
            try:
                self.recovery.save(self.project, self.path)
            except (OSError, ProjectError) as exc:
                self.statusBar().showMessage(f"Autosave failed: {exc}", 8000)

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest autosave left by a dead NetBuilder; True if taken."""
        found = self.recovery.find_orphan()
        if found is None:
            return False
        meta, project_file = found
        original = meta.get("path") or "an unsaved project"
        answer = QMessageBox.question(
            self,
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
            self.show_error("Cannot recover", str(exc))
            return False
        self.replace_project(project, meta.get("path"))
        self.recovery.remove_orphan(meta)
        self.mark_dirty()
        self.autosave()
        return True

    def closeEvent(self, event) -> None:
        if self._opening:  # no questions while a file is half read: ask once it is open
            event.ignore()
            QTimer.singleShot(100, self.close)
            return
        if self.runner.locked_reason:
            answer = QMessageBox.question(
                self, "Training is running", f"{self.runner.locked_reason}. Quit anyway?"
            )
            if answer != QMessageBox.Yes:
                event.ignore()
                return
        if not self.maybe_save():
            event.ignore()
            return
        self.autosave_timer.stop()
        self.recovery.discard()
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("windowGeometry", self.saveGeometry())
        self.scene.detach()
        event.accept()

    def _restore_layout(self) -> None:
        geometry = self.settings.value("windowGeometry")
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(geometry)

    def restore_dock_state(self) -> None:
        """Restore dock sizes after every dock (including the dashboard's) exists."""
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray | bytes) and state:
            self._restored_state = self.restoreState(state)

    # -- export ------------------------------------------------------------------------------
    def export_dialog(self) -> None:
        from netbuilder.ui.export_dialog import ExportDialog

        if not self.graph.is_valid:
            text, _ = validity_text(self.graph)
            problems = self.graph.problems()
            detail = ""
            if problems:  # name the first one and show its block, as the Problems list would
                node_id, message = problems[0]
                detail = f"\n\n{message}"
                self.scene.select_nodes([node_id])
                self.canvas.centerOn(self.scene.node_items[node_id])
                self.problems_dock.show()
                self.problems_dock.raise_()
            self.show_error(
                "Cannot export",
                f"The network is not ready to export: {text}.{detail}\n\n"
                "Fix the problems listed in the Problems panel first.",
            )
            return
        dialog = ExportDialog(self)
        dialog.exec()

    # -- editing -----------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        return self.scene.selected_node_ids()

    def delete_selection(self) -> None:
        nodes = self.scene.selected_node_ids()
        edges = [
            e for e in self.scene.selected_edges() if e.src not in nodes and e.dst not in nodes
        ]
        if nodes or edges:
            self.runner.push(cmds.RemoveItems(nodes, edges))

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        fragment = cmds.copy_fragment(self.graph, ids)
        text = json.dumps({FRAGMENT_KEY: fragment}, indent=1)
        QGuiApplication.clipboard().setText(text)
        self._paste_count = 0
        return True

    def cut(self) -> None:
        ids = self.scene.selected_node_ids()
        if self.copy():
            command = cmds.RemoveItems(ids)
            command.text = command.text.replace("Delete", "Cut")
            self.runner.push(command)

    def paste(self) -> None:
        text = QGuiApplication.clipboard().text()
        if FRAGMENT_KEY not in text:
            self.statusBar().showMessage("Nothing to paste: copy blocks first", 4000)
            return
        try:
            fragment = json.loads(text)[FRAGMENT_KEY]
        except (ValueError, TypeError, KeyError):
            self.statusBar().showMessage("The clipboard does not hold NetBuilder blocks", 4000)
            return
        self._paste_count += 1
        self._paste(fragment, 30.0 * self._paste_count)

    def _paste(self, fragment: dict, shift: float) -> None:
        offset = (shift, shift)
        positions = [n.get("pos") for n in fragment.get("nodes", []) if isinstance(n, dict)]
        try:
            xs = [float(p[0]) for p in positions]
            ys = [float(p[1]) for p in positions]
        except (TypeError, ValueError, IndexError):
            xs = ys = []
        if xs:
            # copies land in view: beside the originals when those are visible, else centred
            target = QPointF(min(xs) + shift, min(ys) + shift)
            if not self.canvas.visible_scene_rect().contains(target):
                centre = self.canvas.center_scene_pos()
                offset = (
                    centre.x() - (min(xs) + max(xs) + NODE_WIDTH) / 2,
                    centre.y() - (min(ys) + max(ys) + NODE_HEIGHT) / 2,
                )
        try:
            command = cmds.Paste(fragment, offset)
        except BlockError as exc:
            self.statusBar().showMessage(f"Cannot paste: {exc}", 6000)
            return
        if self.runner.push(command):
            self.scene.select_nodes(command.node_ids)

    def duplicate(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self._paste(cmds.copy_fragment(self.graph, ids), 30.0)

    def select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)

    def auto_layout(self) -> None:
        """L: columns by depth, left to right, wrapped into rows that fit the view."""
        command = cmds.AutoLayout(self._canvas_size(), (NODE_WIDTH, NODE_HEIGHT))
        if self.runner.push(command):
            self.canvas.fit()

    def _open_quick_add(self, global_pos, scene_pos) -> None:
        self._quick_add_at = scene_pos
        self.quick_add.popup(global_pos)

    def _quick_add_at_center(self) -> None:
        c = self.canvas.viewport().rect().center()
        self._open_quick_add(self.canvas.mapToGlobal(c), self.canvas.mapToScene(c))

    def undo(self) -> None:
        """Ctrl+Z; the status bar says what was undone (the canvas selects what it touched)."""
        text, index = self.runner.stack.undoText(), self.runner.stack.index()
        self.runner.undo()
        if self.runner.stack.index() != index:
            self.statusBar().showMessage(f"Undone: {text}", 4000)

    def redo(self) -> None:
        text, index = self.runner.stack.redoText(), self.runner.stack.index()
        self.runner.redo()
        if self.runner.stack.index() != index:
            self.statusBar().showMessage(f"Redone: {text}", 4000)

    def _update_undo_actions(self, *_) -> None:
        stack, locked = self.runner.stack, bool(self.runner.locked_reason)
        self.act_undo.setEnabled(stack.canUndo() and not locked)
        self.act_redo.setEnabled(stack.canRedo() and not locked)
        self.act_undo.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.act_redo.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")
        self.act_undo.setIconText("Undo")  # the toolbar keeps its width; the menu says what
        self.act_redo.setIconText("Redo")
        self.act_undo.setToolTip(_tooltip_with_keys(self.act_undo))
        self.act_redo.setToolTip(_tooltip_with_keys(self.act_redo))

    # -- reacting to the model ---------------------------------------------------------------
    def _on_graph_changed(self, changes) -> None:
        graph = self.graph
        self.inspector.refresh()
        total = graph.total_params
        self.params_label.setText(f"{total:,} parameters")
        text, ok = self._validity = validity_text(graph)  # once per edit: _fill_problems too
        color = theme.current().port_ok if ok else theme.current().port_bad
        self.valid_label.setText(
            f"<span style='color:{color.name()}'>{'✔' if ok else '✖'} {text}</span>"
        )
        # short permanent labels leave the status bar's message room to be read in full
        at_1, at_64 = memory_estimate(graph, 1), memory_estimate(graph, 64)
        self.memory_label.setText(f"memory ≈ {format_bytes(at_64)} (batch 64)")
        self.memory_label.setToolTip(
            "Memory a float32 forward pass needs: the parameters plus every block's output.\n"
            f"{format_bytes(at_1)} at batch 1, {format_bytes(at_64)} at batch 64"
        )
        self.params_label.setToolTip(f"{total:,} trainable parameters ({format_count(total)})")
        self._fill_problems()
        self._update_title()

    def _fill_problems(self) -> None:
        self.problems.clear()
        warn = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        problems = self.graph.problems()
        for node_id, message in problems[:MAX_PROBLEM_ROWS]:
            node = self.graph.nodes[node_id]
            # messages are sentences that start with the block's name; prefix it only if not
            named = message.startswith((f"{node.name}:", f"{node.name} ", f"{node.name}'"))
            text = message if named else f"{node.name}: {message}"
            item = QListWidgetItem(warn, text)
            item.setData(Qt.UserRole, node_id)
            item.setToolTip(message)
            self.problems.addItem(item)
        n = len(problems)
        if n > MAX_PROBLEM_ROWS:
            more = QListWidgetItem(
                f"… and {n - MAX_PROBLEM_ROWS:,} more: fix the ones above first "
                "(every block with a problem is outlined in red on the canvas)"
            )
            more.setFlags(Qt.NoItemFlags)
            self.problems.addItem(more)
        self.problems_dock.setWindowTitle(f"Problems ({n:,})" if n else "Problems")
        if not n:
            text, _ = self._validity
            if self.graph.nodes and text != "valid":  # e.g. no output yet: say so, not "✔"
                ok = QListWidgetItem(f"Not ready yet: {text}")
            elif not self.graph.nodes:
                ok = QListWidgetItem("Empty network: drag an Input block from the Blocks palette")
            else:
                ok = QListWidgetItem("✔ No problems: every block has a valid input and output")
            ok.setFlags(Qt.NoItemFlags)
            self.problems.addItem(ok)

    def problem_rows(self) -> list[tuple[str, str]]:
        """(node id, text) of each row in the Problems list (tests, the dashboard)."""
        rows = []
        for i in range(self.problems.count()):
            item = self.problems.item(i)
            if item.data(Qt.UserRole):
                rows.append((item.data(Qt.UserRole), item.text()))
        return rows

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.UserRole)
        node_item = self.scene.node_items.get(node_id)
        if node_item is None:
            return
        self.scene.select_nodes([node_id])
        self.canvas.centerOn(node_item)

    def _on_selection(self) -> None:
        if self.scene.graph is None:
            return
        ids = self.scene.selected_node_ids()
        single = ids[0] if len(ids) == 1 else None
        if single != self.inspector.node_id or (single is None and len(ids) > 1):
            self.inspector.show_node(single, len(ids), ids)
        if single != self._selected:
            self._selected = single
            self.selectionChangedTo.emit(single)

    def _select_touched(self, node_ids: list, edges: list) -> None:
        """After undo/redo: select what it changed, and bring it into view if it is not."""
        self.scene.select_nodes(node_ids, edges)
        items = [self.scene.node_items[n] for n in node_ids if n in self.scene.node_items]
        items += [self.scene.edge_items[e] for e in edges if e in self.scene.edge_items]
        if not items:
            return
        rect = items[0].sceneBoundingRect()
        for item in items[1:]:
            rect = rect.united(item.sceneBoundingRect())
        visible = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        if not visible.intersects(rect):
            self.canvas.centerOn(rect.center())

    def _on_refused(self, reason: str) -> None:
        self.statusBar().showMessage(f"Refused: {reason}", 8000)

    def retheme(self) -> None:
        """Redraw everything in the current palette (the system switched light/dark)."""
        for item in self.scene.node_items.values():
            item.update()
        for item in self.scene.edge_items.values():
            item.update()
        self.scene.invalidate(self.scene.sceneRect(), QGraphicsScene.BackgroundLayer)
        self._on_graph_changed([])

    # -- help --------------------------------------------------------------------------------
    # what the canvas does with the mouse and plain keys (no QAction carries these)
    CANVAS_GESTURES = (
        ("Tab or Space", "Search for a block and add it at the cursor"),
        ("Drag an output port onto an input", "Connect (refused targets turn red)"),
        ("Drag a wire's input end away", "Disconnect"),
        ("Esc", "Cancel the wire being dragged"),
        ("Drop a block on a wire", "Insert it into the connection"),
        ("Click, Ctrl+click, drag on empty canvas", "Select, add to selection, rubber-band"),
        ("Arrow keys (with Shift: further)", "Nudge the selected blocks"),
        ("Mouse wheel", "Zoom at the cursor"),
        ("Middle-button drag", "Pan"),
    )

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(menu, command, keys) for every menu command with a shortcut, read from the actions
        themselves so the list cannot drift from what the keys do; then the canvas gestures."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            if menu is None:
                continue
            title = menu_action.text().replace("&", "")
            for action in menu.actions():
                keys = action.shortcuts()
                if action.isSeparator() or action.menu() is not None or not keys:
                    continue
                text = action.text().replace("&", "").split("\t")[0]
                if action in (self.act_undo, self.act_redo):
                    text = text.split(" ")[0]  # "Undo", not "Undo Change fc1 out_features"
                native = " or ".join(k.toString(QKeySequence.NativeText) for k in keys)
                rows.append((title, text.rstrip("…"), native))
        rows += [("Canvas", what, keys) for keys, what in self.CANVAS_GESTURES]
        return rows

    def _show_shortcuts(self) -> None:
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self.shortcut_rows(), self)
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()

    def about_text(self) -> str:
        import platform

        import numpy
        import PySide6
        from PySide6.QtCore import qVersion

        from netbuilder.blocks import CATALOGUE

        try:
            from importlib.metadata import version

            ours = version("netbuilder")
        except Exception:  # not installed as a package (running from a checkout)
            ours = "development"
        return (
            f"<h3>NetBuilder {ours}</h3>"
            "<p>Design neural networks by hand, see every tensor shape and parameter count "
            "while you edit, watch them train, and take the code away as a runnable PyTorch "
            "or engine script.</p>"
            f"<p>{len(CATALOGUE)} block types · training runs on <b>engine</b>, NetBuilder's "
            "numpy autograd library with PyTorch's API.</p>"
            f"<p style='color:gray'>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {PySide6.__version__} · numpy {numpy.__version__}</p>"
        )

    def _show_about(self) -> None:
        QMessageBox.about(self, "About NetBuilder", self.about_text())


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard Shortcuts: a searchable two-column table, grouped by menu."""

    def __init__(self, rows, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Where", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 2:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter: type a command or a key…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        width = sum(self.table.columnWidth(c) for c in range(3)) + 60
        self.resize(max(560, width), 520)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            cells = " ".join(self.table.item(r, c).text().lower() for c in range(3))
            self.table.setRowHidden(r, bool(needle) and needle not in cells)
