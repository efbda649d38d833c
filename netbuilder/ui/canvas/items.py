"""Graphics items for the canvas: nodes with ports, and edges labelled with their shape.

Items only render the model (netbuilder.graph.Node / Edge). The one piece of state they hold
that the model lacks is the position of a node while it is being dragged; the scene turns the
drag into a MoveNodes command when the mouse is released.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyle

from netbuilder.blocks.spec import fmt_shape
from netbuilder.ui import icons, theme

NODE_WIDTH = 160.0
NODE_HEIGHT = 66.0
HEADER_HEIGHT = 24.0
PORT_RADIUS = 5.5
CORNER = 7.0
LABEL_ROOM = 110.0  # widest wire label ("512x128x128")
LOD_TEXT = 0.45  # below this zoom, text would be unreadable: draw shapes only


# geometry shared by every item (Qt asks for it very often; Python should not rebuild it)
_PORT_HIT = PORT_RADIUS + 5  # a little larger than the dot: easy to grab
_PORT_BOUNDS = QRectF(-_PORT_HIT, -_PORT_HIT, 2 * _PORT_HIT, 2 * _PORT_HIT)
_PORT_SHAPE = QPainterPath()
_PORT_SHAPE.addEllipse(_PORT_BOUNDS)
_NODE_BOUNDS = QRectF(-PORT_RADIUS - 4, -3, NODE_WIDTH + 2 * PORT_RADIUS + 8, NODE_HEIGHT + 6)
NODE_BOUNDS = _NODE_BOUNDS  # a node item's bounds, in its own coordinates
_NODE_RECT = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
_HEADER_PATH = QPainterPath()
_HEADER_PATH.addRoundedRect(QRectF(0, 0, NODE_WIDTH, HEADER_HEIGHT + CORNER), CORNER, CORNER)
_HEADER_CLIP = QPainterPath()
_HEADER_CLIP.addRect(QRectF(0, 0, NODE_WIDTH, HEADER_HEIGHT))
_HEADER_PATH = _HEADER_PATH.intersected(_HEADER_CLIP)
_NODE_SHAPE = QPainterPath()
_NODE_SHAPE.addRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT), CORNER, CORNER)


format_shape = fmt_shape  # the catalogue's shape format, under the name the views use


def format_count(n: int) -> str:
    if n < 1000:
        return f"{n}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.2f}M"


def _short_problem(message: str, name: str) -> str:
    """Problems are sentences that start with the node name ("conv2: ...", "relu3 is not
    connected; ..."); the node face already shows the name, so it reads "Not connected; ..."."""
    if message.startswith(f"{name}: "):  # what follows may start with a parameter name
        return message[len(name) + 2 :]
    for prefix in (f"{name} is ", f"{name} has ", f"{name}'s ", f"{name} "):
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            return rest[:1].upper() + rest[1:]
    return message


_FONTS: dict[str, QFont] = {}


def _font(name: str) -> QFont:
    """Fonts for the canvas, made once (after the QApplication exists)."""
    if not _FONTS:
        for key, size, bold in (
            ("name", 9.5, True),
            ("sub", 8.5, False),
            ("label", 8.0, False),
            ("shape", 8.5, True),
        ):
            f = QFont()
            f.setPointSizeF(size)
            f.setBold(bold)
            _FONTS[key] = f
    return _FONTS[name]


_LABEL_SIZES: dict[str, tuple[float, float]] = {}


def _label_size(label: str) -> tuple[float, float]:
    """(width, height) of a wire label's box; few distinct labels, so measured once each."""
    size = _LABEL_SIZES.get(label)
    if size is None:
        fm = QFontMetricsF(_font("label"))
        size = (min(LABEL_ROOM, fm.horizontalAdvance(label) + 10), fm.height() + 3)
        _LABEL_SIZES[label] = size
    return size


def shape_font() -> QFont:
    return _font("shape")


def _fonts():
    return _font("name"), _font("sub"), _font("label")


class PortItem(QGraphicsItem):
    """An input (left edge) or output (right edge) port of a node."""

    def __init__(self, node_item: NodeItem, is_output: bool, index: int):
        super().__init__(node_item)
        self.node_item = node_item
        self.is_output = is_output
        self.index = index
        self.state: str | None = None  # None | "ok" | "bad": feedback while connecting
        self._center = QPointF()
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(2)
        # the node paints its ports (one paint call per node, and its cache covers them);
        # the port item is there for hit-testing and the cursor
        self.setFlag(QGraphicsItem.ItemHasNoContents)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        return _PORT_BOUNDS

    def shape(self) -> QPainterPath:
        return _PORT_SHAPE

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.node_item.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pass

    def hoverEnterEvent(self, event) -> None:
        """The tooltip says what flows through this port, read from the model now."""
        node_item = self.node_item
        graph = node_item.scene_ref.graph
        if self.is_output:
            tip = f"{node_item.name} output: {format_shape(node_item.out_shape)}"
            tip += " (drag onto an input to wire it)"
        else:
            wire = next(
                (e for e in graph.edges_into(node_item.node_id) if e.dst_port == self.index), None
            )
            if wire is None:
                tip = f"{node_item.name} input {self.index}: not connected (drag from an output)"
            else:
                src = graph.nodes[wire.src]
                tip = (
                    f"{node_item.name} input {self.index}: {format_shape(src.out_shape)} "
                    f"from {src.name} (drag away to disconnect)"
                )
        self.setToolTip(tip)
        super().hoverEnterEvent(event)

    def paint_on(self, painter: QPainter, t, accent: QColor) -> None:
        """Drawn by the node, in node coordinates."""
        color, r = accent, PORT_RADIUS
        if self.state == "ok":
            color, r = t.port_ok, PORT_RADIUS + 2
        elif self.state == "bad":
            color, r = t.port_bad, PORT_RADIUS + 2
        painter.setPen(_pen(color, 2.0))
        connected = self.node_item.port_connected(self.is_output, self.index)
        painter.setBrush(color if connected or self.state else t.port_fill)
        painter.drawEllipse(self._center, r, r)

    def setPos(self, *args) -> None:
        super().setPos(*args)
        self._center = self.pos()  # pos() makes a new QPointF on every call


class NodeItem(QGraphicsItem):
    """One block on the canvas: name, type and key parameters, output shape, parameter count."""

    def __init__(self, scene_ref, node):
        super().__init__()
        self.scene_ref = scene_ref
        self.node_id: str = node.id
        self.category = "other"
        self.icon_name = ""
        self.type_label = node.type
        self.n_inputs = 0
        self.in_ports: list[PortItem] = []
        self.out_port: PortItem | None = None
        self.overlay_color: QColor | None = None
        self.overlay_tooltip: str | None = None
        self.drop_target = False  # highlighted while a palette block is dragged over an edge
        self.hovered = False
        self._face: tuple | None = None
        self._text_cache: _FaceTexts | None = None
        self._tooltip_stale = True
        self._connected_in: set[int] = set()
        self._connected_out = False
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.sync(node, force=True)
        self.setPos(QPointF(*node.pos))

    # -- model -> item -------------------------------------------------------------------
    def sync(self, node, force: bool = False) -> bool:
        """Read the node's derived data; repaint only when something visible changed."""
        block = self.scene_ref.block_for(node)
        n_inputs = self.scene_ref.port_count(node)
        face = (
            node.name,
            node.definition.name if node.definition is not None else node.type,
            node.summary if block else "",
            node.out_shape,
            node.param_count,
            tuple(node.problems),
            n_inputs,
        )
        if face == self._face and not force:
            return False
        # zoomed out, text is not drawn: repaint only when the outline would change
        # (the cache is redrawn anyway when the zoom changes)
        text_only = (
            not force
            and self._face is not None
            and face[5:] == self._face[5:]
            and self.scene_ref.low_detail()
        )
        self._face = face
        self._text_cache = None
        self.name, _, self.summary, self.out_shape, self.param_count, self.problems, _ = face
        if block is not None:
            self.category = block.category
            self.icon_name = block.icon
            self.type_label = block.label
        if n_inputs != self.n_inputs or self.out_port is None:
            self._rebuild_ports(n_inputs, has_output=(block is None or block.outputs > 0))
        self._update_tooltip()
        if not text_only:
            self.update()
        return True

    def set_connections(self, connected_in: set[int], connected_out: bool) -> None:
        if connected_in != self._connected_in or connected_out != self._connected_out:
            self._connected_in, self._connected_out = connected_in, connected_out
            self.update()

    def port_connected(self, is_output: bool, index: int) -> bool:
        return self._connected_out if is_output else index in self._connected_in

    def _rebuild_ports(self, n_inputs: int, has_output: bool) -> None:
        for p in self.in_ports:
            p.setParentItem(None)
            if p.scene():
                p.scene().removeItem(p)
        if self.out_port is not None:
            if self.out_port.scene():
                self.out_port.scene().removeItem(self.out_port)
            self.out_port = None
        self.n_inputs = n_inputs
        self.in_ports = []
        for i in range(n_inputs):
            port = PortItem(self, False, i)
            port.setPos(0, self.port_y(i, n_inputs))
            self.in_ports.append(port)
        if has_output:
            self.out_port = PortItem(self, True, 0)
            self.out_port.setPos(NODE_WIDTH, self.port_y(0, 1))

    @staticmethod
    def port_y(index: int, count: int) -> float:
        body_top, body_bottom = HEADER_HEIGHT, NODE_HEIGHT
        if count <= 1:
            return (body_top + body_bottom) / 2
        step = (body_bottom - body_top) / count
        return body_top + step * (index + 0.5)

    def hoverEnterEvent(self, event) -> None:
        self.hovered = True
        self._write_tooltip()
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.hovered = False
        self.update()
        super().hoverLeaveEvent(event)

    def _update_tooltip(self) -> None:
        """The tooltip is written when it can be shown (hover) or is asked for: opening a
        10,000-block project need not format 10,000 of them."""
        self._tooltip_stale = True
        if self.hovered:
            self._write_tooltip()

    def toolTip(self) -> str:
        self._write_tooltip()
        return super().toolTip()

    def _write_tooltip(self) -> None:
        if not self._tooltip_stale:
            return
        self._tooltip_stale = False
        # <nobr>: short lines stay whole (rich-text tooltips wrap early); problems may wrap
        lines = [f"<nobr><b>{self.name}</b> ({self.type_label})</nobr>"]
        if self.problems:
            lines += [f"<span style='color:#d93636'>{p}</span>" for p in self.problems]
        else:
            lines.append(
                f"<nobr>output {format_shape(self.out_shape)}, "
                f"{_count_text(self.param_count)}</nobr>"
            )
        if self.overlay_tooltip:
            lines.append(self.overlay_tooltip)
        self.setToolTip("<br>".join(lines))

    def set_overlay(self, color: QColor | None, tooltip: str | None) -> None:
        self.overlay_color = QColor(color) if color is not None else None
        self.overlay_tooltip = tooltip
        self._update_tooltip()
        self.update()

    # -- geometry and painting -----------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return _NODE_BOUNDS

    def shape(self) -> QPainterPath:
        return _NODE_SHAPE

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = theme.current()
        name_font, sub_font, _ = _fonts()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setRenderHint(QPainter.TextAntialiasing)
        rect = _NODE_RECT
        invalid = bool(self.problems)
        selected = bool(option.state & QStyle.State_Selected)
        accent, band = _category_colors(t, self.category)

        # body
        painter.setPen(Qt.NoPen)
        painter.setBrush(t.node_error_bg if invalid else t.node_bg)
        painter.drawRoundedRect(rect, CORNER, CORNER)
        # header band tinted with the category colour
        painter.setBrush(band)
        painter.drawPath(_HEADER_PATH)
        painter.setBrush(accent)
        painter.drawRoundedRect(_ACCENT_STRIPE, 2, 2)

        if self.overlay_color is not None:
            painter.setBrush(self.overlay_color)
            painter.drawRoundedRect(rect, CORNER, CORNER)

        # border
        if selected:
            pen = _pen(t.node_selected, 2.4)
        elif invalid:
            pen = _pen(t.node_error_border, 2.0)
        elif self.drop_target:
            pen = _pen(t.port_ok, 2.0)
        elif self.hovered:
            pen = _pen(t.node_selected.lighter(130) if t.name == "dark" else t.edge, 1.6)
        else:
            pen = _pen(t.node_border, 1.1)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(rect, CORNER, CORNER)

        for port in self.in_ports:
            port.paint_on(painter, t, accent)
        if self.out_port is not None:
            self.out_port.paint_on(painter, t, accent)

        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            return  # too small to read: the coloured shape is enough, and much faster

        # header: icon, name, block type
        texts = self._texts()
        icon = icons.block_icon(self.icon_name)
        if not icon.isNull():
            icon.paint(painter, QRectF(10, 4, 16, 16).toRect())
        painter.setFont(name_font)
        painter.setPen(t.node_text)
        painter.drawText(texts.name_rect, Qt.AlignVCenter, texts.name)
        painter.setFont(sub_font)
        painter.setPen(t.node_subtext)
        if texts.type_label:
            painter.drawText(texts.type_rect, Qt.AlignVCenter | Qt.AlignRight, texts.type_label)

        # line 2: key parameters | parameter count; line 3: output shape (or the problem)
        painter.setPen(t.node_text)
        painter.drawText(_LINE2, Qt.AlignVCenter | Qt.AlignLeft, texts.summary)
        if texts.count:
            painter.setPen(t.node_subtext)
            painter.drawText(_LINE2, Qt.AlignVCenter | Qt.AlignRight, texts.count)
        if invalid:
            painter.setPen(t.node_error_border)
            painter.drawText(_LINE3, Qt.AlignVCenter | Qt.AlignLeft, texts.line3)
            return
        painter.setPen(t.node_subtext)
        painter.setFont(shape_font())
        painter.drawText(_LINE3, Qt.AlignVCenter | Qt.AlignLeft, texts.line3)

    def _texts(self) -> _FaceTexts:
        """The face's strings, elided to fit, measured once per change of the face (the item
        cache is redrawn on every zoom step; measuring text each time is the slow part)."""
        if self._text_cache is not None:
            return self._text_cache
        name_font, sub_font, _ = _fonts()
        x = 31.0 if not icons.block_icon(self.icon_name).isNull() else 10.0
        fm, sfm = QFontMetricsF(name_font), QFontMetricsF(sub_font)
        name = fm.elidedText(self.name, Qt.ElideRight, NODE_WIDTH - x - 8)
        type_room = NODE_WIDTH - x - fm.horizontalAdvance(name) - 16
        count = (
            "? params"
            if self.param_count is None
            else f"{format_count(self.param_count)} params"
            if self.param_count
            else ""
        )
        width = _LINE2.width()
        # the block type goes in full beside the name; a long one ("AdaptiveAvgPool2d") that
        # does not fit there takes the parameter-count slot when the block has no parameters;
        # (with parameters, "ConvTranspose2d", the count moves down beside the output shape);
        # it is shortened only when neither has room (the tooltip always names it)
        type_w = sfm.horizontalAdvance(self.type_label)
        type_label = ""
        moved_count = ""
        if type_w <= type_room:
            type_label = self.type_label
        elif not count and sfm.horizontalAdvance(self.summary) + 10 + type_w <= width:
            count = self.type_label
        elif count and type_w + 30 <= width:
            moved_count, count = count, self.type_label
        elif type_room > 24:
            type_label = sfm.elidedText(self.type_label, Qt.ElideRight, type_room)
        count_w = sfm.horizontalAdvance(count) + 6 if count else 0
        summary = sfm.elidedText(self.summary, Qt.ElideRight, width - count_w)
        if self.problems:
            problem = "⚠ " + _short_problem(self.problems[0], self.name)
            line3 = sfm.elidedText(problem, Qt.ElideRight, width)
        else:
            line3 = "→ " + format_shape(self.out_shape)
            longer = f"{line3}  ·  {moved_count}"
            if moved_count and sfm.horizontalAdvance(longer) <= width:
                line3 = longer
        self._text_cache = _FaceTexts(
            name,
            QRectF(x, 0, NODE_WIDTH - x - 8, HEADER_HEIGHT),
            type_label,
            QRectF(NODE_WIDTH - 8 - max(type_room, 0), 0, max(type_room, 0), HEADER_HEIGHT),
            summary,
            count,
            line3,
        )
        return self._text_cache


_ACCENT_STRIPE = QRectF(0, 0, 4, NODE_HEIGHT)
_PENS: dict = {}
_CATEGORY_COLORS: dict = {}


def _pen(color: QColor, width: float) -> QPen:
    """Pens by colour and width, made once (a zoom step repaints every node)."""
    key = (color.rgba(), width)
    pen = _PENS.get(key)
    if pen is None:
        pen = _PENS[key] = QPen(color, width)
    return pen


def _category_colors(t, category: str) -> tuple[QColor, QColor]:
    """(accent, translucent header band) of a category in a theme."""
    key = (t.name, category)
    colors = _CATEGORY_COLORS.get(key)
    if colors is None:
        accent = theme.category_color(category)
        band = QColor(accent)
        band.setAlpha(60 if t.name == "dark" else 40)
        colors = _CATEGORY_COLORS[key] = (accent, band)
    return colors


_LINE2 = QRectF(12.0, HEADER_HEIGHT + 1, NODE_WIDTH - 22, 20)
_LINE3 = QRectF(12.0, HEADER_HEIGHT + 20, NODE_WIDTH - 22, 20)


class _FaceTexts(NamedTuple):
    name: str
    name_rect: QRectF
    type_label: str
    type_rect: QRectF
    summary: str
    count: str
    line3: str


class EdgeItem(QGraphicsPathItem):
    """A connection from one node's output to another's input, labelled with its shape."""

    def __init__(self, scene_ref, edge):
        super().__init__()
        self.scene_ref = scene_ref
        self.edge = edge
        self.label = None
        self.drop_target = False
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._shape = QPainterPath()
        self._stroke = QPainterPath()
        self._path = QPainterPath()
        self._route_key = None
        self._geometry = None
        self._out_shape = None
        self.label_shown = True
        self._mid = QPointF()
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)

    def endpoints(self) -> tuple[QPointF, QPointF] | None:
        src = self.scene_ref.node_items.get(self.edge.src)
        dst = self.scene_ref.node_items.get(self.edge.dst)
        if src is None or dst is None or src.out_port is None:
            return None
        if self.edge.dst_port >= len(dst.in_ports):
            return None
        return src.out_port.scenePos(), dst.in_ports[self.edge.dst_port].scenePos()

    def refresh(self) -> None:
        """Re-read the label; re-route only when an end or a neighbour moved.

        Called for every wire of every block an edit touched (all 250 wires of a 200-block
        graph when the input shape changes), so the common cases return early and cheaply.
        """
        scene = self.scene_ref
        src_item = scene.node_items.get(self.edge.src)
        dst_item = scene.node_items.get(self.edge.dst)
        if src_item is None or dst_item is None:
            return
        src_node = scene.graph.nodes.get(self.edge.src)
        out_shape = src_node.out_shape if src_node is not None else None
        # the ends sit where the nodes and their port counts put them; nodes only move
        # when the layout version changes
        geometry = (scene.layout_version, dst_item.n_inputs, src_item.out_port is not None)
        if geometry == self._geometry and out_shape == self._out_shape and self.label is not None:
            return
        if geometry != self._geometry:
            ends = self.endpoints()
            if ends is None:
                return
            key = (ends[0].x(), ends[0].y(), ends[1].x(), ends[1].y(), scene.layout_version)
            self._geometry = geometry
            if key != self._route_key:
                self.prepareGeometryChange()
                self._route_key = key
                path, self._mid = route(
                    *ends, src_item, dst_item, self.edge.dst_port, scene.node_rects()
                )
                self.setPath(path)
                self._stroke = None  # made with the shape, when Qt first asks for it
                # the label's room is part of the bounds, so a new label needs no re-index
                room = QRectF(self._mid.x() - LABEL_ROOM / 2, self._mid.y() - 20, LABEL_ROOM, 20)
                self._bounds = path.boundingRect().adjusted(-4, -4, 4, 4).united(room)
                self._label_rect = QRectF()  # placed below, on the new midpoint
        label = format_shape(out_shape) if src_node is not None else ""
        self._out_shape = out_shape
        if label == self.label and not self._label_rect.isNull():
            return
        if not scene.low_detail():
            self.update(self._label_rect)  # the old label's area
        self.label = label
        w, h = _label_size(label)
        # above the wire, so it hides neither the wire nor the ports
        self._label_rect = QRectF(self._mid.x() - w / 2, self._mid.y() - h - 1, w, h)
        # blocks placed close together leave no room: a label half hidden under them reads
        # as garbage ("x28x2"); the blocks' faces and the tooltip show the shape anyway
        self.label_shown = not (
            _overlaps_node(self._label_rect, src_item) or _overlaps_node(self._label_rect, dst_item)
        )
        self._shape = None  # made when Qt asks (hit tests), not on every edit
        if not scene.low_detail():
            self.update(self._label_rect)  # only the label changed: repaint just its box

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            if self._stroke is None:
                stroker = QPainterPathStroker()
                stroker.setWidth(12)
                self._stroke = stroker.createStroke(self._path)
            self._shape = QPainterPath(self._stroke)
            if self.label_shown:
                self._shape.addRect(self._label_rect)
        return self._shape

    def hoverEnterEvent(self, event) -> None:
        """The tooltip is written when it can be shown, not on every edit."""
        src = self.scene_ref.node_items.get(self.edge.src)
        dst = self.scene_ref.node_items.get(self.edge.dst)
        if src is not None and dst is not None:
            self.setToolTip(f"{src.name} → {dst.name}: {self.label}")
        super().hoverEnterEvent(event)

    def setPath(self, path: QPainterPath) -> None:
        super().setPath(path)
        self._path = path  # path() hands back a fresh copy on every call

    def paint(self, painter: QPainter, option, widget=None) -> None:
        # a full repaint of a fitted 200-block graph paints 250 wires: keep this lean
        t = theme.current()
        selected = bool(option.state & QStyle.State_Selected)
        painter.setPen(_edge_pen(t, selected or self.drop_target))
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        if self.label_shown and self.label and painter.worldTransform().m11() >= LOD_TEXT:
            painter.setFont(_font("label"))
            painter.setPen(t.edge_selected if selected else t.edge_label_text)
            painter.drawText(self._label_rect, Qt.AlignCenter, self.label)


_EDGE_PENS: dict = {}


def _edge_pen(t, highlighted: bool) -> QPen:
    key = (id(t), highlighted)
    pen = _EDGE_PENS.get(key)
    if pen is None:
        color = t.edge_selected if highlighted else t.edge
        pen = QPen(color, 2.6 if highlighted else 1.8, Qt.SolidLine, Qt.RoundCap)
        if len(_EDGE_PENS) > 8:  # themes switched back and forth
            _EDGE_PENS.clear()
        _EDGE_PENS[key] = pen
    return pen


def _overlaps_node(rect: QRectF, node: NodeItem) -> bool:
    """True when a rect reaches into a node's body or its ports (plain floats: this runs for
    every relabelled wire on every edit)."""
    x, y = node.x(), node.y()
    return (
        rect.left() < x + NODE_WIDTH + PORT_RADIUS
        and rect.right() > x - PORT_RADIUS
        and rect.top() < y + NODE_HEIGHT
        and rect.bottom() > y
    )


class PendingEdgeItem(QGraphicsPathItem):
    """The wire that follows the mouse while a connection is being dragged."""

    def __init__(self):
        super().__init__()
        self.setZValue(5)
        self.set_ok(None)

    def set_ok(self, ok: bool | None) -> None:
        t = theme.current()
        color = t.edge_selected if ok is None else (t.port_ok if ok else t.port_bad)
        pen = QPen(color, 2.2, Qt.DashLine if ok is None else Qt.SolidLine, Qt.RoundCap)
        self.setPen(pen)
        self.setBrush(QBrush(Qt.NoBrush))


class NodeRects(dict):
    """{node_id: (x, y)} of the blocks' top-left corners. `near` asks a grid of cells (made on
    first use) rather than every block: routing 10,000 wires among 10,000 blocks stays linear."""

    CELL = 400.0

    def near(self, left: float, top: float, right: float, bottom: float):
        """(node_id, (x, y)) of the blocks whose corner lies where their body could reach into
        the rectangle; a superset of the blocks that do."""
        grid = getattr(self, "_grid", None)
        if grid is None:
            grid = self._grid = {}
            for node_id, (x, y) in self.items():
                grid.setdefault((int(x // self.CELL), int(y // self.CELL)), []).append(
                    (node_id, (x, y))
                )
        c0, c1 = int((left - NODE_WIDTH) // self.CELL), int(right // self.CELL)
        r0, r1 = int((top - NODE_HEIGHT) // self.CELL), int(bottom // self.CELL)
        if (c1 - c0 + 1) * (r1 - r0 + 1) > len(grid):  # a long wire: every cell anyway
            return self.items()
        return [
            entry
            for col in range(c0, c1 + 1)
            for row in range(r0, r1 + 1)
            for entry in grid.get((col, row), ())
        ]


def _blocked(a: QPointF, b: QPointF, src, dst, rects) -> bool:
    """True when another node sits between two ports (a straight wire would cross it)."""
    left, right = a.x() + 6, b.x() - 6
    top, bottom = min(a.y(), b.y()) - 6, max(a.y(), b.y()) + 6
    candidates = (
        rects.near(left, top, right, bottom) if isinstance(rects, NodeRects) else rects.items()
    )
    for node_id, (x, y) in candidates:
        if (
            x < right
            and x + NODE_WIDTH > left
            and y < bottom
            and y + NODE_HEIGHT > top
            and node_id != src.node_id
            and node_id != dst.node_id
        ):
            return True
    return False


def route(a: QPointF, b: QPointF, src, dst, port: int, rects: dict) -> tuple[QPainterPath, QPointF]:
    """The wire's path and the point for its label.

    Neighbours get a smooth curve. A wire that would cross other blocks or run backwards (to
    the next row of a wrapped layout) takes a lane above the row or between rows, with rounded
    corners, so it never hides a block.
    """
    if b.x() - a.x() >= 24 and not _blocked(a, b, src, dst, rects):
        path = bezier(a, b)
        return path, path.pointAtPercent(0.5)
    s = QRectF(src.pos(), QSizeF(NODE_WIDTH, NODE_HEIGHT))
    d = QRectF(dst.pos(), QSizeF(NODE_WIDTH, NODE_HEIGHT))
    forward = b.x() - a.x() >= 24
    if d.top() > s.bottom():  # target row below
        lane = (s.bottom() + d.top()) / 2 + (8 if forward else -8)
    elif s.top() > d.bottom():  # target row above
        lane = (d.bottom() + s.top()) / 2
    elif forward:  # same row, other blocks in between: over the top
        lane = min(s.top(), d.top()) - 18 - 8 * port
    else:
        lane = max(s.bottom(), d.bottom()) + 18
    out_x, in_x = a.x() + 16, b.x() - 16
    pts = [
        a,
        QPointF(out_x, a.y()),
        QPointF(out_x, lane),
        QPointF(in_x, lane),
        QPointF(in_x, b.y()),
        b,
    ]
    return _rounded(pts, 9.0), QPointF((out_x + in_x) / 2, lane)


def _rounded(points: list[QPointF], radius: float) -> QPainterPath:
    # plain floats: QPointF arithmetic from Python made this half of a wire's routing time
    path = QPainterPath(points[0])
    xy = [(p.x(), p.y()) for p in points]
    for (px, py), (cx, cy), (nx, ny) in zip(xy, xy[1:], xy[2:]):
        v1x, v1y, v2x, v2y = cx - px, cy - py, nx - cx, ny - cy
        l1 = (v1x**2 + v1y**2) ** 0.5
        l2 = (v2x**2 + v2y**2) ** 0.5
        r = min(radius, l1 / 2, l2 / 2)
        if r < 0.5:
            path.lineTo(cx, cy)
            continue
        path.lineTo(cx - v1x * (r / l1), cy - v1y * (r / l1))
        path.quadTo(cx, cy, cx + v2x * (r / l2), cy + v2y * (r / l2))
    path.lineTo(points[-1])
    return path


def bezier(a: QPointF, b: QPointF) -> QPainterPath:
    """A left-to-right cubic curve from an output port to an input port."""
    path = QPainterPath(a)
    dx = max(40.0, abs(b.x() - a.x()) * 0.5)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


def _count_text(count: int | None) -> str:
    """ "1,234 parameters", or what unknown means: the input's size is not known yet."""
    if count is None:
        return "parameters unknown until the input is connected and valid"
    return f"{count:,} parameters"
