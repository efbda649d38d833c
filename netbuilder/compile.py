"""Graph -> engine nn.Module. Parameter names are node names (`conv1.weight`, `fc3.bias`), so a
trained state_dict loads 1:1 into the exported script's `Net`."""

from __future__ import annotations

from netbuilder.blocks import BlockError
from netbuilder.graph.inference import output_node


class CompileError(BlockError):
    """The graph has problems; the message lists them by node name."""


def _plan(graph, ports=None):
    """[(node_id, name, kind, source ids)] in execution order, and the output id. An input
    step's sources hold its port number (a composite's body has one Input per port)."""
    problems = graph.problems()
    if problems:
        lines = "; ".join(msg for _, msg in problems)
        raise CompileError(f"the network has problems: {lines}")
    out_id = output_node(graph)
    if out_id is None:
        raise CompileError("the network has no output; wire the Input through at least one block")
    steps = []
    for nid in graph.topological_order():
        node = graph.nodes[nid]
        sources = [e.src for e in graph.edges_into(nid)]
        kind = {"Input": "input", "Add": "add", "Concat": "concat"}.get(node.type, "module")
        if kind == "input":
            sources = [ports.index(nid) if ports else 0]
        steps.append((nid, node.name, kind, sources))
    return steps, out_id


def compile_graph(graph, lib=None):
    """An nn.Module that runs the graph. `lib` is the torch-like library to build with: engine
    (the default) or torch itself (parity tests). A composite block becomes a nested module
    named after its definition, so parameters read `block2.conv1.weight` as in PyTorch."""
    if lib is None:
        import engine as lib
    return _compile(graph, lib, graph.name or "Net", None)


def _compile(graph, lib, class_name, ports):
    steps, out_id = _plan(graph, ports)

    class GraphModule(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self._steps = steps
            self._output = out_id
            # a value can be freed once its last consumer has run
            last_use = {}
            for i, (_, _, kind, sources) in enumerate(steps):
                for s in sources if kind != "input" else ():
                    last_use[s] = i
            self._free_after = {
                i: [s for s, j in last_use.items() if j == i and s != out_id]
                for i in range(len(steps))
            }

        def forward(self, *xs):
            return self.run(*xs)[0]

        def run(self, *xs, keep=()):
            """(output, {node name: value}) for the node names in `keep`."""
            values, kept = {}, {}
            keep = set(keep)
            for i, (nid, name, kind, sources) in enumerate(self._steps):
                if kind == "input":
                    value = xs[sources[0]]
                elif kind == "module":
                    value = getattr(self, name)(*(values[s] for s in sources))
                elif kind == "add":
                    value = values[sources[0]] + values[sources[1]]
                else:
                    value = lib.cat([values[s] for s in sources], 1)
                values[nid] = value
                if name in keep:
                    kept[name] = value
                for s in self._free_after[i]:
                    values.pop(s, None)
            return values[self._output], kept

    GraphModule.__name__ = GraphModule.__qualname__ = class_name
    model = GraphModule()
    for nid, name, kind, _ in steps:
        if kind == "module":
            node = graph.nodes[nid]
            if node.definition is not None:
                defn = node.definition
                module = _compile(node.inner, lib, defn.name, defn.inputs)
            else:
                module = node.block.build_with(lib.nn, node.resolved)
            model.add_module(name, module)
    return model


def node_outputs(model, graph, x, names) -> dict:
    """{node name: its output} for input batch x, running `model` (from compile_graph) once."""
    known = {n.name for n in graph.nodes.values()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CompileError(f"no block named {', '.join(map(repr, unknown))}")
    return model.run(x, keep=names)[1]
