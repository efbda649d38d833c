"""Shape inference and validation: every node gets its shapes, parameter count and problems.

Each problem is a sentence on the node it belongs to: what is wrong, then how to fix it.
"""

from __future__ import annotations

from netbuilder.blocks import BlockError

LOOP_NAMES_SHOWN = 6  # a loop's message names this many blocks, then counts the rest


def _loop_members(graph) -> dict[str, tuple[list[str], int]]:
    """node id -> (the names of the next few nodes on a loop through it, how many others
    the loop holds), in wiring order
    (Tarjan's strongly connected components, iterative: linear in the graph's size)."""
    succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for e in graph.edges:
        succ[e.src].append(e.dst)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    members: dict[str, list[str]] = {}
    for root in graph.nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            nid, i = work.pop()
            if i == 0:
                index[nid] = low[nid] = len(index)
                stack.append(nid)
                on_stack.add(nid)
            for j in range(i, len(succ[nid])):
                nxt = succ[nid][j]
                if nxt not in index:
                    work.append((nid, j + 1))
                    work.append((nxt, 0))
                    break
                if nxt in on_stack:
                    low[nid] = min(low[nid], index[nxt])
            else:
                if low[nid] == index[nid]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == nid:
                            break
                    if len(component) > 1 or nid in succ[nid]:
                        component.reverse()  # the order the wires run
                        size = len(component)
                        for k, member in enumerate(component):
                            # the next few along the loop, and how many there are in all
                            shown = [
                                component[(k + 1 + m) % size]
                                for m in range(min(LOOP_NAMES_SHOWN, size - 1))
                            ]
                            members[member] = (shown, size - 1)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[nid])
    return {
        nid: ([graph.nodes[o].name for o in shown], count)
        for nid, (shown, count) in members.items()
    }


def _depths(graph, order: list[str]) -> dict[str, int]:
    consumers: dict[str, list[str]] = {}
    for e in graph.edges:  # one pass: edges_from per node would be O(nodes x edges)
        consumers.setdefault(e.src, []).append(e.dst)
    depth = {nid: 0 for nid in order}
    for nid in order:
        for dst in consumers.get(nid, ()):
            if dst in depth:
                depth[dst] = max(depth[dst], depth[nid] + 1)
    return depth


def output_node(graph, order: list[str] | None = None) -> str | None:
    """The network's output: the unused output furthest from the input (ties: latest added)."""
    if order is None:
        order = graph.topological_order()
    if not order:
        return None
    depth = _depths(graph, order)
    sources = {e.src for e in graph.edges}
    targets = {e.dst for e in graph.edges}
    sinks = [
        nid
        for nid in order
        if nid not in sources and nid in targets and graph.nodes[nid].block.inputs != 0
    ]
    if not sinks:
        return None
    rank = {nid: i for i, nid in enumerate(graph.nodes)}
    return max(sinks, key=lambda nid: (depth[nid], rank[nid]))


def run_inference(graph) -> None:
    nodes = graph.nodes
    # a composite's body shown for one instance: that instance's exposed values
    overrides = getattr(graph, "param_overrides", None) or {}
    eff = {nid: {**n.params, **overrides.get(nid, {})} for nid, n in nodes.items()}
    for nid, node in nodes.items():
        node.in_shapes = []
        node.out_shape = None
        node.resolved = dict(eff[nid])
        node.param_count = 0
        node.problems = []

    order = graph.topological_order()
    # only nodes left out of the order can be on a loop; skip the quadratic search otherwise
    loops = _loop_members(graph) if len(order) < len(nodes) else {}
    for nid, (shown, count) in loops.items():
        node = nodes[nid]
        rest = count - len(shown)
        more = [f"... {rest} more"] if rest else []
        path = " -> ".join([node.name, *shown, *more, node.name])
        node.problems.append(
            f"{node.name} is part of a loop ({path}); a network must flow one way, so remove "
            f"one of the wires in the loop"
        )

    inputs = [nid for nid, n in nodes.items() if n.type == "Input"]
    # a composite's body has one Input per port
    for extra in [] if graph.is_body else inputs[1:]:
        name = nodes[extra].name
        nodes[extra].problems.append(
            f"{name} is a second Input block, but a network takes one input "
            f"({nodes[inputs[0]].name}); delete {name} and wire its consumers to "
            f"{nodes[inputs[0]].name}"
        )

    out_id = output_node(graph, order)
    sources = {e.src for e in graph.edges}
    targets = {e.dst for e in graph.edges}
    edges_into: dict[str, list] = {}
    for e in graph.edges:  # one pass, as graph.edges_into would per node
        edges_into.setdefault(e.dst, []).append(e)
    for nid in order:
        node = nodes[nid]
        block = node.block
        into = sorted(edges_into.get(nid, ()), key=lambda e: e.dst_port)
        isolated = nid not in sources and nid not in targets
        if isolated and block.inputs != 0:
            node.problems.append(
                f"{node.name} is not connected; wire a block's output into it and its output "
                f"onward, or delete it"
            )
            _count_only(node)
            continue
        if block.inputs == 0:
            port_shape = graph.port_shapes.get(nid)
            if port_shape is not None:
                node.resolved = {**node.params, "shape": tuple(port_shape)}
                node.out_shape = tuple(port_shape)
            else:
                _infer_node(node, [], eff[nid])
            if nid not in sources and (graph.is_body or nid == (inputs[0] if inputs else None)):
                node.problems.append(
                    f"{node.name} is not connected to anything; wire it into the first layer"
                )
            continue

        if block.inputs > 0:
            ports = {e.dst_port: e for e in into}
            missing = [p for p in range(block.inputs) if p not in ports]
            # one entry per port, None where nothing (valid) arrives
            node.in_shapes = [
                nodes[ports[p].src].out_shape if p in ports else None for p in range(block.inputs)
            ]
            if missing:
                if block.inputs == 1:
                    msg = f"{node.name} has no input; wire the output of a previous block into it"
                else:
                    which = " and ".join(str(p + 1) for p in missing)
                    msg = (
                        f"{node.name} needs {block.inputs} inputs but input {which} is not "
                        f"connected; wire another branch into it"
                    )
                node.problems.append(msg)
                _count_only(node)
                continue
        elif len(into) < block.min_inputs:
            node.problems.append(
                f"{node.name} ({block.label}) needs at least {block.min_inputs} inputs but has "
                f"{len(into)}; wire another block into it"
            )
            _count_only(node)
            continue

        in_shapes = [nodes[e.src].out_shape for e in into]
        node.in_shapes = list(in_shapes)
        if any(s is None for s in in_shapes):
            # the producer already carries the message; do not repeat it downstream
            _count_only(node)
        else:
            _infer_node(node, in_shapes, eff[nid])
        if nid not in sources and nid != out_id:
            node.problems.append(
                f"{node.name}'s output is not used (the network's output is "
                f"{nodes[out_id].name if out_id else 'undecided'}); connect it to a following "
                f"block or delete it"
            )


def _infer_composite(node, in_shapes, params=None) -> None:
    """Run the body with this instance's inputs and values; its problems get a path prefix
    (`block2 > conv1: ...`) so they read the same at any depth."""
    from netbuilder.graph.composite import instance_graph, uses_itself

    if uses_itself(node.definition):
        node.problems.append(
            f"{node.name} ({node.definition.name}) contains itself; remove the inner "
            f"{node.definition.name} block"
        )
        return
    inner = instance_graph(node.definition, node.params if params is None else params, in_shapes)
    node.inner = inner
    node.param_count = inner.total_params
    if in_shapes is None:
        return
    out = output_node(inner)
    problems = [msg for _, msg in inner.problems()]
    node.problems.extend(f"{node.name} > {msg}" for msg in problems)
    if out is None:
        node.problems.append(
            f"{node.name} ({node.definition.name}) has no output inside; enter it and wire its "
            f"input through to a last block"
        )
    elif not problems:
        node.out_shape = inner.nodes[out].out_shape


def _infer_node(node, in_shapes, params=None) -> None:
    if node.definition is not None:
        _infer_composite(node, in_shapes, params)
        return
    block = node.block
    params = node.params if params is None else params
    try:
        node.resolved = block.resolve(params, in_shapes)
        node.out_shape = block.infer(params, in_shapes)
    except BlockError as exc:
        node.problems.append(f"{node.name}: {exc}")
        node.out_shape = None
    node.param_count = _safe_count(node, in_shapes, params)
    _check_size(node)


def _check_size(node) -> None:
    """A block too large to build is a problem on it, not a memory error when training."""
    from netbuilder.graph import limits

    if node.param_count is not None and node.param_count > limits.MAX_PARAMS_PER_BLOCK:
        node.problems.append(
            f"{node.name} would have {node.param_count:.3g} parameters, more than the "
            f"{limits.MAX_PARAMS_PER_BLOCK:,} a block may have; make it smaller"
        )
    values = 1
    for d in node.out_shape or ():
        values *= d
    if values > limits.MAX_VALUES_PER_SAMPLE:
        node.problems.append(
            f"{node.name} gives {values:.3g} values per sample, more than the "
            f"{limits.MAX_VALUES_PER_SAMPLE:,} a block may give; make it smaller"
        )


def _count_only(node) -> None:
    if node.definition is not None:
        _infer_composite(node, None)
        return
    node.param_count = _safe_count(node, [])


def _safe_count(node, in_shapes, params=None) -> int | None:
    """The count, or None while it cannot be known (an input size missing, a bad value)."""
    try:
        return node.block.param_count(node.params if params is None else params, in_shapes)
    except (BlockError, TypeError, ValueError, ArithmeticError):
        return None
