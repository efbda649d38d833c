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


def forward_lines(graph, resolved=None, inputs=None) -> list[str]:
    """The body of forward(self, x), one statement per line, ending with `return ...`.

    resolved: {node id: parameters} to write instead of each node's own (a composite's class
    writes its constructor arguments by name); inputs: {Input node id: argument name}.
    """
    problems = graph.problems()
    if problems:
        raise ExportError("the network has problems: " + "; ".join(m for _, m in problems))
    out_id = output_node(graph)
    if out_id is None:
        raise ExportError("the network has no output; wire the Input through at least one block")
    order = graph.topological_order()
    inline = _inline_candidates(graph)
    while True:
        lines, too_long = _emit(graph, order, inline, out_id, resolved or {}, inputs or {})
        if too_long is None:
            return lines
        inline.discard(too_long)  # give the innermost call its own statement


def _emit(graph, order, inline, out_id, resolved, inputs):
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
        if nid in inputs and not only_next and inputs[nid] != "x":
            var[nid] = inputs[nid]  # a port read later keeps its argument's name

    def expr(nid: str) -> str:
        if nid not in inline:
            return var[nid]
        return _call(nid)

    def _call(nid: str) -> str:
        node = nodes[nid]
        args = [expr(e.src) for e in graph.edges_into(nid)]
        if node.definition is not None:
            return f"self.{node.name}({', '.join(args)})"
        return node.block.forward_code(resolved.get(nid, node.resolved), args, node.name)

    lines = []
    for nid in statements:
        node = nodes[nid]
        value = inputs.get(nid, "x") if node.type == "Input" else _call(nid)
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


def init_lines(graph, resolved=None, classes=None, calls=None) -> list[str]:
    """`self.conv1 = nn.Conv2d(1, 6, 5)` for every block that holds parameters or state;
    `self.block1 = BasicBlock(16, 32, stride=2)` for a composite (classes: its _ClassPlan)."""
    lines = []
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        params = (resolved or {}).get(nid, node.resolved)
        if node.definition is not None:
            code = (calls or {}).get(nid) or classes[node.definition.name].call(node)
        elif node.block.init_fn is not None:
            lines += node.block.init_fn(params, node.name)
            continue
        else:
            code = node.block.init_code(params)
        if code is not None:
            lines.append(f"self.{node.name} = {code}")
    return lines


def class_code(graph, class_name: str) -> str:
    """The model class, preceded by one class per composite definition it uses (those a
    definition uses first), each written once and called with each instance's arguments."""
    problems = graph.problems()
    if problems:
        raise ExportError("the network has problems: " + "; ".join(m for _, m in problems))
    instances = _instances_by_definition(graph)
    classes: dict[str, _ClassPlan] = {}
    taken = {class_name}
    for name, nodes in instances.items():
        _check_class_name(name, taken)
        classes[name] = _ClassPlan(nodes[0].definition, nodes)
    parts = [plan.code(classes) for plan in classes.values()]
    init = init_lines(graph, classes=classes)
    body = forward_lines(graph)
    out = [
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    out += [f"        {line}" for line in _wrapped(init, 8)]
    out += ["", "    def forward(self, x):"]
    out += [f"        {line}" for line in body]
    parts.append("\n".join(out) + "\n")
    return "\n\n".join(parts)


def _wrapped(lines: list[str], indent: int) -> list[str]:
    """A call too long for one line gets its arguments on a line of their own (ruff format's
    first step): `self.conv = nn.Conv2d(` / arguments / `)`."""
    out = []
    for line in lines:
        lead = len(line) - len(line.lstrip())
        opened = line.find("(")
        if indent + len(line) <= MAX_LINE or opened < 0 or not line.endswith(")"):
            out.append(line)
            continue
        pad = " " * lead
        out += [line[: opened + 1], f"{pad}    {line[opened + 1 : -1]}", f"{pad})"]
    return out


# -- composites ------------------------------------------------------------------------------


def _check_class_name(name: str, taken: set) -> None:
    from netbuilder.export.script import SCRIPT_NAMES
    from netbuilder.graph.model import RESERVED_NAMES

    if name in taken or name in SCRIPT_NAMES or name in RESERVED_NAMES:
        raise ExportError(
            f"the composite {name!r} would clash with a name in the exported script; rename "
            f"the composite"
        )
    taken.add(name)


def _instances_by_definition(graph) -> dict[str, list]:
    """{definition name: [instance nodes, inferred]} over every depth, innermost first."""
    found: dict[str, list] = {}
    order: list[str] = []

    def walk(g, depth):
        for node in g.nodes.values():
            if node.definition is not None:
                walk(node.inner, depth + 1)
                found.setdefault(node.definition.name, []).append(node)
                if node.definition.name not in order:
                    order.append(node.definition.name)

    walk(graph, 0)
    return {name: found[name] for name in order}


# blocks that set their output's channels (or features) from a parameter, and blocks whose
# output channels are no simple function of their input's
_CHANNEL_MAKERS = {
    "Conv2d": "out_channels",
    "ConvTranspose2d": "out_channels",
    "Linear": "out_features",
}
_RESHAPES = {"Flatten", "Unflatten", "Concat"}


class _Arg:
    """A constructor argument inside a definition's class: prints as its name, and never
    equals a default, so a keyword that holds it is always written."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return isinstance(other, _Arg) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class _ClassPlan:
    """One definition's class: which body values become constructor arguments.

    An exposed parameter is an argument under its own name. Any other value that differs
    between instances is `in_channels` when it always equals the input's channels (or
    features), an exposed argument when it always equals that one's value, or else an
    argument named node_param. Values all instances share are written as literals.
    """

    def __init__(self, definition, instances):
        self.definition = definition
        self.instances = instances
        inner0 = instances[0].inner
        ports = set(definition.inputs)
        exposed_at = {(nid, e.param): e.name for e in definition.exposed for nid in e.node_ids}
        self.exposed = [e.name for e in definition.exposed]
        self.defaults = definition.defaults()
        self.in_channels = False
        self.extras: list[tuple[str, str, str]] = []  # (argument, node id, param)
        self.args: dict[tuple[str, str], str] = {}
        self.nested: dict[str, tuple[str, dict]] = {}  # composites inside: their call's texts
        # what each block's output channel count is called: the input's (`in_channels`), a
        # convolution's out_channels argument, or None (a literal)
        channels_of: dict[str, str | None] = {}
        for nid in inner0.topological_order():
            node = inner0.nodes[nid]
            into = inner0.edges_into(nid)
            first = channels_of.get(into[0].src) if into else None
            if nid in ports:
                channels_of[nid] = "in_channels"
            elif node.definition is not None or node.type in _RESHAPES:
                channels_of[nid] = None
            elif node.type in _CHANNEL_MAKERS:
                param = _CHANNEL_MAKERS[node.type]
                channels_of[nid] = exposed_at.get((nid, param))
            else:
                channels_of[nid] = first
            if nid in ports:
                continue
            if node.definition is not None:
                self._plan_nested(nid, node, exposed_at)
                continue
            for spec in node.block.params:
                key = (nid, spec.name)
                if key in exposed_at:
                    self.args[key] = exposed_at[key]
                    continue
                follows = spec.auto and spec.kind == "int" and node.params.get(spec.name) is None
                if follows and first is not None:
                    self.args[key] = first
                    self.in_channels |= first == "in_channels"
                    continue
                values = [inst.inner.nodes[nid].resolved.get(spec.name) for inst in instances]
                same = self._symbol(values)
                varies = any(v != values[0] for v in values)
                if same is not None and (varies or follows):
                    self.args[key] = same
                elif varies:
                    self.args[key] = self._extra(f"{node.name}_{spec.name}", nid, spec.name)

    def _symbol(self, values) -> str | None:
        """The argument that holds `values` (one per instance): in_channels or an exposed one."""
        channels = [i.in_shapes[0][0] if i.in_shapes else None for i in self.instances]
        if values == channels:
            self.in_channels = True
            return "in_channels"
        for e in self.exposed:
            if values == [i.params.get(e) for i in self.instances]:
                return e
        return None

    def _extra(self, arg, nid, param) -> str:
        self.extras.append((arg, nid, param))
        return arg

    def _plan_nested(self, nid, node, exposed_at) -> None:
        """The call of a composite inside this body: its input channels and exposed values
        as this class's arguments or literals."""
        insts = self.instances
        values = [i.inner.nodes[nid].in_shapes[0][0] for i in insts]
        in_text = self._symbol(values) or repr(values[0])
        if any(v != values[0] for v in values) and in_text == repr(values[0]):
            raise ExportError(
                f"{self.definition.name}: {node.name}'s input width differs between instances "
                f"in a way its class cannot take as an argument; make one of them unique"
            )
        keywords = {}
        for e in node.definition.exposed:
            if (nid, e.name) in exposed_at:
                keywords[e.name] = exposed_at[nid, e.name]
                continue
            values = [i.inner.nodes[nid].params.get(e.name) for i in insts]
            same = self._symbol(values) if any(v != values[0] for v in values) else None
            keywords[e.name] = same or repr(values[0])
        self.nested[nid] = (in_text, keywords)

    def _resolved(self, functional: bool) -> dict:
        """{node id: parameters} with arguments in place of per-instance values."""
        inner0 = self.instances[0].inner
        out = {}
        for nid, node in inner0.nodes.items():
            p = dict(node.resolved)
            for (aid, param), arg in self.args.items():
                if aid == nid:
                    p[param] = _Arg(f"self.{arg}" if functional else arg)
            out[nid] = p
        return out

    def signature(self) -> list[str]:
        names = (["in_channels"] if self.in_channels else []) + [a for a, _, _ in self.extras]
        names += [f"{e}={self.defaults[e]!r}" for e in self.exposed]
        return names

    def call(self, node) -> str:
        """`BasicBlock(16, out_channels=32, stride=2)` for one instance."""
        args = []
        if self.in_channels:
            args.append(repr(node.in_shapes[0][0]))
        args += [repr(node.inner.nodes[nid].resolved.get(p)) for _, nid, p in self.extras]
        for e in self.exposed:
            value = node.params.get(e, self.defaults[e])
            if value != self.defaults[e]:
                args.append(f"{e}={value!r}")
        return f"{self.definition.name}({', '.join(args)})"

    def call_with(self, in_text: str, keywords: dict) -> str:
        """The call from inside another class, whose arguments name some values."""
        if self.extras:
            raise ExportError(
                f"{self.definition.name} is used inside another composite with values that "
                f"differ between its instances; make one of them unique"
            )
        args = [in_text] if self.in_channels else []
        for e in self.exposed:
            text = keywords.get(e, repr(self.defaults[e]))
            if text != repr(self.defaults[e]):
                args.append(f"{e}={text}")
        return f"{self.definition.name}({', '.join(args)})"

    def code(self, classes) -> str:
        inner0 = self.instances[0].inner
        modules = self._resolved(functional=False)
        functional = self._resolved(functional=True)
        # a value a forward expression reads (F.max_pool2d(x, self.kernel_size)) is kept
        used_in_forward = set()
        for (nid, _), arg in self.args.items():
            node = inner0.nodes[nid]
            if not node.block.exported_module:
                used_in_forward.add(arg)
        names = {n.name for n in inner0.nodes.values()}
        clash = used_in_forward & names
        if clash:
            raise ExportError(
                f"{self.definition.name}: the argument {sorted(clash)[0]!r} has the name of a "
                f"block inside it; rename the block"
            )
        ports = self.definition.inputs
        single = len(ports) == 1
        port_args = {pid: ("x" if single else inner0.nodes[pid].name) for pid in ports}
        init = [f"self.{a} = {a}" for a in sorted(used_in_forward)]
        calls = {
            nid: classes[inner0.nodes[nid].definition.name].call_with(*t)
            for nid, t in self.nested.items()
        }
        init += init_lines(inner0, modules, classes, calls)
        body = forward_lines(inner0, functional, port_args)
        sig = ", ".join(["self", *self.signature()])
        out = [
            f"class {self.definition.name}(nn.Module):",
            f"    def __init__({sig}):",
            "        super().__init__()",
        ]
        out += [f"        {line}" for line in _wrapped(init, 8)]
        out += ["", f"    def forward(self, {', '.join(port_args[p] for p in ports)}):"]
        out += [f"        {line}" for line in body]
        return "\n".join(out) + "\n"
