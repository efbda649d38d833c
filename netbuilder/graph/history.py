"""A plain undo stack over graph commands (the CLI and tests; the GUI wraps the same commands in
QUndoCommand)."""

from __future__ import annotations

from netbuilder.graph.model import Graph


class History:
    def __init__(self, graph: Graph):
        self.graph = graph
        self._done: list = []
        self._undone: list = []
        self._clean_index: int | None = 0

    def push(self, cmd) -> None:
        """Run cmd.redo; if it raises, nothing is recorded and the graph is unchanged."""
        cmd.redo(self.graph)
        self._done.append(cmd)
        if self._clean_index is not None and self._clean_index > len(self._done) - 1:
            self._clean_index = None  # the clean state was in the discarded redo branch
        self._undone.clear()

    def undo(self) -> None:
        if not self._done:
            return
        cmd = self._done.pop()
        cmd.undo(self.graph)
        self._undone.append(cmd)

    def redo(self) -> None:
        if not self._undone:
            return
        cmd = self._undone.pop()
        cmd.redo(self.graph)
        self._done.append(cmd)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean_index = 0

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    @property
    def clean(self) -> bool:
        """True when the graph is as it was at the last set_clean() (e.g. the last save)."""
        return self._clean_index == len(self._done)

    def set_clean(self) -> None:
        self._clean_index = len(self._done)
