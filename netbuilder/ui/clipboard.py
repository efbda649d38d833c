"""Cut, copy, paste and duplicate of blocks: the clipboard part of the editor window.

Copied blocks travel as JSON text under FRAGMENT_KEY: a QMimeData made in Python and handed to
the clipboard crashes PySide 6.11 when the app exits, plain text does not.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QGuiApplication

from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds
from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH

FRAGMENT_KEY = "netbuilder-fragment"
PASTE_SHIFT = 30.0  # each further paste of the same copy lands this much lower and righter


class Clipboard(QObject):
    """Copies the scene's selection to the system clipboard and pastes it back as one undoable
    command. `say(text, ms)` shows a short message (the window's status bar)."""

    def __init__(self, runner, scene, canvas, say, parent=None):
        super().__init__(parent)
        self.runner, self.scene, self.canvas, self._say = runner, scene, canvas, say
        self._paste_count = 0

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        fragment = cmds.copy_fragment(self.scene.graph, ids)
        QGuiApplication.clipboard().setText(json.dumps({FRAGMENT_KEY: fragment}, indent=1))
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
            self._say("Nothing to paste: copy blocks first", 4000)
            return
        try:
            fragment = json.loads(text)[FRAGMENT_KEY]
        except (ValueError, TypeError, KeyError):
            self._say("The clipboard does not hold NetBuilder blocks", 4000)
            return
        self._paste_count += 1
        self.paste_fragment(fragment, PASTE_SHIFT * self._paste_count)

    def duplicate(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self.paste_fragment(cmds.copy_fragment(self.scene.graph, ids), PASTE_SHIFT)

    def paste_fragment(self, fragment: dict, shift: float) -> None:
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
            self._say(f"Cannot paste: {exc}", 6000)
            return
        if self.runner.push(command):
            self.scene.select_nodes(command.node_ids)
