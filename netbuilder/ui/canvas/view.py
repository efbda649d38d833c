"""The canvas view: zoom, pan, fit, wiring by mouse, palette drops and the quick-add popup."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QPainter
from PySide6.QtWidgets import QGraphicsView, QToolTip

from netbuilder.blocks import BlockError
from netbuilder.graph import commands as cmds
from netbuilder.ui import theme
from netbuilder.ui.canvas.items import (
    NODE_HEIGHT,
    NODE_WIDTH,
    PendingEdgeItem,
    PortItem,
    bezier,
)
from netbuilder.ui.palette import BLOCK_MIME, block_type_from_mime
from netbuilder.ui.undo import NUDGE_TEXT

MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
NUDGE = 12.0  # scene units per arrow-key press
BUILD_REPAINT_S = 0.25  # while a large graph's items are made, the canvas redraws this often
COMPOSITE_KEY = "composite:"  # palette keys of composite blocks: composite:<source>:<name>


class _Wiring:
    """A connection being dragged: from an output port forwards, or from an input backwards."""

    def __init__(self, anchor: PortItem, picked_edge=None):
        self.anchor = anchor  # the fixed end
        self.picked_edge = picked_edge  # an existing edge whose input end was lifted
        self.target: PortItem | None = None
        self.reason: str | None = None
        self.pending = PendingEdgeItem()

    @property
    def forwards(self) -> bool:
        return self.anchor.is_output


class CanvasView(QGraphicsView):
    statusMessage = Signal(str)
    quickAddRequested = Signal(QPoint, QPointF)  # global pos for the popup, scene pos to place

    def __init__(self, scene, runner, parent=None):
        super().__init__(scene, parent)
        # key -> a fresh Definition for a composite from the palette (set by the composites UI)
        self.composite_source = None
        self.runner = runner
        self._wiring: _Wiring | None = None
        self._pan_from: QPoint | None = None
        self._drop_edge = None
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState)
        # the grid is drawn once per zoom, then scrolled as a pixmap (retheme invalidates it)
        self.setCacheMode(QGraphicsView.CacheBackground)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self.setFrameShape(QGraphicsView.NoFrame)
        self._was_empty = False
        self._update_mode_before_build: QGraphicsView.ViewportUpdateMode | None = None
        self._build_painted_at = 0.0
        scene.graphChanged.connect(self._graph_changed)
        scene.buildProgress.connect(self._build_progress)
        scene.buildEnded.connect(self._build_ended)

    # -- overlays the training dashboard sets -------------------------------------------
    def set_node_overlay(self, node_id: str, color: QColor | None, tooltip: str | None) -> None:
        item = self.scene().node_items.get(node_id)
        if item is not None:
            item.set_overlay(color, tooltip)

    # -- empty canvas ----------------------------------------------------------------------
    def _graph_changed(self, _changes) -> None:
        empty = bool(self.empty_hint())
        if empty != self._was_empty:  # the hint appears or goes: repaint it all
            self._was_empty = empty
            self.viewport().update()

    def _build_progress(self, blocks: int, of_blocks: int, wires: int, of_wires: int) -> None:
        """While a large graph is built slice by slice, every slice's new items would repaint
        the whole view (a third of the build's time): redraw a few times a second instead."""
        if self._update_mode_before_build is None:
            self._update_mode_before_build = self.viewportUpdateMode()
            self.setViewportUpdateMode(QGraphicsView.NoViewportUpdate)
            self._build_painted_at = 0.0
        if time.perf_counter() - self._build_painted_at > BUILD_REPAINT_S:
            # only where new items landed in view: blocks near the middle come first, so once
            # the visible ones are made, the rest of the build costs no painting
            visible = self.visible_scene_rect()
            dirt = QRectF()
            for rect in self.scene().take_build_dirt():
                if rect.intersects(visible):
                    dirt = dirt.united(rect)
            if not dirt.isNull():
                self._build_painted_at = time.perf_counter()
                area = self.mapFromScene(dirt).boundingRect().adjusted(-2, -2, 2, 2)
                self.viewport().update(area)

    def _build_ended(self) -> None:
        if self._update_mode_before_build is not None:
            self.setViewportUpdateMode(self._update_mode_before_build)
            self._update_mode_before_build = None
        self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if self._update_mode_before_build is not None:  # panned while a graph is built
            self.viewport().update()

    def empty_hint(self) -> str:
        """What to do first, shown in the middle of an empty canvas."""
        graph = self.scene().graph
        if graph is not None and not graph.nodes:
            return (
                "Drag blocks here from the Blocks palette, starting with an Input,\n"
                "or press Tab to search for one. Templates are under File ▸ New from Template."
            )
        return ""

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        hint = self.empty_hint()
        if not hint:
            return
        painter.save()
        painter.resetTransform()
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        painter.setFont(font)
        painter.setPen(theme.current().node_subtext)
        painter.drawText(self.viewport().rect(), Qt.AlignCenter, hint)
        painter.restore()

    # -- zoom, pan, fit ------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015**delta)
        event.accept()

    def fit(self) -> None:
        rect = self.scene().nodes_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-50, -50, 50, 50)
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.zoom() > 1.25:  # small graphs: keep text at a natural size
            self.resetTransform()
            self.scale(1.25, 1.25)
        elif self.zoom() < MIN_ZOOM:
            self.resetTransform()
            self.scale(MIN_ZOOM, MIN_ZOOM)
        self.centerOn(rect.center())

    def reset_zoom(self) -> None:
        """Ctrl+0: 100 %, keeping the centre of the view where it is."""
        centre = self.center_scene_pos()
        self.resetTransform()
        self.centerOn(centre)

    def center_scene_pos(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def focusNextPrevChild(self, next: bool) -> bool:  # Tab opens quick-add instead
        return False

    # -- mouse -----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.LeftButton:
            port = self._port_at(event.position().toPoint())
            if port is not None:
                self._begin_wiring(port, self.mapToScene(event.position().toPoint()))
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        if self._wiring is not None:
            self._update_wiring(pos)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        if event.button() == Qt.LeftButton and self._wiring is not None:
            self._update_wiring(event.position().toPoint())
            self._finish_wiring()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _port_at(self, view_pos: QPoint) -> PortItem | None:
        for item in self.items(view_pos):
            if isinstance(item, PortItem):
                return item
        return None

    # -- wiring ----------------------------------------------------------------------------
    def _begin_wiring(self, port: PortItem, scene_pos: QPointF) -> None:
        scene = self.scene()
        if port.is_output:
            self._wiring = _Wiring(port)
        else:
            existing = next(
                (e for e in scene.graph.edges_into(port.node_id) if e.dst_port == port.index),
                None,
            )
            if existing is not None:
                # lift the input end of an existing edge: re-plug it elsewhere or drop to cut
                src_item = scene.node_items[existing.src]
                self._wiring = _Wiring(src_item.out_port, picked_edge=existing)
                scene.edge_items[existing].setVisible(False)
            else:
                self._wiring = _Wiring(port)
        scene.addItem(self._wiring.pending)
        self._draw_pending(scene_pos)

    def _draw_pending(self, scene_pos: QPointF) -> None:
        w = self._wiring
        end = w.target.scenePos() if w.target is not None else scene_pos
        a = w.anchor.scenePos()
        w.pending.setPath(bezier(a, end) if w.forwards else bezier(end, a))

    def _update_wiring(self, view_pos: QPoint) -> None:
        w = self._wiring
        scene_pos = self.mapToScene(view_pos)
        port = self._port_at(view_pos)
        if port is not None and port.is_output == w.forwards:
            port = None  # output to output (or input to input) is no target at all
        if port is not w.target:
            if w.target is not None:
                w.target.set_state(None)
            w.target, w.reason = port, None
            if port is not None:
                w.reason = self._check(port)
                port.set_state("bad" if w.reason else "ok")
                if w.reason:
                    self.statusMessage.emit(f"Cannot connect: {w.reason}")
                    QToolTip.showText(self.mapToGlobal(view_pos), w.reason, self)
                else:
                    QToolTip.hideText()
            w.pending.set_ok(None if port is None else not w.reason)
        self._draw_pending(scene_pos)

    @staticmethod
    def _endpoints(w: _Wiring, target: PortItem) -> tuple[str, str, int]:
        if w.forwards:
            return w.anchor.node_id, target.node_id, target.index
        return target.node_id, w.anchor.node_id, w.anchor.index

    def _check(self, target: PortItem) -> str | None:
        w = self._wiring
        src, dst, port = self._endpoints(w, target)
        if w.picked_edge is not None and (dst, port) == (w.picked_edge.dst, w.picked_edge.dst_port):
            return None
        return self.scene().graph.check_connection(src, dst, port)

    def _cancel_wiring(self) -> None:
        """Escape: drop the wire being dragged; nothing changes."""
        w, self._wiring = self._wiring, None
        self.scene().removeItem(w.pending)
        QToolTip.hideText()
        if w.target is not None:
            w.target.set_state(None)
        if w.picked_edge is not None and w.picked_edge in self.scene().edge_items:
            self.scene().edge_items[w.picked_edge].setVisible(True)

    def _finish_wiring(self) -> None:
        w, self._wiring = self._wiring, None
        scene = self.scene()
        scene.removeItem(w.pending)
        QToolTip.hideText()
        if w.target is not None:
            w.target.set_state(None)
        picked = w.picked_edge
        if picked is not None and picked in scene.edge_items:
            scene.edge_items[picked].setVisible(True)
        if w.target is None:
            if picked is not None:
                self.runner.push(cmds.Disconnect(picked))
            return
        if w.reason:
            self.statusMessage.emit(f"Connection refused: {w.reason}")
            return
        src, dst, port = self._endpoints(w, w.target)
        if picked is not None:
            if (dst, port) == (picked.dst, picked.dst_port):
                return
            self.runner.push(
                cmds.Macro("Reconnect", [cmds.Disconnect(picked), cmds.Connect(src, dst, port)])
            )
        else:
            self.runner.push(cmds.Connect(src, dst, port))

    # -- palette drops ---------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if not event.mimeData().hasFormat(BLOCK_MIME):
            super().dragMoveEvent(event)
            return
        edge = None
        if self._can_sit_on_a_wire(block_type_from_mime(event.mimeData())):
            edge = self.scene().edge_at(self.mapToScene(event.position().toPoint()))
        self._set_drop_edge(edge)
        event.acceptProposedAction()

    def _can_sit_on_a_wire(self, type_name: str | None) -> bool:
        block = self.scene().block_for(type_name) if type_name else None
        return block is not None and block.inputs != 0 and block.outputs > 0

    def dragLeaveEvent(self, event) -> None:
        self._set_drop_edge(None)
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        type_name = block_type_from_mime(event.mimeData())
        if type_name is None:
            super().dropEvent(event)
            return
        scene_pos = self.mapToScene(event.position().toPoint())
        edge_item = self.scene().edge_at(scene_pos) if self._can_sit_on_a_wire(type_name) else None
        self._set_drop_edge(None)
        event.acceptProposedAction()
        if self.add_block(type_name, scene_pos, edge_item.edge if edge_item is not None else None):
            # the keys now belong to the block just placed (Delete, arrows, Ctrl+D), not to
            # the palette the drag came from
            self.setFocus(Qt.MouseFocusReason)

    def _set_drop_edge(self, edge_item) -> None:
        if edge_item is self._drop_edge:
            return
        if self._drop_edge is not None and self._drop_edge.scene() is not None:
            self._drop_edge.drop_target = False
            self._drop_edge.update()
        self._drop_edge = edge_item
        if edge_item is not None:
            edge_item.drop_target = True
            edge_item.update()

    def add_block(
        self, type_name: str, scene_center: QPointF, on_edge=None, avoid_overlap=False
    ) -> bool:
        """Add a block centred on a scene point, spliced into ``on_edge`` when given."""
        pos = (round(scene_center.x() - NODE_WIDTH / 2), round(scene_center.y() - NODE_HEIGHT / 2))
        if avoid_overlap:  # double-clicks and quick-adds at one spot: fan out, do not stack
            taken = {(round(x), round(y)) for x, y in self.scene().node_rects().values()}
            while any(abs(pos[0] - x) < 12 and abs(pos[1] - y) < 12 for x, y in taken):
                pos = (pos[0] + 30, pos[1] + 30)
        try:
            if self.composite_source is not None and type_name.startswith(COMPOSITE_KEY):
                command = cmds.AddComposite(self.composite_source(type_name), pos)
            elif on_edge is not None:
                command = cmds.InsertOnEdge(on_edge, type_name, pos)
            else:
                command = cmds.AddNode(type_name, pos)
        except BlockError as exc:  # an unknown type from a foreign drag, a block that cannot
            self.statusMessage.emit(f"Cannot add {type_name}: {exc}")  # sit on a wire
            return False
        if not self.runner.push(command):
            return False
        new_id = getattr(command, "node_id", None)
        if new_id:
            self.scene().select_nodes([new_id])
        return True

    # -- keys ------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape and self._wiring is not None:
            self._cancel_wiring()
            event.accept()
            return
        step = {
            Qt.Key_Left: (-1, 0),
            Qt.Key_Right: (1, 0),
            Qt.Key_Up: (0, -1),
            Qt.Key_Down: (0, 1),
        }.get(event.key())
        if step is not None and self.scene().selected_node_ids():
            self.nudge(step, big=bool(event.modifiers() & Qt.ShiftModifier))
            event.accept()
            return
        if event.key() in (Qt.Key_Tab, Qt.Key_Space) and not event.modifiers():
            view_pos = self.mapFromGlobal(QCursor.pos())
            if not self.viewport().rect().contains(view_pos):
                view_pos = self.viewport().rect().center()
            self.quickAddRequested.emit(self.mapToGlobal(view_pos), self.mapToScene(view_pos))
            event.accept()
            return
        super().keyPressEvent(event)

    def nudge(self, step: tuple[int, int], big: bool = False) -> None:
        """Arrow keys move the selected blocks (Shift: further); one undo step per run."""
        d = NUDGE * (4 if big else 1)
        graph = self.scene().graph
        moved = {}
        for node_id in self.scene().selected_node_ids():
            x, y = graph.nodes[node_id].pos
            moved[node_id] = (x + step[0] * d, y + step[1] * d)
        command = cmds.MoveNodes(moved)
        command.text = NUDGE_TEXT
        self.runner.push(command)

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()
