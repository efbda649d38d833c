"""The network being edited: nodes, edges, change notifications. No Qt."""

from __future__ import annotations

import contextlib
import heapq
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field

from netbuilder.blocks import BlockError, get_block
from netbuilder.graph.limits import MAX_INPUT_PORT


class GraphError(BlockError):
    """An edit the graph refuses (bad wire, bad name); the message says why and how to fix it.

    A BlockError, so callers can catch every refused edit with one except clause.
    """


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    dst_port: int = 0


@dataclass(frozen=True)
class Change:
    kind: str  # node_added, node_removed, edge_added, edge_removed, node_moved,
    # params_changed, renamed, network_renamed, reset, definition_changed
    node_id: str | None = None
    edge: Edge | None = None


@dataclass
class Node:
    id: str
    type: str
    name: str
    params: dict
    pos: tuple[float, float] = (0.0, 0.0)
    # derived, rewritten by inference after every change; views read them, never write
    in_shapes: list = field(default_factory=list)
    out_shape: tuple | None = None
    resolved: dict = field(default_factory=dict)
    param_count: int | None = 0  # None: depends on an input size not known yet
    problems: list[str] = field(default_factory=list)
    # a composite ("Composite" type): its Definition (shared by every instance) and, derived,
    # its body as inferred with this instance's inputs and exposed parameter values
    definition: object = None
    inner: object = field(default=None, repr=False)

    @property
    def block(self):
        if self.definition is not None:
            return self.definition.block
        return get_block(self.type)

    @property
    def summary(self) -> str:
        return self.block.summary(self.resolved or self.params)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "pos": [float(self.pos[0]), float(self.pos[1])],
        } | ({"definition": self.definition.name} if self.definition is not None else {})


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def check_name(name: object) -> str | None:
    """Why `name` cannot name a node, or None."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        return (
            f"{name!r} is not a valid name; use letters, digits and _ and start with a letter, "
            f"like conv1"
        )
    if keyword.iskeyword(name) or name in RESERVED_NAMES:
        return f"{name!r} is reserved in the exported code; choose another name, like {name}1"
    if name.startswith("_"):
        return f"{name!r} starts with _, which PyTorch treats as private; remove the underscore"
    return None


def check_network_name(name: object) -> str | None:
    """Why `name` cannot name the network (its class in the exported code), or None."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        return (
            f"{name!r} cannot name the network's class; use letters, digits and _ and start "
            "with a letter, like LeNet"
        )
    if keyword.iskeyword(name) or (name in RESERVED_NAMES and name != "Net"):
        return f"{name!r} is reserved in the exported code; choose another name, like {name}Net"
    if name.startswith("_"):
        return f"{name!r} starts with _; start the class name with a letter"
    return None


# names the exported script uses, and nn.Module's own attributes (torch's and the engine's):
# a block named `to` or `state_dict` would shadow the method
_MODULE_ATTRS = (
    "T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda "
    "double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter "
    "get_submodule half ipu load_state_dict modules mtia named_buffers named_children "
    "named_modules named_parameters parameters register_backward_hook register_buffer "
    "register_forward_hook register_forward_pre_hook register_full_backward_hook "
    "register_full_backward_pre_hook register_load_state_dict_post_hook "
    "register_load_state_dict_pre_hook register_module register_parameter "
    "register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state "
    "set_submodule share_memory state_dict to to_empty train training type xpu zero_grad"
)
RESERVED_NAMES = frozenset(
    _MODULE_ATTRS.split()
    + "self x torch nn F np optim run main Net INPUT_SHAPE super print len range".split()
)


class Graph:
    """Nodes (insertion order) and edges; every mutation re-runs shape inference and tells the
    subscribers once per command (see `batch`)."""

    def __init__(self, name: str = "Net"):
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._subscribers: list[Callable] = []
        self._batch_depth = 0
        self._pending: list[Change] = []
        self._next_id = 1
        # composite definitions by name; a definition's body shares its project's dict
        self.definitions: dict = {}
        # a definition's body: its Input blocks are the ports, shaped by port_shapes
        self.is_body = False
        self.port_shapes: dict[str, tuple] = {}
        # {node id: {param: value}} an entered instance's exposed values, for display only
        self.param_overrides: dict[str, dict] = {}

    # -- notifications -----------------------------------------------------------------------
    def subscribe(self, callback: Callable) -> None:
        if callback not in self._subscribers:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    @contextlib.contextmanager
    def batch(self):
        """Group mutations: inference runs and subscribers hear once, at the outermost end."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._flush()

    def _emit(self, change: Change) -> None:
        self._pending.append(change)
        if self._batch_depth == 0:
            self._flush()

    def _flush(self) -> None:
        from netbuilder.graph.inference import run_inference

        run_inference(self)
        changes, self._pending = self._pending, []
        if changes:
            for callback in list(self._subscribers):
                callback(changes)

    # -- queries -----------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no block with id {node_id!r}") from None

    def node_by_name(self, name: str) -> Node | None:
        for node in self.nodes.values():
            if node.name == name:
                return node
        return None

    def edges_into(self, node_id: str) -> list[Edge]:
        return sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.dst_port)

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def port_count(self, node_id: str) -> int:
        """Input ports to draw: fixed for most blocks; Concat shows one free port past the last."""
        block = self.node(node_id).block
        if block.inputs >= 0:
            return block.inputs
        used = [e.dst_port for e in self.edges_into(node_id)]
        return max(block.min_inputs, (max(used) + 2) if used else 0)

    def topological_order(self) -> list[str]:
        """Node ids, producers before consumers (insertion order breaks ties); nodes on a cycle
        are left out."""
        rank = {nid: i for i, nid in enumerate(self.nodes)}
        indegree = dict.fromkeys(self.nodes, 0)
        consumers: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for e in self.edges:
            indegree[e.dst] += 1
            consumers[e.src].append(e.dst)
        ready = [(rank[nid], nid) for nid, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, nid = heapq.heappop(ready)
            order.append(nid)
            for dst in consumers[nid]:
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    heapq.heappush(ready, (rank[dst], dst))
        return order

    def reaches(self, start: str, goal: str) -> bool:
        """True when a path of edges leads from start to goal."""
        consumers: dict[str, list[str]] = {}
        for e in self.edges:  # once: scanning the edges per block is quadratic
            consumers.setdefault(e.src, []).append(e.dst)
        seen, stack = set(), [start]
        while stack:
            nid = stack.pop()
            if nid == goal:
                return True
            if nid in seen:
                continue
            seen.add(nid)
            stack.extend(consumers.get(nid, ()))
        return False

    def check_connection(self, src: str, dst: str, dst_port: int) -> str | None:
        """Why a wire src -> dst:dst_port is refused, or None when it may be made."""
        if src not in self.nodes or dst not in self.nodes:
            return "both ends of a wire must be existing blocks"
        s, d = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"{d.name} cannot feed itself; connect it to another block"
        block = d.block
        if block.inputs == 0:
            return f"{d.name} is an Input block and takes no input; wire into the next block"
        if not isinstance(dst_port, int) or dst_port < 0:
            return f"{d.name} has no input port {dst_port!r}"
        if block.inputs < 0 and dst_port > MAX_INPUT_PORT:
            return f"{d.name} takes inputs on ports 0..{MAX_INPUT_PORT}"
        if block.inputs > 0 and dst_port >= block.inputs:
            ports = "one input" if block.inputs == 1 else f"{block.inputs} inputs"
            return f"{d.name} ({block.label}) has {ports}; use port 0..{block.inputs - 1}"
        if Edge(src, dst, dst_port) in self.edges:
            return f"{s.name} is already connected to that input of {d.name}"
        if self.reaches(dst, src):
            return (
                f"wiring {s.name} into {d.name} would make a loop ({d.name} already feeds "
                f"{s.name}); networks must flow one way"
            )
        return None

    def emit_definition_change(self, name: str) -> None:
        """A definition's body or parameters changed: its instances are inferred again."""
        self._emit(Change("definition_changed", node_id=None))

    @property
    def total_params(self) -> int:
        """The parameters whose count is known (see `unknown_counts` for the others)."""
        return sum(n.param_count or 0 for n in self.nodes.values())

    @property
    def unknown_counts(self) -> list[str]:
        """Names of the blocks whose parameter count waits on an input size."""
        return [n.name for n in self.nodes.values() if n.param_count is None]

    def problems(self) -> list[tuple[str, str]]:
        return [(nid, msg) for nid, n in self.nodes.items() for msg in n.problems]

    @property
    def is_valid(self) -> bool:
        from netbuilder.graph.inference import output_node

        return bool(self.nodes) and not self.problems() and output_node(self) is not None

    # -- names and ids -----------------------------------------------------------------------
    def new_id(self) -> str:
        while f"n{self._next_id}" in self.nodes:
            self._next_id += 1
        nid = f"n{self._next_id}"
        self._next_id += 1
        return nid

    def unique_name(self, prefix: str, taken: set[str] | None = None) -> str:
        used = {n.name for n in self.nodes.values()} | (taken or set())
        i = 1
        while f"{prefix}{i}" in used:
            i += 1
        return f"{prefix}{i}"

    # -- primitive mutations (commands call these) -------------------------------------------
    def insert_node(self, node: Node, index: int | None = None) -> None:
        if node.id in self.nodes:
            raise GraphError(f"a block with id {node.id!r} already exists")
        items = list(self.nodes.items())
        if index is None or index >= len(items):
            items.append((node.id, node))
        else:
            items.insert(index, (node.id, node))
        self.nodes = dict(items)
        self._emit(Change("node_added", node_id=node.id))

    def remove_node(self, node_id: str) -> tuple[Node, int]:
        """Removes a node that has no edges; returns it and its former index."""
        index = list(self.nodes).index(node_id)
        node = self.nodes.pop(node_id)
        self._emit(Change("node_removed", node_id=node_id))
        return node, index

    def insert_edge(self, edge: Edge, index: int | None = None) -> None:
        if index is None:
            self.edges.append(edge)
        else:
            self.edges.insert(index, edge)
        self._emit(Change("edge_added", edge=edge))

    def remove_edge(self, edge: Edge) -> int:
        index = self.edges.index(edge)
        del self.edges[index]
        self._emit(Change("edge_removed", edge=edge))
        return index

    def set_params(self, node_id: str, params: dict) -> None:
        self.node(node_id).params = dict(params)
        self._emit(Change("params_changed", node_id=node_id))

    def set_name(self, node_id: str, name: str) -> None:
        self.node(node_id).name = name
        self._emit(Change("renamed", node_id=node_id))

    def set_network_name(self, name: str) -> None:
        self.name = name
        self._emit(Change("network_renamed"))

    def set_pos(self, node_id: str, pos) -> None:
        self.node(node_id).pos = (float(pos[0]), float(pos[1]))
        self._emit(Change("node_moved", node_id=node_id))

    def replace_with(self, other: Graph) -> None:
        """Take over another graph's content (open / new); subscribers hear 'reset'."""
        self.name = other.name
        self.nodes = other.nodes
        self.edges = other.edges
        self._next_id = other._next_id
        self.definitions = other.definitions
        self._emit(Change("reset"))

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [{"src": e.src, "dst": e.dst, "dst_port": e.dst_port} for e in self.edges],
        }
        if self.definitions and not self.is_body:
            from netbuilder.graph.composite import definitions_in_order

            data["definitions"] = [d.to_dict() for d in definitions_in_order(self.definitions)]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Graph:
        """Build a graph from its dict form; raises GraphError("<where>: <what>") on bad data.

        Out-of-range values load and show as problems on their node, like any other mistake.
        """
        from netbuilder.graph.serial import graph_from_dict

        return graph_from_dict(cls, data)

    def copy(self) -> Graph:
        return Graph.from_dict(self.to_dict())
