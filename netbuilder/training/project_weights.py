"""Which weights a run of a project starts from: the project's weights file (an imported
model's, or saved trained ones) when it fits the network as it is now."""

from __future__ import annotations


def project_weights(project, project_path, graph):
    """The project's weights file when it exists and fits the network as it is now (same keys
    and shapes), else None: a run starts from it, or from fresh weights when the network has
    been edited since."""
    path = project.weights_file(project_path) if hasattr(project, "weights_file") else None
    if path is None or not path.is_file():
        return None
    try:
        from safetensors import safe_open

        from netbuilder.compile import compile_graph

        with safe_open(str(path), "numpy") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
        expected = {k: tuple(v.shape) for k, v in compile_graph(graph).state_dict().items()}
    except Exception:  # noqa: BLE001 - a damaged or foreign file: start fresh
        return None
    return path if shapes == expected else None
