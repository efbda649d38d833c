"""The editor's single way to change the graph: graph commands wrapped in a QUndoStack."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds

# Moves leave the network itself alone, so they stay allowed while training runs.
_ALLOWED_WHEN_LOCKED = (cmds.MoveNodes, cmds.AutoLayout)
_MERGE_ID = 0x4E42
NUDGE_TEXT = "Nudge"  # arrow-key moves: consecutive ones merge into one undo step


class GraphUndoCommand(QUndoCommand):
    """One undo step: one graph command, or several merged parameter edits of one field."""

    def __init__(self, runner: CommandRunner, command):
        super().__init__(command.text)
        self.runner = runner
        self.commands = [command]
        self._skip_first_redo = True  # the runner already ran it, to catch BlockError first

    def id(self) -> int:
        last = self.commands[-1]
        mergeable = isinstance(last, cmds.SetParams) or getattr(last, "text", "") == NUDGE_TEXT
        return _MERGE_ID if mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Steps of one spin box on one parameter, or arrow-key nudges of the same blocks,
        become one undo step."""
        if not isinstance(other, GraphUndoCommand) or len(other.commands) != 1:
            return False
        mine, theirs = self.commands[-1], other.commands[0]
        if isinstance(mine, cmds.SetParams) and isinstance(theirs, cmds.SetParams):
            same = mine.node_id == theirs.node_id and set(mine.changes) == set(theirs.changes)
        elif isinstance(mine, cmds.MoveNodes) and isinstance(theirs, cmds.MoveNodes):
            same = mine.text == theirs.text == NUDGE_TEXT and set(mine.new) == set(theirs.new)
        else:
            same = False
        if same:
            self.commands.append(theirs)
        return same

    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        with self.runner.recording(self.commands[0]):
            for c in self.commands:
                c.redo(self.runner.graph)

    def undo(self) -> None:
        with self.runner.recording(self.commands[0]):
            for c in reversed(self.commands):
                c.undo(self.runner.graph)


_NODE_EDITS = frozenset({"node_added", "node_moved", "params_changed", "renamed"})


def touched_by(changes) -> tuple[list[str], list]:
    """What an undo or redo should leave selected, as mature editors do: the blocks it added,
    moved, changed or renamed; else the wire it added; else the two ends of a wire it removed.
    Nothing after a deletion (what it touched is gone)."""
    nodes = list(dict.fromkeys(ch.node_id for ch in changes if ch.kind in _NODE_EDITS))
    if nodes or any(ch.kind == "node_removed" for ch in changes):
        return nodes, []
    added = [ch.edge for ch in changes if ch.kind == "edge_added"]
    if added:
        return [], added
    ends = [n for ch in changes if ch.kind == "edge_removed" for n in (ch.edge.src, ch.edge.dst)]
    return list(dict.fromkeys(ends)), []


class CommandRunner(QObject):
    """Runs graph commands through the undo stack; refuses them while the structure is locked."""

    refused = Signal(str)  # a reason for the status bar
    # after an undo or redo: (node ids, edges) it touched, for the selection; not emitted for
    # an auto layout (it moves everything: the selection stays)
    touched = Signal(list, list)

    def __init__(self, graph, parent=None):
        super().__init__(parent)
        self.graph = graph
        self.stack = QUndoStack(self)
        self.locked_reason: str | None = None
        self.last_error: str | None = None  # why the last push was refused
        # the composite definition the canvas has entered (None: the network itself); its
        # edits are recorded as InDefinition so undo finds the body from any level
        self.scope: str | None = None

    @contextlib.contextmanager
    def recording(self, command):
        changes = []
        self.graph.subscribe(changes.extend)
        try:
            yield
        finally:
            self.graph.unsubscribe(changes.extend)
        if not isinstance(command, cmds.AutoLayout):
            self.touched.emit(*touched_by(changes))

    def set_graph(self, graph) -> None:
        self.graph = graph
        self.stack.clear()

    def push(self, command) -> bool:
        """Run a command and record it; False (with the reason emitted) if it was refused."""
        self.last_error = None
        if self.locked_reason and not isinstance(command, _ALLOWED_WHEN_LOCKED):
            self.last_error = self.locked_reason
            self.refused.emit(self.locked_reason)
            return False
        if (
            self.scope is not None
            and not isinstance(command, cmds.InDefinition)
            and not getattr(command, "project_level", False)
        ):
            command = cmds.InDefinition(self.scope, command)
        try:
            command.redo(self.graph)
        except BlockError as exc:
            self.last_error = str(exc)
            self.refused.emit(self.last_error)
            return False
        self.stack.push(GraphUndoCommand(self, command))
        return True

    def undo(self) -> None:
        if self.locked_reason:
            self.refused.emit(self.locked_reason)
            return
        self.stack.undo()

    def redo(self) -> None:
        if self.locked_reason:
            self.refused.emit(self.locked_reason)
            return
        self.stack.redo()
