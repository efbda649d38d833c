"""File > Import Model: an ONNX file or a Python file with a PyTorch nn.Module becomes a
project (saved beside it, with its weights) that opens laid out in the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

MODEL_FILTER = "Models (*.onnx *.py);;ONNX models (*.onnx);;PyTorch model code (*.py)"
PROJECT_FILTER = "NetBuilder projects (*.nbproj)"


class PythonImportDialog(QDialog):
    """Says that the file's code will run, and asks what the CLI's options ask."""

    def __init__(self, source: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch model code")
        warning = QLabel(
            f"<b>Importing runs the code in {source.name}.</b> NetBuilder executes the file "
            '(not its <tt>if __name__ == "__main__"</tt> part) with its own engine standing in '
            "for PyTorch, builds the model and traces one forward pass. Import only files you "
            "trust."
        )
        warning.setWordWrap(True)
        self.class_name = QLineEdit()
        self.class_name.setPlaceholderText("found in the file (e.g. Net)")
        self.input_shape = QLineEdit()
        self.input_shape.setPlaceholderText("C,H,W such as 1,28,28, or 784; else INPUT_SHAPE")
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("optional .safetensors with the model's state_dict")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.weights, 1)
        lay.addWidget(browse)
        form = QFormLayout()
        form.addRow("Model class", self.class_name)
        form.addRow("Input shape", self.input_shape)
        form.addRow("Weights", row)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.run_button = buttons.addButton("Run and Import", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.Cancel).setDefault(True)
        main = QVBoxLayout(self)
        main.addWidget(warning)
        main.addLayout(form)
        main.addWidget(buttons)
        self.resize(520, self.sizeHint().height())
        self.source = source

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights", str(self.source.parent), "Weights (*.safetensors)"
        )
        if path:
            self.weights.setText(path)

    def options(self) -> dict:
        weights = self.weights.text().strip()
        return {
            "class_name": self.class_name.text().strip() or None,
            "input_shape": self.input_shape.text().strip() or None,
            "weights": Path(weights).expanduser() if weights else None,
        }


def import_model(window, source=None, output=None, options=None) -> bool:
    """Ask for a model file and where to save its project, import it, open it. Errors are a
    message box. source/output/options skip the questions (tests)."""
    from netbuilder.importers import ModelImportError, import_file
    from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH

    if window.runner.locked_reason or not window.maybe_save():
        return False
    if source is None:
        start = str(window.path.parent) if window.path else str(Path.home())
        source, _ = QFileDialog.getOpenFileName(window, "Import model", start, MODEL_FILTER)
        if not source:
            return False
    source = Path(source)
    if source.suffix.lower() not in (".onnx", ".py"):
        window.show_error(
            "Cannot import model",
            f"{source.name}: NetBuilder imports ONNX models (.onnx) and Python files that define "
            "a PyTorch nn.Module (.py).",
        )
        return False
    if options is None:
        options = {}
        if source.suffix.lower() == ".py":
            dialog = PythonImportDialog(source, window)
            if dialog.exec() != QDialog.Accepted:
                return False
            options = dialog.options()
    if output is None:
        suggested = source.with_suffix(".nbproj")
        output, _ = QFileDialog.getSaveFileName(
            window, "Save the imported project", str(suggested), PROJECT_FILTER
        )
        if not output:
            return False
        if not Path(output).suffix:
            output += ".nbproj"
    QApplication.setOverrideCursor(Qt.WaitCursor)
    try:
        project, weights, _ = import_file(
            source,
            output,
            view_size=window.canvas_size(),
            node_size=(NODE_WIDTH, NODE_HEIGHT),
            **options,
        )
    except ModelImportError as exc:
        QApplication.restoreOverrideCursor()
        window.show_error("Cannot import model", str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - a disk error or the like: a message, not a crash
        QApplication.restoreOverrideCursor()
        window.show_error("Cannot import model", f"{source.name}: {type(exc).__name__}: {exc}")
        return False
    QApplication.restoreOverrideCursor()
    if not window.open_path(project):
        return False
    note = ""
    if weights:
        note = f" with its weights ({Path(weights).name}); training goes on from them"
    window.statusBar().showMessage(f"Imported {source.name} as {Path(project).name}{note}", 15000)
    return True
