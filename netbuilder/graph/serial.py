"""Graph <- dict, checking every field of data that may have been hand-edited."""

from __future__ import annotations

import math

from netbuilder.blocks import BlockError, get_block
from netbuilder.graph import limits
from netbuilder.graph.model import Edge, GraphError, Node, check_name


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise GraphError(f"{where}: {what}")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(value) -> str:
    """A value for a message, cut short: a 4,000-digit number must not fill the screen."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"a {len(str(abs(value)))}-digit number"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def graph_from_dict(cls, data, registry: dict | None = None, body: bool = False) -> object:
    """`registry`: the composite definitions instances may use (a project's, shared by its
    bodies); `body`: the data is a definition's body, whose Input blocks are its ports."""
    _need(isinstance(data, dict), "graph", "must be an object with 'nodes' and 'edges'")
    name = data.get("name", "Net")
    _need(isinstance(name, str), "graph.name", f"must be text such as Net (got {name!r:.60})")
    _need(
        len(name) <= limits.MAX_NAME_LENGTH,
        "graph.name",
        f"is {len(name):,} characters long; the limit is {limits.MAX_NAME_LENGTH}",
    )
    nodes = data.get("nodes")
    edges = data.get("edges", [])
    _need(isinstance(nodes, list), "graph.nodes", "must be a list of blocks")
    _need(isinstance(edges, list), "graph.edges", "must be a list of wires")
    _need(
        len(nodes) <= limits.MAX_BLOCKS,
        "graph.nodes",
        f"{len(nodes):,} blocks; a network may have up to {limits.MAX_BLOCKS:,}",
    )
    _need(
        len(edges) <= limits.MAX_WIRES,
        "graph.edges",
        f"{len(edges):,} wires; a network may have up to {limits.MAX_WIRES:,}",
    )
    unknown = set(data) - {"name", "nodes", "edges", "definitions"}
    _need(not unknown, "graph", f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")

    graph = cls(name)
    graph.is_body = body
    if registry is not None:
        graph.definitions = registry
    if "definitions" in data:
        _need(not body, "graph.definitions", "a composite's body cannot define composites")
        from netbuilder.graph.composite import definitions_from_list

        definitions_from_list(data["definitions"], graph.definitions)
    names: set[str] = set()
    for i, item in enumerate(nodes):
        where = f"graph.nodes[{i}]"
        _need(isinstance(item, dict), where, "must be an object")
        extra = set(item) - {"id", "type", "name", "params", "pos", "definition"}
        _need(not extra, where, f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
        nid = item.get("id")
        _need(isinstance(nid, str) and nid != "", f"{where}.id", "must be a non-empty string")
        _need(nid not in graph.nodes, f"{where}.id", f"{nid!r} is used twice")
        type_ = item.get("type")
        _need(isinstance(type_, str), f"{where}.type", "must be a block type name")
        definition = None
        if type_ == "Composite":
            ref = item.get("definition")
            _need(
                isinstance(ref, str) and ref in graph.definitions,
                f"{where}.definition",
                f"no composite definition named {ref!r} (definitions come before their use)",
            )
            definition = graph.definitions[ref]
            block = definition.block
        else:
            _need("definition" not in item, where, "only a Composite block has a definition")
            try:
                block = get_block(type_)
            except BlockError as exc:
                raise GraphError(f"{where}.type: {exc}") from None
        name = item.get("name")
        reason = check_name(name)
        _need(reason is None, f"{where}.name", reason or "")
        _need(name not in names, f"{where}.name", f"{name!r} is used by two blocks")
        names.add(name)
        where = f"graph.nodes[{i}] ({name})"
        params = item.get("params", {})
        _need(isinstance(params, dict), f"{where}.params", "must be an object")
        try:
            if definition is not None:
                from netbuilder.graph.composite import instance_params

                params = instance_params(definition, params)
            else:
                params = block.coerce_params(params)
        except BlockError as exc:
            raise GraphError(f"{where}.params: {exc}") from None
        for key, value in params.items():
            _need(
                not limits.int_beyond_limit(value),
                f"{where}.params.{key}",
                f"{_short(value)} is beyond the limit of {limits.MAX_INT:,} for a whole number",
            )
        pos = item.get("pos", [0.0, 0.0])
        _need(
            isinstance(pos, list | tuple) and len(pos) == 2 and all(_number(v) for v in pos),
            f"{where}.pos",
            "must be two numbers [x, y]",
        )
        _need(
            all(abs(v) <= limits.MAX_COORDINATE for v in pos),
            f"{where}.pos",
            f"{_short(pos)} is off the canvas; coordinates lie within "
            f"±{limits.MAX_COORDINATE:,.0f}",
        )
        graph.nodes[nid] = Node(
            nid, type_, name, params, (float(pos[0]), float(pos[1])), definition=definition
        )

    used_ports: set[tuple[str, int]] = set()
    for i, item in enumerate(edges):
        where = f"graph.edges[{i}]"
        _need(isinstance(item, dict), where, "must be an object with src, dst, dst_port")
        extra = set(item) - {"src", "dst", "dst_port"}
        _need(not extra, where, f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
        src, dst, port = item.get("src"), item.get("dst"), item.get("dst_port", 0)
        _need(
            isinstance(src, str) and src in graph.nodes, f"{where}.src", f"no block with id {src!r}"
        )
        _need(
            isinstance(dst, str) and dst in graph.nodes, f"{where}.dst", f"no block with id {dst!r}"
        )
        _need(
            isinstance(port, int) and not isinstance(port, bool) and port >= 0,
            f"{where}.dst_port",
            "must be a port number 0, 1, ...",
        )
        _need(
            port <= limits.MAX_INPUT_PORT,
            f"{where}.dst_port",
            f"{_short(port)} is beyond the highest input port, {limits.MAX_INPUT_PORT}",
        )
        block = graph.nodes[dst].block
        _need(block.inputs != 0, where, f"{graph.nodes[dst].name} is an Input and takes no wire")
        _need(
            block.inputs < 0 or port < block.inputs,
            f"{where}.dst_port",
            f"{graph.nodes[dst].name} has no input port {port}",
        )
        edge = Edge(src, dst, port)
        _need(
            (dst, port) not in used_ports,  # a set: a 10,000-block file loads in linear time
            where,
            f"two wires go into input {port} of {graph.nodes[dst].name}",
        )
        used_ports.add((dst, port))
        graph.edges.append(edge)
    # loops are loaded as they are and reported on their nodes by inference
    from netbuilder.graph.inference import run_inference

    run_inference(graph)
    return graph
