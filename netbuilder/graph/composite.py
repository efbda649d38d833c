"""Composite blocks: a definition (a body graph with input ports and exposed parameters) used
by any number of instances. No Qt.

A definition's body is an ordinary Graph whose Input blocks are the ports (in `inputs` order)
and whose output is the body's output block. An exposed parameter ("out_channels") sets one or
more parameters inside the body; each instance stores its own values, so two ConvBNReLU
instances may differ in width or stride while sharing one definition. Inference runs the body
once per instance with that instance's input shapes and values (`instance_graph`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from netbuilder.blocks import BlockError, BlockType, ParamSpec, get_block
from netbuilder.blocks.spec import fmt_shape
from netbuilder.graph.inference import input_nodes
from netbuilder.graph.model import Graph, GraphError, Node

COMPOSITE = "Composite"  # the node type of every instance; Node.definition says which
CATEGORY = "Composites"
NAME_PREFIX = "block"
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")


def check_definition_name(name: object) -> str | None:
    """Why `name` cannot name a definition (it becomes a Python class name), or None."""
    if not isinstance(name, str) or not _CLASS_NAME.match(name) or not name.isascii():
        return (
            f"{name!r} is not a valid composite name; it becomes a class name in exported "
            f"code, so use letters and digits starting with a capital, like ConvBNReLU"
        )
    if name in ("Net", "Module", "Tensor", "F") or get_block_or_none(name) is not None:
        return f"{name!r} is taken by a built-in block or the exported code; choose another"
    return None


def check_exposed_name(name: object) -> str | None:
    """Why `name` cannot name an exposed parameter (a constructor argument), or None."""
    import keyword

    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or not name.isascii()
        or keyword.iskeyword(name)
        or name.startswith("_")
        or name in ("self", "x", "in_channels", "nn", "F", "torch")
    ):
        return (
            f"{name!r} cannot name a parameter of the exported class; use letters, digits and "
            f"_ such as out_channels"
        )
    return None


def get_block_or_none(type_: str):
    try:
        return get_block(type_)
    except BlockError:
        return None


@dataclass
class Exposed:
    """An instance-level parameter: `name` sets `param` on every body node in `node_ids`."""

    name: str
    node_ids: list[str]
    param: str

    def to_dict(self) -> dict:
        return {"name": self.name, "nodes": list(self.node_ids), "param": self.param}


class Definition:
    """One composite block type. Shared by identity: copying a node keeps its definition."""

    def __init__(
        self,
        name: str,
        body: Graph,
        inputs: list[str],
        exposed: list[Exposed] | None = None,
        description: str = "",
    ):
        self.name = name
        self.body = body
        body.is_body = True
        self.inputs = list(inputs)
        self.exposed = list(exposed or [])
        self.description = description
        self._block: BlockType | None = None
        self._block_key = None

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __repr__(self) -> str:
        return f"Definition({self.name!r}, {len(self.body.nodes)} blocks)"

    # -- structure ---------------------------------------------------------------------------
    @property
    def output_id(self) -> str | None:
        from netbuilder.graph.inference import output_node

        return output_node(self.body)

    def used_definitions(self) -> set[str]:
        return {n.definition.name for n in self.body.nodes.values() if n.definition is not None}

    def exposed_spec(self, exposed: Exposed) -> ParamSpec:
        node = self.body.nodes[exposed.node_ids[0]]
        spec = node.block.spec(exposed.param)
        return dataclasses.replace(
            spec,
            name=exposed.name,
            default=node.params.get(exposed.param),
            help=f"{spec.help} (sets {exposed.param} of "
            f"{', '.join(self.body.nodes[n].name for n in exposed.node_ids)})",
        )

    def defaults(self) -> dict:
        return {e.name: self.body.nodes[e.node_ids[0]].params.get(e.param) for e in self.exposed}

    @property
    def block(self) -> BlockType:
        """The palette/inspector face of this definition, rebuilt when its ports or exposed
        parameters change."""
        key = (
            self.name,
            self.description,
            len(self.inputs),
            tuple((e.name, tuple(e.node_ids), e.param) for e in self.exposed),
            tuple(
                repr(self.body.nodes[e.node_ids[0]].params.get(e.param))
                for e in self.exposed
                if e.node_ids[0] in self.body.nodes
            ),
        )
        if self._block is None or key != self._block_key:
            self._block = BlockType(
                type=COMPOSITE,
                label=self.name,
                category=CATEGORY,
                description=self.description
                or f"A composite block of {len(self.body.nodes) - len(self.inputs)} blocks.",
                params=tuple(self.exposed_spec(e) for e in self.exposed),
                inputs=len(self.inputs),
                outputs=1,
                name_prefix=NAME_PREFIX,
                icon="composite.svg",
                shape_fn=None,
                count_fn=lambda p, s: 0,
                summary_fn=_summary,
                min_inputs=len(self.inputs),
            )
            self._block_key = key
        return self._block

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        body = self.body.to_dict()
        data = {
            "name": self.name,
            "inputs": list(self.inputs),
            "exposed": [e.to_dict() for e in self.exposed],
            "nodes": body["nodes"],
            "edges": body["edges"],
        }
        if self.description:
            data["description"] = self.description
        return data

    def copy(self, name: str, registry: dict) -> Definition:
        """A separate definition with the same content (for "make unique")."""
        return definition_from_dict(self.to_dict() | {"name": name}, registry, "definition")


def _summary(p: dict) -> str:
    """Short, as the built-in blocks' faces: "32 s2" for out_channels=32, stride=2."""
    parts = []
    for key, value in p.items():
        text = fmt_shape(value) if isinstance(value, tuple) else str(value)
        if key.endswith(("channels", "features")) or key in ("width", "planes"):
            parts.append(text)
        elif key == "stride":
            if value not in (1, (1, 1)):
                parts.append(f"s{text}")
        elif key == "kernel_size":
            parts.append(f"{text}x{text}" if isinstance(value, int) else text)
        elif key == "padding":
            if value not in (0, (0, 0), "valid"):
                parts.append(f"p{text}")
        else:
            parts.append(f"{key}={text}")
    return " ".join(parts)


def definitions_in_order(registry: dict) -> list[Definition]:
    """Every definition after the ones its body uses (files load front to back)."""
    out: list[Definition] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for used in sorted(registry[name].used_definitions()):
            if used in registry:
                visit(used)
        out.append(registry[name])

    for name in registry:
        visit(name)
    return out


def definition_from_dict(data, registry: dict, where: str) -> Definition:
    """Parse one definition; its body may use definitions already in `registry`."""
    from netbuilder.graph.serial import graph_from_dict

    if not isinstance(data, dict):
        raise GraphError(f"{where}: must be an object")
    extra = set(data) - {"name", "inputs", "exposed", "nodes", "edges", "description"}
    if extra:
        raise GraphError(f"{where}: unknown field(s) {', '.join(sorted(map(str, extra)))}")
    name = data.get("name")
    reason = check_definition_name(name)
    if reason:
        raise GraphError(f"{where}.name: {reason}")
    where = f"{where} ({name})"
    body = graph_from_dict(
        Graph,
        {"name": name, "nodes": data.get("nodes"), "edges": data.get("edges", [])},
        registry=registry,
        body=True,
    )
    inputs = data.get("inputs", [])
    if not isinstance(inputs, list) or not all(
        isinstance(i, str) and i in body.nodes and body.nodes[i].type == "Input" for i in inputs
    ):
        raise GraphError(f"{where}.inputs: must list the ids of the body's Input blocks")
    ports = input_nodes(body)
    if sorted(ports) != sorted(inputs) or not inputs:
        raise GraphError(f"{where}.inputs: every Input block of the body is a port, in order")
    exposed = []
    raw = data.get("exposed", [])
    if not isinstance(raw, list):
        raise GraphError(f"{where}.exposed: must be a list")
    for i, item in enumerate(raw):
        w = f"{where}.exposed[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "nodes", "param"}:
            raise GraphError(f"{w}: must be an object with name, nodes and param")
        ename, ids, param = item["name"], item["nodes"], item["param"]
        reason = check_exposed_name(ename)
        if reason:
            raise GraphError(f"{w}.name: {reason}")
        if not isinstance(ids, list) or not ids or not all(i in body.nodes for i in ids):
            raise GraphError(f"{w}.nodes: must list body block ids")
        if not all(
            isinstance(param, str) and param in {p.name for p in body.nodes[i].block.params}
            for i in ids
        ):
            raise GraphError(f"{w}.param: {param!r} is not a parameter of every listed block")
        exposed.append(Exposed(ename, list(ids), param))
    if len({e.name for e in exposed}) != len(exposed):
        raise GraphError(f"{where}.exposed: two exposed parameters share a name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise GraphError(f"{where}.description: must be text")
    return Definition(name, body, inputs, exposed, description)


def definitions_from_list(items, registry: dict, where: str = "graph.definitions") -> None:
    if not isinstance(items, list):
        raise GraphError(f"{where}: must be a list of composite definitions")
    for i, item in enumerate(items):
        defn = definition_from_dict(item, registry, f"{where}[{i}]")
        if defn.name in registry:
            raise GraphError(f"{where}[{i}].name: {defn.name!r} is defined twice")
        registry[defn.name] = defn


# -- instances ---------------------------------------------------------------------------------


def instance_params(defn: Definition, params: dict | None) -> dict:
    """Exposed values for an instance: defaults, then `params`, types checked."""
    out = defn.defaults()
    specs = {s.name: s for s in defn.block.params}
    for key, value in (params or {}).items():
        if key not in specs:
            raise BlockError(f"{defn.name} has no parameter {key!r}")
        out[key] = specs[key].coerce(value)
    return out


def instance_graph(defn: Definition, params: dict, in_shapes: list | None) -> Graph:
    """The body with this instance's exposed values, inferred with its input shapes."""
    from netbuilder.graph.inference import run_inference

    g = Graph(defn.name)
    g.is_body = True
    g.definitions = defn.body.definitions
    overrides: dict[tuple[str, str], object] = {}
    for e in defn.exposed:
        if e.name in params:
            for nid in e.node_ids:
                overrides[nid, e.param] = params[e.name]
    for nid, n in defn.body.nodes.items():
        p = dict(n.params)
        for (oid, key), value in overrides.items():
            if oid == nid:
                p[key] = value
        g.nodes[nid] = Node(nid, n.type, n.name, p, n.pos, definition=n.definition)
    g.edges = list(defn.body.edges)
    if in_shapes is not None:
        g.port_shapes = dict(zip(defn.inputs, in_shapes, strict=False))
    run_inference(g)
    return g


def uses_itself(defn: Definition) -> bool:
    """True when the definition's body holds, at some depth, an instance of itself."""
    seen: set[str] = set()
    stack = [defn]
    while stack:
        current = stack.pop()
        for node in current.body.nodes.values():
            inner = node.definition
            if inner is None:
                continue
            if inner is defn or inner.name == defn.name:
                return True
            if inner.name not in seen:
                seen.add(inner.name)
                stack.append(inner)
    return False


def count_instances(graph: Graph, name: str) -> int:
    """Instances of definition `name` in the graph and in every definition body."""
    total = sum(1 for n in graph.nodes.values() if n.definition and n.definition.name == name)
    for d in graph.definitions.values():
        total += sum(1 for n in d.body.nodes.values() if n.definition and n.definition.name == name)
    return total


def unique_definition_name(registry: dict, base: str) -> str:
    if base not in registry and check_definition_name(base) is None:
        return base
    stem = base.rstrip("0123456789") or "Block"
    i = 2
    while f"{stem}{i}" in registry:
        i += 1
    return f"{stem}{i}"
