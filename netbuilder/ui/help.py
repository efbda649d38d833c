"""Help menu: the keyboard shortcuts table (read from the actions themselves) and About."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

# what the canvas does with the mouse and plain keys (no QAction carries these)
CANVAS_GESTURES = (
    ("Tab or Space", "Search for a block and add it at the cursor"),
    ("Drag an output port onto an input", "Connect (refused targets turn red)"),
    ("Drag a wire's input end away", "Disconnect"),
    ("Esc", "Cancel the wire being dragged"),
    ("Drop a block on a wire", "Insert it into the connection"),
    ("Click, Ctrl+click, drag on empty canvas", "Select, add to selection, rubber-band"),
    ("Arrow keys (with Shift: further)", "Nudge the selected blocks"),
    ("Mouse wheel", "Zoom at the cursor"),
    ("Middle-button drag", "Pan"),
)


def shortcut_rows(menu_bar, verb_only=(), gestures=CANVAS_GESTURES) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every menu command with a shortcut, read from the actions so
    the list cannot drift from what the keys do; then the canvas gestures. Actions in
    `verb_only` show their first word ("Undo", not "Undo Change fc1 out_features")."""
    rows = []
    for menu_action in menu_bar.actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        title = menu_action.text().replace("&", "")
        for action in menu.actions():
            keys = action.shortcuts()
            if action.isSeparator() or action.menu() is not None or not keys:
                continue
            text = action.text().replace("&", "").split("\t")[0]
            if action in verb_only:
                text = text.split(" ")[0]
            native = " or ".join(k.toString(QKeySequence.NativeText) for k in keys)
            rows.append((title, text.rstrip("…"), native))
    rows += [("Canvas", what, keys) for keys, what in gestures]
    return rows


def about_text() -> str:
    import platform

    import numpy
    import PySide6
    from PySide6.QtCore import qVersion

    from netbuilder.blocks import CATALOGUE

    try:
        from importlib.metadata import version

        ours = version("netbuilder")
    except Exception:  # not installed as a package (running from a checkout)
        ours = "development"
    return (
        f"<h3>NetBuilder {ours}</h3>"
        "<p>Design neural networks by hand, see every tensor shape and parameter count "
        "while you edit, watch them train, and take the code away as a runnable PyTorch "
        "or engine script.</p>"
        f"<p>{len(CATALOGUE)} block types · training runs on <b>engine</b>, NetBuilder's "
        "numpy autograd library with PyTorch's API.</p>"
        f"<p style='color:gray'>Python {platform.python_version()} · Qt {qVersion()} · "
        f"PySide6 {PySide6.__version__} · numpy {numpy.__version__}</p>"
    )


def show_about(parent) -> None:
    QMessageBox.about(parent, "About NetBuilder", about_text())


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard Shortcuts: a searchable three-column table, grouped by menu."""

    def __init__(self, rows, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Where", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 2:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter: type a command or a key…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.filter)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        width = sum(self.table.columnWidth(c) for c in range(3)) + 60
        self.resize(max(560, width), 520)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for r in range(self.table.rowCount()):
            cells = " ".join(self.table.item(r, c).text().lower() for c in range(3))
            self.table.setRowHidden(r, bool(needle) and needle not in cells)
