"""Composite blocks in the editor: Group (Ctrl+G) and Ungroup (Ctrl+Shift+G), double-click to
enter a composite and a breadcrumb back out, Make Unique, Expose Parameter, Save to My blocks,
and the palette's Composites (shipped and this project's) and My blocks sections.

Entering shows the definition's body on the same canvas; the runner records edits there as
InDefinition commands, so one undo stack serves every level and every instance follows.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLabel, QToolBar, QToolButton

from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds
from netbuilder.graph.inference import run_inference
from netbuilder.graph.library import (
    LibraryError,
    read_block_file,
    save_to_library,
    shipped_definitions,
    user_blocks_dir,
    user_definitions,
)
from netbuilder.resources import resource_path
from netbuilder.ui.canvas.items import NodeItem
from netbuilder.ui.canvas.view import COMPOSITE_KEY

SHIPPED_FILES = {"ConvBNReLU": "convbnrelu", "BasicBlock": "basicblock", "Inception": "inception"}


class CompositesUI(QObject):
    """Installed once on a MainWindow; holds only the entered path (views, not model)."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        # entered levels, outermost first: (definition name, instance name, graph it is in)
        self.path: list[tuple[str, str, object]] = []
        self._root = None
        self._build_actions()
        self._build_breadcrumb()
        window.canvas.composite_source = self.definition_for_key
        window.canvas.viewport().installEventFilter(self)
        window.scene.selectionChanged.connect(self._update_actions)
        window.projectReplaced.connect(self._on_project_replaced)
        self._watch(window.project.graph)
        self.refresh_palette()
        self._update_actions()

    # -- actions -----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.w

        def action(text, slot, shortcut=None, tip=""):
            a = QAction(text, w)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.WindowShortcut)
            a.setToolTip(tip or text)
            a.setStatusTip(tip or text)
            a.triggered.connect(slot)
            w.addAction(a)
            return a

        self.act_group = action(
            "&Group Blocks", self.group, "Ctrl+G", "Make the selected blocks one composite block"
        )
        self.act_ungroup = action(
            "&Ungroup", self.ungroup, "Ctrl+Shift+G", "Replace a composite by its blocks"
        )
        self.act_enter = action(
            "&Enter Composite", self.enter_selected, "Ctrl+Down", "Open the selected composite"
        )
        self.act_leave = action(
            "&Leave Composite", self.leave, "Ctrl+Up", "Back to the level above"
        )
        self.act_unique = action(
            "Make &Unique",
            self.make_unique,
            tip="Give the selected composite its own copy of its definition",
        )
        self.act_expose = action(
            "E&xpose Parameter…",
            self.expose,
            tip="Let each instance of this composite set a parameter of the selected block",
        )
        self.act_rename = action("Re&name Composite…", self.rename, tip="Rename a composite type")
        self.act_save = action(
            "Save to &My Blocks",
            self.save_to_library,
            tip="Keep this composite in My blocks, for every project",
        )
        menu = next(
            (a.menu() for a in w.menuBar().actions() if a.text().replace("&", "") == "Edit"),
            None,
        )
        if menu is not None:  # in the Edit menu itself, so Help > Keyboard Shortcuts lists them
            menu.addSeparator()
            for a in (
                self.act_group,
                self.act_ungroup,
                None,
                self.act_enter,
                self.act_leave,
                None,
                self.act_unique,
                self.act_expose,
                self.act_rename,
                self.act_save,
            ):
                menu.addSeparator() if a is None else menu.addAction(a)
        w.canvas_gestures = (
            *w.canvas_gestures,
            ("Double-click a composite block", "Open it (the breadcrumb above leads back)"),
        )

    def _build_breadcrumb(self) -> None:
        self.crumbs = QToolBar("Composite path", self.w)
        self.crumbs.setObjectName("compositePath")
        self.crumbs.setMovable(False)
        self.w.addToolBarBreak(Qt.TopToolBarArea)
        self.w.addToolBar(Qt.TopToolBarArea, self.crumbs)
        self.crumbs.hide()

    def _render_breadcrumb(self) -> None:
        self.crumbs.clear()
        if not self.path:
            self.crumbs.hide()
            return
        levels = [self._root.name or "Network"] + [
            f"{inst} ({name})" for name, inst, _ in self.path
        ]
        for depth, text in enumerate(levels):
            if depth:
                self.crumbs.addWidget(_separator())
            if depth == len(levels) - 1:  # where the canvas is: plain bold text
                here = QLabel(f"<b>{text}</b>")
                here.setObjectName(f"crumb{depth}")
                here.setContentsMargins(4, 0, 4, 0)
                self.crumbs.addWidget(here)
                continue
            button = QToolButton()
            button.setText(text)
            button.setAutoRaise(True)
            button.setObjectName(f"crumb{depth}")
            button.setToolTip("Back to this level (Ctrl+Up goes up one)")
            button.clicked.connect(lambda _=False, d=depth: self.leave_to(d))
            self.crumbs.addWidget(button)
        self.crumbs.show()

    def _update_actions(self) -> None:
        scene = self.w.scene
        if scene.graph is None:
            return
        ids = scene.selected_node_ids()
        one = scene.graph.nodes.get(ids[0]) if len(ids) == 1 else None
        composite = one is not None and one.definition is not None
        self.act_group.setEnabled(bool(ids))
        self.act_ungroup.setEnabled(composite)
        self.act_enter.setEnabled(composite)
        self.act_unique.setEnabled(composite)
        self.act_leave.setEnabled(bool(self.path))
        self.act_expose.setEnabled(bool(self.path) and one is not None and one.type != "Input")
        self.act_rename.setEnabled(composite or bool(self.path))
        self.act_save.setEnabled(composite or bool(self.path))

    # -- model watching ----------------------------------------------------------------------
    def _watch(self, root) -> None:
        if self._root is not None:
            self._root.unsubscribe(self._on_root_changes)
        self._root = root
        root.subscribe(self._on_root_changes)

    def _on_project_replaced(self) -> None:
        self.path.clear()
        self.w.runner.scope = None
        self._watch(self.w.project.graph)
        self._render_breadcrumb()
        self.refresh_palette()

    def _on_root_changes(self, changes) -> None:
        if any(c.kind in ("definition_changed", "reset") for c in changes):
            # an undo may take away the composite the canvas shows: go back to a level that is
            while self.path and self.path[-1][0] not in self._root.definitions:
                self.leave_to(len(self.path) - 1)
            if self.path:
                self._refresh_entered()
            self.refresh_palette()
            self._render_breadcrumb()

    # -- palette -----------------------------------------------------------------------------
    def refresh_palette(self) -> None:
        project = self._root.definitions if self._root is not None else {}
        shipped = {d.name: d for d in shipped_definitions()}
        listed = [(f"{COMPOSITE_KEY}shipped:{n}", d.block) for n, d in shipped.items()]
        listed += [
            (f"{COMPOSITE_KEY}project:{n}", d.block) for n, d in project.items() if n not in shipped
        ]
        mine, _errors = user_definitions()
        user = [(f"{COMPOSITE_KEY}user:{d.name}", d.block) for d in mine]
        self.w.palette.set_extra_sections([("Composites", listed), ("My blocks", user)])
        self.w.quick_add.set_extra(listed + user)

    def definition_for_key(self, key: str):
        """A Definition to add for a palette key; shipped and My blocks ones are read afresh so
        edits in one project never reach another."""
        _, source, name = key.split(":", 2)
        if source == "project":
            try:
                return self._root.definitions[name]
            except KeyError:
                raise BlockError(f"this project has no composite {name!r}") from None
        if source == "shipped" and name in self._root.definitions:
            return self._root.definitions[name]
        try:
            if source == "shipped":
                return read_block_file(resource_path("composites", f"{SHIPPED_FILES[name]}.json"))
            return read_block_file(user_blocks_dir() / f"{name}.json")
        except (LibraryError, KeyError) as exc:
            raise BlockError(f"cannot add {name}: {exc}") from None

    # -- commands ------------------------------------------------------------------------------
    def _selected(self):
        scene = self.w.scene
        ids = scene.selected_node_ids()
        node = scene.graph.nodes.get(ids[0]) if len(ids) == 1 else None
        return ids, node

    def _selected_composite(self):
        _, node = self._selected()
        if node is None or node.definition is None:
            self.w.statusBar().showMessage("Select one composite block first", 6000)
            return None
        return node

    def group(self) -> None:
        ids, _ = self._selected()
        command = cmds.Group(ids)
        if self.w.runner.push(command):
            self.w.scene.select_nodes([command.node_id])
            self.w.statusBar().showMessage(
                f"Grouped {len(ids)} blocks as {command.definition.name}; double-click it to "
                f"open it",
                6000,
            )

    def ungroup(self) -> None:
        node = self._selected_composite()
        if node is not None:
            command = cmds.Ungroup(node.id)
            if self.w.runner.push(command):
                self.w.scene.select_nodes(command.node_ids)

    def make_unique(self) -> None:
        node = self._selected_composite()
        if node is not None:
            command = cmds.MakeUnique(node.id)
            if self.w.runner.push(command):
                self.w.statusBar().showMessage(
                    f"{node.name} now has its own composite {command.copy.name}", 6000
                )

    def _definition_in_focus(self):
        _, node = self._selected()
        if node is not None and node.definition is not None:
            return node.definition
        if self.path:
            return self._root.definitions.get(self.path[-1][0])
        return None

    def rename(self) -> None:
        defn = self._definition_in_focus()
        if defn is None:
            return
        name, ok = QInputDialog.getText(self.w, "Rename Composite", "Class name:", text=defn.name)
        if ok and name and name != defn.name:
            self._push_definition_level(cmds.RenameDefinition(defn.name, name))
            if self.path and self.path[-1][0] == defn.name:
                self.path[-1] = (name, *self.path[-1][1:])
            self._render_breadcrumb()

    def expose(self) -> None:
        _, node = self._selected()
        if not self.path or node is None or node.type == "Input":
            return
        specs = [s for s in node.block.params if not s.auto]
        if not specs:
            self.w.statusBar().showMessage(f"{node.name} has no parameter to expose", 6000)
            return
        param, ok = QInputDialog.getItem(
            self.w,
            "Expose Parameter",
            f"Parameter of {node.name} that each instance sets:",
            [s.name for s in specs],
            0,
            False,
        )
        if not ok:
            return
        name, ok = QInputDialog.getText(self.w, "Expose Parameter", "Name:", text=param)
        if ok and name:
            self._push_definition_level(cmds.ExposeParam(self.path[-1][0], name, [node.id], param))

    def _push_definition_level(self, command) -> bool:
        """A command on the definitions themselves (project_level) runs on the project."""
        return self.w.runner.push(command)

    def save_to_library(self) -> None:
        defn = self._definition_in_focus()
        if defn is None:
            return
        try:
            path = save_to_library(defn)
        except LibraryError as exc:
            self.w.show_error("Cannot save to My blocks", str(exc))
            return
        self.refresh_palette()
        self.w.statusBar().showMessage(f"Saved {defn.name} to My blocks ({path})", 8000)

    # -- entering and leaving --------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.MouseButtonDblClick and event.button() == Qt.LeftButton:
            scene_pos = self.w.canvas.mapToScene(event.position().toPoint())
            item = self.w.scene.itemAt(scene_pos, self.w.canvas.transform())
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if item is not None:
                node = self.w.scene.graph.nodes.get(item.node_id)
                if node is not None and node.definition is not None:
                    self.enter(node.id)
                    return True
        return super().eventFilter(obj, event)

    def enter_selected(self) -> None:
        node = self._selected_composite()
        if node is not None:
            self.enter(node.id)

    def enter(self, node_id: str) -> None:
        """Show the composite's body, its ports shaped by this instance's inputs."""
        graph = self.w.scene.graph
        node = graph.nodes[node_id]
        self.path.append((node.definition.name, node.name, graph))
        self.w.runner.scope = node.definition.name
        self._show(node.definition.body, node)
        self._render_breadcrumb()
        self._update_actions()

    def leave(self) -> None:
        if self.path:
            self.leave_to(len(self.path) - 1)

    def leave_to(self, depth: int) -> None:
        """Back to level `depth` (0: the network), selecting the composite just left."""
        if depth >= len(self.path) + 1 or not self.path:
            return
        left = self.path[depth]
        for name, _, _ in self.path[depth:]:
            defn = self._root.definitions.get(name)
            if defn is not None:
                defn.body.param_overrides = {}
        del self.path[depth:]
        graph = left[2]
        self.w.runner.scope = self.path[-1][0] if self.path else None
        self.w.scene.set_graph(graph)
        self.w.inspector.set_graph(graph)
        node = graph.node_by_name(left[1])
        if node is not None:
            self.w.scene.select_nodes([node.id])
        self._fit()
        self._render_breadcrumb()
        self._update_actions()

    def _show(self, body, instance) -> None:
        body.port_shapes, body.param_overrides = _context(instance)
        run_inference(body)
        self.w.scene.set_graph(body)
        self.w.inspector.set_graph(body)
        self._fit()

    def _refresh_entered(self) -> None:
        """Shapes inside follow the instance's inputs after an edit at any level."""
        name, inst_name, outer = self.path[-1]
        node = outer.node_by_name(inst_name)
        if node is None or node.definition is None or node.definition.name != name:
            return
        body = node.definition.body
        context = _context(node)
        if context != (body.port_shapes, body.param_overrides):
            body.port_shapes, body.param_overrides = context
            with body.batch():
                body._emit(_reset_change())

    def _fit(self) -> None:
        self.w.canvas.fit()


def _context(instance) -> tuple[dict, dict]:
    """(port shapes, exposed values per body block) of one instance, for showing its body."""
    defn = instance.definition
    shapes = {
        pid: tuple(s)
        for pid, s in zip(defn.inputs, instance.in_shapes, strict=False)
        if s is not None
    }
    # resolved: the values in force, which inside another composite may come from its instance
    values = {**instance.params, **instance.resolved}
    overrides: dict[str, dict] = {}
    for e in defn.exposed:
        if e.name in values:
            for nid in e.node_ids:
                overrides.setdefault(nid, {})[e.param] = values[e.name]
    return shapes, overrides


def _reset_change():
    from netbuilder.graph.model import Change

    return Change("reset")


def _separator():
    label = QLabel("›")
    label.setContentsMargins(2, 0, 2, 0)
    return label


def install(window) -> CompositesUI:
    window.composites = CompositesUI(window)
    return window.composites
