"""The `Net` class of an exported script: attributes named after the nodes, a forward written as
a person would (`x = F.max_pool2d(F.relu(self.conv1(x)), 2)`)."""

from __future__ import annotations

from netbuilder.blocks import BlockError
from netbuilder.graph.inference import output_node

MAX_LINE = 96  # keep generated lines under the project's 100-column limit


class ExportError(BlockError):
    """The graph or the weights cannot be exported; the message says why and how to fix it."""


def _inline_candidates(graph) -> set[str]:
    """Nodes whose value is written inside their single consumer's call."""
    inline = set()
    for nid, node in graph.nodes.items():
        if node.type == "Input":
            continue
        out = graph.edges_from(nid)
        if len(out) == 1 and graph.nodes[out[0].dst].block.fold:
            inline.add(nid)
    return inline


def forward_lines(graph) -> list[str]:
    """The body of forward(self, x), one statement per line, ending with `return ...`."""
    problems = graph.problems()
    if problems:
        raise ExportError("the network has problems: " + "; ".join(m for _, m in problems))
    out_id = output_node(graph)
    if out_id is None:
        raise ExportError("the network has no output; wire the Input through at least one block")
    order = graph.topological_order()
    inline = _inline_candidates(graph)
    while True:
        lines, too_long = _emit(graph, order, inline, out_id)
        if too_long is None:
            return lines
        inline.discard(too_long)  # give the innermost call its own statement


def _emit(graph, order, inline, out_id):
    nodes = graph.nodes
    statements = [nid for nid in order if nid not in inline]
    position = {nid: i for i, nid in enumerate(statements)}

    def statement_of(nid: str) -> str:
        # the statement whose expression contains this node's value
        while nid in inline:
            nid = graph.edges_from(nid)[0].dst
        return nid

    # a value stays `x` when only the next statement reads it; otherwise it keeps its node name
    var: dict[str, str] = {}
    for nid in statements:
        readers = {statement_of(e.dst) for e in graph.edges_from(nid)}
        nxt = position[nid] + 1
        only_next = readers <= {statements[nxt]} if nxt < len(statements) else not readers
        var[nid] = "x" if only_next else nodes[nid].name

    def expr(nid: str) -> str:
        if nid not in inline:
            return var[nid]
        return _call(nid)

    def _call(nid: str) -> str:
        node = nodes[nid]
        args = [expr(e.src) for e in graph.edges_into(nid)]
        return node.block.forward_code(node.resolved, args, node.name)

    lines = []
    for nid in statements:
        node = nodes[nid]
        value = "x" if node.type == "Input" else _call(nid)
        if value == var[nid]:
            continue
        line = f"{var[nid]} = {value}"
        if len(line) + 8 > MAX_LINE:
            deepest = _deepest_inline(graph, nid, inline)
            if deepest is not None:
                return None, deepest
        lines.append(line)
    lines.append(f"return {var[out_id]}")
    return lines, None


def _deepest_inline(graph, nid, inline):
    best, stack = None, [(nid, 0)]
    best_depth = -1
    while stack:
        cur, depth = stack.pop()
        for e in graph.edges_into(cur):
            if e.src in inline:
                if depth + 1 > best_depth:
                    best, best_depth = e.src, depth + 1
                stack.append((e.src, depth + 1))
    return best


def init_lines(graph) -> list[str]:
    """`self.conv1 = nn.Conv2d(1, 6, 5)` for every block that holds parameters or state."""
    lines = []
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        code = node.block.init_code(node.resolved)
        if code is not None:
            lines.append(f"self.{node.name} = {code}")
    return lines


def class_code(graph, class_name: str) -> str:
    init = init_lines(graph)
    body = forward_lines(graph)
    out = [
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    out += [f"        {line}" for line in init]
    out += ["", "    def forward(self, x):"]
    out += [f"        {line}" for line in body]
    return "\n".join(out) + "\n"
