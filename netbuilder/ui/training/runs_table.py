"""The runs kept with a project: a table to overlay any of them on the plots, compare the
settings of two, rename and delete them."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .runs import RunCurves

COLUMNS = ("Name", "Date", "Settings", "Final acc.", "Best acc.", "Duration")
SUMMARY_KEYS = ("optimizer", "lr", "batch_size", "epochs", "schedule")


def settings_summary(settings: dict) -> str:
    """ "adam lr 0.001 · batch 64 · 5 epochs": the settings people compare runs by."""
    s = settings or {}
    parts = []
    if s.get("optimizer"):
        parts.append(
            f"{s['optimizer']} lr {s.get('lr', '?'):g}" if _num(s.get("lr")) else s["optimizer"]
        )
    if s.get("batch_size"):
        parts.append(f"batch {s['batch_size']}")
    if s.get("epochs"):
        parts.append(f"{s['epochs']} epoch{'s' if s['epochs'] != 1 else ''}")
    if s.get("schedule") and s["schedule"] != "none":
        parts.append(str(s["schedule"]))
    return " · ".join(parts)


def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def settings_diff(a: dict, b: dict) -> list[tuple[str, str, str]]:
    """(setting, value in a, value in b) for every setting that differs; "—" where unset."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va != vb:
            out.append((key, "—" if va is None else str(va), "—" if vb is None else str(vb)))
    return out


def _duration(seconds: float) -> str:
    if not seconds or not math.isfinite(seconds):
        return "—"
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _accuracy(run: RunCurves) -> tuple[str, str]:
    accs = [p.test_accuracy for p in run.epochs if math.isfinite(p.test_accuracy)]
    if not accs:
        return "—", "—"
    return f"{100 * accs[-1]:.2f} %", f"{100 * max(accs):.2f} %"


class RunsTable(QWidget):
    """One row per run, newest last. Signals carry indices into the list given to set_runs."""

    overlayChanged = Signal(list)  # indices checked for overlay
    renamed = Signal(int, str)
    deleteRequested = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(
            "Tick runs to draw them on the loss and accuracy plots; double-click a name to "
            "rename it; select two runs to compare their settings"
        )
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.compare = QPushButton("Compare settings")
        self.compare.setToolTip("Select two runs: the settings in which they differ")
        self.compare.clicked.connect(self.show_diff)
        self.delete = QPushButton("Delete")
        self.delete.clicked.connect(self._delete)
        self.hint = QLabel("Runs appear here when they end; they are kept beside the project.")
        self.hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare)
        buttons.addWidget(self.delete)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        self.runs: list[RunCurves] = []
        self._filling = False
        self._update_buttons()

    def set_runs(self, runs: list[RunCurves], checked: set[int] = frozenset()) -> None:
        self._filling = True
        self.runs = list(runs)
        self.table.setRowCount(len(runs))
        for r, run in enumerate(runs):
            final, best = _accuracy(run)
            cells = (
                run.title,
                run.started,
                settings_summary(run.settings),
                final,
                best,
                _duration(run.seconds),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                if c == 0:
                    flags |= Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable
                    item.setCheckState(
                        Qt.CheckState.Checked if r in checked else Qt.CheckState.Unchecked
                    )
                    item.setToolTip(f"{run.status}; tick to overlay it on the plots")
                if c in (3, 4, 5):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if c == 2:
                    item.setToolTip(settings_summary(run.settings))
                item.setFlags(flags)
                self.table.setItem(r, c, item)
        self.hint.setVisible(not runs)
        self._filling = False
        self._update_buttons()

    def checked(self) -> list[int]:
        return [
            r
            for r in range(self.table.rowCount())
            if self.table.item(r, 0).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, rows, on: bool = True) -> None:
        """Tick (or untick) rows; the overlay follows once, not once per row."""
        self._filling = True
        try:
            for r in rows:
                state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
                self.table.item(r, 0).setCheckState(state)
        finally:
            self._filling = False
        self.overlayChanged.emit(self.checked())

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        r = item.row()
        name = item.text().strip()
        if name != self.runs[r].title:
            self.renamed.emit(r, name)
        self.overlayChanged.emit(self.checked())

    def _update_buttons(self) -> None:
        rows = self.selected_rows()
        self.compare.setEnabled(len(rows) == 2)
        self.delete.setEnabled(bool(rows))

    def diff_rows(self) -> list[tuple[str, str, str]]:
        a, b = (self.runs[r] for r in self.selected_rows()[:2])
        return settings_diff(a.settings, b.settings)

    def show_diff(self) -> QDialog | None:
        rows = self.selected_rows()
        if len(rows) != 2:
            return None
        a, b = (self.runs[r] for r in rows)
        diff = settings_diff(a.settings, b.settings)
        dialog = QDialog(self)
        dialog.setWindowTitle("Settings of two runs")
        table = QTableWidget(len(diff), 3, dialog)
        table.setHorizontalHeaderLabels(["Setting", a.title, b.title])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, row in enumerate(diff):
            for c, text in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        same = len(set(a.settings) | set(b.settings)) - len(diff)
        note = QLabel(
            f"{len(diff)} setting(s) differ; {same} are the same."
            if diff
            else "The two runs used the same settings."
        )
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        box.rejected.connect(dialog.close)
        lay = QVBoxLayout(dialog)
        lay.addWidget(note)
        lay.addWidget(table)
        lay.addWidget(box)
        dialog.resize(520, 320)
        dialog.show()
        return dialog

    def _delete(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        names = ", ".join(self.runs[r].title for r in rows[:3]) + (" …" if len(rows) > 3 else "")
        answer = QMessageBox.question(
            self,
            "Delete runs",
            f"Delete {len(rows)} run(s) ({names}) and their curves? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.deleteRequested.emit(rows)
