"""The editor window: canvas, palette, inspector, menus and status bar, composed with the parts
that do the rest: ``files`` (project_files.py: open, save, recent, autosave, recovery),
``clipboard`` (clipboard.py), ``problems`` (problems.py) and the Help menu (help.py).

Every edit goes through ``self.runner`` (graph commands on a QUndoStack); the canvas, inspector
and status bar only render the graph and redraw from its change events.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QPoint,
    QPointF,
    QRect,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QGraphicsScene,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
)

from netbuilder.graph import commands as cmds
from netbuilder.graph.model import Graph, problem_line
from netbuilder.graph.project import Project
from netbuilder.ui import icons, theme
from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH, format_count
from netbuilder.ui.canvas.scene import GraphScene
from netbuilder.ui.canvas.view import CanvasView
from netbuilder.ui.clipboard import Clipboard
from netbuilder.ui.help import (
    CANVAS_GESTURES,
    ShortcutsDialog,
    about_text,
    shortcut_rows,
    show_about,
)
from netbuilder.ui.import_action import import_model
from netbuilder.ui.inspector import Inspector
from netbuilder.ui.palette import Palette, QuickAdd
from netbuilder.ui.problems import ProblemsPanel
from netbuilder.ui.project_files import AUTOSAVE_SECONDS, ProjectFiles, templates
from netbuilder.ui.status import format_bytes, memory_estimate, validity_text
from netbuilder.ui.undo import CommandRunner

PALETTE_W, INSPECTOR_W = 205, 310  # default dock widths at 1440x900
BOTTOM_H = 90  # the Training dock before any run: its controls row and a one-line hint


def default_size() -> tuple[int, int]:
    """Most of the screen, up to 1680x1050: the plots of a run want the room."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return 1440, 900
    avail = screen.availableGeometry()
    return min(1680, int(avail.width() * 0.95)), min(1050, int(avail.height() * 0.92))


def _screen_key() -> str:
    """ "1280x800": the available size of the screen layouts are saved for."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return ""
    avail = screen.availableGeometry()
    return f"{avail.width()}x{avail.height()}"


def _tooltip_with_keys(action: QAction) -> str:
    """ "Fit to View (F)": toolbar buttons teach their shortcuts, as mature editors' do."""
    text = action.text().replace("&", "").split("\t")[0].rstrip("…")
    keys = action.shortcuts()
    if not keys:
        return text
    return f"{text} ({keys[0].toString(QKeySequence.NativeText)})"


class MainWindow(QMainWindow):
    projectReplaced = Signal()
    documentSaved = Signal(object)  # Path: the project was written there
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
        self._unsaved_runs = False  # runs recorded while the project has no file
        self._workspace_hidden: list[QDockWidget] = []  # docks the plots' room hid
        self._selected: str | None = None
        self._untitled_name: str | None = None  # a template's name until first saved
        self._bottom_docks: list[QDockWidget] = []
        self._shown_once = False
        self._restored_state = False
        self._shortcuts_dialog: ShortcutsDialog | None = None

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

        self.files = ProjectFiles(self, recovery_dir, autosave_seconds)
        self.autosave_timer = self.files.autosave_timer
        self.clipboard = Clipboard(
            self.runner, self.scene, self.canvas, self.statusBar().showMessage, self
        )

        self.canvas.viewport().installEventFilter(self)  # refit on resize: eventFilter
        self._attach(self.project)
        self.resize(*default_size())
        self._restore_layout()
        if install_training:
            self._install_training()
        from netbuilder.ui import composites

        self.canvas_gestures = CANVAS_GESTURES  # composites.install adds its own
        composites.install(self)
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
        self.problems = ProblemsPanel()
        self.problems.nodeChosen.connect(self.show_block)
        self.problems_dock = self._dock("Problems", "problemsDock", self.problems)
        self.problems.countChanged.connect(
            lambda n: self.problems_dock.setWindowTitle(f"Problems ({n:,})" if n else "Problems")
        )
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
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent_menu(self.recent_menu))
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

    # -- what the training dashboard uses (training/host.py: DashboardHost) ------------------
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

    def set_training_workspace(self, on: bool) -> None:
        """While the plots have the window: the Blocks and Problems docks step aside (editing
        waits for the run), so the plots span the window's width; they come back after."""
        docks = (self.palette_dock, self.problems_dock)
        if on and not self._workspace_hidden:
            self._workspace_hidden = [d for d in docks if d.isVisible() and not d.isFloating()]
            for dock in self._workspace_hidden:
                dock.hide()
        elif not on and self._workspace_hidden:
            for dock in self._workspace_hidden:
                dock.show()
            self._workspace_hidden = []

    def mark_dirty(self) -> None:
        self._extra_dirty = True
        self._update_title()

    def runs_changed(self) -> None:
        """A run was recorded: kept beside the project file at once; the network is not
        modified by it. Without a file yet, the runs go with the first Save."""
        self._unsaved_runs = not self.files.keep_runs()

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

    # -- the document: project, path, modified flag (files on disk: self.files) -------------
    def _attach(self, project: Project) -> None:
        self.project = project
        self.runner.set_graph(project.graph)
        self.scene.set_graph(project.graph)
        self.inspector.set_graph(project.graph)
        self._extra_dirty = False
        self._unsaved_runs = False
        self._selected = None
        self.runner.stack.setClean()
        self._update_title()

    def replace_project(
        self,
        project: Project,
        path: str | os.PathLike | None,
        untitled_name: str | None = None,
    ) -> None:
        """Show `project` (read from `path`, or unsaved: then titled `untitled_name`)."""
        self.path = Path(path) if path else None
        self._untitled_name = untitled_name
        self._attach(project)
        QTimer.singleShot(0, self.canvas.fit)
        self.canvas.fit()
        self.projectReplaced.emit()
        self.selectionChangedTo.emit(None)

    def document_saved(self, path: Path) -> None:
        """The project was written to `path`: it is the document's file now, and clean."""
        self.path = path
        self.runner.stack.setClean()
        self._extra_dirty = False
        self._unsaved_runs = False
        self._update_title()
        self.documentSaved.emit(path)

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

    def unsaved_description(self) -> str:
        """What closing now would lose, in words: edits and settings changes."""
        parts = []
        edits = self.runner.stack.index() - max(0, self.runner.stack.cleanIndex())
        if not self.runner.stack.isClean():
            if edits > 0:
                parts.append(f"{edits} edit{'s' if edits != 1 else ''} to the network")
            else:
                parts.append("the network differs from the saved file (edits undone)")
        if self._extra_dirty:
            parts.append("changed training settings or saved-weights location")
        if self._unsaved_runs and self.project.runs:
            n = len(self.project.runs)
            parts.append(f"{n} training run{'s' if n != 1 else ''} (kept only once saved)")
        return "; ".join(parts) or "changes"

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

    def canvas_size(self) -> tuple[float, float]:
        """The canvas's size in pixels, or what it will be once the window shows."""
        if self.canvas.isVisible():
            size = self.canvas.viewport().size()
            return float(size.width()), float(size.height())
        bottom = self._bottom_height() if self._bottom_docks else 0
        width = self.width() - PALETTE_W - INSPECTOR_W - 20
        return float(max(400, width)), float(max(300, self.height() - 145 - bottom))

    # the File menu's commands, done by self.files
    def maybe_save(self) -> bool:
        return self.files.maybe_save()

    def new_blank(self) -> None:
        self.files.new_blank()

    def new_from_template(self, path) -> bool:
        return self.files.new_from_template(path)

    def load_template(self, path) -> bool:
        return self.files.load_template(path)

    def open_dialog(self) -> None:
        self.files.open_dialog()

    def open_path(self, path) -> bool:
        return self.files.open_path(path)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self) -> bool:
        return self.files.save_as()

    def recent_files(self) -> list[str]:
        return self.files.recent_files()

    def autosave(self) -> None:
        self.files.autosave()

    def offer_recovery(self) -> bool:
        return self.files.offer_recovery()

    @property
    def recovery(self):
        return self.files.recovery

    def closeEvent(self, event) -> None:
        if self.files.opening:  # no questions while a file is half read: ask once it is open
            event.ignore()
            QTimer.singleShot(100, self.close)
            return
        if self.runner.locked_reason:
            answer = QMessageBox.question(
                self,
                "Training is running",
                f"{self.runner.locked_reason}.\nQuitting stops the run now: its curves and "
                "its trained weights are lost. Quit anyway?",
            )
            if answer != QMessageBox.Yes:
                event.ignore()
                return
        if not self.files.maybe_save("closing"):
            event.ignore()
            return
        self.files.close()
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("windowGeometry", self.saveGeometry())
        self.settings.setValue("windowScreen", _screen_key())
        self.scene.detach()
        event.accept()

    def _layout_fits_screen(self) -> bool:
        """A saved layout is for the screen it was made on: a window sized for a laptop is
        not restored on a larger screen, nor a large one on a laptop."""
        return str(self.settings.value("windowScreen", "")) == _screen_key()

    def _restore_layout(self) -> None:
        geometry = self.settings.value("windowGeometry")
        if isinstance(geometry, QByteArray | bytes) and geometry and self._layout_fits_screen():
            self.restoreGeometry(geometry)

    def restore_dock_state(self) -> None:
        """Restore dock sizes after every dock (including the dashboard's) exists."""
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray | bytes) and state and self._layout_fits_screen():
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
                detail = f"\n\n{problem_line(self.graph.nodes[node_id].name, message)}"
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
        return self.clipboard.copy()

    def cut(self) -> None:
        self.clipboard.cut()

    def paste(self) -> None:
        self.clipboard.paste()

    def duplicate(self) -> None:
        self.clipboard.duplicate()

    def select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)

    def auto_layout(self) -> None:
        """L: columns by depth, left to right, wrapped into rows that fit the view."""
        command = cmds.AutoLayout(self.canvas_size(), (NODE_WIDTH, NODE_HEIGHT))
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
        total, unknown = graph.total_params, graph.unknown_counts
        self.params_label.setText(f"{total:,} parameters" if not unknown else "? parameters")
        text, ok = validity_text(graph)  # once per edit: the Problems panel reuses it
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
        if unknown:
            self.params_label.setToolTip(
                f"Unknown until {', '.join(unknown[:4])}{', …' if len(unknown) > 4 else ''} "
                f"{'has' if len(unknown) == 1 else 'have'} a known input; "
                f"{total:,} in the other blocks"
            )
        else:
            self.params_label.setToolTip(f"{total:,} trainable parameters ({format_count(total)})")
        self.problems.fill(graph, text)
        self._update_title()

    def problem_rows(self) -> list[tuple[str, str]]:
        """(node id, text) of each row in the Problems list (tests, the dashboard)."""
        return self.problems.rows()

    def show_block(self, node_id: str) -> None:
        """Select a block and bring it into view."""
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

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Resize and obj is self.canvas.viewport():
            # the whole network was in view at the old size: keep it so at the new one (a
            # person's zoom into part of it stands)
            old = event.oldSize()
            if old.isValid() and old.width() > 0 and self.graph.nodes:
                seen = self.canvas.mapToScene(QRect(QPoint(0, 0), old)).boundingRect()
                if seen.contains(self.scene.nodes_rect()):
                    QTimer.singleShot(0, self.canvas.fit)
        return super().eventFilter(obj, event)

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
    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        return shortcut_rows(
            self.menuBar(), verb_only=(self.act_undo, self.act_redo), gestures=self.canvas_gestures
        )

    def _show_shortcuts(self) -> None:
        if self._shortcuts_dialog is None:
            self._shortcuts_dialog = ShortcutsDialog(self.shortcut_rows(), self)
        self._shortcuts_dialog.show()
        self._shortcuts_dialog.raise_()

    def about_text(self) -> str:
        return about_text()

    def _show_about(self) -> None:
        show_about(self)
