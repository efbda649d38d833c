"""Graph -> a runnable, readable training script (PyTorch or engine)."""

from netbuilder.export.forward import ExportError
from netbuilder.export.script import TARGETS, export_script, write_export

__all__ = ["TARGETS", "ExportError", "export_script", "write_export"]
