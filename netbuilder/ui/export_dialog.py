"""Export (Ctrl+E): a runnable PyTorch or engine script, with or without the trained weights."""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.serialization import CheckpointError
from netbuilder.blocks import BlockError
from netbuilder.export import write_export
from netbuilder.safeio import check_export_paths, verify_weights

TARGETS = {
    "torch": "PyTorch script (import torch)",
    "engine": "engine script (NetBuilder's numpy engine)",
}


class ExportDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Export network")
        self.written: list[Path] = []
        self.target = QComboBox()
        for key, label in TARGETS.items():
            self.target.addItem(label, key)
        self.weights = QCheckBox("Include the trained weights (.safetensors beside the script)")
        weights_file = window.project.weights_file(window.path)
        self.weights_file = weights_file if weights_file and weights_file.is_file() else None
        self.weights.setEnabled(self.weights_file is not None)
        self.weights.setChecked(self.weights_file is not None)
        if self.weights_file is None:
            self.weights.setToolTip("Train the network (F5) and save its weights first")
        self.path = QLineEdit(str(self._default_path()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QWidget()
        row = QHBoxLayout(path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Target", self.target)
        form.addRow("Script", path_row)
        form.addRow("", self.weights)
        note = QLabel()
        note.setWordWrap(True)

        def describe() -> None:
            name = Path(self.path.text().strip() or "net.py").name
            note.setText(
                "The script builds, trains and evaluates the network on MNIST-format data: "
                f"<tt>python {html.escape(name)} --data FOLDER --epochs 1</tt>"
            )

        self.path.textChanged.connect(describe)
        describe()
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.do_export)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _default_path(self) -> Path:
        folder = self.window.path.parent if self.window.path else Path.home()
        stem = re.sub(r"\W+", "_", self.window.project_name().lower()).strip("_") or "net"
        return folder / f"{stem}.py"

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export script", self.path.text(), "Python scripts (*.py)"
        )
        if path:
            self.path.setText(path if path.endswith(".py") else path + ".py")

    def do_export(self) -> bool:
        path = Path(self.path.text().strip()).expanduser()
        if not path.name:
            QMessageBox.warning(self, "Export", "Choose a file name for the script.")
            return False
        if path.suffix != ".py":
            path = path.with_suffix(".py")
        weights = self.weights_file if self.weights.isChecked() else None
        target = self.target.currentData()
        try:
            check_export_paths(path, weights, self.window.path)
            if weights is not None:
                verify_weights(weights)
            written = write_export(
                self.window.project,
                path,
                target=target,
                weights=weights,
                # a saved project names the class after its file; a new one keeps Net
                project_name=self.window.path.stem if self.window.path else None,
            )
        except (BlockError, OSError, CheckpointError) as exc:
            QMessageBox.critical(self, "Export failed", str(exc))
            return False
        self.written = [Path(written)]
        where = f"Wrote {written}"
        if weights is not None:
            w = Path(written).with_suffix(".safetensors")
            self.written.append(w)
            where += f"\nand the trained weights to {w}"
        self.window.statusBar().showMessage(where.replace("\n", " "), 10000)
        QMessageBox.information(
            self, "Exported", f"{where}\n\nRun it with: python {Path(written).name} --help"
        )
        self.accept()
        return True
