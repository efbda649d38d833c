"""The canvas scene: mirrors a netbuilder Graph item by item, updated from its change events."""

from __future__ import annotations

import gc
import math
import time

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from netbuilder.blocks import BlockError, get_block
from netbuilder.graph import commands as cmds
from netbuilder.ui import theme
from netbuilder.ui.canvas.items import LOD_TEXT, NODE_BOUNDS, EdgeItem, NodeItem, NodeRects

GRID = 24
# a graph of up to this many blocks and wires gets its items in one go (LeNet opens as one
# frame); a larger one is built in slices of BUILD_SLICE_S between which the window stays live
SYNC_BUILD_MAX = 600
BUILD_SLICE_S = 0.015
_GEOMETRY_CHANGES = frozenset({"node_added", "node_removed", "node_moved", "reset"})


class GraphScene(QGraphicsScene):
    """Holds one NodeItem per node and one EdgeItem per edge, never state of its own.

    The graph calls back once per command with the list of changes; the scene adds and removes
    only the items those changes name and repaints only the nodes whose visible data changed.
    """

    graphChanged = Signal(list)  # the changes, after the items are updated
    buildProgress = Signal(int, int, int, int)  # blocks, of blocks, wires, of wires on the canvas
    buildEnded = Signal()  # a large graph's build finished, or stopped for another graph

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.graph = None
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[object, EdgeItem] = {}
        self._blocks: dict[str, object] = {}
        self.layout_version = 0  # bumped whenever any node may have moved
        self._rects: dict | None = None
        self._low_detail: bool | None = None
        self.setSceneRect(QRectF(-20000, -20000, 40000, 40000))
        self.setItemIndexMethod(QGraphicsScene.NoIndex)  # items move and re-route constantly
        self._build: _Build | None = None
        self._frozen = False  # gc.freeze() was called for the large graph shown
        self._build_timer = QTimer(self)
        self._build_timer.setInterval(0)  # runs when the window's pending events are done
        self._build_timer.timeout.connect(self._build_step)

    # -- model wiring --------------------------------------------------------------------
    def set_graph(self, graph) -> None:
        if self.graph is not None:
            self.graph.unsubscribe(self._on_changes)
        self.graph = graph
        graph.subscribe(self._on_changes)
        self._rebuild()
        self.graphChanged.emit([])

    def detach(self) -> None:
        self._stop_build()
        self._thaw_heap()
        if self.graph is not None:
            self.graph.unsubscribe(self._on_changes)
            self.graph = None

    @property
    def building(self) -> bool:
        """True while a large graph's items are still being made."""
        return self._build is not None

    def block_for(self, type_name):
        """The BlockType of a type name, or of a node (a composite's comes from its
        definition); None for an unknown type."""
        if getattr(type_name, "definition", None) is not None:
            return type_name.definition.block
        type_name = getattr(type_name, "type", type_name)
        if type_name not in self._blocks:
            try:
                self._blocks[type_name] = get_block(type_name)
            except (KeyError, BlockError):
                self._blocks[type_name] = None
        return self._blocks[type_name]

    def low_detail(self) -> bool:
        """True when the view is zoomed out so far that no text is drawn."""
        if self._low_detail is not None:  # fixed while one batch of changes is applied
            return self._low_detail
        views = self.views()
        return bool(views) and views[0].transform().m11() < LOD_TEXT

    def node_rects(self) -> dict:
        """{node_id: (x, y)} of every node's top-left, cached per layout version."""
        if self._rects is None or self._rects[0] != self.layout_version:
            pos = NodeRects((nid, (item.x(), item.y())) for nid, item in self.node_items.items())
            self._rects = (self.layout_version, pos)
        return self._rects[1]

    def _moved(self) -> None:
        self.layout_version += 1

    def port_count(self, node) -> int:
        block = self.block_for(node)
        if block is None:
            return 1
        if block.inputs >= 0:  # fixed: skip the graph's edge scan (200 nodes per edit)
            return block.inputs
        return self.graph.port_count(node.id)

    def _rebuild(self) -> None:
        self._moved()
        self._stop_build()
        self._thaw_heap()
        for item in list(self.node_items.values()) + list(self.edge_items.values()):
            self.removeItem(item)
        self.node_items.clear()
        self.edge_items.clear()
        graph = self.graph
        if len(graph.nodes) + len(graph.edges) <= SYNC_BUILD_MAX:
            for node in graph.nodes.values():
                self._add_node(node)
            for edge in graph.edges:
                self._add_edge(edge)
            self._sync_connections()
            return
        self._build = _Build(graph, self.nodes_rect_of(graph).center())
        self._freeze_heap()
        self._build_timer.start()
        self.buildProgress.emit(0, len(graph.nodes), 0, len(graph.edges))

    @staticmethod
    def nodes_rect_of(graph) -> QRectF:
        """The rectangle the blocks' top-left corners span, read from the model."""
        xs = [n.pos[0] for n in graph.nodes.values()] or [0.0]
        ys = [n.pos[1] for n in graph.nodes.values()] or [0.0]
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def _stop_build(self) -> None:
        self._build_timer.stop()
        if self._build is not None:
            self._build = None
            self.buildEnded.emit()

    def _freeze_heap(self) -> None:
        """A large graph and its items live as long as it is open, but Python's full garbage
        collections would scan them all every few thousand new objects (150-200 ms pauses
        while 10,000 blocks are built, and later while editing): move what exists now out of
        the collector's sight (cheap: it splices lists)."""
        gc.freeze()
        self._frozen = True

    def _thaw_heap(self) -> None:
        """The old graph may become garbage now, cycles included: let the collector see it."""
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

    def _build_step(self) -> None:
        """Make items for one slice of time: blocks nearest the middle first (what a fitted
        view shows), then the wires; then give the event loop back."""
        build, graph = self._build, self.graph
        if build is None or graph is not build.graph:
            self._stop_build()
            return
        deadline = time.perf_counter() + BUILD_SLICE_S
        self._low_detail = self.low_detail()
        try:
            while time.perf_counter() < deadline:
                if build.node_ids:
                    for node_id in build.node_ids[-16:]:
                        node = graph.nodes.get(node_id)
                        if node is not None and node_id not in self.node_items:
                            ins = build.ins.get(node_id, set())
                            self._add_node(node, ins, node_id in build.outs)
                            build.dirty.append(NODE_BOUNDS.translated(*node.pos))
                    del build.node_ids[-16:]
                    if not build.node_ids:
                        self._moved()  # the wires route around every block, not the ones so far
                elif build.edges:
                    for edge in build.edges[-16:]:
                        if edge not in self.edge_items and edge not in build.removed:
                            build.dirty.append(self._add_edge(edge).boundingRect())
                    del build.edges[-16:]
                else:
                    break
        finally:
            self._low_detail = None
        self._freeze_heap()
        nodes, edges = len(graph.nodes), len(graph.edges)
        if build.node_ids or build.edges:
            built_edges = 0 if build.node_ids else max(0, edges - len(build.edges))
            self.buildProgress.emit(nodes - len(build.node_ids), nodes, built_edges, edges)
            return
        if build.edited:  # wires added meanwhile may have had no items at their ends yet
            self._sync_connections()
            for item in self.edge_items.values():
                if item.label is None:
                    item.refresh()
        self.buildProgress.emit(nodes, nodes, edges, edges)
        self._stop_build()

    def _add_node(self, node, connected_in=None, connected_out=False) -> NodeItem:
        item = NodeItem(self, node)
        if connected_in is not None:  # before it is in the scene: no repaint request
            item.set_connections(connected_in, connected_out)
        self.node_items[node.id] = item
        self.addItem(item)
        return item

    def _add_edge(self, edge) -> EdgeItem:
        item = EdgeItem(self, edge)
        self.edge_items[edge] = item
        self.addItem(item)
        item.refresh()
        return item

    def take_build_dirt(self) -> list[QRectF]:
        """The scene rectangles of the items made since the last call (views redraw only those
        in view while a large graph is built)."""
        if self._build is None:
            return []
        rects, self._build.dirty = self._build.dirty, []
        return rects

    def _on_changes(self, changes) -> None:
        if self._build is not None:
            self._build.edited = True
        self._low_detail = None
        self._low_detail = self.low_detail()
        try:
            self._apply(changes)
        finally:
            self._low_detail = None
        self.graphChanged.emit(list(changes))

    def _apply(self, changes) -> None:
        graph = self.graph
        touched: set[str] = set()
        if any(ch.kind in _GEOMETRY_CHANGES for ch in changes):
            self._moved()
        for ch in changes:
            kind = ch.kind
            if kind == "reset":
                self._rebuild()
                return
            if kind == "node_added" and ch.node_id in graph.nodes:
                if ch.node_id not in self.node_items:
                    self._add_node(graph.nodes[ch.node_id])
            elif kind == "node_removed":
                item = self.node_items.pop(ch.node_id, None)
                if item is not None:
                    self.removeItem(item)
            elif kind == "edge_added":
                if ch.edge not in self.edge_items:
                    self._add_edge(ch.edge)
                touched.update((ch.edge.src, ch.edge.dst))
            elif kind == "edge_removed":
                if self._build is not None:
                    self._build.removed.add(ch.edge)
                item = self.edge_items.pop(ch.edge, None)
                if item is not None:
                    self.removeItem(item)
                touched.update((ch.edge.src, ch.edge.dst))
            elif kind == "node_moved" and ch.node_id in self.node_items:
                node = graph.nodes[ch.node_id]
                self.node_items[ch.node_id].setPos(QPointF(*node.pos))
                touched.add(ch.node_id)
        # inference rewrote derived data everywhere: repaint only what changed
        for node_id, item in self.node_items.items():
            if item.sync(graph.nodes[node_id]):
                touched.add(node_id)
        self._sync_connections()
        # a moved block may now sit in some other wire's way: those wires re-route too
        everything = self._rects is None or self._rects[0] != self.layout_version
        for edge, item in self.edge_items.items():
            if everything or edge.src in touched or edge.dst in touched:
                item.refresh()

    def _sync_connections(self) -> None:
        ins: dict[str, set[int]] = {}
        outs: set[str] = set()
        for e in self.graph.edges:
            ins.setdefault(e.dst, set()).add(e.dst_port)
            outs.add(e.src)
        for node_id, item in self.node_items.items():
            item.set_connections(ins.get(node_id, set()), node_id in outs)

    # -- dragging nodes ------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.LeftButton and isinstance(self.mouseGrabberItem(), NodeItem):
            self._moved()
            self._refresh_edges_of(set(self.selected_node_ids()))

    def _refresh_edges_of(self, node_ids: set[str]) -> None:
        """Wires follow nodes being dragged (the model learns the positions on release)."""
        for edge, item in self.edge_items.items():
            if edge.src in node_ids or edge.dst in node_ids:
                item.refresh()

    def commit_drag(self) -> None:
        """Turn node positions changed by a mouse drag into one MoveNodes command."""
        moved = {}
        for node_id, item in self.node_items.items():
            node = self.graph.nodes.get(node_id)
            if node is None:
                continue
            x, y = item.pos().x(), item.pos().y()
            if (round(x, 2), round(y, 2)) != (round(node.pos[0], 2), round(node.pos[1], 2)):
                moved[node_id] = (round(x, 1), round(y, 1))
        if moved and not self.runner.push(cmds.MoveNodes(moved)):
            self._moved()
            for node_id in moved:
                self.node_items[node_id].setPos(QPointF(*self.graph.nodes[node_id].pos))
            self._refresh_edges_of(set(moved))

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        self.commit_drag()

    # -- queries -------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids, edges=()) -> None:
        """Select exactly these nodes (and wires), announcing the new selection once."""
        blocked = self.blockSignals(True)
        try:
            self.clearSelection()
            for node_id in node_ids:
                item = self.node_items.get(node_id)
                if item is not None:
                    item.setSelected(True)
            for edge in edges:
                item = self.edge_items.get(edge)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(blocked)
        self.selectionChanged.emit()

    def nodes_rect(self) -> QRectF:
        if self._build is not None and self.graph is not None and self.graph.nodes:
            # not every block has its item yet: where the model puts them all
            b = NODE_BOUNDS
            rect = self.nodes_rect_of(self.graph)
            return rect.adjusted(b.left(), b.top(), b.right(), b.bottom())
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def edge_at(self, scene_pos: QPointF, tolerance: float = 10.0):
        """The edge whose wire or label passes within ``tolerance`` of a point, if any."""
        area = QRectF(
            scene_pos.x() - tolerance, scene_pos.y() - tolerance, 2 * tolerance, 2 * tolerance
        )
        for item in self.items(area):
            if isinstance(item, EdgeItem) and item.shape().intersects(area):
                return item
        return None

    # -- background ------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        t = theme.current()
        painter.fillRect(rect, t.canvas_bg)
        scale = painter.worldTransform().m11()
        if scale < 0.35:
            return
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        minor: list[QLineF] = []
        major: list[QLineF] = []
        x = left
        while x < rect.right():
            line = QLineF(x, rect.top(), x, rect.bottom())
            (major if x % (GRID * 5) == 0 else minor).append(line)
            x += GRID
        y = top
        while y < rect.bottom():
            line = QLineF(rect.left(), y, rect.right(), y)
            (major if y % (GRID * 5) == 0 else minor).append(line)
            y += GRID
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, False)  # 1 px lines: crisp and 10x faster
        for lines, color in ((minor, t.grid_minor), (major, t.grid_major)):
            painter.setPen(QPen(color, 0))
            painter.drawLines(lines)
        painter.restore()


class _Build:
    """What is left to make while a large graph's items are built in slices."""

    def __init__(self, graph, centre: QPointF):
        self.graph = graph
        cx, cy = centre.x(), centre.y()

        def distance(node) -> float:
            return (node.pos[0] - cx) ** 2 + (node.pos[1] - cy) ** 2

        # popped from the end: the farthest first in the list
        order = sorted(graph.nodes.values(), key=distance, reverse=True)
        self.node_ids = [node.id for node in order]
        rank = {node_id: i for i, node_id in enumerate(self.node_ids)}
        self.edges = sorted(
            graph.edges, key=lambda e: min(rank.get(e.src, -1), rank.get(e.dst, -1))
        )
        self.ins: dict[str, set[int]] = {}
        self.outs: set[str] = set()
        for e in graph.edges:
            self.ins.setdefault(e.dst, set()).add(e.dst_port)
            self.outs.add(e.src)
        self.removed: set = set()  # wires an edit removed before their turn came
        self.edited = False  # the graph changed during the build
        self.dirty: list[QRectF] = []  # where items were made since a view last redrew
