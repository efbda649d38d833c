"""Undoable edit commands. Each touches only the model; undo restores the exact earlier state
(node order, edge order, ids, names, parameters, positions). Each redo/undo tells the graph's
subscribers once."""

from __future__ import annotations

import abc
import copy

from netbuilder.blocks import get_block
from netbuilder.graph.inference import input_nodes
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
            registry=graph.definitions,
            body=graph.is_body,
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
            self._nodes.append(
                Node(nid, old.type, name, dict(old.params), pos, definition=old.definition)
            )
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


# -- composite blocks ------------------------------------------------------------------------


def _centroid(nodes) -> tuple[float, float]:
    nodes = list(nodes)
    return (
        sum(n.pos[0] for n in nodes) / len(nodes),
        sum(n.pos[1] for n in nodes) / len(nodes),
    )


def _name_list(graph: Graph, ids) -> str:
    return ", ".join(graph.nodes[i].name for i in ids)


class _Restore:
    """Remembers removed nodes and edges with their indices so undo is exact."""

    def __init__(self):
        self.edges: list[tuple[int, Edge]] = []
        self.nodes: list[tuple[int, Node]] = []

    def remove(self, graph: Graph, node_ids, edges) -> None:
        self.edges = [(graph.edges.index(e), e) for e in edges]
        for e in edges:
            graph.remove_edge(e)
        self.nodes = []
        for nid in node_ids:
            node, index = graph.remove_node(nid)
            self.nodes.append((index, node))

    def put_back(self, graph: Graph) -> None:
        for index, node in reversed(self.nodes):
            graph.insert_node(node, index)
        for index, edge in sorted(self.edges):
            graph.insert_edge(edge, index)


class Group(Command):
    """Replace selected blocks by one instance of a new composite definition whose input ports
    are the wires entering the selection and whose output is the wire leaving it."""

    def __init__(self, node_ids, name: str | None = None):
        self.node_ids = list(dict.fromkeys(node_ids))
        self.name = name
        self.node_id: str | None = None  # the instance
        self.definition = None
        self._plan = None
        self._restore = _Restore()
        self.text = "Group Blocks"

    def _make_plan(self, graph: Graph):
        from netbuilder.graph.composite import (
            COMPOSITE,
            NAME_PREFIX,
            Definition,
            check_definition_name,
            unique_definition_name,
        )

        if not self.node_ids:
            raise GraphError("select the blocks to group first")
        chosen = set(self.node_ids)
        for nid in self.node_ids:
            graph.node(nid)
        sel = [nid for nid in graph.nodes if nid in chosen]
        inputs = [nid for nid in sel if graph.nodes[nid].block.inputs == 0]
        if inputs:
            raise GraphError(
                f"{_name_list(graph, inputs)} is the network's Input and stays outside a "
                f"group; select only the blocks after it"
            )
        incoming = [e for e in graph.edges if e.dst in chosen and e.src not in chosen]
        outgoing = [e for e in graph.edges if e.src in chosen and e.dst not in chosen]
        internal = [e for e in graph.edges if e.src in chosen and e.dst in chosen]
        if not incoming:
            raise GraphError(
                "no wire enters the selection, so the group would have no input; select "
                "blocks that follow the Input"
            )
        out_srcs = list(dict.fromkeys(e.src for e in outgoing))
        if len(out_srcs) > 1:
            raise GraphError(
                f"{len(out_srcs)} blocks of the selection feed blocks outside it "
                f"({_name_list(graph, out_srcs)}); a composite has one output, so add the "
                f"blocks they feed to the selection or leave some of them out"
            )
        feeds_inside = {e.src for e in internal}
        sinks = [nid for nid in sel if nid not in feeds_inside]
        if len(sinks) != 1 or (out_srcs and out_srcs[0] != sinks[0]):
            ends = [s for s in sinks if not out_srcs or s != out_srcs[0]] or sinks
            raise GraphError(
                f"the selection must end in one block, but {_name_list(graph, ends)} also "
                f"end(s) it; include what they feed or leave them out"
            )
        name = self.name or unique_definition_name(graph.definitions, "Block")
        reason = check_definition_name(name)
        if reason:
            raise GraphError(reason)
        if name in graph.definitions:
            raise GraphError(f"a composite called {name!r} already exists; choose another name")
        # the body: copies of the selected blocks plus one Input per distinct source
        body = Graph(name)
        body.definitions = graph.definitions
        sources = list(dict.fromkeys(e.src for e in incoming))
        taken_ids, taken_names = set(sel), {graph.nodes[n].name for n in sel}
        ports: dict[str, str] = {}
        left = min(graph.nodes[n].pos[0] for n in sel) - 200.0
        for i, src in enumerate(sources):
            pid, pname, k = f"in{i + 1}", f"in{i + 1}", i + 1
            while pid in taken_ids or pname in taken_names:
                k += 100
                pid = pname = f"in{k}"
            taken_ids.add(pid)
            taken_names.add(pname)
            ports[src] = pid
            targets = [graph.nodes[e.dst] for e in incoming if e.src == src]
            shape = graph.nodes[src].out_shape
            params = {"shape": tuple(shape)} if shape is not None else {}
            y = sum(t.pos[1] for t in targets) / len(targets)
            body.nodes[pid] = Node(
                pid, "Input", pname, get_block("Input").coerce_params(params), (left, y)
            )
        for nid in sel:
            body.nodes[nid] = copy.deepcopy(graph.nodes[nid])
        body.edges = [Edge(ports[e.src], e.dst, e.dst_port) for e in incoming] + list(internal)
        definition = Definition(name, body, [ports[s] for s in sources])
        instance = Node(
            graph.new_id(),
            COMPOSITE,
            graph.unique_name(NAME_PREFIX),
            {},
            _centroid(graph.nodes[n] for n in sel),
            definition=definition,
        )
        new_edges = [Edge(src, instance.id, i) for i, src in enumerate(sources)]
        new_edges += [Edge(instance.id, e.dst, e.dst_port) for e in outgoing]
        index = min(list(graph.nodes).index(n) for n in sel)
        return sel, incoming + internal + outgoing, definition, instance, new_edges, index

    def redo(self, graph: Graph) -> None:
        if self._plan is None:
            self._plan = self._make_plan(graph)
            self.definition = self._plan[2]
            self.node_id = self._plan[3].id
            self.text = f"Group {len(self._plan[0])} Blocks as {self.definition.name}"
        sel, doomed, definition, instance, new_edges, index = self._plan
        doomed = [e for e in graph.edges if e in set(doomed)]
        with graph.batch():
            self._restore.remove(graph, sel, doomed)
            graph.definitions[definition.name] = definition
            graph.insert_node(copy.copy(instance), index)
            for e in new_edges:
                graph.insert_edge(e)
            graph.emit_definition_change(definition.name)

    def undo(self, graph: Graph) -> None:
        _, _, definition, instance, new_edges, _ = self._plan
        with graph.batch():
            for e in new_edges:
                graph.remove_edge(e)
            graph.remove_node(instance.id)
            del graph.definitions[definition.name]
            self._restore.put_back(graph)
            graph.emit_definition_change(definition.name)


class Ungroup(Command):
    """Replace a composite instance by the blocks of its body, with the instance's exposed
    values written into them; the definition goes when nothing uses it any more."""

    def __init__(self, node_id: str):
        self.node_id = node_id
        self.node_ids: list[str] = []  # the restored blocks
        self._plan = None
        self._restore = _Restore()
        self._dropped = None
        self.text = "Ungroup"

    def _make_plan(self, graph: Graph):
        from netbuilder.graph.composite import instance_graph

        inst = graph.node(self.node_id)
        if inst.definition is None:
            raise GraphError(f"{inst.name} is not a composite block; only composites ungroup")
        defn = inst.definition
        inner = instance_graph(defn, inst.params, None)
        ports = set(defn.inputs)
        blocks = [n for nid, n in inner.nodes.items() if nid not in ports]
        cx, cy = _centroid(blocks)
        dx, dy = inst.pos[0] - cx, inst.pos[1] - cy
        taken_ids = set(graph.nodes)
        taken_names = {n.name for n in graph.nodes.values() if n.id != inst.id}
        id_map: dict[str, str] = {}
        nodes: list[Node] = []
        for n in blocks:
            nid = n.id
            if nid in taken_ids:
                nid = graph.new_id()
                while nid in taken_ids:
                    nid = graph.new_id()
            taken_ids.add(nid)
            name = n.name
            if name in taken_names:
                name = graph.unique_name(n.block.name_prefix, taken_names)
            taken_names.add(name)
            id_map[n.id] = nid
            nodes.append(
                Node(
                    nid,
                    n.type,
                    name,
                    dict(n.params),
                    (n.pos[0] + dx, n.pos[1] + dy),
                    definition=n.definition,
                )
            )
        into = {e.dst_port: e.src for e in graph.edges_into(inst.id)}
        port_src = {pid: into.get(i) for i, pid in enumerate(defn.inputs)}
        edges: list[Edge] = []
        for e in defn.body.edges:
            if e.src in ports:
                if port_src[e.src] is not None:
                    edges.append(Edge(port_src[e.src], id_map[e.dst], e.dst_port))
            else:
                edges.append(Edge(id_map[e.src], id_map[e.dst], e.dst_port))
        out = defn.output_id
        for e in graph.edges_from(inst.id):
            if out is not None and out in id_map:
                edges.append(Edge(id_map[out], e.dst, e.dst_port))
        index = list(graph.nodes).index(inst.id)
        return inst, nodes, edges, index

    def redo(self, graph: Graph) -> None:
        from netbuilder.graph.composite import count_instances

        if self._plan is None:
            self._plan = self._make_plan(graph)
            self.node_ids = [n.id for n in self._plan[1]]
            self.text = f"Ungroup {self._plan[0].name}"
        inst, nodes, edges, index = self._plan
        with graph.batch():
            doomed = graph.edges_into(inst.id) + graph.edges_from(inst.id)
            doomed = [e for e in graph.edges if e in set(doomed)]
            self._restore.remove(graph, [inst.id], doomed)
            for i, node in enumerate(nodes):
                graph.insert_node(copy.copy(node), index + i)
            for e in edges:
                graph.insert_edge(e)
            name = inst.definition.name
            self._dropped = None
            if not graph.is_body and count_instances(graph, name) == 0:
                order = list(graph.definitions)
                self._dropped = (order.index(name), graph.definitions.pop(name))
            graph.emit_definition_change(name)

    def undo(self, graph: Graph) -> None:
        inst, nodes, edges, _ = self._plan
        with graph.batch():
            for e in reversed(edges):
                graph.remove_edge(e)
            for node in reversed(nodes):
                graph.remove_node(node.id)
            if self._dropped is not None:
                items = list(graph.definitions.items())
                items.insert(self._dropped[0], (self._dropped[1].name, self._dropped[1]))
                graph.definitions.clear()
                graph.definitions.update(items)
            self._restore.put_back(graph)
            graph.emit_definition_change(inst.definition.name)


class MakeUnique(Command):
    """Give one instance its own copy of its definition, so editing it leaves the others."""

    def __init__(self, node_id: str, name: str | None = None):
        self.node_id = node_id
        self.name = name
        self.copy = None
        self.old = None
        self.text = "Make Unique"

    def redo(self, graph: Graph) -> None:
        from netbuilder.graph.composite import check_definition_name, unique_definition_name

        node = graph.node(self.node_id)
        if self.copy is None:
            if node.definition is None:
                raise GraphError(f"{node.name} is not a composite block")
            self.old = node.definition
            name = self.name or unique_definition_name(graph.definitions, self.old.name + "2")
            reason = check_definition_name(name)
            if reason or name in graph.definitions:
                raise GraphError(reason or f"a composite called {name!r} already exists")
            self.copy = self.old.copy(name, graph.definitions)
            self.text = f"Make {node.name} Unique ({name})"
        with graph.batch():
            graph.definitions[self.copy.name] = self.copy
            node.definition = self.copy
            graph.set_params(self.node_id, node.params)

    def undo(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        with graph.batch():
            node.definition = self.old
            del graph.definitions[self.copy.name]
            graph.set_params(self.node_id, node.params)


class InDefinition(Command):
    """Run an edit command inside a definition's body; every instance follows."""

    def __init__(self, definition: str, command: Command):
        self.definition = definition
        self.command = command
        self.text = command.text

    def _body(self, graph: Graph) -> Graph:
        try:
            return graph.definitions[self.definition].body
        except KeyError:
            raise GraphError(f"no composite called {self.definition!r}") from None

    def redo(self, graph: Graph) -> None:
        body = self._body(graph)
        ports = graph.definitions[self.definition].inputs
        with graph.batch():
            self.command.redo(body)
            from netbuilder.graph.composite import uses_itself

            if uses_itself(graph.definitions[self.definition]):
                self.command.undo(body)
                raise GraphError(
                    f"{self.definition} cannot contain itself; use another composite or plain "
                    f"blocks here"
                )
            inputs = input_nodes(body)
            if sorted(inputs) != sorted(ports):
                self.command.undo(body)  # the body is as it was; nothing is recorded
                raise GraphError(
                    "a composite's inputs are the wires that entered it when it was grouped: "
                    "its Input blocks cannot be added or deleted inside; ungroup it to change "
                    "them"
                )
            self.text = self.command.text
            graph.emit_definition_change(self.definition)

    def undo(self, graph: Graph) -> None:
        body = self._body(graph)
        with graph.batch():
            self.command.undo(body)
            graph.emit_definition_change(self.definition)


class ExposeParam(Command):
    """Make a body parameter settable per instance under `name` (one name may drive the same
    parameter of several blocks, as out_channels drives both convs of a BasicBlock)."""

    project_level = True  # runs on the project graph, whichever level the editor shows

    def __init__(self, definition: str, name: str, node_ids, param: str):
        self.definition = definition
        self.name = name
        self.node_ids = list(node_ids)
        self.param = param
        self.text = f"Expose {name}"

    def redo(self, graph: Graph) -> None:
        from netbuilder.graph.composite import Exposed, check_exposed_name

        defn = graph.definitions.get(self.definition)
        if defn is None:
            raise GraphError(f"no composite called {self.definition!r}")
        reason = check_exposed_name(self.name)
        if reason:
            raise GraphError(reason)
        if any(e.name == self.name for e in defn.exposed):
            raise GraphError(f"{defn.name} already has a parameter {self.name!r}")
        if not self.node_ids:
            raise GraphError("choose the block(s) whose parameter to expose")
        for nid in self.node_ids:
            node = defn.body.node(nid)
            spec = next((p for p in node.block.params if p.name == self.param), None)
            if spec is not None and spec.auto:
                raise GraphError(
                    f"{node.name}'s {self.param} follows its input; there is no need to expose it"
                )
            if spec is None:
                raise GraphError(
                    f"{node.name} ({node.block.label}) has no parameter {self.param!r}"
                )
        with graph.batch():
            defn.exposed.append(Exposed(self.name, list(self.node_ids), self.param))
            default = defn.defaults()[self.name]
            for _g, node in _instances(graph, defn):  # every instance holds every value
                node.params = {**node.params, self.name: default}
            graph.emit_definition_change(defn.name)

    def undo(self, graph: Graph) -> None:
        defn = graph.definitions[self.definition]
        with graph.batch():
            defn.exposed = [e for e in defn.exposed if e.name != self.name]
            _strip_instance_param(graph, defn, self.name, {})
            graph.emit_definition_change(defn.name)


def _instances(graph: Graph, defn):
    """(graph, node) for every instance of defn, at the top level and in every body."""
    for g in [graph, *(d.body for d in graph.definitions.values())]:
        for node in g.nodes.values():
            if node.definition is defn:
                yield g, node


def _strip_instance_param(graph: Graph, defn, name: str, saved: dict) -> None:
    for _g, node in _instances(graph, defn):
        if name in node.params:
            saved[node.id] = node.params[name]
            node.params = {k: v for k, v in node.params.items() if k != name}


class AddComposite(Command):
    """Add an instance of a definition; `definition` may be a Definition not yet in the
    project (from "My blocks" or the shipped ones), which is then added with it."""

    def __init__(self, definition, pos, params: dict | None = None):
        from netbuilder.graph.composite import instance_params

        self.definition = definition
        self.pos = (float(pos[0]), float(pos[1]))
        self.params = instance_params(definition, params)
        self.node_id: str | None = None
        self._added: list[str] = []
        self.text = f"Add {definition.name}"

    def redo(self, graph: Graph) -> None:
        from netbuilder.graph.composite import COMPOSITE, NAME_PREFIX

        known = graph.definitions.get(self.definition.name)
        if known is not None and known is not self.definition:
            if known.to_dict() != self.definition.to_dict():
                raise GraphError(
                    f"this project already has a different composite called "
                    f"{self.definition.name!r}; rename one of them first"
                )
            self.definition = known  # the same content: use the project's copy
        if self.node_id is None:
            self.node_id = graph.new_id()
            self.name = graph.unique_name(NAME_PREFIX)
        missing = _missing_definitions(graph, self.definition)
        with graph.batch():
            self._added = [d.name for d in missing]
            for defn in missing:
                graph.definitions[defn.name] = defn
                defn.body.definitions = graph.definitions
            graph.insert_node(
                Node(
                    self.node_id,
                    COMPOSITE,
                    self.name,
                    dict(self.params),
                    self.pos,
                    definition=self.definition,
                )
            )

    def undo(self, graph: Graph) -> None:
        with graph.batch():
            for e in graph.edges_from(self.node_id) + graph.edges_into(self.node_id):
                graph.remove_edge(e)
            graph.remove_node(self.node_id)
            for name in self._added:
                del graph.definitions[name]


def _missing_definitions(graph: Graph, definition) -> list:
    """`definition` and those its body uses that the project lacks, used ones first; a
    different definition under a taken name is refused."""
    out, seen = [], set()

    def visit(defn):
        if defn.name in seen:
            return
        seen.add(defn.name)
        known = graph.definitions.get(defn.name)
        if known is defn:
            return
        if known is not None:
            if known.to_dict() == defn.to_dict():
                return
            raise GraphError(
                f"this project already has a different composite called {defn.name!r}; "
                f"rename one of them first"
            )
        for name in sorted(defn.used_definitions()):
            visit(defn.body.definitions[name])
        out.append(defn)

    visit(definition)
    return out


class RenameDefinition(Command):
    project_level = True

    def __init__(self, old: str, new: str):
        self.old = old
        self.new = new
        self.text = f"Rename {old} to {new}"

    def redo(self, graph: Graph) -> None:
        from netbuilder.graph.composite import check_definition_name

        reason = check_definition_name(self.new)
        if reason:
            raise GraphError(reason)
        if self.new in graph.definitions:
            raise GraphError(f"a composite called {self.new!r} already exists")
        self._move(graph, self.old, self.new)

    def undo(self, graph: Graph) -> None:
        self._move(graph, self.new, self.old)

    @staticmethod
    def _move(graph: Graph, old: str, new: str) -> None:
        items = [(new if k == old else k, v) for k, v in graph.definitions.items()]
        with graph.batch():
            defn = graph.definitions[old]
            defn.name = new
            defn.body.name = new
            graph.definitions.clear()
            graph.definitions.update(items)
            graph.emit_definition_change(new)
