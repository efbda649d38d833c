"""Undoable edit commands. Each touches only the model; undo restores the exact earlier state
(node order, edge order, ids, names, parameters, positions). Each redo/undo tells the graph's
subscribers once."""

from __future__ import annotations

import abc
import copy

from netbuilder.blocks import get_block
from netbuilder.graph.model import Edge, Graph, GraphError, Node, check_name, check_network_name


class Command(abc.ABC):
    """An undoable edit. `text` names it in the Edit menu ("Add Conv2d")."""

    text = ""

    @abc.abstractmethod
    def redo(self, graph: Graph) -> None: ...

    @abc.abstractmethod
    def undo(self, graph: Graph) -> None: ...


class AddNode(Command):
    def __init__(self, type: str, pos, params: dict | None = None, name: str | None = None):
        self.block = get_block(type)
        self.type = type
        self.pos = (float(pos[0]), float(pos[1]))
        self.params = self.block.validate_params(params)  # BlockError before anything changes
        self.name = name
        self.node_id: str | None = None
        self.text = f"Add {self.block.label}"

    def redo(self, graph: Graph) -> None:
        if self.node_id is None:
            self.node_id = graph.new_id()
            if self.name is None:
                self.name = graph.unique_name(self.block.name_prefix)
        _check_new_name(graph, self.name)
        with graph.batch():
            graph.insert_node(Node(self.node_id, self.type, self.name, dict(self.params), self.pos))

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for e in graph.edges_from(self.node_id) + graph.edges_into(self.node_id):
                graph.remove_edge(e)
            graph.remove_node(self.node_id)


def _check_new_name(graph: Graph, name: str, node_id: str | None = None) -> None:
    reason = check_name(name)
    if reason:
        raise GraphError(reason)
    other = graph.node_by_name(name)
    if other is not None and other.id != node_id:
        raise GraphError(f"another block is already called {name!r}; choose a different name")


class RemoveItems(Command):
    """Removes nodes (with their wires) and wires."""

    def __init__(self, node_ids=(), edges=()):
        self.node_ids = list(dict.fromkeys(node_ids))
        self.edges = list(dict.fromkeys(edges))
        self._removed_edges: list[tuple[int, Edge]] = []
        self._removed_nodes: list[tuple[int, Node]] = []
        count = len(self.node_ids) + (0 if self.node_ids else len(self.edges))
        what = "Block" if self.node_ids else "Wire"
        self.text = f"Delete {count} {what}s" if count != 1 else f"Delete {what}"

    def redo(self, graph: Graph) -> None:
        for nid in self.node_ids:
            graph.node(nid)
        doomed = [
            e
            for e in graph.edges
            if e in self.edges or e.src in self.node_ids or e.dst in self.node_ids
        ]
        with graph.batch():
            # remember indices so undo puts everything back in the same order
            self._removed_edges = [(graph.edges.index(e), e) for e in doomed]
            for e in doomed:
                graph.remove_edge(e)
            self._removed_nodes = []
            for nid in self.node_ids:
                node, index = graph.remove_node(nid)
                self._removed_nodes.append((index, node))

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for index, node in reversed(self._removed_nodes):
                graph.insert_node(node, index)
            for index, edge in sorted(self._removed_edges):
                graph.insert_edge(edge, index)


class Connect(Command):
    """Wire src's output into dst's input port; replaces a wire already in that port."""

    def __init__(self, src: str, dst: str, dst_port: int = 0):
        self.edge = Edge(src, dst, dst_port)
        self._replaced: tuple[int, Edge] | None = None
        self.text = "Connect"

    def redo(self, graph: Graph) -> None:
        # a wire already in that port cannot be on a path dst -> src, so checking first is exact
        reason = graph.check_connection(*_edge_args(self.edge))
        if reason:
            raise GraphError(reason)
        old = [
            e for e in graph.edges if e.dst == self.edge.dst and e.dst_port == self.edge.dst_port
        ]
        with graph.batch():
            self._replaced = (graph.remove_edge(old[0]), old[0]) if old else None
            graph.insert_edge(self.edge)
        names = graph.nodes[self.edge.src].name, graph.nodes[self.edge.dst].name
        self.text = f"Connect {names[0]} to {names[1]}"

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            graph.remove_edge(self.edge)
            if self._replaced:
                graph.insert_edge(self._replaced[1], self._replaced[0])


def _edge_args(edge: Edge):
    return edge.src, edge.dst, edge.dst_port


class Disconnect(Command):
    def __init__(self, edge: Edge):
        self.edge = edge
        self._index = None
        self.text = "Disconnect"

    def redo(self, graph: Graph) -> None:
        if self.edge not in graph.edges:
            raise GraphError("that wire no longer exists")
        with graph.batch():
            self._index = graph.remove_edge(self.edge)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            graph.insert_edge(self.edge, self._index)


class MoveNodes(Command):
    def __init__(self, new_positions: dict):
        self.new = {nid: (float(p[0]), float(p[1])) for nid, p in new_positions.items()}
        self.old: dict | None = None
        n = len(self.new)
        self.text = "Move Block" if n == 1 else f"Move {n} Blocks"

    def redo(self, graph: Graph) -> None:
        if self.old is None:
            self.old = {nid: graph.node(nid).pos for nid in self.new}
        with graph.batch():
            for nid, pos in self.new.items():
                graph.set_pos(nid, pos)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for nid, pos in self.old.items():
                graph.set_pos(nid, pos)


class SetParams(Command):
    """Change some parameters; validated first (BlockError, graph unchanged)."""

    def __init__(self, node_id: str, changes: dict):
        self.node_id = node_id
        self.changes = dict(changes)
        self.old: dict | None = None
        self.new: dict | None = None
        names = ", ".join(self.changes)
        self.text = f"Change {names}"

    def redo(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        if self.new is None:
            self.old = dict(node.params)
            self.new = node.block.validate_params({**node.params, **self.changes})
            self.text = f"Change {node.name} {', '.join(self.changes)}"
        with graph.batch():
            graph.set_params(self.node_id, self.new)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            graph.set_params(self.node_id, self.old)


class Rename(Command):
    def __init__(self, node_id: str, new_name: str):
        self.node_id = node_id
        self.new_name = new_name
        self.old_name: str | None = None
        self.text = f"Rename to {new_name}"

    def redo(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        _check_new_name(graph, self.new_name, self.node_id)
        self.old_name = node.name
        with graph.batch():
            graph.set_name(self.node_id, self.new_name)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            graph.set_name(self.node_id, self.old_name)


class RenameNetwork(Command):
    """The network's own name: its class in the exported code."""

    def __init__(self, new_name: str):
        self.new_name = new_name
        self.old_name: str | None = None
        self.text = f"Rename Network to {new_name}"

    def redo(self, graph: Graph) -> None:
        reason = check_network_name(self.new_name)
        if reason:
            raise GraphError(reason)
        self.old_name = graph.name
        with graph.batch():
            graph.set_network_name(self.new_name)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            graph.set_network_name(self.old_name)


class Macro(Command):
    """Several commands as one undo step."""

    def __init__(self, text: str, commands):
        self.text = text
        self.commands = list(commands)

    def redo(self, graph: Graph) -> None:
        done = []
        with graph.batch():
            try:
                for cmd in self.commands:
                    cmd.redo(graph)
                    done.append(cmd)
            except Exception:
                for cmd in reversed(done):
                    cmd.undo(graph)
                raise

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for cmd in reversed(self.commands):
                cmd.undo(graph)


class InsertOnEdge(Command):
    """Put a new one-input block in the middle of a wire."""

    def __init__(self, edge: Edge, type: str, pos, params: dict | None = None):
        self.edge = edge
        self.add = AddNode(type, pos, params)
        if self.add.block.inputs == 0:
            raise GraphError(f"an {self.add.block.label} block cannot sit on a wire")
        self._macro: Macro | None = None
        self.text = f"Insert {self.add.block.label}"

    @property
    def node_id(self) -> str | None:
        return self.add.node_id

    def redo(self, graph: Graph) -> None:
        if self.edge not in graph.edges and self._macro is None:
            raise GraphError("that wire no longer exists")
        with graph.batch():
            if self._macro is None:
                self.add.redo(graph)
                rest = Macro(
                    self.text,
                    [
                        Disconnect(self.edge),
                        Connect(self.edge.src, self.add.node_id, 0),
                        Connect(self.add.node_id, self.edge.dst, self.edge.dst_port),
                    ],
                )
                try:
                    rest.redo(graph)
                except Exception:
                    self.add.undo(graph)
                    raise
                self._macro = Macro(self.text, [self.add, *rest.commands])
            else:
                self._macro.redo(graph)

    def undo(self, graph: Graph) -> None:
        self._macro.undo(graph)


def copy_fragment(graph: Graph, node_ids) -> dict:
    """The selected nodes and the wires among them, as plain data for the clipboard."""
    ids = [nid for nid in graph.nodes if nid in set(node_ids)]
    return {
        "nodes": [graph.nodes[nid].to_dict() for nid in ids],
        "edges": [
            {"src": e.src, "dst": e.dst, "dst_port": e.dst_port}
            for e in graph.edges
            if e.src in ids and e.dst in ids
        ],
    }


class Paste(Command):
    """Add a copied fragment with fresh ids and names, shifted by offset."""

    def __init__(self, fragment: dict, offset=(30.0, 30.0)):
        self.fragment = copy.deepcopy(fragment)
        self.offset = (float(offset[0]), float(offset[1]))
        self.node_ids: list[str] = []
        self._nodes: list[Node] | None = None
        self._edges: list[Edge] = []
        n = len(self.fragment.get("nodes", []))
        self.text = "Paste Block" if n == 1 else f"Paste {n} Blocks"

    def _materialise(self, graph: Graph) -> None:
        from netbuilder.graph.serial import graph_from_dict

        # reuse the file loader's checks on the clipboard content
        frag = graph_from_dict(
            Graph,
            {"nodes": self.fragment.get("nodes", []), "edges": self.fragment.get("edges", [])},
        )
        id_map: dict[str, str] = {}
        taken_ids: set[str] = set(graph.nodes)
        taken_names: set[str] = set()
        self._nodes = []
        for old in frag.nodes.values():
            nid = graph.new_id()
            while nid in taken_ids:
                nid = graph.new_id()
            taken_ids.add(nid)
            id_map[old.id] = nid
            name = old.name
            if graph.node_by_name(name) is not None or name in taken_names:
                name = graph.unique_name(old.block.name_prefix, taken_names)
            taken_names.add(name)
            pos = (old.pos[0] + self.offset[0], old.pos[1] + self.offset[1])
            self._nodes.append(Node(nid, old.type, name, dict(old.params), pos))
        self._edges = [Edge(id_map[e.src], id_map[e.dst], e.dst_port) for e in frag.edges]
        self.node_ids = [n.id for n in self._nodes]

    def redo(self, graph: Graph) -> None:
        if self._nodes is None:
            self._materialise(graph)
        with graph.batch():
            for node in self._nodes:
                graph.insert_node(copy.deepcopy(node))
            for edge in self._edges:
                graph.insert_edge(edge)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for edge in self._edges:
                graph.remove_edge(edge)
            for node in reversed(self._nodes):
                graph.remove_node(node.id)


class AutoLayout(Command):
    """Arrange blocks left to right by depth (blocks of one depth stacked in a column); with a
    view size, runs of columns wrap into rows so the drawing, fitted to that view, is as large
    as possible (a 13-block LeNet in one row is too small to read in a laptop window)."""

    text = "Auto Layout"

    def __init__(self, view_size=None, node_size=None):
        self.view_size = view_size
        self.node_size = node_size or NODE_SIZE
        self.old: dict | None = None
        self.new: dict | None = None

    def redo(self, graph: Graph) -> None:
        if self.new is None:
            self.old = {nid: n.pos for nid, n in graph.nodes.items()}
            self.new = layout_positions(graph, self.view_size, self.node_size)
        with graph.batch():
            for nid, pos in self.new.items():
                graph.set_pos(nid, pos)

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for nid, pos in self.old.items():
                graph.set_pos(nid, pos)


NODE_SIZE = (160.0, 66.0)  # the canvas's block size; the UI passes its own
LAYOUT_GAP = (76.0, 34.0)  # across: room for a wire's shape label; down: between stacked blocks
LAYOUT_ROW_GAP = 70.0  # lanes for the wires that return to the start of the next row
LAYOUT_MARGIN = 60.0


def _depth_columns(graph: Graph) -> list[list[str]]:
    """Node ids grouped by depth (longest path from an input), in insertion order."""
    depth = dict.fromkeys(graph.nodes, 0)
    for nid in graph.topological_order():
        for e in graph.edges_from(nid):
            depth[e.dst] = max(depth[e.dst], depth[nid] + 1)
    columns: dict[int, list[str]] = {}
    for nid in graph.nodes:
        columns.setdefault(depth[nid], []).append(nid)
    return [columns[d] for d in sorted(columns)]


def layout_positions(graph: Graph, view_size=None, node_size=NODE_SIZE) -> dict:
    """{node_id: (x, y)} top-left of every block.

    Without ``view_size`` every depth gets its own column in one long row. With
    ``view_size=(width, height)`` (scene units at zoom 1) the columns wrap into rows, the row
    length chosen so the drawing scaled to fit the view is largest (then the fewest rows).
    """
    columns = _depth_columns(graph)
    if not columns:
        return {}
    node_w, node_h = node_size
    step_x, step_y = node_w + LAYOUT_GAP[0], node_h + LAYOUT_GAP[1]

    def row_heights(per_row: int) -> list[float]:
        rows = [columns[i : i + per_row] for i in range(0, len(columns), per_row)]
        return [max(len(c) for c in row) * step_y - LAYOUT_GAP[1] for row in rows]

    per_row = len(columns)
    if view_size is not None:
        view_w, view_h = view_size
        best_key = None
        for n in range(1, len(columns) + 1):
            heights = row_heights(n)
            w = min(n, len(columns)) * step_x - LAYOUT_GAP[0]
            h = sum(heights) + LAYOUT_ROW_GAP * (len(heights) - 1)
            margin = 2 * LAYOUT_MARGIN
            scale = min(1.0, view_w / (w + margin), view_h / (h + margin))
            key = (round(scale, 2), n)  # largest picture, then the fewest rows
            if best_key is None or key > best_key:
                per_row, best_key = n, key
    positions = {}
    top = 0.0
    for r, row_h in enumerate(row_heights(per_row)):
        for c, column in enumerate(columns[r * per_row : (r + 1) * per_row]):
            y0 = top + (row_h - (len(column) * step_y - LAYOUT_GAP[1])) / 2
            for i, nid in enumerate(column):
                positions[nid] = (c * step_x, float(round(y0 + i * step_y)))
        top += row_h + LAYOUT_ROW_GAP
    return positions
