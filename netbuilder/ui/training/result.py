"""A finished run's network on the UI side: its weights, rebuilt into an engine model on demand
for feature maps, and saved or exported with the names the blocks have now."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .worker import RunResult, trim_maps


class TrainedModel:
    def __init__(self, graph_dict: dict, result: RunResult):
        self.graph_dict = graph_dict  # the network as it was trained (names at run start)
        self.weights = result.weights
        self.probe_input = result.probe_input
        self.probe_image = result.probe_image
        self.probe_label = result.probe_label
        self._graph = None
        self._model = None

    @property
    def graph(self):
        if self._graph is None:
            from netbuilder.graph.model import Graph

            self._graph = Graph.from_dict(self.graph_dict)
        return self._graph

    @property
    def model(self):
        """The engine module with the trained weights, in eval mode (built on first use)."""
        if self._model is None:
            import engine
            from netbuilder.compile import compile_graph

            model = compile_graph(self.graph)
            model.load_state_dict({k: engine.from_numpy(v) for k, v in self.weights.items()})
            model.eval()
            self._model = model
        return self._model

    def feature_maps(self, node_name: str) -> np.ndarray:
        """`node_name`'s output for the probe image, (C, H, W) for a conv block."""
        if self.probe_input is None:
            raise ValueError("the run left no test image to show")
        import engine
        from netbuilder.compile import node_outputs

        with engine.no_grad():
            out = node_outputs(
                self.model, self.graph, engine.from_numpy(self.probe_input), [node_name]
            )
        return trim_maps(out[node_name].numpy()[0])

    def weights_for(self, graph) -> dict[str, np.ndarray]:
        """The weights keyed by the blocks' current names (a block renamed during the run
        keeps its weights: nodes are matched by id)."""
        old_names = {n["id"]: n["name"] for n in self.graph_dict.get("nodes", [])}
        renamed = {
            old_names[nid]: node.name
            for nid, node in graph.nodes.items()
            if nid in old_names and old_names[nid] != node.name
        }
        if not renamed:
            return dict(self.weights)
        out = {}
        for key, value in self.weights.items():
            layer, dot, rest = key.partition(".")
            out[renamed.get(layer, layer) + dot + rest] = value
        return out

    def save_weights(self, path: str | Path, graph=None) -> Path:
        """Write .safetensors with PyTorch's key names (atomic, by engine.save)."""
        import engine

        weights = self.weights_for(graph) if graph is not None else self.weights
        engine.save(dict(weights), str(path))
        return Path(path)
