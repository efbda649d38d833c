"""What every importer shares: building a laid-out graph with weights, and writing the project
and its weights without ever replacing an input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from netbuilder.blocks import BlockError, get_block
from netbuilder.graph.model import Edge, Graph, Node, check_name

LAYOUT_VIEW = (1400.0, 800.0)  # wrap long networks into rows, as the app does in a window


class ModelImportError(ValueError):
    """A model that cannot be imported; the message names the file and what to change."""


def block_name(hint: str | None) -> str | None:
    """A valid block name made from a module path or node name ('features.0' -> 'features_0'),
    or None when nothing usable is left."""
    if not hint:
        return None
    name = re.sub(r"\W+", "_", hint.strip()).strip("_")
    if not name or not name.isascii():
        return None
    if name[0].isdigit():
        name = f"layer_{name}"
    return name if check_name(name) is None else None


class GraphBuilder:
    """A Graph built block by block, with the weights of each block under its state_dict keys."""

    def __init__(self, name: str = "Net"):
        graph_name = block_name(name) or "Net"
        self.graph = Graph(graph_name)
        self.weights: dict[str, np.ndarray] = {}
        self._dirty = True

    def add(self, type_: str, params: dict | None, sources: list[str], hint: str | None) -> str:
        block = get_block(type_)
        params = block.coerce_params(params or {})
        taken = {n.name for n in self.graph.nodes.values()}
        name = block_name(hint)
        if name is None:
            name = self.graph.unique_name(block.name_prefix)
        elif name in taken:
            i = 2
            while f"{name}_{i}" in taken:
                i += 1
            name = f"{name}_{i}"
        nid = self.graph.new_id()
        self.graph.nodes[nid] = Node(nid, type_, name, params)
        for port, src in enumerate(sources):
            self.graph.edges.append(Edge(src, nid, port))
        self._dirty = True
        return nid

    def name(self, nid: str) -> str:
        return self.graph.nodes[nid].name

    def set_param(self, nid: str, key: str, value) -> None:
        node = self.graph.nodes[nid]
        node.params = node.block.coerce_params({**node.params, key: value})
        self._dirty = True

    def shape(self, nid: str) -> tuple | None:
        """The node's output shape per sample (None when inference found a problem)."""
        if self._dirty:
            from netbuilder.graph.inference import run_inference

            run_inference(self.graph)
            self._dirty = False
        return self.graph.nodes[nid].out_shape

    def set_weight(self, key: str, array) -> None:
        self.weights[key] = np.array(array, order="C")

    def finish(self, source: str) -> Graph:
        """The graph laid out; refused when inference reports problems or the weights do not fit
        the blocks the graph builds."""
        from netbuilder.graph.inference import run_inference

        graph = self.graph
        run_inference(graph)
        problems = [f"{graph.nodes[nid].name}: {msg}" for nid, msg in graph.problems()]
        if problems:
            raise ModelImportError(
                f"{source}: the imported network does not check out: {'; '.join(problems)}"
            )
        lay_out(graph)
        if self.weights:
            check_weights(graph, self.weights, source)
        return graph


def lay_out(graph: Graph, view_size=LAYOUT_VIEW, node_size=None) -> None:
    """Place the blocks as the editor's auto layout does for a window of view_size."""
    from netbuilder.graph.commands import NODE_SIZE, layout_positions

    for nid, pos in layout_positions(graph, view_size, node_size or NODE_SIZE).items():
        graph.nodes[nid].pos = pos


def check_weights(graph: Graph, weights: dict, source: str) -> None:
    from netbuilder.compile import compile_graph

    state = compile_graph(graph).state_dict()
    expected = {k: tuple(v.shape) for k, v in state.items()}
    problems = [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    problems += [
        f"{k} is {tuple(weights[k].shape)} but the block needs {shape}"
        for k, shape in expected.items()
        if k in weights and tuple(weights[k].shape) != shape
    ]
    if problems:
        raise ModelImportError(
            f"{source}: the weights do not fit the blocks: {'; '.join(problems)}"
        )


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,32,32' -> (1, 32, 32); one number is a feature vector."""
    parts = [p for p in re.split(r"[,x\s]+", str(text).strip()) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or any(d < 1 for d in shape):
        raise ModelImportError(
            f"input shape {text!r} must be C,H,W (such as 1,28,28) or a feature count (784)"
        )
    return shape


def check_outputs(output: Path, inputs: list) -> Path:
    """The weights path beside `output`; refuses any output that is an input or no regular file."""
    output = Path(output)
    weights = output.with_suffix(".safetensors")
    if output.suffix.lower() != ".nbproj" and output.suffix.lower() != ".json":
        raise ModelImportError(f"{output}: the project needs a .nbproj (or .json) name")
    if not output.parent.is_dir():
        raise ModelImportError(f"{output}: {output.parent} is not an existing folder")
    sources = {Path(p).resolve() for p in inputs if p is not None}
    for path in (output, weights):
        if path.resolve() in sources:
            raise ModelImportError(f"{path}: is one of the files being read; choose another name")
        if path.exists() and not path.is_file():
            raise ModelImportError(f"{path}: exists and is not a regular file; choose another name")
    return weights


def write_project(graph: Graph, weights: dict, output, inputs: list, description: str = ""):
    """Write output (.nbproj) and, with weights, <stem>.safetensors beside it; both atomically.
    Returns (project path, weights path or None)."""
    from engine.fileio import atomic_write
    from netbuilder.graph.project import Project, ProjectError, save_project

    output = Path(output)
    weights_path = check_outputs(output, inputs)
    project = Project(graph, description=description)
    if weights:
        from safetensors.numpy import save

        atomic_write(weights_path, save({k: np.array(v, order="C") for k, v in weights.items()}))
        project.weights_path = weights_path.name
    try:
        save_project(project, output)
    except ProjectError as exc:
        raise ModelImportError(str(exc)) from None
    return output, (weights_path if weights else None)


def prod(shape) -> int:
    return math.prod(shape) if shape else 1


__all__ = ["BlockError", "GraphBuilder", "ModelImportError", "block_name", "parse_shape"]
