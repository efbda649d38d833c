"""The `Net` class of an exported script: attributes named after the nodes, a forward written as
a person would (`x = F.max_pool2d(F.relu(self.conv1(x)), 2)`)."""

from __future__ import annotations

from netbuilder.blocks import BlockError
from netbuilder.graph.inference import output_node
from netbuilder.graph.model import problem_line

MAX_LINE = 96  # keep generated lines under the project's 100-column limit


class ExportError(BlockError):
    """The graph or the weights cannot be exported; the message says why and how to fix it."""


class _Wiring:
    """edges_into / edges_from of a graph, indexed once (the graph's own scan every edge)."""

    def __init__(self, graph):
        self.into: dict[str, list] = {nid: [] for nid in graph.nodes}
        self.out: dict[str, list] = {nid: [] for nid in graph.nodes}
        for e in graph.edges:
            self.into[e.dst].append(e)
            self.out[e.src].append(e)
        for edges in self.into.values():
            edges.sort(key=lambda e: e.dst_port)

    def edges_into(self, nid):
        return self.into[nid]

    def edges_from(self, nid):
        return self.out[nid]


def _inline_candidates(graph, wiring) -> set[str]:
    """Nodes whose value is written inside their single consumer's call."""
    inline = set()
    for nid, node in graph.nodes.items():
        if node.type == "Input":
            continue
        out = wiring.edges_from(nid)
        if len(out) == 1 and graph.nodes[out[0].dst].block.fold:
            inline.add(nid)
    return inline


def _fit_inline(graph, order, inline, wiring) -> None:
    """Give a node its own statement when its nested call would not fit on a line (names at
    their longest): one pass, so that long chains export in linear time."""
    nodes = graph.nodes
    width: dict[str, str] = {}
    for nid in order:
        node = nodes[nid]
        if nid in inline:
            args = [width[e.src] for e in wiring.edges_into(nid)]
            code = node.block.forward_code(node.resolved, args, node.name)
            if len(code) + len(node.name) + 11 <= MAX_LINE:
                width[nid] = code
                continue
            inline.discard(nid)
        width[nid] = node.name


def forward_lines(graph) -> list[str]:
    """The body of forward(self, x), one statement per line, ending with `return ...`."""
    problems = graph.problems()
    if problems:
        lines = (problem_line(graph.nodes[nid].name, m) for nid, m in problems)
        raise ExportError("the network has problems: " + "; ".join(lines))
    out_id = output_node(graph)
    if out_id is None:
        raise ExportError("the network has no output; wire the Input through at least one block")
    order = graph.topological_order()
    wiring = _Wiring(graph)
    inline = _inline_candidates(graph, wiring)
    _fit_inline(graph, order, inline, wiring)
    while True:
        lines, too_long = _emit(graph, order, inline, out_id, wiring)
        if too_long is None:
            return lines
        inline.discard(too_long)  # give the innermost call its own statement


def _emit(graph, order, inline, out_id, wiring):
    nodes = graph.nodes
    statements = [nid for nid in order if nid not in inline]
    position = {nid: i for i, nid in enumerate(statements)}

    def statement_of(nid: str) -> str:
        # the statement whose expression contains this node's value
        while nid in inline:
            nid = wiring.edges_from(nid)[0].dst
        return nid

    # a value stays `x` when only the next statement reads it; otherwise it keeps its node name
    var: dict[str, str] = {}
    for nid in statements:
        readers = {statement_of(e.dst) for e in wiring.edges_from(nid)}
        nxt = position[nid] + 1
        only_next = readers <= {statements[nxt]} if nxt < len(statements) else not readers
        var[nid] = "x" if only_next else nodes[nid].name

    # each inline node's expression, built in topological order (no recursion: any depth)
    code: dict[str, str] = {}

    def _call(nid: str) -> str:
        node = nodes[nid]
        args = [code[e.src] if e.src in inline else var[e.src] for e in wiring.edges_into(nid)]
        return node.block.forward_code(node.resolved, args, node.name)

    for nid in order:
        if nid in inline:
            code[nid] = _call(nid)

    lines = []
    for nid in statements:
        node = nodes[nid]
        value = "x" if node.type == "Input" else _call(nid)
        if value == var[nid]:
            continue
        line = f"{var[nid]} = {value}"
        if len(line) + 8 > MAX_LINE:
            deepest = _deepest_inline(graph, nid, inline, wiring)
            if deepest is not None:
                return None, deepest
        lines.append(line)
    lines.append(f"return {var[out_id]}")
    return lines, None


def _deepest_inline(graph, nid, inline, wiring):
    best, stack = None, [(nid, 0)]
    best_depth = -1
    while stack:
        cur, depth = stack.pop()
        for e in wiring.edges_into(cur):
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
