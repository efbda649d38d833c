"""The output checks of NetBuilder's writers that know about projects and exports; the rules
themselves (regular files only, links written through, atomic writes) are engine.fileio's."""

from __future__ import annotations

from pathlib import Path

from engine.fileio import OutputError, check_outputs, same_file

__all__ = ["OutputError", "check_export_paths", "check_outputs", "verify_weights"]


def check_export_paths(script, weights=None, project_path=None, script_label="the script"):
    """Refuse an export whose script, or the weights copy written beside it, would replace
    the project or the weights it starts from (raises OutputError, one line)."""
    script = Path(script)
    outputs = [(script_label, script)]
    if weights is not None:
        copy = script.with_suffix(".safetensors")  # where write_export puts the weights
        if same_file(copy, script):
            raise OutputError(
                f"{script_label} {script}: the weights are written beside the script as "
                f"{copy.name}; give the script a .py name"
            )
        if not same_file(copy, weights):  # the same file is left as it is
            outputs.append(("the weights copy", copy))
    check_outputs(outputs, [("the project", project_path), ("the weights", weights)])


def verify_weights(path) -> None:
    """Read a weights file as engine.load does: the per-tensor checksums engine.save writes
    catch flipped bytes before they are copied beside a script. Raises CheckpointError."""
    import engine

    engine.load(path)
