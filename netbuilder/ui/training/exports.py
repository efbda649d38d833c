"""After a run: its weights saved as .safetensors, or the network exported as a script beside
them. A part of the TrainingDashboard (a mixin: it reads the dashboard's result and window)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog


class RunExports:
    """Save Weights and Export with Weights, for a dashboard that has `result`, `running`,
    `window`, `status_label`, `_project()` and `_show_failure(message, title)`."""

    def save_weights(self, path: str | Path | None = None) -> Path | None:
        """Save the trained weights (.safetensors); asks for a file when `path` is None."""
        if self.result is None or self.running:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window,
                "Save weights",
                self._default_path(".safetensors"),
                "safetensors (*.safetensors)",
            )
            if not path:
                return None
        path = Path(path)
        if path.suffix != ".safetensors":
            path = (
                path.with_suffix(path.suffix + ".safetensors")
                if path.suffix
                else path.with_suffix(".safetensors")
            )
        try:
            from netbuilder.safeio import check_outputs

            project_path = getattr(self.window, "path", None)
            check_outputs([("the weights", path)], [("the project", project_path)])
            self.result.save_weights(path, self.window.graph)
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._show_failure(f"Could not save the weights to {path}: {exc}", "Save weights")
            return None
        project = self._project()
        if hasattr(project, "weights_path"):
            project.weights_path = str(path)
            self.window.mark_dirty()
        self.status_label.setText(f"Weights saved to {path}.")
        return path

    def export_with_weights(
        self, path: str | Path | None = None, target: str = "torch"
    ) -> Path | None:
        """Export the network as a script (PyTorch or engine) beside a .safetensors of the
        trained weights; asks for the file and the target when `path` is None."""
        if self.result is None or self.running:
            return None
        from netbuilder.export import write_export

        if path is None:
            torch_filter = "PyTorch script (*.py)"
            path, chosen = QFileDialog.getSaveFileName(
                self.window,
                "Export with weights",
                self._default_path(".py"),
                f"{torch_filter};;engine script (*.py)",
            )
            if not path:
                return None
            target = "torch" if chosen == torch_filter else "engine"
        path = Path(path)
        if path.suffix != ".py":
            path = path.with_suffix(".py")
        try:
            from netbuilder.safeio import check_export_paths

            project_path = getattr(self.window, "path", None)
            check_export_paths(path, None, project_path)
            check_export_paths(path.with_suffix(".safetensors"), None, project_path)
            weights = self.result.weights_for(self.window.graph)
            written = write_export(self._project(), path, target=target, weights=weights)
        except Exception as exc:  # noqa: BLE001 - shown in the window
            self._show_failure(f"Could not export to {path}: {exc}", "Export with weights")
            return None
        written = Path(written)
        weights_file = written.with_suffix(".safetensors").name
        self.status_label.setText(f"Exported {written.name} with its weights in {weights_file}.")
        return written

    def _default_folder(self) -> Path:
        base = getattr(self.window, "path", None)
        return Path(base).parent if base else Path.home()

    def _default_path(self, suffix: str) -> str:
        base = getattr(self.window, "path", None)
        name = (getattr(self.window.graph, "name", "") or "network").replace(" ", "_")
        folder = Path(base).parent if base else Path.home()
        return str(folder / f"{name}{suffix}")
