"""Models from elsewhere -> NetBuilder projects: ONNX files and PyTorch model code."""

from __future__ import annotations

from pathlib import Path

from netbuilder.importers.common import ModelImportError, lay_out, parse_shape, write_project

__all__ = ["ModelImportError", "import_file", "parse_shape"]


def import_file(
    source,
    output,
    *,
    class_name: str | None = None,
    input_shape=None,
    weights=None,
    view_size=None,
    node_size=None,
):
    """Import `source` (.onnx, or .py defining an nn.Module) into the project `output`, with
    <stem>.safetensors beside it when there are weights. Returns (project path, weights path or
    None, graph)."""
    source = Path(source)
    suffix = source.suffix.lower()
    if suffix == ".onnx":
        if class_name is not None or weights is not None:
            raise ModelImportError(
                "--class and --weights are for Python files; an ONNX model "
                "names its own graph and holds its weights"
            )
        from netbuilder.importers.onnx import import_onnx

        graph, arrays = import_onnx(source)
        if input_shape is not None:
            raise ModelImportError("--input-shape is for Python files; an ONNX model gives it")
        description = f"Imported from {source.name}"
    elif suffix == ".py":
        from netbuilder.importers.torch_code import import_torch_code

        graph, arrays = import_torch_code(
            source, class_name=class_name, input_shape=input_shape, weights=weights
        )
        description = f"Imported from {source.name}"
    else:
        raise ModelImportError(
            f"{source}: NetBuilder imports .onnx models and .py files that define a PyTorch "
            "nn.Module"
        )
    if view_size is not None:
        lay_out(graph, view_size, node_size)
    project, weights_path = write_project(
        graph, arrays, output, [source, weights], description=description
    )
    return project, weights_path, graph
