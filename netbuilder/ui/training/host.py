"""What the training dashboard needs of the window it is installed into.

MainWindow provides it; tests give a small stand-in. Nothing else of the window is used.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QDockWidget, QMenu


@runtime_checkable
class DashboardHost(Protocol):
    projectReplaced: SignalInstance  # () a different project is shown: reload settings, runs
    selectionChangedTo: SignalInstance  # (node id or None) the one selected block

    project: Any  # .graph, .training (dict), .runs (list of dicts), .weights_path
    canvas: Any  # set_node_overlay(node id, QColor | None, tooltip); fit(); viewport()
    train_menu: QMenu  # the Train menu the dashboard fills
    path: Any  # the project's file (Path) or None while unsaved

    @property
    def graph(self) -> Any: ...

    def set_structure_locked(self, locked: bool, reason: str) -> None:
        """Lock (or unlock) edits that change the network's structure while a run uses it."""

    def mark_dirty(self) -> None:
        """The project changed outside the undo stack (settings, saved-weights path)."""

    def runs_changed(self) -> None:
        """project.runs changed: keep them (beside the project file) without marking the
        network modified."""

    def set_training_workspace(self, on: bool) -> None:
        """Give the plots the window (on) or the editor its docks back (off)."""

    def show_block(self, node_id: str) -> None:
        """Select the block and bring it into view (a warning about it was clicked)."""

    def show_error(self, title: str, message: str) -> None: ...

    def add_dock(self, dock: QDockWidget, area) -> None: ...
